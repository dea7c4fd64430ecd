"""Helpers shared by the tests of audience.synth: constants and readers of generated files."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pandas as pd
import pyarrow.parquet as pq

from audience.synth import GenerateResult

# A Tuesday, mid-morning: a newsletter has just gone out, so its opens straddle as_of.
AS_OF = datetime(2025, 7, 1, 11, 0, tzinfo=UTC)
ISO_MS = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"
ISO_S = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"


@dataclass(frozen=True)
class Audience:
    result: GenerateResult
    contacts: pd.DataFrame
    """Every row of contacts.csv, as strings."""
    truth: pd.DataFrame
    events: pd.DataFrame
    """Every well-formed row of the events file."""
    malformed_lines: list[bytes]


def read_contacts(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def read_jsonl(path: Path) -> tuple[pd.DataFrame, list[bytes]]:
    """Rows flattened like the Parquet file (properties as columns), and unparseable lines."""
    rows, malformed = [], []
    for line in path.read_bytes().splitlines():
        try:
            call = orjson.loads(line)
        except orjson.JSONDecodeError:
            malformed.append(line)
            continue
        rows.append(
            {
                "message_id": call["messageId"],
                "user_id": call.get("userId"),
                "event": call["event"],
                "timestamp": call["timestamp"],
                **call["properties"],
            }
        )
    return pd.DataFrame(rows), malformed


def load(result: GenerateResult) -> Audience:
    if result.events_path.suffix == ".parquet":
        events, malformed = pq.read_table(result.events_path).to_pandas(), []
    else:
        events, malformed = read_jsonl(result.events_path)
    return Audience(
        result=result,
        contacts=read_contacts(result.contacts_path),
        truth=read_contacts(result.truth_path),
        events=events,
        malformed_lines=malformed,
    )
