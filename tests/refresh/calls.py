"""Segment calls to put on a stream, and what a workspace holds of them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson
import redis

from audience import Workspace
from tests.models.audiences import AS_OF

NOW = AS_OF + timedelta(days=1)
"""The stream's clock in these tests: a day after the segmentation."""


def track(
    contact: str, event: str, *, message_id: str | None = None, **props: Any
) -> dict[str, Any]:
    call: dict[str, Any] = {
        "type": "track",
        "event": event,
        "userId": contact,
        "timestamp": (AS_OF + timedelta(hours=1)).isoformat(),
        "properties": props,
    }
    if message_id is not None:
        call["messageId"] = message_id
    return call


def future(contact: str, message_id: str) -> dict[str, Any]:
    """A call the checks quarantine (``future_timestamp``), whatever the clock says."""
    call = track(contact, "Product Viewed", message_id=message_id)
    call["timestamp"] = "2999-01-01T00:00:00+00:00"
    return call


def xadd(client: redis.Redis, key: str, payload: dict[str, Any] | bytes) -> str:
    data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    entry = client.xadd(key, {"data": data})
    return entry.decode() if isinstance(entry, bytes) else str(entry)


def clock(at: datetime = NOW) -> Any:
    return lambda: at


def rows(ws: Workspace, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    result: list[tuple[Any, ...]] = ws.database.con.execute(sql, params or []).fetchall()
    return result


def count(ws: Workspace, sql: str, params: list[Any] | None = None) -> int:
    return int(rows(ws, sql, params)[0][0])
