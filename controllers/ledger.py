"""Shared machinery of the allocators: Services against an allocation ledger kept in the API.

Why: the ipam and nodeport controllers differ only in what they allocate;
how they keep the ledger (IPAddress / PortAllocation objects, one per value,
``spec.parentRef`` to the Service) honest is the same and is where races
hide, so it is written once:

- reconcile releases every ledger entry of a Service it no longer claims
  (deletion seen, type changed, port removed), recreates entries deleted
  behind our back, then lets the subclass allocate what is missing; entries
  of Services this process never saw are leaks, left to the repair pass;
- nothing is released or recreated from a stale cache: a release needs the
  Service cache to have seen the ledger entry's resourceVersion, a
  recreation needs the ledger cache to have seen past the Service's
  (resourceVersions are the API server's global revision); when it has not,
  the object is read live (a consistent read) before acting;
- Services are written with JSON Patch ``test`` guards on the fields the
  write depends on, so the two allocators never conflict with each other;
- a periodic repair pass reports inconsistencies as Events and deletes
  leaked entries older than a grace period;
- a Service that found its range full waits in ``waiting`` and is retried
  when any ledger entry is deleted or the ranges change.
"""

from __future__ import annotations

import abc
import argparse
import asyncio
import contextlib
import random
import time
from datetime import UTC, datetime
from typing import Any

from apimachinery import ledger
from apimachinery.resources import BY_KEY, ResourceType
from apimachinery.timestamps import parse_time
from controllers.allocation import parent_key, rv_int, seen_through
from controllers.runtime.controller import Controller
from controllers.runtime.events import WARNING
from controllers.runtime.informer import Informer, object_key, resource_version
from controllers.runtime.metrics import RuntimeMetrics
from controllers.runtime.process import build_parser, duration, run_controller_process
from kubeclient import errors
from kubeclient.client import Client

SERVICES = BY_KEY["services"]
SERVICECIDRS = BY_KEY["servicecidrs.networking.k8s.io"]

Obj = dict[str, Any]
REFUSED_MEMORY = 30.0  # seconds a value the server refused is skipped locally
MAX_ATTEMPTS = 8
FULL_RETRY = 30.0


def created_age(obj: Obj) -> float:
    """Seconds since metadata.creationTimestamp (infinite when absent or unparsable)."""
    t = parse_time((obj.get("metadata") or {}).get("creationTimestamp"))
    if t is None:
        return float("inf")
    return (datetime.now(UTC) - t).total_seconds()


