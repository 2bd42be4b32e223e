"""ClusterView: object reduction, readiness and the dependency keys each mutation reports.

The keys matter: the server keeps a precomputed answer until one of the keys
it read is reported, so a missing key here is a stale DNS answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from dns_objects import endpoint, eps, pod, service

from servers.dns.answer import answer
from servers.dns.view import ClusterView, Endpoint, service_entry, slice_entry

Mutation = Callable[[ClusterView], None]


def seeded() -> tuple[ClusterView, list[frozenset[str]]]:
    view = ClusterView.build(
        services=[service("shield", "the-bus", clusterIP="10.96.0.20"),
                  service("shield", "db", clusterIP="None")],
        endpoint_slices=[eps("shield", "db-a", "db", [endpoint("10.244.1.5")], [])],
        pods=[pod("shield", "p", "10.244.1.5")],
    )
    seen: list[frozenset[str]] = []
    view.subscribe(seen.append)
    return view, seen


MUTATIONS: list[tuple[str, Mutation, set[str]]] = [
    ("new service in a new namespace",
     lambda v: v.set_service(service("new", "s", clusterIP="10.96.0.99")),
     {"svc/new/s", "ns/new", "ip/10.96.0.99"}),
    ("service ClusterIP changes",
     lambda v: v.set_service(service("shield", "the-bus", clusterIP="10.96.0.21")),
     {"svc/shield/the-bus", "ip/10.96.0.20", "ip/10.96.0.21"}),
    ("service deleted, namespace still has objects",
     lambda v: v.delete_service(service("shield", "the-bus")),
     {"svc/shield/the-bus", "ip/10.96.0.20"}),
    ("headless service update touches its endpoint PTRs",
     lambda v: v.set_service(service("shield", "db", clusterIP="None", publishNotReadyAddresses=True)),
     {"svc/shield/db", "ip/10.244.1.5"}),
    ("slice gains an endpoint",
     lambda v: v.set_endpoint_slice(eps("shield", "db-a", "db", [endpoint("10.244.1.5"), endpoint("10.244.1.6")],
                                        [])),
     {"svc/shield/db", "ip/10.244.1.5", "ip/10.244.1.6"}),
    ("slice moves to another service",
     lambda v: v.set_endpoint_slice(eps("shield", "db-a", "other", [endpoint("10.244.1.5")], [])),
     {"svc/shield/db", "svc/shield/other", "ip/10.244.1.5"}),
    ("slice deleted",
     lambda v: v.delete_endpoint_slice(eps("shield", "db-a", "db", [], [])),
     {"svc/shield/db", "ip/10.244.1.5"}),
    ("pod IP changes",
     lambda v: v.set_pod(pod("shield", "p", "10.244.1.9")),
     {"pod/shield/10.244.1.5", "pod/shield/10.244.1.9"}),
    ("pod terminating loses its record",
     lambda v: v.set_pod({**pod("shield", "p", "10.244.1.5"),
                          "metadata": {"name": "p", "namespace": "shield", "deletionTimestamp": "2024-01-01T00:00:00Z"}}),
     {"pod/shield/10.244.1.5"}),
    ("namespace object for an empty namespace",
     lambda v: v.set_namespace({"metadata": {"name": "quiet"}}),
     {"ns/quiet"}),
    ("namespace object for a namespace that already has objects",
     lambda v: v.set_namespace({"metadata": {"name": "shield"}}),
     set()),
    ("sync",
     lambda v: v.mark_synced(),
     {"synced"}),
]


@pytest.mark.parametrize(("mutation", "keys"), [(m, k) for _, m, k in MUTATIONS], ids=[n for n, _, _ in MUTATIONS])
def test_mutation_reports_keys(mutation: Mutation, keys: set[str]) -> None:
    view, seen = seeded()
    mutation(view)
    assert set().union(*seen) == keys


def test_deleting_unknown_objects_reports_nothing() -> None:
    view, seen = seeded()
    view.delete_service(service("x", "y"))
    view.delete_endpoint_slice(eps("x", "y", "y", [], []))
    view.delete_pod(pod("x", "y", "10.0.0.1"))
    view.delete_namespace({"metadata": {"name": "x"}})
    assert seen == []


def test_namespace_exists_while_any_object_lives_in_it() -> None:
    view, seen = seeded()
    view.delete_service(service("shield", "the-bus"))
    view.delete_service(service("shield", "db"))
    view.delete_endpoint_slice(eps("shield", "db-a", "db", [], []))
    assert view.namespace_exists("shield")
    view.delete_pod(pod("shield", "p", "10.244.1.5"))
    assert not view.namespace_exists("shield")
    assert "ns/shield" in seen[-1]


def test_every_answer_key_is_reported_by_the_change_that_alters_it() -> None:
    """Property: the answer changes only if a reported key is one it depends on."""
    view, seen = seeded()
    questions = [("the-bus.shield.svc.cluster.local.", "A"), ("db.shield.svc.cluster.local.", "A"),
                 ("20.0.96.10.in-addr.arpa.", "PTR"), ("5.1.244.10.in-addr.arpa.", "PTR"),
                 ("10-244-1-5.shield.pod.cluster.local.", "A"), ("new.svc.cluster.local.", "A")]
    for _, mutation, _ in MUTATIONS:
        before = {q: answer(q, view) for q in questions}
        seen.clear()
        mutation(view)
        changed = set().union(*seen)
        for q, old in before.items():
            new = answer(q, view)
            if (old.rcode, old.answer) != (new.rcode, new.answer):
                assert old.depends_on & changed, (q, mutation)


@pytest.mark.parametrize(("spec", "kind", "ips"), [
    ({"clusterIP": "10.96.0.1"}, "ClusterIP", ("10.96.0.1",)),
    ({"clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1", "FD00::0001"]}, "ClusterIP", ("10.96.0.1", "fd00::1")),
    ({"clusterIP": "None", "clusterIPs": ["None"]}, "Headless", ()),
    ({}, "Pending", ()),
    ({"clusterIP": ""}, "Pending", ()),
    ({"type": "ExternalName", "externalName": "Example.COM."}, "ExternalName", ()),
    ({"type": "NodePort", "clusterIP": "10.96.0.2"}, "ClusterIP", ("10.96.0.2",)),
])
def test_service_kinds(spec: dict[str, Any], kind: str, ips: tuple[str, ...]) -> None:
    entry = service_entry(service("ns", "s", **spec))
    assert (entry.kind, entry.ips) == (kind, ips)


def test_external_name_is_lowercased_without_trailing_dot() -> None:
    assert service_entry(service("ns", "s", type="ExternalName", externalName="Example.COM.")).external_name == (
        "example.com")


@pytest.mark.parametrize(("ep", "expected"), [
    (endpoint("10.0.0.1"), [Endpoint("10.0.0.1", "", True)]),
    (endpoint("10.0.0.1", ready=None), [Endpoint("10.0.0.1", "", True)]),
    (endpoint("10.0.0.1", ready=False), [Endpoint("10.0.0.1", "", False)]),
    (endpoint("10.0.0.1", hostname="Web-0"), [Endpoint("10.0.0.1", "Web-0", True)]),
    (endpoint("not-an-ip"), []),
])
def test_slice_endpoints(ep: dict[str, Any], expected: list[Endpoint]) -> None:
    assert list(slice_entry(eps("ns", "s", "svc", [ep], [])).endpoints) == expected


def test_fqdn_slices_carry_no_endpoints() -> None:
    assert slice_entry(eps("ns", "s", "svc", [endpoint("10.0.0.1")], [], "FQDN")).endpoints == ()


@pytest.mark.parametrize(("ep", "label"), [
    (Endpoint("10.0.0.1", "", True), "10-0-0-1"),
    (Endpoint("fd00::1", "", True), "fd00--1"),
    (Endpoint("10.0.0.1", "Web-0", True), "web-0"),
])
def test_endpoint_label(ep: Endpoint, label: str) -> None:
    assert ep.label == label


@pytest.mark.parametrize("options", [{"pods_mode": "sometimes"}, {"ttl": -1}])
def test_bad_options_are_rejected(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ClusterView(**options)
