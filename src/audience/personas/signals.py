"""Interpretable signals of one segment, read from its profile, and their plain-English traits.

A *signal* is a few profile numbers a marketer would name: value, frequency, recency,
engagement, browsing, tenure, dormancy. Relative signals are z-scores (segment mean minus
audience mean, in audience standard deviations; a signal of several features is the mean of
their z-scores, missing ones skipped); absolute ones are KPIs (buyer share, open rate) and
medians in days. A signal whose features are all absent is missing (``nan``), and every
comparison with a missing signal is false, so a rule never matches on data it lacks. So is
one of a kind of behaviour the data does not hold at all (no email or site events: see
:data:`~audience.personas.profiles.BEHAVIOUR_EVIDENCE`), whose z and KPIs the profiles leave
missing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from audience.personas.profiles import Profiles

NAN = float("nan")

SIGNAL_FEATURES: Mapping[str, tuple[str, ...]] = {
    "value": ("revenue_total", "order_count"),
    "frequency": ("order_count", "days_between_orders_mean"),
    "recency": ("recency_days",),
    "engagement": ("open_rate_human", "ctr", "clicks_unique"),
    "browsing": ("product_views", "cart_adds", "abandoned_carts", "visits_90d"),
    "tenure": ("tenure_days",),
    "dormancy": ("days_since_last_open", "days_since_last_click"),
}
"""The features behind each relative signal. ``days_between_orders_mean`` counts against
frequency (long gaps = infrequent); every other feature counts as it is."""

_NEGATED = frozenset({"days_between_orders_mean"})
_MIN_PRESENT = 0.5
"""A feature describes a segment only if at least this share of its rows has a value."""


@dataclass(frozen=True)
class Signals:
    """The signals of one segment (see the module docstring)."""

    segment_id: str
    size: int
    buyer_share: float
    recent_order_share: float
    open_rate: float
    silent_share: float
    """Share of contacts with no human open and no click in 180 days (or ever)."""
    z: Mapping[str, float]
    """Relative signal → z-score, for every key of :data:`SIGNAL_FEATURES`."""
    recency_median: float
    """Median days since the last order, over the segment's buyers."""
    tenure_median: float
    basket_lift: float
    """Lift of ``revenue_mean`` (average order value)."""
    abandon_z: float
    """z-score of ``abandoned_carts``."""

    def strongest(self) -> list[tuple[str, float]]:
        """Relative signals with a value, by decreasing ``|z|`` (ties in declaration order)."""
        known = [(name, z) for name, z in self.z.items() if not math.isnan(z)]
        return sorted(known, key=lambda item: -abs(item[1]))


_Stats = Mapping[str, Mapping[str, float]]
"""Feature → its profile numbers (:meth:`Profiles.stats`)."""


def segment_signals(profiles: Profiles, segment_id: str) -> Signals:
    """The signals of ``segment_id`` in ``profiles``."""
    stats = profiles.stats(segment_id)
    kpis = profiles.kpis(segment_id)
    z = {name: _signal_z(stats, features) for name, features in SIGNAL_FEATURES.items()}
    if not kpis["buyer_share"] >= _MIN_PRESENT:
        # Most contacts never bought: "recency" and "frequency" describe a few outliers.
        z["recency"] = z["frequency"] = NAN
    return Signals(
        segment_id=segment_id,
        size=int(kpis["size"]),
        buyer_share=kpis["buyer_share"],
        recent_order_share=kpis["recent_order_share"],
        open_rate=kpis["open_rate"],
        silent_share=kpis["silent_share"],
        z=z,
        recency_median=_stat(stats, "recency_days", "median"),
        tenure_median=_stat(stats, "tenure_days", "median"),
        basket_lift=_stat(stats, "revenue_mean", "lift"),
        abandon_z=_stat(stats, "abandoned_carts", "z"),
    )


def _stat(stats: _Stats, feature: str, stat: str, min_present: float = 0.0) -> float:
    """One number of a feature's profile; missing when the feature is absent or fewer than
    ``min_present`` of the segment's rows (and at least one) have a value."""
    row = stats.get(feature)
    if row is None or not row["present"] > 0 or not row["present"] >= min_present:
        return NAN
    return row[stat]


def _signal_z(stats: _Stats, features: tuple[str, ...]) -> float:
    values = [_stat(stats, f, "z", _MIN_PRESENT) * (-1 if f in _NEGATED else 1) for f in features]
    known = [v for v in values if not math.isnan(v)]
    return float(np.mean(known)) if known else NAN


# --- Traits: one plain-English sentence per feature or KPI -------------------------------------


def _times(lift: float) -> str:
    if not np.isfinite(lift):
        return ""
    return " (under 0.1x the audience)" if lift < 0.05 else f" ({lift:.1f}x the audience)"


_Sentence = Callable[[Mapping[str, float]], str]

