"""A real webhook receiver for the tests: an HTTP server on a free loopback port, in a
thread, that checks each request's signature as a receiver would and answers as scripted."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from audience.activate.webhooks import verify_signature


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds to wait before answering (to make the sender time out)."""


@dataclass
class Receiver:
    secret: bytes
    replies: list[Reply]
    """Answered in order; the last one is repeated."""
    clock: Callable[[], float] = time.time
    """What the receiver takes for now when it checks a timestamp."""
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)

    def next_reply(self) -> Reply:
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    @property
    def verified(self) -> int:
        return sum(1 for request in self.requests if request["valid"])


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            valid = verify_signature(
                receiver.secret,
                self.headers.get("X-Audience-Timestamp", ""),
                body,
                self.headers.get("X-Audience-Signature", ""),
                now=receiver.clock(),
            )
            receiver.requests.append(
                {"path": self.path, "headers": dict(self.headers), "body": body, "valid": valid}
            )
            reply = receiver.next_reply()
            time.sleep(reply.delay)
            self.send_response(reply.status if valid else 401)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    return Handler


@contextmanager
def receiving(
    secret: bytes,
    replies: Sequence[Reply] = (Reply(),),
    clock: Callable[[], float] = time.time,
) -> Iterator[Receiver]:
    """A receiver listening on 127.0.0.1 (a free port) until the block ends; a request
    whose signature does not verify gets a 401, whatever was scripted."""
    receiver = Receiver(secret, list(replies), clock)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/audience"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
