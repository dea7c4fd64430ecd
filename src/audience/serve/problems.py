"""Error bodies of the API: one paragraph in ``detail``; for invalid requests, each field too.

Shared by the framework's exception handlers and the hand-written assignment path, so an
error reads the same whichever served it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from audience.errors import (
    AudienceError,
    ConflictError,
    NotFoundError,
    StorageFullError,
    WorkspaceError,
)

MISSING_KEY = (
    "This endpoint needs an API key: send it as 'X-API-Key: aud_…' or "
    "'Authorization: Bearer aud_…'. Create one with `audience keys create`."
)
INVALID_KEY = "The API key is not valid: it is malformed, unknown or revoked."


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
        return 400, {"detail": f"The request body is not valid JSON ({where})."}
    lines = [f"{_location(e['loc'])}: {e['msg']}" for e in errors[:10]]
    more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
    return 422, {
        "detail": "The request does not match the API: " + "; ".join(lines) + more + ".",
        "errors": [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors],
    }


def _location(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc) or "body"
