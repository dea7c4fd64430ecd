"""Files already ingested: the earlier ingest of the same bytes, found by checksum.

Every ingest records its file's fingerprint (SHA-256 and size,
:mod:`audience.ingest.fingerprint`). A file whose bytes an earlier ingest of the same kind
read holds nothing new: ``audience ingest`` reports it without reading a row
(:func:`already_ingested`, unless asked ``again``), and ``audience refresh`` leaves it in its
drop folder. Hashing runs at about 1 GB/s, so a 200 MB file is recognised in a fraction of
a second; :func:`known_sizes` lets a caller skip hashing a file whose size no ingest had.

Nothing is recorded for a file recognised: the workspace is left exactly as it was, so a
refresh sees no new ingest and the incremental features see no change.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from audience.ingest import Kind
from audience.ingest.fingerprint import Fingerprint
from audience.store.database import Database
from audience.validate import IngestReport


@dataclass(frozen=True, kw_only=True)
class AlreadyIngested(IngestReport):
    """The report of a file whose bytes were ingested before, and so not read again.

    Its counts are the earlier ingest's, as a full read would find them now: every row
    the earlier ingest quarantined is quarantined again (for the same reasons), every
    other row is a duplicate of what it stored (``duplicates = rows_read - quarantined``,
    ``accepted = 0``), so ``rows_read = accepted + quarantined + duplicates`` holds.
    ``ingest_id`` is the earlier ingest's: no new one is recorded.
    """

    skipped_as: str
    """The id of the earlier ingest of the same bytes."""
    ingested_at: datetime
    """When that ingest started."""


def known_sizes(db: Database) -> set[int]:
    """The sizes of every file ingested before (a file of another size is new)."""
    rows = db.con.execute(
        "SELECT DISTINCT file_size FROM ingests WHERE file_size IS NOT NULL"
    ).fetchall()
    return {int(row[0]) for row in rows}


def earlier_ingest(db: Database, mark: Fingerprint, kind: Kind | None = None) -> str | None:
    """The id of the first ingest of these bytes (as ``kind``, if given), or None."""
    rows = db.con.execute(
        "SELECT ingest_id FROM ingests WHERE checksum = ? AND file_size = ? "
        "AND (CAST(? AS VARCHAR) IS NULL OR kind = ?) ORDER BY started_at, ingest_id LIMIT 1",
        [mark.checksum, mark.size, kind, kind],
    ).fetchall()
    return str(rows[0][0]) if rows else None


def already_ingested(
    db: Database, mark: Fingerprint, kind: Kind, source: str, started: float
) -> AlreadyIngested | None:
    """The report for a file whose bytes were ingested before as ``kind``, or None;
    ``started`` is when the caller began (``time.perf_counter``)."""
    ingest_id = earlier_ingest(db, mark, kind)
    if ingest_id is None:
        return None
    rows = db.con.execute(
        "SELECT started_at, format, rows_read, quarantined, report FROM ingests "
        "WHERE ingest_id = ?",
        [ingest_id],
    ).fetchall()
    started_at, format_, rows_read, quarantined, stored = rows[0]
    earlier: dict[str, Any] = orjson.loads(stored)
    return AlreadyIngested(
        ingest_id=ingest_id,
        source=source,
        kind=kind,
        format=format_,
        rows_read=rows_read,
        accepted=0,
        quarantined=quarantined,
        duplicates=rows_read - quarantined,
        quarantine_reasons=dict(earlier.get("quarantine_reasons", {})),
        mapping=dict(earlier.get("mapping", {})),
        ignored_columns=tuple(earlier.get("ignored_columns", ())),
        seconds=round(time.perf_counter() - started, 3),
        skipped_as=ingest_id,
        ingested_at=started_at,
    )
