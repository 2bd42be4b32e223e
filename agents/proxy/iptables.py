"""The iptables rules kube-proxy's iptables mode would program for a state: rendering only.

Why: kubelite forwards traffic in user space (``dataplane``), but the
rules kube-proxy writes are how most people learn what a Service is; this
renders them, for inspection and teaching (``kubelite proxy
--show-rules``). Nothing here touches the host's iptables.

Fidelity (pkg/proxy/iptables/proxier.go, syncProxyRules and
writeServiceToEndpointRules): chain names hash the service port name and
protocol (``KUBE-SVC-``/``KUBE-SVL-``/``KUBE-EXT-``/``KUBE-FW-`` +
base32(sha256)[:16], ``KUBE-SEP-`` adds the endpoint); the probability of
endpoint i of n is 1/(n-i) printed ``%0.10f``; comments are quoted exactly
where kube-proxy quotes them. The output is kube-proxy's
``iptables-restore`` input put in the canonical order of its own tests
(sortIPTablesRules): tables by name; KUBE-NODEPORTS, then KUBE-SERVICES,
then the other chains alphabetically; rules of those two chains ordered by
service name (the nodeports jump stays last); all other rules in the order
written. Services are visited sorted by port name string, so output is
deterministic.

Defaults are kube-proxy's: masquerade mark 0x4000, localhost NodePorts on,
NodePorts on every local address, nfacct counters present, no
``--random-fully``; ``cluster_cidr`` plays ``--cluster-cidr`` (the local
traffic detector; without it no masquerade-off-cluster rule is written).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

from agents.proxy.servicemap import Endpoint, ServicePort, categorize

KUBE_SERVICES = "KUBE-SERVICES"
KUBE_EXTERNAL_SERVICES = "KUBE-EXTERNAL-SERVICES"
KUBE_NODEPORTS = "KUBE-NODEPORTS"
KUBE_POSTROUTING = "KUBE-POSTROUTING"
KUBE_MARK_MASQ = "KUBE-MARK-MASQ"
KUBE_FORWARD = "KUBE-FORWARD"
KUBE_PROXY_FIREWALL = "KUBE-PROXY-FIREWALL"
KUBE_FIREWALL = "KUBE-FIREWALL"
NFACCT_INVALID = "ct_state_invalid_dropped_pkts"
NFACCT_LOCALHOST_NODEPORT = "localhost_nps_accepted_pkts"
LAST_RULE = '"kubernetes service nodeports; NOTE: this must be the last rule in this chain"'


def port_proto_hash(service_port_name: str, protocol: str) -> str:
    """portProtoHash: base32(sha256(name + protocol))[:16]."""
    digest = hashlib.sha256((service_port_name + protocol).encode()).digest()
    return base64.b32encode(digest).decode()[:16]


def svc_chain(name: str, protocol: str) -> str:
    return "KUBE-SVC-" + port_proto_hash(name, protocol)


def svl_chain(name: str, protocol: str) -> str:
    return "KUBE-SVL-" + port_proto_hash(name, protocol)


def ext_chain(name: str, protocol: str) -> str:
    return "KUBE-EXT-" + port_proto_hash(name, protocol)


def fw_chain(name: str, protocol: str) -> str:
    return "KUBE-FW-" + port_proto_hash(name, protocol)


def sep_chain(name: str, protocol: str, endpoint: str) -> str:
    """servicePortEndpointChainName: the endpoint string (``ip:port``) joins the hash input."""
    digest = hashlib.sha256((name + protocol + endpoint).encode()).digest()
    return "KUBE-SEP-" + base64.b32encode(digest).decode()[:16]


def probability(n: int) -> str:
    """computeProbability: 1/n with ten decimals."""
    return f"{1.0 / n:0.10f}"


@dataclass
class Options:
    node_name: str = ""
    node_ip: str = ""
    cluster_cidr: str | None = None
    masquerade_mark: str = "0x4000"
    masquerade_all: bool = False
    localhost_nodeports: bool = True
    nfacct: bool = True
    random_fully: bool = False
    conntrack_tcp_liberal: bool = False


@dataclass
class _Table:
    name: str
    chains: list[str] = field(default_factory=list)
    rules: list[tuple[str, str]] = field(default_factory=list)  # (chain, full line)

    def chain(self, name: str) -> None:
        if name not in self.chains:
            self.chains.append(name)

    def rule(self, *args: str) -> None:
        parts = [a for a in args if a != ""]
        self.rules.append((parts[1], " ".join(parts)))


def _comment_service(line: str) -> str | None:
    """The service name a rule's comment starts with (up to the first space or colon)."""
    marker = "--comment "
    i = line.find(marker)
    if i == -1:
        return None
    rest = line[i + len(marker):]
    if rest.startswith('"'):
        value = rest[1:rest.find('"', 1)]
    else:
        value = rest.split(" ", 1)[0]
    cut = min((j for j in (value.find(" "), value.find(":")) if j != -1), default=len(value))
    return value[:cut]


