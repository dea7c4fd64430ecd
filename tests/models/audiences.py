"""Generated audiences with planted personas, ingested and segmented by the real pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.preprocessing import StandardScaler

from audience import Workspace
from audience.config import CLUSTER_FEATURES
from audience.models.summary import SegmentationReport
from audience.store.features_table import read_features
from audience.synth import generate

AS_OF = datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC)


@dataclass(frozen=True)
class Segmented:
    """A segmented audience: each contact's persona (truth) and stored segment."""

    report: SegmentationReport
    features: pd.DataFrame
    """Features with a ``persona`` column, ordered by contact_id."""
    segments: pd.Series
    """Stored segment id per contact, aligned with ``features``."""

    @property
    def truth(self) -> np.ndarray:
        return self.features["persona"].to_numpy()

    def ari(self) -> float:
        return float(adjusted_rand_score(self.truth, self.segments.to_numpy()))


def segmented_audience(folder: Path, *, contacts: int, seed: int) -> Segmented:
    """Generate, ingest and segment (``Workspace.segment``, default config) an audience."""
    generated = generate(folder / "data", contacts=contacts, seed=seed, as_of=AS_OF)
    with Workspace.init(folder / "ws") as ws:
        ws.ingest(generated.contacts_path, now=AS_OF)
        ws.ingest(generated.events_path, now=AS_OF)
        report = ws.cluster(AS_OF)
        features = read_features(ws.database, AS_OF)
        members = (
            ws.database.con.sql(
                "SELECT contact_id, segment_id FROM memberships WHERE run_id = $run",
                params={"run": report.run_id},
            )
            .to_arrow_table()
            .to_pandas()
        )
    truth = pd.read_csv(generated.truth_path).rename(columns={"Customer ID": "contact_id"})
    features = features.merge(truth, on="contact_id", how="left", validate="one_to_one")
    segments = features[["contact_id"]].merge(members, on="contact_id", how="left")["segment_id"]
    return Segmented(report, features, segments)


def silhouette_baseline(features: pd.DataFrame, truth: np.ndarray) -> tuple[int, float]:
    """The issue's baseline: median fill, StandardScaler, KMeans for k = 2..12, keep the k
    with the best silhouette on a 10k sample. Returns that k and its ARI against ``truth``."""
    columns = features[list(CLUSTER_FEATURES)].astype("float64")
    X = StandardScaler().fit_transform(columns.fillna(columns.median()))
    best: tuple[float, int, np.ndarray] | None = None
    for k in range(2, 13):
        labels = KMeans(n_clusters=k, random_state=0).fit_predict(X)
        score = silhouette_score(X, labels, sample_size=min(10_000, len(X)), random_state=0)
        if best is None or score > best[0]:
            best = (score, k, labels)
    assert best is not None
    return best[1], float(adjusted_rand_score(truth, best[2]))
