"""WireCache and Entry: splicing replies, choosing the truncated form, invalidation and the size bound."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.name
import dns.rcode
import pytest
from dns_objects import endpoint, eps, service

from servers.dns.answer import answer
from servers.dns.cache import EDNS, NO_EDNS, Entry, WireCache, question_key, render
from servers.dns.view import ClusterView

NAME = dns.name.from_text("the-bus.shield.svc.cluster.local.")


def view() -> ClusterView:
    big = [endpoint(f"10.1.0.{i}") for i in range(1, 101)]
    return ClusterView.build(services=[service("shield", "the-bus", clusterIP="10.96.0.20"),
                                       service("shield", "big", clusterIP="None")],
                             endpoint_slices=[eps("shield", "big-a", "big", big, [])])


def entry_for(name: dns.name.Name, *, variant: int = NO_EDNS) -> Entry:
    return render(answer((name, "A"), view()), name, 1, 1, variant=variant, recursion_available=False)


@pytest.mark.parametrize("qname", ["the-bus.shield.svc.cluster.local.", "THE-bus.Shield.SVC.cluster.local."])
@pytest.mark.parametrize(("rd", "cd"), [(False, False), (True, False), (False, True), (True, True)])
def test_reply_is_the_rendered_answer_with_the_query_id_case_and_flags(qname: str, rd: bool, cd: bool) -> None:
    entry = entry_for(NAME)
    q = dns.message.make_query(qname, "A")
    q.flags = (dns.flags.RD if rd else 0) | (dns.flags.CD if cd else 0)
    wire = q.to_wire()
    end = 12 + len(question_key(NAME, 1, 1))
    out = dns.message.from_wire(entry.reply(wire, end, 512, exact=wire[12:end] == question_key(NAME, 1, 1)))
    assert out.id == q.id
    assert out.question[0].name.to_text() == qname
    assert bool(out.flags & dns.flags.RD) == rd and bool(out.flags & dns.flags.CD) == cd
    assert out.flags & dns.flags.QR and out.flags & dns.flags.AA
    assert [rr.to_text().lower() for rr in out.answer] == ["the-bus.shield.svc.cluster.local. 5 in a 10.96.0.20"]


@pytest.mark.parametrize(("limit", "truncated"), [(512, True), (1232, True), (0, False), (4096, False)])
def test_reply_truncates_when_the_answer_exceeds_the_limit(limit: int, truncated: bool) -> None:
    name = dns.name.from_text("big.shield.svc.cluster.local.")
    entry = entry_for(name)
    assert 1232 < len(entry.full) < 4096  # 100 A records
    wire = dns.message.make_query(name, "A").to_wire()
    out = dns.message.from_wire(entry.reply(wire, 12 + len(question_key(name, 1, 1)), limit, exact=True))
    count = len(out.answer[0]) if out.answer else 0
    assert (bool(out.flags & dns.flags.TC), count) == (truncated, 0 if truncated else 100)


def test_edns_variant_carries_opt() -> None:
    out = dns.message.from_wire(entry_for(NAME, variant=EDNS).full)
    assert out.edns == 0 and out.payload == 1232


def test_small_entries_share_the_full_form() -> None:
    entry = entry_for(NAME)
    assert entry.truncated is entry.full and entry.plain_rest is entry.full_rest


def _entry(*deps: str) -> Entry:
    return Entry.of(b"\x00" * 12, b"\x00" * 12, frozenset(deps))


def test_invalidate_drops_exactly_the_entries_that_read_a_key() -> None:
    cache = WireCache()
    cache.put(NO_EDNS, b"a", _entry("svc/ns/a", "synced"))
    cache.put(EDNS, b"a", _entry("svc/ns/a", "synced"))
    cache.put(NO_EDNS, b"b", _entry("svc/ns/b", "synced"))
    cache.invalidate(frozenset({"svc/ns/a"}))
    assert cache.get(NO_EDNS, b"a") is None and cache.get(EDNS, b"a") is None
    assert cache.get(NO_EDNS, b"b") is not None and len(cache) == 1
    cache.invalidate(frozenset({"synced"}))
    assert len(cache) == 0 and cache.tables[NO_EDNS] == {}


def test_size_is_bounded_oldest_first() -> None:
    cache = WireCache(max_entries=3)
    for key in (b"1", b"2", b"3", b"4"):
        cache.put(NO_EDNS, key, _entry(f"k/{key.decode()}"))
    assert len(cache) == 3 and cache.get(NO_EDNS, b"1") is None and cache.get(NO_EDNS, b"4") is not None
    cache.invalidate(frozenset({"k/1"}))  # an evicted entry leaves no index behind
    assert len(cache) == 3


def test_replacing_an_entry_moves_its_dependencies() -> None:
    cache = WireCache()
    cache.put(NO_EDNS, b"a", _entry("old"))
    cache.put(NO_EDNS, b"a", _entry("new"))
    cache.invalidate(frozenset({"old"}))
    assert cache.get(NO_EDNS, b"a") is not None
    cache.invalidate(frozenset({"new"}))
    assert cache.get(NO_EDNS, b"a") is None


def test_question_key_folds_only_the_name() -> None:
    assert question_key(dns.name.from_text("A.b."), 65, 1) == question_key(dns.name.from_text("a.B."), 65, 1)
    assert question_key(dns.name.from_text("a.b."), 65, 1) != question_key(dns.name.from_text("a.b."), 97, 1)
    assert question_key(dns.name.from_text("a.b."), 1, 1) == b"\x01a\x01b\x00\x00\x01\x00\x01"


def test_rcode_survives_rendering() -> None:
    name = dns.name.from_text("nope.shield.svc.cluster.local.")
    out = dns.message.from_wire(render(answer((name, "A"), view()), name, 1, 1, variant=NO_EDNS,
                                       recursion_available=True).full)
    assert out.rcode() == dns.rcode.NXDOMAIN and out.flags & dns.flags.RA and len(out.authority) == 1


def test_exact_replies_live_and_die_with_their_entry() -> None:
    cache = WireCache()
    cache.put(NO_EDNS, b"a", _entry("svc/ns/a"))
    cache.remember((NO_EDNS, b"a"), b"query-a", b"reply-a")
    cache.remember((NO_EDNS, b"gone"), b"query-x", b"reply-x")  # no such entry: not remembered
    assert cache.exact == {b"query-a": b"reply-a"}
    cache.invalidate(frozenset({"svc/ns/a"}))
    assert cache.exact == {}


def test_exact_replies_per_entry_are_bounded() -> None:
    cache = WireCache()
    cache.put(NO_EDNS, b"a", _entry("k"))
    for i in range(20):
        cache.remember((NO_EDNS, b"a"), b"q%d" % i, b"r")
    assert len(cache.exact) == 8
