"""The proxy's data plane: listeners on service addresses and the connections they forward.

Why user space: kubelite must not touch the host's iptables, so instead of
DNAT rules each service address is a listening socket, as in kube-proxy's
old userspace mode. Everything here is on loopback: a frontend whose
address is not in 127.0.0.0/8 is never bound and an endpoint outside it is
never dialled.

Frontends of a service port (only while it has usable endpoints; with none
nothing listens, so clients are refused, as kube-proxy's REJECT does):
- ``cluster``: clusterIP:port;
- ``nodeport``: this node's InternalIP:nodePort;
- ``loadbalancer``/``external``: every ingress IP / externalIP at the port;
  with externalTrafficPolicy Local only a node with local endpoints serves
  it (MetalLB's layer-2 announcement rule);
- ``healthcheck``: healthCheckNodePort on the node IP, answering kube-proxy's
  JSON with 200 when the node has local endpoints, else 503.
All proxies run on one host and share loopback: a cluster, load-balancer
or external address can be bound by one proxy at a time; the others keep
trying every ``BIND_RETRY`` seconds and take over when its owner stops.

Choosing an endpoint (kube-proxy's traffic policies, CategorizeEndpoints):
- ClusterIP traffic uses the cluster endpoints, or with
  internalTrafficPolicy Local the endpoints local to the client's node,
  where the client's node is the one whose podCIDR or InternalIP holds the
  source address (else this proxy's node);
- NodePort/LB/external traffic uses the cluster endpoints, or with
  externalTrafficPolicy Local this node's endpoints; a client whose address
  is a Pod IP (inside ``cluster_cidr``) is short-circuited to the cluster
  endpoints, as kube-proxy does. Other clients count as external: on one
  host every address is "local", so kube-proxy's src-type LOCAL shortcut
  would make Local meaningless;
- ready endpoints only, serving terminating ones when none is ready: a
  terminating endpoint gets no new connections, established ones drain;
- round robin; sessionAffinity ClientIP pins a client IP to its endpoint
  while it keeps connecting within the timeout (kube-proxy's ``recent``);
- a refused or timed-out dial moves on to the next endpoint (as the
  userspace proxier did); when every one failed the client gets a reset.

Source addresses: traffic kube-proxy would masquerade (external traffic
with policy Cluster, ClusterIP traffic from outside ``cluster_cidr``, a
Pod reaching itself) leaves from the node IP; otherwise the upstream
socket is bound to the client's own address, so the Pod sees the real
client, which is what externalTrafficPolicy Local promises.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import socket
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from agents.proxy.servicemap import Categorized, Endpoint, ServicePort, categorize

log = logging.getLogger("agents.proxy.dataplane")

CONNECT_TIMEOUT = 1.0
BIND_RETRY = 0.2
UDP_IDLE = 30.0
IP_BIND_ADDRESS_NO_PORT = 24  # linux/in.h: let connect() pick the port, so 4-tuples may share it


def is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Frontend:
    ip: str
    port: int
    protocol: str
    kind: str

    @property
    def shared(self) -> bool:
        """Every proxy wants it; the first to bind it serves."""
        return self.kind in ("cluster", "loadbalancer", "external")

    def __str__(self) -> str:
        return f"{self.kind} {self.ip}:{self.port}/{self.protocol}"


class Route:
    """A service port as one frontend sees it; categorizations are cached per node."""

    def __init__(self, sp: ServicePort, kind: str, node_name: str) -> None:
        self.sp = sp
        self.kind = kind
        self.node_name = node_name
        self._cats: dict[str, Categorized] = {}

    def cat(self, node: str) -> Categorized:
        c = self._cats.get(node)
        if c is None:
            c = self._cats[node] = categorize(self.sp, node)
        return c

    def cluster_endpoints(self) -> tuple[Endpoint, ...]:
        c = self.cat(self.node_name).cluster
        if c or self.sp.uses_cluster_endpoints:
            return c
        ready = tuple(e for e in self.sp.endpoints if e.ready)
        return ready or tuple(e for e in self.sp.endpoints if e.serving and e.terminating)


def wanted(sp: ServicePort, *, node_name: str, node_ip: str) -> list[tuple[Frontend, Route]]:
    """The frontends this node's proxy should serve for ``sp``."""
    proto = sp.protocol.upper()
    out: list[tuple[Frontend, Route]] = []
    if sp.health_check_node_port and node_ip:
        out.append((Frontend(node_ip, sp.health_check_node_port, "TCP", "healthcheck"),
                    Route(sp, "healthcheck", node_name)))
    if proto not in ("TCP", "UDP"):
        return out
    cat = categorize(sp, node_name)
    if not cat.has_any:
        return out
    out.append((Frontend(sp.cluster_ip, sp.port, proto, "cluster"), Route(sp, "cluster", node_name)))
    if sp.node_port and node_ip:
        out.append((Frontend(node_ip, sp.node_port, proto, "nodeport"), Route(sp, "nodeport", node_name)))
    serves_external = not sp.external_local or bool(cat.local)
    if serves_external:
        for ip in sp.lb_ips:
            out.append((Frontend(ip, sp.port, proto, "loadbalancer"), Route(sp, "loadbalancer", node_name)))
        for ip in sp.external_ips:
            out.append((Frontend(ip, sp.port, proto, "external"), Route(sp, "external", node_name)))
    return out


