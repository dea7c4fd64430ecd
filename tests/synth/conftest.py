"""Shared synthetic audiences for the tests of audience.synth, generated once per session."""

from __future__ import annotations

from typing import Literal

import pytest

from audience.synth import generate
from tests.synth.audiences import AS_OF, Audience, load


def _generate(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    *,
    contacts: int,
    seed: int,
    dirty: float = 0.0,
    events_format: Literal["parquet", "jsonl"] = "parquet",
) -> Audience:
    result = generate(
        tmp_path_factory.mktemp(name),
        contacts=contacts,
        seed=seed,
        as_of=AS_OF,
        dirty=dirty,
        events_format=events_format,
    )
    return load(result)


@pytest.fixture(scope="session")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Audience:
    """2 000 clean contacts in Parquet."""
    return _generate(tmp_path_factory, "clean", contacts=2000, seed=11)


@pytest.fixture(scope="session")
def small_clean(tmp_path_factory: pytest.TempPathFactory) -> Audience:
    """600 clean contacts in Parquet; the clean twin of ``dirty``."""
    return _generate(tmp_path_factory, "small_clean", contacts=600, seed=5)


@pytest.fixture(scope="session")
def dirty(tmp_path_factory: pytest.TempPathFactory) -> Audience:
    """``small_clean`` with 20 % bad rows on top."""
    return _generate(tmp_path_factory, "dirty", contacts=600, seed=5, dirty=0.2)


@pytest.fixture(scope="session")
def small_clean_jsonl(tmp_path_factory: pytest.TempPathFactory) -> Audience:
    """``small_clean`` written as JSON lines."""
    return _generate(tmp_path_factory, "clean_jsonl", contacts=600, seed=5, events_format="jsonl")


@pytest.fixture(scope="session")
def dirty_jsonl(tmp_path_factory: pytest.TempPathFactory) -> Audience:
    """``dirty`` written as JSON lines (with truncated lines too)."""
    return _generate(
        tmp_path_factory, "dirty_jsonl", contacts=600, seed=5, dirty=0.2, events_format="jsonl"
    )
