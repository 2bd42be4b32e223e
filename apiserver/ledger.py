"""The allocation ledger: ClusterIPs and NodePorts as API objects, checked at admission.

Why: uniqueness must never rest on one process's memory. Every ClusterIP a
Service holds is a networking.k8s.io/v1 IPAddress named after the IP, every
NodePort a kubelite.io/v1 PortAllocation named ``<protocol>-<port>``, both
with ``spec.parentRef`` to the Service. A Service write that carries an IP
or port the ledger lacks creates the ledger object in the SAME transaction,
so the database's unique key is the final arbiter: two writers (users or
allocator replicas) can never both hold one address.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from apimachinery import errors, ledger
from apimachinery.errors import FieldError, go_repr
from apimachinery.resources import BY_KEY
from apiserver.storage.records import Op
from apiserver.watchcache import WatchCache

IPADDRESSES = BY_KEY["ipaddresses.networking.k8s.io"]
PORTS = BY_KEY["portallocations.kubelite.io"]
NODE_PORT_TYPES = ("NodePort", "LoadBalancer")


def parse_port_range(value: str) -> tuple[int, int]:
    lo, _, hi = value.partition("-")
    a, b = int(lo), int(hi or lo)
    if not (0 < a <= b <= 65535):
        raise ValueError(f"invalid port range {value!r}")
    return a, b


def _owner(svc: dict[str, Any]) -> tuple[str, str]:
    meta = svc.get("metadata") or {}
    return str(meta.get("namespace", "")), str(meta.get("name", ""))


class Ledger:
    """Checks a Service's IPs and ports against the ledger; returns the ops that reserve them."""

    def __init__(self, cache: WatchCache, *, node_port_range: str) -> None:
        self.cache = cache
        self.node_ports = parse_port_range(node_port_range)

    def cidrs(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        rc = self.cache.resources.get("servicecidrs.networking.k8s.io")
        out: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for e in (rc.items.values() if rc else ()):
            for c in (e.obj.get("spec") or {}).get("cidrs") or []:
                try:
                    out.append(ipaddress.ip_network(c, strict=False))
                except ValueError:
                    continue
        return out

    def _owner_ok(self, obj: dict[str, Any] | None, svc: dict[str, Any]) -> bool:
        if obj is None:
            return True
        return bool(((obj.get("spec") or {}).get("parentRef") or {}) == ledger.parent_ref(*_owner(svc)))

    def service_ops(self, svc: dict[str, Any]) -> list[Op]:
        """Ledger ops for ``svc``'s IPs and node ports; 422 (Kubernetes' messages) when taken or out of range."""
        spec = svc.get("spec") or {}
        meta = svc.get("metadata") or {}
        ops: list[Op] = []
        owner_ns, owner_name = _owner(svc)
        errs: list[FieldError] = []
        ips = [ip for ip in (spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else []))
               if ip and ip != "None"]
        if ips and spec.get("type") != "ExternalName":
            cidrs = self.cidrs()
            for ip in ips:
                try:
                    addr = ipaddress.ip_address(ip)
                except ValueError:
                    continue  # admission already reported it
                current = self.cache.get(IPADDRESSES.key, "", str(addr))
                if current is not None:
                    if not self._owner_ok(current.obj, svc):
                        errs.append(errors.invalid(ledger.CLUSTER_IPS_FIELD, ips,
                                                   ledger.ip_refusal_detail(ip, ledger.Reason.ALLOCATED)))
                    continue
                if cidrs and not any(addr in c for c in cidrs if c.version == addr.version):
                    rng = ",".join(str(c) for c in cidrs if c.version == addr.version) or str(cidrs[0])
                    errs.append(errors.invalid(
                        ledger.CLUSTER_IPS_FIELD, ips,
                        ledger.ip_refusal_detail(ip, ledger.Reason.OUT_OF_RANGE, valid_range=rng)))
                    continue
                ops.append(Op("ADDED", IPADDRESSES.key, "", str(addr),
                              ledger.ip_address_object(str(addr), namespace=owner_ns, name=owner_name)))
        if spec.get("type") in NODE_PORT_TYPES:
            lo, hi = self.node_ports
            wanted: list[tuple[str, str, int]] = []
            for i, p in enumerate(spec.get("ports") or []):
                if p.get("nodePort"):
                    wanted.append((f"spec.ports[{i}].nodePort", p.get("protocol") or "TCP", int(p["nodePort"])))
            if spec.get("healthCheckNodePort"):
                wanted.append((ledger.HEALTH_CHECK_FIELD, "TCP", int(spec["healthCheckNodePort"])))
            seen: set[str] = set()
            for field, proto, port in wanted:
                name = ledger.port_allocation_name(proto, port)
                if name in seen:
                    continue
                seen.add(name)
                current = self.cache.get(PORTS.key, "", name)
                if current is not None:
                    if not self._owner_ok(current.obj, svc):
                        errs.append(errors.invalid(field, port, ledger.port_refusal_detail(ledger.Reason.ALLOCATED)))
                    continue
                if not lo <= port <= hi:
                    errs.append(errors.invalid(
                        field, port, ledger.port_refusal_detail(ledger.Reason.OUT_OF_RANGE, valid_range=f"{lo}-{hi}")))
                    continue
                entry = ledger.port_allocation_object(proto, port, namespace=owner_ns, name=owner_name)
                ops.append(Op("ADDED", PORTS.key, "", name, entry))
        if errs:
            raise errors.invalid_object("Service", str(meta.get("name", "")), errs)
        return ops


__all__ = ["Ledger", "go_repr", "parse_port_range"]
