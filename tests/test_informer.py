"""Informer: paged list, watch, relist on 410 / broken streams with diff events, cache indexes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from kubefake import FakeApiServer, fake_apiserver, svc

from apimachinery.resources import BY_KEY
from controllers.runtime.informer import Cache, Informer, object_key, split_key
from kubeclient.client import Client

SERVICES = BY_KEY["services"]
NODES = BY_KEY["nodes"]


@pytest.fixture
async def fake() -> AsyncIterator[FakeApiServer]:
    async with fake_apiserver(bookmark_interval=0.1) as srv:
        yield srv


@pytest.fixture
async def client(fake: FakeApiServer) -> AsyncIterator[Client]:
    async with Client(fake.url) as c:
        yield c


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def add(self, obj: dict[str, Any]) -> None:
        self.events.append(("add", object_key(obj)))

    def update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        assert object_key(old) == object_key(new)
        self.events.append(("update", object_key(new)))

    def delete(self, obj: dict[str, Any]) -> None:
        self.events.append(("delete", object_key(obj)))


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


def started(inf: Informer, rec: Recorder | None = None) -> asyncio.Task[None]:
    if rec is not None:
        inf.add_handler(rec.add, rec.update, rec.delete)
    return asyncio.create_task(inf.run())


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.parametrize(
    ("key", "parts"),
    [("ns/name", ("ns", "name")), ("node-1", ("", "node-1")), ("10.96.0.1", ("", "10.96.0.1"))],
)
def test_split_key_inverts_object_key(key: str, parts: tuple[str, str]) -> None:
    assert split_key(key) == parts
    ns, name = parts
    assert object_key({"metadata": {"name": name, **({"namespace": ns} if ns else {})}}) == key


def test_cache_indexes_follow_updates_and_removals() -> None:
    c = Cache()
    c.add_index("by-type", lambda o: [o["spec"].get("type", "ClusterIP")])
    c.put({"metadata": {"name": "a", "namespace": "n1", "labels": {"app": "x"}}, "spec": {}})
    c.put({"metadata": {"name": "b", "namespace": "n2", "labels": {"app": "x"}}, "spec": {"type": "NodePort"}})
    assert [o["metadata"]["name"] for o in c.by_index("label", "app=x")] == ["a", "b"]
    assert [o["metadata"]["name"] for o in c.list("n2")] == ["b"]
    c.put({"metadata": {"name": "a", "namespace": "n1", "labels": {"app": "y"}}, "spec": {"type": "NodePort"}})
    assert [o["metadata"]["name"] for o in c.by_index("label", "app=x")] == ["b"]
    assert [o["metadata"]["name"] for o in c.by_index("by-type", "NodePort")] == ["a", "b"]
    assert c.by_index("by-type", "ClusterIP") == []
    c.remove("n2/b")
    assert c.keys() == ["n1/a"]
    assert c.by_index("namespace", "n2") == []
    assert c.get("n1", "a") is not None and c.get(None, "a") is None
    with pytest.raises(KeyError):
        c.by_index("nope", "x")


async def test_initial_list_is_paged_and_synced(client: Client, fake: FakeApiServer) -> None:
    for i in range(1201):
        fake.put_object(SERVICES, svc(f"s{i:04d}", f"ns{i % 3}"))
    inf = Informer(client, SERVICES)
    rec = Recorder()
    task = started(inf, rec)
    await asyncio.wait_for(inf.wait_synced(), 10)
    assert inf.has_synced()
    lists = [q for m, p, q in fake.requests if m == "GET" and "watch" not in q]
    assert [q.get("limit") for q in lists] == ["500", "500", "500"]
    assert "continue" in lists[1] and "continue" in lists[2]
    assert len(inf.cache) == 1201 and len(rec.events) == 1201
    assert {e[0] for e in rec.events} == {"add"}
    assert len(inf.cache.list("ns1")) == 400
    first = inf.cache.get("ns0", "s0000")
    assert first is not None and first["kind"] == "Service"  # list items get kind back
    await until(lambda: any("watch" in q for _, _, q in fake.requests))
    watch = next(q for _, _, q in fake.requests if "watch" in q)
    assert watch["resourceVersion"] == str(fake.rv)
    assert watch["allowWatchBookmarks"] == "true"
    await stop(task)


async def test_watch_events_reach_cache_and_handlers(client: Client, fake: FakeApiServer) -> None:
    fake.put_object(NODES, {"metadata": {"name": "n1"}})
    inf = Informer(client, NODES)
    rec = Recorder()
    task = started(inf, rec)
    await inf.wait_synced()
    await until(lambda: bool(fake.watchers))
    fake.put_object(NODES, {"metadata": {"name": "n2"}})
    fake.put_object(NODES, {"metadata": {"name": "n1", "labels": {"x": "y"}}})
    fake.delete_object(NODES, "", "n2")
    await until(lambda: len(rec.events) == 4)
    assert rec.events == [("add", "n1"), ("add", "n2"), ("update", "n1"), ("delete", "n2")]
    assert inf.cache.keys() == ["n1"]
    n1 = inf.cache.get(None, "n1")
    assert n1 is not None and n1["metadata"]["labels"] == {"x": "y"}
    await until(lambda: inf.last_resource_version == str(fake.rv))
    await stop(task)


async def test_gone_relists_and_emits_the_difference(client: Client, fake: FakeApiServer) -> None:
    for n in ("keep", "change", "drop"):
        fake.put_object(SERVICES, svc(n))
    inf = Informer(client, SERVICES, backoff_initial=0.05)
    rec = Recorder()
    task = started(inf, rec)
    await inf.wait_synced()
    await until(lambda: bool(fake.watchers))
    rec.events.clear()
    # Change the world while the informer cannot see it, and lose the history.
    fake.end_watches()
    await until(lambda: not fake.watchers)
    fake.put_object(SERVICES, svc("change", clusterIP="10.96.0.7"))
    fake.delete_object(SERVICES, "default", "drop")
    fake.put_object(SERVICES, svc("new"))
    fake.compact()
    await until(lambda: len(rec.events) == 3)
    assert sorted(rec.events) == [("add", "default/new"), ("delete", "default/drop"), ("update", "default/change")]
    assert sorted(inf.cache.keys()) == ["default/change", "default/keep", "default/new"]
    assert inf.relists == 2
    assert fake.gone_sent == 1  # the re-watch from the old resourceVersion got 410, hence the relist
    await stop(task)


async def test_broken_stream_relists_and_keeps_following(client: Client, fake: FakeApiServer) -> None:
    fake.put_object(SERVICES, svc("a"))
    inf = Informer(client, SERVICES, backoff_initial=0.05)
    rec = Recorder()
    task = started(inf, rec)
    await inf.wait_synced()
    await until(lambda: bool(fake.watchers))
    fake.break_watches()
    await until(lambda: inf.relists == 2)
    await until(lambda: bool(fake.watchers))
    fake.put_object(SERVICES, svc("b"))
    await until(lambda: ("add", "default/b") in rec.events)
    assert rec.events.count(("add", "default/a")) == 1  # the relist found nothing new about "a"
    await stop(task)


async def test_list_failure_is_retried_with_backoff(client: Client, fake: FakeApiServer) -> None:
    fake.put_object(SERVICES, svc("a"))
    fake.fail_next("GET", "/services", 500)
    fake.fail_next("GET", "/services", 503)
    inf = Informer(client, SERVICES, backoff_initial=0.02)
    task = started(inf)
    await asyncio.wait_for(inf.wait_synced(), 5)
    assert inf.cache.keys() == ["default/a"]
    assert sum(1 for m, p, q in fake.requests if p == "/api/v1/services" and "watch" not in q) == 3
    await stop(task)


async def test_selectors_are_sent_on_list_and_watch(client: Client, fake: FakeApiServer) -> None:
    fake.put_object(SERVICES, {**svc("a"), "metadata": {"name": "a", "namespace": "default", "labels": {"t": "1"}}})
    fake.put_object(SERVICES, svc("b"))
    inf = Informer(client, SERVICES, namespace="default", label_selector="t=1")
    task = started(inf)
    await inf.wait_synced()
    assert inf.cache.keys() == ["default/a"]
    await until(lambda: bool(fake.watchers))
    paths = {(p, q.get("labelSelector")) for _, p, q in fake.requests}
    assert paths == {("/api/v1/namespaces/default/services", "t=1")}
    await stop(task)


async def test_against_the_real_api_server(apiserver: Any, ns: str) -> None:
    """The same protocol against kubelite's API server (paged list, watch from the list's version)."""
    async with Client(apiserver.url) as c:
        for i in range(3):
            await c.create(SERVICES, svc(f"r{i}", ns))
        inf = Informer(c, SERVICES, namespace=ns, page_size=2)
        rec = Recorder()
        task = started(inf, rec)
        await asyncio.wait_for(inf.wait_synced(), 10)
        assert sorted(inf.cache.keys()) == [f"{ns}/r0", f"{ns}/r1", f"{ns}/r2"]
        await c.create(SERVICES, svc("r3", ns))
        await c.patch(SERVICES, "r0", {"metadata": {"labels": {"x": "y"}}}, namespace=ns)
        await c.delete(SERVICES, "r1", namespace=ns)
        await until(lambda: len(rec.events) == 6, timeout=10)
        assert rec.events[3:] == [("add", f"{ns}/r3"), ("update", f"{ns}/r0"), ("delete", f"{ns}/r1")]
        assert [o["metadata"]["name"] for o in inf.cache.by_index("label", "x=y")] == ["r0"]
        await stop(task)
