"""Each validation rule on hand-written rows: what passes, what is rejected, and why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from audience.ingest import resolve_columns, to_fields
from audience.validate import Checked, Rules, check_contacts, check_events, check_orders

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SECRET = b"k" * 32
CHECKS = {"contacts": check_contacts, "events": check_events, "orders": check_orders}


def check(kind: str, rows: list[dict[str, Any]], tolerance_hours: float = 24) -> Checked:
    frame = pd.DataFrame(rows).astype("object")
    mapping = resolve_columns(list(frame.columns), kind, require=False)  # type: ignore[arg-type]
    rules = Rules(NOW, timedelta(hours=tolerance_hours), mapping)
    fields = to_fields(frame, mapping, SECRET)
    return CHECKS[kind](fields, np.arange(2, len(rows) + 2), rules)


def reasons(checked: Checked) -> list[str]:
    return checked.reasons


def contact(**values: Any) -> dict[str, Any]:
    row = {"email": "ann@example.com", "signup_at": "2024-01-01", "consent": "subscribed"}
    row.update(values)
    return row


def event(**values: Any) -> dict[str, Any]:
    row = {
        "message_id": "m1",
        "user_id": "C1",
        "event": "Order Completed",
        "timestamp": "2025-05-01T10:00:00Z",
        "revenue": "10.5",
        "quantity": "2",
    }
    row.update(values)
    return row


def test_a_valid_contact_is_accepted_with_typed_values() -> None:
    checked = check("contacts", [contact(email=" Ann@Example.com ", open_rate="0.25")])
    assert checked.reasons == []
    row = checked.accepted.iloc[0]
    assert row["email"] == "ann@example.com"
    assert row["signup_at"] == pd.Timestamp("2024-01-01", tz="UTC")
    assert row["open_rate"] == 0.25
    assert row["line"] == 2
    assert row["contact_id"].startswith("e_")  # no id in the file: keyed by the email hash


@pytest.mark.parametrize(
    "email",
    [
        "john.doe@",
        "jane.smith.gmail.com",
        "a b@x.com",
        "x@@y.com",
        "x@y",
        ".x@y.com",
        "x..y@y.com",
        "x.@y.com",
        "x@-y.com",
        "x@y..com",
    ],
)
def test_malformed_emails_are_rejected(email: str) -> None:
    checked = check("contacts", [contact(email=email)])
    assert reasons(checked) == ["invalid_email"]
    assert repr(email.strip()) in checked.details[0]


@pytest.mark.parametrize(
    "email", ["a@b.co", "first.last+tag@sub.example.org", "o'neil@example.ie", "x_y-z@a-b.com"]
)
def test_well_formed_emails_pass(email: str) -> None:
    assert reasons(check("contacts", [contact(email=email)])) == []


def test_a_contact_without_email_is_rejected() -> None:
    checked = check("contacts", [contact(email="  ")])
    assert reasons(checked) == ["missing_email"]


@pytest.mark.parametrize("value", ["31/31/2024", "yesterday", "2024-13-45", "03/05/2024"])
def test_non_iso_dates_are_rejected_with_the_expected_format(value: str) -> None:
    checked = check("contacts", [contact(signup_at=value)])
    assert reasons(checked) == ["unparseable_timestamp"]
    assert "ISO 8601" in checked.details[0]
    assert repr(value) in checked.details[0]


def test_future_timestamps_are_rejected_beyond_the_tolerance_only() -> None:
    within = (NOW + timedelta(hours=23)).isoformat()
    beyond = (NOW + timedelta(hours=25)).isoformat()
    checked = check("contacts", [contact(signup_at=within), contact(signup_at=beyond)])
    assert list(checked.rejected) == [1]
    assert reasons(checked) == ["future_timestamp"]
    assert "in the future" in checked.details[0]


def test_zero_tolerance_rejects_a_minute_ahead() -> None:
    ahead = (NOW + timedelta(minutes=1)).isoformat()
    assert reasons(check("contacts", [contact(signup_at=ahead)], tolerance_hours=0)) == [
        "future_timestamp"
    ]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("subscribed", "subscribed"),
        ("Yes", "subscribed"),
        ("no", "unsubscribed"),
        ("cleaned", "cleaned"),
        ("pending", "pending"),
        ("transactional", "non_subscribed"),
    ],
)
def test_consent_words_of_the_platforms_are_understood(given: str, stored: str) -> None:
    checked = check("contacts", [contact(consent=given)])
    assert checked.accepted.iloc[0]["consent"] == stored


def test_an_unknown_consent_word_is_rejected() -> None:
    checked = check("contacts", [contact(consent="maybe")])
    assert reasons(checked) == ["invalid_consent"]
    assert "'maybe'" in checked.details[0]


@pytest.mark.parametrize(
    ("rate", "reason"),
    [("1.5", "rate_out_of_range"), ("-0.1", "rate_out_of_range"), ("45%", "invalid_number")],
)
def test_rates_must_be_fractions_within_zero_and_one(rate: str, reason: str) -> None:
    assert reasons(check("contacts", [contact(open_rate=rate)])) == [reason]


def test_rate_bounds_are_inclusive() -> None:
    assert reasons(check("contacts", [contact(open_rate="0", click_rate="1")])) == []


def test_every_failure_of_a_row_is_reported_and_the_first_is_its_reason() -> None:
    checked = check("contacts", [contact(email="bad@", signup_at="never", consent="??")])
    assert reasons(checked) == ["invalid_email"]
    assert checked.details[0].count(";") == 2
    assert "'never'" in checked.details[0]
    assert "'??'" in checked.details[0]


def test_a_valid_event_is_accepted_with_typed_values() -> None:
    checked = check("events", [event(is_machine_open="TRUE")])
    assert checked.reasons == []
    row = checked.accepted.iloc[0]
    assert (row["revenue"], row["quantity"], row["contact_id"]) == (10.5, 2, "C1")
    assert bool(row["is_machine_open"]) is True
    assert row["timestamp"] == pd.Timestamp("2025-05-01T10:00:00Z")


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"revenue": "-3"}, "negative_amount"),
        ({"revenue": "12,50"}, "invalid_number"),
        ({"quantity": "-1"}, "negative_amount"),
        ({"quantity": "1.5"}, "invalid_number"),
        ({"timestamp": None}, "missing_timestamp"),
        ({"timestamp": "not-a-date"}, "unparseable_timestamp"),
        ({"timestamp": "2031-01-01T00:00:00Z"}, "future_timestamp"),
        ({"event": ""}, "missing_event"),
        ({"user_id": None}, "missing_contact"),
        ({"is_machine_open": "sometimes"}, "invalid_boolean"),
    ],
)
def test_bad_events_are_rejected_for_their_reason(values: dict[str, Any], reason: str) -> None:
    assert reasons(check("events", [event(**values)])) == [reason]


def test_a_user_id_that_is_an_email_is_pseudonymised() -> None:
    checked = check("events", [event(user_id="Ann@Example.com")])
    contact_id = checked.accepted.iloc[0]["contact_id"]
    assert contact_id.startswith("e_")
    assert "ann" not in contact_id


def test_an_anonymous_event_is_accepted() -> None:
    checked = check("events", [event(user_id=None, anonymousId="a-1")])
    assert checked.reasons == []


def test_an_order_becomes_an_order_completed_event_keyed_by_order_id() -> None:
    checked = check(
        "orders",
        [
            {
                "Order ID": "1001",
                "Customer ID": "C1",
                "Order Date": "2025-05-01",
                "Order Total": "99.90",
            }
        ],
    )
    row = checked.accepted.iloc[0]
    assert (row["event"], row["message_id"], row["revenue"]) == (
        "Order Completed",
        "order:1001",
        99.9,
    )


def test_an_order_without_total_is_rejected() -> None:
    checked = check(
        "orders",
        [{"Order ID": "1", "Customer ID": "C1", "Order Date": "2025-05-01", "Order Total": ""}],
    )
    assert reasons(checked) == ["missing_revenue"]
    assert "'Order Total' is empty" in checked.details[0]
