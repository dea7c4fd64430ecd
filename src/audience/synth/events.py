"""Events as flat numpy columns while generating, and as an Arrow table when written.

Generation works on integer codes (contact position, campaign index, product index) in an
:class:`EventBatch`; :func:`events_table` turns a finished batch into the written schema, looking
strings up in small dictionaries (campaign ids, links, products) and formatting ids and
timestamps with :mod:`audience.synth.fixedwidth`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import IntEnum

import numpy as np
import pyarrow as pa

from audience.synth.calendar import CampaignCalendar
from audience.synth.catalogue import Catalogue
from audience.synth.columns import Column, lookup
from audience.synth.fixedwidth import format_hex64, format_numbers, format_timestamps
from audience.synth.personas import CATEGORIES


class EventKind(IntEnum):
    """Event codes; ``EVENT_NAMES[code]`` is the Segment spec name."""

    DELIVERED = 0
    OPENED = 1
    LINK_CLICKED = 2
    BOUNCED = 3
    UNSUBSCRIBED = 4
    MARKED_AS_SPAM = 5
    PRODUCT_VIEWED = 6
    PRODUCT_ADDED = 7
    CHECKOUT_STARTED = 8
    ORDER_COMPLETED = 9


EVENT_NAMES: tuple[str, ...] = (
    "Email Delivered",
    "Email Opened",
    "Email Link Clicked",
    "Email Bounced",
    "Unsubscribed",
    "Email Marked as Spam",
    "Product Viewed",
    "Product Added",
    "Checkout Started",
    "Order Completed",
)
BOUNCE_TYPES: tuple[str, ...] = ("hard", "soft")
HARD_BOUNCE, SOFT_BOUNCE = 0, 1

_EVENT_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("message_id", pa.string()),
    ("user_id", pa.string()),
    ("event", pa.string()),
    ("timestamp", pa.string()),
    ("campaign_id", pa.string()),
    ("is_machine_open", pa.bool_()),
    ("link_url", pa.string()),
    ("bounce_type", pa.string()),
    ("category", pa.string()),
    ("product_id", pa.string()),
    ("price", pa.float64()),
    ("revenue", pa.float64()),
    ("order_id", pa.string()),
    ("quantity", pa.int64()),
]
EVENT_SCHEMA = pa.schema(_EVENT_COLUMNS)

_EMAIL_KINDS = np.arange(EventKind.DELIVERED, EventKind.MARKED_AS_SPAM + 1)
_PRICED_KINDS = np.array([EventKind.PRODUCT_VIEWED, EventKind.PRODUCT_ADDED])
_REVENUE_KINDS = np.array([EventKind.CHECKOUT_STARTED, EventKind.ORDER_COMPLETED])
_QUANTITY_KINDS = np.array([EventKind.PRODUCT_ADDED, EventKind.ORDER_COMPLETED])


@dataclass(frozen=True)
class EventBatch:
    """Events as parallel arrays; -1 (or 0 for quantity) marks a property that does not apply."""

    contact: np.ndarray
    """Position of the contact in its chunk."""
    time_ms: np.ndarray
    kind: np.ndarray
    campaign: np.ndarray
    link: np.ndarray
    """Index into ``CampaignCalendar.link_urls``."""
    machine_open: np.ndarray
    bounce: np.ndarray
    product: np.ndarray
    """Index into the catalogue; for checkouts and orders it gives category and unit price."""
    quantity: np.ndarray

    @classmethod
    def of(
        cls, kind: EventKind, contact: np.ndarray, time_ms: np.ndarray, **props: np.ndarray
    ) -> EventBatch:
        """Events of one kind; properties not given do not apply."""
        count = len(contact)
        columns: dict[str, np.ndarray] = {
            "contact": contact.astype(np.int32),
            "time_ms": time_ms.astype(np.int64),
            "kind": np.full(count, kind, dtype=np.int8),
            "campaign": np.full(count, -1, dtype=np.int32),
            "link": np.full(count, -1, dtype=np.int32),
            "machine_open": np.full(count, -1, dtype=np.int8),
            "bounce": np.full(count, -1, dtype=np.int8),
            "product": np.full(count, -1, dtype=np.int32),
            "quantity": np.zeros(count, dtype=np.int32),
        }
        for name, values in props.items():
            columns[name] = values.astype(columns[name].dtype)
        return cls(**columns)

    def __len__(self) -> int:
        return len(self.contact)

    def take(self, index: np.ndarray) -> EventBatch:
        return EventBatch(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


def concat_batches(batches: list[EventBatch]) -> EventBatch:
    return EventBatch(
        **{
            f.name: np.concatenate([getattr(b, f.name) for b in batches])
            for f in fields(EventBatch)
        }
    )


def by_contact_and_time(batch: EventBatch, until_ms: int) -> EventBatch:
    """The events at or before ``until_ms``, ordered by contact, then time, then kind."""
    kept = np.flatnonzero(batch.time_ms <= until_ms)
    order = np.lexsort((batch.kind[kept], batch.time_ms[kept], batch.contact[kept]))
    return batch.take(kept[order])


@dataclass(frozen=True)
class TableContext:
    """What :func:`events_table` needs besides the batch: dictionaries and id counters."""

    user_ids: pa.StringArray
    calendar: CampaignCalendar
    catalogue: Catalogue
    first_event_number: int
    """Global number of the batch's first event (message ids are derived from it)."""
    first_order_number: int
    id_key: int
    """Seed-derived 64-bit key mixed into message ids, so that seeds do not share ids."""


