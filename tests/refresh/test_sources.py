"""The stream sources: a real Redis for RedisStreamSource, a fake consumer for Kafka."""

from __future__ import annotations

import time

import orjson
import pytest
import redis
from confluent_kafka import KafkaError
from redis.backoff import NoBackoff
from redis.retry import Retry

from audience.config import StreamConfig
from audience.errors import ConfigError, StreamError
from audience.refresh.sources import KafkaSource, RedisStreamSource, open_source
from tests.refresh.kafka_fake import Broker, FakeConsumer


def redis_source(
    client: redis.Redis, key: str, consumer: str, idle_ms: int = 60_000
) -> RedisStreamSource:
    return RedisStreamSource(client, key, "g", consumer, claim_idle_ms=idle_ms)


def add(client: redis.Redis, key: str, n: int) -> list[str]:
    return [client.xadd(key, {"data": f'{{"n": {i}}}'}).decode() for i in range(n)]


def test_the_group_is_created_once_with_its_stream(client: redis.Redis, stream_key: str) -> None:
    redis_source(client, stream_key, "a")
    redis_source(client, stream_key, "b")  # BUSYGROUP: the group exists, nothing to do

    assert [g["name"] for g in client.xinfo_groups(stream_key)] == [b"g"]


def test_a_restarted_consumer_gets_its_unacknowledged_messages_first(
    client: redis.Redis, stream_key: str
) -> None:
    ids = add(client, stream_key, 3)
    crashed = redis_source(client, stream_key, "a")
    assert [m.id for m in crashed.read(2, 10)] == ids[:2]  # never acknowledged

    again = redis_source(client, stream_key, "a")
    first, second = again.read(10, 10), again.read(10, 10)

    assert [m.id for m in first] == ids[:2]
    assert [m.id for m in second] == ids[2:]
    assert first[0].payload == b'{"n": 0}'


def test_messages_a_dead_consumer_left_idle_are_claimed(
    client: redis.Redis, stream_key: str
) -> None:
    ids = add(client, stream_key, 2)
    redis_source(client, stream_key, "dead").read(10, 10)
    live = redis_source(client, stream_key, "live", idle_ms=50)
    time.sleep(0.1)

    claimed = live.read(10, 10)
    live.ack(claimed)

    assert [m.id for m in claimed] == ids
    assert client.xpending(stream_key, "g")["pending"] == 0


def test_messages_of_a_live_consumer_are_not_claimed(client: redis.Redis, stream_key: str) -> None:
    add(client, stream_key, 2)
    redis_source(client, stream_key, "busy").read(10, 10)

    assert redis_source(client, stream_key, "other", idle_ms=60_000).read(10, 10) == []


def test_a_pending_message_deleted_from_the_stream_is_acknowledged_and_skipped(
    client: redis.Redis, stream_key: str
) -> None:
    ids = add(client, stream_key, 2)
    redis_source(client, stream_key, "a").read(10, 10)
    client.xdel(stream_key, ids[0])

    again = redis_source(client, stream_key, "a")

    assert [m.id for m in again.read(10, 10)] == ids[1:]
    assert client.xpending(stream_key, "g")["pending"] == 1


def test_an_entry_without_data_is_passed_on_as_its_fields(
    client: redis.Redis, stream_key: str
) -> None:
    client.xadd(stream_key, {"event": "Product Viewed"})

    (message,) = redis_source(client, stream_key, "a").read(10, 10)

    assert orjson.loads(message.payload) == {"event": "Product Viewed"}


def test_redis_that_cannot_be_reached_is_a_stream_error() -> None:
    unreachable = redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))

    with pytest.raises(StreamError, match="Redis is running"):
        redis_source(unreachable, "events", "a")


def test_kafka_reads_a_batch_and_commits_the_next_offsets_synchronously() -> None:
    broker = Broker("events")
    for n in range(3):
        broker.produce(f'{{"n": {n}}}'.encode(), partition=n % 2)
    consumer = FakeConsumer(broker)
    source = KafkaSource(consumer, "events")

    messages = source.read(10, 10)
    source.ack(messages)

    assert consumer.subscribed == ["events"]
    assert [m.id for m in messages] == ["events/0/0", "events/0/1", "events/1/0"]
    assert source.name == "kafka:events"
    assert broker.committed == {0: 2, 1: 1}


def test_kafka_reads_at_most_the_batch_size() -> None:
    broker = Broker("events")
    for _ in range(5):
        broker.produce(b"{}", partition=0)
    source = KafkaSource(FakeConsumer(broker), "events")

    assert [m.offset for m in source.read(2, 10)] == [0, 1]
    assert [m.offset for m in source.read(10, 10)] == [2, 3, 4]


def test_kafka_skips_the_end_of_a_partition_and_raises_on_a_fatal_error() -> None:
    broker = Broker("events")
    broker.produce(None, partition=0)  # a tombstone: no value
    consumer = FakeConsumer(broker)
    consumer.errors.append(KafkaError(KafkaError._PARTITION_EOF))
    source = KafkaSource(consumer, "events")

    (message,) = source.read(10, 10)
    consumer.errors.append(KafkaError(KafkaError._FATAL, "fenced", fatal=True))

    assert message.payload == b""
    with pytest.raises(StreamError, match="fenced"):
        source.read(10, 10)


def test_open_source_chooses_by_the_url_scheme() -> None:
    kafka = open_source(
        StreamConfig(source="kafka://broker:9092", stream="t"),
        consumer="c",
        kafka_consumer=FakeConsumer(Broker("t")),
    )

    assert isinstance(kafka, KafkaSource)
    with pytest.raises(ConfigError, match="redis://host:port/db or kafka://host:port"):
        open_source(StreamConfig(source="nats://x"), consumer="c")
