"""Invariants over generated files: every row is accounted for, re-ingest is idempotent."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audience import Workspace
from audience.store.known_files import AlreadyIngested
from audience.validate import IngestReport
from tests.conftest import NOW, table_contents

emails = st.sampled_from(["a@x.co", "B@x.co ", "c@x.co", "bad@", "", "d@y.org", "e@y.org"])
dates = st.sampled_from(["2024-01-01", "2024-02-30", "2031-01-01", "", "2024-05-05T10:00:00Z"])
consents = st.sampled_from(["subscribed", "no", "cleaned", "maybe", ""])
ids = st.sampled_from(["C1", "C2", "C3", "C4", ""])
rows = st.lists(st.tuples(ids, emails, dates, consents), min_size=0, max_size=40)

event_rows = st.lists(
    st.tuples(
        st.sampled_from(["m1", "m2", "m3", "m4", ""]),
        st.sampled_from(["C1", "C2", ""]),
        st.sampled_from(["Email Opened", "Order Completed", ""]),
        st.sampled_from(["2025-01-01T00:00:00Z", "2025-01-02", "garbage", "2040-01-01"]),
        st.sampled_from(["", "5", "-1", "x", "12.5"]),
    ),
    max_size=40,
)


def _write(path: Path, header: list[str], data: list[tuple[str, ...]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(data)
    return path


def _check_accounting_and_idempotence(
    kind: str, header: list[str], data: list[tuple[str, ...]]
) -> None:
    with tempfile.TemporaryDirectory() as folder, Workspace.init(Path(folder) / "ws") as ws:
        path = _write(Path(folder) / f"{kind}.csv", header, data)
        first = ws.ingest(path, kind, now=NOW)  # type: ignore[arg-type]
        assert first.rows_read == len(data)
        assert first.rows_read == first.accepted + first.quarantined + first.duplicates
        assert sum(first.quarantine_reasons.values()) == first.quarantined
        before = table_contents(ws)
        skipped = ws.ingest(path, kind, now=NOW)  # type: ignore[arg-type]
        assert isinstance(skipped, AlreadyIngested)
        assert table_contents(ws) == before
        second = ws.ingest(path, kind, now=NOW, again=True)  # type: ignore[arg-type]
        assert second.accepted == 0
        assert second.rows_read == second.quarantined + second.duplicates
        # What the skip reports is what reading the file again finds.
        assert _outcome(skipped) == _outcome(second)
        after = table_contents(ws)
        for table in ("contacts", "events", "quarantine"):
            assert after[table] == before[table]


def _outcome(report: IngestReport) -> tuple[object, ...]:
    return (
        report.rows_read,
        report.accepted,
        report.quarantined,
        report.duplicates,
        report.quarantine_reasons,
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows)
def test_contact_rows_are_all_accounted_for_and_reingest_adds_nothing(
    data: list[tuple[str, str, str, str]],
) -> None:
    _check_accounting_and_idempotence(
        "contacts", ["Customer ID", "Email", "Signup Date", "Consent"], data
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_rows)
def test_event_rows_are_all_accounted_for_and_reingest_adds_nothing(
    data: list[tuple[str, str, str, str, str]],
) -> None:
    _check_accounting_and_idempotence(
        "events", ["messageId", "userId", "event", "timestamp", "revenue"], data
    )
