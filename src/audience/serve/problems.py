"""Error bodies of the API: one paragraph in ``detail``; for invalid requests, each field too.

Shared by the framework's exception handlers and the hand-written assignment path, so an
error reads the same whichever served it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from audience.errors import (
    QUOTE_LIMIT,
    AudienceError,
    ConflictError,
    NotFoundError,
    StorageFullError,
    WorkspaceError,
    quoted,
)

MISSING_KEY = (
    "This endpoint needs an API key: send it as 'X-API-Key: aud_…' or "
    "'Authorization: Bearer aud_…'. Create one with `audience keys create`."
)
INVALID_KEY = "The API key is not valid: it is malformed, unknown or revoked."
INTERNAL = (
    "The server failed on this request; that is a bug, not something in the request. "
    "The server logged the details."
)
MAX_DETAIL = 2_000
"""Characters of a paragraph the API sends back, at most (head and tail kept)."""
_UNBROKEN = re.compile(rf"\S{{{QUOTE_LIMIT + 1},}}")


def bounded(text: str) -> str:
    """A paragraph as the API sends it: any run of over 200 characters without a space (a
    value the caller sent, quoted by a message that did not cut it) is cut with "…", and the
    whole kept to MAX_DETAIL characters, its start (what was wrong) and end (the fix)."""
    text = _UNBROKEN.sub(lambda m: m.group()[:QUOTE_LIMIT] + "…", text)
    if len(text) <= MAX_DETAIL:
        return text
    head, tail = MAX_DETAIL * 2 // 3, MAX_DETAIL // 3
    return f"{text[:head]} … ({len(text) - head - tail:,} characters cut) … {text[-tail:]}"


def audience_error_detail(exc: AudienceError) -> dict[str, str]:
    """The body of an error raised on purpose: its paragraph, bounded."""
    return {"detail": bounded(str(exc))}


def audience_error_status(exc: AudienceError) -> int:
    """The one place an error's class becomes a status: 404 for what does not exist, 409
    for a clash with the workspace's state (a run going, models not kept or refused by their
    signature check, ``ModelSignatureError``, nothing segmented yet), 507 when the disk ran
    out, 422 for anything else the caller sent."""
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, StorageFullError):
        return 507
    if isinstance(exc, ConflictError | WorkspaceError):
        return 409
    return 422


def invalid_request(errors: Sequence[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    """400 for a body that is not JSON, else 422 naming every field that is wrong."""
    if any(error.get("type") == "json_invalid" for error in errors):
        where = errors[0].get("ctx", {}).get("error", "")
        return 400, {"detail": bounded(f"The request body is not valid JSON ({where}).")}
    shown = [
        {"loc": [_part(part) for part in e["loc"]], "msg": bounded(e["msg"]), "type": e["type"]}
        for e in errors[:_LISTED]
    ]
    lines = [f"{_location(e['loc'])}: {e['msg']}" for e in shown[:10]]
    more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
    return 422, {
        "detail": bounded("The request does not match the API: " + "; ".join(lines) + more + "."),
        "errors": shown,
    }


_LISTED = 100
"""Errors listed one by one in a 422 (a batch of 5,000 wrong calls is not 5,000 entries)."""


def _part(part: Any) -> Any:
    """A location's part as sent back: indexes as they are, names (keys the caller chose,
    of any length) cut as :func:`quoted` cuts a value."""
    if isinstance(part, int):
        return part
    text = str(part)
    return text if len(text) <= QUOTE_LIMIT else quoted(text)


def _location(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc) or "body"
