"""answer(question, view): the Kubernetes DNS specification as a pure function.

Records (schema 1.1.0, shaped as CoreDNS's kubernetes plugin answers them):

- ``dns-version.<zone> TXT "1.1.0"``; SOA and NS at the apex, ``ns.dns.<zone>``
  A/AAAA = kube-system/kube-dns' ClusterIPs (else the server's own address).
- ``<svc>.<ns>.svc.<zone>``: A/AAAA = ClusterIPs; headless: one per ready
  endpoint, NXDOMAIN when none is ready; ExternalName: CNAME (chased while
  the target stays in the zone).  SRV on the bare name lists every port.
- ``_<port>._<proto>.<svc>.<ns>.svc.<zone> SRV``: target ``<svc>...`` for a
  ClusterIP Service, ``<hostname>.<svc>...`` per ready endpoint when headless.
- ``<hostname>.<svc>.<ns>.svc.<zone>`` A/AAAA for ready endpoints (hostname =
  the endpoint's ``hostname``, else its IP with dashes).
- PTR for ClusterIPs and ready endpoint IPs (in-addr.arpa and ip6.arpa).
- ``<a-b-c-d>.<ns>.pod.<zone>`` per the ``pods`` mode: disabled (NXDOMAIN),
  insecure (any IP in an existing namespace), verified (a Pod has that IP).

Negative answers: NXDOMAIN when the name does not exist, NODATA (NOERROR, no
answer) when it exists without the asked type; both carry the zone SOA in the
authority section.  Empty non-terminals (``svc.<zone>``, ``<ns>.svc.<zone>``,
``_tcp.<svc>...``) exist.  A name outside the zone, or a reverse name we hold
nothing for, is REFUSED with ``fallthrough`` set: the server forwards it when
an upstream is configured.  Until the view has synced, in-zone names get
SERVFAIL, never a false NXDOMAIN.

Every Response names the view keys it read (``depends_on``) so the server can
keep its precomputed wire form until one of them changes.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass, field
from typing import Any

import dns.exception
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.CNAME
import dns.rdtypes.ANY.NS
import dns.rdtypes.ANY.PTR
import dns.rdtypes.ANY.SOA
import dns.rdtypes.ANY.TXT
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA
import dns.rdtypes.IN.SRV
import dns.reversename
import dns.rrset

from servers.dns.view import SCHEMA_VERSION, ClusterView, Endpoint, Port, ServiceEntry

IN = dns.rdataclass.IN
A = dns.rdatatype.A
AAAA = dns.rdatatype.AAAA
SRV = dns.rdatatype.SRV
PTR = dns.rdatatype.PTR
CNAME = dns.rdatatype.CNAME
TXT = dns.rdatatype.TXT
NS = dns.rdatatype.NS
SOA = dns.rdatatype.SOA
ANY = dns.rdatatype.ANY

VERSION_TTL = 28800  # CoreDNS's TTL for dns-version, the specification's example
MAX_CHASE = 8
REVERSE_ZONES = (dns.name.from_text("in-addr.arpa."), dns.name.from_text("ip6.arpa."))
NS_LABEL = dns.name.Name((b"ns", b"dns"))

Question = tuple[dns.name.Name | str, dns.rdatatype.RdataType | int | str]


@dataclass(frozen=True)
class Response:
    """What to answer: rcode and sections, plus how the server may treat it."""

    rcode: dns.rcode.Rcode
    answer: tuple[dns.rrset.RRset, ...] = ()
    authority: tuple[dns.rrset.RRset, ...] = ()
    additional: tuple[dns.rrset.RRset, ...] = ()
    authoritative: bool = True
    # Not ours to answer: forward to the upstream if there is one.
    fallthrough: bool = False
    # View keys this response was computed from (see view.py).
    depends_on: frozenset[str] = frozenset()


@dataclass
class _Node:
    """Everything at one owner name: its RRsets, their glue, and what was read."""

    exists: bool = False
    rdatas: dict[int, list[dns.rdata.Rdata]] = field(default_factory=dict)
    additional: dict[int, list[dns.rrset.RRset]] = field(default_factory=dict)
    ttl: int | None = None
    deps: set[str] = field(default_factory=set)

    def add(self, rdtype: int, rd: dns.rdata.Rdata) -> None:
        self.exists = True
        self.rdatas.setdefault(rdtype, []).append(rd)


def _rrset(name: dns.name.Name, ttl: int, rdatas: list[dns.rdata.Rdata]) -> dns.rrset.RRset:
    rrset = dns.rrset.RRset(name, IN, rdatas[0].rdtype)
    rrset.update_ttl(ttl)
    for rd in rdatas:
        rrset.add(rd)
    return rrset


def _make(cls: Any, rdtype: int, *args: Any) -> dns.rdata.Rdata:
    """Construct an rdata directly (dnspython's classes are untyped; from_text is slow)."""
    rd: dns.rdata.Rdata = cls(IN, rdtype, *args)
    return rd


def _address(ip: str) -> tuple[int, dns.rdata.Rdata]:
    if ":" in ip:
        return AAAA, _make(dns.rdtypes.IN.AAAA.AAAA, AAAA, ip)
    return A, _make(dns.rdtypes.IN.A.A, A, ip)


def _addresses(name: dns.name.Name, ips: list[str], ttl: int) -> list[dns.rrset.RRset]:
    """A then AAAA RRsets of ``name`` for ``ips``."""
    by_type: dict[int, list[dns.rdata.Rdata]] = {}
    for ip in ips:
        rdtype, rd = _address(ip)
        by_type.setdefault(rdtype, []).append(rd)
    return [_rrset(name, ttl, by_type[t]) for t in (A, AAAA) if t in by_type]


def _soa(view: ClusterView) -> dns.rdata.Rdata:
    """CoreDNS's SOA: ns.dns.<zone> hostmaster.<zone> <serial> 7200 1800 86400 <ttl>."""
    rd: dns.rdata.Rdata = _soa_rrset(view.zone, view.zone, view.serial, view.ttl)[0]
    return rd


def soa_rrset(owner: dns.name.Name, view: ClusterView) -> dns.rrset.RRset:
    """The SOA of ``owner`` (the cluster zone or a reverse zone) for negative answers.

    Shared between responses (they never mutate RRsets): every negative answer
    carries it, and building it is most of a negative answer's cost.
    """
    return _soa_rrset(owner, view.zone, view.serial, view.ttl)


@functools.lru_cache(maxsize=32)
def _soa_rrset(owner: dns.name.Name, zone: dns.name.Name, serial: int, ttl: int) -> dns.rrset.RRset:
    rd = _make(dns.rdtypes.ANY.SOA.SOA, SOA, NS_LABEL.concatenate(zone),
               dns.name.Name((b"hostmaster",)).concatenate(zone), serial, 7200, 1800, 86400, ttl)
    return _rrset(owner, ttl, [rd])


def _srv(records: list[tuple[int, dns.name.Name]]) -> list[dns.rdata.Rdata]:
    """SRV rdatas with CoreDNS's weights: priority 0, weight 100/n."""
    unique = list(dict.fromkeys(records))
    weight = 100 // len(unique) if unique else 0
    return [_make(dns.rdtypes.IN.SRV.SRV, SRV, 0, weight, port, target) for port, target in unique]


def _strip(label: str) -> str:
    return label[1:] if label.startswith("_") else label


# ---- name -> node -------------------------------------------------------------


def _service_node(svc: ServiceEntry, view: ClusterView, node: _Node) -> None:
    """Records at ``<svc>.<ns>.svc.<zone>``."""
    name = _svc_name(svc, view)
    if svc.kind == "ExternalName":
        node.exists = True
        try:
            target = dns.name.from_text(svc.external_name)
        except dns.exception.DNSException:
            return
        node.add(CNAME, _make(dns.rdtypes.ANY.CNAME.CNAME, CNAME, target))
        return
    if svc.kind in ("ClusterIP", "Pending"):
        node.exists = True
        for ip in svc.ips:
            node.add(*_address(ip))
        if svc.ips:
            srv = _srv([(p.port, name) for p in svc.ports])
            if srv:
                node.rdatas[SRV] = srv
                node.additional[SRV] = _addresses(name, list(svc.ips), view.ttl)
        return
    ready = view.ready_endpoints(svc)
    if not ready:
        return  # headless without a ready endpoint: NXDOMAIN, as the specification says
    for ep, _ in ready:
        node.add(*_address(ep.ip))
    _endpoint_srv(node, svc, ready, view, port_name=None, protocol=None)


def _endpoint_srv(
    node: _Node,
    svc: ServiceEntry,
    ready: list[tuple[Endpoint, tuple[Port, ...]]],
    view: ClusterView,
    *,
    port_name: str | None,
    protocol: str | None,
) -> None:
    """SRV per ready endpoint and matching port, targets ``<hostname>.<svc>...``, with glue."""
    name = _svc_name(svc, view)
    records: list[tuple[int, dns.name.Name]] = []
    glue: dict[dns.name.Name, list[str]] = {}
    for ep, ports in ready:
        target = dns.name.Name((ep.label.encode(),)).concatenate(name)
        for p in ports:
            if (port_name is None or p.name == port_name) and (protocol is None or p.protocol == protocol):
                records.append((p.port, target))
                glue.setdefault(target, [])
                if ep.ip not in glue[target]:
                    glue[target].append(ep.ip)
    if records:
        node.rdatas[SRV] = _srv(records)
        node.exists = True
        node.additional[SRV] = [rr for target, ips in glue.items() for rr in _addresses(target, ips, view.ttl)]


def _svc_name(svc: ServiceEntry, view: ClusterView) -> dns.name.Name:
    return dns.name.Name((svc.name.encode(), svc.namespace.encode(), b"svc")).concatenate(view.zone)


def _under_service(rest: list[str], svc: ServiceEntry, view: ClusterView, node: _Node) -> None:
    """Names below a Service: ``<hostname>.``, ``_<proto>.`` and ``_<port>._<proto>.``."""
    if svc.kind == "ExternalName":
        return
    if len(rest) == 1 and not rest[0].startswith("_"):
        for ep, _ in view.ready_endpoints(svc):
            if ep.label == rest[0]:
                node.add(*_address(ep.ip))
        return
    protocol = _strip(rest[-1])
    port_name = _strip(rest[0]) if len(rest) == 2 else None
    if svc.kind == "Headless":
        ready = view.ready_endpoints(svc)
        if port_name is not None:
            _endpoint_srv(node, svc, ready, view, port_name=port_name, protocol=protocol)
            return
        # _<proto>.<svc>...: an empty non-terminal when some named port uses proto
        node.exists = any(p.name and p.protocol == protocol for _, ports in ready for p in ports)
        return
    matching = [p for p in svc.ports if p.name and p.protocol == protocol]
    if port_name is None:
        node.exists = bool(matching)
        return
    matching = [p for p in matching if p.name == port_name]
    if matching:
        node.exists = True
        name = _svc_name(svc, view)
        if svc.ips:
            node.rdatas[SRV] = _srv([(p.port, name) for p in matching])
            node.additional[SRV] = _addresses(name, list(svc.ips), view.ttl)


def _pod_ip(label: str) -> str | None:
    """The IP a pod label spells: ``10-1-2-3`` or ``fd00--1`` (CoreDNS's rule)."""
    if label.count("-") == 3 and "--" not in label:
        text = label.replace("-", ".")
    else:
        text = label.replace("-", ":")
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        return None


def _pod_node(label: str, namespace: str, view: ClusterView, node: _Node) -> None:
    ip = _pod_ip(label)
    if ip is None or view.pods_mode == "disabled":
        return
    if view.pods_mode == "insecure":
        node.deps.add(f"ns/{namespace}")
        if view.namespace_exists(namespace):
            node.add(*_address(ip))
        return
    node.deps.add(f"pod/{namespace}/{ip}")
    if view.pod_ip_exists(namespace, ip):
        node.add(*_address(ip))


def _zone_node(labels: list[str], view: ClusterView) -> _Node:
    """The node at ``labels`` (relative to the zone, leftmost first)."""
    node = _Node()
    n = len(labels)
    kind = labels[-1] if labels else ""
    if n == 0:
        node.add(SOA, _soa(view))
        node.add(NS, _make(dns.rdtypes.ANY.NS.NS, NS, NS_LABEL.concatenate(view.zone)))
        node.additional[NS] = _addresses(NS_LABEL.concatenate(view.zone), list(view.nameserver_ips()), view.ttl)
        node.deps.add("svc/kube-system/kube-dns")
    elif labels == ["dns-version"]:
        node.add(TXT, _make(dns.rdtypes.ANY.TXT.TXT, TXT, [SCHEMA_VERSION.encode()]))
        node.ttl = VERSION_TTL
    elif labels == ["dns"] or (n == 1 and kind in ("svc", "pod")):
        node.exists = True
    elif labels == ["ns", "dns"]:
        for ip in view.nameserver_ips():
            node.add(*_address(ip))
        node.deps.add("svc/kube-system/kube-dns")
    elif n == 2 and kind in ("svc", "pod"):
        node.deps.add(f"ns/{labels[0]}")
        node.exists = view.namespace_exists(labels[0]) and (kind == "svc" or view.pods_mode != "disabled")
    elif n == 3 and kind == "pod":
        _pod_node(labels[0], labels[1], view, node)
    elif 3 <= n <= 5 and kind == "svc":
        namespace, service = labels[-2], labels[-3]
        node.deps.add(f"svc/{namespace}/{service}")
        svc = view.service(namespace, service)
        if svc is not None:
            if n == 3:
                _service_node(svc, view, node)
            else:
                _under_service(labels[: n - 3], svc, view, node)
    return node


def _reverse_node(qname: dns.name.Name, view: ClusterView) -> _Node | None:
    """PTR records of a full reverse name, or None when it is not ours."""
    try:
        ip = ipaddress.ip_address(dns.reversename.to_address(qname)).compressed
    except (dns.exception.DNSException, ValueError, SyntaxError):
        return None
    node = _Node(deps={f"ip/{ip}"})
    for target in view.ptr_targets(ip):
        node.add(PTR, _make(dns.rdtypes.ANY.PTR.PTR, PTR, target))
    return node


# ---- question -> response -----------------------------------------------------


def _labels(qname: dns.name.Name, zone: dns.name.Name) -> list[str]:
    rel = qname.relativize(zone)
    if rel == dns.name.empty:
        return []
    return [label.decode("latin-1").lower() for label in rel.labels]


def answer(question: Question, view: ClusterView) -> Response:
    """Answer one (qname, qtype) from the view; pure, class IN implied."""
    raw_name, raw_type = question
    qname = dns.name.from_text(raw_name) if isinstance(raw_name, str) else raw_name
    qname = qname.canonicalize()
    qtype = dns.rdatatype.RdataType.make(raw_type)
    zone = view.zone
    in_zone = qname.is_subdomain(zone)
    reverse_zone = next((z for z in REVERSE_ZONES if qname.is_subdomain(z)), None)
    if not in_zone and reverse_zone is None:
        return Response(dns.rcode.REFUSED, authoritative=False, fallthrough=True)
    if not view.synced:
        return Response(dns.rcode.SERVFAIL, authoritative=False, depends_on=frozenset({"synced"}))

    deps: set[str] = {"synced"}
    if not in_zone:
        assert reverse_zone is not None
        node = _reverse_node(qname, view)
        if node is None or not node.exists:
            deps.update(node.deps if node else ())
            return Response(dns.rcode.REFUSED, authoritative=False, fallthrough=True, depends_on=frozenset(deps))
        deps |= node.deps
        return _respond(qname, qtype, node, view, soa_owner=reverse_zone, deps=deps)

    answers: list[dns.rrset.RRset] = []
    name = qname
    for _ in range(MAX_CHASE):
        node = _zone_node(_labels(name, zone), view)
        deps |= node.deps
        cname = node.rdatas.get(CNAME)
        if not cname or qtype in (CNAME, ANY):
            break
        answers.append(_rrset(name, view.ttl, cname))
        target = cname[0].target  # type: ignore[attr-defined]
        if not target.is_subdomain(zone) or any(rr.name == target for rr in answers):
            return Response(dns.rcode.NOERROR, answer=tuple(answers), depends_on=frozenset(deps))
        name = target
    else:  # chain longer than MAX_CHASE: hand back what we followed
        return Response(dns.rcode.NOERROR, answer=tuple(answers), depends_on=frozenset(deps))
    return _respond(name, qtype, node, view, soa_owner=zone, deps=deps, prefix=answers)


def _respond(
    name: dns.name.Name,
    qtype: dns.rdatatype.RdataType,
    node: _Node,
    view: ClusterView,
    *,
    soa_owner: dns.name.Name,
    deps: set[str],
    prefix: list[dns.rrset.RRset] | None = None,
) -> Response:
    answers = list(prefix or [])
    additional: list[dns.rrset.RRset] = []
    ttl = view.ttl if node.ttl is None else node.ttl
    types = sorted(node.rdatas) if qtype == ANY else [qtype] if qtype in node.rdatas else []
    for rdtype in types:
        answers.append(_rrset(name, ttl, node.rdatas[rdtype]))
        additional.extend(node.additional.get(rdtype, ()))
    if types:
        return Response(dns.rcode.NOERROR, tuple(answers), (), tuple(additional), depends_on=frozenset(deps))
    rcode = dns.rcode.NOERROR if node.exists else dns.rcode.NXDOMAIN
    return Response(rcode, tuple(answers), (soa_rrset(soa_owner, view),), depends_on=frozenset(deps))
