"""The nodeport controller: gives NodePort and LoadBalancer Services their node ports, and takes them back.

Why a controller: as for ClusterIPs (see controllers/ipam.py), kubelite
allocates outside the API server. The ledger is one kubelite.io/v1
PortAllocation per (protocol, port), named ``tcp-30080``, with
``spec.parentRef`` to the Service; the API server writes it in the same
transaction as the Service write that claims the port, or refuses the write
(``provided port is already allocated``), so two allocators can never hand
one port to two Services.

Rules (kube-apiserver's initNodePorts and portallocator repair):
- the range is the API server's --service-node-port-range, read from the
  ``kubelite.io/service-node-port-range`` annotation of the ``kubernetes``
  ServiceCIDR (default 30000-32767);
- dynamic allocation uses the upper band first (KEP-3668); a port number is
  chosen only when no protocol holds it, like Kubernetes' protocol-blind
  bitmap;
- one node port per service port number (53/UDP and 53/TCP share one), for
  NodePort and LoadBalancer Services (not when allocateLoadBalancerNodePorts
  is false); a healthCheckNodePort for LoadBalancer + externalTrafficPolicy
  Local;
- switching to ClusterIP/ExternalName or deleting the Service releases its
  entries; a full range is an Event and a retry when a port is released.
"""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

from apimachinery import ledger
from apimachinery.resources import BY_KEY
from controllers.allocation import (
    NODE_PORT_TYPES,
    PortRange,
    claimed_node_ports,
    needs_health_check_port,
    next_free,
    node_port_needs,
    parent_key,
    svc_type,
)
from controllers.ledger import FULL_RETRY, MAX_ATTEMPTS, LedgerController, ledger_parser, run_allocator
from controllers.runtime.controller import RequeueAfter
from controllers.runtime.events import WARNING
from controllers.runtime.informer import object_key
from kubeclient import errors
from kubeclient.client import Client

PORTALLOCATIONS = BY_KEY["portallocations.kubelite.io"]
NODE_PORT_RANGE_ANNOTATION = "kubelite.io/service-node-port-range"
DEFAULT_NODE_PORT_RANGE = "30000-32767"

Obj = dict[str, Any]


def port_allocation_object(name: str, key: str) -> Obj:
    """The PortAllocation ledger entry ``name`` (``tcp-30080``) for the Service ``key``."""
    parsed = ledger.parse_port_allocation_name(name)
    if parsed is None:
        raise ValueError(f"not a port ledger name: {name!r}")
    ns, _, svc = key.partition("/")
    return ledger.port_allocation_object(*parsed, namespace=ns, name=svc)


def _numbers(svc: Obj) -> list[str]:
    return sorted({str(p) for _, p in filter(None, map(ledger.parse_port_allocation_name,
                                                         claimed_node_ports(svc.get("spec") or {})))})


