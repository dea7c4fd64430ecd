"""Features of one contact from its raw attributes and recent events, for live assignment.

The calls (a Segment ``identify`` for the attributes, ``track``/``page`` calls for the
events) go through the same ingest as files, into a throwaway database, so they are
checked and normalised exactly as a file's rows would be; the feature table is then
computed there by the same expressions as for the workspace.

RFM scores are quintiles *within an audience*: computed over one contact they would say
nothing. They are scored here against the buyers of the run's stored features instead
(the same ``1 + floor(5 × percent_rank)``, with this contact ranked among them).
"""

from __future__ import annotations

import json
import math
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
from audience.features.scores import PROSPECTS, RFM_GROUPS
from audience.segments.branches import RULE_COLUMNS, rule_rows_sql
from audience.store import Database
from audience.store.ingesting import ingest_file
from audience.store.results import first_row
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
    with tempfile.TemporaryDirectory(prefix="audience-live-") as folder:
        path = Path(folder) / "calls.jsonl"
        path.write_text(calls_as_jsonl(calls), encoding="utf-8")
        with Database(Path(folder) / "live.duckdb", memory_limit="256MB", threads=1) as db:
            report = ingest_file(db, secret, config.ingest, path, kind="events", now=as_of)
            rejected = rejected_rows(db, report.ingest_id)
            row = _feature_row(db, config, as_of)
    if row.empty:
        reasons = "; ".join(f"{r['reason']}: {r['detail']}" for r in rejected if r["line"] == 1)
        raise ConfigError(
            "the contact's attributes were rejected, so it has no features: "
            f"{reasons or 'no contact row'}. Fix the traits and retry."
        )
    return LiveFeatures(row, report, rejected)


def calls_as_jsonl(calls: Sequence[Mapping[str, Any]]) -> str:
    """One call per line, as a file of them would hold (the stdlib's encoder: JSON numbers
    of any size pass through to the ingest, which judges them as it judges a file's)."""
    return "\n".join(json.dumps(call, default=str, ensure_ascii=False) for call in calls)


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


def _feature_row(db: Database, config: WorkspaceConfig, as_of: datetime) -> pd.DataFrame:
    import ibis

    from audience.features.table import feature_table
    from audience.store.engines import duckdb_backend

    backend = duckdb_backend(db.con)
    expression = feature_table(
        backend.table("contacts"), backend.table("events"), as_of, config.features
    )
    sql = ibis.to_sql(expression, dialect="duckdb")
    features: pd.DataFrame = db.con.sql(rule_rows_sql(f"({sql})")).df()
    return features[list(RULE_COLUMNS)]


def rescore_rfm(row: pd.DataFrame, reference: Database, as_of: datetime) -> pd.DataFrame:
    """R, F, M and the RFM group of a one-row frame, ranked among the reference buyers."""
    scored = row.copy()
    orders = scored["order_count"].iloc[0]
    if not orders or orders < 1:
        scored[["r_score", "f_score", "m_score"]] = None
        scored["rfm_group"] = PROSPECTS
        return scored
    recency = float(scored["recency_days"].iloc[0])
    revenue = float(scored["revenue_total"].iloc[0])
    counts = first_row(
        reference.con.execute(
            "SELECT count(*), count(*) FILTER (recency_days > $r), "
            "count(*) FILTER (order_count < $f), count(*) FILTER (revenue_total < $m) "
            "FROM features WHERE as_of = $as_of AND order_count >= 1",
            {"r": recency, "f": int(orders), "m": revenue, "as_of": as_of},
        )
    )
    buyers, above_r, below_f, below_m = counts or (0, 0, 0, 0)
    r, f, m = (_quintile(n, buyers) for n in (above_r, below_f, below_m))
    scored["r_score"], scored["f_score"], scored["m_score"] = r, f, m
    scored["rfm_group"] = rfm_group(r, f, m)
    return scored


def rfm_group(r: int, f: int, m: int) -> str:
    """The first named group whose R and FM ranges hold (as in ``features.scores``)."""
    fm = math.floor((f + m + 1) / 2)
    for name, r_lo, r_hi, fm_lo, fm_hi in RFM_GROUPS:
        if r_lo <= r <= r_hi and fm_lo <= fm <= fm_hi:
            return name
    return "Lost"


def _quintile(ranked_before: int, others: int) -> int:
    # percent_rank among others + 1 rows = rows ranked before / others.
    share = ranked_before / others if others else 0.0
    return min(1 + math.floor(share * 5), 5)
