"""Where ``audience stream`` reads its events: a Redis stream or a Kafka topic.

Every source gives messages in micro-batches (:meth:`StreamSource.read`) and forgets a
message only when told it is committed (:meth:`StreamSource.ack`): a message read but not
acknowledged is delivered again after a crash or restart (at-least-once). A message's
payload is one Segment call as a JSON object; in a Redis entry it is the field ``data``
(:data:`DATA_FIELD`), in Kafka the message's value.

A message's :attr:`StreamMessage.id` is unique within its source and stable across
deliveries (the Redis entry id; ``topic/partition/offset`` in Kafka), and a source's
:attr:`~StreamSource.name` (``redis:<stream>``, ``kafka:<topic>``) does not depend on the
server's address, so ``name`` and ``id`` together recognise a message delivered again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast
from urllib.parse import urlsplit

from audience.config import StreamConfig
from audience.errors import ConfigError, StreamError

if TYPE_CHECKING:
    import redis

logger = logging.getLogger(__name__)
T = TypeVar("T")

DATA_FIELD = "data"
"""The field of a Redis stream entry that holds the call (JSON)."""


@dataclass(frozen=True)
class StreamMessage:
    """One message: its id within the source and its payload (the call, as JSON bytes)."""

    id: str
    payload: bytes
    partition: int | None = None
    """Kafka's partition and offset (None for Redis): what acknowledging commits."""
    offset: int | None = None
    topic: str | None = None


class StreamSource(Protocol):
    """A source of messages with at-least-once delivery."""

    @property
    def name(self) -> str:
        """``redis:<stream>`` or ``kafka:<topic>``: the source's identity in the workspace."""
        ...

    def read(self, max_messages: int, block_ms: int) -> list[StreamMessage]:
        """Up to ``max_messages`` messages, waiting up to ``block_ms`` when none is
        available (an empty list then). Messages read and not acknowledged come again."""
        ...

    def ack(self, messages: Sequence[StreamMessage]) -> None:
        """Mark ``messages`` as committed: they will not be delivered again."""
        ...

    def close(self) -> None: ...


class RedisStreamSource:
    """A Redis stream read by a consumer group (``XREADGROUP``, ``XACK``).

    The group is created (at the start of the stream, the stream itself if it is missing)
    unless it exists. Reading first takes back this consumer's own pending messages (read
    before a crash, never acknowledged), then claims those other consumers left idle for
    ``claim_idle_ms`` (``XAUTOCLAIM``: they died), then reads new ones (``>``); the claim
    is repeated every ``claim_idle_ms``.
    """

    def __init__(
        self,
        client: redis.Redis,
        stream: str,
        group: str,
        consumer: str,
        *,
        claim_idle_ms: int = 60_000,
    ) -> None:
        self.client = client
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.claim_idle_ms = claim_idle_ms
        self._own_after: str | None = "0"
        """Where the re-reading of our own pending messages goes on; None when it is done."""
        self._claim_from = "0-0"
        self._next_claim = 0.0
        self._call(self._create_group)

    @property
    def name(self) -> str:
        return f"redis:{self.stream}"

    def read(self, max_messages: int, block_ms: int) -> list[StreamMessage]:
        return self._call(lambda: self._read(max_messages, block_ms))

    def ack(self, messages: Sequence[StreamMessage]) -> None:
        if messages:
            ids = [message.id for message in messages]
            self._call(lambda: self.client.xack(self.stream, self.group, *ids))

    def close(self) -> None:
        self.client.close()

    def _create_group(self) -> None:
        import redis

        try:
            self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _read(self, max_messages: int, block_ms: int) -> list[StreamMessage]:
        if self._own_after is not None:
            own = self._read_group(self._own_after, max_messages, None)
            if own:
                self._own_after = own[-1][0]
                return self._messages(own)
            self._own_after = None
        if time.monotonic() >= self._next_claim:
            claimed = self._claim(max_messages)
            if claimed:
                return claimed
        return self._messages(self._read_group(">", max_messages, block_ms))

    def _claim(self, max_messages: int) -> list[StreamMessage]:
        reply = self.client.xautoclaim(
            self.stream,
            self.group,
            self.consumer,
            min_idle_time=self.claim_idle_ms,
            start_id=self._claim_from,
            count=max_messages,
        )
        self._claim_from = _text(reply[0])
        if self._claim_from == "0-0":  # a whole pass over the pending entries is done
            self._next_claim = time.monotonic() + self.claim_idle_ms / 1000
        entries = [(_text(entry_id), fields) for entry_id, fields in reply[1]]
        if entries:
            logger.info("claimed %d messages other consumers left idle", len(entries))
        return self._messages(entries)

    def _read_group(
        self, after: str, count: int, block_ms: int | None
    ) -> list[tuple[str, dict[bytes, bytes] | None]]:
        reply = cast(
            "list[Any]",
            self.client.xreadgroup(
                self.group, self.consumer, {self.stream: after}, count=count, block=block_ms
            ),
        )
        # One stream asked for: [[name, [(id, fields), ...]]] (RESP2); nothing when idle.
        entries = reply[0][1] if reply else []
        return [(_text(entry_id), fields) for entry_id, fields in entries]

    def _messages(
        self, entries: Sequence[tuple[str, dict[bytes, bytes] | None]]
    ) -> list[StreamMessage]:
        messages = []
        gone = []
        for entry_id, fields in entries:
            if not fields:  # deleted from the stream while pending: nothing left to ingest
                gone.append(entry_id)
            else:
                messages.append(StreamMessage(entry_id, _payload(fields)))
        if gone:
            logger.warning("%d pending messages were deleted from the stream", len(gone))
            self.client.xack(self.stream, self.group, *gone)
        return messages

    def _call(self, action: Callable[[], T]) -> T:
        import redis

        try:
            return action()
        except redis.RedisError as exc:
            raise StreamError(
                f"cannot use the Redis stream {self.stream!r} (group {self.group!r}): {exc}. "
                "Check [stream] source in audience.toml and that Redis is running; "
                "messages already committed stay committed."
            ) from None


