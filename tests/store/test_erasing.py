"""Erasing a person: every table accounted for, the person gone, the others untouched, the
log without their id or email, and a failure midway leaving the workspace as it was."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from audience import Workspace
from audience.errors import ConfigError, NotFoundError
from audience.models.hierarchical import HierarchicalSegmenter
from audience.segments.assign import BranchAssigner, SegmentAssigner
from audience.segments.erasing import ModelScrub, erase
from audience.store.erasing import KEPT, QUARANTINE, ErasureRequest, tables, unaccounted
from audience.store.model_files import ModelFiles
from audience.synth import generate
from tests.conftest import table_contents, write
from tests.models.audiences import AS_OF

TARGET = "C0000007"
DECOY = "C00000071"
"""A quarantined id that starts with the target's: its rows must stay."""
ERASED_AT = datetime(2026, 7, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A segmented workspace where the target is in every table that can hold a person."""
    folder = tmp_path_factory.mktemp("erasing")
    generated = generate(folder / "data", contacts=500, seed=5, as_of=AS_OF)
    bad = write(
        folder / "bad_contacts.csv",
        "Customer ID,Email Address,Signup Date\n"
        f"{TARGET},not-an-email,2024-01-01T00:00:00Z\n"
        f"{DECOY},decoy@example.com,yesterday-ish\n",
    )
    with Workspace.init(folder / "ws") as ws:
        ws.ingest(generated.contacts_path, now=AS_OF)
        ws.ingest(generated.events_path, now=AS_OF)
        ws.ingest(bad, kind="contacts", now=AS_OF)
        ws.segment(AS_OF)
        run = ws.run_id()
        con = ws.database.con
        for contact in (TARGET, "C0000008"):
            con.execute(
                "INSERT INTO membership_changes VALUES (?, ?, ?, 'a', 'b', 'stream')",
                [AS_OF, run, contact],
            )
            con.execute(
                "INSERT INTO stream_entries VALUES ('redis:s', ?, 'i', ?, ?)",
                [f"1-{contact}", contact, AS_OF],
            )
    return folder / "ws"


@pytest.fixture
def ws(built: Path, tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace(shutil.copytree(built, tmp_path / "ws"))
    yield workspace
    workspace.close()


def _email(ws: Workspace, contact: str) -> str:
    rows = ws.database.con.execute(
        "SELECT email FROM contacts WHERE contact_id = ?", [contact]
    ).fetchall()
    return str(rows[0][0])


def _model_bytes(ws: Workspace) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(ws.models.folder.iterdir())}


def test_every_table_is_erased_or_kept_for_a_stated_reason(ws: Workspace) -> None:
    """A table added later without erasure coverage fails here (and erase refuses to run)."""
    found = tables(ws.database.con)
    assert unaccounted(ws.database.con) == []
    for table, columns in found.items():
        assert "contact_id" in columns or table == QUARANTINE or KEPT.get(table), table
    assert set(KEPT) <= set(found), "KEPT names a table that does not exist"
    assert {"contacts", "events", "memberships", "features", "stream_entries"} <= {
        t for t, cols in found.items() if "contact_id" in cols
    }


def test_the_person_is_gone_from_every_table_and_the_others_are_untouched(
    ws: Workspace,
) -> None:
    con = ws.database.con
    before = table_contents(ws)
    person_tables = sorted(t for t, cols in tables(con).items() if "contact_id" in cols)
    positions = {
        t: [r[0] for r in con.execute(f"DESCRIBE {t}").fetchall()].index("contact_id")
        for t in person_tables
    }
    for table in person_tables:
        assert any(r[positions[table]] == TARGET for r in before[table]), table

    result = ws.erase(contact_id=TARGET, requested_by="tests", now=ERASED_AT)

    after = table_contents(ws)
    for table in person_tables:
        kept = [r for r in before[table] if r[positions[table]] != TARGET]
        assert after[table] == kept, table
        assert result.counts[table] == len(before[table]) - len(kept), table
    raw = [str(r) for r in after[QUARANTINE]]
    assert not any(TARGET + "'" in r or f'"{TARGET}"' in r for r in raw)
    assert any(DECOY in r for r in raw)
    assert result.counts[QUARANTINE] == 1
    for table in set(KEPT) - {"erasures"}:
        assert after[table] == before[table], table
    assert len(after["erasures"]) == len(before["erasures"]) + 1


def test_the_log_entry_holds_no_id_or_email_in_clear(ws: Workspace) -> None:
    email = _email(ws, TARGET)
    result = ws.erase(contact_id=TARGET, requested_by="tests", now=ERASED_AT)
    rows = ws.database.con.execute("SELECT * FROM erasures").fetchall()
    assert len(rows) == 1
    text = repr(rows[0]).lower()
    assert TARGET.lower() not in text
    assert email.lower() not in text
    assert email.split("@")[0].lower() not in text
    assert "tests" in text
    assert result.erasure_id in text
    assert result.contacts == 1
    assert result.counts["contacts"] == 1


def test_a_repeated_request_is_recognised_from_the_log(ws: Workspace) -> None:
    ws.erase(contact_id=TARGET, now=ERASED_AT)
    with pytest.raises(NotFoundError, match="already erased on 2026-07-01"):
        ws.erase(contact_id=TARGET, now=ERASED_AT)


def test_an_email_is_matched_trimmed_and_in_any_case(ws: Workspace) -> None:
    email = _email(ws, TARGET)
    result = ws.erase(email=f"  {email.upper()} ", now=ERASED_AT)
    assert result.contacts == 1
    left = ws.database.con.execute(
        "SELECT count(*) FROM contacts WHERE contact_id = ?", [TARGET]
    ).fetchall()
    assert left == [(0,)]
    with pytest.raises(NotFoundError, match="already erased"):
        ws.erase(email=email, now=ERASED_AT)


@pytest.mark.parametrize(
    ("contact_id", "email"), [(None, None), ("C0000001", "a@b.c"), ("  ", None)]
)
def test_exactly_one_of_contact_or_email(contact_id: str | None, email: str | None) -> None:
    with pytest.raises(ConfigError, match="exactly one of --contact ID or --email ADDRESS"):
        ErasureRequest(contact_id=contact_id, email=email)


def test_an_unknown_person_is_not_found_and_changes_nothing(ws: Workspace) -> None:
    before = table_contents(ws)
    with pytest.raises(NotFoundError, match="no contact C9999999"):
        ws.erase(contact_id="C9999999")
    assert table_contents(ws) == before


def test_a_failure_before_the_commit_leaves_everything_as_it_was(ws: Workspace) -> None:
    before, models = table_contents(ws), _model_bytes(ws)

    def fail(_con: object) -> None:
        raise RuntimeError("injected")

    with pytest.raises(RuntimeError, match="injected"):
        erase(
            ws.database,
            ws.models,
            ws.secret,
            ErasureRequest(contact_id=TARGET),
            requested_by="tests",
            now=ERASED_AT,
            then=fail,
        )
    assert table_contents(ws) == before
    assert _model_bytes(ws) == models


def test_the_persons_model_files_lose_the_per_row_labels_and_still_assign(
    ws: Workspace,
) -> None:
    run = ws.run_id()
    estimators = [b.estimator for b in ws.assigner(run).branches.values()]
    assert estimators
    assert all(hasattr(e, "labels_") for e in estimators)
    rows = ws.database.con.execute(
        "SELECT f.*, c.consent, c.signup_at, NULL AS email_domain FROM features f "
        "JOIN contacts c USING (contact_id) WHERE contact_id <> ? ORDER BY contact_id LIMIT 50",
        [TARGET],
    ).df()
    expected = ws.assigner(run).assign(rows)

    result = ws.erase(contact_id=TARGET, now=ERASED_AT)

    assert result.models == {run: "rewritten"}
    scrubbed = ws.assigner(run)  # loads only with a good signature
    assert not any(hasattr(b.estimator, "labels_") for b in scrubbed.branches.values())
    assert scrubbed.assign(rows).equals(expected)


def _rows_keeping_assigner(run: str) -> SegmentAssigner:
    points = np.random.default_rng(0).normal(size=(40, 2))
    estimator = HierarchicalSegmenter(n_clusters=2).fit(points)
    branch = BranchAssigner(None, estimator, ("x", "y"), {0: "a", 1: "b"})  # type: ignore[arg-type]
    return SegmentAssigner(run, "CASE WHEN TRUE THEN 'all' END", {"all": branch})


def test_a_model_that_keeps_training_rows_is_removed_and_restored_on_failure(
    tmp_path: Path,
) -> None:
    files = ModelFiles(tmp_path / "models", bytes(32))
    _rows_keeping_assigner("run-1").save(files)
    (tmp_path / "models" / "run-2.joblib").write_bytes(b"unsigned, from an old workspace")
    original = {r: files.read_bytes(r) for r in ("run-1", "run-2")}
    scrub = ModelScrub.plan(files, ["run-1", "run-2", "run-3"])
    assert scrub.removed == ["run-1", "run-2"]
    assert not scrub.rewritten
    assert scrub.apply() == {"run-1": "removed", "run-2": "removed"}
    assert files.run_ids() == []
    scrub.restore()
    assert {r: files.read_bytes(r) for r in ("run-1", "run-2")} == original
