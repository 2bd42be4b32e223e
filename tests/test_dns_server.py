"""The DNS server on 127.0.0.1 with an in-memory view: UDP, TCP, truncation,
cache invalidation, malformed packets, upstream forwarding, and dig."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import struct
from collections.abc import AsyncIterator

import dns.asyncquery
import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from dns_objects import endpoint, eps, pod, service

from servers.dns.server import DnsServer, parse_hostport
from servers.dns.view import ClusterView

HOST = "127.0.0.1"
BIG = 300


def cluster_view(*, synced: bool = True) -> ClusterView:
    big = [endpoint(f"10.1.{i // 250}.{i % 250}", hostname=f"web-{i}") for i in range(BIG)]
    return ClusterView.build(
        services=[
            service("kube-system", "kube-dns", clusterIP="10.96.0.10",
                    ports=[{"name": "dns", "port": 53, "protocol": "UDP"}]),
            service("shield", "the-bus", clusterIP="10.96.0.20", ports=[{"name": "http", "port": 80}]),
            service("shield", "big", clusterIP="None", ports=[{"name": "http", "port": 80}]),
        ],
        endpoint_slices=[eps("shield", "big-a", "big", big, [{"name": "http", "port": 80, "protocol": "TCP"}])],
        pods=[pod("shield", "p", "10.244.0.5")],
        synced=synced,
        serial=1,
    )


@pytest.fixture
async def server() -> AsyncIterator[DnsServer]:
    async with DnsServer(cluster_view(), host=HOST, port=0) as srv:
        yield srv


async def udp(srv: DnsServer, name: str, rdtype: str = "A", **kw: object) -> dns.message.Message:
    q = dns.message.make_query(name, rdtype, **kw)  # type: ignore[arg-type]
    return await dns.asyncquery.udp(q, HOST, port=srv.port, timeout=2)


async def tcp(srv: DnsServer, name: str, rdtype: str = "A") -> dns.message.Message:
    q = dns.message.make_query(name, rdtype)
    return await dns.asyncquery.tcp(q, HOST, port=srv.port, timeout=2)


def addresses(msg: dns.message.Message) -> list[str]:
    return sorted(rd.to_text() for rrset in msg.answer for rd in rrset)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_answers_over_both_transports(server: DnsServer, transport: str) -> None:
    ask = udp if transport == "udp" else tcp
    msg = await ask(server, "the-bus.shield.svc.cluster.local.")
    assert (msg.rcode(), addresses(msg)) == (dns.rcode.NOERROR, ["10.96.0.20"])
    assert msg.flags & dns.flags.AA
    msg = await ask(server, "_http._tcp.the-bus.shield.svc.cluster.local.", "SRV")
    assert addresses(msg) == ["0 100 80 the-bus.shield.svc.cluster.local."]
    assert [rr.to_text() for rr in msg.additional] == ["the-bus.shield.svc.cluster.local. 5 IN A 10.96.0.20"]


async def test_hit_keeps_id_case_and_flags(server: DnsServer) -> None:
    for _ in range(2):  # the second one is served from the precomputed bytes
        q = dns.message.make_query("The-BUS.Shield.svc.cluster.LOCAL.", "A")
        q.flags &= ~dns.flags.RD
        msg = await dns.asyncquery.udp(q, HOST, port=server.port, timeout=2)
        assert msg.id == q.id
        assert msg.question[0].name.to_text() == "The-BUS.Shield.svc.cluster.LOCAL."
        assert msg.answer[0].name.to_text() == "The-BUS.Shield.svc.cluster.LOCAL."
        assert not msg.flags & dns.flags.RD and not msg.flags & dns.flags.RA
    q = dns.message.make_query("the-bus.shield.svc.cluster.local.", "A")
    q.flags |= dns.flags.CD
    msg = await dns.asyncquery.udp(q, HOST, port=server.port, timeout=2)
    assert msg.flags & dns.flags.RD and msg.flags & dns.flags.CD
    assert len(server.cache) == 1  # one entry whatever the case of the question


async def test_edns_is_echoed(server: DnsServer) -> None:
    msg = await udp(server, "the-bus.shield.svc.cluster.local.", use_edns=0, payload=4096, want_dnssec=True)
    assert (msg.edns, msg.payload, bool(msg.ednsflags & dns.flags.DO)) == (0, 1232, True)
    msg = await udp(server, "the-bus.shield.svc.cluster.local.", use_edns=0,
                    options=[dns.edns.GenericOption(dns.edns.OptionType.COOKIE, b"12345678")])
    assert msg.edns == 0 and addresses(msg) == ["10.96.0.20"]
    msg = await udp(server, "the-bus.shield.svc.cluster.local.")
    assert msg.edns == -1


async def test_negative_answers_carry_the_soa(server: DnsServer) -> None:
    nx = await udp(server, "nope.shield.svc.cluster.local.")
    nodata = await udp(server, "the-bus.shield.svc.cluster.local.", "TXT")
    assert (nx.rcode(), nodata.rcode()) == (dns.rcode.NXDOMAIN, dns.rcode.NOERROR)
    for msg in (nx, nodata):
        assert msg.answer == [] and [rr.rdtype for rr in msg.authority] == [dns.rdatatype.SOA]


async def test_big_headless_service_truncates_over_udp_and_is_whole_over_tcp(server: DnsServer) -> None:
    name = "big.shield.svc.cluster.local."
    for _ in range(2):  # a miss, then a hit on the precomputed bytes
        small = await udp(server, name)
        assert small.flags & dns.flags.TC and small.answer == []
        edns = await udp(server, name, use_edns=0, payload=4096)
        assert edns.flags & dns.flags.TC and edns.edns == 0
    whole = await tcp(server, name)
    assert not whole.flags & dns.flags.TC and len(addresses(whole)) == BIG
    q = dns.message.make_query("_http._tcp." + name, "SRV", use_edns=0)
    msg, used_tcp = await dns.asyncquery.udp_with_fallback(q, HOST, port=server.port, timeout=2)
    assert used_tcp and len(msg.answer[0]) == BIG and len(msg.additional) == BIG


async def test_answers_follow_view_changes_at_once(server: DnsServer) -> None:
    name = "the-bus.shield.svc.cluster.local."
    for _ in range(3):  # miss, hit on the entry, hit on the exact bytes
        assert addresses(await udp(server, name)) == ["10.96.0.20"]
    assert server.cache.exact
    server.view.set_service(service("shield", "the-bus", clusterIP="10.96.0.21"))
    assert not server.cache.exact
    assert addresses(await udp(server, name)) == ["10.96.0.21"]
    ptr = await udp(server, "21.0.96.10.in-addr.arpa.", "PTR")
    assert addresses(ptr) == [name]
    server.view.delete_service(service("shield", "the-bus"))
    assert (await udp(server, name)).rcode() == dns.rcode.NXDOMAIN
    assert (await udp(server, "21.0.96.10.in-addr.arpa.", "PTR")).rcode() == dns.rcode.REFUSED
    server.view.set_endpoint_slice(eps("shield", "big-a", "big", [endpoint("10.9.9.9")], []))
    assert addresses(await udp(server, "big.shield.svc.cluster.local.")) == ["10.9.9.9"]
    server.view.set_pod(pod("shield", "q", "10.244.0.6"))
    assert addresses(await udp(server, "10-244-0-6.shield.pod.cluster.local.")) == ["10.244.0.6"]


async def test_servfail_until_synced() -> None:
    view = cluster_view(synced=False)
    async with DnsServer(view, host=HOST, port=0) as srv:
        assert (await udp(srv, "the-bus.shield.svc.cluster.local.")).rcode() == dns.rcode.SERVFAIL
        assert (await udp(srv, "nope.shield.svc.cluster.local.")).rcode() == dns.rcode.SERVFAIL
        view.mark_synced()
        assert (await udp(srv, "the-bus.shield.svc.cluster.local.")).rcode() == dns.rcode.NOERROR
        assert (await udp(srv, "nope.shield.svc.cluster.local.")).rcode() == dns.rcode.NXDOMAIN


def _query_bytes(name: str = "the-bus.shield.svc.cluster.local.", rdtype: str = "A", **kw: object) -> bytes:
    return dns.message.make_query(name, rdtype, **kw).to_wire()  # type: ignore[arg-type]


def _two_questions() -> bytes:
    q = dns.message.make_query("a.cluster.local.", "A")
    q.question.append(dns.rrset.RRset(dns.name.from_text("b.cluster.local."), dns.rdataclass.IN, dns.rdatatype.A))
    return q.to_wire()


def _with(mutate: str) -> bytes:
    q = dns.message.make_query("the-bus.shield.svc.cluster.local.", "A")
    if mutate == "notify":
        q.set_opcode(dns.opcode.NOTIFY)
    elif mutate == "status":
        q.set_opcode(dns.opcode.STATUS)
    elif mutate == "edns1":
        q.use_edns(1)
    return q.to_wire()


def _chaos() -> bytes:
    return dns.message.make_query("version.bind.", "TXT", rdclass=dns.rdataclass.CH).to_wire()


@pytest.mark.parametrize(("packet", "rcode"), [
    (b"", None),
    (b"\x12\x34\x01", None),
    (b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", dns.rcode.FORMERR),  # QD=1, no question
    (b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05abc", dns.rcode.FORMERR),
    (_query_bytes() + b"trailing", dns.rcode.FORMERR),
    (_query_bytes()[:2] + b"\x81" + _query_bytes()[3:], None),  # QR set: a response, dropped
    (_two_questions(), dns.rcode.FORMERR),
    (_with("notify"), dns.rcode.NOTIMP),
    (_with("status"), dns.rcode.NOTIMP),
    (_with("edns1"), dns.rcode.BADVERS),
    (_chaos(), dns.rcode.REFUSED),
    (_query_bytes("cluster.local.", "AXFR"), dns.rcode.REFUSED),
])
def test_malformed_and_unsupported_packets(packet: bytes, rcode: dns.rcode.Rcode | None) -> None:
    srv = DnsServer(cluster_view(), host=HOST, port=0)
    out = srv.handle(packet, tcp=False)
    if rcode is None:
        assert out is None
        return
    assert isinstance(out, bytes)
    msg = dns.message.from_wire(out)
    assert msg.rcode() == rcode and msg.flags & dns.flags.QR
    assert msg.id == struct.unpack("!H", packet[:2])[0]


async def test_survives_10000_random_packets(server: DnsServer) -> None:
    rng = random.Random(6)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, remote_addr=(HOST, server.port))
    valid = _query_bytes()
    try:
        for i in range(10_000):
            if i % 2:
                packet = rng.randbytes(rng.randrange(0, 600))
            else:  # mutate a valid query: these get past the header checks
                mutated = bytearray(valid)
                for _ in range(rng.randrange(1, 6)):
                    mutated[rng.randrange(len(mutated))] = rng.randrange(256)
                packet = bytes(mutated[: rng.randrange(len(mutated) + 1)])
            transport.sendto(packet)
            if i % 200 == 0:
                await asyncio.sleep(0)
    finally:
        transport.close()
    for _ in range(3):  # garbage over TCP too
        _, writer = await asyncio.open_connection(HOST, server.port)
        writer.write(rng.randbytes(3000))
        await writer.drain()
        writer.close()
    # The flood still fills the socket buffer, where the kernel drops what does not fit:
    # retry as a resolver would until the backlog is drained.
    q = dns.message.make_query("the-bus.shield.svc.cluster.local.", "A")
    for _ in range(30):
        try:
            msg = await dns.asyncquery.udp(q, HOST, port=server.port, timeout=1)
            break
        except dns.exception.Timeout:
            continue
    assert addresses(msg) == ["10.96.0.20"]
    assert addresses(await tcp(server, "the-bus.shield.svc.cluster.local.")) == ["10.96.0.20"]


async def test_tcp_connection_serves_several_queries(server: DnsServer) -> None:
    reader, writer = await asyncio.open_connection(HOST, server.port)
    try:
        for qid in (1, 2, 3):
            q = dns.message.make_query("the-bus.shield.svc.cluster.local.", "A", id=qid).to_wire()
            writer.write(len(q).to_bytes(2, "big") + q)
        await writer.drain()
        for qid in (1, 2, 3):
            size = int.from_bytes(await reader.readexactly(2), "big")
            assert dns.message.from_wire(await reader.readexactly(size)).id == qid
    finally:
        writer.close()


# ---- forwarding ----------------------------------------------------------------------


class Upstream:
    """A tiny authoritative server for example.com on loopback (UDP and TCP)."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.port = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None

    def reply(self, data: bytes) -> bytes:
        q = dns.message.from_wire(data)
        self.seen.append(q.question[0].name.to_text())
        r = dns.message.make_response(q)
        r.flags |= dns.flags.RA
        name = q.question[0].name
        if name == dns.name.from_text("www.example.com."):
            r.answer.append(dns.rrset.from_text(name, 60, "IN", "A", "192.0.2.53"))
        elif name == dns.name.from_text("many.example.com."):
            r.answer.append(dns.rrset.from_text_list(name, 60, "IN", "A", [f"192.0.2.{i}" for i in range(100)]))
        else:
            r.set_rcode(dns.rcode.NXDOMAIN)
        return r.to_wire()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        outer = self

        class Proto(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                self.transport.sendto(outer.reply(data), addr)  # type: ignore[attr-defined]

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            size = int.from_bytes(await reader.readexactly(2), "big")
            out = self.reply(await reader.readexactly(size))
            writer.write(len(out).to_bytes(2, "big") + out)
            await writer.drain()
            writer.close()

        # A free UDP port may be taken for TCP (e.g. by an outgoing connection): try another.
        for _ in range(20):
            self._udp, _ = await loop.create_datagram_endpoint(Proto, local_addr=(HOST, 0))
            self.port = self._udp.get_extra_info("socket").getsockname()[1]
            try:
                self._tcp = await asyncio.start_server(serve, HOST, self.port)
                return
            except OSError:
                self._udp.close()
        raise OSError("no port free for both UDP and TCP")

    def stop(self) -> None:
        assert self._udp is not None and self._tcp is not None
        self._udp.close()
        self._tcp.close()


async def test_forwards_out_of_zone_names_to_the_upstream() -> None:
    upstream = Upstream()
    await upstream.start()
    try:
        async with DnsServer(cluster_view(), host=HOST, port=0, upstream=f"{HOST}:{upstream.port}") as srv:
            msg = await udp(srv, "www.example.com.")
            assert addresses(msg) == ["192.0.2.53"] and msg.flags & dns.flags.RA
            assert addresses(await tcp(srv, "www.example.com.")) == ["192.0.2.53"]
            assert (await udp(srv, "nope.example.com.")).rcode() == dns.rcode.NXDOMAIN
            assert (await udp(srv, "99.99.99.99.in-addr.arpa.", "PTR")).rcode() == dns.rcode.NXDOMAIN
            assert "99.99.99.99.in-addr.arpa." in upstream.seen
            big = await udp(srv, "many.example.com.")
            assert big.flags & dns.flags.TC
            assert len(addresses(await tcp(srv, "many.example.com."))) == 100
            # in-zone names never go upstream, and get RA since we recurse for others
            seen = len(upstream.seen)
            local = await udp(srv, "the-bus.shield.svc.cluster.local.")
            assert addresses(local) == ["10.96.0.20"] and local.flags & dns.flags.RA
            assert (await udp(srv, "nope.cluster.local.")).rcode() == dns.rcode.NXDOMAIN
            assert len(upstream.seen) == seen
    finally:
        upstream.stop()


async def test_dead_upstream_gives_servfail() -> None:
    upstream = Upstream()
    await upstream.start()
    upstream.stop()  # nothing listens on that port now
    async with DnsServer(cluster_view(), host=HOST, port=0, upstream=f"{HOST}:{upstream.port}",
                         upstream_timeout=0.3) as srv:
        assert (await udp(srv, "www.example.com.")).rcode() == dns.rcode.SERVFAIL
        assert (await tcp(srv, "www.example.com.")).rcode() == dns.rcode.SERVFAIL


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:53", ("127.0.0.1", 53)),
    ("127.0.0.1", ("127.0.0.1", 53)),
    ("[::1]:5353", ("::1", 5353)),
    ("::1", ("::1", 53)),
])
def test_parse_hostport(text: str, expected: tuple[str, int]) -> None:
    assert parse_hostport(text) == expected


