"""WorkQueue: de-duplication, the processing invariant, delays, backoff, shutdown."""

from __future__ import annotations

import asyncio

import pytest

from controllers.runtime.workqueue import ItemExponentialRateLimiter, WorkQueue


def drain(q: WorkQueue) -> list[str]:
    return list(q._queue)


@pytest.mark.parametrize(
    ("adds", "expected"),
    [
        ([], []),
        (["a"], ["a"]),
        (["a", "a", "a"], ["a"]),
        (["a", "b", "a", "c", "b"], ["a", "b", "c"]),
        (["b", "a"], ["b", "a"]),
    ],
)
def test_add_deduplicates_and_keeps_fifo_order(adds: list[str], expected: list[str]) -> None:
    q = WorkQueue()
    for k in adds:
        q.add(k)
    assert drain(q) == expected
    assert len(q) == len(expected)


@pytest.mark.parametrize(
    ("failures", "delay"),
    [
        (0, 0.005),
        (1, 0.01),
        (2, 0.02),
        (10, 5.12),
        (17, 655.36),
        (18, 1000.0),  # 1310.72 capped
        (200, 1000.0),
    ],
)
def test_exponential_backoff_steps(failures: int, delay: float) -> None:
    rl = ItemExponentialRateLimiter()
    for _ in range(failures):
        rl.when("k")
    assert rl.when("k") == pytest.approx(delay)
    assert rl.num_requeues("k") == failures + 1
    assert rl.num_requeues("other") == 0


def test_forget_resets_backoff() -> None:
    rl = ItemExponentialRateLimiter(base=1.0, cap=100.0)
    assert [rl.when("k") for _ in range(3)] == [1.0, 2.0, 4.0]
    rl.forget("k")
    assert rl.num_requeues("k") == 0
    assert rl.when("k") == 1.0


async def test_key_in_processing_is_not_handed_out_again_until_done() -> None:
    q = WorkQueue()
    q.add("a")
    assert await q.get() == "a"
    q.add("a")  # changed while being processed: only marked dirty
    assert len(q) == 0
    q.add("b")
    assert await q.get() == "b"
    q.done("b")
    q.done("a")  # now it goes back in the queue
    assert drain(q) == ["a"]
    assert await q.get() == "a"
    q.done("a")
    assert len(q) == 0


async def test_two_workers_never_hold_the_same_key() -> None:
    q = WorkQueue()
    active: set[str] = set()
    overlaps: list[str] = []
    processed: list[str] = []

    async def worker() -> None:
        while (key := await q.get()) is not None:
            if key in active:
                overlaps.append(key)
            active.add(key)
            await asyncio.sleep(0.002)
            if len(processed) < 20:
                q.add(key)  # re-added while processing: must wait for done()
            processed.append(key)
            active.discard(key)
            q.done(key)

    for k in ("x", "y"):
        q.add(k)
    workers = [asyncio.create_task(worker()) for _ in range(4)]
    while len(processed) < 20:
        await asyncio.sleep(0.005)
    q.shutdown()
    await asyncio.wait_for(asyncio.gather(*workers), 2)
    assert overlaps == []
    assert set(processed) == {"x", "y"}


async def test_add_after_fires_later_and_earliest_deadline_wins() -> None:
    q = WorkQueue()
    q.add_after("slow", 0.2)
    q.add_after("slow", 0.02)  # earlier deadline replaces the later one
    q.add_after("fast", 0.01)
    q.add_after("fast", 0.5)  # later deadline is ignored
    q.add_after("now", 0)
    assert drain(q) == ["now"]
    assert q.pending_delayed() == 2
    await asyncio.sleep(0.06)
    assert drain(q) == ["now", "fast", "slow"]
    assert q.pending_delayed() == 0


async def test_add_rate_limited_waits_the_backoff() -> None:
    q = WorkQueue(rate_limiter=ItemExponentialRateLimiter(base=0.02, cap=1.0))
    q.add_rate_limited("k")
    assert len(q) == 0
    assert q.num_requeues("k") == 1
    await asyncio.sleep(0.05)
    assert drain(q) == ["k"]
    q.forget("k")
    assert q.num_requeues("k") == 0


async def test_shutdown_drains_then_returns_none_and_refuses_adds() -> None:
    q = WorkQueue()
    q.add("a")
    q.add_after("later", 0.01)
    waiter_q = WorkQueue()
    waiter = asyncio.create_task(waiter_q.get())
    await asyncio.sleep(0)
    q.shutdown()
    waiter_q.shutdown()
    assert await asyncio.wait_for(waiter, 1) is None
    q.add("b")
    assert await q.get() == "a"
    assert await q.get() is None
    await asyncio.sleep(0.02)
    assert len(q) == 0
    assert q.shutting_down
