"""The ``default/kubernetes`` Endpoints and EndpointSlices: the live API servers, kept by the API servers.

Why: in a real cluster ``kubectl get endpoints kubernetes`` lists every API
server (kube-apiserver's ``lease`` endpoint reconciler), and in-cluster
clients and the service proxy reach the API through the ``kubernetes``
Service. Nobody else writes these objects (the Service has no selector, so
the endpoints controller leaves it alone).

How, as kube-apiserver's lease reconciler, with the store in place of etcd's
TTL keys:

- Each API server holds a Lease of its own in ``kube-system``, labelled like
  kube-apiserver's identity Leases (``apiserver.kubernetes.io/identity:
  kube-apiserver``), named from its host, address and port, with its address
  and port in annotations. It renews it every ``interval`` seconds;
  ``leaseDurationSeconds`` is the TTL.
- Every ``interval`` each server lists the Leases, deletes those not renewed
  for a TTL, and writes the Endpoints and EndpointSlices of the live ones,
  only when they differ from what is stored (optimistic concurrency: a
  Conflict or AlreadyExists from another server is retried).
- A stopping server deletes its Lease and rewrites the objects without itself;
  a killed one disappears once its Lease has not been renewed for a TTL.

Liveness is judged on the observer's own monotonic clock (when it saw a
Lease's renewTime change), never by comparing renewTime with its wall clock,
so clock skew between API servers on different hosts cannot drop a live one.
A server that just started treats every Lease as renewed when first seen.

Several servers on one host: here every API server is reached at a loopback
address, so two servers differ by port only. An Endpoints subset carries one
port list for all its addresses, so one ``127.0.0.1`` with two ports cannot
be one subset: each distinct port gets its own subset (addresses sorted) and
its own EndpointSlice (``kubernetes`` for the lowest port, then
``kubernetes-<port>``), always with the port named ``https`` as
kube-apiserver's. With one port (the usual case) the objects are exactly
kube-apiserver's: one subset, one slice named ``kubernetes``, and the
Service's ``https`` port targets that port (a server restarted on another
port corrects it); with several ports the Service's ``targetPort`` is left
as it is, since no single value is true.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import hashlib
import ipaddress
import logging
import math
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from apimachinery import selectorless
from apimachinery.errors import StatusError
from apimachinery.labels import LABEL_SERVICE_NAME, LABEL_SKIP_MIRROR
from apimachinery.resources import BY_KEY
from apimachinery.timestamps import format_micro_time
from apiserver.registry import Registry
from apiserver.settings import Settings

log = logging.getLogger("kubelite.selfendpoints")

SERVICE_NAMESPACE = "default"
SERVICE_NAME = "kubernetes"
PORT_NAME = "https"
LEASE_NAMESPACE = "kube-system"
IDENTITY_LABEL = "apiserver.kubernetes.io/identity"
IDENTITY_VALUE = "kube-apiserver"
HOSTNAME_LABEL = "kubernetes.io/hostname"
ADDRESS_ANNOTATION = "kubelite.io/apiserver-address"
PORT_ANNOTATION = "kubelite.io/apiserver-port"
# kube-apiserver's DefaultEndpointReconcilerTTL and DefaultEndpointReconcilerInterval.
DEFAULT_TTL = 15.0
DEFAULT_INTERVAL = 10.0
_RETRIES = 5

LEASES = BY_KEY["leases.coordination.k8s.io"]
ENDPOINTS = BY_KEY["endpoints"]
SLICES = BY_KEY["endpointslices.discovery.k8s.io"]
SERVICES = BY_KEY["services"]

Server = tuple[str, int]  # (address, port)


@dataclass(frozen=True)
class Timing:
    """Lease TTL and renew/reconcile interval, in seconds (env: KUBELITE_APISERVER_LEASE_TTL/_INTERVAL)."""

    ttl: float = DEFAULT_TTL
    interval: float = DEFAULT_INTERVAL

    @classmethod
    def from_env(cls) -> Timing:
        ttl = float(os.environ.get("KUBELITE_APISERVER_LEASE_TTL") or DEFAULT_TTL)
        interval = float(os.environ.get("KUBELITE_APISERVER_LEASE_INTERVAL") or min(DEFAULT_INTERVAL, ttl * 2 / 3))
        if ttl <= 0 or interval <= 0 or interval >= ttl:
            raise ValueError(f"API server lease: need 0 < interval ({interval}) < ttl ({ttl})")
        return cls(ttl, interval)


def advertise_address(bind_address: str) -> str:
    """The address other processes reach this server at: the bind address, or loopback for a wildcard."""
    try:
        ip = ipaddress.ip_address(bind_address)
    except ValueError:
        return "127.0.0.1"  # a host name (localhost): the servers here listen on loopback
    return "127.0.0.1" if ip.is_unspecified else str(ip)


def lease_name(hostname: str, address: str, port: int) -> str:
    """``apiserver-<base32 of sha256>`` as kube-apiserver names identity Leases (from the hostname);
    address and port are hashed in too, so servers sharing a host get Leases of their own."""
    digest = hashlib.sha256(f"{hostname}/{address}:{port}".encode()).digest()
    return "apiserver-" + base64.b32encode(digest[:16]).decode().rstrip("=").lower()


def lease_server(lease: dict[str, Any]) -> Server | None:
    """(address, port) an API server's Lease announces; None for any other Lease."""
    meta = lease.get("metadata") or {}
    if (meta.get("labels") or {}).get(IDENTITY_LABEL) != IDENTITY_VALUE:
        return None
    ann = meta.get("annotations") or {}
    try:
        address = str(ipaddress.ip_address(str(ann.get(ADDRESS_ANNOTATION) or "")))
        port = int(str(ann.get(PORT_ANNOTATION) or ""))
    except ValueError:
        return None
    return (address, port) if 0 < port < 65536 else None


