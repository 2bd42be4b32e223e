"""Authentication (token file) and authorization (ABAC), from parsing rules to kubectl against a real server."""

from __future__ import annotations

import asyncio
import os
import ssl
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from apimachinery.resources import BY_KEY
from apiserver import accessreview
from apiserver.auth import (
    ANONYMOUS,
    UNSECURED,
    Authenticator,
    Authorizer,
    ConfigError,
    Policy,
    RequestInfo,
    UserInfo,
    ensure_identities,
    forbidden,
    load_token_file,
    parse_policy,
    parse_policy_file,
    parse_token_file,
    request_info,
)
from kubeclient import errors as client_errors
from kubeclient.client import Client
from kubeclient.kubeconfig import render_kubeconfig
from tests.secure_server import (
    ADMIN,
    ALICE,
    BOB,
    SecureServer,
    kubectl_or_skip,
    start_secure_apiserver,
    write_security_files,
)

# -- token file ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("t1,alice,u1\n", {"t1": UserInfo("alice", "u1", ())}),
        ('t1,alice,u1,"a,b"\n', {"t1": UserInfo("alice", "u1", ("a", "b"))}),
        ("t1,alice,u1,single\n\n\nt2,bob,u2\n", {"t1": UserInfo("alice", "u1", ("single",)),
                                               "t2": UserInfo("bob", "u2", ())}),
        (",nobody,u0\nt1,alice,u1\n", {"t1": UserInfo("alice", "u1", ())}),  # empty token skipped
        ("t1,alice,u1\nt1,bob,u2\n", {"t1": UserInfo("bob", "u2", ())}),  # duplicate: last wins
        ("t1,alice,u1,g,extra\n", {"t1": UserInfo("alice", "u1", ("g",))}),
    ],
)
def test_parse_token_file(text: str, expected: dict[str, UserInfo]) -> None:
    assert parse_token_file(text) == expected


@pytest.mark.parametrize("text", ["t1,alice\n", "t1\n", "# comment\n"])
def test_token_file_needs_three_columns(text: str) -> None:
    with pytest.raises(ConfigError, match=r"token file '<tokens>' must have at least 3 columns \(token, user name, "
                                          r"user uid\), found \d"):
        parse_token_file(text)


def test_missing_token_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unable to read token file"):
        load_token_file(tmp_path / "nope.csv")


TABLE = {"good": UserInfo("alice", "u1", ("dev",)), "admin": UserInfo("root", "u0", ("system:masters",))}
ALICE_AUTH = UserInfo("alice", "u1", ("dev", "system:authenticated"))


@pytest.mark.parametrize(
    ("header", "anonymous", "expected"),
    [
        ("Bearer good", False, ALICE_AUTH),
        ("bearer good", False, ALICE_AUTH),
        ("  Bearer good  ", False, ALICE_AUTH),
        ("Bearer good extra", False, ALICE_AUTH),
        ("Bearer admin", False, UserInfo("root", "u0", ("system:masters", "system:authenticated"))),
        ("Bearer bad", False, None),
        ("Bearer bad", True, None),  # a wrong token is never anonymous
        (None, False, None),
        (None, True, ANONYMOUS),
        ("", True, ANONYMOUS),
        ("Basic YWxpY2U6cHc=", False, None),
        ("Basic YWxpY2U6cHc=", True, ANONYMOUS),  # not a bearer token: no credentials we understand
        ("Bearer", True, ANONYMOUS),
        ("Bearer ", False, None),
    ],
)
def test_authenticate(header: str | None, anonymous: bool, expected: UserInfo | None) -> None:
    assert Authenticator(TABLE, anonymous=anonymous).authenticate(header) == expected


def test_authentication_off_is_unsecured() -> None:
    a = Authenticator(None)
    assert not a.enabled
    assert a.authenticate(None) == UNSECURED
    assert a.authenticate("Bearer whatever") == UNSECURED


def test_anonymous_only_authentication() -> None:
    a = Authenticator(None, anonymous=True)
    assert a.enabled
    assert a.authenticate(None) == ANONYMOUS
    assert a.authenticate("Bearer x") is None


