"""A data profile of the workspace: what is in it, at a glance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from audience.store.results import first_row, scalar_int


@dataclass(frozen=True)
class DataProfile:
    """Counts and ranges of the workspace tables."""

    contacts: int
    contacts_by_consent: dict[str, int]
    events: int
    events_by_type: dict[str, int]
    first_event: datetime | None
    last_event: datetime | None
    contacts_with_events: int
    events_without_contact: int
    quarantined: int
    quarantine_by_reason: dict[str, int]


def profile(con: duckdb.DuckDBPyConnection) -> DataProfile:
    """Profile the workspace tables in a handful of aggregate queries."""
    first, last = first_row(
        con.execute('SELECT min("timestamp"), max("timestamp") FROM events')
    ) or (
        None,
        None,
    )
    return DataProfile(
        contacts=scalar_int(con, "SELECT count(*) FROM contacts"),
        contacts_by_consent=_grouped(
            con, "SELECT coalesce(consent, '(unknown)'), count(*) FROM contacts GROUP BY 1"
        ),
        events=scalar_int(con, "SELECT count(*) FROM events"),
        events_by_type=_grouped(con, "SELECT event, count(*) FROM events GROUP BY 1"),
        first_event=first,
        last_event=last,
        contacts_with_events=scalar_int(
            con,
            "SELECT count(*) FROM contacts c WHERE EXISTS "
            "(SELECT 1 FROM events e WHERE e.contact_id = c.contact_id)",
        ),
        events_without_contact=scalar_int(
            con,
            "SELECT count(*) FROM events e WHERE NOT EXISTS "
            "(SELECT 1 FROM contacts c WHERE c.contact_id = e.contact_id)",
        ),
        quarantined=scalar_int(con, "SELECT count(*) FROM quarantine"),
        quarantine_by_reason=_grouped(con, "SELECT reason, count(*) FROM quarantine GROUP BY 1"),
    )


def _grouped(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, int]:
    rows = con.execute(sql + " ORDER BY 2 DESC, 1").fetchall()
    return {str(key): int(count) for key, count in rows}
