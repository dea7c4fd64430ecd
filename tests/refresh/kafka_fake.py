"""A stand-in for ``confluent_kafka.Consumer`` (no Kafka broker can run here).

It keeps confluent-kafka's documented contract: ``subscribe(topics)``, ``poll(timeout)``
returning a real ``confluent_kafka.Message`` or None, ``commit(offsets=[TopicPartition],
asynchronous=False)`` storing the next offset to read per partition, ``close()``. A new
consumer of the same group (after a crash) resumes from the committed offsets, so
messages polled but never committed are delivered again, as Kafka does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, Message, TopicPartition


@dataclass
class Broker:
    """Partitions of one topic and the group's committed offsets."""

    topic: str
    partitions: list[list[bytes | None]] = field(default_factory=lambda: [[], []])
    committed: dict[int, int] = field(default_factory=dict)

    def produce(self, value: bytes | None, partition: int) -> None:
        self.partitions[partition].append(value)


class FakeConsumer:
    def __init__(self, broker: Broker, on_commit: Callable[[], None] | None = None) -> None:
        self.broker = broker
        self.on_commit = on_commit
        self.position = dict(broker.committed)
        self.subscribed: list[str] = []
        self.errors: list[KafkaError] = []
        self.commits: list[list[TopicPartition]] = []
        self.closed = False

    def subscribe(self, topics: list[str]) -> None:
        self.subscribed = list(topics)

    def poll(self, timeout: float | None = None) -> Message | None:
        if self.errors:
            return Message(error=self.errors.pop(0))
        for number, partition in enumerate(self.broker.partitions):
            offset = self.position.get(number, 0)
            if offset < len(partition):
                self.position[number] = offset + 1
                return Message(
                    topic=self.broker.topic,
                    partition=number,
                    offset=offset,
                    key=None,
                    value=partition[offset],
                )
        return None

    def commit(
        self, *, offsets: list[TopicPartition], asynchronous: bool = True
    ) -> list[TopicPartition]:
        assert asynchronous is False, "offsets must be committed synchronously"
        if self.on_commit is not None:
            self.on_commit()
        for offset in offsets:
            assert offset.topic == self.broker.topic
            self.broker.committed[offset.partition] = offset.offset
        self.commits.append(offsets)
        return offsets

    def close(self) -> None:
        self.closed = True
