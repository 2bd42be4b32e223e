"""Staying up under load: in-flight caps, a watcher cap, a request deadline and draining.

Why: a burst of clients must get fast 429s (which they retry) instead of
piling up until everyone times out, and a server that is stopping must
finish what it accepted while refusing new work. This mirrors
kube-apiserver's filters: WithMaxInFlightLimit (--max-requests-inflight 400,
--max-mutating-requests-inflight 200, Retry-After: 1, watches exempt,
system:masters never refused), WithTimeoutForNonLongRunningRequests (504)
and WithWaitGroup (503 "apiserver is shutting down" while draining).

Invariants:
- Counters and the set of open watches are touched only on the event loop.
- A watch is "slow" while one of its writes has been blocked on the socket
  for ``slow_after`` seconds (the client stopped reading). At the watcher
  cap, the oldest slow watch is dropped to make room; with no slow watch,
  the new one gets 429.
- Health probes are never limited, so a saturated server still reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from apimachinery.errors import StatusError
from apiserver.auth import PRIVILEGED_GROUP, USER_KEY, UserInfo, send_status
from apiserver.settings import Settings

log = logging.getLogger("kubelite.overload")

RETRY_AFTER_SECONDS = 1
EXEMPT_PATHS = frozenset({"/healthz", "/livez", "/readyz"})
READ_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class Limits:
    """0 disables a cap."""

    max_requests_inflight: int = 400
    max_mutating_requests_inflight: int = 200
    max_watchers: int = 10000
    request_timeout: float = 60.0
    slow_after: float = 1.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(max_requests_inflight=settings.max_requests_inflight,
                   max_mutating_requests_inflight=settings.max_mutating_requests_inflight,
                   max_watchers=settings.max_watchers, request_timeout=settings.request_timeout)


def too_many_requests(message: str = "Too many requests, please try again later.") -> StatusError:
    """apierrors.NewTooManyRequests with kube's max-in-flight message and Retry-After."""
    return StatusError(429, "TooManyRequests", message, details={"retryAfterSeconds": RETRY_AFTER_SECONDS},
                       headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def shutting_down() -> StatusError:
    """WithWaitGroup's answer while the server drains: retry (probably on another server)."""
    return StatusError(503, "ServiceUnavailable", "apiserver is shutting down",
                       headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def deadline_exceeded() -> StatusError:
    return StatusError(504, "Timeout",
                       "Timeout: request did not complete within requested timeout - context deadline exceeded",
                       details={})


def _truthy(value: str) -> bool:
    return value.lower() not in ("", "false", "0")


def request_kind(method: str, path: str, query: bytes) -> str:
    """"watch" (a watcher), "longrunning" (pods/log), "readonly" or "mutating", as kube classifies verbs."""
    if method in READ_METHODS:
        if path.endswith("/log") and path.startswith("/api/v1/namespaces/"):
            return "longrunning"  # pods/log (kubectl logs -f): exempt like kube-apiserver's long-running verbs
        if b"watch" in query and path.startswith(("/api/", "/apis/")):
            for k, v in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
                if k == "watch":
                    return "watch" if _truthy(v) else "readonly"
        return "readonly"
    return "mutating"


class _Stream:
    """One open watch response."""

    __slots__ = ("evicted", "sending_since", "started", "task")

    def __init__(self, started: float, task: asyncio.Task[Any] | None) -> None:
        self.started = started
        self.task = task
        self.sending_since: float | None = None
        self.evicted = False


class Overload:
    """Shared state of the overload filter (one per app): counters, open watches, draining."""

    def __init__(self, limits: Limits, *, registry: Any = None) -> None:
        self.limits = limits
        self.readonly = 0
        self.mutating = 0
        self.streams: set[_Stream] = set()
        self.draining = False
        self.dropped = {"readOnly": 0, "mutating": 0, "watch": 0}
        self.evicted = 0
        # Request deadlines: one reaper task checks them twice a second (cheaper per request than a
        # timer each); a request past its deadline is cancelled and answered 504.
        self.deadlines: dict[asyncio.Task[Any], float] = {}
        self.expired: set[asyncio.Task[Any]] = set()
        self._reaper: asyncio.Task[None] | None = None
        if registry is not None:
            self._register_metrics(registry)

    def watch_deadline(self, task: asyncio.Task[Any], timeout: float) -> None:
        loop = asyncio.get_running_loop()
        self.deadlines[task] = loop.time() + timeout
        if self._reaper is None or self._reaper.done():
            self._reaper = loop.create_task(self._reap(min(0.5, timeout / 4)), name="kubelite-request-deadlines")

    async def _reap(self, interval: float) -> None:
        loop = asyncio.get_running_loop()
        while self.deadlines:
            await asyncio.sleep(interval)
            now = loop.time()
            for task, deadline in list(self.deadlines.items()):
                if now >= deadline and task not in self.expired and not task.done():
                    self.expired.add(task)
                    task.cancel()

    def _register_metrics(self, registry: Any) -> None:
        from prometheus_client import Counter, Gauge

        inflight = Gauge("apiserver_current_inflight_requests", "Requests being served, by kind.",
                         ["request_kind"], registry=registry)
        inflight.labels("readOnly").set_function(lambda: float(self.readonly))
        inflight.labels("mutating").set_function(lambda: float(self.mutating))
        self._dropped_metric = Counter("apiserver_dropped_requests_total",
                                       "Requests refused with 429 by the in-flight and watcher caps.",
                                       ["request_kind"], registry=registry)
        self._evicted_metric = Counter("kubelite_evicted_watches_total",
                                       "Slow watches dropped to make room under the watcher cap.", registry=registry)
        streams = Gauge("kubelite_open_watch_streams", "Watch responses open.", registry=registry)
        streams.set_function(lambda: float(len(self.streams)))

    def _count_drop(self, kind: str) -> None:
        self.dropped[kind] += 1
        m = getattr(self, "_dropped_metric", None)
        if m is not None:
            m.labels(kind).inc()

    def drain(self) -> None:
        """From now on every new request gets 503 "apiserver is shutting down"."""
        self.draining = True

    def evict_slowest(self, now: float) -> bool:
        """Drop the oldest watch whose client stopped reading; False when none is slow."""
        slow = [s for s in self.streams if not s.evicted and s.sending_since is not None
                and now - s.sending_since >= self.limits.slow_after]
        if not slow:
            return False
        victim = min(slow, key=lambda s: s.started)
        victim.evicted = True
        self.streams.discard(victim)
        self.evicted += 1
        m = getattr(self, "_evicted_metric", None)
        if m is not None:
            m.inc()
        if victim.task is not None:
            victim.task.cancel()
        log.warning("dropped a slow watch (blocked %.1fs) to make room under --max-watchers",
                    now - (victim.sending_since or now))
        return True


def _privileged(scope: dict[str, Any]) -> bool:
    user = scope.get(USER_KEY)
    return isinstance(user, UserInfo) and PRIVILEGED_GROUP in user.groups


class OverloadMiddleware:
    """The ASGI filter; ``overload`` is shared with the code that drains the server."""

    def __init__(self, app: Any, *, overload: Overload) -> None:
        self.app = app
        self.overload = overload

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        ov = self.overload
        if ov.draining:
            await send_status(send, shutting_down())
            return
        kind = request_kind(scope["method"], scope["path"], scope.get("query_string", b""))
        if kind == "watch":
            await self._watch(scope, receive, send)
            return
        if kind == "longrunning":
            await self.app(scope, receive, send)
            return
        limits = ov.limits
        if kind == "mutating":
            if limits.max_mutating_requests_inflight and ov.mutating >= limits.max_mutating_requests_inflight \
                    and not _privileged(scope):
                ov._count_drop("mutating")
                await send_status(send, too_many_requests())
                return
            ov.mutating += 1
            try:
                await self._with_deadline(scope, receive, send)
            finally:
                ov.mutating -= 1
            return
        if limits.max_requests_inflight and ov.readonly >= limits.max_requests_inflight and not _privileged(scope):
            ov._count_drop("readOnly")
            await send_status(send, too_many_requests())
            return
        ov.readonly += 1
        try:
            await self._with_deadline(scope, receive, send)
        finally:
            ov.readonly -= 1

    async def _with_deadline(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        ov = self.overload
        timeout = ov.limits.request_timeout
        task = asyncio.current_task()
        if not timeout or task is None:
            await self.app(scope, receive, send)
            return
        ov.watch_deadline(task, timeout)
        try:
            await self.app(scope, receive, send)
        except asyncio.CancelledError:
            if task not in ov.expired:
                raise
            task.uncancel()
            log.warning("%s %s did not complete within %.0fs", scope["method"], scope["path"], timeout)
            with contextlib.suppress(RuntimeError):  # the response had started: the connection just ends
                await send_status(send, deadline_exceeded())
        finally:
            ov.deadlines.pop(task, None)
            ov.expired.discard(task)

    async def _watch(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        ov = self.overload
        loop = asyncio.get_running_loop()
        cap = ov.limits.max_watchers
        if cap and len(ov.streams) >= cap and not _privileged(scope) and not ov.evict_slowest(loop.time()):
            ov._count_drop("watch")
            await send_status(send, too_many_requests())
            return
        task = asyncio.current_task()
        stream = _Stream(loop.time(), task)
        ov.streams.add(stream)

        async def tracked(message: dict[str, Any]) -> None:
            stream.sending_since = loop.time()
            try:
                await send(message)
            finally:
                stream.sending_since = None

        try:
            await self.app(scope, receive, tracked)
        except asyncio.CancelledError:
            if not stream.evicted or task is None:
                raise
            task.uncancel()
            # End the chunked body if the socket takes it; otherwise the server closes the connection.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(send({"type": "http.response.body", "body": b"", "more_body": False}), 0.05)
        finally:
            ov.streams.discard(stream)


def install(app: Any, limits: Limits, *, registry: Any = None) -> Overload:
    """Add the filter to a Starlette/FastAPI app; returns the shared state (also ``app.state.overload``)."""
    ov = Overload(limits, registry=registry)
    app.add_middleware(OverloadMiddleware, overload=ov)
    app.state.overload = ov
    return ov


__all__ = ["Limits", "Overload", "OverloadMiddleware", "deadline_exceeded", "install", "request_kind",
           "shutting_down", "too_many_requests"]