def test_ensure_identities_keeps_tokens_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "auth" / "tokens.csv"
    first = ensure_identities(path, {"admin": ["system:masters"], "ipam": ["kubelite:controllers"]})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = ensure_identities(path, {"admin": ["system:masters"], "dns": ["kubelite:controllers"]})
    assert again["admin"] == first["admin"]
    assert again["dns"] not in first.values()
    table = load_token_file(path)
    assert table[first["admin"]] == UserInfo("admin", "admin", ("system:masters",))
    assert table[first["ipam"]].name == "ipam"
    assert table[again["dns"]].groups == ("kubelite:controllers",)


# -- policies -----------------------------------------------------------------------------------

AUTHN = "system:authenticated"


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ({"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy",
          "spec": {"user": "alice", "namespace": "shield", "resource": "services", "apiGroup": "", "readonly": True}},
         Policy(user="alice", namespace="shield", resource="services", api_group="", readonly=True)),
        ({"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy",
          "spec": {"user": "*", "nonResourcePath": "/version"}},
         Policy(group=AUTHN, non_resource_path="/version")),
        ({"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy",
          "spec": {"group": "*", "namespace": "*", "resource": "*", "apiGroup": "*"}},
         Policy(group=AUTHN, namespace="*", resource="*", api_group="*")),
        ({"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy",
          "spec": {"group": "dev", "namespace": "*", "resource": "pods", "apiGroup": "", "extra": 1}},
         Policy(group="dev", namespace="*", resource="pods")),
        # unversioned (v0): empty namespace/resource match all, API group always *, no subject = authenticated
        ({"user": "bob", "readonly": True}, Policy(user="bob", readonly=True, api_group="*", resource="*",
                                                   namespace="*", non_resource_path="*")),
        ({"namespace": "ns1", "resource": "pods"}, Policy(group=AUTHN, api_group="*", resource="pods",
                                                          namespace="ns1")),
        ({"user": "*", "resource": "pods"}, Policy(group=AUTHN, api_group="*", resource="pods", namespace="*")),
    ],
)
def test_parse_policy(doc: dict[str, Any], expected: Policy) -> None:
    assert parse_policy(doc) == expected


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"apiVersion": "abac.authorization.kubernetes.io/v2", "kind": "Policy", "spec": {}}, "no kind"),
        ({"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Other", "spec": {}}, "no kind"),
        ({"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", "spec": {"readonly": "yes"}},
         "cannot unmarshal str"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_parse_policy_errors(doc: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_policy(doc)


def test_policy_file_skips_comments_and_names_bad_lines() -> None:
    good = '{"user": "a"}\n\n# comment\n   \n{"user": "b"}\n'
    assert [p.user for p in parse_policy_file(good)] == ["a", "b"]
    with pytest.raises(ConfigError, match=r"error reading policy file p.jsonl, line 3: \{nope: "):
        parse_policy_file('{"user": "a"}\n\n{nope\n', path="p.jsonl")


alice = UserInfo("alice", "", ("system:authenticated",))
bob = UserInfo("bob", "", ("dev", "system:authenticated"))
root = UserInfo("root", "", ("system:masters", "system:authenticated"))


def res(verb: str, resource: str, namespace: str = "", group: str = "", name: str = "") -> RequestInfo:
    return RequestInfo(verb=verb, resource_request=True, api_group=group, namespace=namespace, resource=resource,
                       name=name, api_version="v1")


def nonres(verb: str, path: str) -> RequestInfo:
    return RequestInfo(verb=verb, path=path)


ALICE_READS_SHIELD = Policy(user="alice", namespace="shield", resource="services", api_group="", readonly=True)


@pytest.mark.parametrize(
    ("policy", "user", "info", "allowed"),
    [
        (ALICE_READS_SHIELD, alice, res("list", "services", "shield"), True),
        (ALICE_READS_SHIELD, alice, res("get", "services", "shield", name="web"), True),
        (ALICE_READS_SHIELD, alice, res("watch", "services", "shield"), True),
        (ALICE_READS_SHIELD, alice, res("create", "services", "shield"), False),
        (ALICE_READS_SHIELD, alice, res("delete", "services", "shield", name="web"), False),
        (ALICE_READS_SHIELD, alice, res("list", "services", "other"), False),
        (ALICE_READS_SHIELD, alice, res("list", "services", ""), False),  # all namespaces
        (ALICE_READS_SHIELD, alice, res("list", "pods", "shield"), False),
        (ALICE_READS_SHIELD, alice, res("list", "services", "shield", group="apps"), False),
        (ALICE_READS_SHIELD, bob, res("list", "services", "shield"), False),
        (ALICE_READS_SHIELD, alice, nonres("get", "/api"), False),  # a resource policy never matches a path
        (Policy(group="dev", namespace="*", resource="pods", api_group=""), bob, res("create", "pods", "x"), True),
        (Policy(group="dev", namespace="*", resource="pods", api_group=""), alice, res("get", "pods", "x"), False),
        (Policy(user="*", namespace="*", resource="*", api_group="*"), alice, res("update", "leases", "x",
                                                                                  "coordination.k8s.io"), True),
        (Policy(group=AUTHN, non_resource_path="*", readonly=True), alice, nonres("get", "/version"), True),
        (Policy(group=AUTHN, non_resource_path="*", readonly=True), alice, nonres("post", "/version"), False),
        (Policy(group=AUTHN, non_resource_path="/apis/*"), alice, nonres("get", "/apis/apps/v1"), True),
        (Policy(group=AUTHN, non_resource_path="/apis/*"), alice, nonres("get", "/api/v1"), False),
        (Policy(group=AUTHN, non_resource_path="/version"), alice, nonres("get", "/version"), True),
        (Policy(group=AUTHN, non_resource_path="/version"), alice, nonres("get", "/versionz"), False),
        (Policy(group=AUTHN, non_resource_path="*"), alice, res("get", "pods", "x"), False),
        (Policy(), alice, res("get", "pods", "x"), False),  # no subject matches nobody
        (Policy(group=AUTHN, namespace="*", resource="*", api_group="*"), ANONYMOUS, res("get", "pods", "x"), False),
    ],
)
def test_abac_policy_matches(policy: Policy, user: UserInfo, info: RequestInfo, allowed: bool) -> None:
    assert policy.matches(user, info) is allowed
    assert Authorizer([policy]).authorize(user, info) == (allowed, "")


def test_authorizer_modes() -> None:
    anything = res("delete", "namespaces", "x", name="x")
    assert Authorizer(None).authorize(alice, anything) == (True, "")  # no policy file: AlwaysAllow
    assert Authorizer([]).authorize(alice, anything) == (False, "")
    assert Authorizer([]).authorize(root, anything) == (True, "")  # system:masters
    review = res("create", "selfsubjectaccessreviews", group="authorization.k8s.io")
    assert Authorizer([]).authorize(alice, review) == (True, "")  # anyone signed in may ask
    assert Authorizer([]).authorize(ANONYMOUS, review) == (False, "")


# -- request attributes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("GET", "/api/v1/namespaces/shield/services", "", res("list", "services", "shield")),
        ("GET", "/api/v1/namespaces/shield/services", "watch=true", res("watch", "services", "shield")),
        ("GET", "/api/v1/namespaces/shield/services", "watch=1&resourceVersion=5",
         res("watch", "services", "shield")),
        ("GET", "/api/v1/namespaces/shield/services", "watch=false", res("list", "services", "shield")),
        ("GET", "/api/v1/namespaces/shield/services", "watch=0", res("list", "services", "shield")),
        ("GET", "/api/v1/namespaces/shield/services", "fieldSelector=metadata.name%3Dweb",
         res("list", "services", "shield", name="web")),
        ("GET", "/api/v1/services", "", res("list", "services")),
        ("GET", "/api/v1/namespaces/shield/services/web", "", res("get", "services", "shield", name="web")),
        ("HEAD", "/api/v1/namespaces/shield/services/web", "", res("get", "services", "shield", name="web")),
        ("POST", "/api/v1/namespaces/shield/services", "", res("create", "services", "shield")),
        ("PUT", "/api/v1/namespaces/shield/services/web", "", res("update", "services", "shield", name="web")),
        ("PATCH", "/api/v1/namespaces/shield/services/web", "", res("patch", "services", "shield", name="web")),
        ("DELETE", "/api/v1/namespaces/shield/services/web", "", res("delete", "services", "shield", name="web")),
        ("DELETE", "/api/v1/namespaces/shield/services", "", res("deletecollection", "services", "shield")),
        ("GET", "/api/v1/namespaces", "", res("list", "namespaces")),
        ("POST", "/api/v1/namespaces", "", res("create", "namespaces")),
        ("GET", "/api/v1/namespaces/shield", "", res("get", "namespaces", "shield", name="shield")),
        ("DELETE", "/api/v1/namespaces/shield", "", res("delete", "namespaces", "shield", name="shield")),
        ("GET", "/api/v1/nodes/n1", "", res("get", "nodes", name="n1")),
        ("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/l",
         "", res("get", "leases", "kube-system", "coordination.k8s.io", "l")),
        ("GET", "/apis/unknown.example/v1/namespaces/ns/widgets/w", "",
         res("get", "widgets", "ns", "unknown.example", "w")),
        ("GET", "/api/v1/watch/namespaces/ns/services", "", res("watch", "services", "ns")),
    ],
)
def test_request_info(method: str, path: str, query: str, expected: RequestInfo) -> None:
    got = request_info(method, path, query=query)
    assert got == RequestInfo(**{**expected.__dict__, "path": path})


