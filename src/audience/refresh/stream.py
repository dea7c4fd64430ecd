"""``audience stream``: events from a stream, committed in micro-batches, contacts re-assigned.

For each batch read from a :class:`~audience.refresh.sources.StreamSource`:

1. messages already committed (delivered again after a crash) are recognised by their id
   in ``stream_entries`` and not ingested again;
2. the others go, as JSON Lines, through the same ingest as a file
   (:func:`audience.store.ingesting.ingest_lines`): bad calls are quarantined with their
   reason, a call without ``messageId`` gets ``<source>:<message id>`` (so a replay is a
   duplicate, not a second event), and the messages are recorded as committed in the
   ingest's own transaction;
3. the contacts the batch's calls touched (read back from ``stream_entries``, so a
   replayed batch re-assigns them too) are re-assigned with the newest segment-tree run's
   model: their features now, RFM ranked among the run's buyers
   (:mod:`audience.segments.contact_rows`); each whose segment changed gets a
   ``membership_changes`` row, in one transaction (a second identical assignment writes
   nothing);
4. only then is the batch acknowledged.

A crash between any two steps loses nothing and doubles nothing: the batch comes again,
step 1 skips what step 2 committed, and step 3 writes only real changes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import orjson
import pandas as pd

from audience.config import WorkspaceConfig
from audience.refresh.sources import StreamMessage, StreamSource
from audience.segments.contact_rows import RfmReference, RuleRows
from audience.store import Database
from audience.store.ingesting import ingest_lines
from audience.store.loading import Committing
from audience.store.membership_changes import record_changes
from audience.store.segment_runs import latest_tree_run, read_run
from audience.store.stream_entries import committed_entries, record_entries, touched_contacts

if TYPE_CHECKING:
    from audience.segments.assign import SegmentAssigner

logger = logging.getLogger(__name__)

CHANGE_SOURCE = "stream"
"""``membership_changes.source`` of the changes the stream records."""


class StreamWorkspace(Protocol):
    """What consuming needs of a workspace (``audience.Workspace`` is one)."""

    config: WorkspaceConfig

    @property
    def database(self) -> Database: ...

    @property
    def secret(self) -> bytes: ...

    def assigner(self, run_id: str | None = None) -> SegmentAssigner: ...


@dataclass(frozen=True)
class BatchReport:
    """One committed batch."""

    messages: int
    """Messages read, including ``redelivered`` ones."""
    redelivered: int
    """Messages already committed before (delivered again after a crash): not re-ingested."""
    accepted: int
    quarantined: int
    duplicates: int
    """Calls whose event was already stored (a repeated ``messageId``)."""
    touched: int
    """Distinct contacts the batch's calls are about."""
    reassigned: int
    """Touched contacts assigned with the model (those with features: known, signed up)."""
    changed: int
    """Membership changes recorded."""
    run_id: str | None
    """The run whose model assigned them (None: no segmentation yet)."""
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_TOTALS: tuple[str, ...] = ("messages", "redelivered", "accepted", "quarantined")
_TOTALS += ("duplicates", "reassigned", "changed")


@dataclass
class StreamReport:
    """Everything a :func:`consume` call committed."""

    batches: int = 0
    messages: int = 0
    redelivered: int = 0
    accepted: int = 0
    quarantined: int = 0
    duplicates: int = 0
    reassigned: int = 0
    changed: int = 0
    run_ids: list[str] = field(default_factory=list)

    def add(self, batch: BatchReport) -> None:
        self.batches += 1
        for name in _TOTALS:
            setattr(self, name, getattr(self, name) + getattr(batch, name))
        if batch.run_id is not None and batch.run_id not in self.run_ids:
            self.run_ids.append(batch.run_id)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


BatchProgress = Callable[[BatchReport], None]
"""Called after each batch is committed and acknowledged."""


def consume(
    workspace: StreamWorkspace,
    source: StreamSource,
    *,
    max_batches: int | None = None,
    stop: Callable[[], bool] | None = None,
    progress: BatchProgress | None = None,
    now: Callable[[], datetime] | None = None,
    until_idle: bool = False,
    writing: Callable[[], AbstractContextManager[None]] = nullcontext,
) -> StreamReport:
    """Consume ``source`` in batches of ``[stream] batch_size`` until ``max_batches``
    batches are committed, ``stop()`` is true (checked between batches, so the current one
    is always finished), or, with ``until_idle``, a read finds nothing. ``now`` is the
    clock (default: UTC now): the ingest's reference for "in the future", the moment the
    features are computed at and the changes are stamped with. Each batch is committed
    inside ``writing()`` (a host's writer turn, so other writers go between batches)."""
    clock = now or (lambda: datetime.now(UTC))
    settings = workspace.config.stream
    assigner = Reassigner(workspace)
    report = StreamReport()
    while max_batches is None or report.batches < max_batches:
        if stop is not None and stop():
            break
        messages = source.read(settings.batch_size, settings.block_ms)
        if not messages:
            if until_idle:
                break
            continue
        with writing():
            batch = commit_batch(workspace, source.name, messages, clock(), assigner)
        source.ack(messages)
        report.add(batch)
        if progress is not None:
            progress(batch)
    return report


