"""The clustering methods by name, as ``audience.toml`` and ``--method`` spell them."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, get_args

from audience.config import ClusterMethod as Method

METHODS: tuple[str, ...] = get_args(Method)
PER_K = frozenset({"kmeans", "gmm", "hierarchical", "kprototypes"})
"""Methods told the number of segments; DBSCAN and HDBSCAN find it themselves."""

# Imported on use: the CLI starts faster, and each module stays independent of the others.
_CLASSES = {
    "kmeans": "audience.models.kmeans:KMeansSegmenter",
    "gmm": "audience.models.mixture:GaussianMixtureSegmenter",
    "hierarchical": "audience.models.hierarchical:HierarchicalSegmenter",
    "dbscan": "audience.models.density:DBSCANSegmenter",
    "hdbscan": "audience.models.density:HDBSCANSegmenter",
    "kprototypes": "audience.models.kprototypes:KPrototypesSegmenter",
}


def make_segmenter(
    method: str, n_clusters: int | None, params: Mapping[str, Any], random_state: int | None
) -> Any:
    """An unfitted segmenter of ``method`` with ``params`` (from ``[models.<method>]``)."""
    if method not in _CLASSES:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    module, name = _CLASSES[method].split(":")
    cls = getattr(importlib.import_module(module), name)
    arguments = dict(params)
    if n_clusters is not None:
        arguments["n_clusters"] = n_clusters
    return cls(random_state=random_state, **arguments)
