"""Prometheus metrics of the API server (its own registry: no global state).

The storage gauges read their values through callables handed in by the app, so this module needs
nothing from the app (the app imports it; it imports no part of the request path back).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from apimachinery.resources import ResourceType

if TYPE_CHECKING:
    from fastapi import Request


class Metrics:
    def __init__(self, *, revision: Callable[[], int], transactions: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.requests = Counter(
            "apiserver_request_total", "Requests by verb, resource and HTTP code.",
            ["verb", "resource", "code"], registry=self.registry,
        )
        self.latency = Histogram(
            "apiserver_request_duration_seconds", "Request latency by verb and resource (watches excluded).",
            ["verb", "resource"], registry=self.registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.watches = Gauge("apiserver_registered_watchers", "Open watches by resource.", ["resource"],
                             registry=self.registry)
        self.watch_total = Counter("apiserver_watch_requests_total", "Watches started by resource.", ["resource"],
                                   registry=self.registry)
        self.disconnects = Counter(
            "kubelite_client_disconnects_total",
            "Requests abandoned by the client before its body arrived (not answered, not an error).",
            ["verb", "resource"], registry=self.registry,
        )
        rev = Gauge("kubelite_storage_revision", "The watch cache's revision.", registry=self.registry)
        rev.set_function(lambda: float(revision()))
        tx = Gauge("kubelite_storage_transactions", "Write transactions committed (group commit).",
                   registry=self.registry)
        tx.set_function(lambda: float(transactions()))

    def observe(self, request: Request, code: int, seconds: float) -> None:
        verb = getattr(request.state, "verb", request.method.lower()).upper()
        resource = getattr(request.state, "resource", "")
        key = (verb, resource, code)
        children = self._children.get(key)
        if children is None:  # labels() costs more than the increment: look each series up once
            children = self._children[key] = (self.requests.labels(verb, resource, str(code)),
                                              self.latency.labels(verb, resource))
        children[0].inc()
        if verb != "WATCH":
            children[1].observe(seconds)

    def client_disconnected(self, request: Request) -> None:
        verb = getattr(request.state, "verb", request.method.lower()).upper()
        self.disconnects.labels(verb, getattr(request.state, "resource", "")).inc()

    def watch_started(self, rt: ResourceType) -> None:
        self.watches.labels(rt.plural).inc()
        self.watch_total.labels(rt.plural).inc()

    def watch_stopped(self, rt: ResourceType) -> None:
        self.watches.labels(rt.plural).dec()

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


__all__: list[Any] = ["Metrics"]