@pytest.mark.parametrize(
    ("method", "path", "sub", "namespace", "name"),
    [
        ("PUT", "/api/v1/namespaces/shield/services/web/status", "status", "shield", "web"),
        ("PUT", "/api/v1/namespaces/shield/status", "status", "shield", "shield"),
        ("PUT", "/api/v1/namespaces/shield/finalize", "finalize", "shield", "shield"),
        ("POST", "/api/v1/namespaces/shield/pods/p/binding", "binding", "shield", "p"),
        ("PUT", "/api/v1/nodes/n1/status", "status", "", "n1"),
    ],
)
def test_request_info_subresources(method: str, path: str, sub: str, namespace: str, name: str) -> None:
    got = request_info(method, path)
    assert (got.subresource, got.namespace, got.name, got.resource_request) == (sub, namespace, name, True)


@pytest.mark.parametrize("path", ["/", "/api", "/apis", "/api/v1", "/apis/apps", "/apis/apps/v1", "/version",
                                  "/metrics", "/openapi/v3", "/healthz/ping", "/whatever/x/y/z"])
def test_non_resource_paths(path: str) -> None:
    assert request_info("GET", path) == RequestInfo(verb="get", path=path)


def test_request_info_agrees_with_every_served_resource() -> None:
    """For every resource the registry serves, the attributes name it the way discovery does."""
    for rt in BY_KEY.values():
        ns = "/namespaces/n1" if rt.namespaced else ""
        got = request_info("GET", f"{rt.url_prefix()}{ns}/{rt.plural}/x")
        assert (got.resource, got.api_group, got.namespace, got.name) == (
            rt.plural, rt.group, "n1" if rt.namespaced else ("x" if rt.plural == "namespaces" else ""), "x")