_FEATURE_SENTENCES: Mapping[str, _Sentence] = {
    "order_count": lambda r: f"Bought {r['mean']:.1f} times on average{_times(r['lift'])}",
    "revenue_total": lambda r: f"Spent {r['mean']:,.0f} on average{_times(r['lift'])}",
    "revenue_mean": lambda r: f"Average order of {r['mean']:,.0f}{_times(r['lift'])}",
    "days_between_orders_mean": lambda r: (
        f"{r['mean']:.0f} days between orders on average (audience {r['population_mean']:.0f})"
    ),
    "recency_days": lambda r: f"Last order {r['mean']:.0f} days ago on average",
    "emails_delivered": lambda r: f"Received {r['mean']:.1f} emails on average",
    "opens_human_unique": lambda r: f"Opened {r['mean']:.1f} emails on average{_times(r['lift'])}",
    "clicks_unique": lambda r: f"Clicked {r['mean']:.1f} emails on average{_times(r['lift'])}",
    "days_since_last_open": lambda r: f"Last opened an email {r['mean']:.0f} days ago on average",
    "days_since_last_click": lambda r: f"Last clicked {r['mean']:.0f} days ago on average",
    "product_views": lambda r: f"Viewed {r['mean']:.1f} products on average{_times(r['lift'])}",
    "cart_adds": lambda r: f"Added to cart {r['mean']:.1f} times on average{_times(r['lift'])}",
    "abandoned_carts": lambda r: f"Abandoned {r['mean']:.1f} carts on average{_times(r['lift'])}",
    "visits_30d": lambda r: f"Visited on {r['mean']:.1f} days of the last 30 on average",
    "visits_90d": lambda r: f"Visited on {r['mean']:.1f} days of the last 90 on average",
    "tenure_days": lambda r: f"Subscribed {r['median']:.0f} days ago (median)",
}


def feature_sentence(feature: str, row: Mapping[str, float]) -> str | None:
    """The trait sentence of a feature's profile numbers, or ``None`` for a feature without
    a template or without a value."""
    sentence = _FEATURE_SENTENCES.get(feature)
    if sentence is None or not np.isfinite(row["mean"]) or not row["present"] > 0:
        return None
    return sentence(row)


KPI_TRAITS = ("open_rate", "ctr", "buyer_share", "recent_order_share", "silent_share")
"""The KPIs :func:`kpi_sentence` describes."""

_AS_KPI = {"open_rate_human": "open_rate", "ctr": "ctr"}
"""Features whose trait is told by the KPI instead (a rate of sums, per DOMAIN.md)."""

_KPI_TEXT: Mapping[str, tuple[str, str]] = {
    "open_rate": ("Opened {} of emails", ".0%"),
    "ctr": ("Clicked {} of emails", ".1%"),
    "buyer_share": ("{} have ordered at least once", ".0%"),
    "recent_order_share": ("{} ordered in the last 30 days", ".0%"),
    "silent_share": ("{} have not opened or clicked in 180 days", ".0%"),
}
"""Per KPI: the sentence and the format of its value."""


def kpi_sentence(name: str, profiles: Profiles, segment_id: str) -> str | None:
    """The trait sentence of a KPI (one of :data:`KPI_TRAITS`), or ``None`` when missing."""
    value = profiles.kpis(segment_id)[name]
    if math.isnan(value):
        return None
    template, spec = _KPI_TEXT[name]
    base = profiles.population.get(name, NAN)
    audience = f" (audience {base:{spec}})" if np.isfinite(base) else ""
    return template.format(f"{value:{spec}}") + audience


def trait_sentences(
    profiles: Profiles, signals: Signals, first: tuple[str, ...], limit: int = 4
) -> tuple[str, ...]:
    """2 to ``limit`` sentences: those of ``first`` (feature or KPI names, in order), then the
    features that stand out most (largest ``|z|``), then buyer share and open rate; the
    segment's size when fewer than two could be said."""
    stats = profiles.stats(signals.segment_id)
    standout = sorted(
        (f for f in stats if not math.isnan(_stat(stats, f, "z", _MIN_PRESENT))),
        key=lambda f: -abs(stats[f]["z"]),
    )
    sentences: list[str] = []
    for name in [_AS_KPI.get(n, n) for n in [*first, *standout, "buyer_share", "open_rate"]]:
        if len(sentences) >= limit:
            break
        if name in KPI_TRAITS:
            text = kpi_sentence(name, profiles, signals.segment_id)
        else:
            text = feature_sentence(name, stats[name]) if name in stats else None
        if text is not None and text not in sentences:
            sentences.append(text)
    if len(sentences) < 2:
        total = profiles.population["size"]
        share = f" ({signals.size / total:.0%} of the audience)" if total else ""
        sentences.append(f"{signals.size:,} contacts{share}")
    return tuple(sentences)
