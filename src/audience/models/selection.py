"""Automatic model selection: sweep methods and k, reject what fails a guard, pick by rule.

:class:`AutoSegmenter` is itself a scikit-learn estimator. ``fit(X)``:

1. **Sample.** Candidates are fitted on a seeded sample of at most ``sample_size`` rows
   (all rows when fewer); silhouettes use one fixed sub-sample of ``silhouette_sample``
   rows whose distance matrix is computed once, so every candidate is scored on the same
   rows and exact silhouette never runs on more than a few thousand points.
2. **Sweep.** For each method in ``methods``: every k in ``k_range`` (hierarchical: one
   tree cut at each k; DBSCAN/HDBSCAN: a single candidate with the number of segments they
   find). Each candidate gets: segments found, smallest segment share, noise share,
   silhouette (sampled), centroid silhouette, Calinski–Harabasz, Davies–Bouldin,
   within-segment sum of squares (inertia, from labels, so every method has one), BIC for
   mixtures, and the elbow (Kneedle knee of inertia over k) of its method.
3. **Guards.** A candidate is rejected, with the reason in ``selection_``, when it has
   fewer than two segments, more than ``max_noise_share`` of rows as noise, a segment
   under ``min_segment_share`` of rows, or — computed only for the candidates still in
   contention, since it costs refits — stability (mean adjusted Rand index against refits
   on ``n_subsamples`` random halves of the sample) under ``min_stability``.
4. **Rule.** Let s* be the best silhouette among stable candidates. The contenders are the
   stable candidates within ``tolerance`` of s*. Silhouette is known to favour too few
   segments (it rewards merging neighbouring groups), so among the contenders the rule
   takes the **most segments**, but not beyond one past its method's elbow when any
   contender is within it. Ties go to the higher silhouette, then the order of
   ``methods``, then fewer segments. Calinski–Harabasz and Davies–Bouldin are reported
   for the reader, not used: both drift with k on heavy-tailed data.
5. **Final fit** of the chosen method and k on every row, warm-started from the sample's
   centres where the method has centres (k-means, mixtures) so it converges in a few
   iterations even on millions of rows.

Everything is deterministic for a ``random_state``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from numbers import Integral, Real
from typing import Any, Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin, clone  # type: ignore[import-untyped]
from sklearn.utils._available_if import available_if  # type: ignore[import-untyped]
from sklearn.utils.validation import check_is_fitted, validate_data  # type: ignore[import-untyped]

from audience.errors import SegmentationError
from audience.models.base import NOISE, Labels, Matrix
from audience.models.registry import METHODS, PER_K, make_segmenter
from audience.models.scores import (
    PairwiseSample,
    centers_of,
    knee,
    separation_scores,
    simplified_silhouette,
    stability,
    within_sum_of_squares,
)
from audience.progress import StepProgress

"""``progress(step, done, total)``: called as the sweep advances."""

SELECTION_COLUMNS = (
    "method", "k", "n_segments", "smallest_share", "noise_share", "silhouette",
    "centroid_silhouette", "calinski_harabasz", "davies_bouldin", "inertia", "bic",
    "stability", "elbow", "status", "reason",
)  # fmt: skip


@dataclass
class Candidate:
    """One fitted (method, k) on the sample, its scores and the verdict."""

    method: str
    k: int | None
    estimator: Any = field(repr=False)
    labels: Labels = field(repr=False)
    n_segments: int = 0
    smallest_share: float = math.nan
    noise_share: float = 0.0
    silhouette: float = math.nan
    centroid_silhouette: float = math.nan
    calinski_harabasz: float = math.nan
    davies_bouldin: float = math.nan
    inertia: float = math.nan
    bic: float = math.nan
    stability: float = math.nan
    elbow: int | None = None
    status: str = "candidate"
    reason: str = ""

    def reject(self, reason: str) -> None:
        self.status, self.reason = "rejected", reason

    def row(self) -> dict[str, Any]:
        values = asdict(self)
        return {name: values[name] for name in SELECTION_COLUMNS}


class AutoSegmenter(ClusterMixin, BaseEstimator):  # type: ignore[misc]
    """Choose the clustering method and number of segments, then fit it to every row.

    Parameters
    ----------
    methods : sequence of str
        Methods to sweep, in order of preference for ties: ``kmeans``, ``gmm``,
        ``hierarchical``, ``dbscan``, ``hdbscan``, ``kprototypes``.
    k_range : (int, int)
        Smallest and largest number of segments tried (inclusive).
    min_segment_share : float
        Smallest share of rows a segment may hold.
    max_noise_share : float
        Largest share of rows a density method may leave as noise (-1).
    min_stability : float
        Smallest mean adjusted Rand index between the candidate and subsample refits.
    tolerance : float
        Silhouette within which candidates count as equally good.
    sample_size, silhouette_sample : int
        Rows the sweep fits on; rows the silhouette is computed on.
    n_subsamples : int
        Refits per stability estimate (each on half the sample).
    method_params : mapping of str to mapping
        Extra parameters per method, e.g. ``{"gmm": {"covariance_type": "full"}}``.
    enforce_guards : bool
        With False, a candidate failing a guard may still be chosen (used when the user fixes
        the method and k); the reasons stay in ``selection_``.
    progress : callable, optional
        ``progress(step, done, total)``.

    Attributes
    ----------
    labels_, n_segments_, method_, k_ : the chosen segmentation of the training rows.
    selection_ : pandas.DataFrame
        Every candidate, its scores, ``status`` (chosen / rejected / not chosen) and ``reason``.
    estimator_ : the chosen segmenter fitted on every row.
    """

    def __init__(
        self,
        methods: Sequence[str] = ("kmeans", "gmm"),
        k_range: tuple[int, int] = (2, 12),
        min_segment_share: float = 0.01,
        *,
        max_noise_share: float = 0.2,
        min_stability: float = 0.75,
        tolerance: float = 0.01,
        sample_size: int = 10_000,
        silhouette_sample: int = 4_000,
        n_subsamples: int = 3,
        method_params: Mapping[str, Mapping[str, Any]] | None = None,
        enforce_guards: bool = True,
        progress: StepProgress | None = None,
        random_state: int | None = 0,
    ) -> None:
        self.methods = methods
        self.k_range = k_range
        self.min_segment_share = min_segment_share
        self.max_noise_share = max_noise_share
        self.min_stability = min_stability
        self.tolerance = tolerance
        self.sample_size = sample_size
        self.silhouette_sample = silhouette_sample
        self.n_subsamples = n_subsamples
        self.method_params = method_params
        self.enforce_guards = enforce_guards
        self.progress = progress
        self.random_state = random_state

    # --- estimator API ---------------------------------------------------------------------

    def fit(self, X: Any, y: Any = None) -> Self:
        self._check_params()
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        rng = np.random.default_rng(self.random_state)
        sample = self._sample(X, rng)
        pairs = PairwiseSample(sample.shape[0], self.silhouette_sample, rng)
        candidates = self._sweep(sample, pairs)
        chosen = self._choose(candidates, sample, rng)
        self.selection_ = pd.DataFrame(
            [c.row() for c in candidates], columns=list(SELECTION_COLUMNS)
        )
        self.method_ = chosen.method
        self.k_ = chosen.n_segments
        self._report("final fit", 0, 1)
        self.estimator_ = self._final_fit(chosen, sample, X)
        self._report("final fit", 1, 1)
        self.labels_ = np.asarray(self.estimator_.labels_, dtype=np.int64)
        self.n_segments_ = int(np.unique(self.labels_[self.labels_ != NOISE]).size)
        return self

    def predict(self, X: Any) -> Labels:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return np.asarray(self.estimator_.predict(X), dtype=np.int64)

    def _has_proba(self) -> bool:
        check_is_fitted(self)
        return hasattr(self.estimator_, "predict_proba")

    @available_if(_has_proba)  # type: ignore[untyped-decorator]
    def predict_proba(self, X: Any) -> Matrix:
        """Segment probabilities, when the chosen method is a mixture."""
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return np.asarray(self.estimator_.predict_proba(X), dtype=np.float64)

    # --- steps -----------------------------------------------------------------------------

    def _check_params(self) -> None:
        unknown = [m for m in self.methods if m not in METHODS]
        if not self.methods or unknown:
            raise ValueError(
                f"methods must be a non-empty list of {', '.join(METHODS)}; "
                f"got {list(self.methods)}"
            )
        low, high = self.k_range
        if not (isinstance(low, Integral) and isinstance(high, Integral) and 2 <= low <= high):
            raise ValueError(f"k_range must be two integers 2 <= low <= high, got {self.k_range}")
        for name in ("min_segment_share", "max_noise_share", "tolerance"):
            value = getattr(self, name)
            if not isinstance(value, Real) or not 0 <= value < 1:
                raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
        if not isinstance(self.min_stability, Real) or not -1 <= self.min_stability <= 1:
            raise ValueError(f"min_stability must be in [-1, 1], got {self.min_stability!r}")

    def _sample(self, X: Matrix, rng: np.random.Generator) -> Matrix:
        if X.shape[0] <= self.sample_size:
            return X
        rows: Matrix = X[np.sort(rng.choice(X.shape[0], size=self.sample_size, replace=False))]
        return rows

    def _params(self, method: str) -> dict[str, Any]:
        return dict((self.method_params or {}).get(method, {}))

    def _ks(self, n_rows: int) -> list[int]:
        low, high = self.k_range
        return [k for k in range(low, high + 1) if k < n_rows] or [min(low, n_rows)]

    def _sweep(self, sample: Matrix, pairs: PairwiseSample) -> list[Candidate]:
        ks = self._ks(sample.shape[0])
        fitted: list[tuple[str, int | None, Any]] = []
        steps = sum(len(ks) if m in PER_K else 1 for m in self.methods)
        for method in self.methods:
            kmeans_centers = {k: e.cluster_centers_ for m, k, e in fitted if m == "kmeans"}
            for k, estimator in self._fits(method, ks, sample, kmeans_centers):
                fitted.append((method, k, estimator))
                self._report("sweep", len(fitted), steps)
        # All silhouettes in one pass over the sample's distance matrix (see silhouettes).
        silhouettes = pairs.silhouettes(sample, [_labels_of(e) for _, _, e in fitted])
        candidates = [
            score_candidate(m, k, e, sample, pairs, silhouette=s)
            for (m, k, e), s in zip(fitted, silhouettes, strict=True)
        ]
        for method in self.methods:
            mine = [c for c in candidates if c.method == method and c.k is not None]
            elbow = knee([c.n_segments for c in mine], [c.inertia for c in mine])
            for c in mine:
                c.elbow = elbow
        return candidates

    def _fits(
        self, method: str, ks: list[int], sample: Matrix, kmeans_centers: dict[int | None, Matrix]
    ) -> Any:
        """Fitted (k, estimator) pairs of ``method`` on the sample. A mixture starts from the
        k-means centres at the same k when the sweep has them (what it would otherwise
        compute itself), which halves its cost."""
        params = self._params(method)
        if method not in PER_K:
            yield None, make_segmenter(method, None, params, self.random_state).fit(sample)
        elif method == "hierarchical":
            tree = make_segmenter(method, max(ks), params, self.random_state).fit(sample)
            for k in ks:
                yield k, tree.recut(k)
        else:
            for k in ks:
                estimator = make_segmenter(method, k, params, self.random_state)
                if method == "gmm" and k in kmeans_centers and "means_init" not in params:
                    estimator.set_params(means_init=kmeans_centers[k])
                yield k, estimator.fit(sample)

    def _choose(
        self, candidates: list[Candidate], sample: Matrix, rng: np.random.Generator
    ) -> Candidate:
        for c in candidates:
            self._guard(c)
        alive = [c for c in candidates if c.status == "candidate" or not self.enforce_guards]
        order = {m: i for i, m in enumerate(self.methods)}
        alive.sort(key=lambda c: (-_or(c.silhouette, -2), order[c.method], c.n_segments))
        best = self._first_stable(alive, sample, rng)
        if best is None:
            raise SegmentationError(_nothing_passed(candidates))
        floor = _or(best.silhouette, -2) - self.tolerance
        contenders = []
        for c in alive:
            if c.status == "rejected" and self.enforce_guards:
                continue
            if _or(c.silhouette, -2) < floor:
                c.status = "not chosen"
                c.reason = (
                    f"silhouette {c.silhouette:.3f} < best {best.silhouette:.3f} - {self.tolerance}"
                )
                continue
            self._check_stability(c, sample, rng)
            if c.status != "rejected" or not self.enforce_guards:
                contenders.append(c)
        chosen = _most_segments_within_elbow(contenders, order)
        for c in contenders:
            if c is not chosen and c.status != "rejected":
                c.status, c.reason = "not chosen", _why_not(c, chosen)
        chosen.reason = (
            f"most segments within {self.tolerance} of the best silhouette, stable"
            if chosen.status != "rejected"
            else f"as requested, despite: {chosen.reason}"
        )
        chosen.status = "chosen"
        return chosen

    def _guard(self, c: Candidate) -> None:
        if c.n_segments < 2:
            c.reject("one segment")
        elif c.noise_share > self.max_noise_share:
            c.reject(f"noise {c.noise_share:.0%} > {self.max_noise_share:.0%}")
        elif c.smallest_share < self.min_segment_share:
            c.reject(f"a segment of {c.smallest_share:.1%} < {self.min_segment_share:.1%}")

    def _first_stable(
        self, alive: list[Candidate], sample: Matrix, rng: np.random.Generator
    ) -> Candidate | None:
        for c in alive:
            self._check_stability(c, sample, rng)
            if c.status != "rejected" or not self.enforce_guards:
                return c
        return None

    def _check_stability(self, c: Candidate, sample: Matrix, rng: np.random.Generator) -> None:
        if not math.isnan(c.stability):
            return
        self._report(f"stability of {c.method} k={c.n_segments}", 0, 1)
        c.stability = stability(
            sample,
            c.labels,
            lambda rows: _unseeded(c.estimator).fit(rows).predict(sample),
            n_subsamples=self.n_subsamples,
            fraction=0.5,
            rng=rng,
        )
        if c.stability < self.min_stability and c.status != "rejected":
            c.reject(f"unstable: ARI {c.stability:.2f} < {self.min_stability:.2f} on refits")

    def _final_fit(self, chosen: Candidate, sample: Matrix, X: Matrix) -> Any:
        if sample.shape[0] == X.shape[0]:
            return chosen.estimator
        estimator = clone(chosen.estimator)
        centers = getattr(chosen.estimator, "cluster_centers_", None)
        if chosen.method == "kmeans" and centers is not None:
            estimator.set_params(init=centers)
        elif chosen.method == "gmm" and centers is not None:
            estimator.set_params(means_init=centers)
        return estimator.fit(X)

    def _report(self, step: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(step, done, total)


def _unseeded(estimator: Any) -> Any:
    """An unfitted copy that finds its own starting centres: a refit for stability must not
    start from the centres of the fit it is compared with."""
    fresh = clone(estimator)
    if fresh.get_params().get("means_init") is not None:
        fresh.set_params(means_init=None)
    return fresh


def _or(value: float, default: float) -> float:
    return default if math.isnan(value) else value


def _most_segments_within_elbow(contenders: list[Candidate], order: dict[str, int]) -> Candidate:
    within = [c for c in contenders if c.elbow is None or c.n_segments <= c.elbow + 1]
    pool = within or contenders
    return min(pool, key=lambda c: (-c.n_segments, -_or(c.silhouette, -2), order[c.method]))


def _why_not(c: Candidate, chosen: Candidate) -> str:
    """Why a contender within the silhouette tolerance lost to the chosen one."""
    if c.n_segments < chosen.n_segments:
        return f"within tolerance; {chosen.n_segments} segments is more"
    if c.elbow is not None and c.n_segments > c.elbow + 1:
        return f"within tolerance; past the elbow (k={c.elbow}) + 1"
    return f"within tolerance; {chosen.method} is preferred"


def _nothing_passed(candidates: list[Candidate]) -> str:
    reasons = "; ".join(
        f"{c.method} k={c.k if c.k is not None else c.n_segments}: {c.reason}" for c in candidates
    )
    return (
        f"No segmentation passed the guards, so none was stored. {reasons}. Loosen the guard "
        "that rejected the candidates you expected (models.min_segment_share, "
        "models.min_stability, models.max_noise_share in audience.toml), widen models.k_range, "
        "or fix the method and k with --method and --k."
    )


def _labels_of(estimator: Any) -> Labels:
    return np.asarray(estimator.labels_, dtype=np.int64)


def score_candidate(
    method: str,
    k: int | None,
    estimator: Any,
    sample: Matrix,
    pairs: PairwiseSample,
    *,
    silhouette: float | None = None,
) -> Candidate:
    """A fitted estimator's scores on ``sample`` (the rows its ``labels_`` label);
    ``silhouette``, when given, is its :meth:`PairwiseSample.silhouette`, already computed."""
    labels = _labels_of(estimator)
    kept = labels != NOISE
    sizes = np.bincount(labels[kept]) if kept.any() else np.zeros(0, dtype=np.int64)
    sizes = sizes[sizes > 0]
    candidate = Candidate(method, k, estimator, labels, n_segments=int(sizes.size))
    candidate.noise_share = float(1 - kept.mean())
    candidate.smallest_share = float(sizes.min() / labels.size) if sizes.size else 0.0
    candidate.silhouette = pairs.silhouette(sample, labels) if silhouette is None else silhouette
    if sizes.size >= 2:
        centers = centers_of(sample, labels)
        candidate.centroid_silhouette = simplified_silhouette(sample, labels, centers)
        ch, db = separation_scores(sample, labels)
        candidate.calinski_harabasz, candidate.davies_bouldin = ch, db
    candidate.inertia = within_sum_of_squares(sample, labels)
    if hasattr(estimator, "bic_"):
        candidate.bic = float(estimator.bic_)
    return candidate
