"""Signed webhooks: a JSON body POSTed to an outside endpoint, signed, retried, logged.

What a receiver gets (and checks with :func:`verify_signature`)::

    POST <url>
    Content-Type: application/json
    X-Audience-Timestamp: 1748779200                  (unix seconds of this attempt)
    X-Audience-Signature: sha256=<hex>                (HMAC-SHA256 under the shared secret
                                                       of b"1748779200." + the body bytes)
    X-Audience-Delivery: dlv-3f2a…                    (the same on every retry: dedupe on it)

The body is compact JSON. Each attempt is signed afresh (its own timestamp), so a retry
minutes later still passes a receiver's freshness check.

Retries: after a connection error, a timeout, a 429 or a 5xx; never after another status
(a 4xx means the request itself is wrong; redirects are not followed). The wait before the
next attempt is the response's ``Retry-After`` (seconds or an HTTP-date) capped at
:attr:`Backoff.retry_after_cap`, else exponential backoff with full jitter (see
:class:`Backoff`). ``max_attempts`` of the destination bounds the attempts.

Every attempt is a row of ``deliveries`` (:mod:`audience.store.deliveries`): the delivery
id, the URL without credentials or query, the subject, the attempt number, when, the
body's SHA-256, the status and the error. Never the body, never the secret. The secret is
read when sending (``secret_env`` from the environment, ``secret_file`` relative to the
workspace folder) and is in no message or log line.

Nothing here knows what is being delivered: alerts use it, and so can anything else.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from importlib.metadata import version
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx2 as httpx
import orjson

from audience.config import WebhookDestination
from audience.errors import ConfigError
from audience.store.database import Database
from audience.store.deliveries import DeliveryAttempt, record_attempt

logger = logging.getLogger(__name__)

USER_AGENT = f"Audience-Webhooks/{version('audience')}"
TIMESTAMP_HEADER = "X-Audience-Timestamp"
SIGNATURE_HEADER = "X-Audience-Signature"
DELIVERY_HEADER = "X-Audience-Delivery"


@dataclass(frozen=True)
class Backoff:
    """The wait between attempts.

    After the n-th failed attempt: the response's ``Retry-After`` capped at
    ``retry_after_cap`` seconds when it gave one, else "full jitter" — a uniform draw in
    ``[0, min(cap, base · 2^(n-1))]`` seconds (AWS Architecture Blog, "Exponential Backoff
    and Jitter": spreads the retries of many senders instead of synchronising them).
    """

    base: float = 0.5
    cap: float = 30.0
    retry_after_cap: float = 60.0

    def wait(self, failures: int, draw: float, retry_after: float | None) -> float:
        """Seconds to wait after ``failures`` failed attempts; ``draw`` is uniform in [0, 1)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.retry_after_cap)
        return draw * min(self.cap, self.base * 2.0 ** (failures - 1))


@dataclass(frozen=True)
class DeliveryResult:
    """How one delivery ended: ``ok`` when an attempt got a 2xx."""

    delivery_id: str
    destination: str
    subject: str
    ok: bool
    attempts: int
    status_code: int | None
    error: str | None


@dataclass(frozen=True)
class _Delivery:
    """What every attempt of one delivery shares."""

    delivery_id: str
    destination: str
    subject: str
    body_sha256: str


