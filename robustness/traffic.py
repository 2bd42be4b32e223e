"""Traffic that produces a checkable history: concurrent clients on a few ConfigMaps, and resuming watchers.

Why a few keys: conflicts (a CAS on a version another client just replaced, a create of a name that
exists, a delete of what is gone) are where a store goes wrong; with many keys they never happen.
Every write's value is unique ("<client>-<seq>") so each read names the write it saw.

Outcomes: a reply is ok / exists / not_found / conflict; no reply (broken connection, timeout, a 5xx)
is UNKNOWN, except a refused connection, which sent nothing and is not recorded at all.
Watchers resume from the last resourceVersion they saw after every break, relist on 410, and end
each request after a few seconds (``timeoutSeconds``) so resumption happens without faults too.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx

from apimachinery.resources import ResourceType, lookup
from kubeclient import errors
from kubeclient.client import Client
from robustness.history import Kind, Op, Outcome
from robustness.watches import Event, Session, Write

NAMESPACE = "robustness"


def configmaps() -> ResourceType:
    rt = lookup("", "v1", "configmaps")
    assert rt is not None
    return rt


def _namespaces() -> ResourceType:
    rt = lookup("", "v1", "namespaces")
    assert rt is not None
    return rt


@dataclass(slots=True)
class Run:
    """Everything one run recorded: operations, watch sessions, acknowledged writes (for the watches)."""

    ops: list[Op] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    t0: float = field(default_factory=time.monotonic)
    through: int | None = None

    def now(self) -> float:
        return time.monotonic() - self.t0

    def to_json(self) -> dict[str, Any]:
        return {"ops": [o.to_json() for o in self.ops], "sessions": [s.to_json() for s in self.sessions],
                "writes": [[w.rv, w.type, w.key, w.value] for w in self.writes], "through": self.through}


class NotSent(Exception):
    """The connection was refused: the request never reached a server, so it has no place in the history."""


def _refused(err: errors.ConnectionFailed) -> bool:
    return isinstance(err.__cause__, httpx.ConnectError)


def _outcome(err: Exception) -> Outcome:
    if isinstance(err, errors.AlreadyExists):
        return "exists"
    if isinstance(err, errors.NotFound):
        return "not_found"
    if isinstance(err, errors.Conflict):
        return "conflict"
    if isinstance(err, errors.ConnectionFailed) and _refused(err):
        raise NotSent from err
    return "unknown"


def _cm(name: str, value: str, rv: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": NAMESPACE}
    if rv is not None:
        meta["resourceVersion"] = rv
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"v": value}}


def _rv(obj: dict[str, Any]) -> str | None:
    rv = (obj.get("metadata") or {}).get("resourceVersion")
    return str(rv) if rv else None


def _value(obj: dict[str, Any]) -> str | None:
    v = (obj.get("data") or {}).get("v") if obj.get("kind") == "ConfigMap" else None
    return str(v) if v is not None else None


async def ensure_namespace(client: Client, *, timeout: float = 60.0) -> None:
    """Create the run's namespace (idempotent), retrying while the server comes up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await client.create(_namespaces(), {"apiVersion": "v1", "kind": "Namespace",
                                                "metadata": {"name": NAMESPACE}})
            return
        except errors.AlreadyExists:
            return
        except (errors.ConnectionFailed, errors.ServerError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


_KINDS: list[Kind] = ["get", "create", "cas", "put", "delete"]
_WEIGHTS = [30, 15, 30, 12, 13]


async def client_loop(clients: list[Client], run: Run, cid: int, keys: list[str], stop: asyncio.Event,
                      rng: random.Random) -> None:
    """One client: random operations on ``keys`` until ``stop``, each recorded with its outcome.

    With several API servers each operation goes to one picked at random (as behind a load
    balancer): a version learnt from one server is sent to another.
    """
    rt = configmaps()
    known: dict[str, str] = {}  # key -> the last resourceVersion this client saw
    seq = 0
    while not stop.is_set():
        key = rng.choice(keys)
        client = rng.choice(clients)
        seq += 1
        value = f"{cid}-{seq}"
        kind: Kind = rng.choices(_KINDS, _WEIGHTS)[0]
        if kind == "cas" and key not in known:
            kind = "get"
        expect = known.get(key) if kind == "cas" or (kind == "delete" and rng.random() < 0.5) else None
        call = run.now()
        rv = read = None
        try:
            if kind == "get":
                obj = await client.get(rt, key, namespace=NAMESPACE)
                rv, read = _rv(obj), _value(obj)
            elif kind == "create":
                rv = _rv(await client.create(rt, _cm(key, value), namespace=NAMESPACE))
            elif kind in ("cas", "put"):
                rv = _rv(await client.update(rt, _cm(key, value, expect)))
            else:
                pre = {"resourceVersion": expect} if expect else None
                read = _value(await client.delete(rt, key, namespace=NAMESPACE, preconditions=pre))
            outcome: Outcome = "ok"
        except NotSent:
            await asyncio.sleep(0.1)
            continue
        except (errors.ApiError, errors.ConnectionFailed) as e:
            try:
                outcome = _outcome(e)
            except NotSent:
                await asyncio.sleep(0.1)
                continue
        ret = run.now()
        op = Op(client=cid, key=key, kind=kind, call=call, ret=ret, outcome=outcome,
                value=value if kind in ("create", "cas", "put") else None, expect_rv=expect,
                rv=rv if outcome == "ok" else None, read=read)
        run.ops.append(op)
        if outcome == "ok" and rv is not None and kind != "delete":
            known[key] = rv
            if kind != "get":
                run.writes.append(Write(int(rv), "ADDED" if kind == "create" else "MODIFIED", key, value))
        elif outcome in ("not_found", "ok") and kind == "delete":
            known.pop(key, None)
        if outcome == "unknown":
            await asyncio.sleep(0.1)  # the server is likely going down: do not spin


async def _list_rv(client: Client) -> str:
    listed = await client.list(configmaps(), namespace=NAMESPACE)
    return str(listed["metadata"]["resourceVersion"])


async def watcher_loop(client: Client, run: Run, wid: int, stop: asyncio.Event, rng: random.Random) -> None:
    """One watcher: watch, resume from the last resourceVersion after every end, relist on 410."""
    rt = configmaps()
    rv: str | None = None
    while not stop.is_set():
        try:
            if rv is None:
                rv = await _list_rv(client)
        except (errors.ApiError, errors.ConnectionFailed):
            await asyncio.sleep(0.2)
            continue
        session = Session(wid, int(rv))
        run.sessions.append(session)
        try:
            async for etype, obj in client.watch(rt, namespace=NAMESPACE, resource_version=rv,
                                                 timeout_seconds=rng.randint(2, 6)):
                erv = _rv(obj)
                if erv is None:
                    continue
                name = (obj.get("metadata") or {}).get("name")
                session.events.append(Event(etype, int(erv), None if etype == "BOOKMARK" else name,
                                            None if etype == "BOOKMARK" else _value(obj)))
                rv = erv
            session.end = "closed"
        except errors.Gone:
            session.end = "gone"
            rv = None
        except (errors.ApiError, errors.ConnectionFailed):
            session.end = "broken"
            await asyncio.sleep(0.2)


def progress(run: Run, wid: int) -> int:
    """The last resourceVersion watcher ``wid`` reached (event, bookmark or start)."""
    best = -1
    for s in run.sessions:
        if s.watcher == wid:
            best = max([best, s.start_rv, *(e.rv for e in s.events)])
    return best


async def run_traffic(url: str | list[str], *, seconds: float, clients: int = 6, keys: int = 4, watchers: int = 3,
                      seed: int | None = None, faults: Callable[[asyncio.Event], Coroutine[Any, Any, int]] | None = None,
                      catch_up_seconds: float = 60.0, request_timeout: float = 10.0) -> tuple[Run, int]:
    """Run the traffic against ``url`` for ``seconds`` while ``faults`` (if any) runs; returns (run, faults injected).

    With several URLs (API servers sharing one database) clients and watchers are spread over them.

    After the load stops (and the faults coroutine has returned, leaving the server up) the
    watchers get ``catch_up_seconds`` to reach the last acknowledged write; ``run.through`` is it.
    """
    rng = random.Random(seed)
    run = Run()
    names = [f"key-{i}" for i in range(keys)]
    stop = asyncio.Event()
    watch_stop = asyncio.Event()
    urls = [url] if isinstance(url, str) else url
    conns = [Client(urls[i % len(urls)], timeout=request_timeout) for i in range(watchers + 1)]
    pools = [[Client(u, timeout=request_timeout) for u in urls] for _ in range(clients)]
    injected = 0
    try:
        await ensure_namespace(conns[-1])
        wtasks = [asyncio.create_task(watcher_loop(conns[i], run, i, watch_stop,
                                                   random.Random(rng.random()))) for i in range(watchers)]
        ctasks = [asyncio.create_task(client_loop(pools[i], run, i, names, stop, random.Random(rng.random())))
                  for i in range(clients)]
        ftask = asyncio.create_task(faults(stop)) if faults else None
        await asyncio.sleep(seconds)
        stop.set()
        if ftask is not None:
            injected = await ftask
        await asyncio.gather(*ctasks)
        acked = [w.rv for w in run.writes]
        run.through = max(acked) if acked else None
        deadline = time.monotonic() + catch_up_seconds
        while run.through is not None and time.monotonic() < deadline and any(
                progress(run, i) < run.through for i in range(watchers)):
            await asyncio.sleep(0.1)
        watch_stop.set()
        for t in wtasks:
            t.cancel()
        for t in wtasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
    finally:
        for c in [*conns, *(c for pool in pools for c in pool)]:
            await c.close()
    return run, injected