def _rule_order(line: str, *, keep_last: bool) -> tuple[int, str]:
    """orderByCommentServiceName, with the nodeports jump kept last in nat KUBE-SERVICES."""
    return (1 if keep_last and "must be the last rule" in line else 0, _comment_service(line) or "")


def _chain_order(name: str) -> tuple[int, str]:
    if name == KUBE_NODEPORTS:
        return (0, "")
    if name == KUBE_SERVICES:
        return (1, "")
    return (2 if name.startswith("KUBE-") else 3, name)


def _dump(tables: Sequence[_Table]) -> str:
    """sortIPTablesRules, then the dump's String()."""
    out: list[str] = []
    for t in sorted(tables, key=lambda t: t.name):
        out.append(f"*{t.name}")
        chains = sorted(t.chains, key=_chain_order)
        for c in chains:
            out.append(f":{c} - [0:0]")
        for c in chains:
            rules = [line for chain, line in t.rules if chain == c]
            if c in (KUBE_NODEPORTS, KUBE_SERVICES):
                keep_last = t.name == "nat" and c == KUBE_SERVICES
                rules = sorted(rules, key=functools.partial(_rule_order, keep_last=keep_last))
            out.extend(rules)
        out.append("COMMIT")
    return "\n".join(out) + "\n"


def _q(text: str) -> str:
    return f'"{text}"'


def render(ports: Sequence[ServicePort], opts: Options | None = None) -> str:
    """syncProxyRules for ``ports`` (IPv4), as sorted iptables-restore input."""
    o = opts or Options()
    mark = o.masquerade_mark
    filt, nat = _Table("filter"), _Table("nat")
    for c in (KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_NODEPORTS, KUBE_PROXY_FIREWALL):
        filt.chain(c)
    for c in (KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ):
        nat.chain(c)
    nat.rule("-A", KUBE_POSTROUTING, "-m", "mark", "!", "--mark", f"{mark}/{mark}", "-j", "RETURN")
    nat.rule("-A", KUBE_POSTROUTING, "-j", "MARK", "--xor-mark", mark)
    nat.rule("-A", KUBE_POSTROUTING, "-m", "comment", "--comment", _q("kubernetes service traffic requiring SNAT"),
             "-j", "MASQUERADE", "--random-fully" if o.random_fully else "")
    nat.rule("-A", KUBE_MARK_MASQ, "-j", "MARK", "--or-mark", mark)
    if o.localhost_nodeports:
        filt.chain(KUBE_FIREWALL)
        filt.rule("-A", KUBE_FIREWALL, "-m", "comment", "--comment", _q("block incoming localnet connections"),
                  "-d", "127.0.0.0/8", "!", "-s", "127.0.0.0/8", "-m", "conntrack", "!", "--ctstate",
                  "RELATED,ESTABLISHED,DNAT", "-j", "DROP")
    if_local = ("-s", o.cluster_cidr) if o.cluster_cidr else None
    if_not_local = ("!", "-s", o.cluster_cidr) if o.cluster_cidr else None
    for sp in sorted(ports, key=lambda p: (p.name_string, p.protocol)):
        if not sp.cluster_ip or ipaddress.ip_address(sp.cluster_ip).version != 4:
            continue
        _service(filt, nat, sp, o, if_local, if_not_local)
    nat.rule("-A", KUBE_SERVICES, "-m", "comment", "--comment", LAST_RULE, "-m", "addrtype", "--dst-type", "LOCAL",
             *([] if o.localhost_nodeports else ["!", "-d", "127.0.0.0/8"]), "-j", KUBE_NODEPORTS)
    if not o.conntrack_tcp_liberal:
        filt.rule("-A", KUBE_FORWARD, "-m", "conntrack", "--ctstate", "INVALID",
                  *(["-m", "nfacct", "--nfacct-name", NFACCT_INVALID] if o.nfacct else []), "-j", "DROP")
    filt.rule("-A", KUBE_FORWARD, "-m", "comment", "--comment", _q("kubernetes forwarding rules"), "-m", "mark",
              "--mark", f"{mark}/{mark}", "-j", "ACCEPT")
    filt.rule("-A", KUBE_FORWARD, "-m", "comment", "--comment", _q("kubernetes forwarding conntrack rule"), "-m",
              "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT")
    return _dump([filt, nat])


