"""Pure arithmetic of ClusterIP and NodePort allocation (no I/O).

Why: which addresses and ports exist, which band is static, the order in
which free values are tried and what a Service needs are decisions the
controllers must get exactly like Kubernetes, and they are easiest to prove
with table tests when nothing here talks to the API.

From kube-apiserver:
- ClusterIP ranges (pkg/registry/core/service/ipallocator): usable
  addresses are network+1 .. broadcast-1 for IPv4 (.. broadcast for IPv6);
  KEP-3070 reserves the first ``min(max(16, size/16), 256)`` of them
  (``size`` = 2**host bits; 0 when size <= 16) as the static band users
  pick from. Dynamic allocation starts at a random address of the upper
  band, walks up with wrap-around, then tries the static band the same way.
- NodePort ranges (pkg/registry/core/service/portallocator): KEP-3668's
  static band is the bottom ``min(max(16, size/32), 128)`` ports (0 when
  size <= 16), with the same upper-then-lower order.
- kubelite reserves the 1st address for ``default/kubernetes`` and the 10th
  for ``kube-system/kube-dns``: dynamic allocation never hands them to
  anyone else.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from apimachinery.ledger import port_allocation_name

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddr = ipaddress.IPv4Address | ipaddress.IPv6Address

NODE_PORT_TYPES = ("NodePort", "LoadBalancer")
KUBERNETES_SERVICE = "default/kubernetes"
DNS_SERVICE = "kube-system/kube-dns"
# key of a Service -> index of its reserved address in the CIDR (network + n)
RESERVED_INDEXES: dict[str, int] = {KUBERNETES_SERVICE: 1, DNS_SERVICE: 10}


def ip_range_offset(cidr: IPNetwork) -> int:
    """KEP-3070 static band size: min(max(16, size/16), 256), 0 for tiny ranges."""
    size = cidr.num_addresses
    if size <= 16:
        return 0
    return min(max(16, size // 16), 256)


def port_range_offset(size: int) -> int:
    """KEP-3668 static band size: min(max(16, size/32), 128), 0 for tiny ranges."""
    if size <= 16:
        return 0
    return min(max(16, size // 32), 128)


def _walk(first: int, last: int, start: int) -> Iterator[int]:
    """first..last (inclusive), beginning at ``first + start`` and wrapping around."""
    n = last - first + 1
    if n <= 0:
        return
    start %= n
    for i in range(n):
        yield first + (start + i) % n


@dataclass(frozen=True)
class IPRange:
    """The usable addresses of one ServiceCIDR, as integers."""

    cidr: IPNetwork
    first: int
    last: int
    offset: int

    @classmethod
    def parse(cls, text: str) -> IPRange:
        net = ipaddress.ip_network(text, strict=False)
        base = int(net.network_address)
        first = base + 1
        last = int(net.broadcast_address) - (1 if net.version == 4 else 0)
        return cls(net, first, last, ip_range_offset(net))

    @property
    def family(self) -> str:
        return "IPv4" if self.cidr.version == 4 else "IPv6"

    @property
    def size(self) -> int:
        return max(0, self.last - self.first + 1)

    def contains(self, ip: str) -> bool:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return addr.version == self.cidr.version and self.first <= int(addr) <= self.last

    def address(self, n: int) -> str:
        """The n-th address of the CIDR (network + n), canonical text."""
        return str(ipaddress.ip_address(int(self.cidr.network_address) + n))

    def static_band(self) -> tuple[str, str] | None:
        if self.offset == 0:
            return None
        return self.address(1), self.address(self.offset)

    def reserved(self) -> dict[str, str]:
        """Service key -> its reserved address, for the reservations that fit in this range."""
        return {k: self.address(n) for k, n in RESERVED_INDEXES.items() if self.first + n - 1 <= self.last}

    def candidates(self, rng: random.Random) -> Iterator[str]:
        """Every usable address once: upper band from a random start, then the static band."""
        upper_first = self.first + self.offset
        upper_n = self.last - upper_first + 1
        if upper_n > 0:
            for v in _walk(upper_first, self.last, rng.randrange(upper_n)):
                yield str(ipaddress.ip_address(v))
        if self.offset:
            for v in _walk(self.first, upper_first - 1, rng.randrange(self.offset)):
                yield str(ipaddress.ip_address(v))


@dataclass(frozen=True)
class PortRange:
    """A NodePort range ``base..base+size-1``."""

    base: int
    size: int

    @classmethod
    def parse(cls, text: str) -> PortRange:
        """``30000-32767`` (or a single port), as --service-node-port-range."""
        lo, sep, hi = text.strip().partition("-")
        try:
            a, b = int(lo), int(hi) if sep else int(lo)
        except ValueError:
            raise ValueError(f"invalid port range {text!r}") from None
        if not 0 < a <= b <= 65535:
            raise ValueError(f"invalid port range {text!r}")
        return cls(a, b - a + 1)

    @property
    def last(self) -> int:
        return self.base + self.size - 1

    @property
    def offset(self) -> int:
        return port_range_offset(self.size)

    def __str__(self) -> str:
        return f"{self.base}-{self.last}"

    def contains(self, port: int) -> bool:
        return self.base <= port <= self.last

    def static_band(self) -> tuple[int, int] | None:
        return (self.base, self.base + self.offset - 1) if self.offset else None

    def candidates(self, rng: random.Random) -> Iterator[int]:
        """Every port once: upper band from a random start, then the static band."""
        upper_first = self.base + self.offset
        upper_n = self.last - upper_first + 1
        if upper_n > 0:
            yield from _walk(upper_first, self.last, rng.randrange(upper_n))
        if self.offset:
            yield from _walk(self.base, upper_first - 1, rng.randrange(self.offset))


def next_free(candidates: Iterator[Any], taken: Callable[[Any], bool]) -> Any | None:
    """The first candidate not taken, or None when the range is full."""
    for c in candidates:
        if not taken(c):
            return c
    return None


# ---- what a Service needs -------------------------------------------------------


def svc_type(spec: dict[str, Any]) -> str:
    return str(spec.get("type") or "ClusterIP")


def cluster_ips(spec: dict[str, Any]) -> list[str]:
    """The Service's allocated ClusterIPs (never "None")."""
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [str(ip) for ip in ips if ip and ip != "None"]


