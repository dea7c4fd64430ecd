"""`consume` end to end: a real Redis stream into a real segmented workspace."""

from __future__ import annotations

import pytest
import redis

from audience import Workspace
from audience.config import StreamConfig
from audience.refresh.sources import RedisStreamSource, open_source
from audience.refresh.stream import Reassigner, commit_batch, consume
from tests.refresh.calls import NOW, clock, count, future, rows, track, xadd


def source(client: redis.Redis, key: str, consumer: str = "c1") -> RedisStreamSource:
    return RedisStreamSource(client, key, "audience", consumer, claim_idle_ms=60_000)


def member(ws: Workspace, segment_like: str) -> tuple[str, str]:
    """A contact of the newest run in a segment whose id matches ``segment_like``."""
    found = rows(
        ws,
        "SELECT contact_id, segment_id FROM memberships WHERE run_id = ? AND segment_id LIKE ? "
        "ORDER BY contact_id LIMIT 1",
        [ws.run_id(), segment_like],
    )
    return found[0]


def test_calls_are_ingested_checked_and_their_contacts_reassigned(
    segmented: Workspace, client: redis.Redis, stream_key: str
) -> None:
    contact, segment = member(segmented, "customers/%")
    events_before = count(segmented, "SELECT count(*) FROM events")
    xadd(client, stream_key, track(contact, "Unsubscribed", message_id="u-1"))
    xadd(client, stream_key, track(contact, "Product Viewed"))  # no messageId
    xadd(client, stream_key, future(contact, "f-1"))
    xadd(client, stream_key, b"{not json")
    xadd(client, stream_key, {"type": "alias", "userId": contact})

    report = consume(segmented, source(client, stream_key), until_idle=True, now=clock())

    assert (report.messages, report.accepted, report.quarantined) == (5, 2, 3)
    assert count(segmented, "SELECT count(*) FROM events") == events_before + 2
    derived = rows(segmented, "SELECT message_id FROM events WHERE message_id LIKE 'redis:%'")
    assert [m for (m,) in derived] == [f"redis:{stream_key}:{_entry(client, stream_key, 1)}"]
    reasons = rows(
        segmented, "SELECT reason FROM quarantine WHERE source LIKE 'redis:%' ORDER BY 1"
    )
    assert [r for (r,) in reasons] == ["future_timestamp", "malformed_json", "unsupported_call"]
    assert client.xpending(stream_key, "audience")["pending"] == 0
    changes = rows(
        segmented,
        "SELECT changed_at, run_id, from_segment, to_segment, source FROM membership_changes "
        "WHERE contact_id = ?",
        [contact],
    )
    assert changes == [(NOW, segmented.run_id(), segment, "suppressed/unsubscribed", "stream")]
    assert (report.reassigned, report.changed) == (1, 1)


def _entry(client: redis.Redis, key: str, position: int) -> str:
    entries = client.xrange(key)
    return entries[position][0].decode()


def test_a_batch_committed_but_not_acknowledged_is_recognised_when_it_comes_again(
    segmented: Workspace, client: redis.Redis, stream_key: str
) -> None:
    contact, _segment = member(segmented, "customers/%")
    xadd(client, stream_key, track(contact, "Unsubscribed"))
    xadd(client, stream_key, future(contact, "f-1"))
    first = source(client, stream_key)
    messages = first.read(10, 100)
    commit_batch(segmented, first.name, messages, NOW, Reassigner(segmented))  # then a crash
    tables = _counts(segmented)

    report = consume(segmented, source(client, stream_key), until_idle=True, now=clock())

    assert (report.messages, report.redelivered, report.accepted) == (2, 2, 0)
    assert _counts(segmented) == tables
    assert client.xpending(stream_key, "audience")["pending"] == 0


