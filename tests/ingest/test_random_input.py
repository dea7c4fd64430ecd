"""Random bytes and random JSON through the real ingest: every outcome is a report that
adds up or one of Audience's errors (what the CLI prints as a paragraph), never a crash."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audience import Workspace
from audience.errors import AudienceError
from tests.conftest import NOW

_SETTINGS = settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
_TS = "2024-03-05T10:22:11Z"

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["", "\udfff", "-0044-03-15T00:00:00Z", _TS, "1e400", "NaN", "=1+2"])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
calls = st.fixed_dictionaries(
    {},
    optional={
        key: values | st.sampled_from(choices)
        for key, choices in {
            "type": ["track", "identify", "page", "screen", "alias"],
            "event": ["Email Opened", "Order Completed"],
            "userId": ["u1", "u2"],
            "messageId": ["m1", "m2"],
            "timestamp": [_TS],
            "properties": [{"revenue": 12.5, "quantity": 2}],
            "traits": [{"email": "a@example.com"}],
        }.items()
    },
)


def _line(call: dict[str, object]) -> bytes:
    # Lone surrogates are not UTF-8: they go out as JSON escapes, as a client sends them.
    return json.dumps(call, ensure_ascii=True).encode()


def _ingest(data: bytes, name: str, kind: str) -> None:
    with tempfile.TemporaryDirectory() as folder, Workspace.init(Path(folder) / "ws") as ws:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            report = ws.ingest(path, kind, now=NOW)  # type: ignore[arg-type]
        except AudienceError as exc:
            message = str(exc)
        else:
            message = ""
        if message:
            assert str(path.name) in message or "encoding" in message
            return
        assert report.rows_read == report.accepted + report.quarantined + report.duplicates
        assert sum(report.quarantine_reasons.values()) == report.quarantined
        ws.profile()


@_SETTINGS
@given(
    data=st.binary(max_size=400),
    name=st.sampled_from(["x.csv", "x.jsonl", "x.csv.gz", "x.parquet", "x"]),
)
def test_random_bytes_are_a_report_or_an_audience_error(data: bytes, name: str) -> None:
    _ingest(data, name, "events")


@_SETTINGS
@given(lines=st.lists(calls, min_size=1, max_size=8))
def test_random_json_calls_are_a_report_or_an_audience_error(
    lines: list[dict[str, object]],
) -> None:
    _ingest(b"\n".join(_line(call) for call in lines), "calls.jsonl", "events")


@_SETTINGS
@given(
    rows=st.lists(
        st.lists(
            st.text(max_size=12) | st.sampled_from(['"', '"x', "\r", "\x00", "1e19"]),
            min_size=1,
            max_size=4,
        ),
        max_size=8,
    )
)
def test_random_csv_cells_are_a_report_or_an_audience_error(rows: list[list[str]]) -> None:
    text = "email,event,timestamp,quantity\n" + "\n".join(",".join(row) for row in rows)
    _ingest(text.encode("utf-8", errors="surrogatepass"), "events.csv", "events")