class LedgerController(Controller, abc.ABC):
    """Base of the allocators; subclasses name the ledger type and implement allocation."""

    ledger_rt: ResourceType

    def __init__(
        self,
        client: Client,
        *,
        workers: int = 2,
        metrics: RuntimeMetrics | None = None,
        repair_interval: float = 60.0,
        orphan_grace: float = 60.0,
        seed: int | None = None,
    ) -> None:
        super().__init__(client, workers=workers, metrics=metrics)
        self.repair_interval = repair_interval
        self.orphan_grace = orphan_grace
        self.rng = random.Random(seed)
        self.services: Informer = self.informer(SERVICES, enqueue=True)
        self.ledger: Informer = self.informer(self.ledger_rt)
        self.ledger.cache.add_index("parent", lambda o: [k] if (k := parent_key(o)) else [])
        self.ledger.add_handler(on_add=self._ledger_changed, on_update=lambda _o, n: self._ledger_changed(n),
                                on_delete=self._ledger_deleted)
        self.cidrs: Informer = self.informer(SERVICECIDRS)
        self.cidrs.add_handler(on_add=lambda _o: self.wake_waiting(), on_update=lambda _o, _n: self.wake_waiting(),
                               on_delete=lambda _o: self.wake_waiting())
        self.inflight: set[Any] = set()
        self.written: dict[str, str] = {}  # Service key -> resourceVersion of our own allocation write
        self.deleted: set[str] = set()  # Services whose deletion we saw and have not reconciled yet
        self.services.add_handler(on_delete=lambda o: self.deleted.add(object_key(o)))
        self.waiting: set[str] = set()
        self._refused: dict[Any, float] = {}

    # ---- subclass contract ---------------------------------------------------

    @abc.abstractmethod
    def claimed(self, svc: Obj) -> set[str]:
        """Names of the ledger entries ``svc`` holds according to its spec."""

    @abc.abstractmethod
    def ledger_object(self, name: str, key: str) -> Obj:
        """The ledger entry ``name`` for the Service ``key``, as the API server would write it."""

    @abc.abstractmethod
    def entry_in_range(self, name: str) -> bool:
        """Whether the value of ledger entry ``name`` lies inside the configured range."""

    @abc.abstractmethod
    def not_allocated_event(self, name: str) -> tuple[str, str]:
        """(reason, message) when a claimed entry is missing and gets recreated."""

    @abc.abstractmethod
    async def allocate(self, key: str, svc: Obj) -> None:
        """Give ``svc`` whatever it still lacks (a no-op when it lacks nothing)."""

    @abc.abstractmethod
    async def repair_service(self, key: str, svc: Obj) -> None:
        """Report one Service's out-of-range and duplicate values as Events."""

    @abc.abstractmethod
    def refused_here(self, refusal: ledger.Refusal) -> bool:
        """Whether a ledger refusal names a field this allocator writes (then it chooses again)."""

    def leak_event(self, obj: Obj, key: str, svc: Obj | None) -> tuple[str, str]:
        kind, name = obj.get("kind", self.ledger_rt.kind), obj["metadata"]["name"]
        if svc is None:
            return f"{kind}NotAllocated", f"{kind}: {name} for Service {key} appears to have leaked: cleaning up"
        return f"{kind}WrongReference", f"{kind}: {name} for Service {key} has a wrong reference; cleaning up"

    def manages(self, obj: Obj) -> bool:
        """Ledger entries this controller may delete (default: every entry owned by a Service)."""
        return parent_key(obj) is not None

    # ---- events ----------------------------------------------------------------

    def _ledger_changed(self, obj: Obj) -> None:
        key = parent_key(obj)
        if key is not None:
            self.queue.add(key)

    def _ledger_deleted(self, obj: Obj) -> None:
        self._ledger_changed(obj)
        self.wake_waiting()

    def wake_waiting(self) -> None:
        for key in list(self.waiting):
            self.queue.add(key)

    # ---- local bookkeeping ---------------------------------------------------

    def refuse(self, values: list[Any]) -> None:
        until = time.monotonic() + REFUSED_MEMORY
        for v in values:
            self._refused[v] = until

    def refused(self, value: Any) -> bool:
        until = self._refused.get(value)
        if until is None:
            return False
        if until > time.monotonic():
            return True
        del self._refused[value]
        return False

    # ---- writing the Service ---------------------------------------------------

    async def write_service(self, key: str, svc: Obj, *, expect: dict[str, Any], set_: dict[str, Any]) -> Obj:
        """Set fields of the Service with a JSON Patch guarded by ``test`` ops, not a resourceVersion.

        Why: the ipam and nodeport controllers write different fields of the
        same Services at the same time; a whole-object precondition would make
        each fail on the other's write. The tests pin exactly what this write
        depends on (same object by uid, plus ``expect``: JSON pointer ->
        value as read; absent == null), so a concurrent change to those
        fields, or a user's edit of them, still fails the write. A failed
        test (422 without causes) is raised as Conflict: requeue with backoff
        and look again.
        """
        ns, _, name = key.partition("/")
        ops: list[dict[str, Any]] = [{"op": "test", "path": "/metadata/uid", "value": svc["metadata"].get("uid")}]
        ops += [{"op": "test", "path": path, "value": value} for path, value in expect.items()]
        ops += [{"op": "add", "path": path, "value": value} for path, value in set_.items()]
        try:
            return await self.client.patch(SERVICES, name, ops, namespace=ns, patch_type="json",
                                           field_manager=f"kubelite-{self.name}")
        except errors.Invalid as e:
            if e.causes:
                raise
            raise errors.Conflict(409, "Conflict",
                                  f"Service {key} changed since it was read; looking again") from e

    async def claim(self, key: str, svc: Obj, *, chosen: list[Any], expect: dict[str, Any],
                    set_: dict[str, Any]) -> Obj | None:
        """Write the Service holding the ``chosen`` values; None when the ledger refused them.

        Why here: both allocators claim the same way. While the write is in flight the values count
        as taken; a refused value is remembered (``refuse``) so the next choice skips it; any other
        422, and NotFound, propagate.
        """
        self.inflight.update(chosen)
        try:
            written = await self.write_service(key, svc, expect=expect, set_=set_)
        except errors.Invalid as e:
            if not any(self.refused_here(r) for r in ledger.refusals(e.causes)):
                raise
            self.refuse(list(chosen))
            self.log.info("%s for Service %s taken meanwhile; choosing again", ",".join(map(str, chosen)), key)
            return None
        finally:
            self.inflight.difference_update(chosen)
        self.waiting.discard(key)
        self.written[key] = resource_version(written)
        self.count("allocate")
        return written

    # ---- reconcile -------------------------------------------------------------

    async def reconcile(self, key: str) -> None:
        svc = self.services.cache.get_by_key(key)
        claimed = self.claimed(svc) if svc is not None else set()
        deleted = key in self.deleted
        for entry in self.ledger.cache.by_index("parent", key):
            if entry["metadata"]["name"] in claimed:
                continue
            if svc is not None:
                await self.release(entry, key, "no longer claimed")
            elif deleted:
                await self.release(entry, key, "service deleted")
            # else: a Service we never saw; the repair pass treats the entry as a leak (grace, Event)
        if svc is None:
            self.deleted.discard(key)
            self.waiting.discard(key)
            self.written.pop(key, None)
            return
        await self.ensure_ledger(key, svc, claimed)
        await self.allocate(key, svc)

    async def release(self, entry: Obj, key: str, why: str) -> None:
        """Delete a ledger entry the Service does not claim, judged on data at least as new as the entry.

        The cache is trusted when it has seen the entry's resourceVersion;
        otherwise the Service is read live (a consistent read) first, so a
        lagging cache never frees what a Service just took.
        """
        meta = entry["metadata"]
        if not seen_through(self.services.last_resource_version, meta.get("resourceVersion")):
            ns, _, name = key.partition("/")
            try:
                live: Obj | None = await self.client.get(SERVICES, name, namespace=ns)
            except errors.NotFound:
                live = None
            if live is not None and meta["name"] in self.claimed(live):
                return
        try:
            await self.client.delete(self.ledger_rt, meta["name"],
                                     preconditions={"uid": meta.get("uid", ""),
                                                    "resourceVersion": meta.get("resourceVersion", "")})
        except errors.NotFound:
            return
        except errors.Conflict:
            self.queue.add(key)  # changed meanwhile: look again with the newer version
            return
        self.log.info("released %s %s of Service %s (%s)", self.ledger_rt.kind, meta["name"], key, why)
        self.count("release")

    async def ensure_ledger(self, key: str, svc: Obj, claimed: set[str]) -> None:
        """Recreate claimed entries deleted behind our back."""
        svc_rv = resource_version(svc)
        ours = self.written.get(key) == svc_rv
        if not ours:
            self.written.pop(key, None)
        svc_rv_int = rv_int(svc_rv)
        for name in sorted(claimed):
            if self.ledger.cache.get(None, name) is not None or not self.entry_in_range(name):
                continue  # out of range is reported by the repair pass, never recreated
            if svc_rv_int is None or not seen_through(self.ledger.last_resource_version, str(svc_rv_int + 1)):
                # The entry written with the Service may not have reached our cache yet.
                if ours:
                    continue  # our own write: the API server created it in the same transaction
                try:
                    await self.client.get(self.ledger_rt, name)
                    continue
                except errors.NotFound:
                    pass
            reason, message = self.not_allocated_event(name)
            await self.recorder.event(svc, WARNING, reason, message)
            try:
                await self.client.create(self.ledger_rt, self.ledger_object(name, key))
            except errors.AlreadyExists:
                continue
            self.log.info("repaired %s %s of Service %s: recreated it", self.ledger_rt.kind, name, key)
            self.count("repair")

    # ---- repair ----------------------------------------------------------------

    async def run(self) -> None:
        repair = asyncio.create_task(self._repair_loop(), name=f"{self.name}:repair")
        try:
            await super().run()
        finally:
            repair.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await repair

    async def _repair_loop(self) -> None:
        for inf in self.informers:
            await inf.wait_synced()
        while True:
            try:
                await self.repair()
            except errors.ClientError as e:
                self.log.warning("repair pass failed: %s", e)
            await asyncio.sleep(self.repair_interval)

    async def repair(self) -> None:
        """One pass over every Service and ledger entry."""
        for svc in self.services.cache.list():
            await self.repair_service(object_key(svc), svc)
        for entry in self.ledger.cache.list():
            await self.check_leak(entry)

    async def check_leak(self, entry: Obj) -> None:
        if not self.manages(entry):
            return
        key = parent_key(entry)
        if key is None:
            return
        svc = self.services.cache.get_by_key(key)
        if svc is not None and entry["metadata"]["name"] in self.claimed(svc):
            return
        if created_age(entry) < self.orphan_grace:
            return
        if not seen_through(self.services.last_resource_version, entry["metadata"].get("resourceVersion")):
            ns, _, name = key.partition("/")
            try:
                svc = await self.client.get(SERVICES, name, namespace=ns)
            except errors.NotFound:
                svc = None
            if svc is not None and entry["metadata"]["name"] in self.claimed(svc):
                return
        reason, message = self.leak_event(entry, key, svc)
        await self.recorder.event(entry, WARNING, reason, message)
        await self.release(entry, key, "leaked")


def ledger_parser(name: str, description: str, *, ledger_kind: str) -> argparse.ArgumentParser:
    """The flags of an allocator process: the shared ones plus the repair pass."""
    p = build_parser(name, description)
    p.add_argument("--repair-interval", type=duration, default=60.0, metavar="DURATION",
                   help="how often the repair pass runs (default 60s)")
    p.add_argument("--orphan-grace", type=duration, default=60.0, metavar="DURATION",
                   help=f"age before a leaked {ledger_kind} is deleted (default 60s)")
    # Each allocation is one write whose latency is the API server's commit; concurrency is throughput.
    p.set_defaults(workers=8)
    return p


async def run_allocator(name: str, argv: list[str], cls: type[LedgerController],
                        parser: argparse.ArgumentParser) -> int:
    """Run one allocator controller process; returns its exit code."""

    def factory(client: Client, metrics: RuntimeMetrics, args: argparse.Namespace) -> Controller:
        return cls(client, workers=args.workers, metrics=metrics, repair_interval=args.repair_interval,
                   orphan_grace=args.orphan_grace)

    return await run_controller_process(name, argv, factory, parser=parser)