# ---- dig --------------------------------------------------------------------------------

DIG = shutil.which("dig")
needs_dig = pytest.mark.skipif(DIG is None and os.environ.get("KUBELITE_REQUIRE_DIG") != "1",
                               reason="dig (bind9-dnsutils) is not installed")


async def dig(srv: DnsServer, *args: str) -> list[str]:
    assert DIG is not None, "dig is required (KUBELITE_REQUIRE_DIG=1)"
    proc = await asyncio.create_subprocess_exec(
        DIG, f"@{HOST}", "-p", str(srv.port), "+short", "+tries=1", "+time=2", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return sorted(line for line in out.decode().splitlines() if line)


@needs_dig
async def test_dig(server: DnsServer) -> None:
    assert await dig(server, "the-bus.shield.svc.cluster.local") == ["10.96.0.20"]
    assert await dig(server, "SRV", "_http._tcp.the-bus.shield.svc.cluster.local") == [
        "0 100 80 the-bus.shield.svc.cluster.local."]
    assert await dig(server, "-x", "10.96.0.10") == ["kube-dns.kube-system.svc.cluster.local."]
    assert await dig(server, "TXT", "dns-version.cluster.local") == ['"1.1.0"']
    # dig gets TC over UDP and retries over TCP by itself
    assert len(await dig(server, "big.shield.svc.cluster.local")) == BIG
    assert len(await dig(server, "+noedns", "SRV", "_http._tcp.big.shield.svc.cluster.local")) == BIG
