"""A message as a line of JSON Lines: what the ingest is given."""

from __future__ import annotations

import orjson
import pytest

from audience.refresh.sources import StreamMessage
from audience.refresh.stream import call_line


def line(payload: bytes) -> bytes:
    return call_line(StreamMessage("7-0", payload), "redis:events")


def test_a_call_without_message_id_gets_one_from_the_message() -> None:
    made = orjson.loads(line(b'{"type": "track", "event": "Product Viewed"}'))

    assert made["messageId"] == "redis:events:7-0"


@pytest.mark.parametrize("blank", [b'"messageId": null', b'"messageId": "  "'])
def test_a_blank_message_id_is_replaced(blank: bytes) -> None:
    made = orjson.loads(line(b'{"type": "track", ' + blank + b"}"))

    assert made["messageId"] == "redis:events:7-0"


def test_a_call_with_a_message_id_is_passed_on_byte_for_byte() -> None:
    payload = b'{"type": "track",  "messageId": "m-1", "event": "Email Opened"}'

    assert line(payload) == payload


def test_an_identify_call_gets_no_message_id() -> None:
    payload = b'{"type": "identify", "userId": "u1", "traits": {}}'

    assert line(payload) == payload


def test_a_call_over_several_lines_becomes_one() -> None:
    made = line(b'{"type": "track",\n "messageId": "m-1"}')

    assert made == b'{"type":"track","messageId":"m-1"}'


@pytest.mark.parametrize(
    ("payload", "written"),
    [(b"{not json\nat all", b"{not json\\nat all"), (b"  ", b'""'), (b"", b'""'), (b"[1]", b"[1]")],
)
def test_anything_else_stays_one_line_for_the_quarantine(payload: bytes, written: bytes) -> None:
    assert line(payload) == written
