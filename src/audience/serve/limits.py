"""The body's guard: how much a request may send, and how slowly (``[serve]``).

A request's body is read whole, within ``body_timeout_seconds`` and ``max_body_bytes``,
before any route sees it (every route parses its body whole anyway): a body over the limit
is 413 however it is sent (``Content-Length`` or chunked), one that stalls is 408, and
either closes the connection. The headers' limits are the HTTP protocol's
(:mod:`audience.serve.protocol`): uvicorn has no header timeout of its own.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from audience.config import ServeConfig


class BodyLimit:
    """Read the body whole, within the limits, then hand it to ``app`` in one message."""

    def __init__(self, app: ASGIApp, limits: ServeConfig) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.max_body_bytes
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            # Answered at once: waiting for a body we will refuse only holds the connection.
            detail = f"The request body is {declared:,} bytes; the limit is {limit:,}."
            await refuse(send, 413, f"{detail} Send smaller batches.")
            return
        try:
            async with asyncio.timeout(self.limits.body_timeout_seconds):
                body = await _read_body(receive, limit)
        except TimeoutError:
            seconds = self.limits.body_timeout_seconds
            detail = f"The request body did not arrive within {seconds:g} s; send it whole."
            await refuse(send, 408, detail)
            return
        except _TooLarge:
            detail = f"The request body is over the limit of {limit:,} bytes."
            await refuse(send, 413, f"{detail} Send smaller batches.")
            return
        except _Gone:
            return  # the client left: there is no one to answer
        await self.app(scope, _replay(body, receive), send)


async def refuse(send: Send, code: int, detail: str) -> None:
    """A JSON ``{"detail": …}`` answer that also closes the connection (the rest of the
    request, if any, is not read)."""
    payload = orjson.dumps({"detail": detail})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": code, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit():
            return int(value)
    return None


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Gone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body in one message, then the connection's own messages (a disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        message: dict[str, Any] = {"type": "http.request", "body": body, "more_body": False}
        return message

    return replayed


class _TooLarge(Exception):
    pass


class _Gone(Exception):
    pass
