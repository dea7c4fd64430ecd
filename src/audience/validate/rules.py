"""The checks every incoming row must pass, one function per kind of row.

Each function takes rows already renamed to Audience's fields (:func:`audience.ingest.to_fields`)
and returns :class:`Checked`: the accepted rows with typed columns, and for each rejected
row its position, the first failed rule and every failure's message. Messages name the
column as the file calls it, the value found and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from audience.config import IngestConfig
from audience.ingest.mapping import ColumnMapping
from audience.validate.email import check_email_limits
from audience.validate.findings import Findings, shown
from audience.validate.parsing import (
    CONSENT_VALUES,
    email_is_valid,
    parse_booleans,
    parse_consent,
    parse_numbers,
    parse_timestamps,
)

CONTACT_FIELDS = [
    "contact_id",
    "email",
    "email_hash",
    "country",
    "signup_at",
    "consent",
    "open_rate",
    "click_rate",
]
EVENT_FIELDS = [
    "message_id",
    "contact_id",
    "anonymous_id",
    "event",
    "timestamp",
    "revenue",
    "price",
    "quantity",
    "order_id",
    "product_id",
    "category",
    "campaign_id",
    "is_machine_open",
    "bounce_type",
]
ORDER_EVENT = "Order Completed"


MAX_AMOUNT = 1e12
"""The largest revenue or price accepted: larger is a unit or parsing error (and sums of a
few such values would lose every cent)."""
MAX_QUANTITY = 1_000_000_000
"""The largest quantity accepted (well inside a 64-bit integer)."""
EARLIEST: date = IngestConfig().earliest_timestamp


@dataclass(frozen=True)
class Rules:
    """What the checks depend on: the ingest time, the accepted span of timestamps, and the
    file's headers."""

    now: datetime
    future_tolerance: timedelta
    mapping: ColumnMapping
    earliest: date = EARLIEST

    @property
    def first(self) -> pd.Timestamp:
        return pd.Timestamp(self.earliest, tz="UTC")

    @property
    def latest(self) -> pd.Timestamp:
        return pd.Timestamp(self.now + self.future_tolerance).tz_convert("UTC")

    def column(self, name: str) -> str:
        return f"'{self.mapping.source_of(name)}'"


@dataclass
class Checked:
    """Accepted rows (typed, with their ``line``) and the rejected rows' positions and why."""

    accepted: pd.DataFrame
    rejected: np.ndarray
    reasons: list[str]
    details: list[str]


def check_contacts(fields: pd.DataFrame, lines: np.ndarray, rules: Rules) -> Checked:
    found = Findings(len(fields))
    _check_email(fields, found, rules, required=True)
    fields["signup_at"] = _check_timestamp(fields, "signup_at", found, rules)
    consent, bad = parse_consent(fields["consent"])
    allowed = ", ".join(sorted(set(CONSENT_VALUES.values())))
    found.add(
        bad,
        "invalid_consent",
        lambda i: (
            f"{rules.column('consent')} must be one of {allowed} (or yes/no), "
            f"got {shown(fields['consent'], i)}"
        ),
    )
    fields["consent"] = consent
    for rate in ("open_rate", "click_rate"):
        fields[rate] = _check_rate(fields, rate, found, rules)
    return _split(fields, lines, found, CONTACT_FIELDS)


def check_events(fields: pd.DataFrame, lines: np.ndarray, rules: Rules) -> Checked:
    found = Findings(len(fields))
    _check_contact(fields, found, rules)
    found.add(
        fields["event"].isna().to_numpy(dtype=bool),
        "missing_event",
        lambda i: f"{rules.column('event')} is empty; every event needs a name",
    )
    fields["timestamp"] = _check_timestamp(fields, "timestamp", found, rules, required=True)
    _check_amounts(fields, ("revenue", "price"), found, rules)
    fields["quantity"] = _check_quantity(fields, found, rules)
    machine, bad = parse_booleans(fields["is_machine_open"])
    found.add(
        bad,
        "invalid_boolean",
        lambda i: (
            f"{rules.column('is_machine_open')} must be true or false, "
            f"got {shown(fields['is_machine_open'], i)}"
        ),
    )
    fields["is_machine_open"] = machine
    return _split(fields, lines, found, EVENT_FIELDS)


def check_orders(fields: pd.DataFrame, lines: np.ndarray, rules: Rules) -> Checked:
    """Orders become ``Order Completed`` events; the order id is their dedupe key."""
    found = Findings(len(fields))
    for name in ("anonymous_id", "price", "campaign_id", "is_machine_open", "bounce_type"):
        fields[name] = None  # not part of an order export
    _check_contact(fields, found, rules)
    fields["timestamp"] = _check_timestamp(fields, "timestamp", found, rules, required=True)
    found.add(
        fields["revenue"].isna().to_numpy(dtype=bool),
        "missing_revenue",
        lambda i: f"{rules.column('revenue')} is empty; every order needs its total",
    )
    _check_amounts(fields, ("revenue",), found, rules)
    fields["quantity"] = _check_quantity(fields, found, rules)
    fields["event"] = ORDER_EVENT
    fields["message_id"] = ("order:" + fields["order_id"]).astype("str")
    return _split(fields, lines, found, EVENT_FIELDS)


def _check_email(fields: pd.DataFrame, found: Findings, rules: Rules, *, required: bool) -> None:
    email = fields["email"]
    missing = email.isna().to_numpy(dtype=bool)
    if required:
        found.add(
            missing,
            "missing_email",
            lambda i: f"{rules.column('email')} is empty; every contact needs an email",
        )
    invalid = ~missing & ~email_is_valid(email)
    found.add(
        invalid,
        "invalid_email",
        lambda i: f"{rules.column('email')} is not a valid email address, got {shown(email, i)}",
    )
    check_email_limits(email, ~missing & ~invalid, found, rules.column("email"))


