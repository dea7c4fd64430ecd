"""``generate``: draw the audience chunk by chunk and write the three files.

Every chunk has its own random stream, spawned from the seed, and the few counters that span
chunks (contact numbers, event and order numbers, bad-row numbers) advance in chunk order, so
the output depends on the arguments only and memory on the chunk size only.
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa

from audience.errors import GenerateError
from audience.synth.calendar import CampaignCalendar, build_calendar
from audience.synth.catalogue import Catalogue, build_catalogue
from audience.synth.contacts import (
    CONTACT_COLUMNS,
    ContactNumbers,
    consent_from_events,
    contact_ids,
    contacts_table,
    customer_id_digits,
)
from audience.synth.dirty import (
    CONTACT_DIRTY_KINDS,
    DirtyEvents,
    DirtyPlan,
    dirty_contacts,
    dirty_events,
    event_dirty_kinds,
)
from audience.synth.email import email_events
from audience.synth.events import TableContext, by_contact_and_time, concat_batches, events_table
from audience.synth.personas import persona_names
from audience.synth.population import draw_population
from audience.synth.site import site_events
from audience.synth.writers import (
    CONTACTS_FILE,
    EVENTS_FILES,
    TRUTH_FILE,
    CsvWriter,
    events_writer,
)

logger = logging.getLogger(__name__)

CHUNK_CONTACTS = 20_000
"""Contacts per chunk (and per Parquet row group): about a million events, ~400 MB at peak."""

MAX_DIRTY = 0.5


@dataclass(frozen=True)
class GenerateResult:
    """What :func:`generate` wrote, and how much of it is clean."""

    contacts_path: Path
    events_path: Path
    truth_path: Path
    n_contacts: int
    """Clean contacts (= rows of the truth file)."""
    n_events: int
    """Clean events."""
    contact_rows: int
    """Rows written to the contacts file, bad rows included."""
    event_rows: int
    """Rows (lines) written to the events file, bad rows included."""
    dirty_contacts: dict[str, int]
    """Bad contact rows by kind."""
    dirty_events: dict[str, int]
    """Bad event rows by kind (``malformed_json`` only for JSONL)."""
    persona_counts: dict[str, int]
    """Clean contacts by planted persona."""


@dataclass
class _Tally:
    """Counters that span chunks."""

    contacts: int = 0
    events: int = 0
    orders: int = 0
    dirty_contacts: dict[str, int] = field(default_factory=dict)
    dirty_events: dict[str, int] = field(default_factory=dict)
    personas: dict[str, int] = field(default_factory=dict)

    def add(self, counts: dict[str, int], into: dict[str, int]) -> None:
        for key, value in counts.items():
            into[key] = into.get(key, 0) + value


@dataclass(frozen=True)
class _World:
    """What all chunks share: the run's arguments, the newsletter calendar and the catalogue."""

    as_of_ms: int
    contacts: int
    dirty: float
    events_format: Literal["parquet", "jsonl"]
    calendar: CampaignCalendar
    catalogue: Catalogue
    id_key: int


