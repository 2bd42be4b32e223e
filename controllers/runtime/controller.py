"""The controller base: informers feed a workqueue, workers run ``reconcile(key)``.

Why (docs/architecture.md, "Controllers"): event handlers only map events to keys; the
worker reads the current state from the informer caches and converges it, so
the result depends on the state, never on which events were seen
(level-triggered). On start every key of the primary informer is enqueued,
and a key missing from the cache means the object is gone: clean up.

Error policy: Conflict, 429, 5xx and connection failures are requeued with
per-key exponential backoff; after ``max_retries`` the key is dropped with a
``FailedSync`` Warning Event on the object. Any other exception is a
non-retryable failure: logged, evented, dropped (it will be seen again on
the object's next change or the next resync).

Informers come from an ``InformerFactory``: pass the process's shared one
so that controllers in one process LIST and WATCH each resource once;
without one the controller gets a private factory, runs it, and stops it
when its run ends.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
from collections.abc import Iterable
from typing import Any

from apimachinery.resources import ResourceType
from controllers.runtime.events import WARNING, EventRecorder
from controllers.runtime.informer import Informer, Registration, object_key, split_key
from controllers.runtime.informers import InformerFactory
from controllers.runtime.metrics import RuntimeMetrics
from controllers.runtime.workqueue import WorkQueue
from kubeclient import errors
from kubeclient.client import Client

FAILED_SYNC = "FailedSync"


class RequeueAfter(Exception):
    """Raised by ``reconcile`` to look at the key again later without counting a failure."""

    def __init__(self, delay: float, reason: str = "") -> None:
        super().__init__(reason or f"requeue after {delay}s")
        self.delay = delay
        self.reason = reason


class Controller(abc.ABC):
    """Subclasses set ``name``, create informers in ``__init__`` and implement ``reconcile``."""

    name: str = "controller"

    def __init__(
        self,
        client: Client,
        *,
        workers: int = 1,
        max_retries: int = 15,
        metrics: RuntimeMetrics | None = None,
        informers: InformerFactory | None = None,
    ) -> None:
        self.client = client
        self.factory = informers if informers is not None else InformerFactory(client)
        self._owns_factory = informers is None
        self._registrations: list[tuple[Informer, Registration]] = []
        self.workers = workers
        self.max_retries = max_retries
        self.metrics = metrics
        self.log = logging.getLogger(f"controllers.{self.name}")
        self.queue = WorkQueue(self.name)
        self.informers: list[Informer] = []
        self.recorder = EventRecorder(client, self.name)
        if metrics is not None:
            q = self.queue
            metrics.watch_queue(self.name, lambda: float(len(q)), lambda: float(q.adds), lambda: float(q.retries))

    # ---- wiring -----------------------------------------------------------

    def informer(
        self,
        rt: ResourceType,
        *,
        enqueue: bool = False,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> Informer:
        """The factory's informer for ``rt`` (shared with the process's other controllers).

        ``enqueue=True`` maps its events to their own keys. The first informer
        asked for is the primary (``start_keys``, ``involved_object``).
        """
        inf = self.factory.get(rt, namespace=namespace, label_selector=label_selector,
                               field_selector=field_selector)
        if inf not in self.informers:
            self.informers.append(inf)
        if enqueue:
            self.handle(inf, on_add=self.enqueue, on_update=lambda _old, new: self.enqueue(new),
                        on_delete=self.enqueue)
        return inf

    def handle(self, inf: Informer, **callbacks: Any) -> Registration:
        """``inf.add_handler(**callbacks)``, removed again when this controller's run ends.

        Use it rather than ``add_handler`` on a shared informer: the informer
        outlives the controller (a leadership term), its handlers must not.
        """
        reg = inf.add_handler(**callbacks)
        self._registrations.append((inf, reg))
        return reg

    @property
    def primary(self) -> Informer:
        return self.informers[0]

    def enqueue(self, obj: dict[str, Any]) -> None:
        self.queue.add(object_key(obj))

    def start_keys(self) -> Iterable[str]:
        """Keys enqueued once every informer has synced (default: all of the primary's)."""
        return self.primary.cache.keys()

    async def on_synced(self) -> None:
        """Hook run after the caches synced and before workers start (e.g. a repair pass)."""
        return None

    @abc.abstractmethod
    async def reconcile(self, key: str) -> None:
        """Converge the object named by ``key`` (``ns/name`` or ``name``) to its desired state."""

    def involved_object(self, key: str) -> dict[str, Any] | None:
        """The object a FailedSync Event is about: the primary cache's entry for ``key``."""
        if not self.informers:
            return None
        ns, name = split_key(key)
        return self.primary.cache.get(ns or None, name)

    def count(self, action: str) -> None:
        if self.metrics is not None:
            self.metrics.actions.labels(controller=self.name, action=action).inc()

    # ---- running ------------------------------------------------------------

    async def run(self) -> None:
        """Run informers (their factory's, once) and workers until cancelled."""
        tasks: list[asyncio.Task[None]] = []
        try:
            self.factory.start()
            await self.factory.wait_synced()
            await asyncio.gather(*(inf.wait_handler_synced(reg) for inf, reg in self._registrations))
            self.log.info("%s: caches synced", self.name)
            await self.on_synced()
            for key in self.start_keys():
                self.queue.add(key)
            tasks += [asyncio.create_task(self._worker(), name=f"{self.name}:worker{i}") for i in range(self.workers)]
            await asyncio.gather(*tasks)
        finally:
            self.queue.shutdown()
            for inf, reg in self._registrations:
                inf.remove_handler(reg)
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            if self._owns_factory:
                await self.factory.shutdown()

    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()
            if key is None:
                return
            try:
                await self.process(key)
            finally:
                self.queue.done(key)

    async def process(self, key: str) -> None:
        """One reconcile of ``key`` with the error policy applied; never raises (except cancellation)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        result = "success"
        try:
            await self.reconcile(key)
            self.queue.forget(key)
        except RequeueAfter as r:
            result = "requeue"
            self.queue.forget(key)
            self.queue.add_after(key, r.delay)
            if r.reason:
                self.log.info("%s: requeue %s in %.1fs: %s", self.name, key, r.delay, r.reason)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            result = "error"
            await self._failed(key, e)
        finally:
            if self.metrics is not None:
                self.metrics.reconcile_total.labels(controller=self.name, result=result).inc()
                self.metrics.reconcile_seconds.labels(controller=self.name).observe(loop.time() - started)

    async def _failed(self, key: str, err: Exception) -> None:
        if errors.is_retryable(err):
            n = self.queue.num_requeues(key)
            if n < self.max_retries:
                self.log.info("%s: requeue %s (attempt %d) after error: %s", self.name, key, n + 1, err)
                self.queue.add_rate_limited(key)
                return
            self.log.error("%s: dropping %s after %d retries: %s", self.name, key, n, err)
        elif isinstance(err, errors.ClientError):
            self.log.error("%s: failed to sync %s: %s", self.name, key, err)
        else:
            self.log.exception("%s: reconcile of %s crashed", self.name, key, exc_info=err)
        self.queue.forget(key)
        obj = self.involved_object(key)
        if obj is not None:
            await self.recorder.event(obj, WARNING, FAILED_SYNC, f"failed to sync {key}: {err}")
