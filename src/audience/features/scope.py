"""What exists at ``as_of``: the contacts who had signed up, and the events up to it."""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir

from audience.features.calendar import as_of_literal, utc_date

ORDER = "Order Completed"
SITE_EVENTS = ("Page Viewed", "Product Viewed", "Product Added", "Checkout Started", ORDER)
CART_EVENTS = ("Product Added", "Checkout Started")
EMAIL_EVENTS = (
    "Email Delivered", "Email Opened", "Email Link Clicked", "Email Bounced", "Unsubscribed",
    "Email Marked as Spam",
)  # fmt: skip
EVENT_KINDS = (*EMAIL_EVENTS, *SITE_EVENTS)
"""The events any feature reads. In scope, each is its position here (``kind``), not its name:
a one-byte code filters and groups tens of millions of rows several times faster than a
string, and keeps the materialised events small enough not to spill to disk."""


READ_COLUMNS = (
    "contact_id", "event", "timestamp", "revenue", "category", "campaign_id",
    "is_machine_open", "bounce_type",
)  # fmt: skip
"""The columns of ``events`` that any feature reads."""


def contacts_at(contacts: ir.Table, as_of: datetime) -> ir.Table:
    """Contacts who had signed up by ``as_of`` (or whose signup date is unknown)."""
    moment = as_of_literal(as_of)
    return contacts.filter(contacts.signup_at.isnull() | (contacts.signup_at <= moment))


def events_at(events: ir.Table, people: ir.Table, as_of: datetime) -> ir.Table:
    """Events of ``people`` up to and including ``as_of``, with their UTC date and ``kind``.

    Only events named in :data:`EVENT_KINDS` are kept (no feature reads the others), and
    the name becomes ``kind``, its position in that tuple: filter with :func:`is_event`.
    ``hard_bounce`` replaces ``bounce_type`` (only its hard / soft distinction is used).

    Events of contacts who are not (yet) in ``people`` are left out everywhere, so they
    cannot shift anyone's RFM score. ``people`` carries ``contact_key``, a dense integer
    per contact: the events are keyed by it (as ``contact_id``), because grouping tens of
    millions of rows by an integer is several times cheaper than by a string.
    """
    moment = as_of_literal(as_of)
    kept = events.filter((events.timestamp <= moment) & events.event.isin(EVENT_KINDS))
    keys = people.select("contact_key", person="contact_id")
    joined = kept.join(keys, kept.contact_id == keys.person)
    return as_observed(joined.mutate(contact_id=joined.contact_key))


def as_observed(events: ir.Table) -> ir.Table:
    """Events (of known kinds) with what every feature reads: ``day``, ``kind``,
    ``hard_bounce``."""
    return events.mutate(
        day=utc_date(events.timestamp),
        kind=kind_of(events.event),
        # DOMAIN.md: a bounce without a type counts as hard.
        hard_bounce=events.bounce_type.lower().fill_null("hard") == "hard",
    )


def kind_of(event: ir.StringValue) -> ir.IntegerValue:
    """The position of ``event`` in :data:`EVENT_KINDS` (the caller keeps only known events)."""
    codes = [(event == name, code) for code, name in enumerate(EVENT_KINDS)]
    return ibis.cases(*codes, else_=-1).cast("int8")


def is_event(events: ir.Table, *names: str) -> ir.BooleanValue:
    """Whether each row of ``events`` (in scope, with ``kind``) is one of the named events."""
    codes = [EVENT_KINDS.index(name) for name in names]
    return events.kind == codes[0] if len(codes) == 1 else events.kind.isin(codes)


def with_contact_keys(people: ir.Table) -> ir.Table:
    """``people`` with ``contact_key``: its rank by ``contact_id``, the same on every engine."""
    return people.mutate(contact_key=ibis.row_number().over(order_by=people.contact_id))


def as_of_date(as_of: datetime) -> ir.DateValue:
    """The UTC calendar date of ``as_of``, as the engines see it."""
    return utc_date(as_of_literal(as_of))


def as_flag(condition: ir.BooleanValue) -> ir.IntegerValue:
    """1 where ``condition`` holds, else 0 (PostgreSQL cannot cast a boolean to bigint)."""
    return ibis.ifelse(condition, 1, 0).cast("int64")
