"""Ingest end to end on a real DuckDB workspace: accounting, dedupe, updates, atomicity."""

from __future__ import annotations

from pathlib import Path

import pytest

from audience import Workspace
from audience.errors import ConfigError, MissingColumnsError, SourceFileError
from tests.conftest import NOW, table_contents, write

CONTACTS = """Customer ID,Email Address,First Name,Country,Signup Date,Email Consent
C1, Ann@Example.com ,Ann,us,2024-03-05T10:22:11Z,subscribed
C2,bob@example,Bob,GB,2024-03-06,yes
C3,carl@example.org,Carl,DE,31/31/2024,subscribed
C1, Ann@Example.com ,Ann,us,2024-03-05T10:22:11Z,subscribed
C4,dee@example.org,Dee,FR,2024-03-06,maybe,extra
C5,,Eve,FR,2030-03-06,unsubscribed
C6,fay@example.org,Fay,SE,2024-01-01,no
"""

EVENTS = """messageId,userId,event,timestamp,revenue
m1,C1,Order Completed,2025-05-01T10:00:00Z,20
m2,C1,Email Opened,2025-05-02T10:00:00Z,
m1,C1,Order Completed,2025-05-01T10:00:00Z,20
m3,C6,Order Completed,2025-05-03T10:00:00Z,-5
m4,,Email Opened,2025-05-03T10:00:00Z,
m2,C1,Email Opened,2025-05-09T10:00:00Z,
"""


def test_contacts_report_adds_up_and_names_each_reason(
    workspace: Workspace, tmp_path: Path
) -> None:
    report = workspace.ingest(write(tmp_path / "contacts.csv", CONTACTS), now=NOW)
    assert (report.rows_read, report.accepted, report.quarantined, report.duplicates) == (
        7,
        2,
        4,
        1,
    )
    assert report.quarantine_reasons == {
        "invalid_email": 1,
        "malformed_row": 1,
        "missing_email": 1,
        "unparseable_timestamp": 1,
    }
    assert report.ignored_columns == ("First Name",)
    rows = workspace.database.con.execute(
        "SELECT contact_id, email, country, consent FROM contacts ORDER BY 1"
    ).fetchall()
    assert rows == [
        ("C1", "ann@example.com", "US", "subscribed"),
        ("C6", "fay@example.org", "SE", "unsubscribed"),
    ]