@dataclass
class Counters:
    """What the data plane did; ``main`` exports these as Prometheus metrics."""

    accepted: int = 0
    forwarded: int = 0
    retried: int = 0
    rejected: int = 0
    failed: int = 0
    udp_sessions: int = 0


class _Half(asyncio.Protocol):
    """One side of a relayed TCP connection; writes what it reads to its peer, with flow control."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: _Half | None = None
        self.eof = False
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.peer is not None and self.peer.transport is not None and not self.peer.closed:
            self.peer.transport.write(data)

    def eof_received(self) -> bool:
        self.eof = True
        peer = self.peer
        if peer is None or peer.transport is None or peer.closed:
            return False
        if peer.transport.can_write_eof():
            peer.transport.write_eof()
        if peer.eof:
            peer.transport.close()
            return False
        return True

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        peer = self.peer
        if peer is not None and peer.transport is not None and not peer.closed:
            if exc is not None:
                peer.transport.abort()
            else:
                peer.transport.close()


def _reset(transport: asyncio.BaseTransport) -> None:
    """Close with RST (SO_LINGER 0), what a client of a rejecting service sees."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()  # type: ignore[attr-defined]


class _Inbound(_Half):
    def __init__(self, dp: Dataplane, listener: _Listener) -> None:
        super().__init__()
        self.dp = dp
        self.listener = listener

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert self.transport is not None
        self.dp.counters.accepted += 1
        peer = transport.get_extra_info("peername")
        client = str(peer[0]) if isinstance(peer, tuple) else ""
        plan = self.dp.plan(self.listener.route, client)
        if not plan:
            self.dp.counters.rejected += 1
            _reset(transport)
            return
        self.transport.pause_reading()
        task = asyncio.get_running_loop().create_task(self._dial(client, plan))
        self.dp.track(task)

    async def _dial(self, client: str, plan: list[tuple[Endpoint, str]]) -> None:
        assert self.transport is not None
        route = self.listener.route
        for attempt, (ep, source) in enumerate(plan):
            if self.closed:
                return
            try:
                out = await self.dp.dial(ep, source)
            except (OSError, TimeoutError) as e:
                self.dp.counters.retried += 1
                log.debug("%s: %s refused (%s); trying the next endpoint", route.sp.name_string, ep, e)
                continue
            if self.closed:
                if out.transport is not None:
                    out.transport.close()
                return
            self.peer, out.peer = out, self
            self.dp.remember(route, client, ep)
            self.dp.counters.forwarded += 1
            if attempt:
                log.info("%s: connection from %s went to %s after %d failed dial(s)", route.sp.name_string, client,
                         ep, attempt)
            self.transport.resume_reading()
            return
        self.dp.counters.failed += 1
        _reset(self.transport)


