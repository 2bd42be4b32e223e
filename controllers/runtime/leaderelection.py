"""Lease-based leader election on coordination.k8s.io/v1 (client-go's leaderelection).

Why: two replicas of a controller may run for availability, but only one may
act. The Lease object is the lock; the API server's optimistic concurrency
(an update carrying a stale resourceVersion gets 409) is what makes taking
it atomic.

Semantics copied from client-go:
- a candidate takes the lease when it is absent, released (empty holder) or
  not renewed for ``leaseDurationSeconds`` *as observed on the candidate's
  own monotonic clock* (wall clocks are never compared across machines);
- the leader renews every ``retry_period``; a renewal round that has not
  succeeded within ``renew_deadline`` ends leadership at once: the leading
  task is cancelled before anyone else can have taken over, because
  renew_deadline < lease_duration;
- ``leaseTransitions`` counts changes of holder; ``acquireTime`` and
  ``renewTime`` are metav1.MicroTime (RFC 3339 with microseconds);
- on a clean stop the leader releases the lease (empty holder,
  leaseDurationSeconds 1) so a standby takes over without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import random
import secrets
import socket
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from apimachinery.resources import BY_KEY
from apimachinery.timestamps import format_micro_time
from kubeclient import errors
from kubeclient.client import Client

log = logging.getLogger("controllers.leaderelection")

LEASES = BY_KEY["leases.coordination.k8s.io"]
NAMESPACES = BY_KEY["namespaces"]
JITTER = 1.2


def default_identity() -> str:
    """hostname_pid_random: unique per process even on one host."""
    return f"{socket.gethostname()}_{os.getpid()}_{secrets.token_hex(4)}"


@dataclass
class LeaderElectionConfig:
    lease_name: str
    namespace: str = "kube-system"
    identity: str = field(default_factory=default_identity)
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    release_on_cancel: bool = True

    def __post_init__(self) -> None:
        if self.lease_duration <= self.renew_deadline:
            raise ValueError("leaseDuration must be greater than renewDeadline")
        if self.renew_deadline <= JITTER * self.retry_period:
            raise ValueError("renewDeadline must be greater than retryPeriod*JitterFactor")
        if self.lease_duration < 1 or self.retry_period <= 0:
            raise ValueError("leaseDuration must be at least 1s and retryPeriod positive")


class LeaderElector:
    """Runs a callback only while this process holds the Lease."""

    def __init__(self, client: Client, config: LeaderElectionConfig) -> None:
        self.client = client
        self.config = config
        self.is_leader = False
        self._observed_spec: dict[str, Any] | None = None
        self._observed_time = 0.0
        self._lease: dict[str, Any] | None = None

    @property
    def identity(self) -> str:
        return self.config.identity

    @property
    def holder(self) -> str:
        """The holder we last observed ("" if none)."""
        return str((self._observed_spec or {}).get("holderIdentity") or "")

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _observe(self, lease: dict[str, Any]) -> None:
        spec = dict(lease.get("spec") or {})
        if spec != self._observed_spec:
            self._observed_spec = spec
            self._observed_time = self._now()
        self._lease = lease

    def _record(self, *, acquire_time: str, transitions: int) -> dict[str, Any]:
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": round(self.config.lease_duration),
            "acquireTime": acquire_time,
            "renewTime": format_micro_time(),
            "leaseTransitions": transitions,
        }

    async def try_acquire_or_renew(self) -> bool:
        """One attempt to take or extend the lease; True if we hold it afterwards."""
        cfg = self.config
        try:
            lease = await self.client.get(LEASES, cfg.lease_name, namespace=cfg.namespace)
        except errors.NotFound:
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": cfg.lease_name, "namespace": cfg.namespace},
                "spec": self._record(acquire_time=format_micro_time(), transitions=0),
            }
            try:
                created = await self.client.create(LEASES, body, namespace=cfg.namespace)
            except errors.NotFound as e:
                await self._ensure_namespace(e)
                return False
            except (errors.AlreadyExists, errors.Conflict):
                return False
            self._observe(created)
            return True

        self._observe(lease)
        spec = self._observed_spec or {}
        holder = str(spec.get("holderIdentity") or "")
        duration = float(spec.get("leaseDurationSeconds") or cfg.lease_duration)
        if holder and holder != self.identity and self._observed_time + duration > self._now():
            return False
        transitions = int(spec.get("leaseTransitions") or 0)
        if holder == self.identity:
            record = self._record(acquire_time=str(spec.get("acquireTime") or format_micro_time()), transitions=transitions)
        else:
            record = self._record(acquire_time=format_micro_time(), transitions=transitions + 1)
        new = dict(lease)
        new["spec"] = {**spec, **record}
        try:
            updated = await self.client.update(LEASES, new)
        except (errors.Conflict, errors.NotFound):
            return False
        self._observe(updated)
        return True

    async def _ensure_namespace(self, err: errors.NotFound) -> None:
        """The lease namespace (kube-system) may not exist yet on a fresh server: create it."""
        if (err.details or {}).get("kind") != "namespaces":
            return
        with contextlib.suppress(errors.AlreadyExists, errors.Conflict):
            await self.client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": self.config.namespace}})
            log.info("created namespace %s for leases", self.config.namespace)

    async def _attempt(self, budget: float) -> bool:
        try:
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation
            # that races the inner call's completion, and this runs in an endless loop.
            async with asyncio.timeout(max(budget, 0.001)):
                return await self.try_acquire_or_renew()
        except (TimeoutError, errors.ClientError) as e:
            log.info("lease %s/%s: attempt failed: %s", self.config.namespace, self.config.lease_name,
                     e or "timed out")
            return False

    async def _acquire(self) -> None:
        cfg = self.config
        log.info("attempting to acquire leader lease %s/%s as %s", cfg.namespace, cfg.lease_name, self.identity)
        last_holder = None
        while True:
            if await self._attempt(cfg.renew_deadline):
                log.info("successfully acquired lease %s/%s", cfg.namespace, cfg.lease_name)
                return
            if self.holder != last_holder:
                last_holder = self.holder
                log.info("lease %s/%s is held by %s", cfg.namespace, cfg.lease_name, last_holder or "nobody")
            await asyncio.sleep(cfg.retry_period * random.uniform(1.0, JITTER))

    async def _renew_round(self) -> bool:
        """Retry every retry_period until renewed or renew_deadline has passed."""
        cfg = self.config
        deadline = self._now() + cfg.renew_deadline
        while True:
            remaining = deadline - self._now()
            if remaining <= 0:
                return False
            if await self._attempt(remaining):
                return True
            remaining = deadline - self._now()
            if remaining <= 0:
                return False
            await asyncio.sleep(min(cfg.retry_period, remaining))

    async def release(self) -> None:
        """Give the lease up if we hold it, so a standby need not wait out the duration.

        Race: a cancellation can land after a renewal's PUT reached the server but
        before its answer was observed, so the cached lease may be one version
        behind our own write. On Conflict, read the lease again and retry while it
        still names us; never clear a lease that someone else now holds.
        """
        lease = self._lease
        try:
            async with asyncio.timeout(self.config.retry_period * 2):
                for _ in range(3):
                    if lease is None or str((lease.get("spec") or {}).get("holderIdentity") or "") != self.identity:
                        return
                    spec = dict(lease.get("spec") or {})
                    now = format_micro_time()
                    spec.update({"holderIdentity": "", "leaseDurationSeconds": 1, "acquireTime": now,
                                 "renewTime": now})
                    try:
                        await self.client.update(LEASES, {**lease, "spec": spec})
                    except errors.Conflict:
                        lease = await self.client.get(LEASES, self.config.lease_name,
                                                      namespace=self.config.namespace)
                        continue
                    log.info("released lease %s/%s", self.config.namespace, self.config.lease_name)
                    return
        except (TimeoutError, errors.ClientError) as e:
            log.warning("failed to release lease %s/%s: %s", self.config.namespace, self.config.lease_name, e)

    async def run(
        self,
        on_started_leading: Callable[[], Coroutine[Any, Any, None]],
        on_stopped_leading: Callable[[], Awaitable[None] | None] | None = None,
    ) -> None:
        """Acquire, run ``on_started_leading()`` as a task while renewing, stop it when the lease is lost.

        Returns after leadership ends (lost, or the leading task finished);
        cancelling ``run`` cancels the leading task and releases the lease.
        """
        cfg = self.config
        await self._acquire()
        self.is_leader = True
        lead = asyncio.create_task(on_started_leading(), name=f"leading:{cfg.lease_name}")
        released = False
        try:
            while not lead.done():
                sleeper = asyncio.create_task(asyncio.sleep(cfg.retry_period))
                await asyncio.wait({lead, sleeper}, return_when=asyncio.FIRST_COMPLETED)
                sleeper.cancel()
                if lead.done():
                    break
                if not await self._renew_round():
                    log.error("failed to renew lease %s/%s within %.0fs: stopping leading", cfg.namespace,
                              cfg.lease_name, cfg.renew_deadline)
                    break
        except asyncio.CancelledError:
            if cfg.release_on_cancel:
                released = True
            raise
        finally:
            self.is_leader = False
            lead.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await lead
            if lead.done() and not lead.cancelled() and lead.exception() is not None:
                log.error("leading task failed: %r", lead.exception())
            if released or (lead.done() and not lead.cancelled() and cfg.release_on_cancel):
                await self.release()
            if on_stopped_leading is not None:
                res = on_stopped_leading()
                if inspect.isawaitable(res):
                    await res
            log.info("stopped leading lease %s/%s", cfg.namespace, cfg.lease_name)