def test_quarantine_keeps_file_line_reason_and_raw_row(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = write(tmp_path / "contacts.csv", CONTACTS)
    workspace.ingest(path, now=NOW)
    rows = workspace.database.con.execute(
        "SELECT source, line, kind, reason, raw FROM quarantine ORDER BY line"
    ).fetchall()
    assert [(line, reason) for _, line, _, reason, _ in rows] == [
        (3, "invalid_email"),
        (4, "unparseable_timestamp"),
        (6, "malformed_row"),
        (7, "missing_email"),
    ]
    assert {source for source, *_ in rows} == {str(path)}
    assert '"Email Address":"bob@example"' in rows[0][4]


def test_reingesting_a_file_adds_nothing(workspace: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "contacts.csv", CONTACTS)
    workspace.ingest(path, now=NOW)
    before = table_contents(workspace)
    again = workspace.ingest(path, now=NOW, again=True)  # every row read (not skipped)
    after = table_contents(workspace)
    assert (again.accepted, again.duplicates, again.quarantined) == (0, 3, 4)
    for table in ("contacts", "events", "quarantine"):
        assert after[table] == before[table]


def test_events_dedupe_on_message_id_and_quarantine_conflicts(
    workspace: Workspace, tmp_path: Path
) -> None:
    report = workspace.ingest(write(tmp_path / "events.csv", EVENTS), now=NOW)
    assert (report.rows_read, report.accepted, report.quarantined, report.duplicates) == (
        6,
        2,
        3,
        1,
    )
    assert report.quarantine_reasons == {
        "duplicate_id_conflict": 1,
        "missing_contact": 1,
        "negative_amount": 1,
    }
    detail = workspace.database.con.execute(
        "SELECT detail FROM quarantine WHERE reason = 'duplicate_id_conflict'"
    ).fetchone()
    assert detail == ("id 'm2' is also on line 3 of this file, with different content",)


def test_an_event_already_stored_with_other_content_is_a_conflict(
    workspace: Workspace, tmp_path: Path
) -> None:
    workspace.ingest(
        write(
            tmp_path / "a_events.csv",
            "messageId,userId,event,timestamp\nm1,C1,Email Opened,2025-05-01T10:00:00Z\n",
        ),
        now=NOW,
    )
    report = workspace.ingest(
        write(
            tmp_path / "b_events.csv",
            "messageId,userId,event,timestamp\n"
            "m1,C1,Email Opened,2025-05-01T10:00:00Z\n"
            "m1,C2,Email Opened,2025-05-01T10:00:00Z\n",
        ),
        now=NOW,
    )
    assert (report.accepted, report.duplicates, report.quarantined) == (0, 1, 1)


def test_events_without_ids_dedupe_on_their_content(workspace: Workspace, tmp_path: Path) -> None:
    text = (
        "userId,event,timestamp\nC1,Email Opened,2025-05-01T10:00:00Z\n"
        "C1,Email Opened,2025-05-01T10:00:00Z\nC1,Email Opened,2025-05-02T10:00:00Z\n"
    )
    path = write(tmp_path / "events.csv", text)
    first = workspace.ingest(path, now=NOW)
    second = workspace.ingest(path, now=NOW, again=True)
    assert (first.accepted, first.duplicates) == (2, 1)
    assert (second.accepted, second.duplicates) == (0, 3)
    ids = workspace.database.con.execute("SELECT message_id FROM events").fetchall()
    assert all(mid.startswith("h:") for (mid,) in ids)


def test_orders_become_order_completed_events(workspace: Workspace, tmp_path: Path) -> None:
    text = (
        "Order ID,Customer ID,Order Date,Order Total,Quantity\n1001,C1,2025-05-01,99.90,2\n"
        "1002,C2,2025-05-02,10,1\n"
    )
    report = workspace.ingest(write(tmp_path / "orders.csv", text), now=NOW)
    assert report.inserted == {"contacts": 0, "events": 2}
    rows = workspace.database.con.execute(
        "SELECT message_id, contact_id, event, revenue, quantity, order_id FROM events ORDER BY 1"
    ).fetchall()
    assert rows[0] == ("order:1001", "C1", "Order Completed", 99.9, 2, "1001")


def test_a_newer_export_updates_contacts_without_erasing_values(
    workspace: Workspace, tmp_path: Path
) -> None:
    workspace.ingest(write(tmp_path / "contacts.csv", CONTACTS), now=NOW)
    newer = "Customer ID,Email Address,Email Consent\nC1,ann@example.com,unsubscribed\n"
    report = workspace.ingest(write(tmp_path / "contacts_v2.csv", newer), now=NOW)
    assert (report.accepted, report.updated, report.inserted["contacts"]) == (1, 1, 0)
    row = workspace.database.con.execute(
        "SELECT consent, country FROM contacts WHERE contact_id = 'C1'"
    ).fetchone()
    assert row == ("unsubscribed", "US")


def test_jsonl_identify_and_track_calls_fill_both_tables(
    workspace: Workspace, tmp_path: Path
) -> None:
    text = (
        '{"type":"identify","userId":"C1","traits":{"email":"a@b.co","createdAt":"2024-01-01"}}\n'
        '{"type":"track","messageId":"m1","userId":"C1","event":"Product Viewed",'
        '"timestamp":"2025-01-01T00:00:00Z","properties":{"category":"shoes","price":5}}\n'
        "not json\n"
    )
    report = workspace.ingest(write(tmp_path / "calls.jsonl", text), now=NOW)
    assert report.inserted == {"contacts": 1, "events": 1}
    assert report.quarantine_reasons == {"malformed_json": 1}
    assert workspace.database.con.execute(
        "SELECT contact_id, category, price FROM events"
    ).fetchone() == ("C1", "shoes", 5.0)
    assert workspace.database.con.execute(
        "SELECT signup_at IS NOT NULL FROM contacts"
    ).fetchone() == (True,)


def test_explicit_mapping_reads_unusual_headers(workspace: Workspace, tmp_path: Path) -> None:
    path = write(tmp_path / "people.csv", "Work Mail,Land\na@b.co,NL\n")
    report = workspace.ingest(
        path, "contacts", mapping={"Work Mail": "email", "Land": "country"}, now=NOW
    )
    assert report.accepted == 1


def test_a_missing_required_column_stores_nothing(workspace: Workspace, tmp_path: Path) -> None:
    workspace.ingest(write(tmp_path / "contacts.csv", CONTACTS), now=NOW)
    before = table_contents(workspace)
    with pytest.raises(MissingColumnsError):
        workspace.ingest(write(tmp_path / "people.csv", "Name,Phone\nAnn,1\n"), "contacts", now=NOW)
    assert table_contents(workspace) == before


def test_a_failure_after_rows_were_staged_leaves_the_workspace_as_it_was(
    tmp_path: Path,
) -> None:
    ws = Workspace.init(tmp_path / "ws")
    ws.config = ws.config.model_copy(
        update={"ingest": ws.config.ingest.model_copy(update={"chunk_rows": 1000})}
    )
    ws.ingest(write(tmp_path / "contacts.csv", CONTACTS), now=NOW)
    before = table_contents(ws)
    good = "".join(f"u{i}@example.org\n" for i in range(10_000))  # past the sniffed sample
    path = tmp_path / "more_contacts.csv"
    path.write_bytes(b"Email\n" + good.encode() + b"bad\xff@example.org\n")
    with pytest.raises(SourceFileError, match="line 10002 is not valid utf-8"):
        ws.ingest(path, now=NOW)
    assert table_contents(ws) == before
    ws.ingest(write(tmp_path / "ok_contacts.csv", "Email\nz@example.org\n"), now=NOW)
    assert ws.database.con.execute("SELECT count(*) FROM contacts").fetchone() == (3,)
    ws.close()


def test_the_kind_is_guessed_from_the_name_or_asked_for(
    workspace: Workspace, tmp_path: Path
) -> None:
    assert workspace.ingest(write(tmp_path / "customers.csv", "Email\na@b.co\n"), now=NOW).kind == (
        "contacts"
    )
    with pytest.raises(ConfigError, match="pass --kind"):
        workspace.ingest(write(tmp_path / "data.csv", "Email\na@b.co\n"), now=NOW)


def test_the_workspace_secret_keys_the_email_hash(workspace: Workspace, tmp_path: Path) -> None:
    import hashlib
    import hmac

    workspace.ingest(write(tmp_path / "contacts.csv", "Email\nAnn@Example.com\n"), now=NOW)
    contact_id, email_hash = workspace.database.con.execute(
        "SELECT contact_id, email_hash FROM contacts"
    ).fetchone()
    expected = hmac.new(workspace.secret, b"ann@example.com", hashlib.sha256).hexdigest()
    assert email_hash == expected
    assert contact_id == "e_" + expected[:32]
