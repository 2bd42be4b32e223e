"""SQLite: one API server owns the file, so its watch cache is authoritative.

What SQLite does its own way (behind dialect.Dialect):
- engine: WAL, synchronous=NORMAL (a committed transaction survives kill -9
  of the process), a busy timeout, BEGIN IMMEDIATE so the write lock is taken
  up front (no deadlock-prone lock upgrades), and a kept-open pool;
- writes run on the event loop (a WAL commit takes well under a millisecond
  without an fsync: a thread hand-off costs more than it saves on 1-2 cores)
  through a quick engine that gives up on a lock after 50 ms; then the writer
  thread retries with the normal busy timeout and takes every write for a
  second (KUBELITE_WRITER_THREAD=1: always the thread);
- inline writers never checkpoint (it would stall the loop): the writer
  thread runs a PASSIVE checkpoint every CHECKPOINT_EVERY commits;
- the WAL stays bounded under steady writes: a PASSIVE checkpoint never lets
  the WAL restart while writers keep appending (the file then only grows), so
  once the WAL passes WAL_RESTART_BYTES the writer thread runs a RESTART
  checkpoint (writers wait for it: inline ones give up after 50 ms and queue
  behind it on the writer thread, never stalling the loop), and
  journal_size_limit truncates the file back to WAL_LIMIT_BYTES at the restart;
- the cache is fed directly by our own commits, and every write is
  prechecked against it, so the transaction needs no savepoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url

from apiserver.storage.dialect import Committer, Feed, Log, Results, ThreadCommitter
from apiserver.storage.errors import Busy, KeyExists, KeyNotFound, StorageError, VersionConflict
from apiserver.storage.records import Change, ChangeSink, Op

log = logging.getLogger("kubelite.store")

CHECKPOINT_EVERY = 200
# A WAL past this size is restarted by the next checkpoint (RESTART waits for readers); the
# file itself is truncated back to WAL_LIMIT_BYTES when it restarts (journal_size_limit).
WAL_RESTART_BYTES = 16 * 1024 * 1024
WAL_LIMIT_BYTES = 8 * 1024 * 1024
RESTART_WAIT_MS = 200
RESTART_TRIES = 3

Pending = list[tuple[list[Op], asyncio.Future[list[Change]]]]


class SQLite:
    """The SQLite dialect (dialect.Dialect): see the module docstring."""

    snapshot_isolation: str | None = None  # a read transaction is one snapshot of the WAL already

    def prepare(self, url: str) -> None:
        """The database file owner-only (0600), created so before SQLite first opens it; SQLite gives its
        -wal, -shm and -journal files the database file's mode, and existing ones are made 0600 too."""
        path = make_url(url).database
        if not path or path == ":memory:" or path.startswith("file:"):
            return
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.chmod(path + suffix, 0o600)

    def make_engine(self, url: str, *, busy_timeout_ms: int = 10000, autocheckpoint: bool = True) -> Engine:
        self.prepare(url)
        # A kept-open connection: closing the last one checkpoints and deletes the WAL every time.
        # hide_parameters: a failed statement's message (logged, or a 500's text) never carries a body
        engine = create_engine(url, pool_size=2, max_overflow=4, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")
            if not autocheckpoint:  # the event-loop writer: checkpoints run on the writer thread
                cur.execute("PRAGMA wal_autocheckpoint=0")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine

    def quick_engine(self, engine: Engine) -> Engine | None:
        return self.make_engine(engine.url.render_as_string(hide_password=False), busy_timeout_ms=50,
                                autocheckpoint=False)

    def is_busy(self, error: BaseException | None) -> bool:
        return any(w in str(error).lower() for w in ("locked", "busy"))

    def announce(self, conn: Connection) -> None:
        return None  # nobody else reads the file: our commits feed our cache directly

    def listen(self, engine: Engine, wake: Callable[[], None], stopped: threading.Event) -> None:
        return None

    def checkpoint(self, engine: Engine, *, passive: bool) -> None:
        """PASSIVE copies committed WAL frames without blocking anyone, and RESTARTs a WAL grown past
        WAL_RESTART_BYTES; TRUNCATE (``passive=False``) also shrinks the WAL to nothing."""
        # Outside any transaction (our "begin" hook would take the write lock first).
        raw = engine.raw_connection()
        try:
            mode = "PASSIVE" if passive else "TRUNCATE"
            raw.driver_connection.execute(f"PRAGMA wal_checkpoint({mode})")  # type: ignore[union-attr]
            if passive and wal_bytes(engine) > WAL_RESTART_BYTES:
                # Race: writers append between the PASSIVE pass and this one; RESTART takes the
                # write lock, copies the rest and waits for readers on old frames, for at most
                # RESTART_WAIT_MS: a reader holding an old snapshot (a sqlite3 shell) must not stall
                # the writers; the next checkpoint tries again.
                # A busy machine can deschedule the lock holder past one wait: a few tries, each
                # bounded, before the next batch of commits tries again.
                conn = raw.driver_connection
                (saved,) = conn.execute("PRAGMA busy_timeout").fetchone()  # type: ignore[union-attr]
                conn.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")  # type: ignore[union-attr]
                try:
                    for _ in range(RESTART_TRIES):
                        (busy, _log, _done) = conn.execute(  # type: ignore[union-attr]
                            "PRAGMA wal_checkpoint(RESTART)").fetchone()
                        if not busy:
                            break
                finally:
                    conn.execute(f"PRAGMA busy_timeout={int(saved)}")  # type: ignore[union-attr]
        finally:
            raw.close()

    def feed(self, log: Log, sink: ChangeSink, *, poll_interval: float) -> Feed:
        return DirectFeed(sink)

    def committer(self, log: Log, writer: Executor) -> Committer:
        if os.environ.get("KUBELITE_WRITER_THREAD", "") == "1":
            return ThreadCommitter(log, writer)
        return InlineCommitter(log, writer)


def wal_bytes(engine: Engine) -> int:
    """Size of the database's write-ahead log file (0 for an in-memory database or no WAL yet)."""
    database = engine.url.database
    if not database or database == ":memory:":
        return 0
    try:
        return os.stat(database + "-wal").st_size
    except FileNotFoundError:
        return 0


class DirectFeed:
    """One writer, authoritative cache: fail what must fail before the transaction, feed commits directly."""

    shared = False
    trusted = True

    def __init__(self, sink: ChangeSink) -> None:
        self.sink = sink

    def admit(self, batch: Pending) -> tuple[Pending, list[tuple[asyncio.Future[list[Change]], StorageError]]]:
        verdicts = self.precheck([b[0] for b in batch])
        refused = [(fut, err) for (_, fut), err in zip(batch, verdicts, strict=True) if err is not None]
        return [b for b, err in zip(batch, verdicts, strict=True) if err is None], refused

    def precheck(self, batches: list[list[Op]]) -> list[StorageError | None]:
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
                    e = self.sink.get(*k)
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

    async def settle(self, revision: int) -> None:
        return None  # the cache is applied right after the callers are answered

    def publish(self, committed: list[Change]) -> None:
        self.sink.apply(committed)

    def start(self) -> list[asyncio.Task[None]]:
        return []

    def stopping(self) -> None:
        return None

    def close(self) -> None:
        return None

    def poke(self) -> None:
        return None

    async def fresh_revision(self) -> int:
        return self.sink.revision


class InlineCommitter:
    """Transactions on the event loop; the writer thread when another process holds the lock."""

    def __init__(self, log: Log, writer: Executor) -> None:
        self.log = log
        self.thread = ThreadCommitter(log, writer)
        self.writer = writer
        self._busy_until = 0.0
        self._since_checkpoint = 0
        self._checkpointing = False

    async def write(self, ops: list[list[Op]], *, trusted: bool) -> Results:
        loop = asyncio.get_running_loop()
        # While the writer thread checkpoints, writes queue behind it on that thread: an inline
        # writer retaking the lock between the checkpoint's busy-waits would starve its RESTART.
        if loop.time() >= self._busy_until and not self._checkpointing:
            # Locked by another process: the thread waits, not the event loop,
            # and for a second every write goes to the thread.
            try:
                return self.log.write(ops, trusted=trusted, quick=True)
            except Busy:
                self._busy_until = loop.time() + 1.0
        return await self.thread.write(ops, trusted=trusted)

    def committed(self, loop: asyncio.AbstractEventLoop) -> None:
        """Inline writes never checkpoint themselves (it would stall the loop): the writer
        thread runs a PASSIVE checkpoint every CHECKPOINT_EVERY commits, beside the writers."""
        self._since_checkpoint += 1
        if self._since_checkpoint < CHECKPOINT_EVERY or self._checkpointing:
            return
        self._since_checkpoint = 0
        self._checkpointing = True
        fut = loop.run_in_executor(self.writer, self.log.checkpoint_passive)

        def done(f: asyncio.Future[None]) -> None:
            self._checkpointing = False
            if not f.cancelled() and f.exception() is not None:
                log.info("WAL checkpoint deferred: %s", f.exception())

        fut.add_done_callback(done)

    async def compact(self, upto: int) -> int:
        # One short transaction at a time on the event loop, between the writers'
        # batches, so compaction never holds the lock a writer waits for.
        if self._checkpointing:
            return await self.thread.compact(upto)
        n = 0
        while True:
            step = self.log.compact(upto, max_batches=1, quick=True)
            n += step
            if step == 0:
                break
            await asyncio.sleep(0)
        return n

    async def checkpoint(self) -> None:
        # Inline writers must not wait behind a TRUNCATE checkpoint: PASSIVE lets the
        # WAL be reused instead of shrunk, which bounds it just the same.
        await asyncio.get_running_loop().run_in_executor(self.writer, self.log.checkpoint_passive)
