"""Stored features carried forward: moved on by the clock, overlaid with what was computed
again, and ranked again.

The refresh plan (:mod:`audience.features.touched`) says, per changed contact, which kinds
of features were computed again (``email``, ``site``, ``visits`` only) or carried forward
by adding the email events since (``merged``, :mod:`audience.features.email_delta`). Each
feature comes from one place:

- the kind computed again, from the recomputed row;
- otherwise the stored row, moved on by the clock (:func:`carried_forward`);
- ``tenure_days`` and ``country``, from the recomputed row when there is one (it read
  the contact row), else the stored one;
- the RFM scores and group and the engagement tier, computed again for every contact
  (:func:`rescored`) with the feature table's own definitions.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir

from audience.config import FeaturesConfig
from audience.features.calendar import Period, as_of_literal, days_between, periods_between
from audience.features.scope import as_of_date
from audience.features.scores import PROSPECTS, rfm_scores
from audience.features.table import FEATURE_COLUMNS, engagement_tier
from audience.features.touched import EMAIL_COLUMNS, SITE_COLUMNS, VISIT_COLUMNS, Span

_SCORES = ("r_score", "f_score", "m_score", "rfm_group")
_DAY_COUNTS = ("recency_days", "days_since_last_open", "days_since_last_click", "tenure_days")


def carried_forward(
    previous: ir.Table, span: Span, period: Period, schema: ibis.Schema
) -> ir.Table:
    """The stored rows at ``span.previous`` as they stand at ``span.as_of`` by the clock
    alone, typed as ``schema`` (the feature table's) so that the two can be combined.

    Every day count is a number of calendar days up to the as_of date, so it grows by the
    days between the two dates; ``btyd_T`` counts periods up to the as_of's period, so it
    grows by the periods between them (a week's periods start on Mondays: exact).
    """
    now, before = as_of_date(span.as_of), as_of_date(span.previous)
    days = days_between(now, before)
    periods = periods_between(now, before, period).cast("float64")
    shifted = previous.mutate(
        **{c: previous[c] + days for c in _DAY_COUNTS}, btyd_T=previous.btyd_T + periods
    )
    return shifted.select(
        contact_id=shifted.contact_id.cast("string"),
        **{c: shifted[c].cast(schema[c]) for c in FEATURE_COLUMNS},
    )


def combined(fresh: ir.Table, merged: ir.Table, carried: ir.Table, plan: ir.Table) -> ir.Table:
    """Every contact's row at ``as_of`` but for the ranked columns (see the module).

    ``plan`` has ``contact_id``, ``full``, ``email``, ``site``, ``visits``, ``merged``;
    ``merged`` holds the email columns of the contacts with ``merged`` set. A contact
    flagged ``full`` without a recomputed row is no longer in scope and is left out, and so
    is one flagged for its events alone that has neither row (it has no contact row).
    """
    was = carried.rename({f"was_{c}": c for c in FEATURE_COLUMNS}).mutate(
        was_stored=ibis.literal(True)
    )
    added = merged.rename({f"added_{c}": c for c in EMAIL_COLUMNS})
    t = (
        plan.left_join(fresh.mutate(recomputed=ibis.literal(True)), "contact_id")
        .drop("contact_id_right")
        .left_join(added, "contact_id")
        .drop("contact_id_right")
        .left_join(was, "contact_id")
        .drop("contact_id_right")
    )
    recomputed = t.recomputed.fill_null(False)

    def column(name: str) -> ir.Value:
        was_value = t[f"was_{name}"]
        if name in EMAIL_COLUMNS:
            return ibis.cases((t.email, t[name]), (t.merged, t[f"added_{name}"]), else_=was_value)
        if name in VISIT_COLUMNS:
            return ibis.ifelse(t.site | t.visits, t[name], was_value)
        if name in SITE_COLUMNS:
            return ibis.ifelse(t.site, t[name], was_value)
        return ibis.ifelse(recomputed, t[name], was_value)

    # Events of contacts without a contact row flag them too: only known contacts stay.
    stored = t.was_stored.fill_null(False)
    touched = t.filter(recomputed | (stored & ~t.full)).select(
        contact_id=t.contact_id.cast("string"), **{c: column(c) for c in FEATURE_COLUMNS}
    )
    return carried.anti_join(plan, "contact_id").union(touched)


def rescored(rows: ir.Table, as_of: datetime, config: FeaturesConfig) -> ir.Table:
    """``rows`` with every contact's RFM scores and group (quintiles over all buyers) and
    engagement tier computed again, as the feature table computes them."""
    buyers = rows.filter(rows.order_count > 0)
    scores = rfm_scores(buyers.select("contact_id", "recency_days", "order_count", "revenue_total"))
    joined = rows.drop(*_SCORES).left_join(scores.select("contact_id", *_SCORES), "contact_id")
    joined = joined.drop("contact_id_right")
    joined = joined.mutate(rfm_group=joined.rfm_group.fill_null(PROSPECTS))
    return joined.mutate(
        engagement_tier=engagement_tier(joined, config), as_of=as_of_literal(as_of)
    ).select("contact_id", "as_of", *FEATURE_COLUMNS)
