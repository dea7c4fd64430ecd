"""Persona names: a deterministic, rule-based name, stage and playbook for every segment.

Input: :class:`~audience.personas.profiles.Profiles`. Output: one :class:`Persona` per
segment, names unique within the call. Each segment's :class:`~audience.personas.signals.Signals`
(z-scores against the audience, KPIs, medians) go through :data:`NAMING_RULES` in order; the
first rule whose condition holds names it:

==  ===========================  ===================================================  =============
#   name                         condition                                            stage
==  ===========================  ===================================================  =============
1   New subscribers              median tenure ≤ 90 days                              awareness
2   Dormant subscribers          < 20% buyers, ≥ 70% silent (no open or click in      at risk /
                                 180 days)                                            lapsed
3   High-value frequent buyers   ≥ 80% buyers, value z ≥ 1, frequency z ≥ 0.75,       advocacy
                                 median recency ≤ 90 days
4   High-value buyers            ≥ 80% buyers, value z ≥ 1, median recency ≤ 90 days  retention
5   Lapsed buyers                ≥ 75% buyers, < 5% ordered in 30 days, median        at risk /
                                 recency ≥ 180 days                                   lapsed
6   At-risk buyers               ≥ 75% buyers, < 10% ordered in 30 days, median       at risk /
                                 recency > 90 days                                    lapsed
7   Window shoppers              browsing z ≥ 0.75, abandoned carts z ≥ 0.75,         consideration
                                 value z < 0.5
8   Engaged readers who rarely   engagement z ≥ 0.75, < 30% buyers                    consideration
    buy
9   Occasional bargain buyers    ≥ 50% buyers, average order ≤ 0.6x the audience's    purchase
10  Repeat buyers                ≥ 80% buyers, frequency z ≥ 0.25                     retention
11  Recent buyers                ≥ 50% buyers, ≥ 30% ordered in the last 30 days      purchase
-   (fallback)                   the two strongest signals with |z| ≥ 0.25, e.g.      by the
                                 "Frequent browsers with low engagement";             strongest
                                 "Typical contacts" when none stands out              signal
==  ===========================  ===================================================  =============

Signals (:mod:`audience.personas.signals`): value = revenue_total and order_count; frequency =
order_count and (negated) days_between_orders_mean; recency = recency_days (high = long ago);
engagement = open_rate_human, ctr, clicks_unique; browsing = product_views, cart_adds,
abandoned_carts, visits_90d; tenure = tenure_days; dormancy = days since the last open and click.
"Buyers" is the share with an order, "silent" the share with no human open and no click in
180 days or ever (:data:`~audience.personas.profiles.KPI_DEFINITIONS`).

The vocabulary is fixed: the best customers are "High-value", silent non-buyers "Dormant",
former buyers "Lapsed" or "At-risk". Segment ids ending in ``suppressed`` or ``outliers``
get the fixed names "Suppressed (not contactable)" and "Outliers".

Names are unique: when several segments get the same name, each gets, in order of size, the
first qualifier of its own that no other segment has taken: its scope (``prospects`` in
``prospects/cluster-02``) when the clashing segments' scopes differ, then its strongest
signals not already in the name ("Lapsed buyers (high spend)"); failing those, a numeral
("Lapsed buyers (2)").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from audience.personas.profiles import Profiles
from audience.personas.signals import Signals, segment_signals, trait_sentences
from audience.segment_ids import OUTLIERS, SUPPRESSED

Stage = Literal[
    "awareness", "consideration", "purchase", "retention", "advocacy", "at risk / lapsed"
]
"""Lifecycle stage of a persona, from first contact to advocacy, or lapsing."""


@dataclass(frozen=True)
class Persona:
    """A segment described for marketers."""

    segment_id: str
    name: str
    """Unique within one :func:`name_segments` call."""
    traits: tuple[str, ...]
    """2 to 4 plain-English sentences, the most telling first."""
    stage: Stage
    messaging: str
    """One sentence: what to say to these contacts."""
    actions: tuple[str, ...]
    """2 or 3 short suggestions."""
    rule: str
    """The key of the :data:`NAMING_RULES` entry that named it, ``fallback``, ``suppressed``
    or ``outliers``."""


@dataclass(frozen=True)
class NamingRule:
    """One row of the naming table."""

    key: str
    name: str
    when: Callable[[Signals], bool]
    """The condition; comparisons with a missing signal are false, so it never matches on
    data the profile lacks."""
    stage: Stage
    messaging: str
    actions: tuple[str, ...]
    uses: tuple[str, ...] = ()
    """Signals the name already states (not used again to disambiguate)."""
    traits: tuple[str, ...] = ()
    """Features or KPIs described first in the persona's traits."""


