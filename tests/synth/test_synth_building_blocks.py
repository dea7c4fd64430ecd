"""The vectorised building blocks: string formatting, ragged runs, ids, bad-row planning."""

from __future__ import annotations

import numpy as np
import orjson
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from audience.synth.dirty import DirtyPlan, round_half_up
from audience.synth.events import message_ids
from audience.synth.fixedwidth import format_hex64, format_numbers, format_timestamps
from audience.synth.jsonl import cut_lines
from audience.synth.ragged import expand, last_of_runs, run_cumsum

# 1900-01-01 .. 2100-01-01 in epoch milliseconds.
EPOCH_MS = st.integers(min_value=-2_208_988_800_000, max_value=4_102_444_800_000)


def test_timestamps_format_a_hand_computed_example() -> None:
    ms = np.array([0, 1_748_779_200_123])
    with_ms = format_timestamps(ms, milliseconds=True).to_pylist()
    without = format_timestamps(ms, milliseconds=False).to_pylist()
    assert with_ms == ["1970-01-01T00:00:00.000Z", "2025-06-01T12:00:00.123Z"]
    assert without == ["1970-01-01T00:00:00Z", "2025-06-01T12:00:00Z"]


@given(st.lists(EPOCH_MS, max_size=50))
def test_timestamps_agree_with_numpy(values: list[int]) -> None:
    ms = np.array(values, dtype=np.int64)
    expected = [f"{text}Z" for text in np.datetime_as_string(ms.astype("datetime64[ms]"))]
    assert format_timestamps(ms, milliseconds=True).to_pylist() == expected


def test_numbers_are_zero_padded_after_the_prefix() -> None:
    ids = format_numbers(np.array([1, 42, 9_999_999]), prefix="C", digits=7)
    assert ids.to_pylist() == ["C0000001", "C0000042", "C9999999"]


@given(st.lists(st.integers(min_value=0, max_value=2**64 - 1), max_size=50))
def test_hex_agrees_with_python_formatting(values: list[int]) -> None:
    formatted = format_hex64(np.array(values, dtype=np.uint64)).to_pylist()
    assert formatted == [f"{value:016x}" for value in values]


def test_message_ids_are_unique_for_clean_and_fresh_numbers() -> None:
    clean = np.arange(200_000, dtype=np.uint64)
    fresh = clean + np.uint64(2**62)
    ids = message_ids(np.concatenate([clean, fresh]), key=12345).to_numpy(zero_copy_only=False)
    assert len(set(ids)) == len(ids)
    assert message_ids(clean[:3], key=1).to_pylist() != message_ids(clean[:3], key=2).to_pylist()


def test_expand_gives_owner_and_position_of_each_row() -> None:
    owner, position = expand(np.array([2, 0, 3]))
    assert owner.tolist() == [0, 0, 2, 2, 2]
    assert position.tolist() == [0, 1, 0, 1, 2]
    assert last_of_runs(np.array([2, 3])).tolist() == [1, 4]


@given(st.lists(st.lists(st.integers(-1000, 1000), min_size=1, max_size=6), max_size=8))
def test_run_cumsum_restarts_at_every_run(runs: list[list[int]]) -> None:
    values = np.array([value for run in runs for value in run], dtype=np.int64)
    counts = np.array([len(run) for run in runs], dtype=np.int64)
    expected = [total for run in runs for total in np.cumsum(run).tolist()]
    assert run_cumsum(values, counts).tolist() == expected


def test_cut_lines_are_prefixes_that_no_longer_parse() -> None:
    lines = pa.array(['{"type":"track","event":"Email Opened","properties":{}}\n'] * 3)
    cut = cut_lines(lines, np.array([0.0, 0.5, 0.999])).to_pylist()
    for original, shortened in zip(lines.to_pylist(), cut, strict=True):
        assert shortened.endswith("\n")
        assert original.startswith(shortened[:-1])
        assert len(shortened) < len(original)
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(shortened)


@given(
    share=st.floats(min_value=0.0, max_value=0.499),
    chunk_rows=st.lists(st.integers(min_value=0, max_value=5000), min_size=1, max_size=10),
)
def test_bad_rows_planned_per_chunk_add_up_to_round_share_times_rows(
    share: float, chunk_rows: list[int]
) -> None:
    kinds = ("a", "b", "c")
    done, planned = 0, 0
    per_kind = dict.fromkeys(kinds, 0)
    for rows in chunk_rows:
        plan = DirtyPlan.for_chunk(share, done, done + rows, first=planned, kinds=kinds)
        for kind, count in plan.counts().items():
            per_kind[kind] += count
        done += rows
        planned += plan.count
    assert planned == round_half_up(share * done)
    assert sum(per_kind.values()) == planned
    assert max(per_kind.values()) - min(per_kind.values()) <= 1
