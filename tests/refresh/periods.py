"""Generated audiences in two periods, for refreshes: what the first run saw, and the files
a later day drops into the inbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from audience.synth import generate


@dataclass(frozen=True)
class Periods:
    first: list[Path]
    """What is ingested before the first run: contacts, then events."""
    later: list[Path]
    """What a later refresh finds in the drop folder."""
    truth: pd.DataFrame
    """``contact_id``, ``persona``."""


def split_by_time(folder: Path, *, contacts: int, seed: int, as_of: datetime, days: int) -> Periods:
    """One audience; its events after ``as_of - days`` arrive later."""
    generated = generate(folder / "data", contacts=contacts, seed=seed, as_of=as_of)
    events = pq.read_table(generated.events_path)
    moment = _moments(events)
    cut = pa.scalar((as_of - timedelta(days=days)).replace(tzinfo=None), type=pa.timestamp("s"))
    first, later = folder / "events.parquet", folder / "later" / "events-later.parquet"
    later.parent.mkdir()
    pq.write_table(events.filter(pc.less_equal(moment, cut)), first)
    pq.write_table(events.filter(pc.greater(moment, cut)), later)
    return Periods([generated.contacts_path, first], [later], _truth(generated.truth_path))


def yesterdays_workspace(folder: Path, periods: Periods, *, now: datetime, at: datetime) -> Path:
    """A workspace at ``folder`` with the first period ingested and segmented at ``at``."""
    from audience import Workspace

    with Workspace.init(folder) as ws:
        for path in periods.first:
            ws.ingest(path, now=now)
        ws.segment(at)
    return folder


def persona_swap(
    folder: Path, *, contacts: int, seed: int, as_of: datetime, add: str, remove: str
) -> Periods:
    """One audience; persona ``add`` arrives later (its contacts and all their events), and
    every contact of persona ``remove`` unsubscribes the day before ``as_of``."""
    generated = generate(folder / "data", contacts=contacts, seed=seed, as_of=as_of)
    truth = _truth(generated.truth_path)
    rows = pd.read_csv(generated.contacts_path, dtype=str, keep_default_na=False)
    events = pq.read_table(generated.events_path).to_pandas()
    added = set(truth.loc[truth["persona"] == add, "contact_id"])
    leaving = sorted(truth.loc[truth["persona"] == remove, "contact_id"])
    first_contacts, first_events = folder / "contacts.csv", folder / "events.parquet"
    later = folder / "later"
    later.mkdir()
    rows[~rows["Customer ID"].isin(added)].to_csv(first_contacts, index=False)
    _parquet(events[~events["user_id"].isin(added)], first_events)
    rows[rows["Customer ID"].isin(added)].to_csv(later / "contacts-added.csv", index=False)
    unsubscribed = pd.DataFrame(
        {
            "message_id": [f"leave-{contact}" for contact in leaving],
            "user_id": leaving,
            "event": "Unsubscribed",
            "timestamp": (as_of - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        }
    )
    arriving = pd.concat([events[events["user_id"].isin(added)], unsubscribed], ignore_index=True)
    _parquet(arriving, later / "events-later.parquet")
    return Periods(
        [first_contacts, first_events],
        [later / "contacts-added.csv", later / "events-later.parquet"],
        truth,
    )


def _moments(events: pa.Table) -> pa.ChunkedArray:
    """The generator writes ISO 8601 text (``2026-05-12T08:26:17.271Z``): to the second."""
    text = pc.utf8_slice_codeunits(events["timestamp"], 0, 19)
    return pc.strptime(text, format="%Y-%m-%dT%H:%M:%S", unit="s")


def _parquet(frame: pd.DataFrame, path: Path) -> None:
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)


def _truth(path: Path) -> pd.DataFrame:
    return pd.read_csv(path).rename(columns={"Customer ID": "contact_id"})