NAMING_RULES: tuple[NamingRule, ...] = (
    NamingRule(
        "new_subscribers", "New subscribers",
        lambda s: s.tenure_median <= 90,
        "awareness",
        "Welcome them and show what the brand stands for before asking for a sale.",
        ("Send a welcome series", "Offer a first-order incentive", "Ask for their preferences"),
        uses=("tenure",), traits=("tenure_days", "open_rate", "buyer_share"),
    ),
    NamingRule(
        "dormant", "Dormant subscribers",
        lambda s: s.buyer_share < 0.2 and s.silent_share >= 0.7,
        "at risk / lapsed",
        "Send one clear win-back message, then stop mailing those who stay silent.",
        ("Run a re-permission campaign", "Suppress non-responders to protect deliverability",
         "Mail less often"),
        uses=("engagement", "dormancy"), traits=("silent_share", "open_rate", "buyer_share"),
    ),
    NamingRule(
        "high_value_frequent", "High-value frequent buyers",
        lambda s: (
            s.buyer_share >= 0.8 and s.z["value"] >= 1 and s.z["frequency"] >= 0.75
            and s.recency_median <= 90
        ),
        "advocacy",
        "Recognise and reward them with early access and exclusives rather than discounts.",
        ("Invite them to a VIP tier", "Ask for reviews and referrals",
         "Give early access to new products"),
        uses=("value", "frequency"), traits=("order_count", "revenue_total", "recency_days"),
    ),
    NamingRule(
        "high_value", "High-value buyers",
        lambda s: s.buyer_share >= 0.8 and s.z["value"] >= 1 and s.recency_median <= 90,
        "retention",
        "Keep them close with personal recommendations and service, not discounts.",
        ("Recommend premium products", "Invite them to a loyalty programme"),
        uses=("value",), traits=("revenue_total", "order_count", "recency_days"),
    ),
    NamingRule(
        "lapsed", "Lapsed buyers",
        lambda s: (
            s.buyer_share >= 0.75 and s.recent_order_share < 0.05 and s.recency_median >= 180
        ),
        "at risk / lapsed",
        "Remind them what they liked and what is new, with a reason to come back now.",
        ("Send a win-back series with a time-limited offer",
         "Recommend products from their past categories", "Ask why they left"),
        uses=("recency",), traits=("recency_days", "order_count", "open_rate"),
    ),
    NamingRule(
        "at_risk", "At-risk buyers",
        lambda s: s.buyer_share >= 0.75 and s.recent_order_share < 0.1 and s.recency_median > 90,
        "at risk / lapsed",
        "Re-engage them before they lapse with new arrivals and their favourite categories.",
        ("Trigger a 'we miss you' email", "Highlight new arrivals in their top category"),
        uses=("recency",), traits=("recency_days", "order_count", "open_rate"),
    ),
    NamingRule(
        "window_shoppers", "Window shoppers",
        lambda s: s.z["browsing"] >= 0.75 and s.abandon_z >= 0.75 and s.z["value"] < 0.5,
        "consideration",
        "Remove the last hurdle: remind them of their cart and answer their doubts.",
        ("Send abandoned-cart reminders", "Show reviews, delivery and returns terms",
         "Test a free-shipping threshold"),
        uses=("browsing",), traits=("abandoned_carts", "product_views", "order_count"),
    ),
    NamingRule(
        "engaged_readers", "Engaged readers who rarely buy",
        lambda s: s.z["engagement"] >= 0.75 and s.buyer_share < 0.3,
        "consideration",
        "They read every email: turn that attention into a first purchase.",
        ("Add shoppable picks to the content they click", "Offer a first-order incentive",
         "Personalise by the topics they click"),
        uses=("engagement", "value"), traits=("open_rate", "clicks_unique", "buyer_share"),
    ),
    NamingRule(
        "bargain", "Occasional bargain buyers",
        lambda s: s.buyer_share >= 0.5 and s.basket_lift <= 0.6,
        "purchase",
        "They buy on promotion: time the offers well and lead them to full-price favourites.",
        ("Target sales and promotions at them", "Bundle products to raise order value"),
        uses=("value",), traits=("revenue_mean", "order_count", "ctr"),
    ),
    NamingRule(
        "repeat", "Repeat buyers",
        lambda s: s.buyer_share >= 0.8 and s.z["frequency"] >= 0.25,
        "retention",
        "Keep the habit going with timely reminders and loyalty rewards.",
        ("Send replenishment reminders", "Reward their next order with loyalty points"),
        uses=("frequency",), traits=("order_count", "days_between_orders_mean", "recency_days"),
    ),
    NamingRule(
        "recent_buyers", "Recent buyers",
        lambda s: s.buyer_share >= 0.5 and s.recent_order_share >= 0.3,
        "purchase",
        "Follow up their purchase and suggest what goes with it.",
        ("Send a post-purchase cross-sell", "Ask for a review"),
        uses=("recency",), traits=("recent_order_share", "order_count", "recency_days"),
    ),
)  # fmt: skip
"""The naming table (see the module docstring); the first match wins."""


