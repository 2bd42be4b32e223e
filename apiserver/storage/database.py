"""The generic SQL log: one transaction per batch of writes, on any dialect.

Why a batch: concurrent requests are committed together (group commit), each
request inside its own SAVEPOINT so one request's failure never undoes
another's. Invariant: the ``revision`` row is locked first in every write
transaction (BEGIN IMMEDIATE on SQLite, SELECT ... FOR UPDATE on
PostgreSQL), so commit order == revision order across processes.
Every change is three rows in one transaction: revision, object, change.
What an engine does its own way is its dialect's (dialect.py, sqlite.py,
postgres.py): this module never asks which engine it runs on.
Encryption at rest (encryption.py) happens here, for every dialect: each
body is transformed on its way into a row and back out of one, so the
changes this module hands up (and the watch cache) only ever hold JSON.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import (
    Engine,
    LargeBinary,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import IntegrityError, OperationalError

from apiserver.storage import schema
from apiserver.storage.dialect import Dialect
from apiserver.storage.encryption import Transformer, TransformError
from apiserver.storage.errors import Busy, KeyExists, KeyNotFound, StorageError, Unavailable, VersionConflict
from apiserver.storage.postgres import PostgreSQL
from apiserver.storage.records import Change, ChangeRow, Op, Snapshot
from apiserver.storage.sqlite import SQLite

log = logging.getLogger("kubelite.storage")


class _Diverged(Exception):
    """A trusted (pre-checked) write met a database that disagrees with the cache."""


# Statements built once: per-request construction and compilation cost more than the SQL itself.
_SELECT_REVISION = select(schema.revision.c.revision).where(schema.revision.c.id == 1).with_for_update()
_UPDATE_REVISION = text("UPDATE revision SET revision = :revision WHERE id = 1")
_INSERT_OBJECT = text(
    "INSERT INTO objects (resource, namespace, name, uid, resource_version, body) VALUES (:r, :n, :m, :u, :v, :b)"
).bindparams(bindparam("b", type_=LargeBinary))
_KEY = "resource = :r AND namespace = :n AND name = :m"
_UPDATE_OBJECT = text(f"UPDATE objects SET resource_version = :v, body = :b WHERE {_KEY}").bindparams(
    bindparam("b", type_=LargeBinary))
_UPDATE_OBJECT_RV = text(
    f"UPDATE objects SET resource_version = :v, body = :b WHERE {_KEY} AND resource_version = :e"
).bindparams(bindparam("b", type_=LargeBinary))
_DELETE_OBJECT = text(f"DELETE FROM objects WHERE {_KEY}")
_DELETE_OBJECT_RV = text(f"DELETE FROM objects WHERE {_KEY} AND resource_version = :e")
_COUNT_OBJECT = text(f"SELECT count(*) FROM objects WHERE {_KEY}")
_INSERT_CHANGE = text(
    "INSERT INTO changes (revision, resource, namespace, name, type, body) "
    "VALUES (:revision, :resource, :namespace, :name, :type, :body)"
).bindparams(bindparam("body", type_=LargeBinary))


def dialect_for(backend: str) -> Dialect:
    """The dialect of a SQLAlchemy backend name ("sqlite", "postgresql"); PostgreSQL's for any other."""
    return SQLite() if backend == "sqlite" else PostgreSQL()


def make_engine(url: str, *, busy_timeout_ms: int = 10000, autocheckpoint: bool = True) -> Engine:
    """An engine configured for our write discipline by the URL's dialect (see sqlite.py, postgres.py)."""
    return dialect_for(make_url(url).get_backend_name()).make_engine(
        url, busy_timeout_ms=busy_timeout_ms, autocheckpoint=autocheckpoint)


def prepare_database(url: str) -> None:
    """Before migrations or an engine open ``url``: what its dialect needs on disk (owner-only SQLite files)."""
    dialect_for(make_url(url).get_backend_name()).prepare(url)