@dataclass(frozen=True)
class _Outcome:
    status_code: int | None
    error: str | None
    retryable: bool
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of
    ``<timestamp>.`` followed by the body bytes."""
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: bytes | str,
    timestamp: str | int,
    body: bytes,
    signature_header: str,
    *,
    now: float,
    tolerance: float = 300,
) -> bool:
    """For receivers: is ``signature_header`` the signature of ``body`` at ``timestamp``
    (the headers' values as received), made no more than ``tolerance`` seconds from ``now``
    (unix seconds)? Compared in constant time; a malformed header is simply False."""
    text = str(timestamp).strip()
    if not text.isdigit() or abs(now - int(text)) > tolerance:
        return False
    key = secret.encode() if isinstance(secret, str) else secret
    expected = sign(key, text, body).encode()
    return hmac.compare_digest(expected, signature_header.strip().encode("utf-8", "replace"))


def resolve_secret(
    destination: WebhookDestination,
    workspace_path: Path,
    key: str,
    environ: Mapping[str, str] = os.environ,
) -> bytes:
    """The destination's signing secret, read now. ``key`` names the destination in errors
    (``alerts.webhooks[0]``); the secret itself is never in a message."""
    if destination.secret_env is not None:
        value = environ.get(destination.secret_env, "")
        if not value.strip():
            raise ConfigError(
                f"{key}.secret_env names the environment variable {destination.secret_env!r}, "
                "which is not set or is empty. Set it to the webhook's signing secret (the "
                f"receiver keeps the same one) in the environment that sends, or use "
                f"{key}.secret_file instead."
            )
        return value.encode()
    path = (workspace_path / Path(destination.secret_file or "").expanduser()).resolve()
    try:
        content = path.read_bytes().rstrip(b"\r\n")
    except OSError as exc:
        raise ConfigError(
            f"{key}.secret_file is {path}, which cannot be read ({exc.strerror or exc}). "
            "Write the webhook's signing secret into it (readable by this user only), or use "
            f"{key}.secret_env instead."
        ) from None
    if not content.strip():
        raise ConfigError(
            f"{key}.secret_file is {path}, which is empty. Write the webhook's signing secret "
            "into it (readable by this user only)."
        )
    return content


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """A ``Retry-After`` header in seconds from ``now``: delay-seconds or an HTTP-date
    (RFC 9110 §10.2.3); None when absent or unreadable."""
    text = (value or "").strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, moment.timestamp() - now)


def public_url(url: str) -> str:
    """``url`` without user, password, query or fragment: what logs and tables may show."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]  # the host and port, as written
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def new_delivery_id() -> str:
    return f"dlv-{uuid.uuid4().hex}"


class WebhookSender:
    """Sends signed JSON to webhook destinations and logs every attempt in ``deliveries``.

    ``clock`` (unix seconds), ``sleep``, ``draw`` (uniform in [0, 1)), ``transport`` (an
    httpx transport) and ``environ`` are seams for tests; the defaults are the real ones.
    Use it as a context manager, or :meth:`close` it: it keeps one HTTP connection pool.
    """

    def __init__(
        self,
        db: Database,
        workspace_path: Path,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        draw: Callable[[], float] = random.random,
        backoff: Backoff = Backoff(),
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.db = db
        self.workspace_path = workspace_path
        self.clock = clock
        self.sleep = sleep
        self.draw = draw
        self.backoff = backoff
        self.environ = environ
        self._client = httpx.Client(
            transport=transport, follow_redirects=False, headers={"User-Agent": USER_AGENT}
        )

    def send(
        self,
        destination: WebhookDestination,
        payload: Mapping[str, Any],
        *,
        subject: str,
        key: str,
        delivery_id: str | None = None,
    ) -> DeliveryResult:
        """POST ``payload`` (as compact JSON) to ``destination`` until an attempt succeeds,
        one cannot be retried, or ``max_attempts`` are spent; each attempt is logged.

        ``subject`` is the id of what is delivered (kept with each attempt); ``key`` names
        the destination in the config (``alerts.webhooks[0]``). A failed delivery is a
        result with ``ok`` False, not an exception; a secret that cannot be read raises
        :class:`ConfigError` (after logging the delivery as refused, attempt 0).
        """
        body = orjson.dumps(dict(payload), option=orjson.OPT_NON_STR_KEYS)
        delivery = _Delivery(
            delivery_id or new_delivery_id(),
            public_url(destination.url),
            subject,
            hashlib.sha256(body).hexdigest(),
        )
        try:
            secret = resolve_secret(destination, self.workspace_path, key, self.environ)
        except ConfigError as exc:
            self._record(delivery, 0, self.clock(), _Outcome(None, f"not sent: {exc}", False))
            raise
        for attempt in range(1, destination.max_attempts + 1):
            started = self.clock()
            outcome = self._attempt(destination, body, secret, delivery.delivery_id, started)
            self._record(delivery, attempt, started, outcome)
            if outcome.ok or not outcome.retryable or attempt == destination.max_attempts:
                break
            self.sleep(self.backoff.wait(attempt, self.draw(), outcome.retry_after))
        if not outcome.ok:
            logger.warning(
                "webhook delivery %s of %s to %s failed after %d attempt(s): %s",
                delivery.delivery_id, subject, delivery.destination, attempt, outcome.error,
            )  # fmt: skip
        return DeliveryResult(
            delivery.delivery_id,
            delivery.destination,
            subject,
            outcome.ok,
            attempt,
            outcome.status_code,
            outcome.error,
        )

    def _attempt(
        self,
        destination: WebhookDestination,
        body: bytes,
        secret: bytes,
        delivery_id: str,
        started: float,
    ) -> _Outcome:
        timestamp = str(int(started))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(secret, timestamp, body),
            DELIVERY_HEADER: delivery_id,
        }
        try:
            response = self._client.post(
                destination.url, content=body, headers=headers, timeout=destination.timeout_seconds
            )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            return _Outcome(None, f"not a usable URL ({type(exc).__name__})", retryable=False)
        except httpx.TimeoutException as exc:
            return _Outcome(None, f"timed out ({type(exc).__name__})", retryable=True)
        except httpx.TransportError as exc:
            return _Outcome(None, f"{type(exc).__name__}: {exc}", retryable=True)
        code = response.status_code
        if 200 <= code < 300:
            return _Outcome(code, None, retryable=False)
        retryable = code == 429 or code >= 500
        wait = retry_after_seconds(response.headers.get("Retry-After"), self.clock())
        return _Outcome(code, f"HTTP {code} {response.reason_phrase}".strip(), retryable, wait)

    def _record(self, delivery: _Delivery, attempt: int, started: float, outcome: _Outcome) -> None:
        record_attempt(
            self.db,
            DeliveryAttempt(
                delivery.delivery_id,
                delivery.destination,
                delivery.subject,
                attempt,
                datetime.fromtimestamp(started, UTC),
                delivery.body_sha256,
                outcome.status_code,
                outcome.ok,
                outcome.error,
            ),
        )
        if not outcome.ok and attempt > 0:
            logger.info(
                "webhook delivery %s attempt %d to %s: %s",
                delivery.delivery_id, attempt, delivery.destination, outcome.error,
            )  # fmt: skip

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> WebhookSender:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
