"""The console's web server: one informer per resource for every browser tab, pictures pushed over SSE.

Why one informer per resource: the console is a client of the API server like kubectl; however many tabs
are open, it holds exactly one LIST+WATCH per resource it shows (``Hub``), and each tab's stream is computed
from those caches. A change wakes the streams at once; a tick every second re-evaluates Lease expiry, which
no watch event announces.

Invariant: the console writes nothing. It serves only GET routes and its client only reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware

from apimachinery.errors import StatusError
from apimachinery.kinds.base import ResourceType
from apimachinery.objects import name_of
from apimachinery.resources import BY_KEY
from console.mapview import service_map
from console.objectpage import object_page, resolve, search
from controllers.runtime.informer import Informer
from controllers.runtime.informers import InformerFactory
from kubeclient.client import Client
from kubeclient.errors import ClientError

log = logging.getLogger("console")

STATIC = Path(__file__).parent / "static"
WATCHED = ("services", "pods", "replicasets.apps", "endpointslices.discovery.k8s.io",
           "leases.coordination.k8s.io", "namespaces")
TICK = 1.0  # seconds between re-evaluations without a change (Lease expiry)
SETTLE = 0.05  # a burst of events within this many seconds makes one picture
SECURITY_HEADERS = {
    # everything the page loads is ours; inline script and style are refused, so injected markup cannot run
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class Hub:
    """The shared informers and a wake-up for every stream when any of them changes."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.factory = InformerFactory(client)
        self.informers: dict[str, Informer] = {key: self.factory.get(BY_KEY[key]) for key in WATCHED}
        self.version = 0
        self._changed = asyncio.Event()
        for inf in self.informers.values():
            inf.add_handler(on_add=self._bump, on_update=self._bump2, on_delete=self._bump)

    def _bump(self, _obj: Any) -> None:
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    def _bump2(self, _old: Any, _new: Any) -> None:
        self._bump(_new)

    def start(self) -> None:
        self.factory.start()

    def unsynced(self) -> list[str]:
        """Resources not listed yet (the API server unreachable, or the user may not list them)."""
        return [key for key, inf in self.informers.items() if not inf.has_synced()]

    async def shutdown(self) -> None:
        await self.factory.shutdown()

    async def changed(self, timeout: float) -> None:
        """Until the next change, or ``timeout`` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    def objects(self, key: str) -> list[dict[str, Any]]:
        return self.informers[key].cache.list()

    def searchable(self) -> list[tuple[ResourceType, dict[str, Any]]]:
        return [(inf.rt, obj) for inf in self.informers.values() for obj in inf.cache.list()]

    def namespaces(self) -> list[str]:
        return sorted(name_of(n) for n in self.objects("namespaces"))

    def picture(self, namespace: str) -> dict[str, Any]:
        return service_map(namespace, services=self.objects("services"), pods=self.objects("pods"),
                           replicasets=self.objects("replicasets.apps"),
                           slices=self.objects("endpointslices.discovery.k8s.io"),
                           leases=self.objects("leases.coordination.k8s.io"), now=datetime.now(UTC))


def create_app(client: Client, *, allowed_hosts: list[str], stopping: asyncio.Event | None = None) -> FastAPI:
    """The console app over ``client`` (its lifespan runs the informers); ``allowed_hosts`` are the Host
    header values accepted (a page from another site rebinding its name to loopback is refused). Streams
    end within a tick of ``stopping`` being set, so a server shutting down does not wait on open tabs."""
    stop = stopping or asyncio.Event()
    hub: Hub | None = None
    served: list[ResourceType] = []  # discovery, read on first need and again when a resource is not in it

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        nonlocal hub
        hub = Hub(client)
        hub.start()
        try:
            yield
        finally:
            await hub.shutdown()

    app = FastAPI(title="kubelite console", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)

    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        for k, v in SECURITY_HEADERS.items():
            response.headers.setdefault(k, v)
        return response

    def the_hub() -> Hub:
        assert hub is not None, "the lifespan starts the hub before any request"
        return hub

    @app.get("/healthz")
    async def healthz() -> Response:
        waiting = the_hub().unsynced()
        return Response("ok" if not waiting else "not listed yet: " + ", ".join(waiting),
                        status_code=503 if waiting else 200, media_type="text/plain")

    @app.get("/")
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/favicon.ico")
    async def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/object")
    async def object_html() -> FileResponse:
        return FileResponse(STATIC / "object.html", media_type="text/html")

    def problem(code: int, message: str) -> JSONResponse:
        return JSONResponse({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
                             "code": code}, status_code=code)

    @app.get("/api/object")
    async def an_object(resource: str, name: str, version: str = "v1", group: str = "",
                        namespace: str = "") -> JSONResponse:
        nonlocal served
        try:
            rt = resolve(served, group=group, version=version, resource=resource)
            if rt is None:
                served = await client.discover()
                rt = resolve(served, group=group, version=version, resource=resource)
            if rt is None:
                gv = f"{group}/{version}" if group else version
                return problem(404, f"the server doesn't have a resource type \"{resource}\" in {gv}")
            return JSONResponse(await object_page(client, served, rt, namespace=namespace, name=name,
                                                  services=the_hub().objects("services")))
        except StatusError as e:
            return problem(e.code, e.message)
        except ClientError as e:  # the API server cannot be reached
            return problem(503, str(e))

    @app.get("/api/search")
    async def find(q: str, namespace: str = "") -> JSONResponse:
        try:
            return JSONResponse(search(q, the_hub().searchable(), namespace=namespace))
        except StatusError as e:
            return problem(422, e.message)

    @app.get("/api/namespaces")
    async def namespaces() -> JSONResponse:
        return JSONResponse(the_hub().namespaces())

    @app.get("/api/map")
    async def picture(namespace: str = "default") -> JSONResponse:
        return JSONResponse(the_hub().picture(namespace))

    @app.get("/api/stream")
    async def stream(request: Request, namespace: str = "default") -> StreamingResponse:
        h = the_hub()

        async def events() -> AsyncIterator[bytes]:
            last = ""
            while not stop.is_set() and not await request.is_disconnected():
                body = json.dumps({**h.picture(namespace), "namespaces": h.namespaces()}, sort_keys=True)
                if body != last:
                    last = body
                    yield b"data: " + body.encode() + b"\n\n"
                else:
                    yield b": tick\n\n"  # lets a closed tab be noticed
                await h.changed(TICK)
                await asyncio.sleep(SETTLE)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"X-Accel-Buffering": "no"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