@pytest.mark.parametrize(
    ("info", "message", "details"),
    [
        (res("create", "services", "shield"),
         'services is forbidden: User "alice" cannot create resource "services" in API group "" in the namespace '
         '"shield"', {"kind": "services"}),
        (res("get", "services", "shield", name="web"),
         'services "web" is forbidden: User "alice" cannot get resource "services" in API group "" in the '
         'namespace "shield"', {"kind": "services", "name": "web"}),
        (res("list", "nodes"),
         'nodes is forbidden: User "alice" cannot list resource "nodes" in API group "" at the cluster scope',
         {"kind": "nodes"}),
        (res("list", "leases", "kube-system", "coordination.k8s.io"),
         'leases.coordination.k8s.io is forbidden: User "alice" cannot list resource "leases" in API group '
         '"coordination.k8s.io" in the namespace "kube-system"', {"kind": "leases", "group": "coordination.k8s.io"}),
        (RequestInfo(verb="update", resource_request=True, namespace="ns", resource="services", subresource="status",
                     name="web"),
         'services "web" is forbidden: User "alice" cannot update resource "services/status" in API group "" in '
         'the namespace "ns"', {"kind": "services", "name": "web"}),
        (nonres("get", "/metrics"), 'forbidden: User "alice" cannot get path "/metrics"', {}),
    ],
)
def test_forbidden_status(info: RequestInfo, message: str, details: dict[str, str]) -> None:
    e = forbidden(alice, info)
    assert (e.code, e.reason, e.message, e.details) == (403, "Forbidden", message, details)
    assert e.status["kind"] == "Status" and e.status["status"] == "Failure"


