"""`consume` from Kafka at the client boundary: a fake consumer with confluent-kafka's API
(no broker can be installed here), a real workspace."""

from __future__ import annotations

import orjson
import pytest

from audience import Workspace
from audience.refresh.sources import KafkaSource
from audience.refresh.stream import consume
from tests.refresh.calls import clock, count, future, track
from tests.refresh.kafka_fake import Broker, FakeConsumer


def stored_from_stream(ws: Workspace) -> int:
    return count(ws, "SELECT count(*) FROM stream_entries WHERE source = 'kafka:events'")


def loaded_broker() -> Broker:
    broker = Broker("events")
    for n in range(4):
        broker.produce(orjson.dumps(track("C0000003", "Product Viewed", message_id=f"k-{n}")), 0)
    broker.produce(orjson.dumps(future("C0000003", "k-bad")), 1)
    return broker


def test_offsets_are_committed_only_after_the_workspace_committed(segmented: Workspace) -> None:
    broker = loaded_broker()
    seen: list[int] = []
    consumer = FakeConsumer(broker, on_commit=lambda: seen.append(stored_from_stream(segmented)))

    report = consume(segmented, KafkaSource(consumer, "events"), until_idle=True, now=clock())

    assert (report.accepted, report.quarantined) == (4, 1)
    assert seen == [5]  # when Kafka was told, all five were already in the workspace
    assert broker.committed == {0: 4, 1: 1}


def test_a_crash_before_the_offsets_are_committed_replays_without_doubling(
    segmented: Workspace,
) -> None:
    broker = loaded_broker()
    events = count(segmented, "SELECT count(*) FROM events")

    def crash() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        consume(segmented, KafkaSource(FakeConsumer(broker, crash), "events"), now=clock())
    assert broker.committed == {}

    report = consume(
        segmented, KafkaSource(FakeConsumer(broker), "events"), until_idle=True, now=clock()
    )

    assert (report.messages, report.redelivered, report.accepted) == (5, 5, 0)
    assert count(segmented, "SELECT count(*) FROM events") == events + 4
    assert (
        count(segmented, "SELECT count(*) FROM quarantine WHERE source LIKE 'kafka:events %'") == 1
    )
    assert broker.committed == {0: 4, 1: 1}
