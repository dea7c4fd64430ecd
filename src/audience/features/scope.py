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
    cannot shift anyone's RFM score. ``people`` carries ``contact_key``, a dense integer
    per contact: the events are keyed by it (as ``contact_id``), because grouping tens of
    millions of rows by an integer is several times cheaper than by a string.
    """
    moment = as_of_literal(as_of)
    kept = events.filter(events.timestamp <= moment)
    keys = people.select("contact_key", person="contact_id")
    joined = kept.join(keys, kept.contact_id == keys.person)
    return joined.mutate(contact_id=joined.contact_key, day=utc_date(joined.timestamp))


def with_contact_keys(people: ir.Table) -> ir.Table:
    """``people`` with ``contact_key``: its rank by ``contact_id``, the same on every engine."""
    return people.mutate(contact_key=ibis.row_number().over(order_by=people.contact_id))


def as_of_date(as_of: datetime) -> ir.DateValue:
    """The UTC calendar date of ``as_of``, as the engines see it."""
    return utc_date(as_of_literal(as_of))


def as_flag(condition: ir.BooleanValue) -> ir.IntegerValue:
    """1 where ``condition`` holds, else 0 (PostgreSQL cannot cast a boolean to bigint)."""
    return ibis.ifelse(condition, 1, 0).cast("int64")
