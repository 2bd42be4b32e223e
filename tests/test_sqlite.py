"""SQLite's own behaviour: the write-ahead log stays bounded under steady writes, and a held reader
stalls no writer."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import migrations
from apiserver.storage import sqlite as dialect
from apiserver.storage.database import Database, make_engine
from apiserver.storage.records import Op
from apiserver.storage.store import Store
from apiserver.watchcache import WatchCache

MIB = 1024 * 1024
# Without the bound this workload's WAL passes 130 MiB; with it, ~13 MiB on a quiet machine. The
# margin is for a loaded one, where a restart may wait out a few checkpoint rounds.
BOUND = 48 * MIB


def pod(i: int) -> dict[str, Any]:
    # ~8 KiB each, so a few thousand writes make a WAL many times the limit
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}", "namespace": "default",
                                                            "annotations": {"pad": "x" * 8000}}}


async def write(store: Store, first: int, n: int) -> None:
    for i in range(first, first + n):
        await store.commit([Op("ADDED", "pods", "default", f"p{i}", pod(i))])


def wal(db: Path) -> int:
    p = db.with_name(db.name + "-wal")
    return p.stat().st_size if p.exists() else 0


async def test_wal_stays_bounded_under_steady_writes_and_after_a_reader_lets_go(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    url = f"sqlite:///{db}"
    migrations.upgrade(url)
    store = Store(Database(make_engine(url)), WatchCache(history_size=100))
    await store.start()
    try:
        peak = 0
        for batch in range(6):  # ~6 x 4 MiB of rows, one commit at a time (no quiet moment for a reset)
            await write(store, batch * 500, 500)
            peak = max(peak, wal(db))
        assert peak < BOUND, peak / MIB

        # A reader pinning an old snapshot (a sqlite3 shell): writes go on, none waits long.
        reader = sqlite3.connect(db)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM objects").fetchone()
        slowest = 0.0
        for i in range(3000, 6000):
            t = time.perf_counter()
            await write(store, i, 1)
            slowest = max(slowest, time.perf_counter() - t)
        pinned = wal(db)
        assert pinned > dialect.WAL_RESTART_BYTES  # nothing can restart a WAL a reader still needs
        assert slowest < 2.0, slowest
        reader.rollback()
        reader.close()

        await write(store, 6000, 2 * 200)  # the next checkpoints restart it, the limit truncates it
        assert wal(db) < BOUND, (pinned / MIB, wal(db) / MIB)
    finally:
        await store.stop()