class _Outbound(_Half):
    pass


class _HealthCheck(asyncio.Protocol):
    """kube-proxy's per-service health check: 200 with local endpoints, 503 without."""

    def __init__(self, listener: _Listener, node_name: str) -> None:
        self.listener = listener
        self.node_name = node_name
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if b"\r\n\r\n" not in self.buf or self.transport is None:
            return
        sp = self.listener.route.sp
        local = len(categorize(sp, self.node_name).local)
        body = json.dumps({"service": {"namespace": sp.namespace, "name": sp.name}, "localEndpoints": local,
                           "serviceProxyHealthy": True}).encode()
        status = "200 OK" if local else "503 Service Unavailable"
        self.transport.write(f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nX-Content-Type-Options: "
                             f"nosniff\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        self.transport.close()


class _UdpSession(asyncio.DatagramProtocol):
    """One client address of a UDP frontend, talking to one endpoint (a conntrack entry, in effect)."""

    def __init__(self, front: _UdpFront, client: tuple[str, int], ep: Endpoint) -> None:
        self.front = front
        self.client = client
        self.ep = ep
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: list[bytes] = []
        self.last = time.monotonic()
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        for d in self.pending:
            self.transport.sendto(d)
        self.pending.clear()

    def send(self, data: bytes) -> None:
        self.last = time.monotonic()
        if self.transport is None:
            self.pending.append(data)
        else:
            self.transport.sendto(data)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.last = time.monotonic()
        if self.front.transport is not None:
            self.front.transport.sendto(data, self.client)

    def error_received(self, exc: Exception) -> None:
        self.close()  # e.g. ICMP port unreachable: the next datagram picks again

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class _UdpFront(asyncio.DatagramProtocol):
    def __init__(self, dp: Dataplane, listener: _Listener) -> None:
        self.dp = dp
        self.listener = listener
        self.transport: asyncio.DatagramTransport | None = None
        self.sessions: dict[tuple[str, int], _UdpSession] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        client = (str(addr[0]), int(addr[1]))
        s = self.sessions.get(client)
        if s is None or s.closed:
            plan = self.dp.plan(self.listener.route, client[0])
            if not plan:
                self.dp.counters.rejected += 1
                return
            ep, source = plan[0]
            s = _UdpSession(self, client, ep)
            self.sessions[client] = s
            self.dp.counters.udp_sessions += 1
            self.dp.remember(self.listener.route, client[0], ep)
            loop = asyncio.get_running_loop()
            self.dp.track(loop.create_task(self._open(s, ep, source)))
        s.send(data)

    async def _open(self, s: _UdpSession, ep: Endpoint, source: str) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.create_datagram_endpoint(lambda: s, local_addr=(source, 0), remote_addr=(ep.ip, ep.port))
        except OSError as e:
            log.info("udp %s -> %s: %s", s.client, ep, e)
            s.close()

    def prune(self, usable: Iterable[Endpoint], *, idle: float = UDP_IDLE) -> None:
        """Drop sessions to endpoints no longer usable (conntrack cleanup) or idle too long."""
        keep = {str(e) for e in usable}
        now = time.monotonic()
        for client, s in list(self.sessions.items()):
            if s.closed or str(s.ep) not in keep or now - s.last > idle:
                s.close()
                del self.sessions[client]

    def close(self) -> None:
        for s in self.sessions.values():
            s.close()
        self.sessions.clear()
        if self.transport is not None:
            self.transport.close()


@dataclass
class _Listener:
    frontend: Frontend
    route: Route
    owner: str
    server: asyncio.AbstractServer | None = None
    udp: _UdpFront | None = None
    warned: bool = False

    @property
    def bound(self) -> bool:
        return self.server is not None or self.udp is not None

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        if self.udp is not None:
            self.udp.close()
            self.udp = None


@dataclass
class Dataplane:
    node_name: str
    node_ip: str
    cluster_cidr: str | None = None
    counters: Counters = field(default_factory=Counters)
    listeners: dict[Frontend, _Listener] = field(default_factory=dict)
    by_service: dict[str, set[Frontend]] = field(default_factory=dict)
    node_cidrs: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]] = field(default_factory=list)
    node_ips: dict[str, str] = field(default_factory=dict)
    on_bound: Callable[[Frontend, bool], None] = field(default=lambda _fe, _up: None)
    _rr: dict[str, int] = field(default_factory=dict)
    _affinity: dict[tuple[str, str], tuple[Endpoint, float]] = field(default_factory=dict)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    _warned: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._cluster_net = ipaddress.ip_network(self.cluster_cidr, strict=False) if self.cluster_cidr else None

    # ---- bookkeeping ---------------------------------------------------------

    def track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def set_nodes(self, nodes: Iterable[tuple[str, str, str]]) -> None:
        """(name, InternalIP, podCIDR) of every Node: who a client address belongs to."""
        cidrs: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]] = []
        ips: dict[str, str] = {}
        for name, ip, cidr in nodes:
            if ip:
                ips[ip] = name
            if cidr:
                with contextlib.suppress(ValueError):
                    cidrs.append((ipaddress.ip_network(cidr, strict=False), name))
        self.node_cidrs, self.node_ips = cidrs, ips

    def node_of(self, ip: str) -> str | None:
        if ip in self.node_ips:
            return self.node_ips[ip]
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None
        for net, name in self.node_cidrs:
            if addr in net:
                return name
        return None

    def from_pod(self, ip: str) -> bool:
        if self._cluster_net is None:
            return False
        try:
            return ipaddress.ip_address(ip) in self._cluster_net
        except ValueError:
            return False

    # ---- choosing endpoints ---------------------------------------------------

    def plan(self, route: Route, client: str) -> list[tuple[Endpoint, str]]:
        """The endpoints to try for one new connection, in order, each with the source address to use."""
        sp = route.sp
        pod_client = self.from_pod(client)
        if route.kind == "cluster":
            if sp.internal_local:
                node = self.node_of(client) or self.node_name
                eps, rr_key = route.cat(node).local, f"{sp.name_string}/{sp.protocol}/local:{node}"
            else:
                eps, rr_key = route.cat(self.node_name).cluster, f"{sp.name_string}/{sp.protocol}"
            masquerade = self._cluster_net is not None and not pod_client
        elif sp.external_local and not pod_client:
            eps, rr_key = route.cat(self.node_name).local, f"{sp.name_string}/{sp.protocol}/local:{self.node_name}"
            masquerade = False
        else:
            eps, rr_key = route.cluster_endpoints(), f"{sp.name_string}/{sp.protocol}"
            masquerade = not sp.external_local
        usable = [e for e in eps if self._dialable(e)]
        if not usable:
            return []
        start = self._rr.get(rr_key, 0) % len(usable)
        self._rr[rr_key] = start + 1
        ordered = usable[start:] + usable[:start]
        if sp.affinity_timeout is not None:
            pinned = self._affinity.get((f"{sp.name_string}/{sp.protocol}", client))
            if pinned is not None and pinned[1] > time.monotonic() and pinned[0] in ordered:
                ordered.remove(pinned[0])
                ordered.insert(0, pinned[0])
        return [(e, self.node_ip if (masquerade or e.ip == client or not client) else client) for e in ordered]

    def remember(self, route: Route, client: str, ep: Endpoint) -> None:
        sp = route.sp
        if sp.affinity_timeout is not None:
            self._affinity[(f"{sp.name_string}/{sp.protocol}", client)] = (ep, time.monotonic() + sp.affinity_timeout)

    def _dialable(self, ep: Endpoint) -> bool:
        if is_loopback(ep.ip):
            return True
        if ep.ip not in self._warned:
            self._warned.add(ep.ip)
            log.warning("endpoint %s is not a loopback address: kubelite never sends traffic there", ep.ip)
        return False

    async def dial(self, ep: Endpoint, source: str) -> _Outbound:
        """Connect to ``ep`` from ``source`` (falling back to any local address)."""
        if not is_loopback(ep.ip):
            raise OSError(f"{ep.ip} is not a loopback address")
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            if source and is_loopback(source):
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                    sock.bind((source, 0))
            await asyncio.wait_for(loop.sock_connect(sock, (ep.ip, ep.port)), CONNECT_TIMEOUT)
            _transport, proto = await loop.create_connection(_Outbound, sock=sock)
        except BaseException:
            sock.close()
            raise
        return proto

    # ---- frontends ----------------------------------------------------------

    async def update(self, key: str, ports: Iterable[ServicePort]) -> None:
        """Make ``key``'s frontends and routes match ``ports`` (applies at once)."""
        desired: dict[Frontend, Route] = {}
        for sp in ports:
            for fe, route in wanted(sp, node_name=self.node_name, node_ip=self.node_ip):
                if not is_loopback(fe.ip):
                    if fe.ip not in self._warned:
                        self._warned.add(fe.ip)
                        log.warning("%s: %s is not a loopback address; not serving it", sp.name_string, fe)
                    continue
                desired.setdefault(fe, route)
        for fe in self.by_service.get(key, set()) - desired.keys():
            listener = self.listeners.get(fe)
            if listener is not None and listener.owner == key:
                self.listeners.pop(fe)
                was_bound = listener.bound
                listener.close()
                if was_bound:
                    log.info("%s: stopped serving %s", key, fe)
                    self.on_bound(fe, False)
        for fe, route in desired.items():
            listener = self.listeners.get(fe)
            if listener is None:
                listener = self.listeners[fe] = _Listener(fe, route, key)
                await self._bind(listener)
            else:
                listener.route, listener.owner = route, key
                if listener.udp is not None:
                    listener.udp.prune(self._usable_somewhere(route))
        if desired:
            self.by_service[key] = set(desired)
        else:
            self.by_service.pop(key, None)

    def _usable_somewhere(self, route: Route) -> list[Endpoint]:
        sp = route.sp
        return [e for e in sp.endpoints if e.ready or (e.serving and e.terminating)]

    async def _bind(self, listener: _Listener) -> None:
        fe = listener.frontend
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if fe.protocol == "UDP" else socket.SOCK_STREAM)
        try:
            if fe.protocol != "UDP":  # on UDP, SO_REUSEADDR would let every proxy bind the same address
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((fe.ip, fe.port))
            sock.setblocking(False)
            if fe.protocol == "UDP":
                front = _UdpFront(self, listener)
                await loop.create_datagram_endpoint(lambda: front, sock=sock)
                listener.udp = front
            else:
                sock.listen(1024)
                if fe.kind == "healthcheck":
                    listener.server = await loop.create_server(lambda: _HealthCheck(listener, self.node_name),
                                                               sock=sock)
                else:
                    listener.server = await loop.create_server(lambda: _Inbound(self, listener), sock=sock)
        except OSError as e:
            sock.close()
            if not fe.shared and not listener.warned:
                listener.warned = True
                log.warning("cannot serve %s yet: %s; retrying", fe, e.strerror or e)
            return
        log.info("%s: serving %s", listener.owner, fe)
        self.on_bound(fe, True)

    async def retry_binds(self, period: float = BIND_RETRY) -> None:
        """Keep trying frontends another proxy (or process) holds; runs until cancelled."""
        while True:
            await asyncio.sleep(period)
            for listener in list(self.listeners.values()):
                if not listener.bound and self.listeners.get(listener.frontend) is listener:
                    await self._bind(listener)
            for listener in self.listeners.values():
                if listener.udp is not None:
                    listener.udp.prune(self._usable_somewhere(listener.route))

    def bound(self) -> list[Frontend]:
        return sorted((fe for fe, lst in self.listeners.items() if lst.bound), key=str)

    async def close(self) -> None:
        for listener in self.listeners.values():
            listener.close()
        self.listeners.clear()
        for t in list(self._tasks):
            t.cancel()
