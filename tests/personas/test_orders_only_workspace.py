"""An orders-only shop (contacts and orders, no email or site events), ingested and segmented
through the CLI: its personas speak of orders and tenure only (issue 13.6: a segment was
qualified "(little browsing)" and non-buyers called "Dormant" on data without opens)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from audience import Workspace
from audience.cli import app
from audience.synth import generate
from tests.models.audiences import AS_OF

runner = CliRunner()
ABSENT = re.compile(r"brows|site|visit|email|open|click|read|dormant", re.IGNORECASE)
"""Words about behaviour an orders-only shop's data does not hold."""


def audience(*args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def orders_only_files(folder: Path) -> tuple[Path, Path]:
    """contacts.csv and orders.csv (a shop's order export) of a synthetic audience."""
    generated = generate(folder / "synth", contacts=2_000, seed=3, as_of=AS_OF)
    events = pd.read_parquet(generated.events_path)
    orders = events.loc[events["event"] == "Order Completed"]
    orders = orders.dropna(subset=["user_id", "order_id", "revenue"]).drop_duplicates("order_id")
    export = orders[["user_id", "order_id", "timestamp", "revenue"]].set_axis(
        ["Customer ID", "Order ID", "Order Date", "Order Total"], axis=1
    )
    export.to_csv(folder / "orders.csv", index=False)
    shutil.copy(generated.contacts_path, folder / "contacts.csv")
    return folder / "contacts.csv", folder / "orders.csv"


@pytest.mark.slow
def test_orders_only_personas_never_mention_email_or_browsing(tmp_path: Path) -> None:
    contacts, orders = orders_only_files(tmp_path)
    ws = str(tmp_path / "ws")
    audience("init", ws)
    audience("ingest", str(contacts), "-w", ws)
    audience("ingest", str(orders), "-w", ws)
    audience("segment", "--as-of", f"{AS_OF:%Y-%m-%d}", "-w", ws)
    with Workspace(Path(ws)) as workspace:
        events = workspace.profile().events_by_type
        segments = workspace.segments()
    assert set(events) == {"Order Completed"}
    clustered = segments[segments["parent_id"].isin(["customers", "prospects"])]
    assert len(clustered) >= 3
    said = [
        text
        for name, traits in zip(clustered["name"], clustered["traits"], strict=True)
        for text in (name, *traits)
    ]
    assert [text for text in said if ABSENT.search(text)] == []
    assert any("order" in text.lower() for text in said)
