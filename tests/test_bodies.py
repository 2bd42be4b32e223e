"""Malformed request bodies: every kind is refused quickly with a 4xx Status, never a 5xx or a stall."""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson
import pytest

from apimachinery.errors import StatusError
from apiserver.bodies import MAX_DEPTH, check_depth, check_patch, check_yaml, load_json, load_yaml
from tests.conftest import ApiServerProcess
from tests.secure_server import rss_kib

BOMB = b"""
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
apiVersion: v1
kind: Service
metadata: {name: bomb, labels: {x: *i}}
spec: {ports: [{port: 80}]}
"""


def nested_json(depth: int) -> bytes:
    return b'{"apiVersion":"v1","kind":"Service","metadata":{"name":"deep"},"spec":{"x":' + b"[" * depth + b"]" * depth + b"}}"


def nested_yaml(depth: int) -> bytes:
    return b"apiVersion: v1\nkind: Service\nmetadata: {name: deep}\nspec: {x: " + b"[" * depth + b"]" * depth + b"}\n"


def _code(fn: Any, *args: Any) -> int:
    try:
        fn(*args)
    except StatusError as e:
        return e.code
    return 0


@pytest.mark.parametrize(
    ("raw", "ok"),
    [
        (b'{"a": [1, {"b": 2}]}', True),
        (nested_json(MAX_DEPTH - 5), True),
        (nested_json(MAX_DEPTH + 1), False),
        (nested_json(5000), False),  # past orjson's own limit too
        (b"{", False),
        (b'{"a": "\xff"}', False),
    ],
)
def test_load_json(raw: bytes, ok: bool) -> None:
    assert _code(load_json, raw) == (0 if ok else 400)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (BOMB, "yaml: document contains excessive aliasing"),
        (nested_yaml(MAX_DEPTH + 1), f"exceeded max depth of {MAX_DEPTH}"),
        (nested_yaml(20_000), f"exceeded max depth of {MAX_DEPTH}"),
        (b"a: &x [" + b"[" * 60 + b"]" * 60 + b"]\nb: " + b"[" * 50 + b"*x" + b"]" * 50 + b"\n",
         f"exceeded max depth of {MAX_DEPTH}"),  # depth reached through an alias
        (b"a: 1\n---\nb: 2\n", "expected a single document"),
        (b"a: [1, 2\n", "error converting YAML to JSON: yaml: "),
        (b"a: b: c\n", "error converting YAML to JSON: yaml: "),
    ],
)
def test_yaml_refusals(raw: bytes, message: str) -> None:
    t0 = time.monotonic()
    with pytest.raises(StatusError) as ei:
        load_yaml(raw)
    assert time.monotonic() - t0 < 2
    assert ei.value.code == 400 and message in ei.value.message


def test_yaml_with_a_few_aliases_and_odd_scalars_is_plain_json() -> None:
    doc = load_yaml(b"base: &b {port: 80}\nports: [*b, *b]\n2: two\ntrue: yes\nnull: x\nwhen: 2001-12-14\n"
                    b"at: 2001-12-14t21:59:43.10-05:00\nbin: !!binary aGk=\nf: 1.5\n")
    assert doc["ports"] == [{"port": 80}, {"port": 80}]
    assert doc["2"] == "two" and doc["true"] is True and doc["null"] == "x"
    assert doc["when"] == "2001-12-14T00:00:00Z" and doc["at"].startswith("2001-12-14T21:59:43.1")
    assert doc["bin"] == "aGk=" and doc["f"] == 1.5


def test_check_depth_is_iterative() -> None:
    deep: Any = []
    for _ in range(50_000):  # far past Python's recursion limit
        deep = [deep]
    with pytest.raises(StatusError):
        check_depth(deep)
    check_depth({"a": [[[]]]}, limit=4)


@pytest.mark.parametrize(
    ("raw", "ptype", "code"),
    [
        (BOMB, "apply", 400),
        (nested_yaml(MAX_DEPTH + 5), "apply", 400),
        (b"a: [1", "apply", 0),  # syntax errors are the registry's to report
        (b"{nope", "merge", 400),  # JSON syntax: encoding/json's words, before the registry
        (b"[1]", "strategic", 400),  # a strategic merge patch decodes into a map
        (b"null", "strategic", 0),
        (nested_json(MAX_DEPTH + 5), "merge", 400),
        (b'[{"op": "add", "path": "/x", "value": ' + b"[" * 200 + b"]" * 200 + b"}]", "json", 400),
        (b'{"metadata": {"labels": {"a": "b"}}}', "strategic", 0),
    ],
)
def test_check_patch(raw: bytes, ptype: str, code: int) -> None:
    assert _code(check_patch, raw, ptype) == code


