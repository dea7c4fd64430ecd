"""The notebook a data scientist would write to segment the same raw files (bench/e2e.py).

pandas reads contacts.csv and events.parquet, a groupby makes RFM and engagement features per
contact, log1p + StandardScaler, KMeans for k = 2..12, the best silhouette on a 10k sample
wins, and the labels are written. Prints one ``steps {json}`` line of its own step times.

    python bench/notebook_baseline.py DATA_DIR OUT_CSV
"""

import json
import sys
import time

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans  # type: ignore[import-untyped]
from sklearn.metrics import silhouette_score  # type: ignore[import-untyped]
from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped]

data, out = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
contacts = pd.read_csv(f"{data}/contacts.csv", parse_dates=["Signup Date"])
columns = ["user_id", "event", "timestamp", "revenue", "is_machine_open"]
events = pd.read_parquet(f"{data}/events.parquet", columns=columns)
events["timestamp"] = pd.to_datetime(events["timestamp"], format="ISO8601")
as_of = events["timestamp"].max()
t1 = time.perf_counter()

counts = pd.crosstab(events["user_id"], events["event"])
human = events[(events["event"] == "Email Opened") & ~events["is_machine_open"].fillna(False)]
clicks = events[events["event"] == "Email Link Clicked"]
orders = events[events["event"] == "Order Completed"].groupby("user_id")
features = pd.DataFrame(
    {
        "order_count": counts.get("Order Completed"),
        "revenue_total": orders["revenue"].sum(),
        "recency_days": (as_of - orders["timestamp"].max()).dt.days,
        "emails_delivered": counts.get("Email Delivered"),
        "human_opens": human.groupby("user_id").size(),
        "clicks": counts.get("Email Link Clicked"),
        "days_since_open": (as_of - human.groupby("user_id")["timestamp"].max()).dt.days,
        "days_since_click": (as_of - clicks.groupby("user_id")["timestamp"].max()).dt.days,
        "product_views": counts.get("Product Viewed"),
        "cart_adds": counts.get("Product Added"),
        "checkouts": counts.get("Checkout Started"),
    }
)
features = contacts.set_index("Customer ID")[["Signup Date"]].join(features)
features["tenure_days"] = (as_of - features.pop("Signup Date")).dt.days
features["open_rate"] = features["human_opens"] / features["emails_delivered"]
features["ctr"] = features["clicks"] / features["emails_delivered"]
features["revenue_mean"] = features["revenue_total"] / features["order_count"]
never = dict.fromkeys(("recency_days", "days_since_open", "days_since_click"), 3 * 365)
numeric = features.fillna(never).fillna(0)
X = StandardScaler().fit_transform(np.log1p(numeric.clip(lower=0)))
t2 = time.perf_counter()

best = (-1.0, 0, None)
for k in range(2, 13):
    labels = KMeans(n_clusters=k, random_state=0).fit_predict(X)
    score = silhouette_score(X, labels, sample_size=10_000, random_state=0)
    if score > best[0]:
        best = (score, k, labels)
t3 = time.perf_counter()

pd.DataFrame({"contact_id": numeric.index, "label": best[2]}).to_csv(out, index=False)
steps = {"read": t1 - t0, "features": t2 - t1, "kmeans sweep": t3 - t2, "k": best[1]}
print("steps", json.dumps(steps))
