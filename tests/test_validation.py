"""apimachinery.validation: kube-apiserver's exact detail strings and ObjectMeta rules."""

from __future__ import annotations

from typing import Any

import pytest

from apimachinery import validation as v

LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
NAME_PART_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


@pytest.mark.parametrize(
    ("fn", "value", "expected"),
    [
        (v.is_dns1123_label, "my-name", []),
        (v.is_dns1123_label, "My_Name", [LABEL_MSG]),
        (v.is_dns1123_label, "a.b", ["must not contain dots"]),
        (v.is_dns1123_label, "a" * 64, ["must be no more than 63 characters"]),
        (v.is_dns1123_label, "-" + "a" * 63, ["must be no more than 63 characters", LABEL_MSG]),
        (v.is_dns1123_label, "abc\n", [LABEL_MSG]),
        (v.is_dns1123_subdomain, "example.com", []),
        (v.is_dns1123_subdomain, "Example.com", [SUBDOMAIN_MSG]),
        (v.is_dns1123_subdomain, "a" * 254, ["must be no more than 253 characters"]),
        (v.is_dns1035_label, "web", []),
        (v.is_dns1035_label, "1web", [DNS1035_MSG]),
        (v.is_qualified_name, "example.com/MyName", []),
        (v.is_qualified_name, "-bad", [NAME_PART_MSG]),
        (v.is_qualified_name, "/x", ["prefix part must be non-empty"]),
        (v.is_qualified_name, "x/", ["name part must be non-empty", NAME_PART_MSG]),
        (v.is_qualified_name, "Bad_Prefix/x", ["prefix part " + SUBDOMAIN_MSG]),
        (v.is_valid_label_value, "", []),
        (v.is_valid_label_value, "my_value", []),
        (v.is_valid_label_value, "bad value", [LABEL_VALUE_MSG]),
        (v.is_valid_port_name, "http", []),
        (v.is_valid_port_name, "8080", ["must contain at least one letter (a-z)"]),
        (v.is_valid_port_name, "-a--b", ["must not contain consecutive hyphens", "must not begin or end with a hyphen"]),
        (v.is_valid_port_name, "abcdefghijklmnop", ["must be no more than 15 characters"]),
        (v.is_valid_port_name, "HTTP", ["must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                                        "must contain at least one letter (a-z)"]),
        (v.is_valid_path_segment_name, "..", ["may not be '..'"]),
        (v.is_valid_path_segment_name, "a/b%c", ["may not contain '/'", "may not contain '%'"]),
    ],
)
def test_string_formats(fn: Any, value: str, expected: list[str]) -> None:
    assert fn(value) == expected


def test_qualified_name_with_too_many_slashes() -> None:
    assert v.is_qualified_name("a/b/c") == [
        "a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
        "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
        "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' "
        "(e.g. 'example.com/MyName')"
    ]


@pytest.mark.parametrize(("port", "expected"), [
    (1, []), (65535, []), (0, ["must be between 1 and 65535, inclusive"]),
    (65536, ["must be between 1 and 65535, inclusive"]),
])
def test_port_num(port: int, expected: list[str]) -> None:
    assert v.is_valid_port_num(port) == expected


@pytest.mark.parametrize(("fn", "value", "expected"), [
    (v.is_valid_ip, "10.0.0.1", []),
    (v.is_valid_ip, "010.000.000.001", []),  # Go's sloppy parser accepts leading zeros
    (v.is_valid_ip, "2001:db8::1", []),
    (v.is_valid_ip, "1.2.3", [v.INVALID_IP]),
    (v.is_valid_ip, "fe80::1%eth0", [v.INVALID_IP]),
    (v.is_valid_ip, "", [v.INVALID_IP]),
    (v.is_canonical_ip, "10.0.0.1", []),
    (v.is_canonical_ip, "10.0.0.01", ["must not have leading 0s"]),
    (v.is_canonical_ip, "::ffff:1.2.3.4", ["must not be an IPv4-mapped IPv6 address"]),
    (v.is_canonical_ip, "2001:DB8:0:0:0:0:0:1", ['must be in canonical form ("2001:db8::1")']),
    (v.is_canonical_ip, "nope", [v.INVALID_IP]),
    (v.is_valid_ipv4_address, "2001:db8::1", ["must be a valid IPv4 address"]),
    (v.is_valid_ipv6_address, "10.0.0.1", ["must be a valid IPv6 address"]),
    (v.is_valid_cidr, "10.0.0.1/8", []),
    (v.is_valid_cidr, "10.0.0.0/33", [v.INVALID_CIDR]),
    (v.is_canonical_cidr, "10.96.0.0/12", []),
    (v.is_canonical_cidr, "10.96.0.1/12", ["must not have bits set beyond the prefix length"]),
    (v.is_canonical_cidr, "10.96.0.0/012", ["must not have leading 0s in IP or prefix length"]),
    (v.is_canonical_cidr, "2001:DB8::/64", ['must be in canonical form ("2001:db8::/64")']),
    (v.non_special_ip_errors, "127.0.0.1", ["may not be in the loopback range (127.0.0.0/8, ::1/128)"]),
    (v.non_special_ip_errors, "0.0.0.0", ["may not be unspecified (0.0.0.0)"]),
    (v.non_special_ip_errors, "169.254.1.1", ["may not be in the link-local range (169.254.0.0/16, fe80::/10)"]),
    (v.non_special_ip_errors, "224.0.0.1",
     ["may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"]),
    (v.non_special_ip_errors, "10.1.2.3", []),
])
def test_ip_and_cidr(fn: Any, value: str, expected: list[str]) -> None:
    assert fn(value) == expected


def _meta(**kw: Any) -> dict[str, Any]:
    return {"name": "web", "namespace": "default", **kw}


@pytest.mark.parametrize(
    ("meta", "namespaced", "validator", "expected"),
    [
        (_meta(), True, v.name_is_dns_subdomain, []),
        ({"namespace": "default"}, True, v.name_is_dns_subdomain,
         ["metadata.name: Required value: name or generateName is required"]),
        (_meta(name="Web"), True, v.name_is_dns1035_label, [f'metadata.name: Invalid value: "Web": {DNS1035_MSG}']),
        ({"name": "web"}, True, v.name_is_dns_subdomain, ["metadata.namespace: Required value"]),
        (_meta(namespace="Bad"), True, v.name_is_dns_subdomain,
         [f'metadata.namespace: Invalid value: "Bad": {LABEL_MSG}']),
        (_meta(), False, v.name_is_dns_label, ["metadata.namespace: Forbidden: not allowed on this type"]),
        (_meta(generateName="web-", name="web-abcde"), True, v.name_is_dns_label, []),
        (_meta(generateName="Web-", name="web-abcde"), True, v.name_is_dns_label,
         [f'metadata.generateName: Invalid value: "Web-": {LABEL_MSG}']),
        (_meta(labels={"app": "bad value"}), True, v.name_is_dns_subdomain,
         [f'metadata.labels: Invalid value: "bad value": {LABEL_VALUE_MSG}']),
        (_meta(labels={"-app": "x"}), True, v.name_is_dns_subdomain,
         [f'metadata.labels: Invalid value: "-app": {NAME_PART_MSG}']),
        (_meta(annotations={"Example.COM/Key": "x"}), True, v.name_is_dns_subdomain, []),
        (_meta(annotations={"a": "x" * (256 * 1024)}), True, v.name_is_dns_subdomain,
         ["metadata.annotations: Too long: must have at most 262144 bytes"]),
        (_meta(generation=-1), True, v.name_is_dns_subdomain,
         ["metadata.generation: Invalid value: -1: must be greater than or equal to 0"]),
        (_meta(finalizers=["orphan", "foregroundDeletion"]), True, v.name_is_dns_subdomain,
         ['metadata.finalizers: Invalid value: []string{"orphan", "foregroundDeletion"}: finalizer orphan and '
          "foregroundDeletion cannot be both set"]),
        (_meta(ownerReferences=[{"apiVersion": "v1", "kind": "Pod", "name": "p"}]), True, v.name_is_dns_subdomain,
         ['metadata.ownerReferences.uid: Invalid value: "": must not be empty']),
        ({"name": "10.0.0.1"}, False, v.name_is_canonical_ip, []),
        ({"name": "10.0.0.01"}, False, v.name_is_canonical_ip,
         ['metadata.name: Invalid value: "10.0.0.01": must not have leading 0s']),
    ],
)
def test_validate_object_meta(meta: dict[str, Any], namespaced: bool, validator: Any, expected: list[str]) -> None:
    errs = v.validate_object_meta(meta, namespaced=namespaced, name_validator=validator)
    assert [str(e) for e in errs] == expected


def test_generate_name_is_a_valid_prefix_plus_five() -> None:
    name = v.generate_name("x" * 70)
    assert len(name) == 63 and name.startswith("x" * 58)
    assert v.is_dns1123_label(v.generate_name("web-")) == []


_OLD = {"name": "web", "namespace": "default", "uid": "u1", "resourceVersion": "5",
        "creationTimestamp": "2024-01-02T03:04:05Z"}


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        (dict(_OLD, labels={"a": "b"}), []),
        (dict(_OLD, name="other"), ['metadata.name: Invalid value: "other": field is immutable']),
        (dict(_OLD, namespace="kube-system"), ['metadata.namespace: Invalid value: "kube-system": field is immutable']),
        (dict(_OLD, uid="u2"), ['metadata.uid: Invalid value: "u2": field is immutable']),
        (dict(_OLD, creationTimestamp="2025-01-02T03:04:05Z"),
         ["metadata.creationTimestamp: Invalid value: 2025-01-02 03:04:05 +0000 UTC: field is immutable"]),
        ({k: val for k, val in _OLD.items() if k != "resourceVersion"},
         ['metadata.resourceVersion: Invalid value: "": must be specified for an update']),
        (dict(_OLD, labels={"a": "b c"}), [f'metadata.labels: Invalid value: "b c": {LABEL_VALUE_MSG}']),
    ],
)
def test_validate_object_meta_update(new: dict[str, Any], expected: list[str]) -> None:
    assert [str(e) for e in v.validate_object_meta_update(new, _OLD)] == expected


def test_no_new_finalizers_while_deleting() -> None:
    old = dict(_OLD, deletionTimestamp="2024-01-02T03:04:05Z", finalizers=["a/x"])
    new = dict(old, finalizers=["a/x", "b/y"])
    assert [str(e) for e in v.validate_object_meta_update(new, old)] == [
        'metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, '
        'found new finalizers []string{"b/y"}'
    ]
