"""What exists at ``as_of``: the contacts who had signed up, and the events up to it."""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir

from audience.features.calendar import as_of_literal, utc_date

ORDER = "Order Completed"
SITE_EVENTS = ("Page Viewed", "Product Viewed", "Product Added", "Checkout Started", ORDER)
CART_EVENTS = ("Product Added", "Checkout Started")


def contacts_at(contacts: ir.Table, as_of: datetime) -> ir.Table:
    """Contacts who had signed up by ``as_of`` (or whose signup date is unknown)."""
    moment = as_of_literal(as_of)
    return contacts.filter(contacts.signup_at.isnull() | (contacts.signup_at <= moment))


def events_at(events: ir.Table, people: ir.Table, as_of: datetime) -> ir.Table:
    """Events of ``people`` up to and including ``as_of``, with their UTC date.

    Events of contacts who are not (yet) in ``people`` are left out everywhere, so they
    cannot shift anyone's RFM score.
    """
    moment = as_of_literal(as_of)
    kept = events.filter(events.timestamp <= moment).semi_join(people, "contact_id")
    return kept.mutate(day=utc_date(kept.timestamp))


def as_of_date(as_of: datetime) -> ir.DateValue:
    """The UTC calendar date of ``as_of``, as the engines see it."""
    return utc_date(as_of_literal(as_of))


def as_flag(condition: ir.BooleanValue) -> ir.IntegerValue:
    """1 where ``condition`` holds, else 0 (PostgreSQL cannot cast a boolean to bigint)."""
    return ibis.ifelse(condition, 1, 0).cast("int64")
