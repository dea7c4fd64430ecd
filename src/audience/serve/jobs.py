"""Segmentation runs started over HTTP: one at a time, in a background thread.

A run opens its own connection to the workspace database (DuckDB shares one database per
file within a process, so the server's reads go on beside it and see the run when it
commits). Jobs live in memory: a restarted server forgets them, not the runs they stored.
"""

from __future__ import annotations

import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from audience.errors import AudienceError, ConflictError

Status = Literal["queued", "running", "succeeded", "failed"]


class JobConflictError(ConflictError):
    """A run is already going; the server runs one at a time."""


@dataclass
class Job:
    job_id: str
    as_of: datetime | None
    method: str | None
    k: int | None
    status: Status = "queued"
    step: str = ""
    done: int = 0
    total: int = 0
    run_id: str | None = None
    error: str | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None


class Jobs:
    """The server's segmentation jobs; ``on_success(run_id)`` is called after each one."""

    def __init__(self, workspace: Path, on_success: Callable[[str], None]) -> None:
        self.workspace = workspace
        self.on_success = on_success
        self._jobs: dict[str, Job] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()

    def start(self, as_of: datetime | None, method: str | None, k: int | None) -> Job:
        with self._lock:
            busy = [job for job in self._jobs.values() if job.status in ("queued", "running")]
            if busy:
                raise JobConflictError(
                    f"run job {busy[0].job_id} is still {busy[0].status}; the server runs one "
                    f"segmentation at a time. Poll /api/jobs/{busy[0].job_id} and retry when it "
                    "has finished."
                )
            job = Job(uuid.uuid4().hex[:12], as_of, method, k)
            self._jobs[job.job_id] = job
        thread = threading.Thread(target=self._run, args=(job,), name=f"run-{job.job_id}")
        thread.daemon = True
        thread.start()
        self._threads[job.job_id] = thread
        return job

    def join(self) -> None:
        """Wait for the running job, if any: a run is not stopped halfway (shutdown waits;
        an interpreter leaving under a live DuckDB query aborts)."""
        for thread in list(self._threads.values()):
            thread.join()

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def all(self) -> list[Job]:
        return sorted(self._jobs.values(), key=lambda job: job.started_at, reverse=True)

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """Block until a job has finished (tests and scripts; the API polls)."""
        job = self._jobs[job_id]
        thread = self._threads[job_id]
        thread.join(timeout)
        if thread.is_alive():
            raise TimeoutError(f"job {job_id} still {job.status} after {timeout} s")
        return job

    def _run(self, job: Job) -> None:
        # Imported here so that the module loads without the modelling stack.
        from audience.workspace import Workspace

        job.status = "running"
        try:
            with Workspace(self.workspace) as ws:
                report = ws.segment(
                    job.as_of, method=job.method, k=job.k, progress=_progress_of(job)
                )
            job.run_id = report.run_id
            self.on_success(report.run_id)
            job.status = "succeeded"
        except AudienceError as exc:
            job.error, job.status = str(exc), "failed"
        except Exception as exc:  # a bug: kept whole for the status, not raised into nothing
            job.error = f"internal error: {exc!r}\n{traceback.format_exc(limit=8)}"
            job.status = "failed"
        finally:
            job.finished_at = datetime.now(UTC)


def _progress_of(job: Job) -> Callable[[str, int, int], None]:
    def update(step: str, done: int, total: int) -> None:
        job.step, job.done, job.total = step, done, total

    return update
