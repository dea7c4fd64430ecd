"""What a segmentation run tells the person who ran it: the tree, its names and sizes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from audience.store.alerts import StoredAlert


@dataclass(frozen=True)
class TreeReport:
    """A stored segment tree.

    ``segments`` has one row per node, in tree order: ``segment_id``, ``parent_id``,
    ``name``, ``kind``, ``size``, ``share`` (of every contact with features), ``stage`` and
    ``traits`` (personas; empty for rule nodes with children and for suppressed ones).
    ``branches`` has one row per broad segment: ``branch``, ``contacts``, ``method``,
    ``n_clusters`` and ``note`` (why it was or was not clustered, and what was merged).
    """

    run_id: str
    as_of: datetime
    segments: pd.DataFrame
    branches: pd.DataFrame
    selection: pd.DataFrame
    """Every branch's candidates table, with a ``branch`` column."""
    fidelity: float
    """Share of contacts the surrogate tree puts in their own segment (NaN: no tree)."""
    unassigned: int
    """Contacts in no segment (no broad rule matched and ``fallback`` is unset)."""
    seconds: float = math.nan
    alerts: tuple[StoredAlert, ...] = ()
    """What the run raised against the previous one (:meth:`audience.Workspace.segment`)."""

    @property
    def leaves(self) -> pd.DataFrame:
        parents = set(self.segments["parent_id"].dropna())
        return self.segments[~self.segments["segment_id"].isin(parents)]
