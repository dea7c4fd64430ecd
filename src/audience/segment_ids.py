"""The words segment ids are made of, with one owner each (every step spells them alike).

- ``suppressed`` is the tree's node for contacts that must not be contacted, and
  ``suppressed/<reason>`` its leaves (one per ``[segments.suppress]`` rule);
- ``outliers`` is what a density method leaves out (label -1): ``<branch>/outliers`` in a
  tree, ``outliers`` in a flat run;
- ``cluster-01``, ``cluster-02``… number clusters by decreasing size before they are named
  (``<branch>/cluster-01`` in a tree), two digits or more.
"""

from __future__ import annotations

SUPPRESSED = "suppressed"
OUTLIERS = "outliers"
CLUSTER = "cluster"
"""A tree node's kind for a cluster, and the stem of its provisional id."""


def suppressed_id(reason: str) -> str:
    """``suppressed/<reason>``."""
    return f"{SUPPRESSED}/{reason}"


def is_suppressed_id(segment_id: str) -> bool:
    """Whether ``segment_id`` is the suppressed node or under it."""
    return segment_id == SUPPRESSED or segment_id.startswith(f"{SUPPRESSED}/")


SUPPRESSED_LIKE = f"{SUPPRESSED}/%"
"""``suppressed/…`` as a SQL ``LIKE`` pattern."""


def cluster_ids(n_clusters: int, prefix: str = "") -> list[str]:
    """The ids of labels -1..n-1 (index ``label + 1``): ``outliers``, then ``cluster-01``…
    each after ``prefix`` (``customers/``)."""
    width = max(2, len(str(n_clusters)))
    numbered = [f"{prefix}{CLUSTER}-{label + 1:0{width}d}" for label in range(n_clusters)]
    return [f"{prefix}{OUTLIERS}", *numbered]