# -- SelfSubjectAccessReview -------------------------------------------------------------------


def test_review_answers_from_the_authorizer() -> None:
    authz = Authorizer([ALICE_READS_SHIELD])
    body: dict[str, Any] = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"namespace": "shield", "verb": "list", "resource": "services"}}}
    out = accessreview.review(authz, body, user=alice)
    assert out["status"] == {"allowed": True}
    assert out["spec"] == body["spec"] and out["kind"] == "SelfSubjectAccessReview"
    body["spec"]["resourceAttributes"]["verb"] = "create"
    assert accessreview.review(authz, body, user=alice)["status"] == {"allowed": False}
    non = {"spec": {"nonResourceAttributes": {"path": "/version", "verb": "get"}}}
    assert accessreview.review(Authorizer([Policy(group=AUTHN, non_resource_path="/version")]), non,
                               user=alice)["status"] == {"allowed": True}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "spec.resourceAttributes: Invalid value: null: exactly one of nonResourceAttributes or "
             "resourceAttributes must be specified"),
        ({"resourceAttributes": {}, "nonResourceAttributes": {}},
         "spec.nonResourceAttributes: Invalid value: map[string]string{}: cannot be specified in combination with "
         "resourceAttributes"),
    ],
)
def test_review_needs_exactly_one_kind_of_attributes(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(Exception) as ei:
        accessreview.review(Authorizer(None), {"spec": spec}, user=alice)
    e: Any = ei.value
    assert e.code == 422 and message in e.message
    assert e.message.startswith('SelfSubjectAccessReview.authorization.k8s.io "" is invalid: ')


def _pb_field(num: int, payload: bytes) -> bytes:
    def varint(n: int) -> bytes:
        out = bytearray()
        while True:
            b = n & 0x7F
            n >>= 7
            out.append(b | (0x80 if n else 0))
            if not n:
                return bytes(out)
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def test_protobuf_review_decodes() -> None:
    attrs = _pb_field(1, b"shield") + _pb_field(2, b"create") + _pb_field(5, b"services") + _pb_field(7, b"web")
    review = _pb_field(1, b"") + _pb_field(2, _pb_field(1, attrs))
    type_meta = _pb_field(1, b"authorization.k8s.io/v1") + _pb_field(2, b"SelfSubjectAccessReview")
    body = b"k8s\x00" + _pb_field(1, type_meta) + _pb_field(2, review) + _pb_field(4, b"application/vnd.kubernetes.protobuf")
    got = accessreview.decode_protobuf_review(body)
    assert got["kind"] == "SelfSubjectAccessReview" and got["apiVersion"] == "authorization.k8s.io/v1"
    assert got["spec"] == {"resourceAttributes": {"namespace": "shield", "verb": "create", "resource": "services",
                                                  "name": "web"}}


@pytest.mark.parametrize("body", [b"nope", b"k8s\x00\x0a\xff", b"k8s\x00\x0f"])
def test_protobuf_review_garbage_is_400(body: bytes) -> None:
    with pytest.raises(Exception) as ei:
        accessreview.decode_protobuf_review(body)
    assert getattr(ei.value, "code", None) == 400


def test_discovery_documents_list_the_review() -> None:
    agg = accessreview.add_to_aggregated({"kind": "APIGroupDiscoveryList", "items": []})
    assert agg["items"][0]["metadata"]["name"] == "authorization.k8s.io"
    assert agg["items"][0]["versions"][0]["resources"][0]["verbs"] == ["create"]
    legacy = accessreview.add_to_group_list({"kind": "APIGroupList", "groups": []})
    assert legacy["groups"][0]["preferredVersion"]["groupVersion"] == "authorization.k8s.io/v1"
    assert accessreview.resource_list()["resources"][0]["name"] == "selfsubjectaccessreviews"


# -- against a real server ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureServer]:
    d = tmp_path_factory.mktemp("auth")
    tokens, policy = write_security_files(d)
    # TLS: kubectl only sends a bearer token over https (clientcmd drops credentials for http servers).
    srv = start_secure_apiserver(d / "data", extra=["--token-auth-file", str(tokens), "--authorization-policy-file",
                                                    str(policy), "--tls"], tls=True)
    try:
        with srv.client(ADMIN) as admin:
            for ns in ("shield", "other", "public"):
                r = admin.post("/api/v1/namespaces", json={"metadata": {"name": ns}})
                assert r.status_code == 201, r.text
            svc = {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}
            for ns in ("shield", "other", "public"):
                assert admin.post(f"/api/v1/namespaces/{ns}/services", json=svc).status_code == 201
                # no serviceaccount controller runs here: the default account Pods are admitted with
                sa = {"metadata": {"name": "default"}}
                assert admin.post(f"/api/v1/namespaces/{ns}/serviceaccounts", json=sa).status_code == 201
        yield srv
    finally:
        srv.stop()


UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "Unauthorized",
                "reason": "Unauthorized", "code": 401}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic YTpi"},
                                     {"Authorization": f"Bearer {ALICE}x"}])
