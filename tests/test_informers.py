"""InformerFactory: controllers of one process share one LIST+WATCH per resource; late handlers get a replay.

The request counts are read from a real API server's /metrics (its own
process, so nothing else talks to it): ``apiserver_request_total`` for LIST
and ``apiserver_watch_requests_total`` for watches started.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ApiServerProcess, free_port, start_apiserver

from apimachinery.resources import BY_KEY
from controllers.runtime.controller import Controller
from controllers.runtime.informer import Informer, object_key
from controllers.runtime.informers import InformerFactory
from kubeclient.client import Client

CONFIGMAPS = BY_KEY["configmaps"]
NODES = BY_KEY["nodes"]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ApiServerProcess]:
    srv = start_apiserver(tmp_path / "apiserver")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
async def client(server: ApiServerProcess) -> AsyncIterator[Client]:
    async with Client(server.url) as c:
        yield c


def cm(name: str, value: str = "1") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"},
            "data": {"v": value}}


def requests(url: str, resource: str) -> tuple[int, int]:
    """(LISTs answered, WATCHes started) for ``resource``, from the server's /metrics."""
    text = httpx.get(url + "/metrics", timeout=5).text
    lists = watches = 0.0
    for labels, value in re.findall(r"^apiserver_request_total\{([^}]*)\} (\S+)$", text, re.M):
        if f'resource="{resource}"' in labels and 'verb="LIST"' in labels:
            lists += float(value)
    for value in re.findall(rf'^apiserver_watch_requests_total\{{resource="{resource}"\}} (\S+)$', text, re.M):
        watches += float(value)
    return int(lists), int(watches)


async def until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)


class Watcher(Controller):
    """Reconciles every ConfigMap; remembers what it saw (and lists Nodes, to share a second informer)."""

    def __init__(self, client: Client, name: str, **kwargs: Any) -> None:
        self.name = name
        super().__init__(client, **kwargs)
        self.cms = self.informer(CONFIGMAPS, enqueue=True)
        self.nodes = self.informer(NODES)
        self.seen: dict[str, str] = {}
        self.deleted: list[str] = []
        self.handle(self.cms, on_delete=lambda o: self.deleted.append(object_key(o)))

    async def reconcile(self, key: str) -> None:
        obj = self.cms.cache.get_by_key(key)
        if obj is not None:
            self.seen[key] = obj["data"]["v"]


async def stop(*tasks: asyncio.Task[Any]) -> None:
    for t in tasks:
        t.cancel()
    for t in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await t


async def test_two_controllers_on_one_factory_list_and_watch_once(server: ApiServerProcess, client: Client) -> None:
    for i in range(3):
        await client.create(CONFIGMAPS, cm(f"c{i}"), namespace="default")
    before = requests(server.url, "configmaps")
    factory = InformerFactory(client)
    a, b = Watcher(client, "a", informers=factory), Watcher(client, "b", informers=factory)
    assert a.cms is b.cms and a.nodes is b.nodes and len(factory) == 2
    tasks = [asyncio.create_task(a.run()), asyncio.create_task(b.run())]
    try:
        want = {f"default/c{i}": "1" for i in range(3)}
        await until(lambda: a.seen == want and b.seen == want)
        await client.create(CONFIGMAPS, cm("c3"), namespace="default")
        await client.update(CONFIGMAPS, cm("c0", "2"))
        await client.delete(CONFIGMAPS, "c1", namespace="default")
        await until(lambda: all(c.seen.get("default/c3") == "1" and c.seen.get("default/c0") == "2"
                                and c.deleted == ["default/c1"] for c in (a, b)))
        after = requests(server.url, "configmaps")
        assert (after[0] - before[0], after[1] - before[1]) == (1, 1)
        # the counts can tell: a controller with its own (private) factory lists and watches again
        c = Watcher(client, "c")
        tasks.append(asyncio.create_task(c.run()))
        await until(lambda: c.seen.get("default/c0") == "2")
        again = requests(server.url, "configmaps")
        assert (again[0] - after[0], again[1] - after[1]) == (1, 1)
    finally:
        await stop(*tasks)
        await factory.shutdown()


