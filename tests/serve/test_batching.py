"""Micro-batching of single assignments."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from audience.errors import ConfigError
from audience.serve.batching import AssignBatcher


def doubler(calls: list[int]) -> Any:
    def assign(records: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        calls.append(len(records))
        if any(r["x"] < 0 for r in records):
            raise ConfigError("negative x")
        return [{"y": r["x"] * 2} for r in records]

    return assign


def test_requests_that_arrive_together_are_assigned_in_one_call() -> None:
    calls: list[int] = []
    batcher = AssignBatcher(doubler(calls))

    async def many() -> list[dict[str, Any]]:
        return await asyncio.gather(*(batcher.submit({"x": i}) for i in range(7)))

    results = asyncio.run(many())
    assert results == [{"y": 2 * i} for i in range(7)]
    assert calls == [7]
    assert (batcher.batches, batcher.records) == (1, 7)


def test_a_full_batch_goes_without_waiting_for_the_window() -> None:
    calls: list[int] = []
    batcher = AssignBatcher(doubler(calls), max_batch=3, window=60.0)

    async def many() -> list[dict[str, Any]]:
        return await asyncio.wait_for(
            asyncio.gather(*(batcher.submit({"x": i}) for i in range(6))), timeout=5
        )

    assert len(asyncio.run(many())) == 6
    assert calls == [3, 3]


def test_a_bad_record_fails_alone() -> None:
    calls: list[int] = []
    batcher = AssignBatcher(doubler(calls))

    async def many() -> list[Any]:
        submissions = [batcher.submit({"x": x}) for x in (1, -1, 2)]
        return await asyncio.gather(*submissions, return_exceptions=True)

    good, bad, other = asyncio.run(many())
    assert good == {"y": 2}
    assert other == {"y": 4}
    assert isinstance(bad, ConfigError)
    assert calls == [3, 1, 1, 1]


def test_a_lone_request_is_answered_within_the_window() -> None:
    batcher = AssignBatcher(doubler([]), window=0.01)

    async def one() -> dict[str, Any]:
        return await asyncio.wait_for(batcher.submit({"x": 5}), timeout=1)

    assert asyncio.run(one()) == {"y": 10}


@pytest.mark.parametrize("clients", [1, 8])
def test_the_served_endpoint_batches_concurrent_clients(served: Any, clients: int) -> None:
    # Through the real app: the fast path and the batcher, many requests in flight at once.
    import concurrent.futures

    body = {"features": {"order_count": 2, "recency_days": 20.0, "consent": "subscribed"}}

    def call(_: int) -> int:
        return int(
            served.client.post("/api/assign", json=body, headers=served.as_reader()).status_code
        )

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        codes = list(pool.map(call, range(40)))
    assert codes == [200] * 40
    batcher = served.client.app.state.assign_batcher
    assert batcher.records == 40
