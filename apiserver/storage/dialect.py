"""The seam between the generic SQL log and the one SQL engine it runs on (as kine's dialects).

Why: SQLite and PostgreSQL differ in how an engine is configured, in who
else may write the database, in how the watch cache learns of commits and in
where a transaction is run (on the event loop or on the writer thread).
Everything that differs lives in one module per engine (sqlite.py,
postgres.py) behind the Protocols below; database.py (the SQL log) and
store.py (group commit) are generic and never ask which engine they run on.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Protocol

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from apiserver.storage.errors import StorageError
from apiserver.storage.records import Change, ChangeRow, ChangeSink, Op

Results = list[list[Change] | StorageError]


class Log(Protocol):
    """What a dialect's write and feed strategies use of the SQL log (database.Database)."""

    def write(self, batches: list[list[Op]], *, trusted: bool = False, quick: bool = False) -> Results: ...

    def changes_since(self, revision: int, *, limit: int = 5000) -> list[ChangeRow]: ...

    def current_revision(self) -> int: ...

    def compact(self, upto: int, *, batch: int = 500, max_batches: int = 0, quick: bool = False) -> int: ...

    def checkpoint_passive(self) -> None: ...

    def checkpoint(self) -> None: ...

    def listen(self, wake: Callable[[], None], stopped: threading.Event) -> None: ...


class Feed(Protocol):
    """How the watch cache (the sink) follows the database, and what a fresh read costs.

    ``shared``: other API servers may write the same database, so the sink is
    fed from the change log, never from our own commits directly.
    """

    shared: bool
    trusted: bool  # the sink is authoritative: writes are prechecked and need no savepoints

    def admit(self, batch: list[tuple[list[Op], asyncio.Future[list[Change]]]]
              ) -> tuple[list[tuple[list[Op], asyncio.Future[list[Change]]]],
                         list[tuple[asyncio.Future[list[Change]], StorageError]]]:
        """The writes to run, and those refused before the transaction with why.

        The store answers the refused together with the batch's commits, never before them:
        a caller refused because an earlier write of its batch won must find that write in
        the cache when it resumes (an unconditional update then retries on it).
        """
        ...

    async def settle(self, revision: int) -> None:
        """Before callers are answered: the sink has reached ``revision``."""

    def publish(self, committed: list[Change]) -> None:
        """After callers are answered, before the writer yields: hand ``committed`` to the sink."""

    def start(self) -> list[asyncio.Task[None]]: ...

    def stopping(self) -> None: ...

    def close(self) -> None: ...

    def poke(self) -> None: ...

    async def fresh_revision(self) -> int: ...


class Committer(Protocol):
    """Where a transaction runs: on the event loop or on the writer thread."""

    async def write(self, ops: list[list[Op]], *, trusted: bool) -> Results: ...

    def committed(self, loop: asyncio.AbstractEventLoop) -> None:
        """After each transaction that committed something."""

    async def compact(self, upto: int) -> int: ...

    async def checkpoint(self) -> None:
        """After a compaction that deleted rows: keep the write-ahead log bounded."""


class Dialect(Protocol):
    """One SQL engine's own ways; database.dialect_for picks the instance."""

    # The isolation level under which the start-up snapshot's statements all see one state, or None
    # when a transaction already does (SQLite). Under PostgreSQL's READ COMMITTED each statement
    # sees its own: the change log could run past the revision read first, and those changes then
    # came again through the poll, twice in every watch (found by bench/robustness.py).
    snapshot_isolation: str | None

    def prepare(self, url: str) -> None:
        """Before anything opens ``url``: what it needs on disk (SQLite: an owner-only database file)."""

    def make_engine(self, url: str, *, busy_timeout_ms: int = 10000, autocheckpoint: bool = True) -> Engine: ...

    def quick_engine(self, engine: Engine) -> Engine | None:
        """An engine for writes on the event loop that gives up at once on a lock, or None."""

    def is_busy(self, error: BaseException | None) -> bool:
        """Whether a quick write's failure means "locked by another process" (retry on the thread)."""

    def announce(self, conn: Connection) -> None:
        """Inside a write transaction that advanced the revision, just before commit."""

    def listen(self, engine: Engine, wake: Callable[[], None], stopped: threading.Event) -> None: ...

    def checkpoint(self, engine: Engine, *, passive: bool) -> None: ...

    def feed(self, log: Log, sink: ChangeSink, *, poll_interval: float) -> Feed: ...

    def committer(self, log: Log, writer: Executor) -> Committer: ...


class ThreadCommitter:
    """Every transaction on the writer thread (PostgreSQL; SQLite with KUBELITE_WRITER_THREAD=1)."""

    def __init__(self, log: Log, writer: Executor) -> None:
        self.log = log
        self.writer = writer

    async def write(self, ops: list[list[Op]], *, trusted: bool) -> Results:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.writer, functools.partial(self.log.write, ops, trusted=trusted))

    def committed(self, loop: asyncio.AbstractEventLoop) -> None:
        return None

    async def compact(self, upto: int) -> int:
        return await asyncio.get_running_loop().run_in_executor(self.writer, self.log.compact, upto)

    async def checkpoint(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self.writer, self.log.checkpoint)
