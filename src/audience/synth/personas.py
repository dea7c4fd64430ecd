"""The planted personas: who the synthetic customers are and how each kind behaves.

A persona is a set of distributions, not a set of fixed values: every contact draws its own
rates from the persona's Beta and Gamma distributions, so contacts of one persona differ and the
tails of neighbouring personas overlap, as real customers do. The parameters are tuned so that
k-means (k = 7) on log-scaled, standardised per-contact features (RFM, e-mail engagement, site
activity, tenure) recovers the personas with an adjusted Rand index of about 0.85 to 0.9:
distinct, yet not trivially separable (discount shoppers whose last promotion order is a while
ago look lapsed, quiet loyal customers look like discount shoppers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audience.synth.names import COUNTRY_CODES

CATEGORIES: tuple[str, ...] = ("apparel", "shoes", "beauty", "home", "electronics", "outdoors")


@dataclass(frozen=True)
class Beta:
    """A Beta distribution given by its mean and concentration (a + b); larger is tighter."""

    mean: float
    concentration: float

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        a = self.mean * self.concentration
        return rng.beta(a, self.concentration - a, size)


@dataclass(frozen=True)
class Gamma:
    """A Gamma distribution given by its mean and shape; a smaller shape means a longer tail."""

    mean: float
    shape: float

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.gamma(self.shape, self.mean / self.shape, size)


@dataclass(frozen=True)
class Persona:
    """One planted kind of customer and the distributions its contacts are drawn from."""

    name: str
    share: float
    """Expected share of the clean contacts."""
    description: str

    signup_days_ago: tuple[float, float]
    """Signup date, uniform between these many days before ``as_of``."""
    active_until_days_ago: tuple[float, float]
    """When buying stops, uniform between these many days before ``as_of``; (0, 0): never."""
    faded_engagement: float
    """Multiplier on sends, opens and visits after activity stopped (lapsed customers drift)."""
    country_tilt: tuple[tuple[str, float], ...]
    """Multipliers on the store's base country mix, for the countries this persona leans to."""

    receive_rate: Beta
    """Per contact: share of eligible newsletters actually sent to the contact (segmented sends)."""
    human_open_rate: Beta
    """Per contact: probability that a delivered newsletter is opened by a person."""
    click_rate: Beta
    """Per contact: probability that a human-opened newsletter gets a click."""
    promo_click_share: float
    """Share of clicks that go to the sale link rather than to editorial links."""
    machine_open_share: float
    """Share of contacts reading in Apple Mail with Privacy Protection (machine opens)."""
    soft_bounce_rate: float
    """Per send: probability of a soft bounce (full mailbox, greylisting)."""
    hard_bounce_share: float
    """Share of contacts whose address hard-bounces once (then no more sends)."""
    unsubscribe_share: float
    """Share of contacts who unsubscribe after one of their newsletters."""
    spam_share: float
    """Share of contacts who mark a newsletter as spam (and are unsubscribed with it)."""

    visits_per_30_days: Gamma
    """Per contact: days with site activity per 30 days while active."""
    views_per_visit: float
    """Mean number of product views in a visit (at least one)."""
    add_to_cart_rate: Beta
    """Per contact: probability that a visit ends with a product added to the cart."""
    checkout_rate: Beta
    """Per contact: probability that a cart proceeds to checkout (1 - cart abandonment)."""
    purchase_rate: Beta
    """Per contact: probability that a started checkout is completed (an order)."""
    price_taste: Beta
    """Per contact: preferred price quantile within a category (0 = cheapest, 1 = dearest)."""
    extra_quantity: float
    """Mean number of extra units per cart line (Poisson, on top of one)."""
    category_weights: tuple[float, ...]
    """Expected preference over ``CATEGORIES``."""
    category_focus: float
    """Dirichlet concentration of a contact's own category preference; smaller = more focused."""


_NO_TILT: tuple[tuple[str, float], ...] = ()

