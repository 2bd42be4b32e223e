"""Bare baseline apps for bench/api.py: what a minimal FastAPI service does for the same requests.

Why: a figure of ours means little alone; each is printed beside the same
request against the least a FastAPI + SQLAlchemy + SQLite service must do.
The baselines serve the kubelite URLs so one load generator drives both:

- POST   /api/v1/namespaces/{ns}/pods         insert the request JSON into SQLite
  through SQLAlchemy Core, one transaction per request, then broadcast an
  ADDED line to the watchers of {ns} (nothing to do when there are none).
- GET    /api/v1/namespaces/{ns}/pods/{name}  SELECT by primary key through SQLAlchemy, or,
  with ``get_from_memory`` (``--get-from-memory``), the stored bytes from a dict filled
  by the creates: kubelite serves GET from its in-memory watch cache, so a GET against
  a SQLite read alone would flatter it; both baselines are reported.
- GET    /api/v1/namespaces/{ns}/pods         the namespace's objects as cached dicts,
  serialized with orjson on every request (the cache is dropped by a create in {ns}).
- GET    /api/v1/namespaces/{ns}/pods?watch=1 a bare asyncio broadcaster: one queue per
  watcher, lines streamed as HTTP/1.1 chunks.

SQLite is set up as kubelite's store sets it up: WAL, synchronous=NORMAL,
busy timeout. Database calls run on the event loop (``offload=False``, the
faster of the two on one core) or in Starlette's thread pool, as a plain
``def`` FastAPI endpoint would (``offload=True``).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from sqlalchemy import (
    Column,
    Engine,
    LargeBinary,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    insert,
    select,
)
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

JSON = "application/json"
T = TypeVar("T")


def make_table(metadata: MetaData) -> Table:
    """One row per object: the primary key is (namespace, name), the body is the JSON as received."""
    return Table(
        "pods", metadata,
        Column("namespace", String(253), primary_key=True),
        Column("name", String(253), primary_key=True),
        Column("body", LargeBinary, nullable=False),
    )


def make_engine(path: str) -> Engine:
    """SQLite with kubelite's settings: WAL, synchronous=NORMAL, 10 s busy timeout."""
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.close()

    return engine


def create_app(db_path: str, *, offload: bool = False, get_from_memory: bool = False) -> FastAPI:
    """The baseline app; the table is created at build time (a benchmark fixture, not a server)."""
    engine = make_engine(db_path)
    metadata = MetaData()
    pods = make_table(metadata)
    metadata.create_all(engine)
    lists: dict[str, list[dict[str, Any]]] = {}
    watchers: dict[str, set[asyncio.Queue[bytes]]] = {}
    bodies: dict[tuple[str, str], bytes] = {}  # filled by creates, read by GET only with get_from_memory

    async def run(fn: Callable[[], T]) -> T:
        return await run_in_threadpool(fn) if offload else fn()

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/readyz")
    async def readyz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.post("/api/v1/namespaces/{namespace}/pods")
    async def create(namespace: str, request: Request) -> Response:
        body = await request.body()
        obj = orjson.loads(body)
        name = obj["metadata"]["name"]

        def insert_row() -> bool:
            try:
                with engine.begin() as conn:
                    conn.execute(insert(pods).values(namespace=namespace, name=name, body=body))
            except IntegrityError:
                return False
            return True

        if not await run(insert_row):
            return Response(b'{"kind":"Status","reason":"AlreadyExists","code":409}', status_code=409,
                            media_type=JSON)
        lists.pop(namespace, None)
        if get_from_memory:
            bodies[(namespace, name)] = body
        queues = watchers.get(namespace)
        if queues:
            line = b'{"type":"ADDED","object":' + body + b"}\n"
            for q in queues:
                q.put_nowait(line)
        return Response(body, status_code=201, media_type=JSON)

    @app.get("/api/v1/namespaces/{namespace}/pods/{name}")
    async def get(namespace: str, name: str) -> Response:
        if get_from_memory:
            found = bodies.get((namespace, name))
            if found is None:
                return Response(b'{"kind":"Status","reason":"NotFound","code":404}', status_code=404,
                                media_type=JSON)
            return Response(found, media_type=JSON)

        def select_row() -> bytes | None:
            with engine.connect() as conn:
                row = conn.execute(
                    select(pods.c.body).where(pods.c.namespace == namespace, pods.c.name == name)
                ).first()
            return None if row is None else bytes(row[0])

        body = await run(select_row)
        if body is None:
            return Response(b'{"kind":"Status","reason":"NotFound","code":404}', status_code=404, media_type=JSON)
        return Response(body, media_type=JSON)

    @app.get("/api/v1/namespaces/{namespace}/pods")
    async def list_or_watch(namespace: str, request: Request) -> Response:
        if request.query_params.get("watch") in ("1", "true"):
            return watch(namespace)
        items = lists.get(namespace)
        if items is None:
            def select_all() -> list[dict[str, Any]]:
                with engine.connect() as conn:
                    rows = conn.execute(select(pods.c.body).where(pods.c.namespace == namespace))
                    return [orjson.loads(r[0]) for r in rows]

            items = lists[namespace] = await run(select_all)
        return Response(orjson.dumps({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "0"},
                                      "items": items}), media_type=JSON)

    def watch(namespace: str) -> Response:
        # Registered before the response starts, so a client that has the
        # headers is sure to get every later event.
        q: asyncio.Queue[bytes] = asyncio.Queue()
        watchers.setdefault(namespace, set()).add(q)

        async def stream() -> AsyncIterator[bytes]:
            try:
                while True:
                    lines = [await q.get()]
                    while not q.empty():
                        lines.append(q.get_nowait())
                    yield b"".join(lines)
            finally:
                watchers[namespace].discard(q)

        return StreamingResponse(stream(), media_type=JSON)

    return app


def main(argv: list[str] | None = None) -> None:
    """``python -m bench.baselines --port P --db FILE``: serve the baselines with uvicorn as kubelite is served."""
    import uvicorn

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--db", required=True, help="SQLite file")
    p.add_argument("--offload", action="store_true", help="run database calls in the thread pool")
    p.add_argument("--get-from-memory", action="store_true", help="serve GET by name from memory, not SQLite")
    args = p.parse_args(argv)
    app = create_app(args.db, offload=args.offload, get_from_memory=args.get_from_memory)
    uvicorn.run(app, host="127.0.0.1", port=args.port, loop="uvloop", http="httptools", access_log=False,
                log_level="warning", timeout_graceful_shutdown=1)


if __name__ == "__main__":
    main()
