"""Clustering estimators and guarded automatic model selection (scikit-learn compatible).

Every segmenter numbers its segments 0..k-1 by decreasing size and labels outliers -1::

    from audience.models import AutoSegmenter
    model = AutoSegmenter(methods=("kmeans", "gmm"), k_range=(2, 12)).fit(X)
    model.n_segments_, model.method_, model.selection_
"""

from audience.models.base import NOISE
from audience.models.density import DBSCANSegmenter, HDBSCANSegmenter
from audience.models.hierarchical import HierarchicalSegmenter
from audience.models.kmeans import KMeansSegmenter
from audience.models.kprototypes import KPrototypesSegmenter
from audience.models.mixture import GaussianMixtureSegmenter
from audience.models.registry import METHODS
from audience.models.selection import AutoSegmenter

__all__ = [
    "METHODS",
    "NOISE",
    "AutoSegmenter",
    "DBSCANSegmenter",
    "GaussianMixtureSegmenter",
    "HDBSCANSegmenter",
    "HierarchicalSegmenter",
    "KMeansSegmenter",
    "KPrototypesSegmenter",
]
