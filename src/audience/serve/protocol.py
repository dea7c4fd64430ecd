"""The HTTP/1.1 protocol ``audience serve`` runs: uvicorn's httptools one, with header limits.

Uvicorn times out only idle keep-alive connections, and any byte received cancels that timer,
so a client sending its headers a byte at a time held a connection for as long as it liked
(50 of them hold 50 connections). It caps neither the headers' size. This subclass adds both,
and nothing else: a deadline from the connection (or from the first byte of a next request
on it) to the end of the headers, 408 when it passes, and 431 once the headers pass
``max_header_bytes`` without ending. The body's limits are the application's
(:class:`audience.serve.limits.BodyLimit`).
"""

from __future__ import annotations

import asyncio

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from audience.config import ServeConfig


def http_protocol(limits: ServeConfig) -> type[asyncio.Protocol]:
    """The protocol class to give uvicorn (``http=``), with these limits."""

    class Limited(HeaderLimits):
        header_timeout = limits.header_timeout_seconds
        max_header_bytes = limits.max_header_bytes

    return Limited


class HeaderLimits(HttpToolsProtocol):
    header_timeout = 10.0
    max_header_bytes = 64 * 1024
    _deadline: asyncio.TimerHandle | None = None
    _header_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        in_headers = self._deadline is not None
        super().data_received(data)
        if in_headers and self._deadline is not None:  # the headers have not ended yet
            self._header_bytes += len(data)
            if self._header_bytes > self.max_header_bytes:
                limit = self.max_header_bytes
                self._refuse(431, f"The request's headers are over {limit:,} bytes.")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:  # a next request on a kept-alive connection
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def _arm(self) -> None:
        self._header_bytes = 0
        self._deadline = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        self._refuse(408, f"The request's headers did not arrive within {self.header_timeout:g} s.")

    def _refuse(self, code: int, detail: str) -> None:
        self._disarm()
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:  # no answer being written
            body = orjson.dumps({"detail": detail})
            head = (
                f"HTTP/1.1 {code} {_REASONS[code]}\r\ncontent-type: application/json\r\n"
                f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
            )
            self.transport.write(head.encode() + body)
        self.transport.close()


_REASONS = {408: "Request Timeout", 431: "Request Header Fields Too Large"}