class Database:
    """Synchronous SQL access. Called from one writer thread (writes) and at start."""

    def __init__(self, engine: Engine, *, transformer: Transformer | None = None) -> None:
        self.engine = engine
        # None: bodies are stored as their JSON (no --encryption-provider-config).
        self.transformer = transformer
        self.dialect = dialect_for(engine.dialect.name)
        # Writes on the event loop go through an engine that gives up on a lock at once
        # (another process holds it); the caller then retries on the writer thread with
        # the normal busy timeout, so the loop never stalls. None: no such writes.
        self.quick_engine = self.dialect.quick_engine(engine)

    # -- start -----------------------------------------------------------
    def ensure_revision_row(self) -> None:
        with self.engine.begin() as conn:
            row = conn.execute(select(schema.revision.c.id).where(schema.revision.c.id == 1)).first()
            if row is None:
                conn.execute(insert(schema.revision).values(id=1, revision=0, compacted=0))

    def snapshot(self) -> Snapshot:
        """Everything the watch cache needs at start, read in one transaction."""
        self.ensure_revision_row()
        with self.engine.connect() as plain:
            level = self.dialect.snapshot_isolation
            conn = plain.execution_options(isolation_level=level) if level else plain
            with conn.begin():
                rev, compacted = conn.execute(
                    select(schema.revision.c.revision, schema.revision.c.compacted).where(schema.revision.c.id == 1)
                ).one()
                objs = [
                    (r.resource, r.namespace, r.name, self._read(r.resource, r.namespace, r.name, r.body))
                    for r in conn.execute(
                        select(schema.objects.c.resource, schema.objects.c.namespace, schema.objects.c.name,
                               schema.objects.c.body)
                    )
                ]
                chs: list[ChangeRow] = []
                for r in conn.execute(
                    select(schema.changes).where(schema.changes.c.revision > compacted).order_by(schema.changes.c.revision)
                ):
                    try:
                        chs.append((r.revision, r.type, r.resource, r.namespace, r.name,
                                    self._read(r.resource, r.namespace, r.name, r.body)))
                    except TransformError:
                        # History written with a key no longer configured (rotated out): it and everything
                        # before it count as compacted, so a watch from there gets 410 Gone and relists.
                        # Current objects have no such way out: they must read (above).
                        chs.clear()
                        compacted = r.revision
        return Snapshot(int(rev), int(compacted), objs, chs)

    def current_revision(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(schema.revision.c.revision).where(schema.revision.c.id == 1)).scalar_one())

    def changes_since(self, revision: int, *, limit: int = 5000) -> list[ChangeRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(schema.changes)
                .where(schema.changes.c.revision > revision)
                .order_by(schema.changes.c.revision)
                .limit(limit)
            )
            return [(r.revision, r.type, r.resource, r.namespace, r.name,
                     self._read(r.resource, r.namespace, r.name, r.body)) for r in rows]

    def _read(self, resource: str, namespace: str, name: str, stored: bytes) -> bytes:
        """A stored body as JSON (decrypted when it was written encrypted)."""
        if self.transformer is None:
            if stored[:8] == b"k8s:enc:":
                raise TransformError(resource, namespace, name, f"{resource} {namespace}/{name} is stored encrypted: "
                                     "start the API server with the --encryption-provider-config that wrote it")
            return stored
        return self.transformer.from_storage(resource, namespace, name, bytes(stored))

    def is_stale(self, resource: str, namespace: str, name: str) -> bool:
        """Whether the object was last read with a provider other than the one that now writes:
        rewriting it, even unchanged, re-encrypts it (key rotation)."""
        return self.transformer is not None and self.transformer.is_stale(resource, namespace, name)

    # -- writes ------------------------------------------------------------
    def write(
        self, batches: list[list[Op]], *, trusted: bool = False, quick: bool = False
    ) -> list[list[Change] | StorageError]:
        """Commit every batch that can be committed, in one transaction.

        Each batch is atomic; results are in batch order. ``trusted``: the
        caller already checked every precondition against an authoritative
        cache (SQLite, one writer), so no savepoints are needed; should the
        database disagree anyway, the whole write is redone the careful way.
        Raises Unavailable when the transaction itself fails.
        """
        engine = self.quick_engine if quick and self.quick_engine is not None else self.engine
        try:
            if trusted:
                try:
                    return self._write(engine, batches, guarded=False)
                except _Diverged:
                    log.warning("storage disagreed with the watch cache; retrying with savepoints")
            return self._write(engine, batches, guarded=len(batches) > 1)
        except OperationalError as e:
            if quick and self.dialect.is_busy(e.orig):
                raise Busy(str(e.orig)) from e
            raise Unavailable(str(e.orig)) from e

    def _write(
        self, engine: Engine, batches: list[list[Op]], *, guarded: bool
    ) -> list[list[Change] | StorageError]:
        results: list[list[Change] | StorageError] = []
        rows: list[dict[str, Any]] = []
        with engine.begin() as conn:
            rev = int(conn.execute(_SELECT_REVISION).scalar_one())
            start = rev
            for ops in batches:
                if not guarded:
                    try:
                        changes, rev = self._apply(conn, ops, rev, rows)
                    except StorageError as e:
                        if len(batches) > 1:
                            raise _Diverged from e
                        conn.rollback()
                        return [e]
                    results.append(changes)
                    continue
                sp = conn.begin_nested()
                mark = len(rows)
                try:
                    changes, new_rev = self._apply(conn, ops, rev, rows)
                except StorageError as e:
                    sp.rollback()
                    del rows[mark:]
                    results.append(e)
                    continue
                sp.commit()
                rev = new_rev
                results.append(changes)
            if rows:
                conn.execute(_INSERT_CHANGE, rows)
            if rev != start:
                conn.execute(_UPDATE_REVISION, {"revision": rev})
                self.dialect.announce(conn)
        return results

    def _apply(
        self, conn: Connection, ops: list[Op], rev: int, rows: list[dict[str, Any]]
    ) -> tuple[list[Change], int]:
        """Write ``ops``' objects; their change rows are appended to ``rows`` (inserted once per transaction)."""
        out: list[Change] = []
        for op in ops:
            rev += 1
            meta = op.obj.setdefault("metadata", {})
            meta["resourceVersion"] = str(rev)
            body = orjson.dumps(op.obj)
            stored = body if self.transformer is None else \
                self.transformer.to_storage(op.resource, op.namespace, op.name, body)
            params: dict[str, Any] = {"r": op.resource, "n": op.namespace, "m": op.name}
            if op.type == "ADDED":
                params.update(u=str(meta.get("uid", "")), v=rev, b=stored)
                try:
                    conn.execute(_INSERT_OBJECT, params)
                except IntegrityError:
                    raise KeyExists(op.resource, op.namespace, op.name) from None
            else:
                if op.expect_rv is not None:
                    params["e"] = op.expect_rv
                if op.type == "MODIFIED":
                    params.update(v=rev, b=stored)
                    stmt = _UPDATE_OBJECT if op.expect_rv is None else _UPDATE_OBJECT_RV
                else:
                    stmt = _DELETE_OBJECT if op.expect_rv is None else _DELETE_OBJECT_RV
                res = conn.execute(stmt, params)
                if res.rowcount != 1:
                    exists = conn.execute(_COUNT_OBJECT, params).scalar_one()
                    if exists:
                        raise VersionConflict(op.resource, op.namespace, op.name)
                    raise KeyNotFound(op.resource, op.namespace, op.name)
            rows.append({"revision": rev, "resource": op.resource, "namespace": op.namespace, "name": op.name,
                         "type": op.type, "body": stored})
            out.append(Change(rev, op.type, op.resource, op.namespace, op.name, op.obj, body))
        return out, rev

    def listen(self, wake: Callable[[], None], stopped: threading.Event) -> None:
        """Call ``wake`` whenever another server may have committed, until ``stopped`` (runs in a thread).

        Correctness never depends on it: the poller also runs on a timer.
        """
        self.dialect.listen(self.engine, wake, stopped)

    # -- compaction --------------------------------------------------------
    def compact(self, upto: int, *, batch: int = 500, max_batches: int = 0, quick: bool = False) -> int:
        """Delete changes with revision <= upto, ``batch`` rows per short transaction.

        Why small batches: a long delete would hold the write lock and stall
        every writer (kine's SQLite compaction problem). ``max_batches`` stops
        after that many transactions (0: until done), so a caller on the event
        loop can interleave them with writes. Returns rows deleted.
        """
        total = 0
        engine = self.quick_engine if quick and self.quick_engine is not None else self.engine
        done = 0
        while not max_batches or done < max_batches:
            done += 1
            with engine.begin() as conn:
                lo = conn.execute(select(func.min(schema.changes.c.revision))).scalar_one()
                if lo is None or lo > upto:
                    conn.execute(
                        update(schema.revision)
                        .where(schema.revision.c.id == 1, schema.revision.c.compacted < upto)
                        .values(compacted=upto)
                    )
                    break
                hi = min(upto, int(lo) + batch - 1)
                res = conn.execute(delete(schema.changes).where(schema.changes.c.revision <= hi))
                total += int(res.rowcount or 0)
                conn.execute(
                    update(schema.revision)
                    .where(schema.revision.c.id == 1, schema.revision.c.compacted < hi)
                    .values(compacted=hi)
                )
        return total

    def checkpoint_passive(self) -> None:
        """Copy committed WAL frames into the database without blocking writers or readers."""
        self.dialect.checkpoint(self.engine, passive=True)

    def checkpoint(self) -> None:
        """Keep the write-ahead log bounded after compaction."""
        self.dialect.checkpoint(self.engine, passive=False)

    def dispose(self) -> None:
        self.engine.dispose()
        if self.quick_engine is not None:
            self.quick_engine.dispose()