class NodePortController(LedgerController):
    """Reconciles ``ns/name`` Service keys against the PortAllocation ledger."""

    name = "nodeport"
    ledger_rt = PORTALLOCATIONS

    def __init__(self, client: Client, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self.services.cache.add_index("nodePort", _numbers)
        self.ledger.cache.add_index("number", lambda o: [str((o.get("spec") or {}).get("port") or "")])

    # ---- ledger contract -----------------------------------------------------

    def refused_here(self, refusal: ledger.Refusal) -> bool:
        """The ledger refused a node port (taken, or outside the range)."""
        return refusal.port

    def claimed(self, svc: Obj) -> set[str]:
        return claimed_node_ports(svc.get("spec") or {})

    def ledger_object(self, name: str, key: str) -> Obj:
        return port_allocation_object(name, key)

    def entry_in_range(self, name: str) -> bool:
        parsed = ledger.parse_port_allocation_name(name)
        return parsed is not None and self.port_range().contains(parsed[1])

    def not_allocated_event(self, name: str) -> tuple[str, str]:
        parsed = ledger.parse_port_allocation_name(name)
        return "PortNotAllocated", f"Port {parsed[1] if parsed else name} is not allocated; repairing"

    # ---- range and choice ------------------------------------------------------

    def port_range(self) -> PortRange:
        cidr = self.cidrs.cache.get(None, "kubernetes")
        text = ((cidr or {}).get("metadata") or {}).get("annotations", {}).get(NODE_PORT_RANGE_ANNOTATION)
        try:
            return PortRange.parse(str(text or DEFAULT_NODE_PORT_RANGE))
        except ValueError:
            self.log.warning("invalid %s annotation %r; using %s", NODE_PORT_RANGE_ANNOTATION, text,
                             DEFAULT_NODE_PORT_RANGE)
            return PortRange.parse(DEFAULT_NODE_PORT_RANGE)

    def taken(self, port: int, key: str) -> bool:
        """Held by any protocol in the ledger, claimed by another Service, being tried, or refused."""
        if port in self.inflight or self.refused(port) or self.ledger.cache.by_index("number", str(port)):
            return True
        return any(object_key(o) != key for o in self.services.cache.by_index("nodePort", str(port)))

    def pick(self, key: str, rng: PortRange, exclude: set[int]) -> int | None:
        found = next_free(rng.candidates(self.rng), lambda p: p in exclude or self.taken(p, key))
        return None if found is None else int(found)

    # ---- allocation --------------------------------------------------------------

    async def allocate(self, key: str, svc: Obj) -> None:
        """One write per call: the service ports first, then (next reconcile) the health check port."""
        spec = svc.get("spec") or {}
        needs = node_port_needs(spec)
        wants_hc = needs_health_check_port(spec) and not spec.get("healthCheckNodePort")
        if svc_type(spec) not in NODE_PORT_TYPES or not (needs or wants_hc):
            self.waiting.discard(key)
            return
        rng = self.port_range()
        expect = {path: spec.get(field) for path, field in (
            ("/spec/type", "type"), ("/spec/ports", "ports"),
            ("/spec/allocateLoadBalancerNodePorts", "allocateLoadBalancerNodePorts"),
            ("/spec/externalTrafficPolicy", "externalTrafficPolicy"),
            ("/spec/healthCheckNodePort", "healthCheckNodePort"))}
        for _ in range(MAX_ATTEMPTS):
            ports = [dict(p) for p in spec.get("ports") or []]
            held = {int(p["nodePort"]) for p in ports if p.get("nodePort")}
            chosen: list[int] = []
            changes: dict[str, Any] = {}
            if needs:
                for need in needs:
                    port = need.node_port or self.pick(key, rng, held | set(chosen))
                    if port is None:
                        await self._full(key, svc)
                    for i in need.indexes:
                        ports[i]["nodePort"] = port
                    if not need.node_port:
                        chosen.append(port)
                changes["/spec/ports"] = ports
            else:  # separate write: a refused health check port cannot hold the service ports back
                hc = self.pick(key, rng, held)
                if hc is None:
                    await self._full(key, svc)
                chosen.append(hc)
                changes["/spec/healthCheckNodePort"] = hc
            try:
                written = await self.claim(key, svc, chosen=chosen, expect=expect, set_=changes)
            except errors.NotFound:
                return
            if written is None:
                continue
            what = "health check node port" if "/spec/healthCheckNodePort" in changes else "node ports"
            self.log.info("allocated %s %s to Service %s", what, ",".join(map(str, chosen)), key)
            return
        raise RequeueAfter(1.0, "every chosen node port was taken meanwhile")

    async def _full(self, key: str, svc: Obj) -> NoReturn:
        self.waiting.add(key)
        await self.recorder.event(svc, WARNING, "NodePortAllocationFailed",
                                  "failed to allocate a nodePort: range is full")
        raise RequeueAfter(FULL_RETRY, "node port range is full")

    # ---- repair ----------------------------------------------------------------

    async def repair_service(self, key: str, svc: Obj) -> None:
        spec = svc.get("spec") or {}
        if svc_type(spec) not in NODE_PORT_TYPES:
            return
        if node_port_needs(spec) or (needs_health_check_port(spec) and not spec.get("healthCheckNodePort")):
            self.queue.add(key)
        rng = self.port_range()
        for name in sorted(self.claimed(svc)):
            parsed = ledger.parse_port_allocation_name(name)
            if parsed is None:
                continue
            port = parsed[1]
            if not rng.contains(port):
                await self.recorder.event(svc, WARNING, "PortOutOfRange",
                                          f"Port {port} is not within the port range {rng}; please recreate service")
                continue
            entry = self.ledger.cache.get(None, ledger.port_allocation_name(*parsed))
            if entry is None:
                self.queue.add(key)
            elif parent_key(entry) != key:
                await self.recorder.event(svc, WARNING, "PortAlreadyAllocated",
                                          f"Port {port} was assigned to multiple services; please recreate service")


def build_nodeport_parser() -> argparse.ArgumentParser:
    return ledger_parser("nodeport", "Allocate node ports to NodePort/LoadBalancer Services (PortAllocation ledger).", ledger_kind="PortAllocation")


async def main(argv: list[str]) -> int:
    """``kubelite controller nodeport [flags]``: returns the process exit code."""
    return await run_allocator("nodeport", argv, NodePortController, build_nodeport_parser())
