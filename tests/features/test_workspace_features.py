"""Features through the workspace and the CLI: stored per as_of, exported, summarised."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from audience import Workspace
from audience.cli import app
from audience.errors import ConfigError
from audience.features.compute import compute_features
from tests.conftest import flat
from tests.features.fixture import AS_OF, EXPECTED, contacts_frame, events_frame, insert_rows


@pytest.fixture
def filled(workspace: Workspace) -> Workspace:
    """The hand-made fixture loaded straight into a real workspace's tables."""
    insert_rows(workspace.database.con, contacts_frame(), events_frame())
    return workspace


def test_features_are_stored_per_as_of_and_replaced_whole(filled: Workspace) -> None:
    report = filled.features(AS_OF)
    assert report.contacts == 5
    earlier = datetime(2025, 6, 1, tzinfo=UTC)
    filled.features(earlier)
    filled.features(AS_OF)
    con = filled.database.con
    counts = con.execute("SELECT as_of, count(*) FROM features GROUP BY 1 ORDER BY 1").fetchall()
    assert [n for _, n in counts] == [4, 5]  # B signed up after 2025-06-01
    stored = con.execute(
        "SELECT contact_id, recency_days, rfm_group FROM features WHERE as_of = ? ORDER BY 1",
        [AS_OF],
    ).fetchall()
    assert stored[0] == ("A", 1, "Champions")


def test_the_summary_describes_each_feature(filled: Workspace) -> None:
    stats = {s.feature: s for s in filled.features(AS_OF).stats}
    assert stats["order_count"].mean == pytest.approx(EXPECTED.order_count.mean())
    assert stats["order_count"].missing == 0
    assert stats["recency_days"].missing == pytest.approx(2 / 5)
    assert stats["engagement_tier"].top == "dormant"
    assert stats["engagement_tier"].distinct == 3


def test_features_without_summary_store_the_same_rows(filled: Workspace) -> None:
    # What segmentation runs ask for: the rows, the RFM run and feature_sets, no stats.
    con = filled.database.con
    report = compute_features(
        filled.database, filled.config.features, AS_OF, created_at=AS_OF, summary=False
    )
    assert (report.contacts, report.stats) == (5, [])
    unsummarised = con.execute("SELECT * FROM features ORDER BY contact_id").fetchall()
    assert filled.features(AS_OF).stats  # the default still summarises
    assert con.execute("SELECT * FROM features ORDER BY contact_id").fetchall() == unsummarised


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_features_are_exported(filled: Workspace, tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"features{suffix}"
    filled.features(AS_OF, out=out)
    frame = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out)
    assert list(frame.contact_id) == ["A", "B", "C", "D", "F"]
    assert frame.set_index("contact_id").loc["C", "rfm_group"] == "At Risk"


def test_an_unknown_export_format_is_refused_and_nothing_changes(
    filled: Workspace, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=r"\.parquet or \.csv"):
        filled.features(AS_OF, out=tmp_path / "features.xlsx")


def test_a_naive_as_of_is_refused(filled: Workspace) -> None:
    with pytest.raises(ConfigError, match="no time zone"):
        filled.features(datetime(2025, 6, 30))


def test_the_cli_computes_prints_and_writes(filled: Workspace, tmp_path: Path) -> None:
    filled.close()
    out = tmp_path / "f.parquet"
    result = CliRunner().invoke(
        app,
        ["features", "--as-of", "2025-06-30", "--out", str(out), "--workspace", str(filled.path)],
    )
    output = flat(result.output)
    assert result.exit_code == 0, output
    assert "features of 5 contacts as of 2025-06-30 23:59 UTC" in output
    assert "order_count 0.0%" in output
    assert "engagement_tier: 3 values, most often dormant (0.0% missing)" in output
    assert len(pd.read_parquet(out)) == 5
    con = duckdb.connect(str(filled.database_path), read_only=True)
    assert con.execute("SELECT count(*) FROM features").fetchone() == (5,)
    con.close()


def test_the_cli_explains_a_bad_as_of(filled: Workspace) -> None:
    filled.close()
    result = CliRunner().invoke(
        app, ["features", "--as-of", "June", "--workspace", str(filled.path)]
    )
    assert result.exit_code == 1
    assert "is not a date (YYYY-MM-DD)" in flat(result.output)


def test_the_rfm_groups_are_stored_as_a_baseline_segmentation(filled: Workspace) -> None:
    filled.features(AS_OF)
    filled.features(AS_OF)  # recomputing replaces the run, it does not add one
    con = filled.database.con
    runs = con.execute("SELECT run_id, status, config->>'method' FROM runs").fetchall()
    assert runs == [("rfm-20250630T120000", "complete", "rfm_rules")]
    segments = con.execute(
        "SELECT segment_id, name, size FROM segments ORDER BY segment_id"
    ).fetchall()
    assert segments == [
        ("rfm/at-risk", "At Risk", 1),
        ("rfm/champions", "Champions", 1),
        ("rfm/promising", "Promising", 1),
        ("rfm/prospects", "Prospects", 2),
    ]
    members = con.execute(
        "SELECT contact_id, segment_id FROM memberships ORDER BY contact_id"
    ).fetchall()
    assert members[0] == ("A", "rfm/champions")
    assert len(members) == 5
    rule = con.execute(
        "SELECT definition->>'rule' FROM segments WHERE segment_id = 'rfm/champions'"
    ).fetchone()
    assert rule == ("R 4–5 and FM 4–5 (first matching rule)",)