def generate(
    out_dir: Path,
    *,
    contacts: int,
    seed: int,
    as_of: datetime,
    events_format: Literal["parquet", "jsonl"] = "parquet",
    dirty: float = 0.0,
    progress: Callable[[int], None] | None = None,
) -> GenerateResult:
    """Write ``contacts.csv``, ``events.parquet``/``events.jsonl`` and ``truth.csv`` to out_dir.

    See :mod:`audience.synth` for the contract. Raises GenerateError on impossible arguments.
    """
    out_dir = Path(out_dir)
    _check_arguments(out_dir, contacts, seed, as_of, events_format, dirty)
    contacts, seed = int(contacts), int(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    world_seed, *chunk_seeds = np.random.SeedSequence(seed).spawn(
        1 + math.ceil(contacts / CHUNK_CONTACTS)
    )
    world = _build_world(world_seed, as_of, contacts, dirty, events_format)
    tally = _Tally(
        dirty_contacts=dict.fromkeys(CONTACT_DIRTY_KINDS, 0),
        dirty_events=dict.fromkeys(event_dirty_kinds(events_format), 0),
        personas=dict.fromkeys(persona_names(), 0),
    )
    paths = (out_dir / CONTACTS_FILE, out_dir / EVENTS_FILES[events_format], out_dir / TRUTH_FILE)
    with ExitStack() as stack:
        contacts_out = stack.enter_context(CsvWriter(paths[0], CONTACT_COLUMNS))
        events_out = stack.enter_context(events_writer(paths[1], events_format))
        truth_out = stack.enter_context(CsvWriter(paths[2], ("Customer ID", "persona")))
        for index, chunk_seed in enumerate(chunk_seeds):
            size = min(CHUNK_CONTACTS, contacts - index * CHUNK_CONTACTS)
            rng = np.random.default_rng(chunk_seed)
            rows = _chunk(rng, world, tally, size)
            contacts_out.write(rows.contacts)
            truth_out.write(rows.truth)
            events_out.write(rows.events, rows.bad_events)
            logger.debug("chunk %d: %d contacts, %d events", index, size, len(rows.events))
            if progress is not None:
                progress(size)
    return GenerateResult(
        contacts_path=paths[0],
        events_path=paths[1],
        truth_path=paths[2],
        n_contacts=tally.contacts,
        n_events=tally.events,
        contact_rows=tally.contacts + sum(tally.dirty_contacts.values()),
        event_rows=tally.events + sum(tally.dirty_events.values()),
        dirty_contacts=tally.dirty_contacts,
        dirty_events=tally.dirty_events,
        persona_counts=tally.personas,
    )


def _build_world(
    seed: np.random.SeedSequence,
    as_of: datetime,
    contacts: int,
    dirty: float,
    events_format: Literal["parquet", "jsonl"],
) -> _World:
    rng = np.random.default_rng(seed)
    as_of_ms = int(as_of.astimezone(UTC).timestamp() * 1000)
    return _World(
        as_of_ms=as_of_ms,
        contacts=contacts,
        dirty=dirty,
        events_format=events_format,
        calendar=build_calendar(rng, as_of_ms),
        catalogue=build_catalogue(rng),
        id_key=int(rng.integers(0, 2**63)),
    )


@dataclass(frozen=True)
class _ChunkRows:
    contacts: pa.Table
    """Clean contacts followed by bad ones."""
    truth: pa.Table
    events: pa.Table
    """Clean events."""
    bad_events: DirtyEvents


def _chunk(rng: np.random.Generator, world: _World, tally: _Tally, size: int) -> _ChunkRows:
    """One chunk: contacts, truth and events, plus its bad rows; advances the tally."""
    population = draw_population(rng, size, world.as_of_ms)
    batch = by_contact_and_time(
        concat_batches(
            [
                email_events(rng, population, world.calendar),
                site_events(rng, population, world.catalogue, world.as_of_ms),
            ]
        ),
        world.as_of_ms,
    )
    numbers = ContactNumbers(first=tally.contacts + 1, total=world.contacts)
    ids = contact_ids(numbers, size)
    events = events_table(batch, _table_context(world, tally, ids))
    contacts = contacts_table(rng, population, numbers, consent_from_events(batch, size))
    truth = pa.table(
        [ids, pa.array(persona_names()).take(population.persona)], names=["Customer ID", "persona"]
    )

    contact_plan = DirtyPlan.for_chunk(
        world.dirty,
        rows_before=tally.contacts,
        rows_after=tally.contacts + size,
        first=sum(tally.dirty_contacts.values()),
        kinds=CONTACT_DIRTY_KINDS,
    )
    event_plan = DirtyPlan.for_chunk(
        world.dirty,
        rows_before=tally.events,
        rows_after=tally.events + len(batch),
        first=sum(tally.dirty_events.values()),
        kinds=event_dirty_kinds(world.events_format),
    )
    id_digits = customer_id_digits(world.contacts)
    bad_contacts = dirty_contacts(rng, contacts, contact_plan, world.as_of_ms, id_digits)
    bad_events = dirty_events(rng, events, event_plan, world.as_of_ms, world.id_key)

    tally.contacts += size
    tally.events += len(batch)
    tally.orders += int(np.count_nonzero(events["order_id"].is_valid()))
    tally.add(contact_plan.counts(), tally.dirty_contacts)
    tally.add(event_plan.counts(), tally.dirty_events)
    per_persona = np.bincount(population.persona, minlength=len(tally.personas))
    tally.add(dict(zip(persona_names(), per_persona.tolist(), strict=True)), tally.personas)
    return _ChunkRows(pa.concat_tables([contacts, bad_contacts]), truth, events, bad_events)


def _table_context(world: _World, tally: _Tally, user_ids: pa.StringArray) -> TableContext:
    return TableContext(
        user_ids=user_ids,
        calendar=world.calendar,
        catalogue=world.catalogue,
        first_event_number=tally.events,
        first_order_number=tally.orders + 1,
        id_key=world.id_key,
    )


def _check_arguments(
    out_dir: Path, contacts: int, seed: int, as_of: datetime, events_format: str, dirty: float
) -> None:
    if not _is_whole(contacts) or contacts < 1:
        raise GenerateError(f"contacts must be a whole number of at least 1, got {contacts!r}.")
    if not _is_whole(seed) or seed < 0:
        raise GenerateError(f"seed must be a whole number of at least 0, got {seed!r}.")
    if not isinstance(as_of, datetime) or as_of.utcoffset() is None:
        raise GenerateError(
            "as_of must be a timezone-aware datetime such as 2025-06-30T00:00:00+00:00, "
            f"got {as_of!r}."
        )
    if events_format not in EVENTS_FILES:
        raise GenerateError(f"events_format must be 'parquet' or 'jsonl', got {events_format!r}.")
    if not isinstance(dirty, int | float) or not 0.0 <= dirty < MAX_DIRTY:
        raise GenerateError(
            f"dirty must be a share of extra bad rows in [0, {MAX_DIRTY}), got {dirty!r}."
        )
    if out_dir.exists() and not out_dir.is_dir():
        raise GenerateError(
            f"out_dir must be a folder (created if missing), got {str(out_dir)!r}, which is a file."
        )


def _is_whole(value: object) -> bool:
    """An int (numpy's too), but not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
