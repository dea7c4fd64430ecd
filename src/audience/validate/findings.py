"""Collecting every failure of every row at once, with a message a person can act on."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from audience.errors import quoted


class Findings:
    """Per row: the first failing rule (its reason code) and every failure's message."""

    def __init__(self, rows: int) -> None:
        self.reason = np.full(rows, None, dtype=object)
        self.details: dict[int, list[str]] = {}

    def add(self, mask: np.ndarray, reason: str, describe: Callable[[int], str]) -> None:
        """Record ``reason`` for the rows where ``mask`` holds; ``describe(i)`` says why."""
        for position in np.flatnonzero(mask):
            i = int(position)
            if self.reason[i] is None:
                self.reason[i] = reason
            self.details.setdefault(i, []).append(describe(i))

    @property
    def failed(self) -> np.ndarray:
        return np.array([reason is not None for reason in self.reason], dtype=bool)

    def detail(self, position: int) -> str:
        return "; ".join(self.details[position])


def shown(values: pd.Series, position: int) -> str:
    """A value as it appeared, for a message (a long one cut, so the message stays short)."""
    value = values.iloc[position]
    return "(empty)" if value is None or value is pd.NA else quoted(str(value))
