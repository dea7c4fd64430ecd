"""Per-contact traits: each contact's persona, dates and own behavioural rates.

A chunk of contacts is drawn persona by persona (a loop over the seven personas, vectorised
within each), so all later steps work on flat arrays indexed by the contact's position in the
chunk.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import IntEnum

import numpy as np

from audience.synth.fixedwidth import DAY_MS
from audience.synth.names import BASE_COUNTRY_WEIGHTS, COUNTRY_CODES
from audience.synth.personas import PERSONAS, Persona, country_weights, persona_shares


class ListExit(IntEnum):
    """How a contact leaves the mailing list, if it does."""

    STAYS = 0
    UNSUBSCRIBES = 1
    MARKS_AS_SPAM = 2  # the platform unsubscribes complainers at once
    HARD_BOUNCES = 3


@dataclass(frozen=True)
class Population:
    """Traits of the contacts of one chunk; every array has one element per contact."""

    persona: np.ndarray
    country: np.ndarray
    signup_ms: np.ndarray
    active_end_ms: np.ndarray
    """End of buying (``as_of`` unless the persona lapses)."""
    fade: np.ndarray
    """Multiplier on sends, opens and visits after ``active_end_ms``."""
    receive_rate: np.ndarray
    human_open_rate: np.ndarray
    click_rate: np.ndarray
    promo_click_share: np.ndarray
    machine_opener: np.ndarray
    soft_bounce_rate: np.ndarray
    list_exit: np.ndarray
    exit_position: np.ndarray
    """Where among its newsletters the exit happens, as a fraction in [0, 1)."""
    visits_per_day: np.ndarray
    extra_views_per_visit: np.ndarray
    add_to_cart_rate: np.ndarray
    checkout_rate: np.ndarray
    purchase_rate: np.ndarray
    price_taste: np.ndarray
    extra_quantity: np.ndarray
    category_cumulative: np.ndarray
    """Shape (contacts, categories): cumulative category preference, last column 1."""

    @property
    def size(self) -> int:
        return len(self.persona)


def draw_population(rng: np.random.Generator, size: int, as_of_ms: int) -> Population:
    """Draw ``size`` contacts: a persona each (by share), then traits from that persona."""
    persona = rng.choice(len(PERSONAS), size=size, p=persona_shares()).astype(np.int8)
    columns = _empty_columns(size, as_of_ms)
    for code, spec in enumerate(PERSONAS):
        members = np.flatnonzero(persona == code)
        for name, values in _draw_traits(rng, spec, len(members), as_of_ms).items():
            columns[name][members] = values
    return Population(persona=persona, **columns)


def _empty_columns(size: int, as_of_ms: int) -> dict[str, np.ndarray]:
    columns: dict[str, np.ndarray] = {}
    for field in fields(Population):
        if field.name == "persona":
            continue
        if field.name == "category_cumulative":
            columns[field.name] = np.ones((size, len(PERSONAS[0].category_weights)))
        else:
            columns[field.name] = np.zeros(size, dtype=_DTYPES.get(field.name, np.float64))
    columns["active_end_ms"][:] = as_of_ms
    return columns


_DTYPES: dict[str, type] = {
    "country": np.int16,
    "signup_ms": np.int64,
    "active_end_ms": np.int64,
    "machine_opener": np.bool_,
    "list_exit": np.int8,
}


def _draw_traits(
    rng: np.random.Generator, spec: Persona, count: int, as_of_ms: int
) -> dict[str, np.ndarray]:
    base_countries = np.array(BASE_COUNTRY_WEIGHTS)
    exit_weights = (spec.unsubscribe_share, spec.spam_share, spec.hard_bounce_share)
    exit_probabilities = (1.0 - sum(exit_weights), *exit_weights)
    return {
        "country": rng.choice(len(COUNTRY_CODES), count, p=country_weights(spec, base_countries)),
        # Whole seconds, as the contacts file states them.
        "signup_ms": _days_before(rng, as_of_ms, spec.signup_days_ago, count) // 1000 * 1000,
        "active_end_ms": _days_before(rng, as_of_ms, spec.active_until_days_ago, count),
        "fade": np.full(count, spec.faded_engagement),
        "receive_rate": spec.receive_rate.draw(rng, count),
        "human_open_rate": spec.human_open_rate.draw(rng, count),
        "click_rate": spec.click_rate.draw(rng, count),
        "promo_click_share": np.full(count, spec.promo_click_share),
        "machine_opener": rng.random(count) < spec.machine_open_share,
        "soft_bounce_rate": np.full(count, spec.soft_bounce_rate),
        "list_exit": rng.choice(len(ListExit), count, p=exit_probabilities),
        "exit_position": rng.random(count),
        "visits_per_day": spec.visits_per_30_days.draw(rng, count) / 30.0,
        "extra_views_per_visit": np.full(count, spec.views_per_visit - 1.0),
        "add_to_cart_rate": spec.add_to_cart_rate.draw(rng, count),
        "checkout_rate": spec.checkout_rate.draw(rng, count),
        "purchase_rate": spec.purchase_rate.draw(rng, count),
        # Kept off the extremes so per-view Beta draws around it stay well defined.
        "price_taste": np.clip(spec.price_taste.draw(rng, count), 0.02, 0.98),
        "extra_quantity": np.full(count, spec.extra_quantity),
        "category_cumulative": np.cumsum(_category_preferences(rng, spec, count), axis=1),
    }


def _days_before(
    rng: np.random.Generator, as_of_ms: int, days_ago: tuple[float, float], count: int
) -> np.ndarray:
    low, high = days_ago
    offset_ms = rng.uniform(low, high, count) * DAY_MS
    return as_of_ms - offset_ms.astype(np.int64)


def _category_preferences(rng: np.random.Generator, spec: Persona, count: int) -> np.ndarray:
    weights = np.array(spec.category_weights)
    alpha = weights / weights.sum() * spec.category_focus
    preferences = rng.dirichlet(alpha, count)
    preferences[:, -1] = 1.0 - preferences[:, :-1].sum(axis=1)  # exact 1 at the end
    return preferences
