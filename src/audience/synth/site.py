"""Store events: product views, cart adds, checkouts and orders, grouped in visits.

Model, per contact: visits (days with site activity) arrive at the contact's own rate while it
is active, and at a faded rate afterwards (lapsed customers still browse now and then, but no
longer buy). A visit views one or more products from the contact's preferred categories and
price range; it may end with the last viewed product in the cart, the cart may go to checkout
and the checkout may complete as an order. Abandonment is a per-contact trait.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audience.synth.calendar import HISTORY_DAYS
from audience.synth.catalogue import Catalogue
from audience.synth.events import EventBatch, EventKind, concat_batches
from audience.synth.fixedwidth import DAY_MS
from audience.synth.population import Population
from audience.synth.ragged import expand, last_of_runs, run_cumsum

_SECOND = 1000
_MINUTE = 60 * _SECOND
_PRICE_TASTE_CONCENTRATION = 8.0
"""How tightly a contact's product prices cluster around its taste (Beta concentration)."""


@dataclass(frozen=True)
class _Visits:
    """One element per visit, grouped by visitor."""

    visitor: np.ndarray
    start_ms: np.ndarray
    can_buy: np.ndarray
    """False for the browsing-only visits after a contact's activity ended."""
    closing: np.ndarray
    """The visit whose order ends a lapsing contact's buying: it always converts."""


def site_events(
    rng: np.random.Generator, population: Population, catalogue: Catalogue, as_of_ms: int
) -> EventBatch:
    """All store events of a chunk's contacts (not yet cut at ``as_of``)."""
    visits = _visits(rng, population, as_of_ms)
    visitor = visits.visitor
    views_per_visit = 1 + rng.poisson(population.extra_views_per_visit[visitor])
    visit, position = expand(views_per_visit)
    view_gap = np.where(position == 0, 0, 20 * _SECOND + rng.exponential(_MINUTE, len(visit)))
    view_ms = visits.start_ms[visit] + run_cumsum(view_gap.astype(np.int64), views_per_visit)
    viewer = visitor[visit]
    product = catalogue.product_at(
        _preferred_category(rng, population.category_cumulative[viewer]),
        _price_quantile(rng, population.price_taste[viewer]),
    )
    viewed = EventBatch.of(EventKind.PRODUCT_VIEWED, viewer, view_ms, product=product)

    # A cart holds the last product viewed in the visit.
    last_view = last_of_runs(views_per_visit)
    adds = rng.random(len(visitor)) < population.add_to_cart_rate[visitor]
    added = visits.closing | (visits.can_buy & adds)
    cart_view = last_view[added]
    shopper = visitor[added]
    cart = _Cart(
        shopper=shopper,
        viewed_ms=view_ms[cart_view],
        product=product[cart_view],
        quantity=1 + rng.poisson(population.extra_quantity[shopper]),
        closing=visits.closing[added],
    )
    return concat_batches([viewed, *_funnel(rng, population, cart)])


def _visits(rng: np.random.Generator, population: Population, as_of_ms: int) -> _Visits:
    start = np.maximum(population.signup_ms, as_of_ms - HISTORY_DAYS * DAY_MS)
    active_end = np.clip(population.active_end_ms, start, as_of_ms)
    ended = active_end < as_of_ms
    rate = population.visits_per_day
    active = rng.poisson(rate * (active_end - start) / DAY_MS)
    # A contact whose buying ended has bought at least once: its last active visit.
    active = np.where(ended, np.maximum(active, 1), active)
    faded = rng.poisson(rate * population.fade * (as_of_ms - active_end) / DAY_MS)
    visitor, position = expand(active + faded)
    can_buy = position < active[visitor]
    low = np.where(can_buy, start[visitor], active_end[visitor])
    high = np.where(can_buy, active_end[visitor], as_of_ms)
    # Shoppers keep a rough rhythm: visit i of n falls in the i-th of n equal slices of the
    # period (a jittered grid), rather than anywhere at random.
    slot = np.where(can_buy, position, position - active[visitor])
    slots = np.where(can_buy, active[visitor], faded[visitor])
    where_in_period = (slot + rng.random(len(visitor))) / slots
    start_ms = low + (where_in_period * (high - low)).astype(np.int64)
    # The last order of a lapsing contact is what marks the end of its activity.
    closing = ended[visitor] & (position == active[visitor] - 1)
    before_end = (rng.random(len(visitor)) * 2 * DAY_MS).astype(np.int64)
    start_ms = np.where(closing, high - before_end, start_ms)
    return _Visits(visitor=visitor, start_ms=start_ms, can_buy=can_buy, closing=closing)


def _preferred_category(rng: np.random.Generator, cumulative: np.ndarray) -> np.ndarray:
    draws = rng.random(len(cumulative))
    category: np.ndarray = (draws[:, None] > cumulative[:, :-1]).sum(axis=1)
    return category


def _price_quantile(rng: np.random.Generator, taste: np.ndarray) -> np.ndarray:
    a = taste * _PRICE_TASTE_CONCENTRATION
    return rng.beta(a, _PRICE_TASTE_CONCENTRATION - a)


@dataclass(frozen=True)
class _Cart:
    """One element per cart add."""

    shopper: np.ndarray
    viewed_ms: np.ndarray
    product: np.ndarray
    quantity: np.ndarray
    closing: np.ndarray


def _funnel(rng: np.random.Generator, population: Population, cart: _Cart) -> list[EventBatch]:
    """Cart adds, and the checkouts and orders some of them lead to."""
    count = len(cart.shopper)
    added_ms = cart.viewed_ms + 10 * _SECOND + _delays(rng, 40 * _SECOND, count)
    checkout_ms = added_ms + 30 * _SECOND + _delays(rng, 3 * _MINUTE, count)
    order_ms = checkout_ms + 20 * _SECOND + _delays(rng, 2 * _MINUTE, count)
    checks_out = rng.random(count) < population.checkout_rate[cart.shopper]
    pays = rng.random(count) < population.purchase_rate[cart.shopper]
    to_checkout = cart.closing | checks_out
    completes = cart.closing | (checks_out & pays)
    return [
        _cart_events(EventKind.PRODUCT_ADDED, cart, added_ms, np.ones(count, dtype=bool)),
        _cart_events(EventKind.CHECKOUT_STARTED, cart, checkout_ms, to_checkout),
        _cart_events(EventKind.ORDER_COMPLETED, cart, order_ms, completes),
    ]


def _cart_events(
    kind: EventKind, cart: _Cart, time_ms: np.ndarray, happened: np.ndarray
) -> EventBatch:
    return EventBatch.of(
        kind,
        cart.shopper[happened],
        time_ms[happened],
        product=cart.product[happened],
        quantity=cart.quantity[happened],
    )


def _delays(rng: np.random.Generator, mean_ms: float, count: int) -> np.ndarray:
    """Exponential waiting times in whole milliseconds."""
    return rng.exponential(mean_ms, count).astype(np.int64)
