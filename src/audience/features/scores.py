"""RFM scores and the classic named RFM groups: the rules-based baseline segmentation.

Among contacts who ordered, R, F and M are quintile scores 1–5 computed as
``1 + floor(5 × percent_rank)`` capped at 5: ties share a score, so every engine gives
the same answer, and the lowest value always scores 1 and the highest 5 (with
``cume_dist`` a large tie at the bottom, such as everyone with one order, would leave
score 1 empty). R ranks ``recency_days`` descending (the most recent score 5), F ranks
``order_count`` and M ``revenue_total`` ascending. ``FM`` is the mean of F and M rounded
half up. The group is the first rule that matches, in the order of :data:`RFM_GROUPS`; contacts who
never ordered are ``Prospects``.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

PROSPECTS = "Prospects"

# (name, minimum R, maximum R, minimum FM, maximum FM), first match wins.
RFM_GROUPS: tuple[tuple[str, int, int, int, int], ...] = (
    ("Champions", 4, 5, 4, 5),
    ("Loyal", 3, 5, 4, 5),
    ("Potential Loyalist", 4, 5, 2, 3),
    ("New Customers", 4, 5, 1, 1),
    ("Need Attention", 3, 3, 3, 3),
    ("Promising", 3, 3, 1, 2),
    ("Can't Lose Them", 1, 2, 5, 5),
    ("At Risk", 1, 2, 3, 4),
    ("About to Sleep", 2, 2, 1, 2),
    ("Hibernating", 1, 1, 2, 2),
    ("Lost", 1, 1, 1, 1),
)


def rfm_scores(rfm: ir.Table) -> ir.Table:
    """Add ``r_score``, ``f_score``, ``m_score`` and ``rfm_group`` to an RFM table of buyers."""
    scored = rfm.mutate(
        r_score=_quintile(rfm.recency_days.desc()),
        f_score=_quintile(rfm.order_count.asc()),
        m_score=_quintile(rfm.revenue_total.asc()),
    )
    fm = ((scored.f_score + scored.m_score + 1) / 2).floor().cast("int64")
    group = ibis.cases(
        *[
            (scored.r_score.between(r_lo, r_hi) & fm.between(fm_lo, fm_hi), name)
            for name, r_lo, r_hi, fm_lo, fm_hi in RFM_GROUPS
        ],
        else_="Lost",
    )
    return scored.mutate(rfm_group=group)


def _quintile(order: ir.Value) -> ir.IntegerValue:
    share = ibis.percent_rank().over(order_by=order)
    score = (share * 5).floor().cast("int64") + 1
    return ibis.least(score, 5).cast("int64")


def rfm_group_rules() -> dict[str, str]:
    """Each named group with its rule in words, for the stored baseline segmentation."""
    rules = {
        name: f"R {r_lo}–{r_hi} and FM {fm_lo}–{fm_hi} (first matching rule)"
        for name, r_lo, r_hi, fm_lo, fm_hi in RFM_GROUPS
    }
    rules[PROSPECTS] = "no order before as_of"
    return rules
