"""The store's product catalogue: products per category, each with a fixed price.

Products are sorted by price within their category, so a contact's price taste (a quantile)
picks cheap or dear products with a simple index, and a product id always carries one price.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from audience.synth.personas import CATEGORIES

PRODUCTS_PER_CATEGORY = 150

# Typical price of a product in each category, in the store's currency.
_TYPICAL_PRICE = {
    "apparel": 45.0,
    "shoes": 85.0,
    "beauty": 28.0,
    "home": 60.0,
    "electronics": 160.0,
    "outdoors": 90.0,
}
_ID_PREFIX = {
    "apparel": "APP",
    "shoes": "SHO",
    "beauty": "BEA",
    "home": "HOM",
    "electronics": "ELE",
    "outdoors": "OUT",
}


@dataclass(frozen=True)
class Catalogue:
    """Product i has category ``category[i]`` and price ``price[i]``; see module docstring."""

    product_ids: pa.StringArray
    category: np.ndarray
    price: np.ndarray

    def product_at(self, category: np.ndarray, price_quantile: np.ndarray) -> np.ndarray:
        """Index of the product at a price quantile (0 = cheapest) of a category."""
        rank = np.minimum(
            (price_quantile * PRODUCTS_PER_CATEGORY).astype(np.int32), PRODUCTS_PER_CATEGORY - 1
        )
        return category.astype(np.int32) * PRODUCTS_PER_CATEGORY + rank


def build_catalogue(rng: np.random.Generator) -> Catalogue:
    """PRODUCTS_PER_CATEGORY products per category, prices log-normal around the typical one."""
    count = len(CATEGORIES) * PRODUCTS_PER_CATEGORY
    numbers = np.sort(rng.choice(np.arange(10_000, 100_000), count, replace=False))
    ids: list[str] = []
    prices: list[np.ndarray] = []
    for position, name in enumerate(CATEGORIES):
        raw = _TYPICAL_PRICE[name] * rng.lognormal(0.0, 0.55, PRODUCTS_PER_CATEGORY)
        # Shop prices end in .99 (4.99, 129.99).
        prices.append(np.sort(np.maximum(np.round(raw), 5.0) - 0.01))
        first = position * PRODUCTS_PER_CATEGORY
        chosen = numbers[first : first + PRODUCTS_PER_CATEGORY]
        ids.extend(f"{_ID_PREFIX[name]}-{number}" for number in chosen)
    category = np.repeat(np.arange(len(CATEGORIES), dtype=np.int8), PRODUCTS_PER_CATEGORY)
    return Catalogue(product_ids=pa.array(ids), category=category, price=np.concatenate(prices))
