"""A locked or unreachable database: 503/504 Status instead of a hang or a 500, then recovery."""

from __future__ import annotations

import sqlite3
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import exc as sa_exc

from apiserver.faults import is_storage_failure, storage_status
from apiserver.storage.database import make_engine
from apiserver.storage.errors import Unavailable
from tests.conftest import start_apiserver


def pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


class _Orig(Exception):
    pass


@pytest.mark.parametrize(
    ("exc", "code", "reason"),
    [
        (Unavailable("database is locked"), 503, "ServiceUnavailable"),
        (sa_exc.OperationalError("SELECT 1", {}, _Orig("could not connect to server")), 503, "ServiceUnavailable"),
        (sa_exc.InterfaceError("SELECT 1", {}, _Orig("connection already closed")), 503, "ServiceUnavailable"),
        (sa_exc.TimeoutError("QueuePool limit of size 5 overflow 5 reached"), 504, "Timeout"),
    ],
)
def test_storage_status(exc: BaseException, code: int, reason: str) -> None:
    assert is_storage_failure(exc)
    e = storage_status(exc, verb="create", resource="pods")
    assert (e.code, e.reason) == (code, reason)
    assert e.message.removeprefix("Timeout: ").startswith("The create operation against pods could not be completed")
    assert "locked" not in e.message and "server" not in e.message  # database details stay in the log
    assert "Retry-After" not in e.headers  # the write may have landed: no blind retry


def test_other_errors_are_not_storage_failures() -> None:
    assert not is_storage_failure(ValueError("x"))
    assert not is_storage_failure(sa_exc.IntegrityError("INSERT", {}, _Orig("unique")))
    invalidated = sa_exc.DBAPIError("SELECT 1", {}, _Orig("gone"), connection_invalidated=True)
    assert is_storage_failure(invalidated)


@pytest.fixture
async def app_client() -> AsyncIterator[tuple[Any, httpx.AsyncClient, Path]]:
    import migrations
    from apiserver.app import create_app
    from apiserver.settings import Settings

    with tempfile.TemporaryDirectory() as d:
        settings = Settings(data_dir=Path(d))
        migrations.upgrade(settings.database_url())
        app = create_app(settings)
        async with app.router.lifespan_context(app), \
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", timeout=30) as c:
            # no serviceaccount controller runs in-process: the default account Pods are admitted with
            r = await c.post("/api/v1/namespaces/default/serviceaccounts", json={"metadata": {"name": "default"}})
            assert r.status_code == 201, r.text
            yield app, c, Path(d) / "kubelite.db"


async def test_locked_sqlite_gives_503_then_recovers(app_client: tuple[Any, httpx.AsyncClient, Path]) -> None:
    app, c, db_file = app_client
    store = app.state.server.store
    # The same engine setup, with a short busy timeout so the test does not wait 10 s for the lock.
    store.db.engine = make_engine(f"sqlite:///{db_file}", busy_timeout_ms=200)
    lock = sqlite3.connect(str(db_file), timeout=30, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        t0 = time.monotonic()
        r = await c.post("/api/v1/namespaces/default/pods", json=pod("a"))
        assert r.status_code == 503, r.text
        assert time.monotonic() - t0 < 5
        status = r.json()
        assert (status["kind"], status["reason"], status["code"]) == ("Status", "ServiceUnavailable", 503)
        assert status["message"] == ("The create operation against pods could not be completed at this time: the "
                                     "database is unavailable, please try again.")
        # reads are served from the watch cache meanwhile
        assert (await c.get("/api/v1/namespaces/default/pods")).status_code == 200
    finally:
        lock.execute("COMMIT")
        lock.close()
    r = await c.post("/api/v1/namespaces/default/pods", json=pod("a"))
    assert r.status_code == 201, r.text
    assert (await c.get("/api/v1/namespaces/default/pods/a")).status_code == 200


async def test_unavailable_store_is_503_for_every_write_verb(app_client: tuple[Any, httpx.AsyncClient, Path],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    app, c, _ = app_client
    assert (await c.post("/api/v1/namespaces/default/pods", json=pod("p"))).status_code == 201
    db = app.state.server.store.db

    def down(*_args: Any, **_kwargs: Any) -> Any:
        raise Unavailable("server closed the connection unexpectedly")

    monkeypatch.setattr(db, "write", down)
    for method, path, kw in (
        ("POST", "/api/v1/namespaces/default/pods", {"json": pod("q")}),
        ("PUT", "/api/v1/namespaces/default/pods/p", {"json": {**pod("p"), "metadata": {"name": "p",
                                                                                      "labels": {"x": "y"}}}}),
        ("PATCH", "/api/v1/namespaces/default/pods/p",
         {"content": b'{"metadata":{"labels":{"a":"b"}}}', "headers": {"Content-Type": "application/merge-patch+json"}}),
        ("DELETE", "/api/v1/namespaces/default/pods/p", {}),
    ):
        r = await c.request(method, path, **kw)
        assert r.status_code == 503, (method, r.text)
        assert r.json()["reason"] == "ServiceUnavailable"
    monkeypatch.undo()
    assert (await c.delete("/api/v1/namespaces/default/pods/p")).status_code == 200


@pytest.mark.parametrize("writer", ["thread", "inline"])
def test_request_deadline_bounds_a_hung_database(tmp_path: Path, writer: str) -> None:
    """The database does not answer at all (write lock held): 504 within --request-timeout, the server
    keeps serving reads and probes meanwhile, then recovers."""
    srv = start_apiserver(tmp_path, extra=["--request-timeout", "2"],
                          env={"KUBELITE_WRITER_THREAD": "1" if writer == "thread" else "0"})
    try:
        lock = sqlite3.connect(str(tmp_path / "kubelite.db"), timeout=30, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            with httpx.Client(base_url=srv.url, timeout=30) as c:
                t0 = time.monotonic()
                r = c.post("/api/v1/namespaces/default/pods", json=pod("slow"))
                took = time.monotonic() - t0
                assert r.status_code == 504, r.text
                assert 1.5 < took < 6
                assert r.json()["message"] == ("Timeout: request did not complete within requested timeout - "
                                               "context deadline exceeded")
                assert c.get("/api/v1/namespaces/default/pods").status_code == 200
                assert c.get("/readyz").status_code == 200
                # while a write waits on the database, the rest of the server answers at once
                with httpx.Client(base_url=srv.url, timeout=30) as w:
                    t = threading.Thread(target=w.post, args=("/api/v1/namespaces/default/pods",),
                                         kwargs={"json": pod("blocked")})
                    t.start()
                    time.sleep(0.3)
                    t1 = time.monotonic()
                    assert c.get("/healthz", timeout=1).status_code == 200
                    assert time.monotonic() - t1 < 1
                    t.join(10)
        finally:
            lock.execute("COMMIT")
            lock.close()
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            deadline = time.monotonic() + 20
            while True:  # the writer finishes what it had, then takes new writes again
                r = c.post("/api/v1/namespaces/default/pods", json=pod("after"))
                if r.status_code in (201, 409):
                    break
                assert time.monotonic() < deadline, r.text
                time.sleep(0.2)
            assert c.get("/api/v1/namespaces/default/pods/after").status_code == 200
    finally:
        srv.stop()
