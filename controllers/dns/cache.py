"""Precomputed wire answers, kept until the view keys behind them change.

Why: building a DNS message with a library costs tens of microseconds, which
caps a Python server at a fraction of dnsmasq's rate.  Rendering each answer
once (with dnspython) and replying by splicing the query's ID, RD/CD bits and
question bytes (only the letter case may differ) into the stored bytes costs
about one microsecond.

Invariants:
- A key is the question as it appears on the wire with the name lower-cased
  (type and class untouched) plus one EDNS variant byte: 0 no EDNS, 1 EDNS,
  2 EDNS with DO.  Equal keys mean equal questions, so a hit needs no parse.
- An entry is dropped as soon as any view key it was computed from changes
  (``invalidate``); the number of entries is bounded (oldest dropped first),
  so random names cannot grow memory without limit.
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

from controllers.dns.answer import Response

NO_EDNS, EDNS, EDNS_DO = 0, 1, 2
EDNS_PAYLOAD = 1232  # what we advertise and the most we send over UDP (DNS flag day 2020)
MAX_TCP = 65535


@dataclass(frozen=True, slots=True)
class Entry:
    """One precomputed response: complete, and the TC-flagged empty form for small UDP buffers."""

    full: bytes
    truncated: bytes
    deps: frozenset[str]


def question_key(qname: dns.name.Name, qtype: int, qclass: int, variant: int) -> bytes:
    """The cache key of a question (see the module invariant)."""
    wire = qname.canonicalize().to_wire()
    assert wire is not None  # no file given: to_wire returns the bytes
    return wire + struct.pack("!HHB", qtype, qclass, variant)


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
    return Entry(full, truncated, response.depends_on)


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
    """Entries by question key, with a reverse index from view keys to entries."""

    def __init__(self, *, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self.entries: dict[bytes, Entry] = {}
        self._by_dep: dict[str, set[bytes]] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, key: bytes) -> Entry | None:
        return self.entries.get(key)

    def put(self, key: bytes, entry: Entry) -> None:
        if key in self.entries:
            self._drop(key)
        while len(self.entries) >= self.max_entries:
            self._drop(next(iter(self.entries)))
        self.entries[key] = entry
        for dep in entry.deps:
            self._by_dep.setdefault(dep, set()).add(key)

    def invalidate(self, deps: frozenset[str]) -> None:
        """Drop every entry computed from any of ``deps``."""
        for dep in deps:
            for key in self._by_dep.pop(dep, ()):
                self._drop(key)

    def clear(self) -> None:
        self.entries.clear()
        self._by_dep.clear()

    def _drop(self, key: bytes) -> None:
        entry = self.entries.pop(key, None)
        if entry is None:
            return
        for dep in entry.deps:
            keys = self._by_dep.get(dep)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_dep[dep]