PERSONAS: tuple[Persona, ...] = (
    Persona(
        name="loyal_high_value",
        share=0.10,
        description="Many recent, high-value orders; opens and clicks the newsletter.",
        signup_days_ago=(600.0, 2200.0),
        active_until_days_ago=(0.0, 0.0),
        faded_engagement=1.0,
        country_tilt=(("US", 1.3), ("GB", 1.2), ("CH", 1.5)),
        receive_rate=Beta(0.12, 150.0),
        human_open_rate=Beta(0.42, 40.0),
        click_rate=Beta(0.18, 40.0),
        promo_click_share=0.15,
        machine_open_share=0.45,
        soft_bounce_rate=0.004,
        hard_bounce_share=0.005,
        unsubscribe_share=0.01,
        spam_share=0.0,
        visits_per_30_days=Gamma(1.15, 12.0),
        views_per_visit=1.1,
        add_to_cart_rate=Beta(0.65, 30.0),
        checkout_rate=Beta(0.88, 30.0),
        purchase_rate=Beta(0.92, 25.0),
        price_taste=Beta(0.80, 12.0),
        extra_quantity=0.8,
        category_weights=(0.30, 0.20, 0.15, 0.15, 0.10, 0.10),
        category_focus=4.0,
    ),
    Persona(
        name="discount_occasional",
        share=0.18,
        description="A few low-value orders, mostly after promotions; clicks sale links.",
        signup_days_ago=(550.0, 1800.0),
        active_until_days_ago=(0.0, 0.0),
        faded_engagement=1.0,
        country_tilt=(("DE", 1.2), ("ES", 1.4), ("IT", 1.4)),
        receive_rate=Beta(0.12, 150.0),
        human_open_rate=Beta(0.32, 40.0),
        click_rate=Beta(0.40, 40.0),
        promo_click_share=0.75,
        machine_open_share=0.40,
        soft_bounce_rate=0.006,
        hard_bounce_share=0.01,
        unsubscribe_share=0.05,
        spam_share=0.002,
        visits_per_30_days=Gamma(0.28, 20.0),
        views_per_visit=1.2,
        add_to_cart_rate=Beta(0.85, 30.0),
        checkout_rate=Beta(0.92, 30.0),
        purchase_rate=Beta(0.95, 30.0),
        price_taste=Beta(0.08, 12.0),
        extra_quantity=0.1,
        category_weights=(0.30, 0.15, 0.25, 0.15, 0.05, 0.10),
        category_focus=2.0,
    ),
    Persona(
        name="engaged_reader",
        share=0.14,
        description="Opens and clicks most newsletters, rarely or never buys.",
        signup_days_ago=(450.0, 2000.0),
        active_until_days_ago=(0.0, 0.0),
        faded_engagement=1.0,
        country_tilt=(("GB", 1.3), ("NL", 1.4), ("SE", 1.4)),
        receive_rate=Beta(0.10, 150.0),
        human_open_rate=Beta(0.70, 40.0),
        click_rate=Beta(0.35, 40.0),
        promo_click_share=0.10,
        machine_open_share=0.40,
        soft_bounce_rate=0.004,
        hard_bounce_share=0.005,
        unsubscribe_share=0.01,
        spam_share=0.0,
        visits_per_30_days=Gamma(0.2, 6.0),
        views_per_visit=1.3,
        add_to_cart_rate=Beta(0.05, 30.0),
        checkout_rate=Beta(0.50, 10.0),
        purchase_rate=Beta(0.60, 10.0),
        price_taste=Beta(0.50, 8.0),
        extra_quantity=0.1,
        category_weights=(0.15, 0.10, 0.20, 0.25, 0.15, 0.15),
        category_focus=2.0,
    ),
    Persona(
        name="new_subscriber",
        share=0.12,
        description="Signed up in the last 60 days; few events so far.",
        signup_days_ago=(0.5, 60.0),
        active_until_days_ago=(0.0, 0.0),
        faded_engagement=1.0,
        country_tilt=_NO_TILT,
        receive_rate=Beta(0.80, 150.0),
        human_open_rate=Beta(0.45, 10.0),
        click_rate=Beta(0.15, 10.0),
        promo_click_share=0.40,
        machine_open_share=0.40,
        soft_bounce_rate=0.005,
        hard_bounce_share=0.01,
        unsubscribe_share=0.03,
        spam_share=0.002,
        visits_per_30_days=Gamma(1.2, 4.0),
        views_per_visit=2.0,
        add_to_cart_rate=Beta(0.20, 10.0),
        checkout_rate=Beta(0.60, 10.0),
        purchase_rate=Beta(0.75, 10.0),
        price_taste=Beta(0.45, 8.0),
        extra_quantity=0.2,
        category_weights=(0.25, 0.15, 0.20, 0.15, 0.10, 0.15),
        category_focus=3.0,
    ),
    Persona(
        name="lapsed_buyer",
        share=0.12,
        description="Several orders, the last one 6 to 18 months ago; engagement has faded.",
        signup_days_ago=(800.0, 2000.0),
        active_until_days_ago=(180.0, 540.0),
        faded_engagement=0.15,
        country_tilt=(("US", 1.2), ("CA", 1.4), ("AU", 1.4)),
        receive_rate=Beta(0.12, 150.0),
        human_open_rate=Beta(0.25, 40.0),
        click_rate=Beta(0.12, 40.0),
        promo_click_share=0.35,
        machine_open_share=0.40,
        soft_bounce_rate=0.008,
        hard_bounce_share=0.03,
        unsubscribe_share=0.12,
        spam_share=0.004,
        visits_per_30_days=Gamma(1.2, 12.0),
        views_per_visit=1.4,
        add_to_cart_rate=Beta(0.55, 30.0),
        checkout_rate=Beta(0.80, 30.0),
        purchase_rate=Beta(0.88, 30.0),
        price_taste=Beta(0.62, 10.0),
        extra_quantity=0.4,
        category_weights=(0.20, 0.20, 0.10, 0.20, 0.15, 0.15),
        category_focus=3.0,
    ),
    Persona(
        name="dormant",
        share=0.20,
        description="Old signup, no orders, hardly a human open or click; machine opens may exist.",
        signup_days_ago=(700.0, 2200.0),
        active_until_days_ago=(0.0, 0.0),
        faded_engagement=1.0,
        country_tilt=_NO_TILT,
        receive_rate=Beta(0.05, 150.0),
        human_open_rate=Beta(0.015, 30.0),
        click_rate=Beta(0.05, 30.0),
        promo_click_share=0.30,
        machine_open_share=0.40,
        soft_bounce_rate=0.015,
        hard_bounce_share=0.06,
        unsubscribe_share=0.06,
        spam_share=0.01,
        visits_per_30_days=Gamma(0.01, 2.0),
        views_per_visit=1.3,
        add_to_cart_rate=Beta(0.03, 30.0),
        checkout_rate=Beta(0.30, 10.0),
        purchase_rate=Beta(0.30, 10.0),
        price_taste=Beta(0.40, 8.0),
        extra_quantity=0.1,
        category_weights=(0.20, 0.15, 0.15, 0.20, 0.15, 0.15),
        category_focus=3.0,
    ),
    Persona(
        name="window_shopper",
        share=0.14,
        description="Visits often and fills carts, abandons most of them; few orders.",
        signup_days_ago=(450.0, 1600.0),
        active_until_days_ago=(0.0, 0.0),
        faded_engagement=1.0,
        country_tilt=(("FR", 1.4), ("DE", 1.2), ("NL", 1.2)),
        receive_rate=Beta(0.08, 150.0),
        human_open_rate=Beta(0.15, 40.0),
        click_rate=Beta(0.10, 40.0),
        promo_click_share=0.30,
        machine_open_share=0.40,
        soft_bounce_rate=0.006,
        hard_bounce_share=0.01,
        unsubscribe_share=0.03,
        spam_share=0.002,
        visits_per_30_days=Gamma(1.0, 12.0),
        views_per_visit=1.4,
        add_to_cart_rate=Beta(0.55, 30.0),
        checkout_rate=Beta(0.18, 30.0),
        purchase_rate=Beta(0.45, 30.0),
        price_taste=Beta(0.62, 10.0),
        extra_quantity=0.3,
        category_weights=(0.25, 0.20, 0.10, 0.15, 0.20, 0.10),
        category_focus=2.0,
    ),
)


def persona_names() -> tuple[str, ...]:
    """The persona names in ``PERSONAS`` order (the index is the persona code)."""
    return tuple(persona.name for persona in PERSONAS)


def persona_shares() -> np.ndarray:
    """The persona shares, normalised to sum to one."""
    shares = np.array([persona.share for persona in PERSONAS])
    normalised: np.ndarray = shares / shares.sum()
    return normalised


def country_weights(persona: Persona, base: np.ndarray) -> np.ndarray:
    """The persona's country mix: the store's base mix tilted by the persona, normalised."""
    weights = base.copy()
    for code, factor in persona.country_tilt:
        weights[COUNTRY_CODES.index(code)] *= factor
    normalised: np.ndarray = weights / weights.sum()
    return normalised