def _by_port(servers: list[Server]) -> list[tuple[int, list[str]]]:
    ports: dict[int, set[str]] = {}
    for address, port in servers:
        ports.setdefault(port, set()).add(address)
    return [(port, sorted(ports[port], key=ipaddress.ip_address)) for port in sorted(ports)]


def _https(port: int | None) -> list[dict[str, Any]]:
    return [{"name": PORT_NAME, "port": port, "protocol": "TCP"}] if port is not None else []


def desired_endpoints(servers: list[Server]) -> dict[str, Any]:
    """The Endpoints ``default/kubernetes``: one subset per distinct port (see the module doc)."""
    return selectorless.endpoints(SERVICE_NAMESPACE, SERVICE_NAME,
                                  [(_https(port), addresses) for port, addresses in _by_port(servers)],
                                  labels={LABEL_SKIP_MIRROR: "true"})


def desired_slices(servers: list[Server]) -> list[dict[str, Any]]:
    """The EndpointSlices of ``default/kubernetes``: one per distinct port, ``kubernetes`` first.

    With no live server the ``kubernetes`` slice stays, with no endpoints, as kube-apiserver's does.
    """
    groups: list[tuple[int | None, list[str]]] = [*_by_port(servers)] or [(None, [])]
    return [selectorless.endpoint_slice(SERVICE_NAMESPACE, SERVICE_NAME if i == 0 else f"{SERVICE_NAME}-{port}",
                                        (_https(port), addresses), labels={LABEL_SERVICE_NAME: SERVICE_NAME})
            for i, (port, addresses) in enumerate(groups)]


def _retriable(e: StatusError) -> bool:
    """Another API server wrote the same object first (kube's isRetriableError)."""
    return e.reason in ("Conflict", "AlreadyExists")


