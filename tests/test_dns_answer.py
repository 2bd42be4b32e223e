"""Table tests of answer(question, view), written in zone-file notation.

Each expected block reads like dig's output: ``;; RCODE``, the answer
records, then ``;; AUTHORITY`` and ``;; ADDITIONAL`` records (each section
sorted).  The view holds one object of every kind the specification covers.
"""

from __future__ import annotations

import textwrap
from typing import Any

import dns.rcode
import pytest
from dns_objects import endpoint, eps, pod, service

from servers.dns.answer import Response, answer
from servers.dns.view import ClusterView

SOA = "cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5"
SOA_V4 = "in-addr.arpa. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5"
SOA_V6 = "ip6.arpa. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5"


SERVICES = [
    service("kube-system", "kube-dns", clusterIP="10.96.0.10", clusterIPs=["10.96.0.10"], ports=[
        {"name": "dns", "port": 53, "protocol": "UDP"},
        {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
        {"name": "metrics", "port": 9153, "protocol": "TCP"}]),
    service("shield", "the-bus", clusterIP="10.96.0.20", ports=[
        {"name": "http", "port": 80, "protocol": "TCP"}, {"port": 9000, "protocol": "TCP"}]),
    service("shield", "dual", clusterIP="10.96.0.30", clusterIPs=["10.96.0.30", "fd00:10:96::30"],
            ports=[{"name": "https", "port": 443}]),
    service("shield", "pending", ports=[{"name": "http", "port": 80}]),
    service("shield", "db", clusterIP="None", ports=[{"name": "pg", "port": 5432}]),
    service("shield", "empty", clusterIP="None", ports=[{"name": "pg", "port": 5432}]),
    service("shield", "tolerant", clusterIP="None", publishNotReadyAddresses=True),
    service("shield", "legacy", clusterIP="None",
            annotations={"service.alpha.kubernetes.io/tolerate-unready-endpoints": "true"}),
    service("shield", "web", clusterIP="10.96.0.40", ports=[{"name": "http", "port": 80}]),
    service("shield", "ext", type="ExternalName", externalName="www.example.com"),
    service("shield", "alias", type="ExternalName", externalName="the-bus.shield.svc.cluster.local"),
    service("shield", "dangling", type="ExternalName", externalName="gone.shield.svc.cluster.local"),
]
SLICES = [
    eps("shield", "db-a", "db", [
        endpoint("10.244.1.5", hostname="db-0"),
        endpoint("10.244.1.6", ready=None),
        endpoint("10.244.1.7", hostname="db-2", ready=False),
    ], [{"name": "pg", "port": 5432, "protocol": "TCP"}]),
    eps("shield", "db-b", "db", [endpoint("fd00::5", hostname="db-1")],
        [{"name": "pg", "port": 5432, "protocol": "TCP"}], "IPv6"),
    eps("shield", "empty-a", "empty", [endpoint("10.244.9.9", ready=False)], [{"name": "pg", "port": 5432}]),
    eps("shield", "tolerant-a", "tolerant", [endpoint("10.244.2.9", ready=False)], []),
    eps("shield", "legacy-a", "legacy", [endpoint("10.244.2.10", ready=False)], []),
    eps("shield", "web-a", "web", [endpoint("10.244.3.1")], [{"name": "http", "port": 8080}]),
]
PODS = [pod("shield", "db-0", "10.244.1.5"), pod("shield", "v6", "fd00::5")]
NAMESPACES = [{"metadata": {"name": "quiet"}}]


def build(**options: Any) -> ClusterView:
    opts: dict[str, Any] = {"serial": 1, **options}
    return ClusterView.build(services=SERVICES, endpoint_slices=SLICES, pods=PODS, namespaces=NAMESPACES, **opts)


def render(response: Response) -> str:
    """dig-like text of a response, each section sorted."""
    lines = [f";; {dns.rcode.to_text(response.rcode)}"]
    for title, section in (("", response.answer), ("AUTHORITY", response.authority),
                           ("ADDITIONAL", response.additional)):
        records = sorted(line for rrset in section for line in rrset.to_text().splitlines())
        if records and title:
            lines.append(f";; {title}")
        lines.extend(records)
    return "\n".join(lines)


def zone(text: str) -> str:
    return textwrap.dedent(text).strip()


CASES = [
    # ---- schema version, apex -----------------------------------------------------------
    ("dns-version.cluster.local.", "TXT", """
        ;; NOERROR
        dns-version.cluster.local. 28800 IN TXT "1.1.0"
    """),
    ("dns-version.cluster.local.", "A", f";; NOERROR\n;; AUTHORITY\n{SOA}"),
    ("cluster.local.", "SOA", f";; NOERROR\n{SOA}"),
    ("cluster.local.", "NS", """
        ;; NOERROR
        cluster.local. 5 IN NS ns.dns.cluster.local.
        ;; ADDITIONAL
        ns.dns.cluster.local. 5 IN A 10.96.0.10
    """),
    ("cluster.local.", "A", f";; NOERROR\n;; AUTHORITY\n{SOA}"),
    ("ns.dns.cluster.local.", "A", ";; NOERROR\nns.dns.cluster.local. 5 IN A 10.96.0.10"),
    ("ns.dns.cluster.local.", "AAAA", f";; NOERROR\n;; AUTHORITY\n{SOA}"),
    ("dns.cluster.local.", "A", f";; NOERROR\n;; AUTHORITY\n{SOA}"),
    # ---- empty non-terminals and names that do not exist --------------------------------
    ("svc.cluster.local.", "A", f";; NOERROR\n;; AUTHORITY\n{SOA}"),
    ("pod.cluster.local.", "A", f";; NOERROR\n;; AUTHORITY\n{SOA}"),
    ("shield.svc.cluster.local.", "A", f";; NOERROR\n;; AUTHORITY\n{SOA}"),
    ("quiet.svc.cluster.local.", "A", f";; NOERROR\n;; AUTHORITY\n{SOA}"),
    ("nowhere.svc.cluster.local.", "A", f";; NXDOMAIN\n;; AUTHORITY\n{SOA}"),
    ("nope.shield.svc.cluster.local.", "A", f";; NXDOMAIN\n;; AUTHORITY\n{SOA}"),
    ("nope.cluster.local.", "A", f";; NXDOMAIN\n;; AUTHORITY\n{SOA}"),
    ("a.b.c.d.e.the-bus.shield.svc.cluster.local.", "A", f";; NXDOMAIN\n;; AUTHORITY\n{SOA}"),
    ("x.shield.other.cluster.local.", "A", f";; NXDOMAIN\n;; AUTHORITY\n{SOA}"),
    # ---- ClusterIP services -------------------------------------------------------------
    ("the-bus.shield.svc.cluster.local.", "A", ";; NOERROR\nthe-bus.shield.svc.cluster.local. 5 IN A 10.96.0.20"),
    ("THE-Bus.Shield.SVC.Cluster.Local.", "A", ";; NOERROR\nthe-bus.shield.svc.cluster.local. 5 IN A 10.96.0.20"),
    ("the-bus.shield.svc.cluster.local.", "AAAA", f";; NOERROR\n;; AUTHORITY\n{SOA}"),
    ("the-bus.shield.svc.cluster.local.", "TXT", f";; NOERROR\n;; AUTHORITY\n{SOA}"),
    ("the-bus.shield.svc.cluster.local.", "CNAME", f";; NOERROR\n;; AUTHORITY\n{SOA}"),
    ("dual.shield.svc.cluster.local.", "A", ";; NOERROR\ndual.shield.svc.cluster.local. 5 IN A 10.96.0.30"),
    ("dual.shield.svc.cluster.local.", "AAAA",
     ";; NOERROR\ndual.shield.svc.cluster.local. 5 IN AAAA fd00:10:96::30"),
    ("pending.shield.svc.cluster.local.", "A", f";; NOERROR\n;; AUTHORITY\n{SOA}"),
    # ---- SRV for ClusterIP services -----------------------------------------------------
    ("_http._tcp.the-bus.shield.svc.cluster.local.", "SRV", """
        ;; NOERROR
        _http._tcp.the-bus.shield.svc.cluster.local. 5 IN SRV 0 100 80 the-bus.shield.svc.cluster.local.
        ;; ADDITIONAL
        the-bus.shield.svc.cluster.local. 5 IN A 10.96.0.20
    """),
    ("_HTTP._TCP.the-bus.shield.svc.cluster.local.", "SRV", """
        ;; NOERROR
        _http._tcp.the-bus.shield.svc.cluster.local. 5 IN SRV 0 100 80 the-bus.shield.svc.cluster.local.
        ;; ADDITIONAL
        the-bus.shield.svc.cluster.local. 5 IN A 10.96.0.20
    """),
    ("the-bus.shield.svc.cluster.local.", "SRV", """
        ;; NOERROR
        the-bus.shield.svc.cluster.local. 5 IN SRV 0 50 80 the-bus.shield.svc.cluster.local.
        the-bus.shield.svc.cluster.local. 5 IN SRV 0 50 9000 the-bus.shield.svc.cluster.local.
        ;; ADDITIONAL
        the-bus.shield.svc.cluster.local. 5 IN A 10.96.0.20
    """),
    ("_dns._udp.kube-dns.kube-system.svc.cluster.local.", "SRV", """
        ;; NOERROR
        _dns._udp.kube-dns.kube-system.svc.cluster.local. 5 IN SRV 0 100 53 kube-dns.kube-system.svc.cluster.local.
        ;; ADDITIONAL
        kube-dns.kube-system.svc.cluster.local. 5 IN A 10.96.0.10
    """),
    ("_https._tcp.dual.shield.svc.cluster.local.", "SRV", """
        ;; NOERROR
        _https._tcp.dual.shield.svc.cluster.local. 5 IN SRV 0 100 443 dual.shield.svc.cluster.local.
        ;; ADDITIONAL
        dual.shield.svc.cluster.local. 5 IN A 10.96.0.30
        dual.shield.svc.cluster.local. 5 IN AAAA fd00:10:96::30
    """),
    ("_http._udp.the-bus.shield.svc.cluster.local.", "SRV", f";; NXDOMAIN\n;; AUTHORITY\n{SOA}"),
    ("_nope._tcp.the-bus.shield.svc.cluster.local.", "SRV", f";; NXDOMAIN\n;; AUTHORITY\n{SOA}"),
    ("_http._tcp.the-bus.shield.svc.cluster.local.", "A", f";; NOERROR\n;; AUTHORITY\n{SOA}"),
    ("_tcp.the-bus.shield.svc.cluster.local.", "SRV", f";; NOERROR\n;; AUTHORITY\n{SOA}"),
    ("_udp.the-bus.shield.svc.cluster.local.", "SRV", f";; NXDOMAIN\n;; AUTHORITY\n{SOA}"),
    ("_http._tcp.pending.shield.svc.cluster.local.", "SRV", f";; NOERROR\n;; AUTHORITY\n{SOA}"),
    # ---- PTR ----------------------------------------------------------------------------
    ("20.0.96.10.in-addr.arpa.", "PTR", ";; NOERROR\n20.0.96.10.in-addr.arpa. 5 IN PTR the-bus.shield.svc.cluster.local."),
    ("10.0.96.10.in-addr.arpa.", "PTR",
     ";; NOERROR\n10.0.96.10.in-addr.arpa. 5 IN PTR kube-dns.kube-system.svc.cluster.local."),
    ("0.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa.", "PTR", """
        ;; NOERROR
        0.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa. 5 IN PTR dual.shield.svc.cluster.local.
    """),
    ("20.0.96.10.in-addr.arpa.", "A", f";; NOERROR\n;; AUTHORITY\n{SOA_V4}"),
    ("0.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa.", "TXT",
     f";; NOERROR\n;; AUTHORITY\n{SOA_V6}"),
    ("5.1.244.10.in-addr.arpa.", "PTR", ";; NOERROR\n5.1.244.10.in-addr.arpa. 5 IN PTR db-0.db.shield.svc.cluster.local."),
    ("6.1.244.10.in-addr.arpa.", "PTR",
     ";; NOERROR\n6.1.244.10.in-addr.arpa. 5 IN PTR 10-244-1-6.db.shield.svc.cluster.local."),
    ("5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", "PTR", """
        ;; NOERROR
        5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa. 5 IN PTR db-1.db.shield.svc.cluster.local.
    """),
    ("1.3.244.10.in-addr.arpa.", "PTR", ";; NOERROR\n1.3.244.10.in-addr.arpa. 5 IN PTR 10-244-3-1.web.shield.svc.cluster.local."),
    ("9.2.244.10.in-addr.arpa.", "PTR",
     ";; NOERROR\n9.2.244.10.in-addr.arpa. 5 IN PTR 10-244-2-9.tolerant.shield.svc.cluster.local."),
    # ---- headless services --------------------------------------------------------------
    ("db.shield.svc.cluster.local.", "A", """
        ;; NOERROR
        db.shield.svc.cluster.local. 5 IN A 10.244.1.5
        db.shield.svc.cluster.local. 5 IN A 10.244.1.6
    """),
    ("db.shield.svc.cluster.local.", "AAAA", ";; NOERROR\ndb.shield.svc.cluster.local. 5 IN AAAA fd00::5"),
    ("db.shield.svc.cluster.local.", "TXT", f";; NOERROR\n;; AUTHORITY\n{SOA}"),
    ("db-0.db.shield.svc.cluster.local.", "A", ";; NOERROR\ndb-0.db.shield.svc.cluster.local. 5 IN A 10.244.1.5"),
    ("DB-0.db.shield.svc.cluster.local.", "A", ";; NOERROR\ndb-0.db.shield.svc.cluster.local. 5 IN A 10.244.1.5"),
    ("db-0.db.shield.svc.cluster.local.", "AAAA", f";; NOERROR\n;; AUTHORITY\n{SOA}"),
    ("db-1.db.shield.svc.cluster.local.", "AAAA", ";; NOERROR\ndb-1.db.shield.svc.cluster.local. 5 IN AAAA fd00::5"),
    ("10-244-1-6.db.shield.svc.cluster.local.", "A",
     ";; NOERROR\n10-244-1-6.db.shield.svc.cluster.local. 5 IN A 10.244.1.6"),
    ("db-2.db.shield.svc.cluster.local.", "A", f";; NXDOMAIN\n;; AUTHORITY\n{SOA}"),
    ("10-244-1-7.db.shield.svc.cluster.local.", "A", f";; NXDOMAIN\n;; AUTHORITY\n{SOA}"),
    ("_pg._tcp.db.shield.svc.cluster.local.", "SRV", """
        ;; NOERROR
        _pg._tcp.db.shield.svc.cluster.local. 5 IN SRV 0 33 5432 10-244-1-6.db.shield.svc.cluster.local.
        _pg._tcp.db.shield.svc.cluster.local. 5 IN SRV 0 33 5432 db-0.db.shield.svc.cluster.local.
        _pg._tcp.db.shield.svc.cluster.local. 5 IN SRV 0 33 5432 db-1.db.shield.svc.cluster.local.
        ;; ADDITIONAL
        10-244-1-6.db.shield.svc.cluster.local. 5 IN A 10.244.1.6
        db-0.db.shield.svc.cluster.local. 5 IN A 10.244.1.5
        db-1.db.shield.svc.cluster.local. 5 IN AAAA fd00::5
    """),
    ("_pg._udp.db.shield.svc.cluster.local.", "SRV", f";; NXDOMAIN\n;; AUTHORITY\n{SOA}"),
    ("_tcp.db.shield.svc.cluster.local.", "A", f";; NOERROR\n;; AUTHORITY\n{SOA}"),
    ("empty.shield.svc.cluster.local.", "A", f";; NXDOMAIN\n;; AUTHORITY\n{SOA}"),
    ("empty.shield.svc.cluster.local.", "AAAA", f";; NXDOMAIN\n;; AUTHORITY\n{SOA}"),
    ("_pg._tcp.empty.shield.svc.cluster.local.", "SRV", f";; NXDOMAIN\n;; AUTHORITY\n{SOA}"),
    ("tolerant.shield.svc.cluster.local.", "A", ";; NOERROR\ntolerant.shield.svc.cluster.local. 5 IN A 10.244.2.9"),
    ("tolerant.shield.svc.cluster.local.", "SRV", f";; NOERROR\n;; AUTHORITY\n{SOA}"),
    ("legacy.shield.svc.cluster.local.", "A", ";; NOERROR\nlegacy.shield.svc.cluster.local. 5 IN A 10.244.2.10"),
    # ---- endpoint names of a ClusterIP service (CoreDNS answers them too) ---------------
    ("10-244-3-1.web.shield.svc.cluster.local.", "A",
     ";; NOERROR\n10-244-3-1.web.shield.svc.cluster.local. 5 IN A 10.244.3.1"),
    ("web.shield.svc.cluster.local.", "A", ";; NOERROR\nweb.shield.svc.cluster.local. 5 IN A 10.96.0.40"),
    # ---- ExternalName -------------------------------------------------------------------
    ("ext.shield.svc.cluster.local.", "A", ";; NOERROR\next.shield.svc.cluster.local. 5 IN CNAME www.example.com."),
    ("ext.shield.svc.cluster.local.", "AAAA", ";; NOERROR\next.shield.svc.cluster.local. 5 IN CNAME www.example.com."),
    ("ext.shield.svc.cluster.local.", "CNAME", ";; NOERROR\next.shield.svc.cluster.local. 5 IN CNAME www.example.com."),
    ("alias.shield.svc.cluster.local.", "A", """
        ;; NOERROR
        alias.shield.svc.cluster.local. 5 IN CNAME the-bus.shield.svc.cluster.local.
        the-bus.shield.svc.cluster.local. 5 IN A 10.96.0.20
    """),
    ("alias.shield.svc.cluster.local.", "AAAA", f"""
        ;; NOERROR
        alias.shield.svc.cluster.local. 5 IN CNAME the-bus.shield.svc.cluster.local.
        ;; AUTHORITY
        {SOA}
    """),
    ("dangling.shield.svc.cluster.local.", "A", f"""
        ;; NXDOMAIN
        dangling.shield.svc.cluster.local. 5 IN CNAME gone.shield.svc.cluster.local.
        ;; AUTHORITY
        {SOA}
    """),
    ("x.ext.shield.svc.cluster.local.", "A", f";; NXDOMAIN\n;; AUTHORITY\n{SOA}"),
    ("_http._tcp.ext.shield.svc.cluster.local.", "SRV", f";; NXDOMAIN\n;; AUTHORITY\n{SOA}"),
    # ---- pods (verified, the default) ---------------------------------------------------
    ("10-244-1-5.shield.pod.cluster.local.", "A", ";; NOERROR\n10-244-1-5.shield.pod.cluster.local. 5 IN A 10.244.1.5"),
    ("10-244-1-5.shield.pod.cluster.local.", "AAAA", f";; NOERROR\n;; AUTHORITY\n{SOA}"),
    ("fd00--5.shield.pod.cluster.local.", "AAAA", ";; NOERROR\nfd00--5.shield.pod.cluster.local. 5 IN AAAA fd00::5"),
    ("10-244-1-99.shield.pod.cluster.local.", "A", f";; NXDOMAIN\n;; AUTHORITY\n{SOA}"),
    ("10-244-1-5.quiet.pod.cluster.local.", "A", f";; NXDOMAIN\n;; AUTHORITY\n{SOA}"),
    ("not-an-ip.shield.pod.cluster.local.", "A", f";; NXDOMAIN\n;; AUTHORITY\n{SOA}"),
    ("shield.pod.cluster.local.", "A", f";; NOERROR\n;; AUTHORITY\n{SOA}"),
    ("nowhere.pod.cluster.local.", "A", f";; NXDOMAIN\n;; AUTHORITY\n{SOA}"),
    ("x.10-244-1-5.shield.pod.cluster.local.", "A", f";; NXDOMAIN\n;; AUTHORITY\n{SOA}"),
    # ---- not ours -----------------------------------------------------------------------
    ("www.example.com.", "A", ";; REFUSED"),
    ("local.", "SOA", ";; REFUSED"),
    ("99.99.99.99.in-addr.arpa.", "PTR", ";; REFUSED"),
    ("96.10.in-addr.arpa.", "PTR", ";; REFUSED"),
]


@pytest.fixture(scope="module")
def view() -> ClusterView:
    return build()


@pytest.mark.parametrize(("qname", "qtype", "expected"), CASES, ids=[f"{q} {t}" for q, t, _ in CASES])
def test_answer(view: ClusterView, qname: str, qtype: str, expected: str) -> None:
    assert render(answer((qname, qtype), view)) == zone(expected)


POD_MODE_CASES = [
    ("disabled", "10-244-1-5.shield.pod.cluster.local.", "A", f";; NXDOMAIN\n;; AUTHORITY\n{SOA}"),
    ("disabled", "shield.pod.cluster.local.", "A", f";; NXDOMAIN\n;; AUTHORITY\n{SOA}"),
    ("disabled", "pod.cluster.local.", "A", f";; NOERROR\n;; AUTHORITY\n{SOA}"),
    ("insecure", "10-1-2-3.shield.pod.cluster.local.", "A", ";; NOERROR\n10-1-2-3.shield.pod.cluster.local. 5 IN A 10.1.2.3"),
    ("insecure", "fd00--9.quiet.pod.cluster.local.", "AAAA", ";; NOERROR\nfd00--9.quiet.pod.cluster.local. 5 IN AAAA fd00::9"),
    ("insecure", "10-1-2-3.nowhere.pod.cluster.local.", "A", f";; NXDOMAIN\n;; AUTHORITY\n{SOA}"),
    ("insecure", "10-1-2-300.shield.pod.cluster.local.", "A", f";; NXDOMAIN\n;; AUTHORITY\n{SOA}"),
    ("verified", "10-1-2-3.shield.pod.cluster.local.", "A", f";; NXDOMAIN\n;; AUTHORITY\n{SOA}"),
    ("verified", "10-244-1-5.shield.pod.cluster.local.", "A",
     ";; NOERROR\n10-244-1-5.shield.pod.cluster.local. 5 IN A 10.244.1.5"),
]


@pytest.mark.parametrize(("mode", "qname", "qtype", "expected"), POD_MODE_CASES)
def test_pods_modes(mode: str, qname: str, qtype: str, expected: str) -> None:
    assert render(answer((qname, qtype), build(pods_mode=mode))) == zone(expected)


def test_ttl_and_zone_are_configurable() -> None:
    view = ClusterView.build(services=SERVICES, zone="Corp.Example.", ttl=30, serial=7,
                             nameserver_ips=["127.0.0.53"])
    assert render(answer(("the-bus.shield.svc.corp.example.", "A"), view)) == zone(
        ";; NOERROR\nthe-bus.shield.svc.corp.example. 30 IN A 10.96.0.20")
    assert render(answer(("nope.corp.example.", "A"), view)) == zone(
        ";; NXDOMAIN\n;; AUTHORITY\n"
        "corp.example. 30 IN SOA ns.dns.corp.example. hostmaster.corp.example. 7 7200 1800 86400 30")
    assert render(answer(("the-bus.shield.svc.cluster.local.", "A"), view)) == ";; REFUSED"


def test_nameserver_falls_back_to_own_address_without_kube_dns() -> None:
    view = ClusterView.build(services=SERVICES[1:], nameserver_ips=["127.0.0.53"], serial=1)
    assert render(answer(("cluster.local.", "NS"), view)) == zone("""
        ;; NOERROR
        cluster.local. 5 IN NS ns.dns.cluster.local.
        ;; ADDITIONAL
        ns.dns.cluster.local. 5 IN A 127.0.0.53
    """)


@pytest.mark.parametrize("qname", ["the-bus.shield.svc.cluster.local.", "nope.shield.svc.cluster.local.",
                                   "20.0.96.10.in-addr.arpa."])
def test_servfail_until_synced(qname: str) -> None:
    view = ClusterView.build(services=SERVICES, synced=False)
    response = answer((qname, "A"), view)
    assert response.rcode == dns.rcode.SERVFAIL
    assert "synced" in response.depends_on
    view.mark_synced()
    assert answer((qname, "A"), view).rcode != dns.rcode.SERVFAIL


def test_out_of_zone_is_refused_even_before_sync() -> None:
    response = answer(("www.example.com.", "A"), ClusterView.build(synced=False))
    assert (response.rcode, response.fallthrough, response.authoritative) == (dns.rcode.REFUSED, True, False)


@pytest.mark.parametrize(("qname", "qtype", "keys"), [
    ("the-bus.shield.svc.cluster.local.", "A", {"synced", "svc/shield/the-bus"}),
    ("_pg._tcp.db.shield.svc.cluster.local.", "SRV", {"synced", "svc/shield/db"}),
    ("shield.svc.cluster.local.", "A", {"synced", "ns/shield"}),
    ("cluster.local.", "NS", {"synced", "svc/kube-system/kube-dns"}),
    ("20.0.96.10.in-addr.arpa.", "PTR", {"synced", "ip/10.96.0.20"}),
    ("99.99.99.99.in-addr.arpa.", "PTR", {"synced", "ip/99.99.99.99"}),
    ("10-244-1-5.shield.pod.cluster.local.", "A", {"synced", "pod/shield/10.244.1.5"}),
    ("alias.shield.svc.cluster.local.", "A", {"synced", "svc/shield/alias", "svc/shield/the-bus"}),
    ("dns-version.cluster.local.", "TXT", {"synced"}),
])
def test_depends_on_names_the_keys_read(view: ClusterView, qname: str, qtype: str, keys: set[str]) -> None:
    assert answer((qname, qtype), view).depends_on == keys


def test_headless_srv_weights_split_100() -> None:
    slices = [eps("big", "big-a", "big", [endpoint(f"10.1.{i // 250}.{i % 250}") for i in range(300)],
                  [{"name": "http", "port": 80, "protocol": "TCP"}])]
    view = ClusterView.build(services=[service("big", "big", clusterIP="None")], endpoint_slices=slices)
    response = answer(("_http._tcp.big.big.svc.cluster.local.", "SRV"), view)
    (srv,) = response.answer
    assert len(srv) == 300 and {rd.weight for rd in srv} == {0}
    assert len(answer(("big.big.svc.cluster.local.", "A"), view).answer[0]) == 300


def test_cname_loop_stops() -> None:
    view = ClusterView.build(services=[
        service("ns", "a", type="ExternalName", externalName="b.ns.svc.cluster.local"),
        service("ns", "b", type="ExternalName", externalName="a.ns.svc.cluster.local"),
    ], serial=1)
    assert render(answer(("a.ns.svc.cluster.local.", "A"), view)) == zone("""
        ;; NOERROR
        a.ns.svc.cluster.local. 5 IN CNAME b.ns.svc.cluster.local.
        b.ns.svc.cluster.local. 5 IN CNAME a.ns.svc.cluster.local.
    """)
