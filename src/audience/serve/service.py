"""What the server does, apart from HTTP: one workspace, shared by the request threads.

A DuckDB connection is not safe to use from two threads at once, and FastAPI runs plain
endpoints in a thread pool, so every use of the workspace's connection holds ``lock``.
Assignment holds it only to load a model: the loaded assigner is immutable and shared.

When the server hosts the workspace (``audience serve``; :mod:`audience.cli.host`), other
commands write to it from other threads: the server's own writes take their turn with them
(:func:`audience.store.locking.take_turn`), and after any write :meth:`Service.workspace_changed`
loads the newest run's model *before* swapping it in, so assignments in flight finish on
the old model and every later one uses the new one.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from audience.errors import ConflictError, WorkspaceError
from audience.personas import Profiles
from audience.segment_ids import is_suppressed_id
from audience.segments.assign import SegmentAssigner
from audience.segments.changes import RunChanges
from audience.segments.contact_rows import rescore_rfm
from audience.segments.explaining import no_segment
from audience.serve.jobs import Job, Jobs
from audience.serve.live import LiveFeatures, live_features, rejected_rows
from audience.serve.schemas import ContactFeatures
from audience.store import keys as key_store
from audience.store import listing
from audience.store.alerts import StoredAlert, list_alerts
from audience.store.erasing import ErasureResult
from audience.store.ingesting import calls_as_jsonl, ingest_lines
from audience.store.locking import writer_turn
from audience.store.segment_runs import latest_tree_run, read_run
from audience.validate import IngestReport
from audience.workspace import Workspace

log = logging.getLogger(__name__)

_KEY_CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class _Published:
    """The model assignments use, with the names of its segments."""

    model: SegmentAssigner
    names: dict[str, str]
    stamp: tuple[int, int] | None = None
    """The model file's inode and modification time when it was loaded: a file rewritten
    since (an erasure) is loaded again."""

    def answers(self, result: pd.DataFrame) -> list[dict[str, Any]]:
        """The assigner's answer as the API gives it: run, segment, its name, probability."""
        out = []
        for segment, probability in zip(result["segment_id"], result["probability"], strict=True):
            segment_id = segment if isinstance(segment, str) else None
            p = float(probability)
            out.append(
                {
                    "run_id": self.model.run_id,
                    "segment_id": segment_id,
                    "segment_name": None
                    if segment_id is None
                    else self.names.get(segment_id, segment_id),
                    "probability": p if math.isfinite(p) else None,
                }
            )
        return out


