"""The engine lane changes speed, never results.

Random files mixing plainly valid rows with every kind of unusual or invalid value are
ingested twice from one workspace copied in two: with ``[ingest] engine_checks`` (DuckDB
checks the plain rows, Python the rest) and without (Python checks every row). Every
stored table, every quarantined row with its reason, detail and raw text, and the report's
counts must be equal, and the lane must have taken most rows (or the test proves nothing).
"""

from __future__ import annotations

import csv
import json
import random
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from audience import Workspace
from audience.config import CONFIG_FILE

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

PLAIN_TIMES = [
    "2025-03-05T10:22:11Z",
    "2024-12-31 23:59:59",
    "2025-01-02",
    "2025-05-31T08:00:00.5Z",
]
ODD_TIMES = [
    "2025-03-05T10:22:11.123456+02:00",
    "2025-03-05T10:22:11.1234567Z",
    "2025-02-30T00:00:00Z",
    "2025-03-05T24:00:00Z",
    " 2025-03-05T10:22:11Z ",
    "\t2025-03-05",
    "03/05/2025",
    "1989-12-31",
    "1990-01-01",
    "2030-01-01",
    "2025-06-02T12:00:00Z",
    "2025-06-02T12:00:01Z",
    "",
    "2025-03-05T10:22Z",
    "2025-03-05T10:22:11+0100",
    "20250305T102211Z",
    "nan",
    "2025-03-05T10:22:11-05:30",
    "2025-03-05T23:59:60Z",
]
PLAIN_NUMBERS = ["12.5", "0", "3", "149.99", ""]
ODD_NUMBERS = [
    "-1",
    "1e3",
    "1,5",
    "$3",
    " 7 ",
    "999999999999.999999",
    "1000000000000",
    "1000000000001",
    "1e400",
    "NaN",
    "inf",
    ".5",
    "5.",
    "00012",
    "0.1",
    "0.30000000000000004",
    "123456789012.123456",
    "\u00a012",
]
QUANTITIES = ["1", "0", "", "-2", "1.0", "2.5", "1000000000", "1000000001", "9" * 20, " 3", "x"]
BOOLEANS = ["true", "FALSE", "Yes", "n", "1", "0", "", "2", " t", "maybe", "T"]
IDS = ["C1", "C2", "C3", " C4 ", "c5@x.com", "", "\u00a0C6", "C7\t", "=cmd", "Ü8", "C9"]
EMAILS = [
    "",
    "Ann@Example.com",
    " bob@example.org ",
    "bad",
    "a..b@c.com",
    ".a@c.com",
    "=1+2@x.com",
    "-a@x.com",
    "+a@x.com",
    "é@x.com",
    "a" * 65 + "@x.com",
    "x@y",
    "x@-y.com",
    "dan.o'neil+tag@sub.example.co.uk",
    "\u00a0eve@example.com",
]
EVENTS = ["Email Opened", "Email Clicked", "Order Completed", "", " ", "Product Viewed"]
COUNTRIES = ["us", "Germany", "ß", "de ", "ÉU", "", "GB", "fr"]
CONSENTS = ["Subscribed", "yes", "Opted In", "weird", "", " no ", "CLEANED", "1", "Ja"]
TEXTS = ["cmp_1", "", "  ", "home", "x\u2003", "=HYPERLINK(1)", "ok"]


def _pick(rng: random.Random, plain: list[str], odd: list[str], odd_share: float) -> str:
    return rng.choice(odd) if rng.random() < odd_share else rng.choice(plain)


def _event_row(rng: random.Random, number: int, odd: float) -> dict[str, str]:
    message = f"m{number}" if rng.random() > 0.05 else rng.choice(["m1", "m2", ""])
    return {
        "message_id": message,
        "user_id": _pick(rng, ["C1", "C2", "C3"], IDS, odd),
        "email": _pick(rng, [""], EMAILS, odd),
        "event": _pick(rng, ["Email Opened", "Product Viewed"], EVENTS, odd),
        "timestamp": _pick(rng, PLAIN_TIMES, ODD_TIMES, odd),
        "revenue": _pick(rng, PLAIN_NUMBERS, ODD_NUMBERS, odd),
        "price": _pick(rng, PLAIN_NUMBERS, ODD_NUMBERS, odd),
        "quantity": _pick(rng, ["1", "2", ""], QUANTITIES, odd),
        "is_machine_open": _pick(rng, ["true", "false", ""], BOOLEANS, odd),
        "campaign_id": _pick(rng, ["cmp_1", "cmp_2"], TEXTS, odd),
        "category": _pick(rng, ["home", ""], TEXTS, odd),
    }