def events_table(batch: EventBatch, context: TableContext) -> pa.Table:
    """The batch as a table with ``EVENT_SCHEMA``; order numbers are assigned in row order."""
    kind = batch.kind
    catalogue = context.catalogue
    is_site = ~np.isin(kind, _EMAIL_KINDS)
    priced = np.isin(kind, _PRICED_KINDS)
    with_revenue = np.isin(kind, _REVENUE_KINDS)
    unit_price = catalogue.price[np.maximum(batch.product, 0)]
    numbers = np.arange(len(batch), dtype=np.uint64) + np.uint64(context.first_event_number)
    columns = {
        "message_id": message_ids(numbers, context.id_key),
        "user_id": context.user_ids.take(batch.contact),
        "event": pa.array(EVENT_NAMES).take(kind),
        "timestamp": format_timestamps(batch.time_ms, milliseconds=True),
        "campaign_id": lookup(context.calendar.ids, batch.campaign),
        "is_machine_open": pa.array(batch.machine_open == 1, mask=batch.machine_open < 0),
        "link_url": lookup(context.calendar.link_urls, batch.link),
        "bounce_type": lookup(pa.array(BOUNCE_TYPES), batch.bounce),
        "category": lookup(
            pa.array(CATEGORIES), np.where(is_site, catalogue.category[batch.product], -1)
        ),
        "product_id": lookup(catalogue.product_ids, np.where(priced, batch.product, -1)),
        "price": pa.array(unit_price, mask=~priced),
        "revenue": pa.array(np.round(unit_price * batch.quantity, 2), mask=~with_revenue),
        "order_id": _order_ids(kind == EventKind.ORDER_COMPLETED, context.first_order_number),
        "quantity": pa.array(batch.quantity.astype(np.int64), mask=~np.isin(kind, _QUANTITY_KINDS)),
    }
    return pa.table(columns, schema=EVENT_SCHEMA)


def message_ids(numbers: np.ndarray, key: int) -> pa.StringArray:
    """Unique, random-looking 16-hex-digit ids: a bijective 64-bit mix of distinct numbers."""
    # splitmix64's finaliser is a bijection on 64-bit integers, so distinct numbers give distinct
    # ids; xor with a key is a bijection too.
    mixed = numbers.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    mixed = (mixed ^ (mixed >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    mixed = (mixed ^ (mixed >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    mixed = mixed ^ (mixed >> np.uint64(31))
    return format_hex64(mixed ^ np.uint64(key))


def _order_ids(is_order: np.ndarray, first_number: int) -> Column:
    count = int(is_order.sum())
    numbers = np.arange(first_number, first_number + count)
    ids = format_numbers(numbers, prefix="ord_", digits=10)
    position = np.full(len(is_order), -1)
    position[is_order] = np.arange(count)
    return lookup(ids, position)