def commit_batch(
    workspace: StreamWorkspace,
    source: str,
    messages: Sequence[StreamMessage],
    at: datetime,
    assigner: Reassigner,
) -> BatchReport:
    """Steps 1–3 of the module docstring for one batch (everything but the acknowledgement)."""
    started = time.perf_counter()
    db = workspace.database
    unique = list({message.id: message for message in messages}.values())
    ids = [message.id for message in unique]
    done = committed_entries(db, source, ids)
    fresh = [message for message in unique if message.id not in done]
    accepted = quarantined = duplicates = 0
    if fresh:
        fresh_ids = [message.id for message in fresh]

        def record(commit: Committing) -> None:
            record_entries(commit, source, fresh_ids, at)

        ingest = ingest_lines(
            db,
            workspace.secret,
            workspace.config.ingest,
            [call_line(message, source) for message in fresh],
            name=f"{source} {fresh_ids[0]}..{fresh_ids[-1]}",
            now=at,
            within=record,
        )
        accepted, quarantined, duplicates = ingest.accepted, ingest.quarantined, ingest.duplicates
    touched = touched_contacts(db, source, ids)
    run_id, reassigned, changed = assigner.reassign(touched, at)
    return BatchReport(
        messages=len(messages),
        redelivered=len(messages) - len(fresh),
        accepted=accepted,
        quarantined=quarantined,
        duplicates=duplicates,
        touched=len(touched),
        reassigned=reassigned,
        changed=changed,
        run_id=run_id,
        seconds=round(time.perf_counter() - started, 3),
    )


def call_line(message: StreamMessage, source: str) -> bytes:
    """The message as one line of JSON Lines, for the ingest to judge.

    A call (a JSON object) without a ``messageId`` gets ``<source>:<message id>``; any
    other payload is passed on as it is, on one line (line breaks escaped; a blank one
    as ``""``), to be quarantined with the reader's reason.
    """
    payload = message.payload
    try:
        call = orjson.loads(payload)
    except orjson.JSONDecodeError:
        call = None
    if isinstance(call, dict):
        if call.get("type") != "identify" and not str(call.get("messageId") or "").strip():
            call["messageId"] = f"{source}:{message.id}"
            return orjson.dumps(call)
        if b"\n" not in payload and b"\r" not in payload:
            return payload
        return orjson.dumps(call)
    if not payload.strip():
        return b'""'
    return payload.replace(b"\r", b"\\r").replace(b"\n", b"\\n")


class Reassigner:
    """Assigns contacts with the newest segment-tree run's model, loaded once per run."""

    def __init__(self, workspace: StreamWorkspace) -> None:
        self.workspace = workspace
        self._run: str | None = None
        self._model: SegmentAssigner | None = None
        self._reference: RfmReference | None = None
        self._rows = RuleRows(workspace.database, workspace.config.features)

    def reassign(self, contact_ids: Sequence[str], at: datetime) -> tuple[str | None, int, int]:
        """``(run_id, contacts assigned, changes recorded)`` for ``contact_ids`` at ``at``;
        ``(None, 0, 0)`` when the workspace has no segment-tree run yet."""
        db = self.workspace.database
        run = latest_tree_run(db)
        if run is None or not contact_ids:
            return run, 0, 0
        model, reference = self._loaded(run)
        rows = self._rows(at, contact_ids)
        if rows.empty:
            return run, 0, 0
        segments = model.assign(reference.score(rows))["segment_id"]
        assigned = pd.DataFrame({"contact_id": rows["contact_id"], "segment_id": segments})
        return run, len(assigned), record_changes(db, run, assigned, at, CHANGE_SOURCE)

    def _loaded(self, run: str) -> tuple[SegmentAssigner, RfmReference]:
        if run != self._run or self._model is None or self._reference is None:
            _created, as_of, _config, _metrics = read_run(self.workspace.database, run)
            self._model = self.workspace.assigner(run)
            self._reference = RfmReference.load(self.workspace.database, as_of)
            self._run = run
            logger.info("re-assigning with run %s", run)
        return self._model, self._reference
