"""The async write path: group commit into the database, then publish to the change sink.

Why: one SQLite transaction per request caps creates/s at the fsync/commit
rate; requests that arrive while a transaction is in flight are committed
together in the next one. Invariant: batches are written by one writer, one
transaction at a time, and each committed transaction's changes reach the
sink (the watch cache, in revision order) before any of its callers is
answered, so a client that reads after a write sees it.
Generic: where a transaction runs (the dialect's Committer) and how the sink
follows the database (its Feed) are the dialect's (sqlite.py, postgres.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor

from apiserver.storage.database import Database
from apiserver.storage.errors import StorageError
from apiserver.storage.records import Change, ChangeSink, Op

log = logging.getLogger("kubelite.store")

MAX_BATCH = 256


class Store:
    def __init__(
        self,
        db: Database,
        cache: ChangeSink,
        *,
        keep_changes: int = 10000,
        compact_interval: float = 30.0,
        poll_interval: float = 0.5,
    ) -> None:
        self.db = db
        self.cache = cache
        self.keep_changes = keep_changes
        self.compact_interval = compact_interval
        self._pending: list[tuple[list[Op], asyncio.Future[list[Change]]]] = []
        self._wake = asyncio.Event()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kubelite-writer")
        self.feed = db.dialect.feed(db, cache, poll_interval=poll_interval)
        self.committer = db.dialect.committer(db, self._thread)
        # Several API servers may share the database: reads that must not be stale
        # ask ``fresh_revision`` (callers outside the store branch on this).
        self.shared = self.feed.shared
        self._tasks: list[asyncio.Task[None]] = []
        self.commits = 0
        self.transactions = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        snap = await loop.run_in_executor(self._thread, self.db.snapshot)
        self.cache.load(snap.revision, snap.objects)
        self.cache.load_history(snap.compacted, snap.changes)
        self._tasks.append(asyncio.create_task(self._writer(), name="store-writer"))
        self._tasks.append(asyncio.create_task(self._compactor(), name="store-compactor"))
        self._tasks.extend(self.feed.start())

    async def stop(self) -> None:
        self.feed.stopping()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._thread.shutdown(wait=True)
        self.feed.close()
        self.db.dispose()

    async def commit(self, ops: list[Op]) -> list[Change]:
        """Commit ``ops`` atomically; raises a StorageError when a precondition fails."""
        fut: asyncio.Future[list[Change]] = asyncio.get_running_loop().create_future()
        self._pending.append((ops, fut))
        self._wake.set()
        return await fut

    async def _writer(self) -> None:
        loop = asyncio.get_running_loop()
        feed, committer = self.feed, self.committer
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                # A single writer fails here what must fail, so its transaction needs no savepoints.
                batch, refused = feed.admit(batch)
                if not batch:
                    _refuse(refused)
                    continue
                try:
                    results = await committer.write([b[0] for b in batch], trusted=feed.trusted)
                except Exception as e:  # the transaction itself failed: every caller learns it
                    log.error("write transaction failed: %s", e)
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(e)
                    _refuse(refused)
                    continue
                self.transactions += 1
                committed: list[Change] = []
                for r in results:
                    if not isinstance(r, StorageError):
                        committed.extend(r)
                if committed:
                    await feed.settle(committed[-1].revision)
                # Callers are resolved before the watchers are woken (both only
                # schedule callbacks): a writer's response need not queue behind
                # every watch stream. Race-free: publish() below runs before this task
                # yields, so a caller that resumes reads the cache with its write.
                for (_, fut), r in zip(batch, results, strict=True):
                    if fut.done():
                        continue
                    if isinstance(r, StorageError):
                        fut.set_exception(r)
                    else:
                        fut.set_result(r)
                _refuse(refused)  # after the commit they lost to, with it: see Feed.admit
                if committed:
                    self.commits += 1
                    feed.publish(committed)
                    committer.committed(loop)

    def is_stale(self, resource: str, namespace: str, name: str) -> bool:
        """Whether a rewrite of the object is due even unchanged: it was read with an older key."""
        return self.db.is_stale(resource, namespace, name)

    def poke(self) -> None:
        """Something (NOTIFY, a reader needing a fresh revision) wants a poll now."""
        self.feed.poke()

    async def fresh_revision(self) -> int:
        """The database's revision, for reads that must not be stale (the sink's own when it is authoritative)."""
        return await self.feed.fresh_revision()

    # -- compaction --------------------------------------------------------
    async def _compactor(self) -> None:
        while True:
            await asyncio.sleep(self.compact_interval)
            await self.compact_now()

    async def compact_now(self) -> int:
        upto = self.cache.revision - self.keep_changes
        if upto <= 0:
            return 0
        try:
            n = await self.committer.compact(upto)
        except Exception as e:
            log.warning("compaction failed: %s", e)
            return 0
        if n:
            log.info("compacted %d changes up to revision %d", n, upto)
            try:
                await self.committer.checkpoint()
            except Exception as e:  # a reader holds the WAL: the next pass truncates it
                log.info("WAL checkpoint deferred: %s", e)
        return n


def _refuse(refused: list[tuple[asyncio.Future[list[Change]], StorageError]]) -> None:
    for fut, err in refused:
        if not fut.done():
            fut.set_exception(err)