@dataclass(frozen=True)
class _Words:
    noun: str
    phrase: str
    qualifier: str


_SIGNAL_WORDS: dict[tuple[str, bool], _Words] = {
    ("value", True): _Words("Big spenders", "with high spend", "high spend"),
    ("value", False): _Words("Low spenders", "with low spend", "low spend"),
    ("frequency", True): _Words("Frequent buyers", "with many orders", "many orders"),
    ("frequency", False): _Words("Infrequent buyers", "with few orders", "few orders"),
    ("recency", True): _Words("Long-ago buyers", "with old orders", "old orders"),
    ("recency", False): _Words("Recent buyers", "with recent orders", "recent orders"),
    ("engagement", True): _Words("Engaged readers", "with high engagement", "highly engaged"),
    ("engagement", False): _Words("Unengaged subscribers", "with low engagement", "low engagement"),
    ("browsing", True): _Words("Frequent browsers", "with heavy browsing", "heavy browsing"),
    ("browsing", False): _Words("Rare visitors", "with little browsing", "little browsing"),
    ("tenure", True): _Words("Long-standing subscribers", "with long tenure", "long tenure"),
    ("tenure", False): _Words("Newer subscribers", "with short tenure", "short tenure"),
    ("dormancy", True): _Words("Quiet subscribers", "with no recent opens", "no recent opens"),
    ("dormancy", False): _Words("Active readers", "with recent opens", "recent opens"),
}
"""Words for a signal that is high (True) or low (False): a noun for the fallback's first
trait, a phrase for its second, a qualifier for disambiguation."""

_SIGNAL_STAGE: dict[tuple[str, bool], Stage] = {
    ("value", True): "retention", ("value", False): "purchase",
    ("frequency", True): "retention", ("frequency", False): "purchase",
    ("recency", True): "at risk / lapsed", ("recency", False): "purchase",
    ("engagement", True): "consideration", ("engagement", False): "at risk / lapsed",
    ("browsing", True): "consideration", ("browsing", False): "awareness",
    ("tenure", True): "retention", ("tenure", False): "awareness",
    ("dormancy", True): "at risk / lapsed", ("dormancy", False): "consideration",
}  # fmt: skip

_STAGE_PLAYBOOK: dict[Stage, tuple[str, tuple[str, ...]]] = {
    "awareness": (
        "Introduce the brand and learn what they care about.",
        ("Send a welcome or introduction series", "Ask for their preferences"),
    ),
    "consideration": (
        "Help them choose with useful content and social proof.",
        ("Share reviews and guides", "Recommend products they viewed"),
    ),
    "purchase": (
        "Make the next order easy with a relevant, timely offer.",
        ("Send personalised recommendations", "Test a small incentive"),
    ),
    "retention": (
        "Keep them buying with recognition and relevant news.",
        ("Offer loyalty rewards", "Send replenishment and cross-sell emails"),
    ),
    "advocacy": (
        "Turn their loyalty into reviews and referrals.",
        ("Ask for reviews", "Start a referral offer"),
    ),
    "at risk / lapsed": (
        "Win them back with a clear reason to return, or stop mailing them.",
        ("Run a win-back series", "Suppress those who do not respond"),
    ),
}

_MIN_STANDOUT = 0.25
"""A signal names a fallback segment only if its ``|z|`` reaches this."""
_MIN_QUALIFIER = 0.2
"""A signal qualifies a clashing name only if its ``|z|`` reaches this."""


def name_segments(profiles: Profiles) -> dict[str, Persona]:
    """A :class:`Persona` per segment of ``profiles``, in its order (largest first)."""
    drafts = [_draft(profiles, str(segment)) for segment in profiles.segments["segment_id"]]
    names = _unique_names(drafts)
    return {
        d.persona.segment_id: _with_name(d.persona, names[d.persona.segment_id]) for d in drafts
    }


@dataclass(frozen=True)
class _Draft:
    persona: Persona
    signals: Signals
    uses: tuple[str, ...]


