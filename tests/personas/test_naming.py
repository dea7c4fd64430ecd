"""Persona names: the planted personas get the documented vocabulary; names are unique and
deterministic whatever the segments look like.

Vocabulary checked (see ``audience.personas.naming``): the best customers are "high-value"
(or "loyal"/"VIP"), silent non-buyers "dormant" (or "inactive"), former buyers "lapsed" (or
"at risk")."""

from __future__ import annotations

import typing

import numpy as np
import pandas as pd
import pytest

from audience.personas import (
    NAMING_RULES,
    Persona,
    Profiles,
    Stage,
    name_segments,
    profile_segments,
)
from tests.models.audiences import Segmented
from tests.personas.conftest import majority_persona, segment_of

STAGES = set(typing.get_args(Stage))
HIGH_VALUE_WORDS = ("high-value", "loyal", "vip")
DORMANT_WORDS = ("dormant", "inactive")
LAPSED_WORDS = ("lapsed", "at risk", "at-risk")


def says(name: str, words: tuple[str, ...]) -> bool:
    return any(word in name.lower() for word in words)


def check_persona(persona: Persona) -> None:
    assert persona.name
    assert 2 <= len(persona.traits) <= 4
    assert all(isinstance(t, str) and t for t in persona.traits)
    assert persona.stage in STAGES
    assert persona.messaging
    assert 2 <= len(persona.actions) <= 3


@pytest.mark.slow
def test_planted_personas_get_the_documented_names(
    planted: Segmented, planted_profiles: Profiles
) -> None:
    personas = name_segments(planted_profiles)
    names = {p.segment_id: p.name for p in personas.values()}
    assert says(names[segment_of(planted, "loyal_high_value")], HIGH_VALUE_WORDS), names
    assert says(names[segment_of(planted, "dormant")], DORMANT_WORDS), names
    assert says(names[segment_of(planted, "lapsed_buyer")], LAPSED_WORDS), names
    assert personas[segment_of(planted, "dormant")].stage == "at risk / lapsed"
    # Only segments whose majority is these personas get those words.
    for segment, name in names.items():
        if says(name, HIGH_VALUE_WORDS):
            assert majority_persona(planted, segment) == "loyal_high_value"
        if says(name, DORMANT_WORDS):
            assert majority_persona(planted, segment) == "dormant"


@pytest.mark.slow
def test_planted_personas_names_are_unique_complete_and_deterministic(
    planted: Segmented, planted_profiles: Profiles
) -> None:
    personas = name_segments(planted_profiles)
    assert list(personas) == list(planted_profiles.segments["segment_id"])
    names = [p.name for p in personas.values()]
    assert len(set(names)) == len(names)
    for persona in personas.values():
        check_persona(persona)
    again = name_segments(profile_segments(planted.features, planted.segments))
    assert again == personas


def contacts(n: int, rng: np.random.Generator, **columns: float) -> pd.DataFrame:
    """``n`` contacts around the given means (±10%); unspecified columns get defaults."""
    base = {
        "recency_days": 20.0, "order_count": 2.0, "revenue_total": 100.0, "revenue_mean": 50.0,
        "days_between_orders_mean": 90.0, "emails_delivered": 20.0, "opens_human_unique": 5.0,
        "opens_machine_unique": 2.0, "clicks_unique": 1.0, "open_rate_human": 0.25,
        "ctr": 0.05, "days_since_last_open": 20.0, "days_since_last_click": 40.0,
        "product_views": 5.0, "cart_adds": 1.0, "abandoned_carts": 0.5, "visits_30d": 1.0,
        "visits_90d": 3.0, "tenure_days": 900.0,
    }  # fmt: skip
    base.update(columns)
    return pd.DataFrame(
        {name: mean * rng.uniform(0.9, 1.1, n) for name, mean in base.items()}
    ).round({"order_count": 0})


def test_near_identical_segments_get_different_names() -> None:
    rng = np.random.default_rng(0)
    lapsed = {"recency_days": 400.0, "order_count": 5.0, "revenue_total": 600.0}
    frame = pd.concat(
        [
            contacts(20, rng, **lapsed),
            contacts(20, rng, **lapsed),
            contacts(20, rng, tenure_days=20.0, order_count=0.0, recency_days=float("nan")),
            contacts(20, rng),
        ],
        ignore_index=True,
    )
    ids = ["cluster-01"] * 20 + ["cluster-02"] * 20 + ["cluster-03"] * 20 + ["cluster-04"] * 20
    personas = name_segments(profile_segments(frame, ids))
    first, second = personas["cluster-01"].name, personas["cluster-02"].name
    assert first != second
    assert says(first, LAPSED_WORDS)
    assert says(second, LAPSED_WORDS)
    assert personas["cluster-01"].rule == personas["cluster-02"].rule == "lapsed"
    # Told apart by a trait ("Lapsed buyers (high spend)"), not by a numeral.
    assert not any(name.endswith(tail) for name in (first, second) for tail in ("(2)", "(3)"))
    assert "New subscribers" in personas["cluster-03"].name


