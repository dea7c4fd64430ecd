"""A workspace: a folder holding ``audience.toml``, ``audience.duckdb`` and the secret.

This is the Python API's front door::

    ws = audience.Workspace.init("shop")          # or audience.Workspace("shop")
    report = ws.ingest("contacts.csv", kind="contacts")
    print(report.accepted, report.quarantined, report.duplicates)

The clock is read here, at the edge, and only when the caller gives no ``now``; the steps
below take it as an argument.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import pandas as pd

from audience.config import CONFIG_FILE, DEFAULT_CONFIG_TOML, WorkspaceConfig, load_config
from audience.errors import ConfigError, NotFoundError, WorkspaceError
from audience.ingest import Kind
from audience.progress import RowProgress, StepProgress
from audience.store import Database, create_secret, read_secret
from audience.store.ingesting import ingest_file, resolve_kind
from audience.store.locking import (
    LOCK_FILE,
    Access,
    HostLease,
    WorkspaceLock,
    current_command,
    end_turn,
    lease_of,
    take_turn,
)
from audience.store.model_files import ModelFiles
from audience.store.profile import DataProfile, profile
from audience.store.schema import SCHEMA_VERSION, current_version
from audience.validate import IngestReport

if TYPE_CHECKING:
    from audience.activate.exports import ExportResult, Platform
    from audience.features.summary import FeatureReport
    from audience.models.summary import SegmentationReport
    from audience.personas import Profiles
    from audience.refresh.run import RefreshReport, Step
    from audience.segments.assign import SegmentAssigner
    from audience.segments.changes import RunChanges
    from audience.segments.summary import TreeReport
    from audience.store.erasing import ErasureResult


MODELS_DIR = "models"
"""Where tree runs keep what assigning new contacts needs (``<run_id>.joblib``)."""


class Workspace:
    """An existing workspace folder. Use :meth:`init` to create one.

    ``access="read"`` promises not to write: such workspaces are opened by several processes at
    once (DuckDB read-only). The default, ``"write"``, holds the workspace exclusively from the
    first use of :attr:`database` until :meth:`close`; another process wanting it waits up to
    ``store.lock_timeout_seconds`` (see :mod:`audience.store.locking`). In a process that hosts
    the workspace (``audience serve``) writers take turns instead.
    """

    def __init__(self, path: str | os.PathLike[str] = ".", *, access: Access = "write") -> None:
        self.path = Path(path).expanduser().resolve()
        self.access: Access = access
        if not (self.path / CONFIG_FILE).is_file():
            raise WorkspaceError(
                f"{self.path} is not an Audience workspace (no {CONFIG_FILE}). Create one with "
                f"'audience init {path}', or point --workspace (or AUDIENCE_WORKSPACE) at one."
            )
        self.config: WorkspaceConfig = load_config(self.path / CONFIG_FILE)
        self._db: Database | None = None
        self._secret: bytes | None = None
        self._lock: WorkspaceLock | None = None
        self._turn: HostLease | None = None

    @classmethod
    def init(cls, path: str | os.PathLike[str] = ".") -> Workspace:
        """Create the folder's config, secret and database; refuse to touch an existing one."""
        folder = Path(path).expanduser().resolve()
        if (folder / CONFIG_FILE).exists():
            raise WorkspaceError(f"{folder} is already an Audience workspace; nothing was changed.")
        if folder.exists() and not folder.is_dir():
            raise WorkspaceError(f"cannot create a workspace at {folder}: it is a file.")
        folder.mkdir(parents=True, exist_ok=True)
        created: list[Path] = []
        try:
            created.append(create_secret(folder))
            config_path = folder / CONFIG_FILE
            config_path.write_text(DEFAULT_CONFIG_TOML, encoding="utf-8")
            created.append(config_path)
            workspace = cls(folder)
            created.extend([workspace.database_path, folder / LOCK_FILE])
            workspace.database.con.execute("CHECKPOINT")  # creates and migrates the file
            workspace.close()
        except BaseException:
            for leftover in reversed(created):
                leftover.unlink(missing_ok=True)
            raise
        return workspace

    @property
    def database_path(self) -> Path:
        return self.path / self.config.store.database

    @property
    def models(self) -> ModelFiles:
        """The tree runs' model files, signed with the workspace secret."""
        return ModelFiles(self.path / MODELS_DIR, self.secret)

    @property
    def database(self) -> Database:
        """The open database (opened, and migrated forward, on first use)."""
        if self._db is None:
            self._db = self._open()
        return self._db

    def _connect(self, *, read_only: bool = False) -> Database:
        store = self.config.store
        return Database(
            self.database_path,
            memory_limit=store.memory_limit,
            threads=store.threads,
            read_only=read_only,
        )

    def _open(self) -> Database:
        """Take the workspace lock (and, in a host, a writer's turn), then connect."""
        timeout = self.config.store.lock_timeout_seconds
        lock = WorkspaceLock(self.path, timeout=timeout, what=current_command())
        lock.acquire(self.access)
        self._lock = lock
        try:
            lease = lease_of(self.path)
            if lease is not None and self.access == "write":
                take_turn(lease, current_command(), timeout)
                self._turn = lease
            if lock.access == "write":
                db = self._connect()
            else:
                db = self._connect(read_only=True)
                if current_version(db.con) < SCHEMA_VERSION:
                    db.close()
                    db = self._migrated_for_reading(lock)
            # What a killed run left (a model file of no committed run, or one not renamed).
            self.models.tidy(db)
            return db
        except BaseException:
            self.close()
            raise

    def _migrated_for_reading(self, lock: WorkspaceLock) -> Database:
        """A reader cannot migrate: bring the schema forward under a write lock, once."""
        lock.release()
        lock.acquire("write")
        self._connect().close()
        lock.release()
        lock.acquire("read")
        return self._connect(read_only=lock.access == "read")

    def _end_turn(self) -> None:
        if self._turn is not None:
            end_turn(self._turn)
            self._turn = None

    @property
    def secret(self) -> bytes:
        if self._secret is None:
            self._secret = read_secret(self.path)
        return self._secret

    def ingest(
        self,
        path: str | os.PathLike[str],
        kind: Kind | None = None,
        *,
        mapping: Mapping[str, str] | None = None,
        now: datetime | None = None,
        encoding: str = "utf-8",
        progress: RowProgress | None = None,
        again: bool = False,
    ) -> IngestReport:
        """Ingest one file (see :func:`audience.store.ingesting.ingest_file`).

        ``kind`` defaults to what the file's name or format implies; ``now`` (the reference
        for "in the future") defaults to the current time. A file whose bytes were ingested
        before as the same kind is not read again (the report is an
        :class:`~audience.store.known_files.AlreadyIngested`) unless ``again`` is true.
        """
        source = Path(path).expanduser()
        return ingest_file(
            self.database,
            self.secret,
            self.config.ingest,
            source,
            kind=resolve_kind(source, kind),
            explicit=mapping,
            now=now or datetime.now(UTC),
            encoding=encoding,
            progress=progress,
            again=again,
        )

    def features(
        self, as_of: datetime | None = None, *, out: str | os.PathLike[str] | None = None
    ) -> FeatureReport:
        """Compute, store (table ``features``) and summarise every contact's features.

        ``as_of`` defaults to now; events after it are ignored. ``out`` also writes them to
        a ``.parquet`` or ``.csv`` file.
        """
        # Imported here: Ibis takes a second to import, which ingest-only commands need not pay.
        from audience.features.compute import compute_features

        moment = _aware(as_of)
        target = Path(out).expanduser() if out is not None else None
        return compute_features(
            self.database, self.config.features, moment, target, created_at=datetime.now(UTC)
        )

    def segment(
        self,
        as_of: datetime | None = None,
        *,
        method: str | None = None,
        k: int | None = None,
        progress: StepProgress | None = None,
    ) -> TreeReport:
        """Segment every contact by the ``[segments]`` hierarchy and store the run.

        Computes the features at ``as_of`` (default now); suppresses, applies the broad
        rules, clusters inside each broad segment (``[models]``; ``method`` and ``k``
        override it), merges small clusters, names every segment after its persona,
        explains them with surrogate rules, and stores it all under a new run id. The alerts
        the run raises against the previous one (drift, sizes, segments, quality) are stored,
        logged and sent to ``[alerts]``'s webhooks, and listed in ``report.alerts``.

        Features, run, model file and alerts are one unit: if anything fails, nothing of
        it is kept (the alerts are sent only once it is stored)."""
        # Imported here: personas and the report's dependencies are for segmenting only.
        from audience.refresh.alerts import deliver_alerts, evaluate_run_alerts, store_alerts
        from audience.segments.tree_run import segment_tree_run

        moment = _aware(as_of)
        now = datetime.now(UTC)
        db = self.database
        # One unit: the features, the run, its model file and its alerts (see ARCHITECTURE.md).
        with db.transaction():
            report = segment_tree_run(
                db,
                self.config,
                moment,
                created_at=now,
                method=method,
                k=k,
                progress=progress,
                models=self.models,
            )
            found = evaluate_run_alerts(db, self.config.alerts, report.run_id)
            stored = store_alerts(db, found, now=now)
        delivered = deliver_alerts(db, self.config.alerts, self.path, stored)
        return replace(report, alerts=tuple(delivered))

    def cluster(
        self,
        as_of: datetime | None = None,
        *,
        method: str | None = None,
        k: int | None = None,
        progress: StepProgress | None = None,
    ) -> SegmentationReport:
        """Cluster every contact, without rules or suppression, and store the run.

        Computes the features at ``as_of`` (default now), preprocesses them, chooses the
        method and number of segments (``[models]`` in ``audience.toml``; ``method`` and
        ``k`` override it), fits the choice to every contact and stores it.
        """
        from audience.models.clustering import cluster_contacts

        moment = _aware(as_of)
        return cluster_contacts(
            self.database,
            self.config,
            moment,
            created_at=datetime.now(UTC),
            method=method,
            k=k,
            progress=progress,
        )

    def refresh(
        self,
        as_of: datetime | None = None,
        *,
        full: bool = False,
        force: bool = False,
        on_step: Callable[[Step], None] | None = None,
    ) -> RefreshReport:
        """Ingest the drop folders' new files, then (when anything is new) compute the
        features and segment again with stable ids, and raise the new run's alerts: see
        :mod:`audience.refresh.run`. ``report.exit_code`` is what ``audience refresh`` exits
        with (0 nothing to do or done, 1 failed, 3 done with alerts)."""
        from audience.refresh.run import RefreshTarget, run_refresh

        target = RefreshTarget(self.database, self.config, self.path, self.secret, self.models)
        now = datetime.now(UTC)
        moment = _aware(as_of) if as_of is not None else None
        return run_refresh(target, now=now, as_of=moment, full=full, force=force, on_step=on_step)

    def run_id(self, run_id: str | None = None) -> str:
        """``run_id`` if it exists, else the newest segment-tree run; an error when none."""
        from audience.store.segment_runs import latest_tree_run, run_exists

        if run_id is not None:
            if not run_exists(self.database, run_id):
                raise NotFoundError(
                    f"run {run_id!r} does not exist in {self.path}; `audience segments` shows "
                    "the newest run's segments."
                )
            return run_id
        latest = latest_tree_run(self.database)
        if latest is None:
            raise WorkspaceError(
                f"{self.path} has no segmentation yet: run `audience segment` first."
            )
        return latest

    def segments(self, run_id: str | None = None) -> pd.DataFrame:
        """A run's segment tree (default: the newest): one row per segment with its name,
        size, share, kind, journey stage, traits and ``definition``."""
        from audience.store.segment_runs import read_tree

        tree = read_tree(self.database, self.run_id(run_id))
        total = tree.loc[tree["parent_id"].isna(), "size"].sum()
        personas = [d.get("persona") or {} for d in tree["definition"]]
        return tree.assign(
            share=tree["size"] / total if total else 0.0,
            kind=[d.get("kind", "") for d in tree["definition"]],
            stage=pd.Series([p.get("stage") for p in personas], index=tree.index, dtype=object),
            traits=pd.Series([p.get("traits", []) for p in personas], index=tree.index),
        )

    def find_segment(self, segment_id: str, run_id: str | None = None) -> pd.Series:
        """One segment of a run (default: the newest), or an error naming the known ones."""
        tree = self.segments(run_id)
        match = tree[tree["segment_id"] == segment_id]
        if match.empty:
            raise NotFoundError(_unknown_segment(segment_id, tree["segment_id"].tolist()))
        return match.iloc[0]

    def rename_segment(self, segment_id: str, name: str, run_id: str | None = None) -> None:
        """Name a segment; the name also applies to later runs with the same segment id."""
        from audience.store.segment_runs import rename_segment

        if not name.strip():
            raise ConfigError("A segment name cannot be empty.")
        run = self.run_id(run_id)
        self.find_segment(segment_id, run)
        rename_segment(self.database, run, segment_id, name.strip(), datetime.now(UTC))

    def export(
        self,
        segment_id: str,
        path: str | os.PathLike[str],
        *,
        platform: Platform | None = None,
        run_id: str | None = None,
    ) -> ExportResult:
        """Write a segment's members as ``platform`` imports them: never a suppressed contact,
        by the run's own ``[segments.suppress]`` rules and the current consent."""
        from audience.activate.exports import export_segment, run_rules

        run = self.run_id(run_id)
        self.find_segment(segment_id, run)
        rules = run_rules(self.database, run, self.config.segments)
        return export_segment(self.database, run, segment_id, Path(path), platform, suppress=rules)

    def assigner(self, run_id: str | None = None) -> SegmentAssigner:
        """A run's rules and fitted models (default: the newest run), to assign new contacts
        without refitting: ``ws.assigner().assign(rows)`` gives each row's segment."""
        from audience.segments.assign import SegmentAssigner

        run = self.run_id(run_id)
        return SegmentAssigner.load(self.models, run)

    def why(
        self, contact_id: str, run_id: str | None = None, profiles: Profiles | None = None
    ) -> tuple[str, list[str]]:
        """A contact's segment in a run (default: the newest) and why it is there
        (``profiles``: the run's :meth:`profiles`, computed when not given)."""
        from audience.segments.explaining import contact_reasons

        run = self.run_id(run_id)
        return contact_reasons(self.database, self.config, run, contact_id, profiles)

    def profiles(self, run_id: str | None = None) -> Profiles:
        """Every segment's profile in a run (default: the newest) against its contactable
        audience: what :meth:`why` compares a contact with."""
        from audience.segments.explaining import run_profiles

        return run_profiles(self.database, self.config, self.run_id(run_id))

    def changes(self, run_id: str | None = None) -> RunChanges | None:
        """What changed in a run (default: the newest) since the previous segment-tree run:
        transitions, size changes and feature drift; None for the first run (nothing to
        compare; also a run made before changes were recorded)."""
        from audience.segments.changes import read_changes

        return read_changes(self.database, self.run_id(run_id))

    def report(self, run_id: str | None = None, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the self-contained HTML report of a run (default: the newest) and return
        its path (default: ``reports/<run>.html`` in the workspace)."""
        from audience.report.from_run import write_run_report

        run = self.run_id(run_id)
        target = Path(path) if path is not None else self.path / "reports" / f"{run}.html"
        return write_run_report(self.database, self.config, run, target)

    def erase(
        self,
        *,
        contact_id: str | None = None,
        email: str | None = None,
        requested_by: str = "python",
        now: datetime | None = None,
    ) -> ErasureResult:
        """Remove a person (by contact id, or every contact with that email) from every
        table and from the model files of the runs they were in, in one transaction, and
        log it without the id or email (see :mod:`audience.segments.erasing`).
        ``requested_by`` is kept in the log: ``cli``, ``python`` or an API key's id."""
        from audience.segments.erasing import erase
        from audience.store.erasing import ErasureRequest

        request = ErasureRequest(contact_id=contact_id, email=email)
        return erase(
            self.database,
            self.models,
            self.secret,
            request,
            requested_by=requested_by,
            now=now or datetime.now(UTC),
        )

    def profile(self) -> DataProfile:
        """Counts and ranges of what the workspace holds."""
        return profile(self.database.con)

    def close(self) -> None:
        """Close the database and let other commands have the workspace."""
        try:
            if self._db is not None:
                self._db.close()
                self._db = None
        finally:
            self._end_turn()
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r})"


__all__ = ["Workspace"]


def _aware(as_of: datetime | None) -> datetime:
    """``as_of``, or now; a naive datetime is refused rather than guessed."""
    moment = as_of or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ConfigError(f"as_of {moment.isoformat()} has no time zone; pass an aware datetime.")
    return moment


def _unknown_segment(segment_id: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(segment_id, known, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return (
        f"Segment {segment_id!r} is not in this run.{hint} Its segments: {', '.join(known)}. "
        "`audience segments` lists them."
    )
