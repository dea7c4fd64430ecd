"""An :class:`AutoSegmenter` set up from ``[models]``, fitted on a feature frame."""

from __future__ import annotations

import pandas as pd

from audience.config import ModelsConfig, PreprocessConfig
from audience.models.inputs import ClusteringInput, clustering_input
from audience.models.selection import AutoSegmenter
from audience.progress import StepProgress


def configured_segmenter(
    models: ModelsConfig,
    method: str,
    k: int | None,
    categorical: list[int],
    progress: StepProgress | None = None,
) -> AutoSegmenter:
    """``method`` (``auto`` or one name) and ``k`` (None: chosen) override ``[models]``.

    With both fixed, the guards only report (the user asked for exactly that model)."""
    methods = list(models.methods) if method == "auto" else [method]
    params = {m: getattr(models, m).model_dump() for m in methods}
    if "kprototypes" in params:
        params["kprototypes"]["categorical"] = categorical
    return AutoSegmenter(
        methods=methods,
        k_range=(k, k) if k else (models.k_min, models.k_max),
        min_segment_share=models.min_segment_share,
        max_noise_share=models.max_noise_share,
        min_stability=models.min_stability,
        tolerance=models.tolerance,
        sample_size=models.sample_size,
        silhouette_sample=models.silhouette_sample,
        n_subsamples=models.n_subsamples,
        method_params=params,
        enforce_guards=not (method != "auto" and k),
        progress=progress,
        random_state=models.random_state,
    )


def fit_segmenter(
    frame: pd.DataFrame,
    models: ModelsConfig,
    preprocess: PreprocessConfig,
    *,
    method: str | None = None,
    k: int | None = None,
    progress: StepProgress | None = None,
) -> tuple[AutoSegmenter, ClusteringInput]:
    """Preprocess ``frame`` and fit the configured segmenter on it."""
    chosen = method or models.method
    fixed_k = k if k is not None else models.k
    first = models.methods[0] if chosen == "auto" else chosen
    inputs = clustering_input(frame, models, preprocess, first)
    segmenter = configured_segmenter(models, chosen, fixed_k, inputs.categorical, progress)
    return segmenter.fit(inputs.matrix), inputs
