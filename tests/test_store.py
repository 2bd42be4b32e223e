"""Storage semantics: revisions, conflicts, history, compaction, restart."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import migrations
from apimachinery.selectors import parse_label_selector
from apiserver.storage.database import Database, Op, make_engine
from apiserver.storage.errors import KeyExists, KeyNotFound, VersionConflict
from apiserver.storage.store import Store
from apiserver.watchcache import Filter, WatchCache


def pod(name: str, labels: dict[str, str] | None = None, ns: str = "default") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels or {}}}


@pytest.fixture
def url(db_url: str) -> str:
    migrations.upgrade(db_url)
    return db_url


async def open_store(url: str, **kw: Any) -> Store:
    cache = WatchCache(history_size=kw.pop("history_size", 10000))
    store = Store(Database(make_engine(url)), cache, **kw)
    await store.start()
    return store


ALL = Filter(None, None, None)


async def test_concurrent_writers_give_gap_free_strictly_increasing_revisions(url: str) -> None:
    store = await open_store(url)
    try:
        reg = store.cache.watch("pods", ALL, since=0)
        assert reg is not None
        watcher, initial = reg
        assert initial == []

        async def writer(i: int) -> None:
            for j in range(25):
                await store.commit([Op("ADDED", "pods", "default", f"p-{i}-{j}", pod(f"p-{i}-{j}"))])

        await asyncio.gather(*(writer(i) for i in range(20)))
        revs = []
        while not watcher.queue.empty():
            typ, ev = watcher.queue.get_nowait()
            assert typ == "ADDED"
            revs.append(ev.revision)
        assert revs == list(range(1, 501))
        assert store.transactions < 500  # concurrent requests were group-committed
    finally:
        await store.stop()


async def test_failed_request_in_a_batch_does_not_undo_the_others(url: str) -> None:
    store = await open_store(url)
    try:
        await store.commit([Op("ADDED", "pods", "default", "a", pod("a"))])
        results = await asyncio.gather(
            store.commit([Op("ADDED", "pods", "default", "b", pod("b"))]),
            store.commit([Op("ADDED", "pods", "default", "a", pod("a"))]),
            store.commit([Op("ADDED", "pods", "default", "c", pod("c")),
                          Op("ADDED", "pods", "default", "a", pod("a"))]),
            store.commit([Op("ADDED", "pods", "default", "d", pod("d"))]),
            return_exceptions=True,
        )
        assert isinstance(results[1], KeyExists)
        assert isinstance(results[2], KeyExists)
        assert store.cache.get("pods", "default", "c") is None  # the failed batch was atomic
        names = sorted(k[1] for k in store.cache.resources["pods"].items)
        assert names == ["a", "b", "d"]
        revs = [store.cache.get("pods", "default", n).revision for n in ("a", "b", "d")]  # type: ignore[union-attr]
        assert sorted(revs) == [1, 2, 3]
    finally:
        await store.stop()


async def test_stale_update_conflicts_and_missing_object_is_not_found(url: str) -> None:
    store = await open_store(url)
    try:
        [ch] = await store.commit([Op("ADDED", "pods", "default", "a", pod("a"))])
        await store.commit([Op("MODIFIED", "pods", "default", "a", pod("a", {"x": "1"}), ch.revision)])
        with pytest.raises(VersionConflict):
            await store.commit([Op("MODIFIED", "pods", "default", "a", pod("a", {"x": "2"}), ch.revision)])
        with pytest.raises(KeyNotFound):
            await store.commit([Op("DELETED", "pods", "default", "zz", pod("zz"), 1)])
        entry = store.cache.get("pods", "default", "a")
        assert entry is not None and entry.obj["metadata"]["labels"] == {"x": "1"}
    finally:
        await store.stop()


async def test_watch_from_revision_replays_each_later_change_once_in_order(url: str) -> None:
    store = await open_store(url)
    try:
        for i in range(10):
            await store.commit([Op("ADDED", "pods", "default", f"p{i}", pod(f"p{i}"))])
        reg = store.cache.watch("pods", ALL, since=4)
        assert reg is not None
        watcher, initial = reg
        assert [ev.revision for _, ev in initial] == [5, 6, 7, 8, 9, 10]
        await store.commit([Op("ADDED", "pods", "default", "late", pod("late"))])
        typ, ev = watcher.queue.get_nowait()
        assert (typ, ev.revision, ev.name) == ("ADDED", 11, "late")
        assert watcher.queue.empty()
    finally:
        await store.stop()


async def test_watch_from_compacted_revision_is_refused(url: str) -> None:
    store = await open_store(url, history_size=5, keep_changes=5)
    try:
        for i in range(20):
            await store.commit([Op("ADDED", "pods", "default", f"p{i}", pod(f"p{i}"))])
        assert store.cache.watch("pods", ALL, since=3) is None
        assert store.cache.watch("pods", ALL, since=16) is not None
        deleted = await store.compact_now()
        assert deleted == 15
    finally:
        await store.stop()


async def test_selector_transitions_become_added_and_deleted(url: str) -> None:
    store = await open_store(url)
    try:
        [ch] = await store.commit([Op("ADDED", "pods", "default", "a", pod("a", {"env": "dc"}))])
        reg = store.cache.watch("pods", Filter(None, parse_label_selector("env=marvel"), None), since=ch.revision)
        assert reg is not None
        watcher, _ = reg
        [c2] = await store.commit([Op("MODIFIED", "pods", "default", "a", pod("a", {"env": "marvel"}), ch.revision)])
        [c3] = await store.commit([Op("MODIFIED", "pods", "default", "a", pod("a", {"env": "marvel", "v": "1"}),
                                      c2.revision)])
        await store.commit([Op("MODIFIED", "pods", "default", "a", pod("a", {"env": "dc"}), c3.revision)])
        types = []
        while not watcher.queue.empty():
            types.append(watcher.queue.get_nowait()[0])
        assert types == ["ADDED", "MODIFIED", "DELETED"]
    finally:
        await store.stop()


async def test_slow_watcher_is_dropped_without_blocking_writers(url: str) -> None:
    store = await open_store(url)
    store.cache.max_queue = 3
    try:
        reg = store.cache.watch("pods", ALL, since=0)
        assert reg is not None
        watcher, _ = reg
        for i in range(10):
            await store.commit([Op("ADDED", "pods", "default", f"p{i}", pod(f"p{i}"))])
        assert watcher.closed
        assert store.cache.watcher_count() == 0
        assert len(store.cache.resources["pods"].items) == 10
    finally:
        await store.stop()


async def test_restart_keeps_objects_and_history(url: str) -> None:
    store = await open_store(url)
    for i in range(5):
        await store.commit([Op("ADDED", "pods", "default", f"p{i}", pod(f"p{i}"))])
    await store.stop()
    store = await open_store(url)
    try:
        assert store.cache.revision == 5
        assert len(store.cache.resources["pods"].items) == 5
        reg = store.cache.watch("pods", ALL, since=2)
        assert reg is not None
        assert [ev.revision for _, ev in reg[1]] == [3, 4, 5]
    finally:
        await store.stop()
