"""PostgreSQL: several API servers may share the database, so every cache follows the change log.

What PostgreSQL does its own way (behind dialect.Dialect):
- engine: a database that cannot be reached fails fast (503) instead of
  holding the writer for minutes;
- a write transaction that advanced the revision sends NOTIFY at commit,
  which wakes the other API servers' pollers;
- our watch cache is fed by polling ``changes`` (woken by our commits, by
  NOTIFY and by a timer), never by our own commits directly, so every server
  applies the same order; a caller is answered once the cache has reached
  its commit, and reads that must not be stale ask the database's revision.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor

import orjson
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import Connection

from apiserver.storage.dialect import Committer, Feed, Log, ThreadCommitter
from apiserver.storage.errors import StorageError
from apiserver.storage.records import Change, ChangeSink, Op

log = logging.getLogger("kubelite.store")

NOTIFY_CHANNEL = "kubelite_changes"

Pending = list[tuple[list[Op], asyncio.Future[list[Change]]]]


class PostgreSQL:
    """The PostgreSQL dialect (dialect.Dialect): see the module docstring."""

    snapshot_isolation: str | None = "REPEATABLE READ"

    def prepare(self, url: str) -> None:
        return None  # the server keeps its own files

    def make_engine(self, url: str, *, busy_timeout_ms: int = 10000, autocheckpoint: bool = True) -> Engine:
        # hide_parameters: a failed statement's message (logged, or a 500's text) never carries a body
        return create_engine(url, pool_size=5, max_overflow=5, pool_pre_ping=True, pool_timeout=10, hide_parameters=True,
                             connect_args={"connect_timeout": 5})

    def quick_engine(self, engine: Engine) -> Engine | None:
        return None  # every write runs on the writer thread

    def is_busy(self, error: BaseException | None) -> bool:
        return False

    def announce(self, conn: Connection) -> None:
        # Delivered at commit: wakes the other API servers' pollers.
        conn.exec_driver_sql(f"NOTIFY {NOTIFY_CHANNEL}")

    def listen(self, engine: Engine, wake: Callable[[], None], stopped: threading.Event) -> None:
        """Call ``wake`` on every NOTIFY until ``stopped`` (runs in a thread).

        Correctness never depends on it: the poller also runs on a timer, so a
        lost notification only delays a change.
        """
        import psycopg

        url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not stopped.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    while not stopped.is_set():
                        for _ in conn.notifies(timeout=0.5, stop_after=1):
                            wake()
            except Exception as e:  # reconnect; the timer poll covers the gap
                log.warning("LISTEN connection failed: %s", e)
                stopped.wait(1.0)

    def checkpoint(self, engine: Engine, *, passive: bool) -> None:
        return None  # the server checkpoints its own WAL

    def feed(self, log: Log, sink: ChangeSink, *, poll_interval: float) -> Feed:
        return PolledFeed(log, sink, poll_interval=poll_interval)

    def committer(self, log: Log, writer: Executor) -> Committer:
        return ThreadCommitter(log, writer)


class PolledFeed:
    """The cache follows ``changes`` in revision order, whoever wrote them."""

    shared = True
    trusted = False  # another server may have written since our cache last saw the row

    def __init__(self, log: Log, sink: ChangeSink, *, poll_interval: float) -> None:
        self.log = log
        self.sink = sink
        self.poll_interval = poll_interval
        self._poke = asyncio.Event()
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kubelite-poller")
        self._stopped = threading.Event()
        self._listener: threading.Thread | None = None

    def admit(self, batch: Pending) -> tuple[Pending, list[tuple[asyncio.Future[list[Change]], StorageError]]]:
        return batch, []  # the database is the only judge of preconditions

    async def settle(self, revision: int) -> None:
        while self.sink.revision < revision:
            self._poke.set()
            await self.sink.wait_for(revision, timeout=1.0)

    def publish(self, committed: list[Change]) -> None:
        return None  # they come back through the poll, in the order every server sees

    def start(self) -> list[asyncio.Task[None]]:
        loop = asyncio.get_running_loop()
        task = asyncio.create_task(self._poller(), name="store-poller")
        wake = lambda: loop.call_soon_threadsafe(self._poke.set)  # noqa: E731
        self._listener = threading.Thread(target=self.log.listen, args=(wake, self._stopped), daemon=True,
                                          name="kubelite-listen")
        self._listener.start()
        return [task]

    def stopping(self) -> None:
        self._stopped.set()

    def close(self) -> None:
        self._reader.shutdown(wait=True)

    async def _poller(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):  # not wait_for: it can swallow a cancel
                    await self._poke.wait()
            self._poke.clear()
            try:
                rows = await loop.run_in_executor(self._reader, self.log.changes_since, self.sink.revision)
            except Exception as e:
                log.warning("polling changes failed: %s", e)
                await asyncio.sleep(self.poll_interval)
                continue
            if rows:
                self.sink.apply(
                    Change(rev, typ, res, ns, name, orjson.loads(body), body)  # type: ignore[arg-type]
                    for rev, typ, res, ns, name, body in rows
                )
                if len(rows) >= 5000:
                    self._poke.set()

    def poke(self) -> None:
        self._poke.set()

    async def fresh_revision(self) -> int:
        rev = await asyncio.get_running_loop().run_in_executor(self._reader, self.log.current_revision)
        if self.sink.revision < rev:
            await self.settle(rev)
        return rev
