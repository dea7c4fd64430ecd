"""``audience erase`` through Typer's CliRunner: whom to erase, what it says, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from audience import Workspace
from tests.conftest import NOW, write
from tests.test_cli import run


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    folder = tmp_path / "ws"
    contacts = write(
        tmp_path / "contacts.csv",
        "Customer ID,Email Address,Signup Date\n"
        "C1,Ann@Example.com,2024-01-01T00:00:00Z\n"
        "C2,bob@example.com,2024-01-02T00:00:00Z\n",
    )
    with Workspace.init(folder) as workspace:
        workspace.ingest(contacts, now=NOW)
    return folder


def _contacts(folder: Path) -> list[str]:
    with Workspace(folder, access="read") as workspace:
        rows = workspace.database.con.execute(
            "SELECT contact_id FROM contacts ORDER BY 1"
        ).fetchall()
    return [str(r[0]) for r in rows]


def test_erase_by_contact_says_what_it_removed(ws: Path) -> None:
    code, output = run("erase", "--contact", "C1", "-w", str(ws))
    assert code == 0, output
    assert "contacts 1" in output
    assert "erased (erasure-" in output
    assert _contacts(ws) == ["C2"]


def test_erase_by_email_matches_it_as_ingest_stored_it(ws: Path) -> None:
    code, output = run("erase", "--email", " ANN@example.com", "-w", str(ws))
    assert code == 0, output
    assert _contacts(ws) == ["C2"]


@pytest.mark.parametrize(
    "args", [[], ["--contact", "C1", "--email", "bob@example.com"]], ids=["neither", "both"]
)
def test_erase_needs_exactly_one_of_contact_or_email(ws: Path, args: list[str]) -> None:
    code, output = run("erase", *args, "-w", str(ws))
    assert code == 1
    assert "exactly one of --contact ID or --email ADDRESS" in output
    assert "Traceback" not in output
    assert _contacts(ws) == ["C1", "C2"]


def test_an_unknown_contact_is_one_paragraph_and_exit_1(ws: Path) -> None:
    code, output = run("erase", "--contact", "C404", "-w", str(ws))
    assert code == 1
    assert "no contact C404 in this workspace" in output
    assert "Traceback" not in output