def _payload(fields: dict[bytes, bytes]) -> bytes:
    """The entry's ``data`` field; an entry without one is judged as a call made of its
    fields (which usually lack a type, so it is quarantined as such)."""
    data = fields.get(DATA_FIELD.encode())
    if data is not None:
        return data
    import orjson

    return orjson.dumps({_text(key): _text(value) for key, value in fields.items()})


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class KafkaSource:
    """A Kafka topic read with ``confluent_kafka.Consumer`` in a consumer group.

    The consumer must be made with ``enable.auto.commit = false``: offsets are committed
    synchronously by :meth:`ack`, after the workspace committed the messages, so a crash
    before that replays them. ``consumer`` is anything with confluent-kafka's ``Consumer``
    API (``subscribe``, ``poll``, ``commit``, ``close``), so tests can give a fake.
    """

    def __init__(self, consumer: Any, topic: str) -> None:
        self.consumer = consumer
        self.topic = topic
        consumer.subscribe([topic])

    @property
    def name(self) -> str:
        return f"kafka:{self.topic}"

    def read(self, max_messages: int, block_ms: int) -> list[StreamMessage]:
        """The first poll waits up to ``block_ms``; the batch then takes only what is
        already fetched, as a Redis read does."""
        messages: list[StreamMessage] = []
        timeout = block_ms / 1000
        while len(messages) < max_messages:
            message = self.consumer.poll(timeout)
            if message is None:
                break
            timeout = 0.0
            error = message.error()
            if error is None:
                messages.append(_kafka_message(message))
            else:
                self._problem(error)
        return messages

    def ack(self, messages: Sequence[StreamMessage]) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        # The committed offset is the next one to read, per partition.
        ends: dict[tuple[str, int], int] = {}
        for message in messages:
            key = (message.topic or self.topic, int(message.partition or 0))
            ends[key] = max(ends.get(key, -1), int(message.offset or 0) + 1)
        if not ends:
            return
        offsets = [TopicPartition(topic, part, end) for (topic, part), end in ends.items()]
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            raise StreamError(
                f"cannot commit offsets of Kafka topic {self.topic!r}: {exc}. The messages "
                "are committed in the workspace and will be recognised when delivered again."
            ) from None

    def close(self) -> None:
        self.consumer.close()

    def _problem(self, error: Any) -> None:
        from confluent_kafka import KafkaError

        if error.code() == KafkaError._PARTITION_EOF:
            return
        if error.fatal():
            raise StreamError(f"Kafka topic {self.topic!r} cannot be read: {error.str()}.")
        # librdkafka retries transient errors (a broker away) by itself.
        logger.warning("Kafka: %s", error.str())


def _kafka_message(message: Any) -> StreamMessage:
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    return StreamMessage(
        f"{topic}/{partition}/{offset}",
        message.value() or b"",
        partition=partition,
        offset=offset,
        topic=topic,
    )


def open_source(
    config: StreamConfig,
    *,
    consumer: str,
    redis_client: redis.Redis | None = None,
    kafka_consumer: Any = None,
) -> StreamSource:
    """The source ``config.source`` names: ``redis://`` (also ``rediss://``, ``unix://``)
    or ``kafka://host:port[,host:port]``. ``consumer`` names this consumer in the group;
    a client or consumer given is used instead of one made from the URL."""
    scheme = urlsplit(config.source).scheme
    if scheme in ("redis", "rediss", "unix"):
        client = redis_client or _redis_client(config.source)
        return RedisStreamSource(
            client, config.stream, config.group, consumer, claim_idle_ms=config.claim_idle_ms
        )
    if scheme == "kafka":
        made = kafka_consumer or _kafka_consumer(config, consumer)
        return KafkaSource(made, config.stream)
    raise ConfigError(
        f"[stream] source {config.source!r} is not a stream this Audience reads: use "
        "redis://host:port/db or kafka://host:port."
    )


def _redis_client(url: str) -> redis.Redis:
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)


def _kafka_consumer(config: StreamConfig, consumer: str) -> Any:
    try:
        from confluent_kafka import Consumer
    except ImportError:
        raise ConfigError(
            "reading from Kafka needs confluent-kafka: pip install 'audience[kafka]'."
        ) from None
    return Consumer(
        {
            "bootstrap.servers": urlsplit(config.source).netloc,
            "group.id": config.group,
            "client.id": consumer,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
