"""The DNS server: UDP and TCP on one address, answering from precomputed wire bytes.

Why this shape: a query that hits the cache is served without parsing it
with a library.  The fast path only slices the header and the question (to
form the cache key, see cache.py) and prefixes the query's ID to the stored
response (splicing in the question when its letter case differs); a UDP
query byte-identical to an earlier one but for its ID is answered with one
dict lookup (``WireCache.exact``).  Everything else (EDNS options, malformed
packets, other opcodes, misses) goes through dnspython.  UDP is read from a
non-blocking socket that
the event loop drains up to ``UDP_BATCH`` datagrams per wake-up, which keeps
asyncio's per-datagram overhead out of the hot path while informers and TCP
clients share the same loop (one thread: no locking around the view).

Protocol rules:
- UDP answers larger than the client's buffer (512 bytes, or its EDNS size
  capped at 1232) are sent empty with TC set, so the client retries over TCP.
- Until the view has synced, in-zone names get SERVFAIL (answer.py).
- A packet that does not parse gets FORMERR when it has a whole header,
  otherwise it is dropped; responses (QR set) are dropped; other opcodes get
  NOTIMP; an EDNS version above 0 gets BADVERS.  Nothing a client sends can
  raise out of the handlers.
- Names that are not ours (``Response.fallthrough``) go to the upstream when
  one is configured (over the client's transport), else REFUSED.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from servers.dns.answer import answer
from servers.dns.cache import (
    EDNS,
    EDNS_DO,
    EDNS_PAYLOAD,
    MAX_TCP,
    NO_EDNS,
    WireCache,
    question_key,
    render,
)
from servers.dns.view import ClusterView

log = logging.getLogger(__name__)

_PLAIN = b"\x00\x01\x00\x00\x00\x00\x00\x00"  # QD=1 AN=0 NS=0 AR=0
_WITH_OPT = b"\x00\x01\x00\x00\x00\x00\x00\x01"  # QD=1 AN=0 NS=0 AR=1
_OPT_TYPE = b"\x00\x29"
_TCP_IDLE = 10.0
UDP_BATCH = 256  # datagrams handled per loop wake-up before yielding to other work
MAX_FORWARDS = 1000  # concurrent upstream queries; more are dropped (clients retry)


def parse_hostport(value: str, *, default_port: int = 53) -> tuple[str, int]:
    """``HOST[:PORT]`` or ``[V6]:PORT`` -> (host, port)."""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else default_port
    if value.count(":") == 1:
        host, port = value.split(":")
        return host, int(port)
    return value, default_port


@dataclass(frozen=True)
class _Forward:
    """A query to relay to the upstream; ``limit`` is the client's UDP size (0 on TCP)."""

    query: dns.message.Message
    limit: int


