"""The ingest step from end to end: read a file, check every row, store it atomically.

``ingest_file`` reads a file (:mod:`audience.ingest`), checks every row
(:mod:`audience.validate`) and stores the result in one transaction
(:mod:`audience.store.loading`). It lives in ``store`` because it is the last of the three
packages it chains; the CLI, the server and refreshes all call it.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from audience.config import IngestConfig
from audience.errors import ConfigError, StorageFullError
from audience.ingest import (
    ColumnMapping,
    Kind,
    RawBatch,
    ReadChunk,
    Source,
    open_source,
    resolve_columns,
    to_fields,
)
from audience.ingest.fingerprint import fingerprint
from audience.ingest.sources import detect_format, guess_kind
from audience.progress import RowProgress
from audience.store import Database
from audience.store.engine_lane import engine_lane
from audience.store.known_files import already_ingested
from audience.store.loading import Loader, LoadResult, Table, Within
from audience.validate import (
    Checked,
    IngestReport,
    Rules,
    check_contacts,
    check_events,
    check_orders,
)

_CHECKS = {"contacts": check_contacts, "events": check_events, "orders": check_orders}
_TABLE: dict[Kind, Table] = {"contacts": "contacts", "events": "events", "orders": "events"}


def resolve_kind(path: Path, kind: Kind | None) -> Kind:
    """The kind given, or the one the file's name or format implies."""
    if kind is not None:
        return kind
    guessed = guess_kind(path, detect_format(path)) if path.is_file() else None
    if guessed is None:
        raise ConfigError(
            f"cannot tell what {path} holds; pass --kind contacts, --kind events or --kind orders."
        )
    return guessed


def ingest_lines(
    db: Database,
    secret: bytes,
    config: IngestConfig,
    lines: Iterable[bytes],
    *,
    name: str,
    now: datetime,
    within: Within | None = None,
) -> IngestReport:
    """Ingest JSON Lines held in memory (Segment calls, one per line, none containing a
    line break) exactly as a file of them: line ``n`` of the quarantine is the ``n``-th
    line given. ``name`` is the source the ingest records."""
    with tempfile.TemporaryDirectory(prefix="audience-lines-") as folder:
        path = Path(folder) / "calls.jsonl"
        path.write_bytes(b"\n".join(lines))
        # Calls are read again even when a batch repeats one byte for byte: batches are
        # small, and ``within`` records each call (a stream's entries) with its ingest.
        return ingest_file(
            db,
            secret,
            config,
            path,
            kind="events",
            now=now,
            source_name=name,
            within=within,
            again=True,
        )


def calls_as_jsonl(calls: Sequence[Mapping[str, Any]]) -> list[bytes]:
    """One line per call, as a file of them would hold (the stdlib's encoder: JSON numbers
    of any size pass through to the ingest, which judges them as it judges a file's)."""
    return [_call_line(call) for call in calls]


