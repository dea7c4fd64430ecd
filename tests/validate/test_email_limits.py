"""Addresses a spreadsheet would run, or too long for mail servers, are quarantined at ingest.

Issue 13.4: ``=1+2@example.com`` is valid syntax and used to be accepted and exported as
it was; an export must write the exact address, so it cannot be neutralised there.
Issue 18.4: a local part over 64 characters (RFC 5321) was accepted.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audience import Workspace
from audience.validate import REASONS

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
FORMULA_EMAILS = ("=1+2@example.com", "+cmd@example.com", "-12@example.com")
"""Every formula character the address syntax allows first (``@``, tab and line breaks
cannot start a valid address: those fail as ``invalid_email``)."""


def _contacts(path: Path, emails: list[str]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Email Address", "Signup Date", "Email Consent"])
        writer.writerows([email, "2024-01-01", "subscribed"] for email in emails)
    return path


def _ingest(tmp_path: Path, emails: list[str]) -> tuple[Workspace, dict[str, str]]:
    """Ingest one contact per address into a new workspace; each quarantined row's reason
    and detail by the address it held."""
    ws = Workspace.init(tmp_path / "ws")
    report = ws.ingest(_contacts(tmp_path / "contacts.csv", emails), now=NOW)
    assert report.rows_read == report.accepted + report.quarantined == len(emails)
    rows = ws.database.con.execute("SELECT line, reason, detail FROM quarantine").fetchall()
    return ws, {emails[int(line) - 2]: f"{reason}: {detail}" for line, reason, detail in rows}


def test_each_address_starting_like_a_formula_is_quarantined_with_its_reason(
    tmp_path: Path,
) -> None:
    ws, quarantined = _ingest(tmp_path, [*FORMULA_EMAILS, "ann@example.com"])
    assert set(quarantined) == set(FORMULA_EMAILS)
    assert {text.split(":")[0] for text in quarantined.values()} == {"formula_email"}
    assert "'Email Address' starts with '='" in quarantined["=1+2@example.com"]
    stored = ws.database.con.execute("SELECT email FROM contacts").fetchall()
    assert stored == [("ann@example.com",)]


def test_a_formula_character_later_in_the_address_is_fine(tmp_path: Path) -> None:
    _ws, quarantined = _ingest(tmp_path, ["a=b@example.com", "ann+news@example.com"])
    assert quarantined == {}


@pytest.mark.parametrize("email", ["@ann@example.com", "ann@@example.com"])
def test_an_address_starting_with_at_is_not_valid_syntax(tmp_path: Path, email: str) -> None:
    _ws, quarantined = _ingest(tmp_path, [email])
    assert quarantined[email].startswith("invalid_email: ")


def test_a_local_part_over_64_characters_is_quarantined(tmp_path: Path) -> None:
    longest, too_long = "a" * 64 + "@example.com", "a" * 65 + "@example.com"
    _ws, quarantined = _ingest(tmp_path, [longest, too_long])
    assert set(quarantined) == {too_long}
    assert quarantined[too_long].startswith("email_too_long: ")
    assert "65 characters before the @" in quarantined[too_long]


def test_an_address_over_254_characters_stays_invalid(tmp_path: Path) -> None:
    address = "a" * 60 + "@" + ".".join(["b" * 60] * 4) + ".com"  # 60 + 1 + 243 + 4
    assert len(address) > 254
    _ws, quarantined = _ingest(tmp_path, [address])
    assert quarantined[address].startswith("invalid_email: ")


def test_events_with_a_formula_email_are_quarantined_too(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "ws")
    events = tmp_path / "events.csv"
    events.write_text(
        "message_id,email,event,timestamp\n"
        "m1,=1+2@example.com,Email Opened,2025-05-01T10:00:00Z\n"
        "m2,ann@example.com,Email Opened,2025-05-01T10:00:00Z\n",
        encoding="utf-8",
    )
    report = ws.ingest(events, kind="events", now=NOW)
    assert report.rows_read == report.accepted + report.quarantined
    assert report.quarantine_reasons == {"formula_email": 1}


def test_the_new_reasons_say_what_is_wrong() -> None:
    assert "formula" in REASONS["formula_email"]
    assert "64 characters" in REASONS["email_too_long"]