class Service:
    """The server's state: the workspace, the current model, the jobs, the key cache."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.lock = threading.RLock()
        self.jobs = Jobs(workspace.path, on_success=self._run_finished)
        self._current: _Published | None = None
        self._keys: dict[str, tuple[key_store.ApiKey, float]] = {}
        self._profiles: dict[str, Profiles] = {}
        self._profiles_lock = threading.Lock()
        self._warming: threading.Thread | None = None

    def warm_up(self) -> threading.Thread:
        """Compute the newest run's profiles in the background, so the first contact
        lookup does not wait for them (seconds at a million contacts)."""
        thread = threading.Thread(target=self._warm, name="warm-profiles", daemon=True)
        thread.start()
        self._warming = thread
        return thread

    @property
    def warm(self) -> bool:
        """Whether the warm-up (model compiled, profiles computed) has finished."""
        return self._warming is None or not self._warming.is_alive()

    def _warm(self) -> None:
        with self.lock:
            run = latest_tree_run(self.workspace.database)
        if run is not None:
            # The assigner compiles its rules and preprocessing on first use.
            self.assign_records([ContactFeatures().model_dump()])
            self.profiles(run)

    def profiles(self, run_id: str) -> Profiles:
        """A run's segment profiles, computed once on a connection of their own (so other
        requests go on meanwhile) and kept."""
        with self._profiles_lock:
            if run_id not in self._profiles:
                with Workspace(self.workspace.path, access="read") as own:
                    self._profiles[run_id] = own.profiles(run_id)
            return self._profiles[run_id]

    # -- keys ---------------------------------------------------------------------------

    def authenticate(self, text: str) -> key_store.ApiKey | None:
        """The active key ``text`` is, or None; checked keys are cached for a few seconds."""
        digest = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()
        cached = self._keys.get(digest)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        with self.lock:
            key = key_store.verify_key(self.workspace.database, text)
        if key is not None:
            self._keys[digest] = (key, time.monotonic() + _KEY_CACHE_SECONDS)
        return key

    def key_by_id(self, key_id: str) -> key_store.ApiKey | None:
        """An active key by its public id (the dashboard's session holds only the id)."""
        with self.lock:
            key = key_store.find_key(self.workspace.database, key_id)
        return key if key is not None and key.active else None

    def create_key(self, role: str, name: str) -> tuple[key_store.ApiKey, str]:
        with self.writing("create an API key"), self.lock:
            return key_store.create_key(self.workspace.database, role, name, datetime.now(UTC))

    def list_keys(self) -> list[key_store.ApiKey]:
        with self.lock:
            return key_store.list_keys(self.workspace.database)

    def revoke_key(self, key_id: str) -> key_store.ApiKey:
        with self.writing("revoke an API key"), self.lock:
            key = key_store.revoke_key(self.workspace.database, key_id, datetime.now(UTC))
        self._keys.clear()
        return key

    # -- runs and segments --------------------------------------------------------------

    def runs(self, limit: int = 50) -> list[dict[str, Any]]:
        with self.lock:
            return listing.list_runs(self.workspace.database, limit)

    def run(self, run_id: str) -> dict[str, Any]:
        with self.lock:
            return listing.run_summary(self.workspace.database, self.workspace.run_id(run_id))

    def run_id(self, run_id: str | None = None) -> str:
        with self.lock:
            return self.workspace.run_id(run_id)

    def alerts(self, limit: int = 50, run_id: str | None = None) -> list[StoredAlert]:
        """The newest alerts (of one run, when given; an unknown run is an error)."""
        with self.lock:
            run = self.workspace.run_id(run_id) if run_id is not None else None
            return list_alerts(self.workspace.database, limit=limit, run_id=run)

    def changes(self, run_id: str | None = None) -> tuple[str, RunChanges | None]:
        """A run's changes since the previous tree run (None for a first run)."""
        with self.lock:
            run = self.workspace.run_id(run_id)
            return run, self.workspace.changes(run)

    def tree(self, run_id: str | None = None) -> tuple[str, pd.DataFrame]:
        with self.lock:
            run = self.workspace.run_id(run_id)
            return run, self.workspace.segments(run)

    def segment(self, segment_id: str, run_id: str | None = None) -> tuple[str, pd.Series]:
        with self.lock:
            run = self.workspace.run_id(run_id)
            return run, self.workspace.find_segment(segment_id, run)

    def members(
        self, segment_id: str, run_id: str | None, *, limit: int, offset: int
    ) -> tuple[str, int, list[tuple[str, float | None]]]:
        with self.lock:
            run = self.workspace.run_id(run_id)
            self.workspace.find_segment(segment_id, run)
            total, page = listing.segment_members(
                self.workspace.database, run, segment_id, limit=limit, offset=offset
            )
        return run, total, page

    def contact(self, contact_id: str, run_id: str | None = None) -> dict[str, Any]:
        """A contact's segment in a run, its probability and the reasons it is there."""
        with self.lock:
            run = self.workspace.run_id(run_id)
            found = listing.contact_membership(self.workspace.database, run, contact_id)
            if found is None:
                raise no_segment(contact_id, run)
            segment_id = found[0]
            name = str(self.workspace.find_segment(segment_id, run)["name"])
        profiles = None if is_suppressed_id(segment_id) else self.profiles(run)
        with self.lock:
            segment_id, reasons = self.workspace.why(contact_id, run, profiles)
        return {
            "contact_id": contact_id,
            "run_id": run,
            "segment_id": segment_id,
            "segment_name": name,
            "probability": found[1],
            "why": reasons,
        }

    def rename(self, segment_id: str, name: str, run_id: str | None = None) -> pd.Series:
        with self.writing("rename a segment"), self.lock:
            run = self.workspace.run_id(run_id)
            self.workspace.rename_segment(segment_id, name, run)
            segment = self.workspace.find_segment(segment_id, run)
        published = self._current
        if published is not None and published.model.run_id == run:
            published.names[segment_id] = str(segment["name"])
        return segment

    # -- assignment ---------------------------------------------------------------------

    def model(self) -> SegmentAssigner:
        """The newest run's rules and fitted models, loaded once and kept."""
        return self._published().model

    def _published(self) -> _Published:
        published = self._current
        if published is not None:
            return published
        with self.lock:
            run = latest_tree_run(self.workspace.database)
        if run is None:
            raise WorkspaceError(
                "there is no segmentation to assign to yet: start one with "
                "POST /api/runs or `audience segment`."
            )
        return self._publish(run)

    def _publish(self, run: str) -> _Published:
        """Load ``run``'s assigner, compile it, then publish it with its segment names in one
        reference swap: an assignment uses one published model from start to end."""
        with self.lock:
            stamp = self._model_stamp(run)
            model = self.workspace.assigner(run)
            tree = self.workspace.segments(run)
        model.assign(pd.DataFrame.from_records([ContactFeatures().model_dump()]))  # compiles
        names = dict(zip(tree["segment_id"], tree["name"].astype(str), strict=True))
        self._current = published = _Published(model, names, stamp)
        return published

    def _model_stamp(self, run: str) -> tuple[int, int] | None:
        path = self.workspace.models.path(run)
        if not path.is_file():
            return None
        found = path.stat()
        return found.st_ino, found.st_mtime_ns

    def assign(self, rows: pd.DataFrame) -> pd.DataFrame:
        return self.model().assign(rows)

    def assign_records(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Assign contacts given as records of features (one frame for them all)."""
        published = self._published()
        result = published.model.assign(pd.DataFrame.from_records(list(records)))
        return published.answers(result)

    def assign_live(
        self, traits: Mapping[str, Any], events: Sequence[Mapping[str, Any]], as_of: datetime
    ) -> tuple[dict[str, Any], LiveFeatures]:
        """Assign a contact from its raw attributes and recent events (see serve.live)."""
        published = self._published()
        live = live_features(
            traits, events, as_of=as_of, config=self.workspace.config, secret=self.workspace.secret
        )
        with self.lock:
            run_id = published.model.run_id
            _created, run_as_of, _config, _metrics = read_run(self.workspace.database, run_id)
            row = rescore_rfm(live.row, self.workspace.database, run_as_of)
        live = replace(live, row=row)
        return published.answers(published.model.assign(row))[0], live

    # -- writes -------------------------------------------------------------------------

    def ingest_events(
        self, calls: Sequence[Mapping[str, Any]]
    ) -> tuple[IngestReport, list[dict[str, Any]]]:
        """Ingest a batch of Segment calls exactly as a JSON Lines file of them would be."""
        stamp = datetime.now(UTC)
        ws = self.workspace
        with self.writing("ingest events"), self.lock:
            report = ingest_lines(
                ws.database,
                ws.secret,
                ws.config.ingest,
                calls_as_jsonl(calls),
                name=f"api-events-{stamp:%Y%m%dT%H%M%S%f}",
                now=stamp,
            )
            rejected = rejected_rows(ws.database, report.ingest_id)
        return report, rejected

    def start_run(self, as_of: datetime | None, method: str | None, k: int | None) -> Job:
        return self.jobs.start(as_of, method, k)

    def _run_finished(self, run_id: str) -> None:
        self.workspace_changed()

    def writing(self, what: str) -> AbstractContextManager[None]:
        """Hold the host's writer turn (if the server hosts the workspace) for a write."""
        timeout = self.workspace.config.store.lock_timeout_seconds
        return writer_turn(self.workspace.path, f"audience serve ({what})", timeout)

    def workspace_changed(self) -> None:
        """Something wrote to the workspace: load the newest run's model (if it changed)
        and swap it in whole; forget cached keys (one may have been revoked)."""
        self._keys.clear()
        with self.lock:
            run = latest_tree_run(self.workspace.database)
        current = self._current
        if run is None:
            return
        unchanged = current is not None and current.stamp == self._model_stamp(run)
        if unchanged and current is not None and current.model.run_id == run:
            return
        # A new run, or its file rewritten or removed (an erasure, a tampering): the old
        # model serves until the new one is swapped in; if it cannot be loaded, nothing is
        # published and the next assignment says why (409).
        try:
            self._publish(run)
        except ConflictError as exc:
            self._current = None
            log.warning("run %s cannot assign: %s", run, exc)

    # -- privacy ------------------------------------------------------------------------

    def erase(self, contact_id: str, key_id: str) -> ErasureResult:
        """Erase a contact (see :meth:`audience.Workspace.erase`), logged as ``key:<id>``;
        a model file rewritten or removed by it is loaded again or dropped."""
        with self.writing("erase a contact"), self.lock:
            result = self.workspace.erase(contact_id=contact_id, requested_by=f"key:{key_id}")
        with self._profiles_lock:  # computed with the person among the features
            self._profiles.clear()
        self.workspace_changed()
        return result

    def close(self) -> None:
        """Wait for a background run and the warm-up, then close the workspace."""
        self.jobs.join()
        if self._warming is not None:
            self._warming.join()
        with self.lock:
            self.workspace.close()