class DnsServer:
    """Serves ``view`` on ``host:port`` over UDP and TCP."""

    def __init__(
        self,
        view: ClusterView,
        *,
        host: str = "127.0.0.1",
        port: int = 5353,
        upstream: str | None = None,
        upstream_timeout: float = 2.0,
        cache_size: int = 100_000,
    ) -> None:
        self.view = view
        self.host = host
        self.port = port
        self.upstream = parse_hostport(upstream) if upstream else None
        self.upstream_timeout = upstream_timeout
        self.cache = WireCache(max_entries=cache_size)
        view.subscribe(self.cache.invalidate)
        self._udp: socket.socket | None = None
        self._tcp: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    # ---- lifecycle -----------------------------------------------------------

    async def start(self) -> int:
        """Bind UDP and TCP on the same port (a free one when port is 0); return it."""
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        for _ in range(20):
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                sock.setblocking(False)
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
                sock.bind((self.host, self.port))
                port = int(sock.getsockname()[1])
                self._tcp = await asyncio.start_server(self._serve_tcp, self.host, port, reuse_address=True)
            except OSError as exc:
                sock.close()
                if self.port == 0 and exc.errno == errno.EADDRINUSE:
                    continue
                raise
            self._udp = sock
            loop.add_reader(sock.fileno(), self._udp_ready)
            self.port = port
            log.info("dns: serving %s on %s:%d (udp+tcp)", self.view.zone, self.host, port)
            return port
        raise OSError(errno.EADDRINUSE, "no free port for both UDP and TCP")

    async def stop(self) -> None:
        if self._udp is not None:
            asyncio.get_running_loop().remove_reader(self._udp.fileno())
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tcp is not None:
            await self._tcp.wait_closed()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def __aenter__(self) -> DnsServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- query handling ------------------------------------------------------

    def fast(self, data: bytes, *, tcp: bool) -> bytes | None:
        """The reply from the cache without parsing, or None to take the slow path."""
        hit = self._lookup(data, tcp=tcp)
        return hit[0] if hit is not None else None

    def _lookup(self, data: bytes, *, tcp: bool) -> tuple[bytes, tuple[int, bytes]] | None:
        """``fast``'s reply and the cache slot it came from."""
        if len(data) < 17 or data[2] & 0xF8:  # QR=0, opcode QUERY
            return None
        end = data.find(b"\x00", 12) + 5
        if end < 17:
            return None
        counts = data[4:12]
        if counts == _PLAIN:
            if end != len(data):
                return None
            variant, limit = NO_EDNS, 512
        elif counts == _WITH_OPT:
            opt = data[end:end + 11]
            if len(opt) != 11 or opt[0] or opt[1:3] != _OPT_TYPE or opt[5] or opt[6]:
                return None  # not a bare OPT, or extended rcode/version set
            if opt[9] or opt[10] or end + 11 != len(data):
                return None  # EDNS options (cookies...): let dnspython validate them
            variant = EDNS_DO if opt[7] & 0x80 else EDNS
            limit = max(512, min(opt[3] << 8 | opt[4], EDNS_PAYLOAD))
        else:
            return None
        table = self.cache.tables[variant]
        question = data[12:end]
        entry = table.get(question)
        exact = entry is not None
        if entry is None:
            question = question[:-4].lower() + question[-4:]
            entry = table.get(question)
            if entry is None:
                return None
        return entry.reply(data, end, 0 if tcp else limit, exact=exact), (variant, question)

    def slow(self, data: bytes, *, tcp: bool) -> bytes | _Forward | None:
        """Parse with dnspython; answer, refuse, forward or reject the query."""
        try:
            query = dns.message.from_wire(data)
        except dns.message.ShortHeader:
            return None
        except Exception:  # any malformation: FORMERR keyed to the query ID
            return _error(int.from_bytes(data[:2], "big"), dns.rcode.FORMERR, data[2] & 0x79)
        if query.flags & dns.flags.QR:
            return None
        if query.opcode() != dns.opcode.QUERY:
            return _reply(query, dns.rcode.NOTIMP)
        if len(query.question) != 1:
            return _reply(query, dns.rcode.FORMERR)
        if query.edns > 0:
            return _reply(query, dns.rcode.BADVERS)
        rrset = query.question[0]
        qname, qtype, qclass = rrset.name, rrset.rdtype, rrset.rdclass
        if qclass not in (dns.rdataclass.IN, dns.rdataclass.ANY):
            return _reply(query, dns.rcode.REFUSED)
        if qtype in (dns.rdatatype.AXFR, dns.rdatatype.IXFR, dns.rdatatype.OPT):
            return _reply(query, dns.rcode.REFUSED if qtype != dns.rdatatype.OPT else dns.rcode.FORMERR)
        variant = NO_EDNS if query.edns < 0 else EDNS_DO if query.ednsflags & dns.flags.DO else EDNS
        limit = 0 if tcp else 512 if query.edns < 0 else max(512, min(query.payload, EDNS_PAYLOAD))
        key = question_key(qname, qtype, qclass)
        entry = self.cache.get(variant, key)
        if entry is None:
            response = answer((qname, qtype), self.view)
            if response.fallthrough and self.upstream is not None:
                return _Forward(query, limit)
            entry = render(response, qname, qtype, qclass, variant=variant,
                           recursion_available=self.upstream is not None)
            self.cache.put(variant, key, entry)
        end = 12 + len(key)  # the question is never compressed: it starts the message
        return entry.reply(data, end, limit, exact=data[12:end] == key)

    def handle(self, data: bytes, *, tcp: bool) -> bytes | _Forward | None:
        """One packet in, at most one reply out; never raises."""
        try:
            out = self.fast(data, tcp=tcp)
        except Exception:
            out = None
        return out if out is not None else self.safe_slow(data, tcp=tcp)

    def safe_slow(self, data: bytes, *, tcp: bool) -> bytes | _Forward | None:
        """``slow``, answering SERVFAIL (or nothing) if it fails."""
        try:
            return self.slow(data, tcp=tcp)
        except Exception:
            log.exception("dns: failed to answer a %d-byte packet", len(data))
            if len(data) >= 12:
                return _error(int.from_bytes(data[:2], "big"), dns.rcode.SERVFAIL, data[2] & 0x79)
            return None

    async def forward(self, fwd: _Forward) -> bytes | None:
        """Relay to the upstream; SERVFAIL when it fails, TC when it does not fit."""
        assert self.upstream is not None
        host, port = self.upstream
        query = fwd.query
        try:
            if fwd.limit:
                reply = await dns.asyncquery.udp(query, host, port=port, timeout=self.upstream_timeout,
                                                 ignore_unexpected=True)
            else:
                reply = await dns.asyncquery.tcp(query, host, port=port, timeout=self.upstream_timeout)
            return reply.to_wire(max_size=fwd.limit or MAX_TCP)
        except dns.exception.TooBig:
            out = dns.message.make_response(query)
            out.flags |= dns.flags.TC | dns.flags.RA
            return out.to_wire()
        except Exception as exc:
            log.warning("dns: upstream %s:%d failed for %s: %s", host, port, query.question, exc)
            return _reply(query, dns.rcode.SERVFAIL)

    # ---- transports ----------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _forward_udp(self, fwd: _Forward, addr: Any) -> None:
        out = await self.forward(fwd)
        if out is not None and self._udp is not None:
            with contextlib.suppress(OSError):
                self._udp.sendto(out, addr)

    def _udp_ready(self) -> None:
        """Drain up to UDP_BATCH datagrams; replies that do not fit the socket buffer are dropped.

        This loop is the server's hot path.  A datagram whose bytes after the
        ID were seen before is answered from ``cache.exact`` with one dict
        lookup; otherwise ``_lookup`` (and on a hit, ``remember`` for next
        time), otherwise the slow path.
        """
        sock = self._udp
        if sock is None:
            return
        recvfrom, sendto = sock.recvfrom, sock.sendto
        exact = self.cache.exact
        for _ in range(UDP_BATCH):
            try:
                data, addr = recvfrom(4096)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. an ICMP error reported on the socket
                log.debug("dns: udp receive error: %s", exc)
                continue
            tail = exact.get(data[2:])
            if tail is not None:
                try:
                    sendto(data[:2] + tail, addr)
                except OSError:
                    pass
                continue
            out: bytes | _Forward | None
            try:
                hit = self._lookup(data, tcp=False)
            except Exception:
                hit = None
            if hit is not None:
                out = hit[0]
                self.cache.remember(hit[1], data[2:], out[2:])
            else:
                out = self.safe_slow(data, tcp=False)
                if out is None:
                    continue
                if isinstance(out, _Forward):
                    if len(self._tasks) < MAX_FORWARDS:
                        self.spawn(self._forward_udp(out, addr))
                    continue
            try:
                sendto(out, addr)
            except OSError:
                pass

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                async with asyncio.timeout(_TCP_IDLE):  # not wait_for: it can swallow a cancel (3.11)
                    size = int.from_bytes(await reader.readexactly(2), "big")
                async with asyncio.timeout(_TCP_IDLE):
                    data = await reader.readexactly(size)
                out = self.handle(data, tcp=True)
                if isinstance(out, _Forward):
                    out = await self.forward(out)
                if out is None:
                    break
                writer.write(len(out).to_bytes(2, "big") + out)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


def _reply(query: dns.message.Message, rcode: dns.rcode.Rcode) -> bytes:
    out = dns.message.make_response(query)
    if rcode > 15 and out.edns < 0:
        out.use_edns(0, payload=EDNS_PAYLOAD)
    out.set_rcode(rcode)
    return out.to_wire()


def _error(qid: int, rcode: dns.rcode.Rcode, flags: int) -> bytes:
    """A header-only error reply for a query dnspython could not parse."""
    out = dns.message.Message(id=qid)
    out.flags = dns.flags.QR | ((flags & 0x79) << 8)  # keep opcode and RD
    out.set_rcode(rcode)
    return out.to_wire()
