"""The ``feature_sets`` table: how the features at each ``as_of`` were computed.

One row per ``as_of`` with stored features, replaced with them. It records what the
computation saw (the ingests committed and the number of events stored when it started) and
which definitions it used (a fingerprint and the features config), so that a refresh can
start from those features and find what changed since: the rows of every ingest not in
``ingests``. Rows reach ``contacts`` and ``events`` only through the loader, which writes
its ``ingests`` record in the same transaction; the event count detects anything else
(events deleted, or written outside an ingest), after which a refresh computes everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson

from audience.store.database import Database
from audience.store.results import first_row, scalar_int

Method = Literal["full", "incremental"]


@dataclass(frozen=True)
class Snapshot:
    """What the workspace held when a computation started, read in one transaction."""

    ingests: tuple[str, ...]
    events: int


@dataclass(frozen=True)
class FeatureSet:
    """One row of ``feature_sets``."""

    as_of: datetime
    computed_at: datetime
    method: Method
    previous_as_of: datetime | None
    definitions: str
    """A fingerprint of the feature definitions and config (``features.table``)."""
    config: dict[str, Any]
    """The features config that affects values (every field but ``memory_limit``)."""
    snapshot: Snapshot
    contacts: int
    """Rows stored at ``as_of``."""
    recomputed: int
    """Contacts whose features were computed from their events (all of them for ``full``)."""


def take_snapshot(db: Database) -> Snapshot:
    """The ingests committed and the events stored, as one consistent view."""
    with db.transaction() as con:
        rows = con.execute("SELECT ingest_id FROM ingests ORDER BY ingest_id").fetchall()
        events = scalar_int(con, "SELECT count(*) FROM events")
    return Snapshot(tuple(str(row[0]) for row in rows), events)


def save_feature_set(db: Database, record: FeatureSet) -> None:
    """Store ``record``, replacing any earlier one at its ``as_of``."""
    with db.transaction() as con:
        con.execute("DELETE FROM feature_sets WHERE as_of = ?", [record.as_of])
        con.execute(
            "INSERT INTO feature_sets VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                record.as_of,
                record.computed_at,
                record.method,
                record.previous_as_of,
                record.definitions,
                orjson.dumps(record.config).decode(),
                list(record.snapshot.ingests),
                record.snapshot.events,
                record.contacts,
                record.recomputed,
            ],
        )


def read_feature_set(db: Database, as_of: datetime) -> FeatureSet | None:
    """The record of the features at ``as_of``, or None if there is none."""
    row = first_row(
        db.con.execute(
            "SELECT as_of, computed_at, method, previous_as_of, definitions, config, ingests, "
            "events, contacts, recomputed FROM feature_sets WHERE as_of = ?",
            [as_of],
        )
    )
    if row is None:
        return None
    (
        as_of_,
        computed_at,
        method,
        previous,
        definitions,
        config,
        ingests,
        events,
        contacts,
        redone,
    ) = row
    return FeatureSet(
        as_of=as_of_,
        computed_at=computed_at,
        method=method,
        previous_as_of=previous,
        definitions=str(definitions),
        config=orjson.loads(config),
        snapshot=Snapshot(tuple(ingests), int(events)),
        contacts=int(contacts),
        recomputed=int(redone),
    )
