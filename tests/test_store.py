"""Storage semantics: revisions, conflicts, history, compaction, restart."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

import pytest

import migrations
from apimachinery.selectors import parse_label_selector
from apiserver.storage.database import Database, make_engine
from apiserver.storage.errors import KeyExists, KeyNotFound, VersionConflict
from apiserver.storage.records import Change, ChangeRow, Op, Versioned
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


def cache(store: Store) -> WatchCache:
    """The watch cache behind ``store`` (the store itself knows only its ChangeSink side)."""
    assert isinstance(store.cache, WatchCache)
    return store.cache


ALL = Filter(None, None, None)


async def test_concurrent_writers_give_gap_free_strictly_increasing_revisions(url: str) -> None:
    store = await open_store(url)
    try:
        reg = cache(store).watch("pods", ALL, since=0)
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
        assert cache(store).get("pods", "default", "c") is None  # the failed batch was atomic
        names = sorted(k[1] for k in cache(store).resources["pods"].items)
        assert names == ["a", "b", "d"]
        revs = [cache(store).get("pods", "default", n).revision for n in ("a", "b", "d")]  # type: ignore[union-attr]
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
        entry = cache(store).get("pods", "default", "a")
        assert entry is not None and entry.obj["metadata"]["labels"] == {"x": "1"}
    finally:
        await store.stop()


async def test_watch_from_revision_replays_each_later_change_once_in_order(url: str) -> None:
    store = await open_store(url)
    try:
        for i in range(10):
            await store.commit([Op("ADDED", "pods", "default", f"p{i}", pod(f"p{i}"))])
        reg = cache(store).watch("pods", ALL, since=4)
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
        assert cache(store).watch("pods", ALL, since=3) is None
        assert cache(store).watch("pods", ALL, since=16) is not None
        deleted = await store.compact_now()
        assert deleted == 15
    finally:
        await store.stop()


async def test_selector_transitions_become_added_and_deleted(url: str) -> None:
    store = await open_store(url)
    try:
        [ch] = await store.commit([Op("ADDED", "pods", "default", "a", pod("a", {"env": "dc"}))])
        reg = cache(store).watch("pods", Filter(None, parse_label_selector("env=marvel"), None), since=ch.revision)
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
    cache(store).max_queue = 3
    try:
        reg = cache(store).watch("pods", ALL, since=0)
        assert reg is not None
        watcher, _ = reg
        for i in range(10):
            await store.commit([Op("ADDED", "pods", "default", f"p{i}", pod(f"p{i}"))])
        assert watcher.closed
        assert cache(store).watcher_count() == 0
        assert len(cache(store).resources["pods"].items) == 10
    finally:
        await store.stop()


async def test_restart_keeps_objects_and_history(url: str) -> None:
    store = await open_store(url)
    for i in range(5):
        await store.commit([Op("ADDED", "pods", "default", f"p{i}", pod(f"p{i}"))])
    await store.stop()
    store = await open_store(url)
    try:
        assert cache(store).revision == 5
        assert len(cache(store).resources["pods"].items) == 5
        reg = cache(store).watch("pods", ALL, since=2)
        assert reg is not None
        assert [ev.revision for _, ev in reg[1]] == [3, 4, 5]
    finally:
        await store.stop()


class RecordingSink:
    """A ChangeSink that is not the watch cache: the store must need nothing else of its sink."""

    def __init__(self) -> None:
        self.revision = 0
        self.revisions: dict[tuple[str, str, str], int] = {}
        self.applied: list[tuple[int, str, str]] = []
        self._advanced = asyncio.Event()

    def load(self, revision: int, objects: Iterable[tuple[str, str, str, bytes]]) -> None:
        self.revision = revision

    def load_history(self, compacted: int, changes: Iterable[ChangeRow]) -> None:
        return None

    def apply(self, changes: Iterable[Change]) -> None:
        for ch in changes:
            if ch.revision <= self.revision:
                continue
            self.applied.append((ch.revision, ch.type, ch.name))
            self.revisions[(ch.resource, ch.namespace, ch.name)] = ch.revision
            self.revision = ch.revision
        self._advanced.set()
        self._advanced = asyncio.Event()

    def get(self, resource: str, namespace: str, name: str) -> Versioned | None:
        rev = self.revisions.get((resource, namespace, name))
        return None if rev is None else Change(rev, "ADDED", resource, namespace, name, {})

    async def wait_for(self, revision: int, *, timeout: float) -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self.revision < revision:
                    await self._advanced.wait()
        return self.revision >= revision


async def test_store_publishes_each_commit_to_its_sink_once_in_revision_order(url: str) -> None:
    sink = RecordingSink()
    store = Store(Database(make_engine(url)), sink)
    await store.start()
    try:
        base = sink.revision
        await asyncio.gather(*(store.commit([Op("ADDED", "pods", "default", f"p{i}", pod(f"p{i}"))])
                               for i in range(20)))
        with pytest.raises(KeyExists):
            await store.commit([Op("ADDED", "pods", "default", "p3", pod("p3"))])
        await store.commit([Op("DELETED", "pods", "default", "p3", pod("p3"))])
        assert await store.fresh_revision() == base + 21
        assert [r for r, _, _ in sink.applied] == list(range(base + 1, base + 22))
        assert sorted(n for _, t, n in sink.applied if t == "ADDED") == sorted(f"p{i}" for i in range(20))
        assert sink.applied[-1][1:] == ("DELETED", "p3")
    finally:
        await store.stop()


@pytest.mark.parametrize("writer_thread", ["0", "1"])
async def test_a_write_refused_for_an_earlier_one_of_its_batch_finds_that_one_in_the_cache(
        tmp_path: Any, monkeypatch: pytest.MonkeyPatch, writer_thread: str) -> None:
    """Two updates of one object from the same revision in one batch: the second is refused before the
    transaction; its caller must resume only once the first is in the cache, so a retry (an
    unconditional update) sees what won. On the writer thread the commit awaits, so answering the
    refused one at once let it resume first."""
    monkeypatch.setenv("KUBELITE_WRITER_THREAD", writer_thread)
    url = f"sqlite:///{tmp_path / 'k.db'}"
    migrations.upgrade(url)
    store = await open_store(url)
    try:
        [made] = await store.commit([Op("ADDED", "configmaps", "d", "k", {"metadata": {"name": "k"}})])

        async def update(v: str) -> int | str:
            try:
                await store.commit([Op("MODIFIED", "configmaps", "d", "k", {"metadata": {"name": "k"}, "v": v},
                                       made.revision)])
                return "won"
            except VersionConflict:
                entry = cache(store).get("configmaps", "d", "k")
                assert entry is not None
                return entry.revision

        for _ in range(20):
            results = await asyncio.gather(update("a"), update("b"))
            assert results.count("won") <= 1
            lost = [r for r in results if r != "won"]
            assert all(isinstance(r, int) and r > made.revision for r in lost), results
            [made] = await store.commit([Op("MODIFIED", "configmaps", "d", "k", {"metadata": {"name": "k"}},
                                            cache(store).get("configmaps", "d", "k").revision)])  # type: ignore[union-attr]
    finally:
        await store.stop()