def _draft(profiles: Profiles, segment_id: str) -> _Draft:
    signals = segment_signals(profiles, segment_id)
    kind = segment_id.rsplit("/", 1)[-1]
    if kind == SUPPRESSED:
        persona = Persona(
            segment_id, "Suppressed (not contactable)",
            trait_sentences(profiles, signals, ("buyer_share", "revenue_total")),
            "at risk / lapsed",
            "Do not email them: they unsubscribed, bounced or complained.",
            ("Exclude them from every send and export",
             "Reach them on other channels only where consent allows"),
            SUPPRESSED,
        )  # fmt: skip
        return _Draft(persona, signals, ())
    if kind == OUTLIERS:
        persona = Persona(
            segment_id, "Outliers", trait_sentences(profiles, signals, ()),
            _fallback_stage(signals),
            "They fit no segment: look at them before targeting them.",
            ("Inspect a sample for data errors", "Send them the general newsletter"),
            OUTLIERS,
        )  # fmt: skip
        return _Draft(persona, signals, ())
    rule = next((r for r in NAMING_RULES if r.when(signals)), None)
    if rule is None:
        return _fallback(profiles, signals)
    persona = Persona(
        segment_id, rule.name, trait_sentences(profiles, signals, rule.traits), rule.stage,
        rule.messaging, rule.actions, rule.key,
    )  # fmt: skip
    return _Draft(persona, signals, rule.uses)


def _fallback(profiles: Profiles, signals: Signals) -> _Draft:
    standout = [(n, z) for n, z in signals.strongest() if abs(z) >= _MIN_STANDOUT][:2]
    words = [_SIGNAL_WORDS[(n, z > 0)] for n, z in standout]
    name = (
        " ".join([words[0].noun, *(w.phrase for w in words[1:])]) if words else "Typical contacts"
    )
    stage = _fallback_stage(signals)
    messaging, actions = _STAGE_PLAYBOOK[stage]
    first = tuple(f for n, _ in standout for f in _signal_trait_features(n))
    persona = Persona(
        signals.segment_id, name, trait_sentences(profiles, signals, first), stage, messaging,
        actions, "fallback",
    )  # fmt: skip
    return _Draft(persona, signals, tuple(n for n, _ in standout))


def _signal_trait_features(signal: str) -> tuple[str, ...]:
    return {
        "value": ("revenue_total",),
        "frequency": ("order_count",),
        "recency": ("recency_days",),
        "engagement": ("open_rate",),
        "browsing": ("product_views",),
        "tenure": ("tenure_days",),
        "dormancy": ("silent_share",),
    }[signal]


def _fallback_stage(signals: Signals) -> Stage:
    strongest = signals.strongest()
    if not strongest or abs(strongest[0][1]) < _MIN_STANDOUT:
        return "consideration"
    name, z = strongest[0]
    return _SIGNAL_STAGE[(name, z > 0)]


def _unique_names(drafts: list[_Draft]) -> dict[str, str]:
    """Each segment's final name: its draft name, qualified where names clash."""
    by_name: dict[str, list[_Draft]] = {}
    for draft in drafts:
        by_name.setdefault(draft.persona.name, []).append(draft)
    taken: set[str] = {name for name, group in by_name.items() if len(group) == 1}
    names: dict[str, str] = {}
    for base, group in by_name.items():
        if len(group) == 1:
            names[group[0].persona.segment_id] = base
            continue
        scopes = {_scope(d.persona.segment_id) for d in group}
        for draft in group:
            name = next(
                (
                    f"{base} ({q})"
                    for q in _qualifiers(draft, use_scope=len(scopes) > 1)
                    if f"{base} ({q})" not in taken
                ),
                None,
            ) or _numbered(base, taken)
            taken.add(name)
            names[draft.persona.segment_id] = name
    return names


def _qualifiers(draft: _Draft, *, use_scope: bool) -> Iterator[str]:
    scope = _scope(draft.persona.segment_id)
    if use_scope and scope:
        yield scope
    for signal, z in draft.signals.strongest():
        if signal not in draft.uses and abs(z) >= _MIN_QUALIFIER:
            yield _SIGNAL_WORDS[(signal, z > 0)].qualifier


def _numbered(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    n = 2
    while f"{base} ({n})" in taken:
        n += 1
    return f"{base} ({n})"


def _scope(segment_id: str) -> str:
    return segment_id.rsplit("/", 1)[0] if "/" in segment_id else ""


def _with_name(persona: Persona, name: str) -> Persona:
    return Persona(
        persona.segment_id, name, persona.traits, persona.stage, persona.messaging,
        persona.actions, persona.rule,
    )  # fmt: skip
