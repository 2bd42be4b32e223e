"""The async write path: group commit into the database, then feed the watch cache.

Why: one SQLite transaction per request caps creates/s at the fsync/commit
rate; requests that arrive while a transaction is in flight are committed
together in the next one. Invariant: batches are written by one thread, one
transaction at a time, and each committed transaction's changes are applied
to the watch cache (in revision order) before any of its callers is answered,
so a client that reads after a write sees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from apiserver.storage.database import Busy, Change, Database, Op
from apiserver.storage.errors import KeyExists, KeyNotFound, StorageError, VersionConflict
from apiserver.watchcache import WatchCache

log = logging.getLogger("kubelite.store")

MAX_BATCH = 256
CHECKPOINT_EVERY = 200


class Store:
    def __init__(
        self,
        db: Database,
        cache: WatchCache,
        *,
        keep_changes: int = 10000,
        compact_interval: float = 30.0,
        poll_interval: float = 0.5,
    ) -> None:
        self.db = db
        self.cache = cache
        self.keep_changes = keep_changes
        self.compact_interval = compact_interval
        self.poll_interval = poll_interval
        # Several API servers share a PostgreSQL database: our cache is fed
        # by polling ``changes`` (woken by our commits and NOTIFY), never by
        # our own commits directly, so every server applies the same order.
        self.shared = not db.is_sqlite
        self.inline_writes = db.is_sqlite and os.environ.get("KUBELITE_WRITER_THREAD", "") != "1"
        self._busy_until = 0.0
        self._since_checkpoint = 0
        self._checkpointing = False
        self._pending: list[tuple[list[Op], asyncio.Future[list[Change]]]] = []
        self._wake = asyncio.Event()
        self._poke = asyncio.Event()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kubelite-writer")
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kubelite-poller")
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = threading.Event()
        self._listener: threading.Thread | None = None
        self.commits = 0
        self.transactions = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        snap = await loop.run_in_executor(self._thread, self.db.snapshot)
        self.cache.load(snap.revision, snap.objects)
        self.cache.load_history(snap.compacted, snap.changes)
        self._tasks.append(asyncio.create_task(self._writer(), name="store-writer"))
        self._tasks.append(asyncio.create_task(self._compactor(), name="store-compactor"))
        if self.shared:
            self._tasks.append(asyncio.create_task(self._poller(), name="store-poller"))
            wake = lambda: loop.call_soon_threadsafe(self._poke.set)  # noqa: E731
            self._listener = threading.Thread(target=self.db.listen, args=(wake, self._stopped), daemon=True,
                                              name="kubelite-listen")
            self._listener.start()

    async def stop(self) -> None:
        self._stopped.set()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._thread.shutdown(wait=True)
        self._reader.shutdown(wait=True)
        self.db.engine.dispose()
        if self.db.quick_engine is not None:
            self.db.quick_engine.dispose()

    async def commit(self, ops: list[Op]) -> list[Change]:
        """Commit ``ops`` atomically; raises a StorageError when a precondition fails."""
        fut: asyncio.Future[list[Change]] = asyncio.get_running_loop().create_future()
        self._pending.append((ops, fut))
        self._wake.set()
        return await fut

    async def _writer(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                if not self.shared:
                    # One writer, authoritative cache: fail what must fail here, so the
                    # database transaction needs no savepoints.
                    verdicts = self._precheck([b[0] for b in batch])
                    for (_, fut), err in zip(batch, verdicts, strict=True):
                        if err is not None and not fut.done():
                            fut.set_exception(err)
                    batch = [b for b, err in zip(batch, verdicts, strict=True) if err is None]
                    if not batch:
                        continue
                try:
                    ops = [b[0] for b in batch]
                    results = None
                    if self.inline_writes and loop.time() >= self._busy_until:
                        # SQLite in WAL mode commits in well under a millisecond without an
                        # fsync: a thread hand-off costs more than it saves on 1-2 cores.
                        # Locked by another process: the thread waits, not the event loop,
                        # and for a second every write goes to the thread.
                        try:
                            results = self.db.write(ops, trusted=True, quick=True)
                        except Busy:
                            self._busy_until = loop.time() + 1.0
                    if results is None:
                        results = await loop.run_in_executor(
                            self._thread, functools.partial(self.db.write, ops, trusted=not self.shared)
                        )
                except Exception as e:  # the transaction itself failed: every caller learns it
                    log.error("write transaction failed: %s", e)
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(e)
                    continue
                self.transactions += 1
                committed: list[Change] = []
                for r in results:
                    if not isinstance(r, StorageError):
                        committed.extend(r)
                if committed and self.shared:
                    await self._catch_up(committed[-1].revision)
                # Callers are resolved before the watchers are woken (both only
                # schedule callbacks): a writer's response need not queue behind
                # every watch stream. Race-free: apply() below runs before this task
                # yields, so a caller that resumes reads the cache with its write.
                for (_, fut), r in zip(batch, results, strict=True):
                    if fut.done():
                        continue
                    if isinstance(r, StorageError):
                        fut.set_exception(r)
                    else:
                        fut.set_result(r)
                if committed:
                    self.commits += 1
                    if not self.shared:
                        self.cache.apply(committed)
                    if self.inline_writes:
                        self._maybe_checkpoint(loop)

    def _maybe_checkpoint(self, loop: asyncio.AbstractEventLoop) -> None:
        """Inline writes never checkpoint themselves (it would stall the loop): the writer
        thread runs a PASSIVE checkpoint every CHECKPOINT_EVERY commits, beside the writers."""
        self._since_checkpoint += 1
        if self._since_checkpoint < CHECKPOINT_EVERY or self._checkpointing:
            return
        self._since_checkpoint = 0
        self._checkpointing = True
        fut = loop.run_in_executor(self._thread, self.db.checkpoint_passive)

        def done(f: asyncio.Future[None]) -> None:
            self._checkpointing = False
            if not f.cancelled() and f.exception() is not None:
                log.info("WAL checkpoint deferred: %s", f.exception())

        fut.add_done_callback(done)

    def _precheck(self, batches: list[list[Op]]) -> list[StorageError | None]:
        """Each batch's verdict against the cache plus the batches accepted before it."""
        overlay: dict[tuple[str, str, str], int | None] = {}
        verdicts: list[StorageError | None] = []
        for ops in batches:
            local: dict[tuple[str, str, str], int | None] = {}
            err: StorageError | None = None
            for op in ops:
                k = (op.resource, op.namespace, op.name)
                if k in local:
                    cur = local[k]
                elif k in overlay:
                    cur = overlay[k]
                else:
                    e = self.cache.get(*k)
                    cur = None if e is None else e.revision
                if op.type == "ADDED":
                    if cur is not None:
                        err = KeyExists(*k)
                        break
                    local[k] = -1  # exists; its revision is assigned by the transaction
                else:
                    if cur is None:
                        err = KeyNotFound(*k)
                        break
                    if op.expect_rv is not None and cur != op.expect_rv:
                        err = VersionConflict(*k)
                        break
                    local[k] = -1 if op.type == "MODIFIED" else None
            if err is None:
                overlay.update(local)
            verdicts.append(err)
        return verdicts

    # -- shared database (PostgreSQL): the cache follows ``changes`` ------
    async def _catch_up(self, revision: int) -> None:
        while self.cache.revision < revision:
            self._poke.set()
            await self.cache.wait_for(revision, timeout=1.0)

    async def _poller(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):  # not wait_for: it can swallow a cancel
                    await self._poke.wait()
            self._poke.clear()
            try:
                rows = await loop.run_in_executor(self._reader, self.db.changes_since, self.cache.revision)
            except Exception as e:
                log.warning("polling changes failed: %s", e)
                await asyncio.sleep(self.poll_interval)
                continue
            if rows:
                self.cache.apply(
                    Change(rev, typ, res, ns, name, orjson.loads(body), body)  # type: ignore[arg-type]
                    for rev, typ, res, ns, name, body in rows
                )
                if len(rows) >= 5000:
                    self._poke.set()

    def poke(self) -> None:
        """Something (NOTIFY, a reader needing a fresh revision) wants a poll now."""
        self._poke.set()

    async def fresh_revision(self) -> int:
        """The database's revision, for reads that must not be stale (shared mode)."""
        if not self.shared:
            return self.cache.revision
        loop = asyncio.get_running_loop()
        rev = await loop.run_in_executor(self._reader, self.db.current_revision)
        if self.cache.revision < rev:
            await self._catch_up(rev)
        return rev

    # -- compaction --------------------------------------------------------
    async def _compactor(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.compact_interval)
            await self.compact_now(loop)

    async def compact_now(self, loop: Any = None) -> int:
        loop = loop or asyncio.get_running_loop()
        upto = self.cache.revision - self.keep_changes
        if upto <= 0:
            return 0
        try:
            if self.inline_writes:
                # SQLite: one short transaction at a time on the event loop, between the
                # writers' batches, so compaction never holds the lock a writer waits for.
                n = 0
                while True:
                    step = self.db.compact(upto, max_batches=1, quick=True)
                    n += step
                    if step == 0:
                        break
                    await asyncio.sleep(0)
            else:
                n = await loop.run_in_executor(self._thread, self.db.compact, upto)
        except Exception as e:
            log.warning("compaction failed: %s", e)
            return 0
        if n:
            log.info("compacted %d changes up to revision %d", n, upto)
            try:
                # inline writers must not wait behind a TRUNCATE checkpoint: PASSIVE
                # lets the WAL be reused instead of shrunk, which bounds it just the same
                ckpt = self.db.checkpoint_passive if self.inline_writes else self.db.checkpoint
                await loop.run_in_executor(self._thread, ckpt)
            except Exception as e:  # a reader holds the WAL: the next pass truncates it
                log.info("WAL checkpoint deferred: %s", e)
        return n
