"""What changed between two runs, on a hand-built workspace: runs stored with
save_tree_run, features written by hand, every count worked out below."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from audience import Workspace
from audience.config import WorkspaceConfig
from audience.features.drift import ks_statistic, psi
from audience.segments.change_summary import flagged_drift, moves, turnover
from audience.segments.changes import (
    RunChanges,
    changes_writer,
    compare_runs,
    previous_tree_run,
    read_changes,
    write_changes,
)
from audience.store.database import Database
from audience.store.segment_runs import save_tree_run

T0 = datetime(2026, 1, 1, tzinfo=UTC)
A, B, X, SUPPRESSED = "customers/a", "customers/b", "prospects/x", "suppressed/unsubscribed"
BEFORE = {"c1": A, "c2": A, "c3": B, "c4": X, "c5": SUPPRESSED, "c6": A}
AFTER = {"c1": A, "c2": B, "c3": B, "c5": SUPPRESSED, "c6": X, "c7": A}
# c1, c3, c5 stay; c2 moves a → b and c6 a → x; c4 leaves; c7 is new.
TRANSITIONS = {
    (A, A): 1,
    (A, B): 1,
    (B, B): 1,
    (X, None): 1,
    (SUPPRESSED, SUPPRESSED): 1,
    (A, X): 1,
    (None, A): 1,
}


def config(**drift: int) -> WorkspaceConfig:
    return WorkspaceConfig.model_validate(
        {
            "models": {"features": ["order_count"]},
            "preprocess": {"categorical": ["country"]},
            "drift": {"min_contacts": 10, "sample": 0, **drift},
        }
    )


def store_run(
    db: Database,
    run_id: str,
    created_at: datetime,
    members: Mapping[str, str],
    kind: str = "tree",
) -> None:
    memberships = pd.DataFrame(
        {"contact_id": list(members), "segment_id": list(members.values()), "probability": None}
    )
    sizes = memberships["segment_id"].value_counts()
    segments = pd.DataFrame(
        {
            "segment_id": sizes.index,
            "parent_id": None,
            "name": sizes.index,
            "size": sizes.to_numpy(),
            "definition": [{} for _ in sizes.index],
        }
    )
    save_tree_run(
        db,
        run_id=run_id,
        as_of=created_at,
        created_at=created_at,
        memberships=memberships,
        segments=segments,
        config={"kind": kind},
        metrics={},
    )


def store_features(db: Database, as_of: datetime, rows: pd.DataFrame) -> None:
    """The features table as compute_features leaves it: contact_id, as_of, the features."""
    db.con.execute(
        "CREATE TABLE IF NOT EXISTS features "
        "(contact_id VARCHAR, as_of TIMESTAMPTZ, order_count DOUBLE, country VARCHAR)"
    )
    db.con.register("_rows", rows.assign(as_of=as_of))
    db.con.execute("INSERT INTO features SELECT contact_id, as_of, order_count, country FROM _rows")
    db.con.unregister("_rows")


def features_of(members: Mapping[str, str], orders: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame(
        {"contact_id": list(members), "order_count": orders, "country": "FR"}
    ).astype({"order_count": "float64"})


def new_members(members: Mapping[str, str]) -> pd.DataFrame:
    return pd.DataFrame({"contact_id": list(members), "segment_id": list(members.values())})


def compare(db: Database, after: Mapping[str, str]) -> RunChanges:
    """``after`` (with one order each, in FR) against the stored run-1."""
    return compare_runs(
        db,
        config(),
        previous_run_id="run-1",
        memberships=new_members(after),
        features=features_of(after),
    )


@pytest.fixture
def db(workspace: Workspace) -> Database:
    store_run(workspace.database, "run-1", T0, BEFORE)
    store_features(workspace.database, T0, features_of(BEFORE))
    return workspace.database


def test_transitions_count_every_contact_of_either_run(db: Database) -> None:
    changes = compare(db, AFTER)
    found = {
        (row.from_segment, row.to_segment): row.contacts
        for row in changes.transitions.itertuples(index=False)
    }
    assert found == TRANSITIONS
    assert changes.previous_run_id == "run-1"


def test_sizes_before_and_now_with_the_change(db: Database) -> None:
    changes = compare(db, AFTER)
    sizes = changes.sizes.set_index("segment_id")
    assert sizes.index.tolist() == [A, B, X, SUPPRESSED]
    assert sizes["previous"].tolist() == [3, 1, 1, 1]
    assert sizes["current"].tolist() == [2, 2, 1, 1]
    assert sizes["change"].tolist() == [-1, 1, 0, 0]
    assert sizes["relative_change"].tolist() == pytest.approx([-1 / 3, 1.0, 0.0, 0.0])


def test_a_new_segment_has_no_relative_change(db: Database) -> None:
    after = {**AFTER, "c8": "prospects/new"}
    changes = compare(db, after)
    row = changes.sizes.set_index("segment_id").loc["prospects/new"]
    assert (row["previous"], row["current"], row["change"]) == (0, 1, 1)
    assert math.isnan(row["relative_change"])


def test_moves_turnover_and_shares(db: Database) -> None:
    changes = compare(db, AFTER)
    moved = moves(changes.transitions)
    shares = {(r.from_segment, r.to_segment): r.share for r in moved.itertuples(index=False)}
    # a had 3 contacts before; x had 1; 1 contact is new.
    assert shares == pytest.approx({(A, B): 1 / 3, (A, X): 1 / 3, (X, None): 1.0, (None, A): 1.0})
    counts = turnover(changes.transitions)
    assert (counts.stayed, counts.moved, counts.new, counts.gone, counts.total) == (3, 2, 1, 1, 7)


def test_drift_of_the_contactable_population_and_of_large_enough_segments(
    workspace: Workspace,
) -> None:
    db = workspace.database
    before = {f"a{i}": A for i in range(30)} | {f"b{i}": B for i in range(12)}
    before |= {f"s{i}": SUPPRESSED for i in range(20)}
    after = {f"a{i}": A for i in range(30)} | {f"b{i}": B for i in range(9)}  # b: 9 < 10
    after |= {f"s{i}": SUPPRESSED for i in range(20)}
    old = features_of(before).assign(order_count=[i % 5 for i in range(len(before))])
    new = features_of(after).assign(order_count=[i % 7 for i in range(len(after))])
    new.loc[new["contact_id"].str.startswith("s"), "order_count"] = 99.0  # not contactable
    new.loc[new["contact_id"] == "a0", "country"] = "DE"
    store_run(db, "run-1", T0, before)
    store_features(db, T0, old)
    changes = compare_runs(
        db, config(), previous_run_id="run-1", memberships=new_members(after), features=new
    )
    drift = changes.drift.set_index(["scope", "feature"])
    assert drift.index.tolist() == [
        ("", "order_count"),
        ("", "country"),
        (A, "order_count"),
        (A, "country"),
    ]

    def values(frame: pd.DataFrame, keep: pd.Series) -> pd.Series:
        return frame.loc[keep.to_numpy(), "order_count"]

    population_before = values(old, ~old["contact_id"].str.startswith("s"))
    population_after = values(new, ~new["contact_id"].str.startswith("s"))
    assert drift.loc[("", "order_count"), "psi"] == pytest.approx(
        psi(population_before, population_after)
    )
    assert drift.loc[("", "order_count"), "ks"] == pytest.approx(
        ks_statistic(population_before, population_after)
    )
    in_a_before = values(old, old["contact_id"].str.startswith("a"))
    in_a_after = values(new, new["contact_id"].str.startswith("a"))
    assert drift.loc[(A, "order_count"), "psi"] == pytest.approx(psi(in_a_before, in_a_after))
    assert math.isnan(drift.loc[(A, "country"), "ks"])
    assert drift.loc[(A, "country"), "psi"] > 0  # one of 30 moved to DE
    assert set(drift["status"]) <= {"ok", "watch", "alert"}


def test_flagged_drift_puts_the_population_first_and_alerts_before_watches() -> None:
    drift = pd.DataFrame(
        {
            "scope": ["b", "", "a", "a", "", "a"],
            "feature": ["x", "y", "z", "w", "v", "u"],
            "psi": [0.3, 0.12, 0.11, 0.5, 0.01, 0.2],
            "ks": [0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
            "status": ["alert", "watch", "watch", "alert", "ok", "watch"],
        }
    )
    flagged = flagged_drift(drift)
    assert list(zip(flagged["scope"], flagged["feature"], strict=True)) == [
        ("", "y"),
        ("a", "w"),
        ("a", "u"),
        ("a", "z"),
        ("b", "x"),
    ]


def test_written_changes_read_back_the_same(db: Database) -> None:
    changes = compare(db, AFTER)
    assert read_changes(db, "run-2") is None
    with db.transaction() as con:
        write_changes(con, "run-2", changes)
    back = read_changes(db, "run-2")
    assert back is not None
    assert back.previous_run_id == "run-1"
    key = ["from_segment", "to_segment"]

    def ordered(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.fillna("~").sort_values(key).reset_index(drop=True)

    pd.testing.assert_frame_equal(ordered(back.transitions), ordered(changes.transitions))
    pd.testing.assert_frame_equal(back.sizes, changes.sizes)
    pd.testing.assert_frame_equal(
        back.drift.sort_values(["scope", "feature"]).reset_index(drop=True),
        changes.drift.sort_values(["scope", "feature"]).reset_index(drop=True),
    )
    assert back.transitions["from_segment"].isna().sum() == 1  # None, not the text "None"


def test_changes_are_written_in_the_run_transaction_or_not_at_all(db: Database) -> None:
    previous = previous_tree_run(db, T0 + timedelta(days=1))
    writer = changes_writer(db, config(), "run-2", previous, new_members(AFTER), features_of(AFTER))
    assert writer is not None

    def write_then_fail(con: object) -> None:
        writer(con)  # type: ignore[arg-type]
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        save_tree_run(
            db,
            run_id="run-2",
            as_of=T0,
            created_at=T0 + timedelta(days=1),
            memberships=new_members(AFTER).assign(probability=None),
            segments=pd.DataFrame(
                columns=["segment_id", "parent_id", "name", "size", "definition"]
            ),
            config={"kind": "tree"},
            metrics={},
            also=write_then_fail,
        )
    assert db.con.execute("SELECT count(*) FROM transitions").fetchall() == [(0,)]
    assert db.con.execute("SELECT count(*) FROM runs WHERE run_id = 'run-2'").fetchall() == [(0,)]


def test_the_first_run_has_nothing_to_compare(workspace: Workspace) -> None:
    db = workspace.database
    previous = previous_tree_run(db, T0)
    assert previous is None
    assert (
        changes_writer(db, config(), "run-1", previous, new_members(AFTER), features_of(AFTER))
        is None
    )


def test_previous_tree_run_is_the_newest_tree_run_created_before(workspace: Workspace) -> None:
    db = workspace.database
    store_run(db, "run-1", T0, BEFORE)
    store_run(db, "flat-1", T0 + timedelta(hours=1), BEFORE, kind="flat")
    store_run(db, "run-2", T0 + timedelta(hours=2), BEFORE)
    store_run(db, "run-2b", T0 + timedelta(hours=2), BEFORE)  # the same moment: by run id
    assert previous_tree_run(db, "run-1") is None
    assert previous_tree_run(db, "run-2") == "run-1"  # not the flat run
    assert previous_tree_run(db, "run-2b") == "run-2"
    assert previous_tree_run(db, T0 + timedelta(hours=2)) == "run-1"
    assert previous_tree_run(db, T0 + timedelta(hours=3)) == "run-2b"


def test_no_drift_when_the_previous_features_are_gone(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    db.con.execute("DELETE FROM features")
    with caplog.at_level(logging.WARNING, logger="audience.segments.changes"):
        changes = compare(db, AFTER)
    assert changes.drift.empty
    assert len(changes.transitions) == len(TRANSITIONS)
    assert "no longer stored" in caplog.text
    with db.transaction() as con:
        write_changes(con, "run-2", changes)
    back = read_changes(db, "run-2")
    assert back is not None
    assert back.drift.empty
    assert back.transitions["contacts"].sum() == sum(TRANSITIONS.values())
