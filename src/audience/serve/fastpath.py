"""``POST /api/assign`` served in front of the framework: the one hot endpoint.

Routing, dependency resolution and the middleware stack cost more per request than
assigning a contact does, and real-time assignment has a latency budget (p99 ≤ 10 ms at
1,000 requests/s from one process). This ASGI layer answers that one path itself with the
same parts the framework route uses: the same key check (:meth:`Service.authenticate`),
the same pydantic model (:class:`AssignRequest`), the same error bodies
(:mod:`audience.serve.problems`) and the same batcher. The framework's route stays
for the OpenAPI schema and the docs; everything else passes through untouched. The body's
limits are enforced outside it (:class:`audience.serve.limits.BodyLimit`), for every path.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from audience.errors import AudienceError
from audience.serve.batching import AssignBatcher
from audience.serve.problems import (
    INVALID_KEY,
    MISSING_KEY,
    audience_error_detail,
    audience_error_status,
    invalid_request,
)
from audience.serve.schemas import AssignRequest
from audience.serve.service import Service

PATH = "/api/assign"
_JSON = [(b"content-type", b"application/json")]
_CHALLENGE = [(b"www-authenticate", b"Bearer")]


class FastAssign:
    """ASGI middleware answering ``POST /api/assign``; other requests go to ``app``."""

    def __init__(self, app: ASGIApp, service: Service, batcher: AssignBatcher) -> None:
        self.app = app
        self.service = service
        self.batcher = batcher

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "POST":
            code, body, extra = await self._answer(scope, receive)
            await _respond(send, code, body, extra)
        else:
            await self.app(scope, receive, send)

    async def _answer(
        self, scope: Scope, receive: Receive
    ) -> tuple[int, object, list[tuple[bytes, bytes]]]:
        headers = dict(scope["headers"])
        key = _key_text(headers)
        if not key:
            return 401, {"detail": MISSING_KEY}, _CHALLENGE
        if self.service.authenticate(key) is None:
            return 401, {"detail": INVALID_KEY}, _CHALLENGE
        raw = await _body(receive)
        try:
            request = AssignRequest.model_validate_json(raw)
        except ValidationError as exc:
            errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
            code, problem = invalid_request(errors)
            return code, problem, []
        try:
            return 200, await self.batcher.submit(request.features.model_dump()), []
        except AudienceError as exc:
            return audience_error_status(exc), audience_error_detail(exc), []


def _key_text(headers: dict[bytes, bytes]) -> str | None:
    """The key from ``X-API-Key``, else from ``Authorization: Bearer``, as auth.py reads it."""
    header = headers.get(b"x-api-key")
    if header:
        return header.decode("latin-1")
    scheme, _, credentials = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None


async def _body(receive: Receive) -> bytes:
    """The whole body (BodyLimit, outside, has read it within the limits: one message)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(send: Send, code: int, body: object, extra: list[tuple[bytes, bytes]]) -> None:
    payload: Any = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
    headers = [*_JSON, (b"content-length", str(len(payload)).encode()), *extra]
    await send({"type": "http.response.start", "status": code, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
