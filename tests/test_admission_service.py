"""Service admission: kube-apiserver's defaults and exact 422 messages."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from apimachinery import ledger
from apimachinery.errors import invalid, invalid_object
from apimachinery.ledger import Reason, ip_refusal_detail, port_refusal_detail
from apiserver.admission import ADMISSION
from apiserver.admission.service import ServiceAdmission

SVC = ADMISSION["services"]
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def service(spec: dict[str, Any] | None = None, name: str = "web") -> dict[str, Any]:
    base = {"selector": {"app": "web"}, "ports": [{"port": 80}]}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {**base, **(spec or {})}}


def create_errors(obj: dict[str, Any]) -> list[str]:
    return [str(e) for e in SVC.admit_create(obj)]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, []),
        ({"ports": []}, ["spec.ports: Required value"]),
        ({"ports": [{"port": 0}]}, [
            "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
            "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
        ]),
        ({"ports": [{"port": 70000, "targetPort": 80}]},
         ["spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"]),
        ({"type": "Foo"}, ['spec.type: Unsupported value: "Foo": supported values: "ClusterIP", "ExternalName", '
                           '"LoadBalancer", "NodePort"']),
        ({"ports": [{"port": 80, "protocol": "HTTP"}]},
         ['spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"']),
        ({"ports": [{"port": 80, "nodePort": 30080}]},
         ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]),
        ({"ports": [{"port": 80}, {"port": 443}]},
         ["spec.ports[0].name: Required value", "spec.ports[1].name: Required value"]),
        ({"ports": [{"port": 80, "name": "http"}, {"port": 81, "name": "http"}]},
         ['spec.ports[1].name: Duplicate value: "http"']),
        ({"ports": [{"port": 80, "name": "a"}, {"port": 80, "name": "b"}]},
         ['spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), '
          'Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}']),
        ({"ports": [{"port": 80, "targetPort": "8080"}]},
         ['spec.ports[0].targetPort: Invalid value: "8080": must contain at least one letter (a-z)']),
        ({"ports": [{"port": 80, "name": "HTTP"}]},
         ['spec.ports[0].name: Invalid value: "HTTP": a lowercase RFC 1123 label must consist of lower case '
          "alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',"
          "  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]),
        ({"clusterIP": "10.0.0.300"},
         ['spec.clusterIPs[0]: Invalid value: "10.0.0.300": must be a valid IP address, '
          "(e.g. 10.9.8.7 or 2001:db8::ffff)"]),
        ({"clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.11"]},
         ['spec.clusterIPs: Invalid value: []string{"10.96.0.11"}: first value must match `clusterIP`']),
        ({"type": "ExternalName", "ports": []}, ["spec.externalName: Required value"]),
        ({"type": "ExternalName", "externalName": "Bad_Name"},
         [f'spec.externalName: Invalid value: "Bad_Name": {SUBDOMAIN_MSG}']),
        ({"type": "ExternalName", "externalName": "db.example.com.", "clusterIP": "10.96.0.10"},
         ["spec.clusterIPs: Forbidden: may not be set for ExternalName services"]),
        ({"type": "NodePort", "clusterIP": "None"},
         ["spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services"]),
        ({"sessionAffinity": "Sticky"},
         ['spec.sessionAffinity: Unsupported value: "Sticky": supported values: "ClientIP", "None"']),
        ({"sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 0}}},
         ["spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0: "
          "must be greater than 0 and less than 86400"]),
        ({"selector": {"app": "bad value"}},
         ['spec.selector: Invalid value: "bad value": a valid label must be an empty string or consist of '
          "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character "
          "(e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
          "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"]),
        ({"externalIPs": ["127.0.0.1"]},
         ['spec.externalIPs[0]: Invalid value: "127.0.0.1": may not be in the loopback range '
          "(127.0.0.0/8, ::1/128)"]),
        ({"externalTrafficPolicy": "Local"},
         ['spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services']),
        ({"clusterIP": "2001:db8::1"},
         ['spec.clusterIPs[0]: Invalid value: []string{"2001:db8::1"}: IPv6 is not configured on this cluster']),
        ({"ipFamilyPolicy": "RequireDualStack"},
         ['spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for '
          "dual-stack services"]),
        ({"ipFamilies": ["IPv6"]}, ['spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster']),
        ({"ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4", "IPv6"]},
         ['spec.ipFamilyPolicy: Invalid value: "SingleStack": must be \'RequireDualStack\' or \'PreferDualStack\' '
          "when multiple IP families are specified"]),
        ({"ipFamilyPolicy": "Sometimes"},
         ['spec.ipFamilyPolicy: Unsupported value: "Sometimes": supported values: "PreferDualStack", '
          '"RequireDualStack", "SingleStack"']),
        ({"type": "ClusterIP", "allocateLoadBalancerNodePorts": True},
         ["spec.allocateLoadBalancerNodePorts: Forbidden: may only be used when `type` is 'LoadBalancer'"]),
        ({"loadBalancerSourceRanges": ["10.0.0.0/8"]},
         ["spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'"]),
    ],
)
def test_create_validation_messages(spec: dict[str, Any], expected: list[str]) -> None:
    assert create_errors(service(spec)) == expected


def test_name_must_be_dns1035_and_message_is_kubectl_shaped() -> None:
    obj = service(name="1web")
    errs = SVC.admit_create(obj)
    assert invalid_object("Service", "1web", errs).message == (
        'Service "1web" is invalid: metadata.name: Invalid value: "1web": a DNS-1035 label must consist of lower '
        "case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric "
        "character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
    )


def test_missing_name_and_namespace() -> None:
    obj = service()
    obj["metadata"] = {}
    assert create_errors(obj) == [
        "metadata.name: Required value: name or generateName is required",
        "metadata.namespace: Required value",
    ]


def test_generate_name_produces_a_valid_name() -> None:
    obj = service()
    obj["metadata"] = {"generateName": "web-", "namespace": "default"}
    assert create_errors(obj) == []
    assert obj["metadata"]["name"].startswith("web-") and len(obj["metadata"]["name"]) == 9


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, {"selector": {"app": "web"}, "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
              "type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
              "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"]}),
        ({"ports": [{"port": 80, "targetPort": "http", "protocol": "UDP"}], "type": "NodePort"},
         {"selector": {"app": "web"}, "ports": [{"port": 80, "protocol": "UDP", "targetPort": "http"}],
          "type": "NodePort", "sessionAffinity": "None", "externalTrafficPolicy": "Cluster",
          "internalTrafficPolicy": "Cluster", "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"]}),
        ({"type": "LoadBalancer"},
         {"selector": {"app": "web"}, "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
          "type": "LoadBalancer", "sessionAffinity": "None", "externalTrafficPolicy": "Cluster",
          "internalTrafficPolicy": "Cluster", "allocateLoadBalancerNodePorts": True,
          "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"]}),
        ({"sessionAffinity": "ClientIP", "clusterIP": "10.96.0.10"},
         {"selector": {"app": "web"}, "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
          "type": "ClusterIP", "sessionAffinity": "ClientIP", "clusterIP": "10.96.0.10",
          "clusterIPs": ["10.96.0.10"], "internalTrafficPolicy": "Cluster",
          "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
          "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"]}),
        ({"type": "ExternalName", "externalName": "db.example.com", "ports": []},
         {"selector": {"app": "web"}, "ports": [], "type": "ExternalName", "externalName": "db.example.com",
          "sessionAffinity": "None"}),
        ({"clusterIP": "None", "selector": {}},
         {"selector": {}, "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}], "type": "ClusterIP",
          "clusterIP": "None", "clusterIPs": ["None"], "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
          "ipFamilyPolicy": "RequireDualStack", "ipFamilies": ["IPv4", "IPv6"]}),
        ({"clusterIP": "None"},
         {"selector": {"app": "web"}, "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
          "type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"], "sessionAffinity": "None",
          "internalTrafficPolicy": "Cluster", "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"]}),
    ],
)
def test_create_defaults(spec: dict[str, Any], expected: dict[str, Any]) -> None:
    obj = service(spec)
    assert SVC.admit_create(obj) == []
    assert obj["spec"] == expected


def test_status_is_ignored_on_create_and_kept_on_update() -> None:
    obj = service()
    obj["status"] = {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}}
    assert SVC.admit_create(obj) == []
    assert obj["status"] == {"loadBalancer": {}}
    stored = copy.deepcopy(obj)
    stored["metadata"].update(resourceVersion="3", uid="u1")
    stored["status"] = {"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}]}}
    new = service()
    new["metadata"]["resourceVersion"] = "3"
    new["status"] = {}
    assert SVC.admit_update(new, stored) == []
    assert new["status"] == stored["status"]
    assert new["metadata"]["uid"] == "u1"


def allocated(spec: dict[str, Any] | None = None) -> dict[str, Any]:
    """A stored Service after the allocator controller gave it 10.96.0.10."""
    obj = service(spec)
    assert SVC.admit_create(obj) == []
    obj["spec"]["clusterIP"] = "10.96.0.10"
    obj["spec"]["clusterIPs"] = ["10.96.0.10"]
    obj["metadata"].update(resourceVersion="7", uid="u1", creationTimestamp="2024-01-02T03:04:05Z")
    return obj


def updated(spec: dict[str, Any] | None = None) -> dict[str, Any]:
    obj = service(spec)
    obj["metadata"]["resourceVersion"] = "7"
    return obj


def test_allocator_may_fill_an_empty_cluster_ip() -> None:
    old = service()
    assert SVC.admit_create(old) == []
    old["metadata"].update(resourceVersion="7")
    new = copy.deepcopy(old)
    new["spec"].update(clusterIP="10.96.0.10", clusterIPs=["10.96.0.10"])
    assert SVC.admit_update(new, old) == []


def test_apply_without_cluster_ip_keeps_the_allocated_one() -> None:
    new = updated()
    assert SVC.admit_update(new, allocated()) == []
    assert new["spec"]["clusterIP"] == "10.96.0.10"
    assert new["spec"]["clusterIPs"] == ["10.96.0.10"]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"clusterIP": "10.96.0.20"},
         ['spec.clusterIPs[0]: Invalid value: []string{"10.96.0.20"}: may not change once set']),
        ({"clusterIP": "10.96.0.10", "ports": [{"port": 8080}]}, []),
        ({"type": "ExternalName", "externalName": "db.example.com"}, []),
        ({"ipFamilies": ["IPv6"]},
         ['spec.clusterIPs[0]: Invalid value: "10.96.0.10": expected an IPv6 value as indicated by `ipFamilies[0]`']),
    ],
)
def test_update_validation_messages(spec: dict[str, Any], expected: list[str]) -> None:
    assert [str(e) for e in SVC.admit_update(updated(spec), allocated())] == expected


def test_switching_to_external_name_drops_the_cluster_ip() -> None:
    new = updated({"type": "ExternalName", "externalName": "db.example.com"})
    new["spec"].update(clusterIP="10.96.0.10", clusterIPs=["10.96.0.10"], ipFamilies=["IPv4"],
                       ipFamilyPolicy="SingleStack", internalTrafficPolicy="Cluster")
    assert SVC.admit_update(new, allocated()) == []
    assert "clusterIP" not in new["spec"] and "ipFamilies" not in new["spec"]


def test_node_ports_survive_an_apply_that_omits_them() -> None:
    old = allocated({"type": "NodePort", "ports": [{"port": 80, "name": "http"}]})
    old["spec"]["ports"][0]["nodePort"] = 30080
    new = updated({"type": "NodePort", "ports": [{"port": 80, "name": "http"}]})
    assert SVC.admit_update(new, old) == []
    assert new["spec"]["ports"][0]["nodePort"] == 30080


def test_renaming_is_immutable() -> None:
    new = updated()
    new["metadata"]["name"] = "other"
    msgs = [str(e) for e in SVC.admit_update(new, allocated())]
    assert msgs[0] == 'metadata.name: Invalid value: "other": field is immutable'


def test_dual_stack_cluster_accepts_require_dual_stack() -> None:
    adm = ServiceAdmission(("IPv4", "IPv6"))
    obj = service({"ipFamilyPolicy": "RequireDualStack"})
    assert adm.admit_create(obj) == []
    assert obj["spec"]["ipFamilies"] == ["IPv4", "IPv6"]


def test_allocation_messages() -> None:
    """The ledger's refusals read as kube-apiserver's ipallocator/portallocator field errors."""
    out_of_range = ip_refusal_detail("1.1.1.1", Reason.OUT_OF_RANGE, valid_range="10.43.0.0/16")
    assert str(invalid(ledger.CLUSTER_IPS_FIELD, ["1.1.1.1"], out_of_range)) == (
        'spec.clusterIPs: Invalid value: []string{"1.1.1.1"}: failed to allocate IP 1.1.1.1: the provided IP '
        "(1.1.1.1) is not in the valid range. The range of valid IPs is 10.43.0.0/16"
    )
    assert str(invalid(ledger.CLUSTER_IPS_FIELD, ["10.96.0.1"], ip_refusal_detail("10.96.0.1", Reason.ALLOCATED))) == (
        'spec.clusterIPs: Invalid value: []string{"10.96.0.1"}: failed to allocate IP 10.96.0.1: '
        "provided IP is already allocated"
    )
    port_out = port_refusal_detail(Reason.OUT_OF_RANGE, valid_range="30000-32767")
    assert str(invalid("spec.ports[0].nodePort", 80, port_out)) == (
        "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. "
        "The range of valid ports is 30000-32767"
    )
    assert str(invalid("spec.ports[1].nodePort", 30080, port_refusal_detail(Reason.ALLOCATED))) == (
        "spec.ports[1].nodePort: Invalid value: 30080: provided port is already allocated"
    )
