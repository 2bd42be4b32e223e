"""Precomputed wire answers, kept until the view keys behind them change.

Why: building a DNS message with a library costs tens of microseconds, which
caps a Python server at a fraction of dnsmasq's rate.  Rendering each answer
once (with dnspython) and replying by prefixing the query's ID to stored bytes
(or, when the question's letter case differs from the stored lower case,
splicing the query's question bytes in) costs about a microsecond.

Invariants:
- There is one table per EDNS variant (none, EDNS, EDNS with DO); a key is the
  question as it appears on the wire (name, type, class) with the name
  lower-cased.  Equal keys mean equal questions, so a hit needs no parse.
- An entry's bytes differ from a reply only in the ID (0), the RD/CD bits
  (precomputed for the four combinations) and the question's letter case.
- An entry is dropped as soon as any view key it was computed from changes
  (``invalidate``); the number of entries is bounded (oldest dropped first),
  so random names cannot grow memory without limit.
- ``exact`` maps the bytes of a UDP query after its ID to the bytes of our
  reply after the ID.  It is filled only from queries the fast path has
  validated and answered from an entry, and emptied with that entry, so
  equal bytes get the same (still current) reply without any parsing.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from servers.dns.answer import Response

NO_EDNS, EDNS, EDNS_DO = 0, 1, 2
VARIANTS = (NO_EDNS, EDNS, EDNS_DO)
EDNS_PAYLOAD = 1232  # what we advertise and the most we send over UDP (DNS flag day 2020)
MAX_TCP = 65535
EXACT_PER_ENTRY = 8  # exact forms (flags, letter case, EDNS size) remembered per entry

Rest = tuple[bytes, bytes, bytes, bytes]


def _rests(wire: bytes) -> Rest:
    """``wire[2:]`` with RD/CD copied from the query, indexed by ``RD | CD << 1``."""
    flags0, flags1, tail = wire[2], wire[3], wire[4:]
    return tuple(bytes((flags0 | (i & 1), flags1 | (0x10 if i & 2 else 0))) + tail
                 for i in range(4))  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Entry:
    """One precomputed response: complete, and the TC-flagged empty form for small UDP buffers."""

    full: bytes
    truncated: bytes
    deps: frozenset[str]
    full_rest: Rest
    truncated_rest: Rest
    # what a plain (512-byte) UDP client gets: full_rest when it fits, else truncated_rest
    plain_rest: Rest

    @classmethod
    def of(cls, full: bytes, truncated: bytes, deps: frozenset[str]) -> Entry:
        full_rest, truncated_rest = _rests(full), _rests(truncated)
        return cls(full, truncated, deps, full_rest, truncated_rest,
                   full_rest if len(full) <= 512 else truncated_rest)

    def reply(self, query: bytes, end: int, limit: int, *, exact: bool) -> bytes:
        """The reply to ``query`` whose question ends at ``end``; ``limit`` 0 means no size limit (TCP).

        Precondition: the query's question equals this entry's, in the same
        letter case when ``exact`` (then only the ID is spliced in).
        """
        rests = self.full_rest if not limit or len(self.full) <= limit else self.truncated_rest
        rest = rests[(query[2] & 1) | (query[3] >> 3 & 2)]
        if exact:
            return query[:2] + rest
        return query[:2] + rest[:10] + query[12:end] + rest[end - 2:]


def question_key(qname: dns.name.Name, qtype: int, qclass: int) -> bytes:
    """The cache key of a question (see the module invariant)."""
    wire = qname.canonicalize().to_wire()
    assert wire is not None  # no file given: to_wire returns the bytes
    return wire + struct.pack("!HH", qtype, qclass)


def render(
    response: Response,
    qname: dns.name.Name,
    qtype: int,
    qclass: int,
    *,
    variant: int,
    recursion_available: bool,
) -> Entry:
    """Render ``response`` with message ID 0, the question in lower case, no RD/CD."""
    msg = dns.message.Message(id=0)
    msg.flags = dns.flags.QR
    if response.authoritative:
        msg.flags |= dns.flags.AA
    if recursion_available:
        msg.flags |= dns.flags.RA
    msg.question = [dns.rrset.RRset(qname.canonicalize(), dns.rdataclass.RdataClass.make(qclass),
                                    dns.rdatatype.RdataType.make(qtype))]
    if variant != NO_EDNS:
        msg.use_edns(0, dns.flags.DO if variant == EDNS_DO else 0, payload=EDNS_PAYLOAD)
    msg.set_rcode(response.rcode)
    msg.answer = list(response.answer)
    msg.authority = list(response.authority)
    msg.additional = list(response.additional)
    try:
        full = msg.to_wire(max_size=MAX_TCP)
    except dns.exception.TooBig:
        full = _truncated(msg)
    # No UDP client gets less than 512 bytes, so small answers never need the TC form.
    truncated = full if len(full) <= 512 else _truncated(msg)
    return Entry.of(full, truncated, response.depends_on)


def _truncated(msg: dns.message.Message) -> bytes:
    """The message with every record section emptied and TC set, for dig to retry over TCP."""
    answer, authority, additional = msg.answer, msg.authority, msg.additional
    msg.answer, msg.authority, msg.additional = [], [], []
    msg.flags |= dns.flags.TC
    try:
        return msg.to_wire()
    finally:
        msg.flags &= ~dns.flags.TC
        msg.answer, msg.authority, msg.additional = answer, authority, additional


class WireCache:
    """Entries by (variant, question key), with a reverse index from view keys to entries.

    ``tables`` is read directly by the server's fast path; it is never rebound.
    """

    def __init__(self, *, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self.tables: tuple[dict[bytes, Entry], ...] = tuple({} for _ in VARIANTS)
        self._order: dict[tuple[int, bytes], None] = {}  # insertion order, for eviction
        self._by_dep: dict[str, set[tuple[int, bytes]]] = {}
        self.exact: dict[bytes, bytes] = {}
        self._exact_by_slot: dict[tuple[int, bytes], list[bytes]] = {}

    def __len__(self) -> int:
        return len(self._order)

    def get(self, variant: int, key: bytes) -> Entry | None:
        return self.tables[variant].get(key)

    def put(self, variant: int, key: bytes, entry: Entry) -> None:
        slot = (variant, key)
        self._drop(slot)
        while len(self._order) >= self.max_entries:
            self._drop(next(iter(self._order)))
        self.tables[variant][key] = entry
        self._order[slot] = None
        for dep in entry.deps:
            self._by_dep.setdefault(dep, set()).add(slot)

    def remember(self, slot: tuple[int, bytes], query_tail: bytes, reply_tail: bytes) -> None:
        """Serve ``query_tail`` (a UDP query after its ID) with ``reply_tail`` while ``slot`` lives."""
        if slot not in self._order or query_tail in self.exact:
            return
        tails = self._exact_by_slot.setdefault(slot, [])
        if len(tails) < EXACT_PER_ENTRY:
            tails.append(query_tail)
            self.exact[query_tail] = reply_tail

    def invalidate(self, deps: frozenset[str]) -> None:
        """Drop every entry computed from any of ``deps``."""
        for dep in deps:
            for slot in self._by_dep.pop(dep, ()):
                self._drop(slot)

    def clear(self) -> None:
        for table in self.tables:
            table.clear()
        self._order.clear()
        self._by_dep.clear()
        self.exact.clear()
        self._exact_by_slot.clear()

    def _drop(self, slot: tuple[int, bytes]) -> None:
        entry = self.tables[slot[0]].pop(slot[1], None)
        if entry is None:
            return
        del self._order[slot]
        for tail in self._exact_by_slot.pop(slot, ()):
            del self.exact[tail]
        for dep in entry.deps:
            slots = self._by_dep.get(dep)
            if slots is not None:
                slots.discard(slot)
                if not slots:
                    del self._by_dep[dep]
