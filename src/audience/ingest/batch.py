"""What every reader yields: rows as a frame, their line numbers, and rows it could not split."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from audience.ingest.mapping import Kind


@dataclass(frozen=True)
class Unreadable:
    """A row that could not be turned into fields (wrong field count, broken JSON)."""

    line: int
    raw: str
    reason: str
    detail: str
    kind: Kind


@dataclass
class RawBatch:
    """Rows of one kind, with columns as the file names them.

    ``lines`` holds each row's line number in the file (its row number for Parquet), so
    that a rejected row can be found again; ``raw(positions)`` renders those rows as the
    file had them, for the quarantine.
    """

    kind: Kind
    frame: pd.DataFrame
    lines: np.ndarray
    raw: Callable[[np.ndarray], list[str]]


@dataclass
class ReadChunk:
    """One chunk of a file: its batches (one per kind present) and its unreadable rows."""

    batches: list[RawBatch] = field(default_factory=list)
    unreadable: list[Unreadable] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(len(batch.frame) for batch in self.batches) + len(self.unreadable)