def test_http_401_without_a_valid_token(secured: SecureServer, headers: dict[str, str]) -> None:
    for method, path in (("GET", "/api/v1/pods"), ("POST", "/api/v1/namespaces/shield/services"), ("GET", "/api"),
                         ("GET", "/version"), ("GET", "/metrics"), ("GET", "/nope")):
        r = httpx.request(method, secured.url + path, headers=headers, timeout=10, verify=secured.verify)
        assert r.status_code == 401, (method, path)
        assert r.json() == UNAUTHORIZED


def test_http_probes_need_no_token(secured: SecureServer) -> None:
    for path in ("/healthz", "/livez", "/readyz"):
        assert httpx.get(secured.url + path, timeout=10, verify=secured.verify).status_code == 200


def test_http_alice_reads_services_in_shield_only(secured: SecureServer) -> None:
    with secured.client(ALICE) as c:
        assert c.get("/api/v1/namespaces/shield/services").status_code == 200
        assert c.get("/api/v1/namespaces/shield/services/web").json()["metadata"]["name"] == "web"
        r = c.post("/api/v1/namespaces/shield/services", json={"metadata": {"name": "x"}})
        assert r.status_code == 403
        assert r.json() == {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": 'services is forbidden: User "alice" cannot create resource "services" in API group "" in '
                       'the namespace "shield"',
            "reason": "Forbidden", "details": {"kind": "services"}, "code": 403,
        }
        r = c.get("/api/v1/namespaces/other/services/web")
        assert r.status_code == 403
        assert r.json()["message"] == ('services "web" is forbidden: User "alice" cannot get resource "services" in '
                                       'API group "" in the namespace "other"')
        r = c.get("/api/v1/services")
        assert r.json()["message"] == ('services is forbidden: User "alice" cannot list resource "services" in API '
                                       'group "" at the cluster scope')
        r = c.delete("/api/v1/namespaces/shield/services/web")
        assert r.status_code == 403
        r = c.get("/api/v1/namespaces/shield/pods")
        assert r.status_code == 403
        # readonly non-resource policy: discovery yes, a POST to a path no
        assert c.get("/api").status_code == 200 and c.get("/apis").status_code == 200
        r = c.post("/version", content=b"{}")
        assert (r.status_code, r.json()["message"]) == (403, 'forbidden: User "alice" cannot post path "/version"')
        # an unknown resource is still authorized first: 403, not 404
        assert c.get("/apis/example.com/v1/namespaces/shield/widgets").status_code == 403


