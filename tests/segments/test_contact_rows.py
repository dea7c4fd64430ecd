"""Rule rows for some contacts, and RFM ranked among a run's buyers."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from audience import Workspace
from audience.features.table import FEATURE_COLUMNS
from audience.segments.contact_rows import RfmReference, RuleRows, rule_rows
from audience.store.features_table import read_features
from audience.synth import generate
from tests.models.audiences import AS_OF

AT = datetime(2025, 1, 1, tzinfo=UTC)


def test_rfm_of_a_row_is_ranked_among_the_reference_buyers(workspace: Workspace) -> None:
    con = workspace.database.con
    con.execute(
        "CREATE TABLE features (contact_id VARCHAR, as_of TIMESTAMPTZ, recency_days DOUBLE, "
        "order_count BIGINT, revenue_total DOUBLE)"
    )
    buyers = [("a", 10, 1, 10.0), ("b", 20, 1, 20.0), ("c", 30, 2, 30.0), ("d", 40, 3, 40.0)]
    values = [(contact, AT, *numbers) for contact, *numbers in buyers]
    con.executemany("INSERT INTO features VALUES (?, ?, ?, ?, ?)", values)
    con.execute("INSERT INTO features VALUES ('e', ?, NULL, 0, 0.0)", [AT])  # not a buyer
    rows = pd.DataFrame(
        {"recency_days": [25.0, None], "order_count": [2, 0], "revenue_total": [35.0, 0.0]}
    )

    scored = RfmReference.load(workspace.database, AT).score(rows)

    # Ranked before the first row among 4 buyers: 2 with a longer recency (R = 1 + ⌊5·2/4⌋),
    # 2 with fewer orders (F = 3), 3 with less revenue (M = 1 + ⌊5·3/4⌋ = 4); FM = ⌊(3+4+1)/2⌋ = 4.
    assert scored.loc[0, ["r_score", "f_score", "m_score"]].tolist() == [3, 3, 4]
    assert scored.loc[0, "rfm_group"] == "Loyal"
    assert all(math.isnan(scored.loc[1, name]) for name in ("r_score", "f_score", "m_score"))
    assert scored.loc[1, "rfm_group"] == "Prospects"


def test_rows_of_some_contacts_equal_the_stored_features_of_those_contacts(
    workspace: Workspace, tmp_path: Path
) -> None:
    generated = generate(tmp_path / "data", contacts=400, seed=2, as_of=AS_OF)
    workspace.ingest(generated.contacts_path, now=AS_OF)
    workspace.ingest(generated.events_path, now=AS_OF)
    workspace.features(AS_OF)
    stored = read_features(workspace.database, AS_OF).set_index("contact_id")
    chosen = sorted(stored.index[::37])

    rows = rule_rows(workspace.database, workspace.config.features, AS_OF, chosen)

    # RFM scores are ranked within the contacts computed, so they are left out here.
    same = [c for c in FEATURE_COLUMNS if c not in ("r_score", "f_score", "m_score", "rfm_group")]
    got = rows.set_index("contact_id")[same].sort_index()
    expected = stored.loc[chosen, same]
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, check_names=False)
    assert {"consent", "signup_at", "email_domain"} <= set(rows.columns)


@pytest.mark.parametrize(
    "as_of",
    [
        datetime(2026, 7, 1, 12, 30, 5, 123456, tzinfo=UTC),
        datetime(2031, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_the_query_compiled_once_is_the_query_compiled_for_each_as_of(
    workspace: Workspace, as_of: datetime
) -> None:
    query = RuleRows(workspace.database, workspace.config.features)
    query.sql(AT)  # compiled here, for the sentinel instant

    # The same SQL but for line breaks (sqlglot wraps lines by their length).
    assert bare(query.sql(as_of)) == bare(compiled_for(workspace, as_of))


def compiled_for(ws: Workspace, as_of: datetime) -> str:
    """What Ibis compiles for ``as_of`` itself (the sentinel never used)."""
    from audience.segments.contact_rows import _compiled

    return _compiled(ws.database, ws.config.features, as_of, chosen=True)


def bare(sql: str) -> str:
    return re.sub(r"\s+", "", sql)
