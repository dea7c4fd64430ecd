"""events.jsonl: one Segment track call per line, the same events as the Parquet file."""

from __future__ import annotations

import numpy as np
import orjson
import pandas as pd

from tests.synth.audiences import Audience

TOP_LEVEL_KEYS = ["type", "messageId", "userId", "event", "timestamp", "properties"]


def test_clean_lines_are_segment_track_calls_with_only_present_properties(
    small_clean_jsonl: Audience,
) -> None:
    lines = small_clean_jsonl.result.events_path.read_bytes().splitlines()
    assert len(lines) == small_clean_jsonl.result.event_rows
    for line in lines[:5000]:
        call = orjson.loads(line)
        assert list(call) == TOP_LEVEL_KEYS
        assert call["type"] == "track"
        assert call["properties"]
        assert None not in call["properties"].values()


def test_jsonl_holds_the_same_events_as_parquet(
    small_clean_jsonl: Audience, small_clean: Audience
) -> None:
    from_json = small_clean_jsonl.events
    from_parquet = small_clean.events
    assert len(from_json) == len(from_parquet)
    for column in from_parquet.columns:
        json_values = from_json[column].to_numpy(dtype=object)
        parquet_values = from_parquet[column].astype(object).to_numpy()
        both_missing = pd.isna(json_values) & pd.isna(parquet_values)
        same = both_missing | (json_values == parquet_values)
        assert same.all(), column


def test_bad_lines_are_counted_and_only_the_malformed_ones_fail_to_parse(
    dirty_jsonl: Audience,
) -> None:
    result = dirty_jsonl.result
    lines = result.events_path.read_bytes().splitlines()
    assert len(lines) == result.event_rows
    assert len(dirty_jsonl.malformed_lines) == result.dirty_events["malformed_json"] > 0
    assert len(dirty_jsonl.events) == result.event_rows - result.dirty_events["malformed_json"]
    # A malformed line is a real line cut short.
    assert all(line.startswith(b'{"type":"track"') for line in dirty_jsonl.malformed_lines)


def test_a_missing_user_id_is_left_out_of_the_call(dirty_jsonl: Audience) -> None:
    missing = dirty_jsonl.events["user_id"].isna().sum()
    assert missing == dirty_jsonl.result.dirty_events["missing_user_id"] > 0


def test_numbers_survive_the_round_trip_through_text(small_clean_jsonl: Audience) -> None:
    revenue = small_clean_jsonl.events["revenue"].dropna().to_numpy(dtype=float)
    assert len(revenue) > 0
    np.testing.assert_array_equal(revenue, np.round(revenue, 2))
