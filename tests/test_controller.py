"""Controller base: level-triggered start, error policy, FailedSync Events, metrics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kubefake import FakeApiServer, fake_apiserver, svc
from prometheus_client import generate_latest

from apimachinery.resources import BY_KEY
from controllers.runtime.controller import Controller, RequeueAfter
from controllers.runtime.metrics import RuntimeMetrics
from kubeclient import errors
from kubeclient.client import Client

SERVICES = BY_KEY["services"]
EVENTS = BY_KEY["events"]


class Demo(Controller):
    name = "demo"

    def __init__(self, client: Client, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self.informer(SERVICES, enqueue=True)
        self.seen: list[str] = []
        self.fail: dict[str, list[Exception]] = {}
        self.active: set[str] = set()
        self.overlap = False
        self.delay = 0.0

    async def reconcile(self, key: str) -> None:
        if key in self.active:
            self.overlap = True
        self.active.add(key)
        try:
            self.seen.append(key)
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.fail.get(key):
                raise self.fail[key].pop(0)
        finally:
            self.active.discard(key)


@pytest.fixture
async def fake() -> AsyncIterator[FakeApiServer]:
    async with fake_apiserver() as srv:
        yield srv


@pytest.fixture
async def client(fake: FakeApiServer) -> AsyncIterator[Client]:
    async with Client(fake.url) as c:
        yield c


async def until(cond: Any, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


async def running(ctl: Controller) -> asyncio.Task[None]:
    task = asyncio.create_task(ctl.run())
    await asyncio.wait_for(ctl.primary.wait_synced(), 5)
    return task


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def events(fake: FakeApiServer) -> list[dict[str, Any]]:
    return fake.list_objects(EVENTS)


async def test_every_existing_key_is_reconciled_once_at_start(client: Client, fake: FakeApiServer) -> None:
    for n in ("a", "b", "c"):
        fake.put_object(SERVICES, svc(n))
    ctl = Demo(client, workers=3)
    task = await running(ctl)
    await until(lambda: len(ctl.seen) == 3)
    await asyncio.sleep(0.05)
    assert sorted(ctl.seen) == ["default/a", "default/b", "default/c"]
    await until(lambda: bool(fake.watchers))
    fake.put_object(SERVICES, svc("a", clusterIP="10.96.0.9"))
    await until(lambda: len(ctl.seen) == 4)
    assert ctl.seen[-1] == "default/a"
    await stop(task)
    assert ctl.queue.shutting_down


@pytest.mark.parametrize(
    ("err", "retried"),
    [
        (errors.Conflict(409, "Conflict", "modified"), True),
        (errors.ServerError(500, "InternalError", "boom"), True),
        (errors.ConnectionFailed("refused"), True),
        (errors.Invalid(422, "Invalid", "bad"), False),
        (KeyError("bug"), False),
    ],
)
async def test_error_policy(client: Client, fake: FakeApiServer, err: Exception, retried: bool) -> None:
    fake.put_object(SERVICES, svc("a"))
    ctl = Demo(client)
    ctl.fail["default/a"] = [err, err]
    task = await running(ctl)
    if retried:
        await until(lambda: len(ctl.seen) == 3)  # two failures, then success
        assert ctl.queue.num_requeues("default/a") == 0  # success forgot the backoff
        assert events(fake) == []
    else:
        await until(lambda: len(events(fake)) == 1)
        await asyncio.sleep(0.05)
        assert ctl.seen == ["default/a"]
    await stop(task)


async def test_max_retries_then_failed_sync_event(client: Client, fake: FakeApiServer) -> None:
    fake.put_object(SERVICES, svc("a"))
    ctl = Demo(client, max_retries=3)
    ctl.fail["default/a"] = [errors.ServerError(500, "InternalError", "storage down")] * 10
    task = await running(ctl)
    await until(lambda: len(events(fake)) == 1)
    assert len(ctl.seen) == 4  # first try + 3 retries
    ev = events(fake)[0]
    assert ev["reason"] == "FailedSync" and ev["type"] == "Warning"
    assert ev["involvedObject"]["kind"] == "Service"
    assert ev["involvedObject"]["name"] == "a"
    assert ev["involvedObject"]["uid"] == fake.objects[(SERVICES.key, "default", "a")]["metadata"]["uid"]
    assert "storage down" in ev["message"]
    assert ev["source"]["component"] == "demo" and ev["count"] == 1
    await asyncio.sleep(0.1)
    assert len(ctl.seen) == 4  # dropped, not retried further
    await stop(task)


async def test_repeated_event_bumps_count(client: Client, fake: FakeApiServer) -> None:
    from controllers.runtime.events import WARNING, EventRecorder

    obj = fake.put_object(SERVICES, svc("a"))
    rec = EventRecorder(client, "demo")
    for _ in range(3):
        await rec.event(obj, WARNING, "ClusterIPOutOfRange", "out of range")
    await rec.event(obj, WARNING, "Other", "x")
    evs = sorted(events(fake), key=lambda e: e["reason"])
    assert [(e["reason"], e["count"]) for e in evs] == [("ClusterIPOutOfRange", 3), ("Other", 1)]


async def test_requeue_after_comes_back_without_counting_a_failure(client: Client, fake: FakeApiServer) -> None:
    fake.put_object(SERVICES, svc("a"))
    ctl = Demo(client)
    ctl.fail["default/a"] = [RequeueAfter(0.05, "range is full")]
    task = await running(ctl)
    await until(lambda: len(ctl.seen) == 2)
    assert ctl.queue.num_requeues("default/a") == 0
    assert events(fake) == []
    await stop(task)


async def test_workers_run_in_parallel_but_never_on_one_key(client: Client, fake: FakeApiServer) -> None:
    for i in range(8):
        fake.put_object(SERVICES, svc(f"s{i}"))
    ctl = Demo(client, workers=4)
    ctl.delay = 0.05
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    task = await running(ctl)
    await until(lambda: len(ctl.seen) >= 8)
    assert loop.time() - t0 < 8 * 0.05  # parallel
    await until(lambda: bool(fake.watchers))
    for _ in range(5):
        fake.put_object(SERVICES, svc("s0"))
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    assert not ctl.overlap
    await stop(task)


async def test_metrics_are_recorded(client: Client, fake: FakeApiServer) -> None:
    fake.put_object(SERVICES, svc("a"))
    m = RuntimeMetrics()
    ctl = Demo(client, metrics=m)
    task = await running(ctl)
    await until(lambda: len(ctl.seen) == 1)
    await asyncio.sleep(0.02)
    text = generate_latest(m.registry).decode()
    assert 'controller_runtime_reconcile_total{controller="demo",result="success"} 1.0' in text
    assert 'workqueue_depth{name="demo"} 0.0' in text
    await stop(task)