def _check_contact(fields: pd.DataFrame, found: Findings, rules: Rules) -> None:
    _check_email(fields, found, rules, required=False)
    nobody = (fields["contact_id"].isna() & fields["anonymous_id"].isna()).to_numpy(dtype=bool)
    nobody = nobody & fields["email"].isna().to_numpy(dtype=bool)
    found.add(
        nobody,
        "missing_contact",
        lambda i: (
            f"{rules.column('contact_id')} is empty and the row has no anonymous id or email, "
            f"so it belongs to nobody"
        ),
    )


def _check_timestamp(
    fields: pd.DataFrame, name: str, found: Findings, rules: Rules, *, required: bool = False
) -> pd.Series:
    raw = fields[name]
    parsed, bad = parse_timestamps(raw)
    if required:
        found.add(
            raw.isna().to_numpy(dtype=bool),
            "missing_timestamp",
            lambda i: f"{rules.column(name)} is empty; every row needs a date and time",
        )
    found.add(
        bad,
        "unparseable_timestamp",
        lambda i: (
            f"{rules.column(name)} must be an ISO 8601 date or time such as "
            f"2024-03-05T10:22:11Z, got {shown(raw, i)}"
        ),
    )
    early = (parsed < rules.first).fillna(False).to_numpy(dtype=bool)
    found.add(
        early,
        "timestamp_out_of_range",
        lambda i: (
            f"{rules.column(name)} is {shown(raw, i)}, before {rules.earliest.isoformat()}, the "
            f"earliest date accepted ([ingest] earliest_timestamp in audience.toml)"
        ),
    )
    future = (parsed > rules.latest).fillna(False).to_numpy(dtype=bool)
    hours = rules.future_tolerance.total_seconds() / 3600
    found.add(
        future,
        "future_timestamp",
        lambda i: (
            f"{rules.column(name)} is {parsed.iloc[i].isoformat()}, in the future (later than the "
            f"ingest time {rules.now.isoformat()} plus {hours:g} h)"
        ),
    )
    return parsed


def _check_amounts(
    fields: pd.DataFrame, names: tuple[str, ...], found: Findings, rules: Rules
) -> None:
    for name in names:
        fields[name] = _check_amount(fields[name], rules.column(name), found)


def _check_amount(raw: pd.Series, column: str, found: Findings) -> pd.Series:
    numbers, bad = parse_numbers(raw)
    found.add(bad, "invalid_number", lambda i: f"{column} must be a number, got {shown(raw, i)}")
    _check_bounds(raw, numbers, column, MAX_AMOUNT, found)
    return numbers.where(np.isfinite(numbers))


def _check_bounds(
    raw: pd.Series, numbers: pd.Series, column: str, maximum: float, found: Findings
) -> None:
    """Out of range above ``maximum`` (1e400 parses as infinite, so it is too), or negative."""
    huge = (numbers > maximum).fillna(False).to_numpy(dtype=bool)
    found.add(
        huge,
        "number_out_of_range",
        lambda i: f"{column} must be at most {maximum:,.0f}, got {shown(raw, i)}",
    )
    negative = (numbers < 0).fillna(False).to_numpy(dtype=bool)
    found.add(
        negative,
        "negative_amount",
        lambda i: f"{column} must not be negative, got {shown(raw, i)}",
    )


def _check_quantity(fields: pd.DataFrame, found: Findings, rules: Rules) -> pd.Series:
    raw = fields["quantity"]
    numbers, bad = parse_numbers(raw)
    fractional = (numbers.notna() & (numbers != numbers.round())).to_numpy(dtype=bool)
    found.add(
        bad | fractional,
        "invalid_number",
        lambda i: f"{rules.column('quantity')} must be a whole number, got {shown(raw, i)}",
    )
    _check_bounds(raw, numbers, rules.column("quantity"), MAX_QUANTITY, found)
    # Only values that fit a 64-bit integer are cast (the rows of the others are rejected).
    fits = (numbers.abs() <= MAX_QUANTITY).fillna(False).to_numpy(dtype=bool)
    return numbers.where(fits & ~fractional).round().astype("Int64")


def _check_rate(fields: pd.DataFrame, name: str, found: Findings, rules: Rules) -> pd.Series:
    raw = fields[name]
    numbers, bad = parse_numbers(raw)
    found.add(
        bad,
        "invalid_number",
        lambda i: f"{rules.column(name)} must be a number, got {shown(raw, i)}",
    )
    outside = ((numbers < 0) | (numbers > 1)).fillna(False).to_numpy(dtype=bool)
    found.add(
        outside,
        "rate_out_of_range",
        lambda i: (
            f"{rules.column(name)} must be a fraction between 0 and 1 (45% is 0.45), "
            f"got {shown(raw, i)}"
        ),
    )
    return numbers.where(np.isfinite(numbers))


def _split(fields: pd.DataFrame, lines: np.ndarray, found: Findings, columns: list[str]) -> Checked:
    failed = found.failed
    accepted = fields.loc[~failed, columns].copy()
    accepted.insert(0, "line", lines[~failed])
    rejected = np.flatnonzero(failed)
    return Checked(
        accepted=accepted.reset_index(drop=True),
        rejected=rejected,
        reasons=[str(found.reason[i]) for i in rejected],
        details=[found.detail(int(i)) for i in rejected],
    )
