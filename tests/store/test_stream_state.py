"""membership_changes and stream_entries, on a real workspace database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from audience import Workspace
from audience.store.ingesting import ingest_lines
from audience.store.membership_changes import current_segments, record_changes
from audience.store.stream_entries import committed_entries, record_entries, touched_contacts

T0 = datetime(2025, 6, 1, tzinfo=UTC)


def a_run(ws: Workspace) -> None:
    con = ws.database.con
    con.execute("INSERT INTO memberships VALUES ('r1', 'a', 'x', NULL), ('r1', 'b', 'y', NULL)")


def assigned(**segments: str | None) -> pd.DataFrame:
    return pd.DataFrame({"contact_id": list(segments), "segment_id": list(segments.values())})


def test_only_a_change_of_segment_is_recorded_from_the_current_one(workspace: Workspace) -> None:
    a_run(workspace)
    db = workspace.database

    first = record_changes(db, "r1", assigned(a="x", b="z", c="x"), T0, "stream")
    again = record_changes(db, "r1", assigned(a="x", b="z", c="x"), T0, "stream")
    back = record_changes(db, "r1", assigned(b="y"), T0 + timedelta(hours=1), "stream")

    assert (first, again, back) == (2, 0, 1)
    rows = db.con.execute(
        "SELECT contact_id, from_segment, to_segment FROM membership_changes ORDER BY changed_at, 1"
    ).fetchall()
    # a: unchanged; b: y → z → y; c: not in the run, so from none.
    assert rows == [("b", "y", "z"), ("c", None, "x"), ("b", "z", "y")]
    assert current_segments(db, "r1", ["a", "b", "c", "d"]) == {
        "a": "x", "b": "y", "c": "x", "d": None,
    }  # fmt: skip


def test_a_change_to_no_segment_is_recorded(workspace: Workspace) -> None:
    a_run(workspace)

    assert record_changes(workspace.database, "r1", assigned(a=None), T0, "stream") == 1
    assert current_segments(workspace.database, "r1", ["a"]) == {"a": None}


def test_entries_are_recorded_with_the_ingest_and_the_contact_of_their_line(
    workspace: Workspace,
) -> None:
    lines = [
        b'{"type": "track", "event": "Product Viewed", "userId": "u1", "messageId": "m1", '
        b'"timestamp": "2025-05-01T00:00:00Z"}',
        b"{broken",
        b'{"type": "track", "event": "Product Viewed", "userId": "u2", "messageId": "m2", '
        b'"timestamp": "2025-05-01T00:00:00Z"}',
    ]
    db = workspace.database

    report = ingest_lines(
        db,
        workspace.secret,
        workspace.config.ingest,
        lines,
        name="redis:s 1..3",
        now=T0,
        within=lambda commit: record_entries(commit, "redis:s", ["1-0", "2-0", "3-0"], T0),
    )

    assert (report.accepted, report.quarantined) == (2, 1)
    assert committed_entries(db, "redis:s", ["1-0", "2-0", "9-0"]) == {"1-0", "2-0"}
    assert committed_entries(db, "kafka:s", ["1-0"]) == set()
    assert touched_contacts(db, "redis:s", ["1-0", "2-0", "3-0"]) == ["u1", "u2"]
    assert db.con.execute("SELECT source FROM quarantine").fetchall() == [("redis:s 1..3",)]
