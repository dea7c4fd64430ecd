"""Vectorised work on ragged groups: runs of consecutive rows that belong to one owner.

The generator never loops over contacts or events. A contact's newsletters, a visit's product
views, a delivery's opens are each a run of rows; these helpers expand counts into runs and
compute per-run positions and running sums with whole-array numpy operations.
"""

from __future__ import annotations

import numpy as np


def expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For runs of the given lengths: the owner of each row and its position within its run.

    >>> expand(np.array([2, 0, 3]))
    (array([0, 0, 2, 2, 2]), array([0, 1, 0, 1, 2]))
    """
    owner = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    position = np.arange(len(owner)) - starts[owner]
    return owner, position


def run_cumsum(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Running sum of ``values`` restarting at every run (runs laid out by ``counts``).

    >>> run_cumsum(np.array([1, 2, 3, 4]), np.array([1, 3]))
    array([1, 2, 5, 9])
    """
    total = np.cumsum(values)
    ends = np.cumsum(counts)
    before_run = np.concatenate(([0], total))[ends - counts]
    running: np.ndarray = total - np.repeat(before_run, counts)
    return running


def last_of_runs(counts: np.ndarray) -> np.ndarray:
    """Row index of the last row of every run (runs must not be empty)."""
    return np.cumsum(counts) - 1
