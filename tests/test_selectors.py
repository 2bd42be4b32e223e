"""Table tests for apimachinery.selectors against Kubernetes v1.32 behaviour and messages."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from apimachinery import selectors as sel
from apimachinery.errors import StatusError
from apimachinery.resources import BY_KEY

QNAME_DETAIL = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
VALUE_DETAIL = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
    "must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
    "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
SUBDOMAIN_DETAIL = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
    "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
R = sel.Requirement


def bad_request(fn: Any, *args: Any) -> str:
    with pytest.raises(StatusError) as info:
        fn(*args)
    assert info.value.code == 400
    assert info.value.reason == "BadRequest"
    return info.value.message


# --------------------------------------------------------------------------- label parsing


@pytest.mark.parametrize(
    ("text", "canonical", "requirements"),
    [
        ("", "", ()),
        ("  \t\n", "", ()),
        ("a=b", "a=b", (R("a", "=", ("b",)),)),
        ("a==b", "a==b", (R("a", "==", ("b",)),)),
        ("c!=d", "c!=d", (R("c", "!=", ("d",)),)),
        ("e in (x,y)", "e in (x,y)", (R("e", "in", ("x", "y")),)),
        ("e in (y,x)", "e in (x,y)", (R("e", "in", ("x", "y")),)),
        ("f notin (z)", "f notin (z)", (R("f", "notin", ("z",)),)),
        ("g", "g", (R("g", "exists"),)),
        ("!h", "!h", (R("h", "!"),)),
        ("x>1", "x>1", (R("x", "gt", ("1",)),)),
        ("x<5", "x<5", (R("x", "lt", ("5",)),)),
        # sorted by key, whitespace tolerant
        ("z=1 , a = 2,  m in(q)", "a=2,m in (q),z=1", (R("a", "=", ("2",)), R("m", "in", ("q",)), R("z", "=", ("1",)))),
        ("a=", "a=", (R("a", "=", ("",)),)),
        ("a=,b", "a=,b", (R("a", "=", ("",)), R("b", "exists"))),
        ("x in ()", "x in ()", (R("x", "in", ("",)),)),
        ("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()",
         (R("x", "in", ("", "baz", "foo")), R("y", "exists"), R("z", "notin", ("",)))),
        ("x in (,a)", "x in (,a)", (R("x", "in", ("", "a")),)),
        ("x in (a,)", "x in (,a)", (R("x", "in", ("", "a")),)),
        ("x in (a,a)", "x in (a)", (R("x", "in", ("a",)),)),
        # in / notin are identifiers where a key or value is expected
        ("in in (in, notin)", "in in (in,notin)", (R("in", "in", ("in", "notin")),)),
        ("notin=in", "notin=in", (R("notin", "=", ("in",)),)),
        ("example.com/app=web", "example.com/app=web", (R("example.com/app", "=", ("web",)),)),
        ("a=b,a!=c", "a=b,a!=c", (R("a", "=", ("b",)), R("a", "!=", ("c",)))),
    ],
)
def test_parse_label_selector(text: str, canonical: str, requirements: tuple[sel.Requirement, ...]) -> None:
    s = sel.parse_label_selector(text)
    assert s.requirements == requirements
    assert str(s) == canonical
    assert s.empty is (not requirements)
    # the canonical form parses back to the same selector
    assert sel.parse_label_selector(str(s)) == s


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,", "found '', expected: identifier after ','"),
        ("a,,b", "found ',', expected: identifier after ','"),
        (",a", "found ',', expected: !, identifier, or 'end of string'"),
        ("=a", "found '=', expected: !, identifier, or 'end of string'"),
        ("a=b c", "found 'c', expected: ',' or 'end of string'"),
        ("!a=b", "found '=', expected: ',' or 'end of string'"),
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a ! b", "unable to parse requirement: found '!', expected: in, notin, =, ==, !=, gt, lt"),
        ("!", "unable to parse requirement: found '', expected: identifier"),
        ("!!a", "unable to parse requirement: found '!', expected: identifier"),
        ("a=!b", "unable to parse requirement: found '!', expected: identifier"),
        ("a===b", "unable to parse requirement: found '=', expected: identifier"),
        ("a>=1", "unable to parse requirement: found '=', expected: identifier"),
        ("a=(b)", "unable to parse requirement: found '(', expected: identifier"),
        ("x in b", "unable to parse requirement: found 'b' expected: '('"),
        ("x in", "unable to parse requirement: found '' expected: '('"),
        ("x in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"),
        ("x in (a b)", "unable to parse requirement: found 'b', expected: ',' or ')'"),
        ("x in (a", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("x in (a,=)", "unable to parse requirement: found '=', expected: ',', or identifier"),
        # v1.32 consumes the second of two commas, so a trailing ",,)" is an error
        ("x in (a,,)", "unable to parse requirement: found ')', expected: ',', or identifier"),
        ("-a", f'unable to parse requirement: <nil>: Invalid value: "-a": name part {QNAME_DETAIL}'),
        ("a-", f'unable to parse requirement: <nil>: Invalid value: "a-": name part {QNAME_DETAIL}'),
        ("a/", f'unable to parse requirement: <nil>: Invalid value: "a/": name part must be non-empty; '
               f"name part {QNAME_DETAIL}"),
        ("/a", 'unable to parse requirement: <nil>: Invalid value: "/a": prefix part must be non-empty'),
        ("Ab/c", f'unable to parse requirement: <nil>: Invalid value: "Ab/c": prefix part {SUBDOMAIN_DETAIL}'),
        ("a/b/c", 'unable to parse requirement: <nil>: Invalid value: "a/b/c": a qualified name '
                  f"{QNAME_DETAIL} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"),
        ("a" * 64, f'unable to parse requirement: <nil>: Invalid value: "{"a" * 64}": '
                   "name part must be no more than 63 characters"),
        ("a=-b", f'unable to parse requirement: values[0][a]: Invalid value: "-b": {VALUE_DETAIL}'),
        ("a=" + "v" * 64, f'unable to parse requirement: values[0][a]: Invalid value: "{"v" * 64}": '
                          "must be no more than 63 characters"),
        ("a in (ok,-x)", f'unable to parse requirement: values[0][a]: Invalid value: "-x": {VALUE_DETAIL}'),
        ("a>b", "unable to parse requirement: values[0]: Invalid value: \"b\": "
                "for 'Gt', 'Lt' operators, the value must be an integer"),
        ("a>", "unable to parse requirement: values[0]: Invalid value: \"\": "
               "for 'Gt', 'Lt' operators, the value must be an integer"),
        ("a<99999999999999999999", "unable to parse requirement: values[0]: Invalid value: "
                                   "\"99999999999999999999\": for 'Gt', 'Lt' operators, the value must be an integer"),
        # several NewRequirement errors are aggregated as [a, b]
        ("a>b_", "unable to parse requirement: [values[0]: Invalid value: \"b_\": for 'Gt', 'Lt' operators, "
                 f"the value must be an integer, values[0][a]: Invalid value: \"b_\": {VALUE_DETAIL}]"),
    ],
)
def test_parse_label_selector_errors(text: str, message: str) -> None:
    assert bad_request(sel.parse_label_selector, text) == message


# --------------------------------------------------------------------------- label matching


@pytest.mark.parametrize(
    ("text", "labels", "want"),
    [
        ("", None, True),
        ("", {"a": "b"}, True),
        ("a=b", {"a": "b"}, True),
        ("a=b", {"a": "c"}, False),
        ("a=b", {}, False),
        ("a=b", None, False),
        ("a==b", {"a": "b", "x": "y"}, True),
        ("a=", {"a": ""}, True),
        ("a=", {}, False),
        ("a!=b", {"a": "c"}, True),
        ("a!=b", {"a": "b"}, False),
        ("a!=b", {}, True),  # missing key matches !=
        ("a!=b", None, True),
        ("a in (x,y)", {"a": "y"}, True),
        ("a in (x,y)", {"a": "z"}, False),
        ("a in (x,y)", {}, False),
        ("a in ()", {"a": ""}, True),
        ("a notin (x,y)", {"a": "z"}, True),
        ("a notin (x,y)", {"a": "x"}, False),
        ("a notin (x,y)", {"b": "x"}, True),  # missing key matches notin
        ("a", {"a": ""}, True),
        ("a", {"b": "a"}, False),
        ("!a", {"b": "a"}, True),
        ("!a", {"a": ""}, False),
        ("x>1", {"x": "2"}, True),
        ("x>1", {"x": "1"}, False),
        ("x>1", {"x": "10"}, True),
        ("x>1", {"x": "abc"}, False),
        ("x>1", {"x": "1.5"}, False),
        ("x>1", {}, False),
        ("x<5", {"x": "-3"}, True),
        ("x<5", {"x": "+4"}, True),
        ("x<5", {"x": "5"}, False),
        ("x<5", {"x": "0x1"}, False),
        ("x<5", {"x": "1_0"}, False),
        ("x<5", {"x": " 1"}, False),
        ("x>1,x<5", {"x": "3"}, True),
        ("x>1,x<5", {"x": "7"}, False),
        ("a=b,c in (d),!e,f", {"a": "b", "c": "d", "f": ""}, True),
        ("a=b,c in (d),!e,f", {"a": "b", "c": "d", "f": "", "e": "1"}, False),
        ("a=b,c in (d),!e,f", {"a": "b", "c": "d"}, False),
    ],
)
def test_label_matches(text: str, labels: dict[str, str] | None, want: bool) -> None:
    assert sel.parse_label_selector(text).matches(labels) is want


@pytest.mark.parametrize(
    ("text", "key", "want"),
    [
        ("a=x", "a", frozenset({"x"})),
        ("a==x", "a", frozenset({"x"})),
        ("a in (x,y)", "a", frozenset({"x", "y"})),
        ("a in (x,y),a=y", "a", frozenset({"y"})),
        ("a=x,a=y", "a", frozenset()),
        ("a in (x,y),a notin (x)", "a", frozenset({"x", "y"})),
        ("a!=x", "a", None),
        ("a notin (x)", "a", None),
        ("a", "a", None),
        ("a>1", "a", None),
        ("b=x", "a", None),
        ("", "a", None),
    ],
)
def test_exact_values(text: str, key: str, want: frozenset[str] | None) -> None:
    assert sel.parse_label_selector(text).exact_values(key) == want


def test_everything_and_nothing() -> None:
    every, none = sel.everything(), sel.nothing()
    assert every.empty and every.matches({"a": "b"}) and every.matches(None)
    assert not none.empty and none.selects_nothing
    assert not none.matches({}) and not none.matches({"a": "b"})
    assert str(none) == "" and none.requirements == ()
    assert none.exact_values("a") == frozenset()
    assert every != none


def test_label_selector_is_immutable_and_hashable() -> None:
    s = sel.parse_label_selector("a=b")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.requirements = ()  # type: ignore[misc]
    assert hash(s) == hash(sel.parse_label_selector("a = b"))
    assert {s, sel.parse_label_selector("a=b")} == {s}


@pytest.mark.parametrize(
    ("labels", "canonical", "matches", "misses"),
    [
        (None, "", {"x": "y"}, None),
        ({}, "", {}, None),
        ({"b": "2", "a": "1"}, "a=1,b=2", {"a": "1", "b": "2", "c": "3"}, {"a": "1"}),
        # SelectorFromSet does not validate
        ({"-bad": "!!"}, "-bad=!!", {"-bad": "!!"}, {"-bad": "x"}),
    ],
)
def test_selector_from_set(
    labels: dict[str, str] | None, canonical: str, matches: dict[str, str], misses: dict[str, str] | None
) -> None:
    s = sel.selector_from_set(labels)
    assert str(s) == canonical
    assert s.empty is (not labels)
    assert s.matches(matches)
    if misses is not None:
        assert not s.matches(misses)


# --------------------------------------------------------------------------- metav1.LabelSelector


@pytest.mark.parametrize(
    ("obj", "canonical", "matching", "not_matching"),
    [
        ({}, "", {}, None),
        ({"matchLabels": {}, "matchExpressions": []}, "", {"a": "b"}, None),
        ({"matchLabels": {"b": "2", "a": "1"}}, "a=1,b=2", {"a": "1", "b": "2"}, {"a": "1"}),
        (
            {"matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["web", "api"]},
                {"key": "env", "operator": "NotIn", "values": ["prod"]},
                {"key": "app", "operator": "Exists"},
                {"key": "legacy", "operator": "DoesNotExist", "values": []},
            ]},
            "app,env notin (prod),!legacy,tier in (api,web)",
            {"tier": "api", "app": "x"},
            {"tier": "api", "app": "x", "legacy": "1"},
        ),
        (
            {"matchLabels": {"z": "1"}, "matchExpressions": [{"key": "a", "operator": "Exists"}]},
            "a,z=1",
            {"a": "", "z": "1"},
            {"z": "1"},
        ),
    ],
)
def test_from_label_selector_object(
    obj: dict[str, Any], canonical: str, matching: dict[str, str], not_matching: dict[str, str] | None
) -> None:
    s = sel.from_label_selector_object(obj)
    assert str(s) == canonical
    assert not s.selects_nothing
    assert s.matches(matching)
    if not_matching is not None:
        assert not s.matches(not_matching)


def test_from_label_selector_object_none_selects_nothing() -> None:
    s = sel.from_label_selector_object(None)
    assert s.selects_nothing and not s.empty and not s.matches({})


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["x"]}]},
         '"Equals" is not a valid label selector operator'),
        ({"matchExpressions": [{"key": "a"}]}, '"" is not a valid label selector operator'),
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
         "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"),
        ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
         'values: Invalid value: []string{"x"}: values set must be empty for exists and does not exist'),
        ({"matchLabels": {"-a": "b"}}, f'key: Invalid value: "-a": name part {QNAME_DETAIL}'),
        ({"matchLabels": {"a": "b c"}}, f'values[0][a]: Invalid value: "b c": {VALUE_DETAIL}'),
        ({"matchExpressions": [{"key": "", "operator": "Exists"}]},
         f'key: Invalid value: "": name part must be non-empty; name part {QNAME_DETAIL}'),
        ({"matchExpressions": [{"key": "-k", "operator": "NotIn", "values": []}]},
         f'[key: Invalid value: "-k": name part {QNAME_DETAIL}, values: Invalid value: []string(nil): '
         "for 'in', 'notin' operators, values set can't be empty]"),
    ],
)
def test_from_label_selector_object_errors(obj: dict[str, Any], message: str) -> None:
    assert bad_request(sel.from_label_selector_object, obj) == message


@pytest.mark.parametrize(
    ("key", "op", "values", "message"),
    [
        ("a", "~", ("b",), 'operator: Unsupported value: "~": supported values: "in", "notin", "=", "==", '
                           '"!=", "gt", "lt", "exists", "!"'),
        ("a", "=", ("b", "c"), 'values: Invalid value: []string{"b", "c"}: '
                               "exact-match compatibility requires one single value"),
        ("a", "gt", ("1", "2"), "values: Invalid value: []string{\"1\", \"2\"}: "
                                "for 'Gt', 'Lt' operators, exactly one value is required"),
        ("ключ", "exists", (), 'key: Invalid value: "ключ": name part ' + QNAME_DETAIL),
    ],
)
def test_new_requirement_errors(key: str, op: str, values: tuple[str, ...], message: str) -> None:
    assert bad_request(sel.new_requirement, key, op, values) == message


def test_new_requirement_valid() -> None:
    r = sel.new_requirement("app", sel.IN, ["b", "a"])
    assert r == R("app", "in", ("b", "a")) and str(r) == "app in (a,b)"


# --------------------------------------------------------------------------- field selectors

F = sel.FieldRequirement


@pytest.mark.parametrize(
    ("text", "canonical", "requirements"),
    [
        ("", "", ()),
        ("metadata.name=foo", "metadata.name=foo", (F("metadata.name", "=", "foo"),)),
        ("metadata.name==foo", "metadata.name=foo", (F("metadata.name", "=", "foo"),)),
        ("status.phase!=Running", "status.phase!=Running", (F("status.phase", "!=", "Running"),)),
        ("spec.nodeName=", "spec.nodeName=", (F("spec.nodeName", "=", ""),)),
        # terms are sorted as raw strings, empty terms skipped
        ("b=2,a=1,", "a=1,b=2", (F("a", "=", "1"), F("b", "=", "2"))),
        # escaping: \, \= and \\ in values; the comma does not split
        (r"a=x\,y", r"a=x\,y", (F("a", "=", "x,y"),)),
        (r"a=x\=y", r"a=x\=y", (F("a", "=", "x=y"),)),
        (r"a=x\\y", r"a=x\\y", (F("a", "=", "x\\y"),)),
        (r"a=x\\,b=y", r"a=x\\,b=y", (F("a", "=", "x\\"), F("b", "=", "y"))),
        # no whitespace trimming in field selectors
        ("a = b", "a = b", (F("a ", "=", " b"),)),
        ("a!b=c", "a!b=c", (F("a!b", "=", "c"),)),
    ],
)
def test_parse_field_selector(text: str, canonical: str, requirements: tuple[sel.FieldRequirement, ...]) -> None:
    s = sel.parse_field_selector(text)
    assert s.requirements == requirements
    assert str(s) == canonical
    assert s.empty is (not requirements)
    assert sel.parse_field_selector(str(s)) == s


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a", "invalid selector: 'a'; can't understand 'a'"),
        ("a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"),
        ("a=b=c", "invalid field selector: unescaped character in value: 61"),
        ("a==b=c", "invalid field selector: unescaped character in value: 61"),
        (r"a=x\y", r"invalid field selector: invalid escape sequence: \y"),
        ("a=x\\", "invalid field selector: invalid escape sequence: \\"),
    ],
)
def test_parse_field_selector_errors(text: str, message: str) -> None:
    assert bad_request(sel.parse_field_selector, text) == message


@pytest.mark.parametrize(
    ("text", "fields", "want"),
    [
        ("", {}, True),
        ("metadata.name=foo", {"metadata.name": "foo"}, True),
        ("metadata.name=foo", {"metadata.name": "bar"}, False),
        ("metadata.name=foo", {}, False),
        ("spec.nodeName=", {}, True),  # a missing field reads as ''
        ("spec.nodeName!=", {}, False),
        ("spec.nodeName!=", {"spec.nodeName": "n1"}, True),
        ("status.phase!=Running", {}, True),
        ("status.phase!=Running,status.phase!=Pending", {"status.phase": "Failed"}, True),
        ("status.phase!=Running,status.phase!=Pending", {"status.phase": "Pending"}, False),
        (r"a=x\,y", {"a": "x,y"}, True),
    ],
)
def test_field_matches(text: str, fields: dict[str, str], want: bool) -> None:
    assert sel.parse_field_selector(text).matches(fields) is want


@pytest.mark.parametrize(
    ("text", "field", "want"),
    [
        ("metadata.name=foo", "metadata.name", "foo"),
        ("metadata.name==foo,metadata.namespace=ns", "metadata.namespace", "ns"),
        ("metadata.name!=foo", "metadata.name", None),
        ("metadata.namespace=ns", "metadata.name", None),
        ("", "metadata.name", None),
        ("metadata.name=", "metadata.name", ""),
    ],
)
def test_field_exact(text: str, field: str, want: str | None) -> None:
    assert sel.parse_field_selector(text).exact(field) == want


def test_escape_field_value() -> None:
    assert sel.escape_field_value("a\\b,c=d") == "a\\\\b\\,c\\=d"


@pytest.mark.parametrize(
    ("text", "allowed", "message"),
    [
        ("metadata.name=a,spec.nodeName=b", ["metadata.name", "spec.nodeName"], None),
        ("", [], None),
        ("spec.foo=a", ["metadata.name", "metadata.namespace"], "field label not supported: spec.foo"),
        ("metadata.namespace=a,zz=1", ["metadata.namespace"], "field label not supported: zz"),
        ("a = b", ["a"], "field label not supported: a "),
    ],
)
def test_check_fields(text: str, allowed: list[str], message: str | None) -> None:
    s = sel.parse_field_selector(text)
    if message is None:
        sel.check_fields(s, allowed)
    else:
        assert bad_request(sel.check_fields, s, allowed) == message


POD = {
    "kind": "Pod",
    "metadata": {"name": "p1", "namespace": "default"},
    "spec": {"nodeName": "n1", "restartPolicy": "Always"},
    "status": {"phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}, {"ip": "fd00::5"}]},
}
EVENT = {
    "kind": "Event",
    "metadata": {"name": "e1", "namespace": "ns"},
    "involvedObject": {"kind": "Pod", "name": "p1", "uid": "u-1"},
    "source": {"component": "kubelet", "host": "n1"},
    "reportingComponent": "kubelet-rc",
    "count": 3,
}


@pytest.mark.parametrize(
    ("key", "obj", "want"),
    [
        ("pods", POD,
         {"metadata.name": "p1", "metadata.namespace": "default", "spec.nodeName": "n1", "status.phase": "Running",
          "status.podIP": "10.0.0.5", "spec.hostNetwork": "false", "spec.schedulerName": "",
          "spec.restartPolicy": "Always", "spec.serviceAccountName": "", "status.nominatedNodeName": ""}),
        ("pods", {"metadata": {"name": "p"}, "spec": {"hostNetwork": True}, "status": {"podIPs": [{"ip": "10.1.1.1"}]}},
         {"metadata.name": "p", "metadata.namespace": "", "spec.hostNetwork": "true", "status.podIP": "10.1.1.1",
          "spec.nodeName": "", "status.phase": "", "spec.schedulerName": "", "spec.restartPolicy": "",
          "spec.serviceAccountName": "", "status.nominatedNodeName": ""}),
        ("nodes", {"metadata": {"name": "n1"}},
         {"metadata.name": "n1", "metadata.namespace": "", "spec.unschedulable": "false"}),
        ("nodes", {"metadata": {"name": "n1"}, "spec": {"unschedulable": True}},
         {"metadata.name": "n1", "metadata.namespace": "", "spec.unschedulable": "true"}),
        ("events", EVENT,
         {"metadata.name": "e1", "metadata.namespace": "ns", "source": "kubelet", "involvedObject.uid": "u-1",
          "involvedObject.kind": "Pod", "involvedObject.name": "p1", "involvedObject.namespace": "",
          "involvedObject.apiVersion": "", "involvedObject.resourceVersion": "", "involvedObject.fieldPath": "",
          "reportingComponent": "kubelet-rc", "reason": "", "type": ""}),
        ("namespaces", {"metadata": {"name": "a"}, "status": {"phase": "Active"}},
         {"metadata.name": "a", "metadata.namespace": "", "status.phase": "Active"}),
        ("configmaps", {}, {"metadata.name": "", "metadata.namespace": ""}),
    ],
)
def test_object_fields_read_through_the_kind(key: str, obj: dict[str, Any], want: dict[str, str]) -> None:
    """Each kind's declared readers give the fields.Set kube-apiserver's ToSelectableFields would."""
    assert sel.object_fields(obj, BY_KEY[key].field_readers) == want


@pytest.mark.parametrize(
    ("obj", "want"),
    [
        ({"metadata": {"name": "e2"}, "source": {}, "reportingComponent": "ctrl"}, "ctrl"),
        ({"metadata": {"name": "e3"}}, ""),
        ({"source": {"component": "kubelet"}, "reportingComponent": "ctrl"}, "kubelet"),
    ],
)
def test_event_source_falls_back_to_the_reporting_controller(obj: dict[str, Any], want: str) -> None:
    assert BY_KEY["events"].field_readers["source"](obj) == want


@pytest.mark.parametrize(
    ("obj", "path", "want"),
    [
        ({}, "a.b.c", ""),
        ({"metadata": {"name": "x"}, "spec": {"ports": [1]}, "a": {"b": "str"}}, "spec.ports", ""),
        ({"a": {"b": "str"}}, "a.b.c", ""),
        ({"count": 3}, "count", "3"),
        ({"a": {"b": False}}, "a.b", "false"),
    ],
)
def test_field_at_reads_scalars_only(obj: dict[str, Any], path: str, want: str) -> None:
    assert sel.field_at(path)(obj) == want


def test_field_matcher_uses_the_kinds_readers() -> None:
    readers = BY_KEY["pods"].field_readers
    m = sel.field_matcher(sel.parse_field_selector("spec.nodeName=n1,status.phase!=Failed"), readers)
    assert m is not None and m.matches(POD)
    m = sel.field_matcher(sel.parse_field_selector("status.podIP=fd00::5"), readers)
    assert m is not None and not m.matches(POD)
    m = sel.field_matcher(sel.parse_field_selector("metadata.namespace=kube-system"), readers)
    assert m is not None and not m.matches(POD)
    assert sel.field_matcher(sel.parse_field_selector(""), readers) is None
    assert sel.field_matcher(None, readers) is None


def test_field_matcher_rejects_a_field_the_kind_does_not_declare() -> None:
    s = sel.parse_field_selector("spec.unschedulable=true")
    assert bad_request(sel.field_matcher, s, BY_KEY["pods"].field_readers) == (
        "field label not supported: spec.unschedulable"
    )
    assert sel.field_matcher(s, BY_KEY["nodes"].field_readers) is not None
