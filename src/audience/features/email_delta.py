"""Email features carried forward by adding the events since, where that is exact.

A newsletter send touches most of a list in a day, but each contact only through a few
events of a campaign new to them. Their email features follow exactly from the stored row
and those events alone: :func:`~audience.features.engagement.email_tallies` of two sets of
events without a campaign in common add up, and
:func:`~audience.features.engagement.email_features` turns the sum into the features with
the same definitions as a full run. The stored row holds every tally, or a value it can be
read back from exactly:

- ``emails_delivered``, ``opens_human_unique``, ``opens_machine_unique``,
  ``clicks_unique`` as they are; ``last_open_day`` / ``last_click_day`` as the previous
  date minus ``days_since_last_open`` / ``click``;
- ``hard_bounces``, ``unsubscribes``, ``complaints`` as the flags ``is_bounced``,
  ``is_unsubscribed``, ``is_complained``: only "more than none" is read, and the first two
  also hold the consent, which is unchanged (a contact whose row changed is recomputed);
- ``opens_any_unique`` (campaigns opened at all) is ``h + m`` when one of the human and
  machine counts is 0, else ``round(open_rate_all × emails_delivered)`` when that rate is
  below its cap of 1: a correctly rounded quotient of integers below 2^50 times its
  divisor is within 2^-52 relative of the integer, so rounding gives it back; at the cap,
  only a lower bound is known, which is enough in the case :func:`_add` states;
- ``engaged_unique`` (campaigns opened or clicked) is ``round(clicks_unique / ctor)``
  when there are clicks (``ctor`` is never capped: clicked campaigns are engaged ones),
  else ``opens_any_unique``.

A contact is left to a recomputation from its history when a tally cannot be read back
exactly enough (opens by person and proxy without deliveries, or at the capped rate in
the cases :func:`_add` rules out) or when one of its new opens or clicks is of a campaign
it had opened or clicked before (the campaign counts would not add up).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from audience.features.calendar import as_of_literal
from audience.features.engagement import CLICKED, OPENED, email_features, email_tallies
from audience.features.scope import EMAIL_EVENTS, as_flag, as_observed, as_of_date, is_event
from audience.features.touched import EMAIL_COLUMNS, Span

_OPEN_OR_CLICK = (OPENED, CLICKED)


def email_events_since(events: ir.Table, candidates: ir.Table, span: Span) -> ir.Table:
    """The email events of ``candidates`` (``contact_id``) after ``span.previous`` up to
    ``span.as_of``, as the features read them (``kind``, ``day``, ``hard_bounce``)."""
    at = events.timestamp
    since = events.filter(
        at > as_of_literal(span.previous),
        at <= as_of_literal(span.as_of),
        events.event.isin(EMAIL_EVENTS),
    ).semi_join(candidates, "contact_id")
    return as_observed(since)


def opened_or_clicked(delta: ir.Table) -> ir.Table:
    """The campaigns opened or clicked in ``delta``, one row per contact and campaign."""
    pairs = delta.filter(delta.campaign_id.notnull() & is_event(delta, *_OPEN_OR_CLICK))
    return pairs.select("contact_id", "campaign_id").distinct()


def merged_email(
    events: ir.Table, previous: ir.Table, delta: ir.Table, campaigns: list[str], span: Span
) -> ir.Table:
    """For each contact of ``delta`` (:func:`email_events_since` of contacts whose only
    unseen email events are after ``span.previous``, with a row in ``previous``): ``ok``,
    and where it holds, the :data:`~audience.features.touched.EMAIL_COLUMNS` at
    ``span.as_of``. ``campaigns`` are those of :func:`opened_or_clicked` of ``delta``."""
    stored = _stored_tallies(previous.semi_join(delta, "contact_id"), span)
    merged = _add(stored, email_tallies(delta))
    features = email_features(merged, span.as_of).join(
        merged.select("contact_id", "known"), "contact_id"
    )
    ok = features.known
    if campaigns:
        seen = _campaigns_seen_before(events, opened_or_clicked(delta), campaigns, span)
        ok = ok & ~features.contact_id.isin(seen.contact_id)
    flagged = features.mutate(ok=ok, **_as_stored_flags(features))
    return flagged.select("contact_id", "ok", *EMAIL_COLUMNS)


def _campaigns_seen_before(
    events: ir.Table, pairs: ir.Table, campaigns: list[str], span: Span
) -> ir.Table:
    """Contacts with an open or click since of a campaign they opened or clicked before."""
    before = events.filter(
        # The campaigns as values: DuckDB filters on them while it reads (a join would not).
        events.campaign_id.isin(campaigns),
        events.timestamp <= as_of_literal(span.previous),
        events.event.isin(_OPEN_OR_CLICK),
    )
    return before.semi_join(pairs, ["contact_id", "campaign_id"]).select("contact_id")


def _stored_tallies(previous: ir.Table, span: Span) -> ir.Table:
    """The tallies behind each stored row; ``opens_any_unique`` is null where it cannot
    be read back, and only a lower bound where ``capped`` (``open_rate_all`` at its cap)."""
    p = previous
    delivered, human, machine, clicks = (
        p[c].cast("int64")
        for c in ("emails_delivered", "opens_human_unique", "opens_machine_unique", "clicks_unique")
    )
    capped = (delivered > 0) & (p.open_rate_all >= 1.0)
    from_rate = (p.open_rate_all * delivered.cast("float64")).round().cast("int64")
    opened = ibis.cases(
        ((human == 0) | (machine == 0), human + machine),
        (~capped & (delivered > 0), from_rate),
        (capped, ibis.greatest(human, machine, delivered)),
        else_=ibis.null("int64"),
    )
    engaged = ibis.ifelse(
        clicks > 0, (clicks.cast("float64") / p.ctor).round().cast("int64"), opened
    )
    day = as_of_date(span.previous)
    return p.select(
        "contact_id",
        emails_delivered=delivered,
        last_open_day=_day_before(day, p.days_since_last_open),
        last_click_day=_day_before(day, p.days_since_last_click),
        hard_bounces=p.is_bounced.cast("int64"),
        unsubscribes=p.is_unsubscribed.cast("int64"),
        complaints=p.is_complained.cast("int64"),
        opens_human_unique=human,
        opens_machine_unique=machine,
        opens_any_unique=opened,
        clicks_unique=clicks,
        engaged_unique=engaged,
        capped=capped & (human > 0) & (machine > 0),
    )


def _day_before(day: ir.DateValue, days: ir.IntegerValue) -> ir.DateValue:
    result = (day - days.as_interval("D")).cast("date")
    assert isinstance(result, ir.DateValue)
    return result


_SUMMED = (
    "emails_delivered", "hard_bounces", "unsubscribes", "complaints", "opens_human_unique",
    "opens_machine_unique", "opens_any_unique", "clicks_unique", "engaged_unique",
)  # fmt: skip


def _add(stored: ir.Table, since: ir.Table) -> ir.Table:
    """The tallies of the stored rows plus those of the events since (every candidate has
    some, so each stored row finds its match), with ``known``: whether the sum gives the
    features exactly.

    With ``opens_any_unique`` only a lower bound ``L >= emails_delivered`` (a capped open
    rate), the sum still does when the events since opened at least as many campaigns as
    they delivered: the true count stays at or above the deliveries, and so does
    ``L`` plus the new ones, so the rate is capped either way; and the click-to-open rate
    then needs the exact ``engaged_unique`` (known from clicks) or no click at all (0).
    """
    s = stored.join(since, "contact_id", rname="{name}_since")
    counts = {c: s[c] + s[f"{c}_since"].cast("int64") for c in _SUMMED}
    still_capped = s.opens_any_unique_since >= s.emails_delivered_since
    ctor_exact = (s.clicks_unique > 0) | (counts["clicks_unique"] == 0)
    readable = s.opens_any_unique.notnull() & s.engaged_unique.notnull()
    known = readable & (~s.capped | (still_capped & ctor_exact))
    return s.select(
        "contact_id",
        **counts,
        last_open_day=_later(s.last_open_day, s.last_open_day_since),
        last_click_day=_later(s.last_click_day, s.last_click_day_since),
        known=known,
    )


def _later(a: ir.DateValue, b: ir.DateValue) -> ir.DateValue:
    later = ibis.cases((a.isnull(), b), (b.isnull(), a), (a > b, a), else_=b)
    assert isinstance(later, ir.DateValue)
    return later


def _as_stored_flags(features: ir.Table) -> dict[str, ir.Value]:
    """The stored flags from the tallies' events, as the feature table makes them; the
    consent part is already in the stored flags the tallies start from."""
    return {
        "is_bounced": as_flag(features.bounced_event),
        "is_unsubscribed": as_flag(features.unsubscribed_event),
    }