def test_identical_segments_still_get_unique_names() -> None:
    frame = contacts(10, np.random.default_rng(1))
    frame = pd.concat([frame, frame, frame], ignore_index=True)
    personas = name_segments(profile_segments(frame, ["x"] * 10 + ["y"] * 10 + ["z"] * 10))
    names = [p.name for p in personas.values()]
    assert len(set(names)) == 3


def test_fixed_names_for_suppressed_and_outliers() -> None:
    frame = contacts(30, np.random.default_rng(2))
    ids = ["suppressed"] * 10 + ["customers/outliers"] * 5 + ["prospects/outliers"] * 5
    personas = name_segments(profile_segments(frame, ids + ["cluster-01"] * 10))
    assert personas["suppressed"].name == "Suppressed (not contactable)"
    assert personas["customers/outliers"].name.startswith("Outliers")
    assert personas["prospects/outliers"].name.startswith("Outliers")
    assert personas["customers/outliers"].name != personas["prospects/outliers"].name
    for persona in personas.values():
        check_persona(persona)


def test_fallback_composes_a_name_from_the_two_strongest_signals() -> None:
    rng = np.random.default_rng(3)
    # Heavy browsing without abandoned carts, few opens, 40% buyers: no rule fits.
    browsers = contacts(20, rng, product_views=60.0, visits_90d=20.0, cart_adds=3.0)
    browsers["open_rate_human"] = 0.02
    browsers["opens_human_unique"] = 0.4
    browsers["clicks_unique"] = 0.0
    browsers["ctr"] = 0.0
    browsers.loc[8:, ["order_count", "revenue_total"]] = 0.0
    frame = pd.concat([browsers, contacts(40, rng)], ignore_index=True)
    personas = name_segments(profile_segments(frame, ["b"] * 20 + ["rest"] * 40))
    assert personas["b"].rule == "fallback"
    # The strongest two: browsing up, engagement down, in either order.
    name = personas["b"].name.lower()
    assert name in (
        "frequent browsers with low engagement",
        "unengaged subscribers with heavy browsing",
    )
    check_persona(personas["b"])


def test_degenerate_segments_get_personas() -> None:
    frame = contacts(3, np.random.default_rng(4))
    frame["recency_days"] = float("nan")
    frame["days_since_last_open"] = float("nan")
    personas = name_segments(profile_segments(frame, ["one", "two", "two"]))
    assert len({p.name for p in personas.values()}) == 2
    for persona in personas.values():
        check_persona(persona)
    empty = frame.map(lambda _: float("nan"))
    personas = name_segments(profile_segments(empty, ["one", "two", "two"]))
    # No orders, no emails, no site events: nothing to call them dormant by (issue 13.6).
    assert "Dormant" not in personas["two"].name
    assert len({p.name for p in personas.values()}) == 2


def test_an_orders_only_audience_is_named_by_orders_alone() -> None:
    """Issue 13.6: without email or site events, silence and (order-day) visits say nothing,
    so no name or trait speaks of opens, clicks or browsing."""
    rng = np.random.default_rng(6)
    lapsed = contacts(20, rng, recency_days=400.0, order_count=5.0)
    prospects = contacts(20, rng, order_count=0.0, revenue_total=0.0, recency_days=np.nan)
    frame = pd.concat([lapsed, prospects, contacts(20, rng)], ignore_index=True)
    email = ["emails_delivered", "opens_human_unique", "opens_machine_unique", "clicks_unique"]
    frame[[*email, "product_views", "cart_adds", "abandoned_carts", "ctr"]] = 0.0
    frame[["open_rate_human", "days_since_last_open", "days_since_last_click"]] = np.nan
    frame["visits_90d"] = frame["order_count"].clip(upper=3)  # order days count as visits
    profiles = profile_segments(frame, ["lapsed"] * 20 + ["prospects"] * 20 + ["rest"] * 20)
    assert profiles.behaviours == {"orders"}
    personas = name_segments(profiles)
    assert "Dormant" not in personas["prospects"].name
    assert "Lapsed" in personas["lapsed"].name
    words = " ".join(text for p in personas.values() for text in (p.name, *p.traits)).lower()
    assert not [w for w in ("brows", "visit", "email", "open", "click", "read") if w in words]


def test_the_table_keys_are_unique_and_stages_valid() -> None:
    keys = [rule.key for rule in NAMING_RULES]
    assert len(set(keys)) == len(keys)
    assert {rule.stage for rule in NAMING_RULES} <= STAGES