def _call_line(call: Mapping[str, Any]) -> bytes:
    try:
        return json.dumps(call, default=str, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        # A lone surrogate ("\udfff", which JSON may escape) is not text UTF-8 can hold:
        # the line keeps it escaped, as the caller sent it, and the ingest quarantines it
        # as it would that line of a file.
        return json.dumps(call, default=str).encode()


class _Tally:
    """Where the rows of one ingest went, as they are read."""

    def __init__(self) -> None:
        self.rows_read = 0
        self.in_engine = 0
        self.reasons: Counter[str] = Counter()
        self.mapping: dict[str, str] = {}
        self.ignored: dict[str, None] = {}

    def saw(self, mapping: ColumnMapping) -> None:
        self.mapping.update(mapping.renames)
        self.ignored.update(dict.fromkeys(mapping.ignored))


def ingest_file(
    db: Database,
    secret: bytes,
    config: IngestConfig,
    path: Path,
    *,
    kind: Kind,
    explicit: Mapping[str, str] | None = None,
    now: datetime,
    encoding: str = "utf-8",
    progress: RowProgress | None = None,
    source_name: str | None = None,
    within: Within | None = None,
    again: bool = False,
) -> IngestReport:
    """Ingest one file: every row is accepted, quarantined, or counted as a duplicate.

    Atomic: if anything fails, the workspace is left exactly as it was. ``source_name`` is
    what the ingest and its quarantine rows record as their source (default: the path);
    ``within`` writes the caller's own rows inside the ingest's transaction. A file whose
    bytes were ingested before as ``kind`` is not read: the report is an
    :class:`~audience.store.known_files.AlreadyIngested`, unless ``again`` asks a full read.
    """
    started = time.perf_counter()
    source = open_source(path, kind, encoding=encoding)
    mark = fingerprint(path)
    name = source_name or str(path)
    if not again and (known := already_ingested(db, mark, kind, name, started)) is not None:
        return known
    # CSV and Parquet have one header for the whole file: check it once, before any row.
    header = None
    if source.format != "jsonl":
        header = resolve_columns(source.columns, kind, explicit, source=str(path))
        source.check_mapped(header.renames)
    loader = Loader(db, uuid.uuid4().hex[:16], name, mark)
    tally = _Tally()
    checking = _Checking(loader, tally, header, explicit, secret, config, now)
    # DuckDB's share of memory is smaller while Python validates chunks beside it.
    with db.memory_limit(config.memory_limit):
        try:
            for chunk in checking.chunks(source):
                checking.check(chunk)
                if progress is not None:
                    progress(tally.rows_read)

            def finish(result: LoadResult) -> IngestReport:
                seconds = time.perf_counter() - started
                return _report(loader.ingest_id, name, source, kind, tally, result, seconds)

            return loader.commit(now, finish, within)
        except (duckdb.OutOfMemoryException, duckdb.IOException) as exc:
            loader.discard()
            raise _storage_full(name, exc, config) from None
        except BaseException:
            loader.discard()
            raise


def _storage_full(name: str, exc: duckdb.Error, config: IngestConfig) -> StorageFullError:
    first = str(exc).splitlines()[0][:300]
    return StorageFullError(
        f"cannot store {name}: the workspace ran out of room while writing its rows ({first}). "
        f"Free disk space in the workspace folder and the temporary directory, or raise "
        f"[ingest] memory_limit (now {config.memory_limit}) in audience.toml, and retry. "
        f"Nothing was stored."
    )


@dataclass(frozen=True)
class _Checking:
    """What checking the rows of one ingest needs: where they are staged and counted, the
    file's mapping (None for JSON Lines: each chunk's keys), and the rules' settings."""

    loader: Loader
    tally: _Tally
    header: ColumnMapping | None
    explicit: Mapping[str, str] | None
    secret: bytes
    config: IngestConfig
    now: datetime

    def rules(self, mapping: ColumnMapping) -> Rules:
        tolerance = timedelta(hours=self.config.future_tolerance_hours)
        return Rules(self.now, tolerance, mapping, self.config.earliest_timestamp)

    def chunks(self, source: Source) -> Iterator[ReadChunk]:
        """The chunks the pandas checks are to see: every row of the file, or, when DuckDB
        staged the rows that plainly pass (:mod:`audience.store.engine_lane`), the rest."""
        lane = None
        if self.config.engine_checks:
            table = _TABLE[source.kind]
            lane = engine_lane(
                self.loader, source, table, self.header, self.explicit, self.rules, self.secret
            )
        if lane is None:
            return source.chunks(self.config.chunk_rows)
        self.tally.rows_read += lane.staged
        self.tally.in_engine = lane.staged
        self.tally.saw(lane.mapping)
        return lane.leftovers(self.config.chunk_rows)

    def check(self, chunk: ReadChunk) -> None:
        """Check a chunk's rows in pandas: stage the accepted, keep the rejected."""
        tally, loader = self.tally, self.loader
        tally.rows_read += chunk.rows
        if chunk.unreadable:
            loader.reject(pd.DataFrame([vars(bad) for bad in chunk.unreadable]))
            tally.reasons.update(bad.reason for bad in chunk.unreadable)
        for batch in chunk.batches:
            mapping = self.header or resolve_columns(
                list(batch.frame.columns), batch.kind, self.explicit, require=False
            )
            tally.saw(mapping)
            fields = to_fields(batch.frame, mapping, self.secret)
            checked = _CHECKS[batch.kind](fields, batch.lines, self.rules(mapping))
            loader.stage(_TABLE[batch.kind], checked.accepted)
            loader.reject(_rejects(batch, checked))
            tally.reasons.update(checked.reasons)


def _rejects(batch: RawBatch, checked: Checked) -> pd.DataFrame:
    positions = checked.rejected
    return pd.DataFrame(
        {
            "line": batch.lines[positions],
            "kind": batch.kind,
            "reason": checked.reasons,
            "detail": checked.details,
            "raw": batch.raw(positions),
        }
    )


def _report(
    ingest_id: str,
    name: str,
    source: Source,
    kind: Kind,
    tally: _Tally,
    result: LoadResult,
    seconds: float,
) -> IngestReport:
    reasons = dict(tally.reasons)
    if result.conflicts:
        reasons["duplicate_id_conflict"] = (
            reasons.get("duplicate_id_conflict", 0) + result.conflicts
        )
    return IngestReport(
        ingest_id=ingest_id,
        source=name,
        kind=kind,
        format=source.format,
        rows_read=tally.rows_read,
        accepted=sum(result.inserted.values()) + result.updated,
        quarantined=result.staged_rejects + result.conflicts,
        duplicates=result.duplicates,
        inserted=dict(result.inserted),
        updated=result.updated,
        quarantine_reasons=dict(sorted(reasons.items(), key=lambda item: (-item[1], item[0]))),
        mapping=tally.mapping,
        ignored_columns=tuple(tally.ignored),
        seconds=round(seconds, 3),
        checked_in_engine=tally.in_engine,
    )
