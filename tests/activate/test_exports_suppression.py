"""Exports obey the run's own suppression rules, not a hard-coded copy of the defaults.

Issue 17: a user who adds a suppression rule (here a do-not-mail domain) used to find
those contacts in every export. The rules are evaluated again at export time on the
contacts as they are now, so a contact whose email moved to that domain after the run is
left out, in every platform's format.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from audience import Workspace
from audience.activate.exports import LAYOUTS, PLATFORMS
from audience.config import CONFIG_FILE
from audience.synth import generate
from tests.models.audiences import AS_OF

RULE = "do_not_mail = \"email_domain = 'blocked.example'\"\n"


@pytest.fixture(scope="module")
def moved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, str, str]:
    """A run with a custom suppression rule; then one customer's email moves to the
    blocked domain (a newer contacts export)."""
    folder = tmp_path_factory.mktemp("exports")
    data = generate(folder / "data", contacts=1_500, seed=8, as_of=AS_OF)
    ws = Workspace.init(folder / "ws")
    config = ws.path / CONFIG_FILE
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("[segments.suppress]\n", "[segments.suppress]\n" + RULE))
    ws = Workspace(folder / "ws")
    ws.ingest(data.contacts_path, now=AS_OF)
    ws.ingest(data.events_path, now=AS_OF)
    run = ws.segment(AS_OF).run_id
    contact = ws.database.con.execute(
        "SELECT contact_id FROM memberships WHERE run_id = ? AND segment_id LIKE 'customers/%' "
        "ORDER BY contact_id LIMIT 1",
        [run],
    ).fetchall()[0][0]
    update = folder / "contacts-update.csv"
    update.write_text(
        f"Customer ID,Email Address\n{contact},moved@blocked.example\n", encoding="utf-8"
    )
    ws.ingest(update, kind="contacts", now=AS_OF)
    return ws, run, contact


@pytest.mark.parametrize("platform", [None, *PLATFORMS])
def test_a_contact_matching_the_runs_own_rule_is_never_exported(
    moved: tuple[Workspace, str, str], platform: str | None, tmp_path: Path
) -> None:
    ws, run, contact = moved
    path = tmp_path / "out.csv"
    result = ws.export("customers", path, platform=platform, run_id=run)  # type: ignore[arg-type]
    layout = LAYOUTS[platform]
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=layout.delimiter))
    cells = {cell for row in rows[1:] for cell in row}
    assert "moved@blocked.example" not in cells
    assert contact not in cells
    assert result.suppressed_now >= 1
    assert len(rows) - 1 == result.rows


def test_the_rule_is_the_runs_and_the_export_counts_its_members(
    moved: tuple[Workspace, str, str], tmp_path: Path
) -> None:
    ws, run, _contact = moved
    members = ws.database.con.execute(
        "SELECT count(*) FROM memberships WHERE run_id = ? AND segment_id LIKE 'customers/%'",
        [run],
    ).fetchall()[0][0]
    result = ws.export("customers", tmp_path / "all.csv", run_id=run)
    assert result.rows + result.suppressed_now + result.without_email == members
    rules = ws.segments(run).set_index("segment_id").loc["suppressed/do_not_mail", "definition"]
    assert rules["rule"] == "email_domain = 'blocked.example'"