class SelfEndpoints:
    """This API server's Lease and the ``kubernetes`` Endpoints/EndpointSlices of all live ones."""

    def __init__(self, registry: Registry, settings: Settings, *, timing: Timing | None = None) -> None:
        self.registry = registry
        self.timing = timing or Timing.from_env()
        self.server: Server = (advertise_address(settings.bind_address), settings.port)
        self.hostname = socket.gethostname()
        self.name = lease_name(self.hostname, *self.server)
        # lease name -> (renewTime last seen, our monotonic time when we saw it change)
        self._seen: dict[str, tuple[str, float]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Announce this server and write the objects once before serving, then keep them current.

        A failure here does not keep the server from serving (kube-apiserver runs its reconciler
        beside the API too): it is logged and the loop tries again every interval."""
        try:
            await self._sync(include_self=True)
        except Exception as e:
            log.warning("kubernetes endpoints reconcile failed: %s", e)
        self._task = asyncio.create_task(self._loop(), name="self-endpoints")

    async def stop(self) -> None:
        """Withdraw this server: delete its Lease and write the objects without it (best effort)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self._delete_lease(self.name, None)
            await self._reconcile(include_self=False)
        except Exception as e:  # stopping anyway: the others drop us after a TTL
            log.warning("could not withdraw %s:%s from the kubernetes endpoints: %s", *self.server, e)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.timing.interval)
            try:
                await self._sync(include_self=True)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a locked or unreachable database: try again next interval
                log.warning("kubernetes endpoints reconcile failed: %s", e)

    async def _sync(self, *, include_self: bool) -> None:
        await self._renew()
        await self._reconcile(include_self=include_self)

    # -- the Lease ---------------------------------------------------------------------------------

    def _lease(self) -> dict[str, Any]:
        address, port = self.server
        now = format_micro_time()
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.name, "namespace": LEASE_NAMESPACE,
                             "labels": {IDENTITY_LABEL: IDENTITY_VALUE, HOSTNAME_LABEL: self.hostname},
                             "annotations": {ADDRESS_ANNOTATION: address, PORT_ANNOTATION: str(port)}},
                "spec": {"holderIdentity": self.name, "leaseDurationSeconds": math.ceil(self.timing.ttl),
                         "acquireTime": now, "renewTime": now}}

    async def _renew(self) -> None:
        for _ in range(_RETRIES):
            want = self._lease()
            current = self.registry.cache.get(LEASES.key, LEASE_NAMESPACE, self.name)
            try:
                if current is None:
                    await self.registry.create(LEASES, LEASE_NAMESPACE, want)
                else:
                    obj = copy.deepcopy(current.obj)
                    want["spec"]["acquireTime"] = (obj.get("spec") or {}).get("acquireTime") or want["spec"]["renewTime"]
                    obj["metadata"].update(labels=want["metadata"]["labels"],
                                           annotations=want["metadata"]["annotations"],
                                           resourceVersion=str(current.revision))
                    obj["spec"] = want["spec"]
                    await self.registry.update(LEASES, LEASE_NAMESPACE, self.name, obj)
                return
            except StatusError as e:
                if not _retriable(e):
                    raise

    async def _delete_lease(self, name: str, revision: int | None) -> None:
        opts = {"preconditions": {"resourceVersion": str(revision)}} if revision is not None else {}
        try:
            await self.registry.delete(LEASES, LEASE_NAMESPACE, name, opts)
        except StatusError as e:
            if e.reason not in ("NotFound", "Conflict"):  # gone already, or renewed meanwhile: alive
                raise

    async def live_servers(self, *, include_self: bool) -> list[Server]:
        """The servers whose Lease was renewed within a TTL; expired Leases are deleted."""
        if self.registry.store.shared:
            await self.registry.store.fresh_revision()
        now = time.monotonic()
        live: set[Server] = set()
        names: set[str] = set()
        for entry in self.registry.cache.select(LEASES.key, self.registry.filter(LEASES, LEASE_NAMESPACE, None,
                                                                                  None))[0]:
            server = lease_server(entry.obj)
            name = str((entry.obj.get("metadata") or {}).get("name") or "")
            if server is None:
                continue
            names.add(name)
            renew = str((entry.obj.get("spec") or {}).get("renewTime") or "")
            seen = self._seen.get(name)
            if seen is None or seen[0] != renew:
                self._seen[name] = seen = (renew, now)
            if name == self.name:
                if include_self:
                    live.add(server)
            elif now - seen[1] <= self.timing.ttl:
                live.add(server)
            else:
                log.info("API server %s:%s stopped renewing its lease %s: removing it", *server, name)
                await self._delete_lease(name, entry.revision)
        for gone in set(self._seen) - names:
            del self._seen[gone]
        if include_self:
            live.add(self.server)
        return sorted(live)

    # -- the Endpoints and EndpointSlices ------------------------------------------------------------

    async def _reconcile(self, *, include_self: bool) -> None:
        servers = await self.live_servers(include_self=include_self)
        for _ in range(_RETRIES):
            try:
                await self._write_endpoints(desired_endpoints(servers))
                await self._write_slices(desired_slices(servers))
                await self._write_target_port(servers)
                return
            except StatusError as e:
                if not _retriable(e):
                    raise
                if self.registry.store.shared:
                    await self.registry.store.fresh_revision()

    async def _write(self, rt_key: str, want: dict[str, Any], fields: tuple[str, ...]) -> None:
        """Create ``want`` or update the stored object's labels and ``fields`` when they differ."""
        rt = BY_KEY[rt_key]
        name = want["metadata"]["name"]
        current = self.registry.cache.get(rt.key, SERVICE_NAMESPACE, name)
        if current is None:
            await self.registry.create(rt, SERVICE_NAMESPACE, copy.deepcopy(want))
            return
        obj = current.obj
        labels = (obj.get("metadata") or {}).get("labels") or {}
        if labels == want["metadata"]["labels"] and all(obj.get(f) == want[f] for f in fields):
            return
        new = copy.deepcopy(obj)
        new["metadata"]["labels"] = want["metadata"]["labels"]
        new["metadata"]["resourceVersion"] = str(current.revision)
        for f in fields:
            new[f] = want[f]
        await self.registry.update(rt, SERVICE_NAMESPACE, name, new)

    async def _write_target_port(self, servers: list[Server]) -> None:
        """The Service's ``https`` port targets the servers' port when they all share one (kube's
        reconcilePorts); with several ports no single targetPort is true, so it is left alone."""
        ports = {port for _, port in servers}
        if len(ports) != 1:
            return
        [port] = ports
        current = self.registry.cache.get(SERVICES.key, SERVICE_NAMESPACE, SERVICE_NAME)
        if current is None:
            return
        svc = copy.deepcopy(current.obj)
        changed = False
        for p in (svc.get("spec") or {}).get("ports") or []:
            if p.get("name") == PORT_NAME and p.get("targetPort") != port:
                p["targetPort"] = port
                changed = True
        if changed:
            svc["metadata"]["resourceVersion"] = str(current.revision)
            await self.registry.update(SERVICES, SERVICE_NAMESPACE, SERVICE_NAME, svc)

    async def _write_endpoints(self, want: dict[str, Any]) -> None:
        await self._write(ENDPOINTS.key, want, ("subsets",))

    async def _write_slices(self, wanted: list[dict[str, Any]]) -> None:
        names = {s["metadata"]["name"] for s in wanted}
        for want in wanted:
            await self._write(SLICES.key, want, ("addressType", "endpoints", "ports"))
        # Other slices labelled for the kubernetes Service: ports no server listens on any more.
        entries = self.registry.cache.select(SLICES.key, self.registry.filter(SLICES, SERVICE_NAMESPACE, None,
                                                                              None))[0]
        for entry in entries:
            meta = entry.obj.get("metadata") or {}
            if (meta.get("labels") or {}).get(LABEL_SERVICE_NAME) == SERVICE_NAME and meta.get("name") not in names:
                with contextlib.suppress(StatusError):
                    await self.registry.delete(SLICES, SERVICE_NAMESPACE, str(meta["name"]),
                                               {"preconditions": {"resourceVersion": str(entry.revision)}})


__all__ = ["SelfEndpoints", "Timing", "advertise_address", "desired_endpoints", "desired_slices", "lease_name",
           "lease_server"]