async def test_a_controller_whose_run_ends_leaves_the_shared_informer_to_the_other(
        server: ApiServerProcess, client: Client) -> None:
    factory = InformerFactory(client)
    a, b = Watcher(client, "a", informers=factory), Watcher(client, "b", informers=factory)
    ta, tb = asyncio.create_task(a.run()), asyncio.create_task(b.run())
    try:
        await client.create(CONFIGMAPS, cm("x"), namespace="default")
        await until(lambda: "default/x" in a.seen and "default/x" in b.seen)
        await stop(ta)
        await client.delete(CONFIGMAPS, "x", namespace="default")
        await until(lambda: b.deleted == ["default/x"])
        await asyncio.sleep(0.2)
        assert a.deleted == []  # its handlers went with its run
        assert not tb.done()
        assert requests(server.url, "configmaps")[1] == 1
    finally:
        await stop(ta, tb)
        await factory.shutdown()


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def add(self, obj: dict[str, Any]) -> None:
        self.events.append(("add", object_key(obj), obj["data"]["v"]))

    async def update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        await asyncio.sleep(0)
        self.events.append(("update", object_key(new), new["data"]["v"]))

    def delete(self, obj: dict[str, Any]) -> None:
        self.events.append(("delete", object_key(obj), obj["data"]["v"]))


async def test_a_handler_added_after_sync_gets_the_cache_as_adds_then_events(client: Client) -> None:
    for i in range(3):
        await client.create(CONFIGMAPS, cm(f"r{i}"), namespace="default")
    factory = InformerFactory(client)
    inf: Informer = factory.get(CONFIGMAPS, namespace="default")
    early = Recorder()
    inf.add_handler(early.add, early.update, early.delete)
    factory.start()
    try:
        await factory.wait_synced()
        assert sorted(e[1] for e in early.events) == ["default/r0", "default/r1", "default/r2"]
        late = Recorder()
        reg = inf.add_handler(late.add, late.update, late.delete)
        await client.update(CONFIGMAPS, cm("r0", "2"))
        await inf.wait_handler_synced(reg)
        await until(lambda: ("update", "default/r0", "2") in late.events)
        adds = [e for e in late.events if e[0] == "add"]
        assert sorted(e[1] for e in adds) == ["default/r0", "default/r1", "default/r2"]
        # every add comes before the update, whichever won the race to the handler
        assert late.events.index(("update", "default/r0", "2")) == 3
        inf.remove_handler(reg)
        await client.delete(CONFIGMAPS, "r1", namespace="default")
        await until(lambda: ("delete", "default/r1", "1") in early.events)
        assert ("delete", "default/r1", "1") not in late.events
        # the same key gets the same informer; another selector gets another
        assert factory.get(CONFIGMAPS, namespace="default") is inf
        assert factory.get(CONFIGMAPS, namespace="default", label_selector="a=b") is not inf
    finally:
        await factory.shutdown()


def test_the_node_process_watches_pods_twice_and_nodes_once(server: ApiServerProcess, tmp_path: Path) -> None:
    """Scheduler and lifecycle pass share the all-Pods and all-Nodes informers; the agent keeps its own
    ``spec.nodeName=`` Pod watch (a node that does not lead must not cache every Pod of the cluster)."""
    api = httpx.Client(base_url=server.url, timeout=10)
    log = (tmp_path / "node.log").open("wb")
    node = subprocess.Popen(
        [sys.executable, "-m", "kubelite.cli", "node", "--server", server.url, "--name", "shared-1",
         "--pod-cidr", "10.87.1.0/24", "--kubelet-port", str(free_port()), "--log-level", "WARNING"],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        r = api.post("/api/v1/namespaces/default/pods", json={
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
        assert r.status_code == 201, r.text
        deadline = time.monotonic() + 30
        while api.get("/api/v1/namespaces/default/pods/p").json().get("status", {}).get("phase") != "Running":
            assert time.monotonic() < deadline, "the Pod was not scheduled and started"
            assert node.poll() is None, (tmp_path / "node.log").read_text()
            time.sleep(0.1)
        assert requests(server.url, "pods") == (2, 2)
        assert requests(server.url, "nodes")[1] == 1
    finally:
        node.terminate()
        node.wait(20)
        api.close()
        log.close()