def test_contacts_of_a_batch_ingested_before_a_crash_are_still_reassigned(
    segmented: Workspace, client: redis.Redis, stream_key: str
) -> None:
    contact, segment = member(segmented, "prospects/%")
    xadd(client, stream_key, track(contact, "Unsubscribed"))

    class Crash(Reassigner):
        def reassign(self, contact_ids: object, at: object) -> tuple[str | None, int, int]:
            raise KeyboardInterrupt

    first = source(client, stream_key)
    with pytest.raises(KeyboardInterrupt):
        commit_batch(segmented, first.name, first.read(10, 100), NOW, Crash(segmented))
    assert count(segmented, "SELECT count(*) FROM membership_changes") == 0

    report = consume(segmented, source(client, stream_key), until_idle=True, now=clock())

    assert (report.redelivered, report.reassigned, report.changed) == (1, 1, 1)
    changes = rows(segmented, "SELECT from_segment, to_segment FROM membership_changes")
    assert changes == [(segment, "suppressed/unsubscribed")]


def test_a_repeated_message_id_is_a_duplicate_and_the_same_change_is_written_once(
    segmented: Workspace, client: redis.Redis, stream_key: str
) -> None:
    contact, _segment = member(segmented, "customers/%")
    call = track(contact, "Unsubscribed", message_id="u-1")
    for _ in range(3):
        xadd(client, stream_key, call)
    one_per_batch(segmented)

    report = consume(segmented, source(client, stream_key), until_idle=True, now=clock())

    assert (report.batches, report.accepted, report.duplicates) == (3, 1, 2)
    assert report.reassigned == 3
    assert count(segmented, "SELECT count(*) FROM membership_changes") == 1


def test_a_change_goes_from_the_latest_change_of_the_contact(
    segmented: Workspace, client: redis.Redis, stream_key: str
) -> None:
    contact, segment = member(segmented, "prospects/%")
    one_per_batch(segmented)
    xadd(client, stream_key, track(contact, "Unsubscribed"))
    consume(segmented, source(client, stream_key), until_idle=True, now=clock())
    # The same contact again, later: it stays suppressed, so nothing is recorded.
    xadd(client, stream_key, track(contact, "Product Viewed"))
    consume(segmented, source(client, stream_key), until_idle=True, now=clock())

    changes = rows(segmented, "SELECT from_segment, to_segment FROM membership_changes")
    assert changes == [(segment, "suppressed/unsubscribed")]


def test_without_a_segmentation_events_are_ingested_and_nobody_is_reassigned(
    unsegmented: Workspace, client: redis.Redis, stream_key: str
) -> None:
    xadd(client, stream_key, track("C0000001", "Product Viewed", message_id="p-1"))

    report = consume(unsegmented, source(client, stream_key), until_idle=True, now=clock())

    assert (report.accepted, report.reassigned, report.run_ids) == (1, 0, [])
    assert count(unsegmented, "SELECT count(*) FROM events") == 1


def test_an_identify_call_updates_the_contact_and_reassigns_it(
    segmented: Workspace, client: redis.Redis, stream_key: str
) -> None:
    contact, segment = member(segmented, "customers/%")
    email = rows(segmented, "SELECT email FROM contacts WHERE contact_id = ?", [contact])[0][0]
    traits = {"email": email, "consent": "unsubscribed"}
    xadd(client, stream_key, {"type": "identify", "userId": contact, "traits": traits})

    report = consume(segmented, source(client, stream_key), until_idle=True, now=clock())

    assert (report.accepted, report.changed) == (1, 1)
    changes = rows(segmented, "SELECT from_segment, to_segment FROM membership_changes")
    assert changes == [(segment, "suppressed/unsubscribed")]


def test_open_source_reads_redis_by_its_url(redis_url: str, stream_key: str) -> None:
    made = open_source(StreamConfig(source=redis_url, stream=stream_key), consumer="c1")
    try:
        assert made.name == f"redis:{stream_key}"
        assert made.read(10, 10) == []
    finally:
        made.close()


def one_per_batch(ws: Workspace) -> None:
    stream = ws.config.stream.model_copy(update={"batch_size": 1})
    ws.config = ws.config.model_copy(update={"stream": stream})


def _counts(ws: Workspace) -> tuple[int, ...]:
    tables = ("events", "quarantine", "ingests", "stream_entries", "membership_changes")
    return tuple(count(ws, f"SELECT count(*) FROM {table}") for table in tables)