def _service(filt: _Table, nat: _Table, sp: ServicePort, o: Options, if_local: tuple[str, ...] | None,
             if_not_local: tuple[str, ...] | None) -> None:
    proto = sp.protocol.lower()
    name = sp.name_string
    port = str(sp.port)
    cat = categorize(sp, o.node_name)
    cluster_chain, local_chain = svc_chain(name, proto), svl_chain(name, proto)
    external_chain, firewall_chain = ext_chain(name, proto), fw_chain(name, proto)
    uses_cluster_chain = bool(cat.cluster) and sp.uses_cluster_endpoints
    uses_local_chain = bool(cat.local) and sp.uses_local_endpoints
    internal_chain, has_internal = cluster_chain, cat.has_any
    if sp.internal_local:
        internal_chain = local_chain
        has_internal = has_internal and bool(cat.local)
    external_policy_chain, has_external = cluster_chain, cat.has_any
    if sp.external_local:
        external_policy_chain = local_chain
        has_external = has_external and bool(cat.local)
    uses_external_chain = cat.has_any and sp.externally_accessible
    lb_chain = external_chain
    uses_fw = cat.has_any and bool(sp.lb_ips) and bool(sp.lb_source_ranges)
    if uses_fw:
        lb_chain = firewall_chain
    internal_target = internal_comment = external_target = external_comment = ""
    if not cat.has_any:
        internal_target = external_target = "REJECT"
        internal_comment = external_comment = _q(f"{name} has no endpoints")
    else:
        if not has_internal:
            internal_target, internal_comment = "DROP", _q(f"{name} has no local endpoints")
        if not has_external:
            external_target, external_comment = "DROP", _q(f"{name} has no local endpoints")
    match = ("-m", proto, "-p", proto)

    if has_internal:
        nat.rule("-A", KUBE_SERVICES, "-m", "comment", "--comment", _q(f"{name} cluster IP"), *match,
                 "-d", sp.cluster_ip, "--dport", port, "-j", internal_chain)
    else:
        filt.rule("-A", KUBE_SERVICES, "-m", "comment", "--comment", internal_comment, *match,
                  "-d", sp.cluster_ip, "--dport", port, "-j", internal_target)
    for ip in sp.external_ips:
        if cat.has_any:
            nat.rule("-A", KUBE_SERVICES, "-m", "comment", "--comment", _q(f"{name} external IP"), *match,
                     "-d", ip, "--dport", port, "-j", external_chain)
        if not has_external:
            filt.rule("-A", KUBE_EXTERNAL_SERVICES, "-m", "comment", "--comment", external_comment, *match,
                      "-d", ip, "--dport", port, "-j", external_target)
    for ip in sp.lb_ips:
        if cat.has_any:
            nat.rule("-A", KUBE_SERVICES, "-m", "comment", "--comment", _q(f"{name} loadbalancer IP"), *match,
                     "-d", ip, "--dport", port, "-j", lb_chain)
        if uses_fw:
            filt.rule("-A", KUBE_PROXY_FIREWALL, "-m", "comment", "--comment",
                      _q(f"{name} traffic not accepted by {firewall_chain}"), *match, "-d", ip, "--dport", port,
                      "-j", "DROP")
    if not has_external:
        for ip in sp.lb_ips:
            filt.rule("-A", KUBE_EXTERNAL_SERVICES, "-m", "comment", "--comment", external_comment, *match,
                      "-d", ip, "--dport", port, "-j", external_target)
    if sp.node_port:
        node_port = str(sp.node_port)
        if cat.has_any:
            if o.localhost_nodeports and o.nfacct:
                nat.rule("-A", KUBE_NODEPORTS, "-m", "comment", "--comment", name, *match, "-d", "127.0.0.0/8",
                         "--dport", node_port, "-m", "nfacct", "--nfacct-name", NFACCT_LOCALHOST_NODEPORT,
                         "-j", external_chain)
            nat.rule("-A", KUBE_NODEPORTS, "-m", "comment", "--comment", name, *match, "--dport", node_port,
                     "-j", external_chain)
        if not has_external:
            filt.rule("-A", KUBE_EXTERNAL_SERVICES, "-m", "comment", "--comment", external_comment, "-m", "addrtype",
                      "--dst-type", "LOCAL", *match, "--dport", node_port, "-j", external_target)
    if sp.health_check_node_port:
        filt.rule("-A", KUBE_NODEPORTS, "-m", "comment", "--comment", _q(f"{name} health check node port"),
                  "-m", "tcp", "-p", "tcp", "--dport", str(sp.health_check_node_port), "-j", "ACCEPT")

    if has_internal:
        args = ("-m", "comment", "--comment", _q(f"{name} cluster IP"), *match, "-d", sp.cluster_ip, "--dport", port)
        if o.masquerade_all:
            nat.rule("-A", internal_chain, *args, "-j", KUBE_MARK_MASQ)
        elif if_not_local is not None:
            nat.rule("-A", internal_chain, *args, *if_not_local, "-j", KUBE_MARK_MASQ)
    if uses_external_chain:
        nat.chain(external_chain)
        if not sp.external_local:
            nat.rule("-A", external_chain, "-m", "comment", "--comment",
                     _q(f"masquerade traffic for {name} external destinations"), "-j", KUBE_MARK_MASQ)
        else:
            if if_local is not None:
                nat.rule("-A", external_chain, "-m", "comment", "--comment",
                         _q(f"pod traffic for {name} external destinations"), *if_local, "-j", cluster_chain)
            nat.rule("-A", external_chain, "-m", "comment", "--comment",
                     _q(f"masquerade LOCAL traffic for {name} external destinations"), "-m", "addrtype",
                     "--src-type", "LOCAL", "-j", KUBE_MARK_MASQ)
            nat.rule("-A", external_chain, "-m", "comment", "--comment",
                     _q(f"route LOCAL traffic for {name} external destinations"), "-m", "addrtype",
                     "--src-type", "LOCAL", "-j", cluster_chain)
        if has_external:
            nat.rule("-A", external_chain, "-j", external_policy_chain)
    if uses_fw:
        nat.chain(firewall_chain)
        head = ("-A", firewall_chain, "-m", "comment", "--comment", _q(f"{name} loadbalancer IP"))
        allow_from_node = False
        for cidr in sp.lb_source_ranges:
            nat.rule(*head, "-s", cidr, "-j", external_chain)
            if o.node_ip and ipaddress.ip_address(o.node_ip) in ipaddress.ip_network(cidr):
                allow_from_node = True
        if allow_from_node:
            for ip in sp.lb_ips:
                nat.rule(*head, "-s", ip, "-j", external_chain)
        nat.rule("-A", firewall_chain, "-m", "comment", "--comment",
                 _q(f"other traffic to {name} will be dropped by KUBE-PROXY-FIREWALL"))
    if uses_cluster_chain:
        nat.chain(cluster_chain)
        _endpoint_rules(nat, sp, cluster_chain, cat.cluster)
    if uses_local_chain:
        nat.chain(local_chain)
        _endpoint_rules(nat, sp, local_chain, cat.local)
    for ep in cat.reachable:
        chain = sep_chain(name, proto, str(ep))
        nat.chain(chain)
        base = ("-A", chain, "-m", "comment", "--comment", name)
        nat.rule(*base, "-s", ep.ip, "-j", KUBE_MARK_MASQ)
        affinity = ("-m", "recent", "--name", chain, "--set") if sp.affinity_timeout is not None else ()
        nat.rule(*base, *affinity, *match, "-j", "DNAT", "--to-destination", str(ep))


def _endpoint_rules(nat: _Table, sp: ServicePort, chain: str, endpoints: Sequence[Endpoint]) -> None:
    """writeServiceToEndpointRules: affinity checks first, then the probability ladder."""
    name, proto = sp.name_string, sp.protocol.lower()
    if sp.affinity_timeout is not None:
        for ep in endpoints:
            target = sep_chain(name, proto, str(ep))
            nat.rule("-A", chain, "-m", "comment", "--comment", _q(f"{name} -> {ep}"), "-m", "recent", "--name",
                     target, "--rcheck", "--seconds", str(sp.affinity_timeout), "--reap", "-j", target)
    n = len(endpoints)
    for i, ep in enumerate(endpoints):
        target = sep_chain(name, proto, str(ep))
        stat = ("-m", "statistic", "--mode", "random", "--probability", probability(n - i)) if i < n - 1 else ()
        nat.rule("-A", chain, "-m", "comment", "--comment", _q(f"{name} -> {ep}"), *stat, "-j", target)
