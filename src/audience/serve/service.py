"""What the server does, apart from HTTP: one workspace, shared by the request threads.

A DuckDB connection is not safe to use from two threads at once, and FastAPI runs plain
endpoints in a thread pool, so every use of the workspace's connection holds ``lock``.
Assignment holds it only to load a model: the loaded assigner is immutable and shared.
"""

from __future__ import annotations

import hashlib
import math
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from audience.errors import WorkspaceError
from audience.personas import Profiles
from audience.segments.assign import SegmentAssigner
from audience.segments.changes import RunChanges
from audience.segments.explaining import no_segment
from audience.serve.jobs import Job, Jobs
from audience.serve.live import (
    LiveFeatures,
    calls_as_jsonl,
    live_features,
    rejected_rows,
    rescore_rfm,
)
from audience.serve.schemas import ContactFeatures
from audience.store import keys as key_store
from audience.store import listing
from audience.store.segment_runs import latest_tree_run, read_run
from audience.validate import IngestReport
from audience.workspace import Workspace

_KEY_CACHE_SECONDS = 5.0


class Service:
    """The server's state: the workspace, the current model, the jobs, the key cache."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.lock = threading.RLock()
        self.jobs = Jobs(workspace.path, on_success=self._run_finished)
        self._model: SegmentAssigner | None = None
        self._names: dict[str, str] = {}
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
                with Workspace(self.workspace.path) as own:
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
        with self.lock:
            return key_store.create_key(self.workspace.database, role, name, datetime.now(UTC))

    def list_keys(self) -> list[key_store.ApiKey]:
        with self.lock:
            return key_store.list_keys(self.workspace.database)

    def revoke_key(self, key_id: str) -> key_store.ApiKey:
        with self.lock:
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
        profiles = None if segment_id.startswith("suppressed/") else self.profiles(run)
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
        with self.lock:
            run = self.workspace.run_id(run_id)
            self.workspace.rename_segment(segment_id, name, run)
            segment = self.workspace.find_segment(segment_id, run)
        self._names[segment_id] = str(segment["name"])
        return segment

    # -- assignment ---------------------------------------------------------------------

    def model(self) -> SegmentAssigner:
        """The newest run's rules and fitted models, loaded once and kept."""
        model = self._model
        if model is None:
            with self.lock:
                run = latest_tree_run(self.workspace.database)
                if run is None:
                    raise WorkspaceError(
                        "there is no segmentation to assign to yet: start one with "
                        "POST /api/runs or `audience segment`."
                    )
                model = self.workspace.assigner(run)
                tree = self.workspace.segments(run)
            self._names = dict(zip(tree["segment_id"], tree["name"].astype(str), strict=True))
            self._model = model
        return model

    def segment_name(self, segment_id: str | None) -> str | None:
        return None if segment_id is None else self._names.get(segment_id, segment_id)

    def assign(self, rows: pd.DataFrame) -> pd.DataFrame:
        return self.model().assign(rows)

    def assign_records(self, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Assign contacts given as records of features (one frame for them all)."""
        return self.assignments(self.assign(pd.DataFrame.from_records(list(records))))

    def assignments(self, result: pd.DataFrame) -> list[dict[str, Any]]:
        """The assigner's answer as the API gives it: run, segment, its name, probability."""
        run_id = self.model().run_id
        out = []
        for segment, probability in zip(result["segment_id"], result["probability"], strict=True):
            segment_id = segment if isinstance(segment, str) else None
            p = float(probability)
            out.append(
                {
                    "run_id": run_id,
                    "segment_id": segment_id,
                    "segment_name": self.segment_name(segment_id),
                    "probability": p if math.isfinite(p) else None,
                }
            )
        return out

    def assign_live(
        self, traits: Mapping[str, Any], events: Sequence[Mapping[str, Any]], as_of: datetime
    ) -> tuple[pd.DataFrame, LiveFeatures]:
        """Assign a contact from its raw attributes and recent events (see serve.live)."""
        model = self.model()
        live = live_features(
            traits, events, as_of=as_of, config=self.workspace.config, secret=self.workspace.secret
        )
        with self.lock:
            _created, run_as_of, _config, _metrics = read_run(self.workspace.database, model.run_id)
            row = rescore_rfm(live.row, self.workspace.database, run_as_of)
        live = replace(live, row=row)
        return model.assign(row), live

    # -- writes -------------------------------------------------------------------------

    def ingest_events(
        self, calls: Sequence[Mapping[str, Any]]
    ) -> tuple[IngestReport, list[dict[str, Any]]]:
        """Ingest a batch of Segment calls exactly as a JSON Lines file of them would be."""
        stamp = datetime.now(UTC)
        with tempfile.TemporaryDirectory(prefix="audience-api-") as folder:
            path = Path(folder) / f"api-events-{stamp:%Y%m%dT%H%M%S%f}.jsonl"
            path.write_text(calls_as_jsonl(calls), encoding="utf-8")
            with self.lock:
                report = self.workspace.ingest(path, kind="events", now=stamp)
                rejected = rejected_rows(self.workspace.database, report.ingest_id)
        return report, rejected

    def start_run(self, as_of: datetime | None, method: str | None, k: int | None) -> Job:
        return self.jobs.start(as_of, method, k)

    def _run_finished(self, run_id: str) -> None:
        self._model = None  # the next assignment loads the new run's model

    def close(self) -> None:
        """Wait for a background run and the warm-up, then close the workspace."""
        self.jobs.join()
        if self._warming is not None:
            self._warming.join()
        with self.lock:
            self.workspace.close()