def _contact_row(rng: random.Random, number: int, odd: float) -> dict[str, str]:
    contact = f"C{number}" if rng.random() > 0.05 else rng.choice(["C1", "", "x@y.com"])
    return {
        "Customer ID": _pick(rng, [contact], IDS, odd / 2),
        "Email Address": _pick(rng, [f"p{number}@example.com"], EMAILS, odd),
        "Country": _pick(rng, ["US", "de"], COUNTRIES, odd),
        "Signup Date": _pick(rng, PLAIN_TIMES, ODD_TIMES, odd),
        "Email Consent": _pick(rng, ["subscribed", "unsubscribed"], CONSENTS, odd),
        "Open Rate": _pick(rng, ["0.25", "1", ""], ["1.5", "-0.1", "x", "0.333333"], odd),
    }


def _write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _typed_parquet(path: Path, rows: list[dict[str, str]]) -> Path:
    """Events with native types where a real export has them."""

    def number(text: str) -> float | None:
        try:
            return float(text)
        except ValueError:
            return None

    def whole(text: str) -> int | None:
        value = number(text)
        return (
            int(value) if value is not None and value.is_integer() and abs(value) < 1e12 else None
        )

    table = pa.table(
        {
            "message_id": [r["message_id"] or None for r in rows],
            "user_id": [r["user_id"] or None for r in rows],
            "event": [r["event"] or None for r in rows],
            "timestamp": [r["timestamp"] for r in rows],
            "revenue": pa.array([number(r["revenue"]) for r in rows], pa.float64()),
            "price": pa.array([number(r["price"]) for r in rows], pa.float32()),
            "quantity": pa.array([whole(r["quantity"]) for r in rows], pa.int64()),
            "is_machine_open": pa.array(
                [{"true": True, "false": False}.get(r["is_machine_open"]) for r in rows]
            ),
            "campaign_id": [r["campaign_id"] for r in rows],
        }
    )
    pq.write_table(table, path, row_group_size=97)
    return path


def _native_times_parquet(path: Path, rows: list[dict[str, str]]) -> Path:
    stamps = [
        datetime(2025, 1, 1, tzinfo=UTC).replace(microsecond=i % 1000) for i in range(len(rows))
    ]
    stamps[3] = datetime(1980, 1, 1, tzinfo=UTC)
    stamps[5] = datetime(2026, 1, 1, tzinfo=UTC)
    table = pa.table(
        {
            "message_id": [r["message_id"] or None for r in rows],
            "userId": [r["user_id"] or None for r in rows],
            "event": [r["event"] or None for r in rows],
            "timestamp": pa.array(stamps, pa.timestamp("us", tz="UTC")),
            "sent_at": pa.array([s.replace(tzinfo=None) for s in stamps], pa.timestamp("ms")),
            "quantity": pa.array([float(i % 4) if i % 7 else 2.5 for i in range(len(rows))]),
        }
    )
    pq.write_table(table, path, row_group_size=50)
    return path


def _json_value(rng: random.Random, text: str, odd: float) -> object:
    """The value as a JSON export might hold it: mostly text, sometimes a number."""
    if rng.random() < odd:
        try:
            number = float(text)
        except ValueError:
            return text or None
        return int(number) if number.is_integer() and rng.random() < 0.5 else number
    return text


def _segment_call(rng: random.Random, number: int, odd: float) -> str:
    row = _event_row(rng, number, odd)
    properties: dict[str, object] = {
        key: _json_value(rng, row[key], odd)
        for key in ("revenue", "price", "quantity", "campaign_id", "category")
        if row[key] or rng.random() < odd
    }
    if row["is_machine_open"] in ("true", "false") and rng.random() > odd:
        properties["is_machine_open"] = row["is_machine_open"] == "true"
    elif row["is_machine_open"]:
        properties["is_machine_open"] = row["is_machine_open"]
    call: dict[str, object] = {
        "type": "track" if rng.random() > odd / 3 else rng.choice(["page", "identify", 7]),
        "messageId": row["message_id"] or None,
        "userId": row["user_id"] if rng.random() > odd / 3 else rng.choice([12, None, {"a": 1}]),
        "event": row["event"],
        "timestamp": row["timestamp"] if rng.random() > odd / 3 else None,
        "properties": properties,
    }
    if rng.random() < odd / 3:
        call["context"] = {"traits": {"email": rng.choice(EMAILS)}}
    if rng.random() < odd / 3:
        properties["products"] = [{"category": "toys", "quantity": 2}, {"quantity": 1}]
    if rng.random() < odd / 3:
        properties["address"] = {"country": "FR"}
    line = json.dumps({k: v for k, v in call.items() if v is not None or rng.random() < 0.5})
    if rng.random() < odd / 3:
        plain = '{"type": "track", "event": "x", "timestamp": "2025-01-02", "userId": "C1", '
        return rng.choice(
            [
                "{not json",
                '{"type": "track", "revenue": NaN}',
                "[1, 2]",
                "",
                "   ",
                plain + '"extra": NaN}',
                plain + '"extra": -Infinity}',
                plain + '"extra": 1e400}',
                plain + '"extra": 123456789012345678901234}',
                plain + '"extra": 1,}',
                plain + '"userId": "C2"}',
                plain + '"extra": "\\udfff"}',
            ]
        )
    return line


