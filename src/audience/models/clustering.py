"""A flat clustering run from end to end: every contact clustered together, no rules.

``cluster_contacts`` (behind ``audience segment --flat``) computes the features, builds the
matrix, runs the guarded model selection, fits the choice on every contact and stores the
run, its segments and every membership in one transaction.
"""

from __future__ import annotations

import time
from datetime import datetime

from audience.config import WorkspaceConfig
from audience.features.compute import compute_features
from audience.models.configured import fit_segmenter
from audience.models.summary import SegmentationReport, describe_run
from audience.progress import StepProgress, no_progress
from audience.store import Database
from audience.store.features_table import read_features
from audience.store.segment_runs import new_run_id, save_cluster_run


def cluster_contacts(
    db: Database,
    config: WorkspaceConfig,
    as_of: datetime,
    *,
    created_at: datetime,
    method: str | None = None,
    k: int | None = None,
    progress: StepProgress | None = None,
) -> SegmentationReport:
    """Features → preprocessing → model selection → final fit → a stored run.

    ``method`` and ``k`` override ``[models] method`` and ``k``. The features at ``as_of``
    are computed (and stored) first. The features, the run, its segments and every
    contact's membership are stored together, or, if anything fails, nothing is.
    """
    started = time.perf_counter()
    step = progress or no_progress
    with db.transaction():  # one unit: the features and the run, or nothing
        step("computing features", 0, 1)
        compute_features(db, config.features, as_of, created_at=created_at, summary=False)
        frame = read_features(db, as_of)
        models = config.models
        chosen_method = method or models.method
        fixed_k = k if k is not None else models.k
        step("preprocessing", 0, 1)
        segmenter, inputs = fit_segmenter(
            frame, models, config.preprocess, method=chosen_method, k=fixed_k, progress=progress
        )
        report = describe_run(segmenter, inputs, chosen_method, fixed_k)
        run_id = new_run_id(db, created_at)
        save_cluster_run(
            db,
            run_id=run_id,
            as_of=as_of,
            created_at=created_at,
            contact_ids=frame["contact_id"].tolist(),
            labels=segmenter.labels_,
            probabilities=report.probabilities,
            config={
                "method": chosen_method,
                "k": fixed_k,
                "models": models.model_dump(),
                "preprocess": config.preprocess.model_dump(),
            },
            metrics=report.metrics(),
            definitions=report.definitions(),
        )
    return report.stored(run_id, as_of, time.perf_counter() - started)
