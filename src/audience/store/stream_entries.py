"""The stream messages already committed (``stream_entries``), one row per message.

A message is recorded inside the transaction of the ingest that stored its call, so it
is either stored and recorded, or neither. A message delivered again (after a crash
between the commit and the acknowledgement) is then recognised by its id and not
ingested twice, and the contact its call touched is known without reading it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd

from audience.store.database import Database, registered
from audience.store.loading import Committing

_ASKED = (
    "FROM stream_entries s SEMI JOIN _asked_entries a ON a.entry_id = s.entry_id WHERE s.source = ?"
)


def committed_entries(db: Database, source: str, entry_ids: Sequence[str]) -> set[str]:
    """Which of ``entry_ids`` of ``source`` are already committed."""
    rows = _asked(db, f"SELECT DISTINCT s.entry_id {_ASKED}", source, entry_ids)
    return {str(row[0]) for row in rows}


def touched_contacts(db: Database, source: str, entry_ids: Sequence[str]) -> list[str]:
    """The contacts whose calls are among the committed ``entry_ids``, sorted."""
    sql = f"SELECT DISTINCT s.contact_id {_ASKED} AND s.contact_id IS NOT NULL ORDER BY 1"
    return [str(row[0]) for row in _asked(db, sql, source, entry_ids)]


def record_entries(commit: Committing, source: str, entry_ids: Sequence[str], at: datetime) -> None:
    """Record the ingest's messages as committed: ``entry_ids[n]`` is line ``n + 1`` of the
    ingest, and its contact that of the line's accepted row (none if it was rejected)."""
    lines = pd.DataFrame({"line": range(1, len(entry_ids) + 1), "entry_id": list(entry_ids)})
    with registered(commit.con, "_entry_lines", lines):
        commit.con.execute(
            "INSERT INTO stream_entries "
            "SELECT ?, e.entry_id, ?, a.contact_id, ? FROM _entry_lines e "
            f"LEFT JOIN ({Committing.ACCEPTED_LINES}) a ON a.line = e.line",
            [source, commit.ingest_id, at],
        )


def _asked(
    db: Database, sql: str, source: str, entry_ids: Sequence[str]
) -> list[tuple[object, ...]]:
    if not entry_ids:
        return []
    asked = pd.DataFrame({"entry_id": pd.Series(list(entry_ids), dtype=object)})
    with registered(db.con, "_asked_entries", asked):
        rows: list[tuple[object, ...]] = db.con.execute(sql, [source]).fetchall()
    return rows