def _calls(folder: Path, rng: random.Random, odd: float) -> tuple[Path, str]:
    path = folder / "calls.jsonl"
    path.write_text("\n".join(_segment_call(rng, i, odd) for i in range(600)) + "\n", "utf-8")
    return path, "events"


Builder = Callable[[Path, random.Random, float], tuple[Path, str]]


def _events_csv(folder: Path, rng: random.Random, odd: float) -> tuple[Path, str]:
    rows = [_event_row(rng, i, odd) for i in range(600)]
    return _write_csv(folder / "events.csv", rows), "events"


def _contacts_csv(folder: Path, rng: random.Random, odd: float) -> tuple[Path, str]:
    rows = [_contact_row(rng, i, odd) for i in range(600)]
    return _write_csv(folder / "contacts.csv", rows), "contacts"


def _events_parquet(folder: Path, rng: random.Random, odd: float) -> tuple[Path, str]:
    rows = [_event_row(rng, i, odd) for i in range(600)]
    return _typed_parquet(folder / "events.parquet", rows), "events"


def _native_parquet(folder: Path, rng: random.Random, odd: float) -> tuple[Path, str]:
    rows = [_event_row(rng, i, odd) for i in range(300)]
    return _native_times_parquet(folder / "native.parquet", rows), "events"


BUILDERS: dict[str, Builder] = {
    "events-csv": _events_csv,
    "contacts-csv": _contacts_csv,
    "events-parquet": _events_parquet,
    "events-parquet-native-types": _native_parquet,
    "segment-calls-jsonl": _calls,
}


def _twins(tmp_path: Path) -> tuple[Path, Path]:
    """Two workspaces with one secret: the second checks every row in Python."""
    lane = tmp_path / "lane"
    Workspace.init(lane).close()
    python = tmp_path / "python"
    shutil.copytree(lane, python)
    config = python / CONFIG_FILE
    text = config.read_text(encoding="utf-8")
    assert "engine_checks = true" in text
    config.write_text(text.replace("engine_checks = true", "engine_checks = false"), "utf-8")
    return lane, python


def _ingest(folder: Path, paths: list[tuple[Path, str]]) -> tuple[list[dict[str, Any]], Any]:
    with Workspace(folder) as ws:
        reports = [
            ws.ingest(path, kind=kind, now=NOW, again=True).to_dict() for path, kind in paths
        ]  # type: ignore[arg-type]
        con = ws.database.con
        stored = {
            name: sorted(
                con.execute(f"SELECT * EXCLUDE (ingest_id) FROM {name}").fetchall(), key=repr
            )
            for name in ("contacts", "events", "quarantine")
        }
    return reports, stored


_VARYING = ("ingest_id", "seconds", "checked_in_engine")


@pytest.mark.parametrize("odd", [0.02, 0.3])
@pytest.mark.parametrize("name", list(BUILDERS))
def test_the_lane_stores_exactly_what_python_checks_store(
    name: str, odd: float, tmp_path: Path
) -> None:
    lane, python = _twins(tmp_path)
    rng = random.Random(f"{name}-{odd}")
    files = tmp_path / "files"
    files.mkdir()
    path, kind = BUILDERS[name](files, rng, odd)
    # Twice: the second ingest of the same file meets every row as stored.
    fast_reports, fast = _ingest(lane, [(path, kind), (path, kind)])
    slow_reports, slow = _ingest(python, [(path, kind), (path, kind)])
    for fast_report, slow_report in zip(fast_reports, slow_reports, strict=True):
        assert slow_report["checked_in_engine"] == 0
        assert {k: v for k, v in fast_report.items() if k not in _VARYING} == {
            k: v for k, v in slow_report.items() if k not in _VARYING
        }
    assert fast_reports[0]["checked_in_engine"] > fast_reports[0]["rows_read"] * (0.7 - 2 * odd)
    assert fast == slow
    assert fast["events"] or fast["contacts"]
    assert fast["quarantine"]
