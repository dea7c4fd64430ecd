"""Erasing a person: the database (:mod:`audience.store.erasing`) and the model files.

What a tree run's model file (:class:`~audience.segments.assign.SegmentAssigner`) holds:
the rules (SQL text) and, per clustered branch, the fitted preprocessing (per-column
statistics: medians, scales, Yeo–Johnson lambdas, the categories seen, each column's
minimum and maximum), the estimator, the feature names and the label → segment map. No
contact id or email is in it. Two things in it are per contact, though without an id:

* the estimator's ``labels_``, one label per training row in row order; assignment never
  reads it, so it is dropped and the file rewritten (signed again);
* the training rows themselves, in estimators that label new points by their nearest
  training rows: hierarchical (``anchors_``: every row under exact Ward, else micro-cluster
  centres, some of them one contact) and density (``core_points_``). One row cannot be
  taken out without changing the linkage or radii the model's answers rest on, so such a
  file is removed: that run answers 409 (:class:`~audience.errors.ModelMissingError`) until
  `audience segment` makes a new one. A file that fails its signature check is removed too:
  it cannot be opened safely, so it cannot be shown to be free of the person.

Only the runs the person had a membership in are touched: the others never saw them.

Order, and why: the files are rewritten *inside* the database transaction, just before it
commits, with every original kept in memory; if anything fails before the commit ends, the
originals are written back and the transaction rolls back, so the workspace is as it was.
A process killed between the files and the commit leaves files already without the person
and a database that still has them; erasing again finishes the job. The other order
(commit, then files) could leave a log that says erased beside files that still hold them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import duckdb

from audience.errors import ModelSignatureError
from audience.segments.assign import SegmentAssigner
from audience.store.database import Database
from audience.store.erasing import ErasureRequest, ErasureResult, erase_person, find_person
from audience.store.model_files import ModelFiles

_ROWS_KEPT = ("anchors_", "core_points_")
"""Attributes of estimators that keep training rows to label new points by."""
_PER_ROW = ("labels_",)
"""Per-training-row attributes that assignment does not need."""


@dataclass
class ModelScrub:
    """The model files of the person's runs, each to be rewritten without them or removed."""

    files: ModelFiles
    rewritten: dict[str, SegmentAssigner]
    removed: list[str]
    _originals: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def plan(cls, files: ModelFiles, runs: Sequence[str]) -> ModelScrub:
        """Read every file concerned (verified) and decide, before anything is written."""
        rewritten: dict[str, SegmentAssigner] = {}
        removed: list[str] = []
        for run in runs:
            if not files.exists(run):
                continue
            try:
                assigner = SegmentAssigner.load(files, run)
            except ModelSignatureError:
                removed.append(run)
                continue
            if _keeps_rows(assigner):
                removed.append(run)
            else:
                rewritten[run] = _without_rows(assigner)
        return cls(files, rewritten, removed)

    def apply(self, _con: duckdb.DuckDBPyConnection | None = None) -> dict[str, str]:
        """Write the files (originals kept in memory for :meth:`restore`); what was done."""
        done: dict[str, str] = {}
        for run, assigner in self.rewritten.items():
            self._originals[run] = self.files.read_bytes(run)
            assigner.save(self.files)
            done[run] = "rewritten"
        for run in self.removed:
            self._originals[run] = self.files.read_bytes(run)
            self.files.path(run).unlink()
            done[run] = "removed"
        return done

    def restore(self) -> None:
        """Put back every file :meth:`apply` changed, as it was."""
        for run, content in self._originals.items():
            self.files.write_bytes(run, content)
        self._originals.clear()


def _keeps_rows(assigner: SegmentAssigner) -> bool:
    return any(
        hasattr(branch.estimator, attribute)
        for branch in assigner.branches.values()
        for attribute in _ROWS_KEPT
    )


def _without_rows(assigner: SegmentAssigner) -> SegmentAssigner:
    """The assigner (just unpickled, so ours to change) without per-row attributes."""
    for branch in assigner.branches.values():
        for attribute in _PER_ROW:
            if hasattr(branch.estimator, attribute):
                delattr(branch.estimator, attribute)
    return assigner


def erase(
    db: Database,
    files: ModelFiles,
    secret: bytes,
    request: ErasureRequest,
    *,
    requested_by: str,
    now: datetime,
    then: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
) -> ErasureResult:
    """Erase the person asked for from the database and the model files, atomically (see
    the module docstring). ``then`` runs after the files are written, before the commit:
    a seam for tests to fail there."""
    person = find_person(db, request, secret)
    scrub = ModelScrub.plan(files, person.runs)

    def before_commit(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
        done = scrub.apply(con)
        if then is not None:
            then(con)
        return done

    try:
        return erase_person(
            db,
            person,
            secret,
            request=request,
            requested_by=requested_by,
            now=now,
            before_commit=before_commit,
        )
    except BaseException:
        scrub.restore()
        raise
