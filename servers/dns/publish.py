"""The cluster DNS server keeps ``kube-system/kube-dns``'s Endpoints and EndpointSlice itself.

Why: in a cluster, kube-dns selects CoreDNS Pods and the endpoints controller lists them; kubelite's
DNS server is a process, not a Pod, so nothing would list it and the Service would have no endpoints
(``kubectl cluster-info`` links to it, the service proxy and in-cluster clients reach DNS through it).
As kube-apiserver does for ``default/kubernetes``, the server behind the Service writes them: the
bootstrap makes kube-dns a Service without a selector, so the endpoints controller leaves it alone.

Invariants: the objects name this server's own address and ports (``dns`` UDP, ``dns-tcp`` TCP);
they are written only when they differ from what is stored; a kube-dns that has a selector (a data
dir from before, or one a user changed) belongs to the endpoints controller and is never written;
a clean stop withdraws the address. A killed server's address stays until its successor rewrites it
(``kubelite up`` restarts it at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import ipaddress
import logging
from typing import Any

from apimachinery import selectorless
from apimachinery.labels import LABEL_MANAGED_BY, LABEL_SERVICE_NAME, LABEL_SKIP_MIRROR
from apimachinery.resources import BY_KEY, ResourceType
from kubeclient import errors
from kubeclient.client import Client

log = logging.getLogger("kubelite.dns.publish")

NAMESPACE = "kube-system"
SERVICE = "kube-dns"
MANAGED_BY = "dns.kubelite.io"
SERVICES, ENDPOINTS, SLICES = BY_KEY["services"], BY_KEY["endpoints"], BY_KEY["endpointslices.discovery.k8s.io"]


def advertised(bind: str) -> str:
    """Where clients reach a server bound to ``bind``: the address itself, loopback for a wildcard."""
    try:
        ip = ipaddress.ip_address(bind)
    except ValueError:
        return "127.0.0.1"
    return "127.0.0.1" if ip.is_unspecified else str(ip)


def desired(address: str | None, port: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """kube-dns's Endpoints and EndpointSlice with ``address`` serving DNS on ``port`` (None: withdrawn)."""
    ports = [{"name": "dns", "port": port, "protocol": "UDP"}, {"name": "dns-tcp", "port": port, "protocol": "TCP"}]
    group = (ports, [address] if address else [])
    return (selectorless.endpoints(NAMESPACE, SERVICE, [group], labels={LABEL_SKIP_MIRROR: "true"}),
            selectorless.endpoint_slice(NAMESPACE, SERVICE, group,
                                        labels={LABEL_SERVICE_NAME: SERVICE, LABEL_MANAGED_BY: MANAGED_BY}))


def differs(stored: dict[str, Any], want: dict[str, Any], fields: tuple[str, ...]) -> bool:
    labels = (stored.get("metadata") or {}).get("labels") or {}
    return labels != want["metadata"]["labels"] or any(stored.get(f) != want[f] for f in fields)


class KubeDnsEndpoints:
    """Publishes one DNS server's address in kube-dns's Endpoints and EndpointSlice."""

    def __init__(self, client: Client, *, bind: str, port: int, interval: float = 10.0) -> None:
        self.client = client
        self.address = advertised(bind)
        self.port = port
        self.interval = interval
        self._told_selector = False

    async def run(self) -> None:
        """Reconcile now and every ``interval`` (a deleted or edited object comes back); runs until cancelled."""
        while True:
            try:
                await self.reconcile(self.address)
            except errors.ClientError as e:  # a conflict with another writer, or an API hiccup: next round
                log.warning("kube-dns endpoints: %s (retrying in %.0fs)", e, self.interval)
            await asyncio.sleep(self.interval)

    async def withdraw(self) -> None:
        """On a clean stop: kube-dns lists no address (best effort; the server is going away anyway)."""
        with contextlib.suppress(errors.ClientError):
            await self.reconcile(None)

    async def reconcile(self, address: str | None) -> None:
        try:
            svc = await self.client.get(SERVICES, SERVICE, namespace=NAMESPACE)
        except errors.NotFound:
            return
        if (svc.get("spec") or {}).get("selector"):
            if not self._told_selector:
                log.info("kube-dns endpoints: %s/%s has a selector, so the endpoints controller keeps its "
                         "endpoints; not publishing this server", NAMESPACE, SERVICE)
                self._told_selector = True
            return
        want_ep, want_slice = desired(address, self.port)
        await self._write(ENDPOINTS, want_ep, ("subsets",))
        await self._write(SLICES, want_slice, ("addressType", "endpoints", "ports"))

    async def _write(self, rt: ResourceType, want: dict[str, Any], fields: tuple[str, ...]) -> None:
        try:
            stored = await self.client.get(rt, SERVICE, namespace=NAMESPACE)
        except errors.NotFound:
            await self.client.create(rt, want, namespace=NAMESPACE)
            return
        if not differs(stored, want, fields):
            return
        new = copy.deepcopy(stored)
        new["metadata"]["labels"] = want["metadata"]["labels"]
        for f in fields:
            new[f] = want[f]
        await self.client.update(rt, new)  # stored resourceVersion: a concurrent writer gets 409
