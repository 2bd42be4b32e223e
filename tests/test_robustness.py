"""Robustness (bench/robustness.py, robustness/): short runs of its scenarios, checked for linearizability.

The checker's verdict is the assertion: the history of every operation (and every watch stream)
must be linearizable (and keep the watch guarantees). Regression tests for what it found are named
after the history that found it.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from bench.robustness import kill9_apiserver, steady
from kubeclient import errors
from kubeclient.client import Client
from robustness.traffic import NAMESPACE, configmaps, ensure_namespace
from tests import needs
from tests.conftest import ApiServerProcess, fresh_pg_database, running_apiserver

pytestmark = pytest.mark.slow


def test_history_steady_unconditional_update_answered_409(apiserver: ApiServerProcess) -> None:
    """The steady scenario's first history: an update without resourceVersion answered 409 Conflict
    when another write landed between its read and its commit. kube retries such an update on
    the state that won (GuaranteedUpdate); only a resourceVersion the client sent may conflict."""

    async def main() -> list[str]:
        async with Client(apiserver.url) as admin:
            await ensure_namespace(admin)
            cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "race", "namespace": NAMESPACE},
                  "data": {"v": "0"}}
            try:
                await admin.create(configmaps(), cm)
            except errors.AlreadyExists:
                pass
        conflicts: list[str] = []

        async def writer(i: int) -> None:
            async with Client(apiserver.url) as c:
                for n in range(25):
                    body = {**cm, "data": {"v": f"{i}-{n}"}}
                    try:
                        await c.update(configmaps(), body)
                    except errors.Conflict as e:
                        conflicts.append(str(e))

        await asyncio.gather(*(writer(i) for i in range(6)))
        return conflicts

    assert asyncio.run(main()) == []


def test_history_pg_two_apiservers_cas_answered_404(tmp_path: Path) -> None:
    """The pg-two-apiservers scenario's first history: a CAS update sent to one API server answered
    404 for a ConfigMap another server had just created (and acknowledged): the write's checks read
    a cache behind the shared database. Every write now first brings the cache up to the
    database's revision, as a GET does."""
    needs.pg_url()
    db = fresh_pg_database()
    with running_apiserver(tmp_path / "a", extra=["--db", db], service_accounts=False) as a, \
            running_apiserver(tmp_path / "b", extra=["--db", db], service_accounts=False) as b:

        async def main() -> list[str]:
            wrong: list[str] = []
            async with Client(a.url) as ca, Client(b.url) as cb:
                await ensure_namespace(ca)
                for i in range(40):
                    cm = {"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": f"hop-{i}", "namespace": NAMESPACE}, "data": {"v": "a"}}
                    made = await ca.create(configmaps(), cm)
                    try:
                        await cb.update(configmaps(), {**made, "data": {"v": "b"}})
                        await ca.delete(configmaps(), f"hop-{i}", namespace=NAMESPACE)
                        await cb.create(configmaps(), cm)  # the name is free: b must know it
                    except (errors.NotFound, errors.Conflict, errors.AlreadyExists) as e:
                        wrong.append(f"hop-{i}: {e}")
            return wrong

        assert asyncio.run(main()) == []


def test_history_pg_two_apiservers_event_twice_after_restart() -> None:
    """A later pg-two-apiservers history: after one API server was killed and restarted, its watches
    got resourceVersion 634 twice. Its start-up snapshot read the revision, then (each statement
    under READ COMMITTED seeing its own state) a change log the other server had already extended;
    the poll brought those changes again. The snapshot is now one state (REPEATABLE READ)."""
    from typing import Any

    from sqlalchemy import event

    import migrations
    from apiserver.storage.database import Database, make_engine
    from apiserver.storage.records import Op

    needs.pg_url()
    url = fresh_pg_database()
    migrations.upgrade(url)

    def cm(name: str) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}}

    restarted, other = Database(make_engine(url)), Database(make_engine(url))
    other.write([[Op("ADDED", "configmaps", "default", "before", cm("before"))]])
    interleaved: list[str] = []

    def other_server_writes(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # right after the snapshot's first statement (the revision), the other server commits
        if "compacted" in statement and statement.lstrip().upper().startswith("SELECT") and not interleaved:
            interleaved.append(statement)
            other.write([[Op("ADDED", "configmaps", "default", "during", cm("during"))]])

    event.listen(restarted.engine, "after_cursor_execute", other_server_writes)
    try:
        snap = restarted.snapshot()
    finally:
        restarted.engine.dispose()
        other.engine.dispose()
    assert interleaved, "the snapshot's statements were not seen"
    assert [c[0] for c in snap.changes if c[0] > snap.revision] == []
    assert {o[2] for o in snap.objects} == {"before"}


def test_steady_and_kill9_histories_are_linearizable(tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    calm = steady(tmp_path, seconds=5, seed=seed)
    assert calm.operations > 50, calm
    assert calm.watch_events > 10, calm  # the watch checks had something to check
    assert calm.linearizable is True, f"seed {seed}, saved in {calm.saved}: {calm.problems[:5]}"
    assert calm.watch_problems == [], f"seed {seed}, saved in {calm.saved}: {calm.watch_problems[:5]}"
    crashed = kill9_apiserver(tmp_path, seconds=10, seed=seed, kills=2)
    assert crashed.operations > 50, crashed
    assert crashed.faults >= 1, crashed
    assert crashed.watch_events > 10, crashed
    assert crashed.linearizable is True, f"seed {seed}, saved in {crashed.saved}: {crashed.problems[:5]}"
    assert crashed.watch_problems == [], f"seed {seed}, saved in {crashed.saved}: {crashed.watch_problems[:5]}"