def needs_cluster_ip(spec: dict[str, Any]) -> bool:
    """True when the Service should hold ClusterIPs: not ExternalName, not headless."""
    return svc_type(spec) != "ExternalName" and spec.get("clusterIP") != "None"


def wanted_families(spec: dict[str, Any]) -> list[str]:
    fams = [str(f) for f in spec.get("ipFamilies") or []]
    return fams or ["IPv4"]


def needs_health_check_port(spec: dict[str, Any]) -> bool:
    return svc_type(spec) == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def allocates_node_ports(spec: dict[str, Any]) -> bool:
    """NodePort, and LoadBalancer unless allocateLoadBalancerNodePorts is false."""
    t = svc_type(spec)
    return t == "NodePort" or (t == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is not False)


@dataclass(frozen=True)
class PortNeed:
    """Service ports (by index) that share one node port: one service port number, its protocols."""

    port: int
    protocols: tuple[str, ...]
    indexes: tuple[int, ...]
    node_port: int = 0  # already assigned to one of them (shared by the rest)


def node_port_needs(spec: dict[str, Any]) -> list[PortNeed]:
    """Groups of ports still lacking a nodePort (kube-apiserver's initNodePorts, minus the allocation).

    Ports with the same ``port`` number share one nodePort (e.g. DNS on 53/UDP
    and 53/TCP); a group that already has one value gets it copied.
    """
    if svc_type(spec) not in NODE_PORT_TYPES or not allocates_node_ports(spec):
        return []
    groups: dict[int, list[int]] = {}
    ports = spec.get("ports") or []
    for i, p in enumerate(ports):
        groups.setdefault(int(p.get("port") or 0), []).append(i)
    out: list[PortNeed] = []
    for number, idxs in groups.items():
        missing = tuple(i for i in idxs if not ports[i].get("nodePort"))
        if not missing:
            continue
        existing = next((int(ports[i]["nodePort"]) for i in idxs if ports[i].get("nodePort")), 0)
        protos = tuple(sorted({str(ports[i].get("protocol") or "TCP") for i in idxs}))
        out.append(PortNeed(number, protos, missing, existing))
    return out


def claimed_node_ports(spec: dict[str, Any]) -> set[str]:
    """Ledger names of every node port a NodePort/LoadBalancer Service holds (ports + health check)."""
    if svc_type(spec) not in NODE_PORT_TYPES:
        return set()
    out = {port_allocation_name(str(p.get("protocol") or "TCP"), int(p["nodePort"]))
           for p in spec.get("ports") or [] if p.get("nodePort")}
    if spec.get("healthCheckNodePort"):
        out.add(port_allocation_name("TCP", int(spec["healthCheckNodePort"])))
    return out


# ---- ledger bookkeeping --------------------------------------------------------


def parent_key(ledger_obj: dict[str, Any]) -> str | None:
    """``ns/name`` of the Service a ledger object (IPAddress, PortAllocation) belongs to, if any."""
    ref = (ledger_obj.get("spec") or {}).get("parentRef") or {}
    if ref.get("group") or ref.get("resource") != "services" or not ref.get("name"):
        return None
    return f"{ref.get('namespace') or ''}/{ref['name']}"


def rv_int(value: str | None) -> int | None:
    """A resourceVersion as an integer, or None when it is not one (opaque to clients in general)."""
    try:
        return int(value or "")
    except ValueError:
        return None


def seen_through(view_rv: str | None, obj_rv: str | None) -> bool:
    """True when a watch positioned at ``view_rv`` has delivered everything up to ``obj_rv``.

    Why: before releasing a ledger object because the cached Service does not
    claim it, the Service cache must be at least as new as the ledger object,
    or a lagging cache would free an address a Service just took. Unknown
    (non-integer) versions answer False, the safe side.
    """
    a, b = rv_int(view_rv), rv_int(obj_rv)
    return a is not None and b is not None and a >= b
