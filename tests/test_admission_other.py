"""Admission for Namespace, Endpoints, Node, Event, EndpointSlice, Lease, IPAddress, ServiceCIDR."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from apimachinery.resources import RESOURCES
from apiserver.admission import ADMISSION, Admission

LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


def errors(key: str, obj: dict[str, Any]) -> list[str]:
    return [str(e) for e in ADMISSION[key].admit_create(obj)]


def update_errors(key: str, new: dict[str, Any], old: dict[str, Any]) -> list[str]:
    return [str(e) for e in ADMISSION[key].admit_update(new, old)]


def test_every_resource_has_an_admission() -> None:
    assert set(ADMISSION) == {r.key for r in RESOURCES}
    assert all(isinstance(a, Admission) and a.resource.key == k for k, a in ADMISSION.items())


# -- Namespace --------------------------------------------------------------


def test_namespace_defaults_and_finalizer() -> None:
    ns: dict[str, Any] = {"metadata": {"name": "team-a"}}
    assert errors("namespaces", ns) == []
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team-a"}
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    assert ns["status"] == {"phase": "Active"}


@pytest.mark.parametrize(("obj", "expected"), [
    ({"metadata": {"name": "team.a"}}, ['metadata.name: Invalid value: "team.a": must not contain dots']),
    ({"metadata": {"name": "a", "namespace": "b"}}, ["metadata.namespace: Forbidden: not allowed on this type"]),
    ({"metadata": {"name": "a"}, "spec": {"finalizers": ["custom"]}},
     ['spec.finalizers: Invalid value: "custom": name is neither a standard finalizer name nor is it fully '
      "qualified"]),
])
def test_namespace_messages(obj: dict[str, Any], expected: list[str]) -> None:
    assert errors("namespaces", obj) == expected


# -- Endpoints --------------------------------------------------------------


def endpoints(subsets: list[Any]) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": "default"}, "subsets": subsets}


@pytest.mark.parametrize(("subsets", "expected"), [
    ([{"addresses": [{"ip": "10.244.0.5"}], "ports": [{"port": 8080}]}], []),
    ([{"ports": [{"port": 80}]}],
     ["subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`"]),
    ([{"addresses": [{"ip": "nope"}]}], [
        'subsets[0].addresses[0].ip: Invalid value: "nope": must be a valid IP address, (e.g. 10.9.8.7 or '
        "2001:db8::ffff)",
        'subsets[0].addresses[0].ip: Invalid value: "nope": must be a valid IP address',
    ]),
    ([{"notReadyAddresses": [{"ip": "169.254.0.1"}]}],
     ['subsets[0].notReadyAddresses[0].ip: Invalid value: "169.254.0.1": may not be in the link-local range '
      "(169.254.0.0/16, fe80::/10)"]),
    # kubelite deviation: process-runtime Pods have loopback IPs, so Endpoints may hold them
    ([{"addresses": [{"ip": "127.10.1.2"}], "ports": [{"port": 8080}]}], []),
    ([{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 0, "protocol": "ICMP"}, {"port": 1, "name": "a"}]}], [
        "subsets[0].ports[0].name: Required value",
        "subsets[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        'subsets[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
    ]),
])
def test_endpoints_messages(subsets: list[Any], expected: list[str]) -> None:
    assert errors("endpoints", endpoints(subsets)) == expected


def test_endpoints_default_protocol_and_subdomain_names() -> None:
    obj = endpoints([{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}])
    obj["metadata"]["name"] = "a.b"  # Endpoints names are subdomains, unlike their Service's
    assert errors("endpoints", obj) == []
    assert obj["subsets"][0]["ports"][0]["protocol"] == "TCP"


# -- Node -------------------------------------------------------------------


def test_node_keeps_status_on_create_and_defaults_allocatable() -> None:
    node: dict[str, Any] = {"metadata": {"name": "node-1"}, "status": {"capacity": {"cpu": "4"}}}
    assert errors("nodes", node) == []
    assert node["status"]["allocatable"] == {"cpu": "4"}


@pytest.mark.parametrize(("spec", "expected"), [
    ({"podCIDRs": ["10.244.0.0/24"]}, []),
    ({"podCIDRs": ["10.244.0.0/33"]},
     ['spec.podCIDRs[0]: Invalid value: "10.244.0.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or '
      "2001:db8::/64)"]),
    ({"taints": [{"key": "k", "effect": "Sometimes"}]},
     ['metadata.taints[0].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", '
      '"PreferNoSchedule", "NoExecute"']),
])
def test_node_messages(spec: dict[str, Any], expected: list[str]) -> None:
    assert errors("nodes", {"metadata": {"name": "node-1"}, "spec": spec}) == expected


def test_node_pod_cidr_is_fixed_once_set() -> None:
    old = {"metadata": {"name": "n", "resourceVersion": "1"}, "spec": {"podCIDRs": ["10.244.0.0/24"]}}
    new = copy.deepcopy(old)
    new["spec"] = {"podCIDRs": ["10.244.1.0/24"]}
    assert update_errors("nodes", new, old) == [
        'spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid'
    ]


# -- Event ------------------------------------------------------------------


@pytest.mark.parametrize(("event", "expected"), [
    ({"metadata": {"name": "web.17a", "namespace": "default"}, "involvedObject": {"namespace": "default"}}, []),
    ({"metadata": {"name": "web.17a", "namespace": "default"}, "involvedObject": {"namespace": "other"}},
     ['involvedObject.namespace: Invalid value: "other": does not match event.namespace']),
    ({"metadata": {"name": "a/b", "namespace": "default"}},
     ["metadata.name: Invalid value: \"a/b\": may not contain '/'"]),
    ({"metadata": {"name": "e", "namespace": "default"}, "eventTime": "2024-01-02T03:04:05.000000Z",
      "involvedObject": {"namespace": "default"}},
     ["reportingController: Required value",
      'reportingController: Invalid value: "": name part must be non-empty',
      'reportingController: Invalid value: "": name part must consist of alphanumeric characters, \'-\', \'_\' '
      "or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
      "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
      "reportingInstance: Required value", "action: Required value", "reason: Required value"]),
])
def test_event_messages(event: dict[str, Any], expected: list[str]) -> None:
    assert errors("events", event) == expected


# -- EndpointSlice ----------------------------------------------------------


def eps(**kw: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web-abc", "namespace": "default"}, "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.244.0.5"]}], "ports": [{"port": 80}], **kw}


@pytest.mark.parametrize(("obj", "expected"), [
    (eps(), []),
    (eps(addressType=None), ["addressType: Required value"]),
    (eps(addressType="IP"), ['addressType: Unsupported value: "IP": supported values: "FQDN", "IPv4", "IPv6"']),
    (eps(endpoints=[{"addresses": ["2001:db8::1"]}]),
     ['endpoints[0].addresses[0]: Invalid value: "2001:db8::1": must be a valid IPv4 address']),
    (eps(endpoints=[{"addresses": []}]), ["endpoints[0].addresses: Required value: must contain at least 1 address"]),
    (eps(addressType="FQDN", endpoints=[{"addresses": ["localhost"]}]),
     ['endpoints[0].addresses[0]: Invalid value: "localhost": should be a domain with at least two segments '
      "separated by dots"]),
    (eps(endpoints=[{"addresses": ["10.0.0.1"]}] * 1001), ["endpoints: Too many: 1001: must have at most 1000 items"]),
    (eps(ports=[{"port": 80, "name": "http"}, {"port": 81, "name": "http"}]),
     ['ports[1].name: Duplicate value: "http"']),
])
def test_endpointslice_messages(obj: dict[str, Any], expected: list[str]) -> None:
    assert errors("endpointslices.discovery.k8s.io", obj) == expected


def test_endpointslice_defaults_and_immutable_address_type() -> None:
    old = eps()
    assert errors("endpointslices.discovery.k8s.io", old) == []
    assert old["ports"] == [{"port": 80, "name": "", "protocol": "TCP"}]
    old["metadata"]["resourceVersion"] = "2"
    new = copy.deepcopy(old)
    new.update(addressType="IPv6", endpoints=[{"addresses": ["2001:db8::1"]}])
    assert update_errors("endpointslices.discovery.k8s.io", new, old) == [
        'addressType: Invalid value: "IPv6": field is immutable'
    ]


# -- Lease ------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "expected"), [
    ({"holderIdentity": "ctl-1", "leaseDurationSeconds": 15}, []),
    ({"leaseDurationSeconds": 0}, ["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]),
    ({"leaseTransitions": -1}, ["spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"]),
    ({"preferredHolder": "x"}, ["spec.preferredHolder: Forbidden: may only be specified if `strategy` is defined"]),
])
def test_lease_messages(spec: dict[str, Any], expected: list[str]) -> None:
    lease = {"metadata": {"name": "ipam", "namespace": "kube-system"}, "spec": spec}
    assert errors("leases.coordination.k8s.io", lease) == expected


# -- IPAddress --------------------------------------------------------------


def ipaddr(name: str, ref: dict[str, Any] | None) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"parentRef": ref} if ref is not None else {}}


REF = {"group": "", "resource": "services", "namespace": "default", "name": "web"}


@pytest.mark.parametrize(("obj", "expected"), [
    (ipaddr("10.96.0.10", REF), []),
    (ipaddr("10.96.0.010", REF), ['metadata.name: Invalid value: "10.96.0.010": must not have leading 0s']),
    (ipaddr("2001:db8:0:0:0:0:0:1", REF),
     ['metadata.name: Invalid value: "2001:db8:0:0:0:0:0:1": must be in canonical form ("2001:db8::1")']),
    (ipaddr("10.96.0.10", None), ["spec.parentRef: Required value"]),
    (ipaddr("10.96.0.10", {"group": ""}),
     ["spec.parentRef.resource: Required value", "spec.parentRef.name: Required value"]),
])
def test_ipaddress_messages(obj: dict[str, Any], expected: list[str]) -> None:
    assert errors("ipaddresses.networking.k8s.io", obj) == expected


def test_ipaddress_generate_name_is_not_randomised_and_parent_is_immutable() -> None:
    obj = {"metadata": {"generateName": "10.96.0."}, "spec": {"parentRef": REF}}
    assert errors("ipaddresses.networking.k8s.io", obj) == [
        'metadata.generateName: Invalid value: "10.96.0.": must be a valid IP address, (e.g. 10.9.8.7 or '
        "2001:db8::ffff)",
        'metadata.name: Invalid value: "10.96.0.": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
    ]
    old = ipaddr("10.96.0.10", REF)
    old["metadata"]["resourceVersion"] = "1"
    new = copy.deepcopy(old)
    new["spec"]["parentRef"] = dict(REF, name="other")
    assert update_errors("ipaddresses.networking.k8s.io", new, old) == [
        'spec.parentRef: Invalid value: networking.ParentReference{Group:"", Resource:"services", '
        'Namespace:"default", Name:"other"}: field is immutable'
    ]


# -- ServiceCIDR ------------------------------------------------------------


def cidr(cidrs: list[str]) -> dict[str, Any]:
    return {"metadata": {"name": "kubernetes"}, "spec": {"cidrs": cidrs}}


@pytest.mark.parametrize(("cidrs", "expected"), [
    (["10.96.0.0/12"], []),
    (["10.96.0.0/12", "fd00::/108"], []),
    ([], ["spec.cidrs: Required value: at least one CIDR required"]),
    (["10.96.0.1/12"], ['spec.cidrs[0]: Invalid value: "10.96.0.1/12": must not have bits set beyond the prefix '
                        "length"]),
    (["10.96.0.0/12", "10.100.0.0/16"],
     ['spec.cidrs: Invalid value: networking.ServiceCIDRSpec{CIDRs:[]string{"10.96.0.0/12", "10.100.0.0/16"}}: '
      "may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64"]),
    (["a", "b", "c"],
     ['spec.cidrs: Invalid value: networking.ServiceCIDRSpec{CIDRs:[]string{"a", "b", "c"}}: '
      "may only hold up to 2 values"]),
])
def test_servicecidr_messages(cidrs: list[str], expected: list[str]) -> None:
    assert errors("servicecidrs.networking.k8s.io", cidr(cidrs)) == expected


def test_servicecidr_is_immutable_and_status_is_server_owned() -> None:
    old = cidr(["10.96.0.0/12"])
    old["status"] = {"conditions": [{"type": "Ready"}]}
    assert errors("servicecidrs.networking.k8s.io", old) == []
    assert old["status"] == {}
    old["metadata"]["resourceVersion"] = "1"
    new = cidr(["10.96.0.0/16"])
    new["metadata"]["resourceVersion"] = "1"
    assert update_errors("servicecidrs.networking.k8s.io", new, old) == [
        'spec.cidrs: Invalid value: []string{"10.96.0.0/16"}: field is immutable'
    ]


def test_generic_admission_for_kubelite_types() -> None:
    extra = [r for r in RESOURCES if r.group == "kubelite.io"]
    for r in extra:
        obj = {"metadata": {"name": "Bad_Name"}}
        if r.namespaced:
            obj["metadata"]["namespace"] = "default"
        msgs = [str(e) for e in ADMISSION[r.key].admit_create(obj)]
        assert msgs and msgs[0].startswith('metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain')