def test_http_group_policy_and_system_masters(secured: SecureServer) -> None:
    pod = {"metadata": {"name": "p1"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    with secured.client(BOB) as c:
        assert c.post("/api/v1/namespaces/other/pods", json=pod).status_code == 201
        assert c.get("/api/v1/namespaces/other/services").status_code == 403
    with secured.client(ADMIN) as c:
        assert c.get("/api/v1/services").status_code == 200
        assert c.delete("/api/v1/namespaces/other/pods/p1").status_code == 200


def test_http_anonymous_refused_without_flag(secured: SecureServer) -> None:
    r = httpx.get(secured.url + "/api/v1/namespaces/public/services", timeout=10, verify=secured.verify)
    assert r.status_code == 401  # the policy would allow system:anonymous, but anonymous requests are off


def test_http_self_subject_access_review(secured: SecureServer) -> None:
    def ask(token: str, attrs: dict[str, str]) -> bool:
        with secured.client(token) as c:
            r = c.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                       json={"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                             "spec": {"resourceAttributes": attrs}})
            assert r.status_code == 201, r.text
            return bool(r.json()["status"]["allowed"])

    assert ask(ALICE, {"verb": "list", "resource": "services", "namespace": "shield"})
    assert not ask(ALICE, {"verb": "create", "resource": "services", "namespace": "shield"})
    assert ask(BOB, {"verb": "delete", "resource": "pods", "namespace": "anywhere"})
    assert ask(ADMIN, {"verb": "*", "resource": "*"})
    with secured.client(ADMIN) as c:
        assert c.get("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews").status_code == 405
    with secured.client(ALICE) as c:
        assert c.get("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews").status_code == 403  # authz first
        r = c.get("/apis", headers={"Accept": "application/json"})
        assert "authorization.k8s.io" in [g["name"] for g in r.json()["groups"]]
        assert c.get("/apis/authorization.k8s.io/v1").json()["resources"][0]["kind"] == "SelfSubjectAccessReview"


async def test_python_client_library(secured: SecureServer) -> None:
    svc = BY_KEY["services"]
    assert secured.ca_file is not None
    ctx = ssl.create_default_context(cafile=str(secured.ca_file))
    async with Client(secured.url, token=ALICE, verify=ctx) as c:
        got = await c.list(svc, namespace="shield")
        assert [i["metadata"]["name"] for i in got["items"]] == ["web"]
        with pytest.raises(client_errors.Forbidden) as ei:
            await c.create(svc, {"metadata": {"name": "x"}, "spec": {"ports": [{"port": 1}]}}, namespace="shield")
        assert ei.value.message.startswith('services is forbidden: User "alice" cannot create resource "services"')
    async with Client(secured.url, verify=ctx) as c:
        with pytest.raises(client_errors.Unauthorized):
            await c.list(svc, namespace="shield")
    async with Client(secured.url, token="wrong", verify=ctx) as c:
        with pytest.raises(client_errors.Unauthorized):
            await asyncio.wait_for(c.get(svc, "web", namespace="shield"), 10)


def test_kubernetes_python_client(secured: SecureServer) -> None:
    from kubernetes import client as k8s

    def api(token: str | None) -> Any:
        cfg = k8s.Configuration()
        cfg.host = secured.url
        cfg.ssl_ca_cert = str(secured.ca_file)
        if token:
            cfg.api_key = {"authorization": token}
            cfg.api_key_prefix = {"authorization": "Bearer"}
        return k8s.CoreV1Api(k8s.ApiClient(cfg))

    names = [s.metadata.name for s in api(ALICE).list_namespaced_service("shield").items]
    assert names == ["web"]
    with pytest.raises(k8s.ApiException) as ei:
        api(ALICE).create_namespaced_service("shield", {"metadata": {"name": "x"}, "spec": {"ports": [{"port": 1}]}})
    assert ei.value.status == 403 and "cannot create resource" in str(ei.value.body)
    with pytest.raises(k8s.ApiException) as ei:
        api(None).list_namespaced_service("shield")
    assert ei.value.status == 401


def _kubectl(srv: SecureServer, token: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    kc = tmp / f"kubeconfig-{token[:5]}"
    assert srv.ca_file is not None
    kc.write_text(render_kubeconfig(srv.url, token=token, ca_data=srv.ca_file.read_bytes()))
    env = {**os.environ, "HOME": str(tmp), "KUBECONFIG": str(kc)}
    return subprocess.run([kubectl_or_skip(), *args], capture_output=True, text=True, env=env, timeout=60,
                          stdin=subprocess.DEVNULL)


def test_kubectl_get_and_auth_can_i(secured: SecureServer, tmp_path: Path) -> None:
    r = _kubectl(secured, ALICE, tmp_path, "get", "svc", "-n", "shield", "-o", "name")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["service/web"]
    r = _kubectl(secured, ALICE, tmp_path, "get", "svc", "-n", "other")
    assert r.returncode == 1
    assert ('Error from server (Forbidden): services is forbidden: User "alice" cannot list resource "services" in '
            'API group "" in the namespace "other"') in r.stderr
    r = _kubectl(secured, ALICE, tmp_path, "auth", "can-i", "list", "services", "-n", "shield")
    assert (r.returncode, r.stdout.strip()) == (0, "yes"), r.stderr
    r = _kubectl(secured, ALICE, tmp_path, "auth", "can-i", "create", "services", "-n", "shield")
    assert (r.returncode, r.stdout.strip()) == (1, "no"), r.stderr
    r = _kubectl(secured, BOB, tmp_path, "auth", "can-i", "delete", "pods", "-n", "x")
    assert (r.returncode, r.stdout.strip()) == (0, "yes"), r.stderr
    r = _kubectl(secured, "wrong-token", tmp_path, "get", "svc", "-n", "shield")
    assert r.returncode == 1
    assert "Unauthorized" in r.stderr


@pytest.fixture(scope="module")
def anonymous(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureServer]:
    d = tmp_path_factory.mktemp("anon")
    tokens, policy = write_security_files(d)
    srv = start_secure_apiserver(d / "data", extra=["--token-auth-file", str(tokens), "--authorization-policy-file",
                                                    str(policy), "--anonymous-auth"])
    try:
        with srv.client(ADMIN) as admin:
            assert admin.post("/api/v1/namespaces", json={"metadata": {"name": "public"}}).status_code == 201
        yield srv
    finally:
        srv.stop()


def test_anonymous_auth_flag(anonymous: SecureServer) -> None:
    assert httpx.get(anonymous.url + "/api/v1/namespaces/public/services", timeout=10).status_code == 200
    r = httpx.get(anonymous.url + "/api/v1/namespaces/default/services", timeout=10)
    assert r.status_code == 403
    assert r.json()["message"] == ('services is forbidden: User "system:anonymous" cannot list resource "services" in '
                                   'API group "" in the namespace "default"')
    # credentials that do not check out are refused, never downgraded to anonymous
    r = httpx.get(anonymous.url + "/api/v1/namespaces/public/services", headers={"Authorization": "Bearer nope"},
                  timeout=10)
    assert r.status_code == 401


@pytest.mark.parametrize(("args", "expected"), [([], False), (["--anonymous-auth"], True),
                                                (["--anonymous-auth=false"], False), (["--anonymous-auth=true"], True)])
def test_anonymous_auth_flag_parses_like_kube(args: list[str], expected: bool) -> None:
    from kubelite.cli import apiserver

    assert apiserver.make_context("apiserver", list(args)).params["anonymous_auth"] is expected
