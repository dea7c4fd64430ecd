"""Features of one contact from its raw attributes and recent events, for live assignment.

The calls (a Segment ``identify`` for the attributes, ``track``/``page`` calls for the
events) go through the same ingest as files, into a throwaway database, so they are
checked and normalised exactly as a file's rows would be; the feature table is then
computed there by the same expressions as for the workspace.

RFM scores are quintiles *within an audience*: computed over one contact they would say
nothing. They are scored against the buyers of the run's stored features instead
(:func:`audience.segments.contact_rows.rescore_rfm`).
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from audience.config import WorkspaceConfig
from audience.errors import ConfigError
from audience.segments.branches import RULE_COLUMNS
from audience.segments.contact_rows import rule_rows
from audience.store import Database
from audience.store.ingesting import calls_as_jsonl, ingest_lines
from audience.validate import IngestReport

LIVE_CONTACT = "live-contact"


@dataclass(frozen=True)
class LiveFeatures:
    row: pd.DataFrame
    """One row: every rule column (features, consent, signup_at, email_domain)."""
    report: IngestReport
    rejected: list[dict[str, Any]]


def live_features(
    traits: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    *,
    as_of: datetime,
    config: WorkspaceConfig,
    secret: bytes,
) -> LiveFeatures:
    """Ingest the calls into a throwaway database and compute the contact's features
    (RFM scores not yet ranked: see :func:`rescore_rfm`)."""
    calls = [{"type": "identify", "userId": LIVE_CONTACT, "traits": dict(traits)}]
    calls += [_as_track(event) for event in events]
    with (
        tempfile.TemporaryDirectory(prefix="audience-live-") as folder,
        Database(Path(folder) / "live.duckdb", memory_limit="256MB", threads=1) as db,
    ):
        lines = calls_as_jsonl(calls)
        report = ingest_lines(db, secret, config.ingest, lines, name="live", now=as_of)
        rejected = rejected_rows(db, report.ingest_id)
        row = rule_rows(db, config.features, as_of)[list(RULE_COLUMNS)]
    if row.empty:
        reasons = "; ".join(f"{r['reason']}: {r['detail']}" for r in rejected if r["line"] == 1)
        raise ConfigError(
            "the contact's attributes were rejected, so it has no features: "
            f"{reasons or 'no contact row'}. Fix the traits and retry."
        )
    return LiveFeatures(row, report, rejected)


def rejected_rows(db: Database, ingest_id: str) -> list[dict[str, Any]]:
    """The quarantined rows of an ingest: line, reason, detail and the raw row."""
    rows = db.con.execute(
        "SELECT line, kind, reason, detail, raw FROM quarantine WHERE ingest_id = ? ORDER BY line",
        [ingest_id],
    ).fetchall()
    names = ("line", "kind", "reason", "detail", "raw")
    return [dict(zip(names, row, strict=True)) for row in rows]


def _as_track(event: Mapping[str, Any]) -> dict[str, Any]:
    call = {"type": "track", **event, "userId": LIVE_CONTACT}
    call.setdefault("messageId", uuid.uuid4().hex)
    return call
