"""generate(): files, determinism, truth, argument checking, chunking."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from audience.errors import GenerateError
from audience.synth import PERSONAS, generate
from audience.synth.generator import CHUNK_CONTACTS
from tests.synth.audiences import AS_OF, ISO_S, Audience

CONTACT_HEADER = "Customer ID,Email Address,First Name,Country,Signup Date,Email Consent"
STORE_COUNTRIES = {"US", "GB", "DE", "FR", "CA", "AU", "NL", "ES", "IT", "SE", "IE", "AT", "CH"}
EVENT_SCHEMA = pa.schema(
    [
        ("message_id", pa.string()),
        ("user_id", pa.string()),
        ("event", pa.string()),
        ("timestamp", pa.string()),
        ("campaign_id", pa.string()),
        ("is_machine_open", pa.bool_()),
        ("link_url", pa.string()),
        ("bounce_type", pa.string()),
        ("category", pa.string()),
        ("product_id", pa.string()),
        ("price", pa.float64()),
        ("revenue", pa.float64()),
        ("order_id", pa.string()),
        ("quantity", pa.int64()),
    ]
)


def _files(out_dir: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(out_dir.iterdir())}


@pytest.mark.parametrize("events_format", ["parquet", "jsonl"])
def test_same_arguments_give_byte_identical_files(tmp_path: Path, events_format: str) -> None:
    for name in ("a", "b"):
        generate(
            tmp_path / name,
            contacts=300,
            seed=42,
            as_of=AS_OF,
            events_format=events_format,  # type: ignore[arg-type]
            dirty=0.1,
        )
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_another_seed_gives_different_files(tmp_path: Path) -> None:
    generate(tmp_path / "a", contacts=300, seed=1, as_of=AS_OF)
    generate(tmp_path / "b", contacts=300, seed=2, as_of=AS_OF)
    first, second = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert first.keys() == second.keys() == {"contacts.csv", "events.parquet", "truth.csv"}
    assert all(first[name] != second[name] for name in first)


def test_contacts_file_has_the_documented_header_and_values(clean: Audience) -> None:
    header = clean.result.contacts_path.read_text(encoding="utf-8").split("\n", 1)[0]
    assert header == CONTACT_HEADER
    contacts = clean.contacts
    assert contacts["Customer ID"].str.fullmatch(r"C\d{7}").all()
    assert contacts["Customer ID"].is_unique
    assert set(contacts["Country"]) <= STORE_COUNTRIES
    assert contacts["Signup Date"].str.fullmatch(ISO_S).all()
    assert set(contacts["Email Consent"]) <= {"subscribed", "unsubscribed", "cleaned"}
    assert (contacts["First Name"].str.len() > 0).all()


def test_email_addresses_are_unique_and_only_some_carry_formatting_noise(
    clean: Audience,
) -> None:
    email = clean.contacts["Email Address"]
    normalised = email.str.strip().str.lower()
    assert normalised.str.fullmatch(r"[a-z0-9._+]+@[a-z0-9.-]+\.[a-z]{2,}").all()
    assert normalised.is_unique
    noisy_share = (email != normalised).mean()
    assert 0.01 <= noisy_share <= 0.035  # about 2 %


def test_names_keep_their_accents_in_utf8(clean: Audience) -> None:
    assert clean.contacts["First Name"].str.contains(r"[^\x00-\x7f]").any()


def test_events_parquet_has_the_documented_flat_schema(clean: Audience) -> None:
    assert pq.read_schema(clean.result.events_path) == EVENT_SCHEMA


def test_truth_covers_exactly_the_clean_contacts(clean: Audience) -> None:
    truth = clean.truth
    assert list(truth.columns) == ["Customer ID", "persona"]
    assert truth["Customer ID"].is_unique
    assert set(truth["Customer ID"]) == set(clean.contacts["Customer ID"])
    assert len(truth) == clean.result.n_contacts == 2000
    assert set(truth["persona"]) == {persona.name for persona in PERSONAS}


def test_every_persona_appears_with_roughly_its_share(clean: Audience) -> None:
    shares = clean.truth["persona"].value_counts(normalize=True)
    for persona in PERSONAS:
        assert shares[persona.name] == pytest.approx(persona.share, abs=0.04), persona.name
    assert clean.result.persona_counts == clean.truth["persona"].value_counts().to_dict()


def test_result_counts_match_the_files(clean: Audience) -> None:
    result = clean.result
    assert result.contact_rows == len(clean.contacts) == result.n_contacts
    assert result.event_rows == len(clean.events) == result.n_events
    assert set(result.dirty_contacts.values()) == {0}
    assert set(result.dirty_events.values()) == {0}
    # About 50 events per contact on average.
    assert 35 <= result.n_events / result.n_contacts <= 75


def test_files_are_renamed_into_place_and_nothing_else_is_left(tmp_path: Path) -> None:
    out_dir = tmp_path / "new" / "folder"
    generate(out_dir, contacts=50, seed=3, as_of=AS_OF, events_format="jsonl")
    assert sorted(path.name for path in out_dir.iterdir()) == [
        "contacts.csv",
        "events.jsonl",
        "truth.csv",
    ]


def test_chunks_continue_numbering_and_report_progress(tmp_path: Path) -> None:
    calls: list[int] = []
    contacts = CHUNK_CONTACTS + 250
    result = generate(tmp_path, contacts=contacts, seed=9, as_of=AS_OF, progress=calls.append)
    assert calls == [CHUNK_CONTACTS, 250]
    assert pq.ParquetFile(result.events_path).num_row_groups == 2
    events = pq.read_table(result.events_path, columns=["message_id", "order_id"])
    assert pd.Series(events["message_id"].to_numpy()).is_unique
    assert events["order_id"].drop_null().to_pandas().is_unique
    truth = pd.read_csv(result.truth_path)
    assert truth["Customer ID"].is_unique
    assert len(truth) == contacts


NAIVE = datetime(2025, 6, 30)


@pytest.mark.parametrize(
    ("arguments", "named", "shown"),
    [
        ({"contacts": 0}, "contacts", "0"),
        ({"contacts": -5}, "contacts", "-5"),
        ({"contacts": 2.5}, "contacts", "2.5"),
        ({"dirty": 0.5}, "dirty", "0.5"),
        ({"dirty": -0.1}, "dirty", "-0.1"),
        ({"dirty": math.nan}, "dirty", "nan"),
        ({"as_of": NAIVE}, "as_of", "datetime.datetime(2025, 6, 30, 0, 0)"),
        ({"seed": -1}, "seed", "-1"),
        ({"events_format": "csv"}, "events_format", "'csv'"),
    ],
)
def test_impossible_arguments_raise_generate_error_naming_them(
    tmp_path: Path, arguments: dict[str, object], named: str, shown: str
) -> None:
    call: dict[str, object] = {"contacts": 10, "seed": 1, "as_of": AS_OF, **arguments}
    with pytest.raises(GenerateError) as raised:
        generate(tmp_path / "out", **call)  # type: ignore[arg-type]
    message = str(raised.value)
    assert message.startswith(f"{named} must be")
    assert shown in message
    assert not (tmp_path / "out").exists()


def test_an_existing_file_as_out_dir_raises_generate_error(tmp_path: Path) -> None:
    existing = tmp_path / "contacts.csv"
    existing.write_text("not a folder")
    with pytest.raises(GenerateError, match="out_dir must be a folder"):
        generate(existing, contacts=10, seed=1, as_of=AS_OF)


def test_as_of_in_another_time_zone_means_the_same_instant(tmp_path: Path) -> None:
    paris = AS_OF.astimezone(ZoneInfo("Europe/Paris"))
    generate(tmp_path / "utc", contacts=60, seed=4, as_of=AS_OF)
    generate(tmp_path / "paris", contacts=60, seed=4, as_of=paris)
    assert _files(tmp_path / "utc") == _files(tmp_path / "paris")


def test_numpy_integers_are_accepted_as_counts_and_seeds(tmp_path: Path) -> None:
    result = generate(tmp_path, contacts=np.int64(30), seed=np.uint32(4), as_of=AS_OF)  # type: ignore[arg-type]
    assert result.n_contacts == 30


def test_a_failed_run_leaves_no_files_behind(tmp_path: Path) -> None:
    def interrupt(_: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate(tmp_path, contacts=30, seed=4, as_of=AS_OF, progress=interrupt)
    assert list(tmp_path.iterdir()) == []
