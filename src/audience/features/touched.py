"""Which contacts a refresh computes again, and which of their features.

Moving from the features stored at ``previous`` to those at ``as_of``, a contact's features
change in one of three ways:

- *by the clock alone*, exactly derivable from the stored row: day counts grow by the
  days between the two dates (``recency_days``, ``days_since_last_open/click``,
  ``tenure_days``) and ``btyd_T`` by the periods between them;
- *from everyone's features*: the RFM scores and group (quintiles over all buyers) and the
  engagement tier, computed again for every contact from the other columns;
- *from its events or its contact row*, which this module finds. Each feature reads
  either email events (:data:`EMAIL_COLUMNS`) or site events (:data:`SITE_COLUMNS`, orders
  among them), never both, so only the kind that changed needs computing again.

:func:`refresh_plan` flags, per contact (``previous`` and ``as_of`` are instants, the
dates their UTC days; an event is *unseen* if the previous features could not see it: a
timestamp after ``previous``, or a row of an ingest committed since):

- ``full``: a contact row inserted or updated since, a contact in scope at ``as_of``
  without a row at ``previous`` (a signup in between), or a row at ``previous`` whose
  contact is gone or out of scope;
- ``email_new`` / ``email_late``: an unseen email event up to ``as_of``, with a timestamp
  after ``previous`` / at or before it (a late event);
- ``site``: an unseen site event up to ``as_of``, or a cart event after
  ``previous - abandon_hours`` (its cart may have been abandoned since);
- ``visits``: a site event on a day ``d`` with ``previous date - w < d <= as_of date - w``
  for a window ``w`` of 7, 30 or 90 days: a visit day that left the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import ibis
import ibis.expr.types as ir

from audience.features.behaviour import VISIT_WINDOWS
from audience.features.calendar import as_of_literal
from audience.features.scope import CART_EVENTS, EMAIL_EVENTS, SITE_EVENTS, contacts_at

EMAIL_COLUMNS = (
    "emails_delivered", "opens_human_unique", "opens_machine_unique", "clicks_unique",
    "open_rate_human", "open_rate_all", "ctr", "ctor", "days_since_last_open",
    "days_since_last_click", "is_bounced", "is_unsubscribed", "is_complained",
)  # fmt: skip
"""Features read from email events (and consent, part of the contact row)."""

VISIT_COLUMNS = tuple(f"visits_{d}d" for d in VISIT_WINDOWS)
"""Site features read from the site events of the last 90 days alone."""

SITE_COLUMNS = (
    "recency_days", "order_count", "revenue_total", "revenue_mean",
    "days_between_orders_mean", "btyd_frequency", "btyd_recency", "btyd_T",
    "btyd_monetary_value", "product_views", "cart_adds", "checkouts_started",
    "abandoned_carts", *VISIT_COLUMNS, "top_category", "top_category_share",
)  # fmt: skip
"""Features read from site events (orders are site events)."""

CONTACT_COLUMNS = ("tenure_days", "country")
"""Features read from the contact row alone."""

RANKED_COLUMNS = ("r_score", "f_score", "m_score", "rfm_group", "engagement_tier")
"""Features read from other features, computed again for every contact."""

FLAGS = ("full", "email_new", "email_late", "site", "visits")


@dataclass(frozen=True)
class Span:
    """The step of a refresh: from the features at ``previous`` to ``as_of``."""

    previous: datetime
    as_of: datetime
    new_ingests: tuple[str, ...]
    """Ingests committed since the features at ``previous`` were computed."""
    abandon_hours: float

    @property
    def cart_window(self) -> timedelta:
        """How long after its last event a cart is abandoned (whole seconds, as defined)."""
        return timedelta(seconds=round(self.abandon_hours * 3600))

    def visit_horizon(self) -> datetime:
        """The first instant of the oldest day the visit windows see at ``as_of``."""
        return _midnight(_day(self.as_of) - timedelta(days=max(VISIT_WINDOWS) - 1))


def refresh_plan(contacts: ir.Table, events: ir.Table, previous: ir.Table, span: Span) -> ir.Table:
    """One row per contact with a change: ``contact_id`` and the :data:`FLAGS`;
    ``previous`` holds the stored feature rows at ``span.previous``."""
    parts = [
        _recent_events(events, span),
        *_leaving_visits(events, span),
        _changed_contacts(contacts, previous, span),
    ]
    if span.new_ingests:
        parts.append(_late_events(events, span))
    changes = ibis.union(*parts)
    return changes.group_by("contact_id").aggregate(**{flag: changes[flag].any() for flag in FLAGS})


# Each scan below filters one time range (or ingest) only: DuckDB then filters while it
# reads, and skips the stored row groups outside the range.
def _recent_events(events: ir.Table, span: Span) -> ir.Table:
    """Events since ``previous``, and cart events whose cart may have closed since."""
    since = as_of_literal(span.previous - span.cart_window)
    known = _known(events)
    recent = known.filter(known.timestamp > since, known.timestamp <= as_of_literal(span.as_of))
    unseen = recent.timestamp > as_of_literal(span.previous)
    return _flagged(
        recent,
        email_new=unseen & recent.event.isin(EMAIL_EVENTS),
        site=(unseen & recent.event.isin(SITE_EVENTS)) | recent.event.isin(CART_EVENTS),
    )


def _leaving_visits(events: ir.Table, span: Span) -> list[ir.Table]:
    """Per visit window w, site events on the days ``d`` with
    ``previous date - w < d <= as_of date - w``: visits on them leave the window."""
    before, after = _day(span.previous), _day(span.as_of)
    parts = []
    for w in VISIT_WINDOWS:
        first, last = before - timedelta(days=w - 1), after - timedelta(days=w)
        if first > last:
            continue
        start, end = _midnight(first), _midnight(last + timedelta(days=1))
        known = _known(events)
        on_days = known.filter(
            known.timestamp >= as_of_literal(start), known.timestamp < as_of_literal(end)
        )
        parts.append(_flagged(on_days, visits=on_days.event.isin(SITE_EVENTS)))
    return parts


def _late_events(events: ir.Table, span: Span) -> ir.Table:
    """Events of ingests committed since, at or before ``previous``."""
    known = _known(events)
    late = known.filter(
        known.ingest_id.isin(span.new_ingests), known.timestamp <= as_of_literal(span.previous)
    )
    return _flagged(
        late, email_late=late.event.isin(EMAIL_EVENTS), site=late.event.isin(SITE_EVENTS)
    )


def _known(events: ir.Table) -> ir.Table:
    return events.filter(events.contact_id.notnull())


def _flagged(t: ir.Table, **flags: ir.BooleanValue) -> ir.Table:
    """``contact_id`` and every flag (false unless given), keeping rows with one set."""
    values = {flag: flags.get(flag, ibis.literal(False)) for flag in FLAGS}
    selected = t.select(contact_id=t.contact_id.cast("string"), **values)
    return selected.filter(ibis.or_(*[selected[flag] for flag in flags]))


def _changed_contacts(contacts: ir.Table, previous: ir.Table, span: Span) -> ir.Table:
    ids = _ids(contacts_at(contacts, span.as_of))
    before = _ids(previous)
    parts = [ids.anti_join(before, "contact_id"), before.anti_join(ids, "contact_id")]
    if span.new_ingests:
        parts.append(_ids(contacts.filter(contacts.ingest_id.isin(span.new_ingests))))
    changed = ibis.union(*parts)
    return _flagged(changed, full=ibis.literal(True))


def _ids(t: ir.Table) -> ir.Table:
    # Typed alike (contacts' ids are NOT NULL, the features' are not): unions need it.
    return t.select(contact_id=t.contact_id.cast("string"))


def _day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)