def test_check_yaml_accepts_ordinary_manifests() -> None:
    check_yaml(b"apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: 80\n")


# -- against a real server ----------------------------------------------------------------------

J, Y, PB = "application/json", "application/yaml", "application/vnd.kubernetes.protobuf"
MALFORMED: list[tuple[str, str, str, bytes, int]] = [
    # (case, method, content type, body, expected code)
    ("empty", "POST", J, b"", 400),
    ("json syntax", "POST", J, b'{"apiVersion": "v1",', 400),
    ("json trailing garbage", "POST", J, b'{"apiVersion": "v1"} xyz', 400),
    ("json list", "POST", J, b"[1, 2]", 400),
    ("json number", "POST", J, b"42", 400),
    ("json string", "POST", J, b'"svc"', 400),
    ("json null", "POST", J, b"null", 400),
    ("invalid utf-8", "POST", J, b'{"metadata": {"name": "\xff\xfe"}}', 400),
    ("nul bytes", "POST", J, b"\x00" * 100, 400),
    ("deep json", "POST", J, nested_json(MAX_DEPTH + 10), 400),
    ("very deep json", "POST", J, nested_json(100_000), 400),
    ("yaml alias bomb", "POST", Y, BOMB, 400),
    ("deep yaml", "POST", Y, nested_yaml(50_000), 400),
    ("yaml syntax", "POST", Y, b"metadata: {name: [x\n", 400),
    ("yaml two documents", "POST", Y, b"kind: Service\n---\nkind: Service\n", 400),
    ("yaml tags", "POST", Y, b"!!python/object:os.system {}\n", 400),
    ("wrong kind", "POST", J, b'{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}}', 400),
    ("wrong field types", "POST", J, b'{"metadata": {"name": 5}, "spec": {"ports": "many"}}', 400),
    ("protobuf garbage", "POST", PB, b"k8s\x00\xff\xff\xff\xff\x0f", 400),
    ("protobuf without magic", "POST", PB, b"\x0a\x02hi", 400),
    ("unknown content type", "POST", "application/xml", b"<service/>", 415),
    ("too large", "POST", J, b'{"metadata": {"name": "x", "annotations": {"a": "' + b"x" * (3 * 1024 * 1024) + b'"}}}',
     413),
    ("patch bomb", "PATCH", "application/apply-patch+yaml", BOMB, 400),
    ("patch deep merge", "PATCH", "application/merge-patch+json", nested_json(MAX_DEPTH + 10), 400),
    ("patch not json", "PATCH", "application/merge-patch+json", b"{{{", 400),
    ("json patch not a list", "PATCH", "application/json-patch+json", b'{"op": "add"}', 400),
    ("patch unknown type", "PATCH", "text/csv", b"a,b", 415),
    ("put garbage", "PUT", J, b"\x01\x02\x03", 400),
    ("delete options garbage", "DELETE", J, b"{not json", 400),
]


@pytest.mark.parametrize(("case", "method", "ctype", "body", "code"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_bodies_get_a_4xx_status(api: httpx.Client, apiserver: ApiServerProcess, ns: str, case: str,
                                           method: str, ctype: str, body: bytes, code: int) -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}
    if method != "POST":
        assert api.post(f"/api/v1/namespaces/{ns}/services", json=svc).status_code == 201
    path = f"/api/v1/namespaces/{ns}/services" + ("" if method == "POST" else "/web")
    params = {"fieldManager": "t"} if "apply" in ctype else {}
    before = rss_kib(apiserver.proc.pid)
    t0 = time.monotonic()
    r = api.request(method, path, content=body, headers={"Content-Type": ctype}, params=params)
    took = time.monotonic() - t0
    assert r.status_code == code, r.text[:300]
    status = r.json()
    assert (status["kind"], status["status"], status["code"]) == ("Status", "Failure", code)
    assert took < 3, f"{case} took {took:.1f}s"
    assert rss_kib(apiserver.proc.pid) - before < 100_000
    assert api.get("/readyz").status_code == 200


@pytest.mark.parametrize("field", ["\u0100", "a\r\nX-Injected: 1", "tab\there", "zero\x00byte"])
def test_unknown_field_names_cannot_break_the_warning_header(api: httpx.Client, ns: str, field: str) -> None:
    """Warnings quote unknown field names: non-Latin-1 text and CR/LF must neither 500 nor split the header."""
    body = orjson.dumps({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "warned"},
                         "spec": {"ports": [{"port": 80}]}, field: 1})
    r = api.post(f"/api/v1/namespaces/{ns}/services", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    assert "x-injected" not in r.headers
    warning = dict(r.headers.raw).get(b"warning", b"")
    assert b"\r" not in warning and b"\n" not in warning
    assert warning.decode("utf-8").startswith('299 - "unknown field')
