"""SelfSubjectRulesReview: ``kubectl auth can-i --list`` against AlwaysAllow and an ABAC policy."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from apiserver import accessreview
from apiserver.auth import ANONYMOUS, UNSECURED, Authorizer, RequestInfo, UserInfo, parse_policy_file
from kubeclient.kubeconfig import render_kubeconfig
from tests import needs
from tests.conftest import ApiServerProcess, running_apiserver
from tests.secure_server import (
    ADMIN,
    ALICE,
    BOB,
    POLICY_JSONL,
    SecureServer,
    start_secure_apiserver,
    write_security_files,
)

RULES = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"
ALL = ([{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}], [{"verbs": ["*"], "nonResourceURLs": ["*"]}])
SELF = {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
        "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]}
READ_PATHS = {"verbs": ["get", "list", "watch"], "nonResourceURLs": ["*"]}
ALICE_USER = UserInfo("alice", "uid-alice", ("system:authenticated",))
BOB_USER = UserInfo("bob", "uid-bob", ("dev", "ops", "system:authenticated"))
ADMIN_USER = UserInfo("admin", "uid-admin", ("system:masters", "system:authenticated"))


# -- rules from the authorizer ------------------------------------------------------------------


@pytest.mark.parametrize(("user", "namespace", "expected"), [
    (ALICE_USER, "shield", ([SELF, {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["services"]}],
                            [READ_PATHS])),
    (ALICE_USER, "other", ([SELF], [READ_PATHS])),  # the shield policy does not apply elsewhere
    (BOB_USER, "x", ([SELF, {"verbs": ["*"], "apiGroups": [""], "resources": ["pods"]}], [READ_PATHS])),
    (ADMIN_USER, "x", ALL),  # system:masters may do anything, and the review says so
    (ANONYMOUS, "public", ([{"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["services"]}], [])),
])
def test_rules_from_the_abac_policy(user: UserInfo, namespace: str,
                                    expected: tuple[list[dict[str, Any]], list[dict[str, Any]]]) -> None:
    authorizer = Authorizer(parse_policy_file(POLICY_JSONL))
    assert accessreview.rules_for(authorizer, user, namespace) == expected


def test_always_allow_lists_everything() -> None:
    assert accessreview.rules_for(Authorizer(None), UNSECURED, "default") == ALL


@pytest.mark.parametrize(("user", "namespace"), [(ALICE_USER, "shield"), (ALICE_USER, "other"), (BOB_USER, "x"),
                                               (ANONYMOUS, "public")])
def test_the_review_agrees_with_the_access_check(user: UserInfo, namespace: str) -> None:
    """Every (verb, resource) the review lists is allowed by the authorizer; every other one is refused."""
    authorizer = Authorizer(parse_policy_file(POLICY_JSONL))
    resource_rules, _ = accessreview.rules_for(authorizer, user, namespace)
    verbs = ("get", "list", "watch", "create", "update", "patch", "delete")
    targets = [("", "services"), ("", "pods"), ("apps", "deployments"),
               ("authorization.k8s.io", "selfsubjectrulesreviews")]
    for group, resource in targets:
        for verb in verbs:
            listed = any(group in r["apiGroups"] and resource in r["resources"]
                         and (verb in r["verbs"] or "*" in r["verbs"]) for r in resource_rules)
            info = RequestInfo(verb=verb, resource_request=True, api_group=group, namespace=namespace,
                               resource=resource)
            assert authorizer.authorize(user, info)[0] == listed, (verb, group, resource)


@pytest.mark.parametrize(("body", "message"), [
    ({"spec": {}}, "no namespace on request"),
    ({"spec": {"namespace": ""}}, "no namespace on request"),
    ({"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1", "spec": {"namespace": "x"}},
     'SelfSubjectAccessReview in version "authorization.k8s.io/v1" cannot be handled as a SelfSubjectRulesReview'),
])
def test_bad_reviews_are_400(body: dict[str, Any], message: str) -> None:
    with pytest.raises(Exception) as ei:
        accessreview.rules_review(Authorizer(None), body, user=UNSECURED)
    assert getattr(ei.value, "code", None) == 400
    assert message in str(getattr(ei.value, "status", {}).get("message"))


def test_protobuf_rules_review_decodes() -> None:
    type_meta = b"\x0a\x17authorization.k8s.io/v1\x12\x16SelfSubjectRulesReview"
    raw = b"\x0a\x00" + b"\x12\x08\x0a\x06shield"  # metadata {}, spec {namespace: shield}
    body = b"k8s\x00" + b"\x0a" + bytes([len(type_meta)]) + type_meta + b"\x12" + bytes([len(raw)]) + raw
    decoded = accessreview.decode_protobuf_rules_review(body)
    assert decoded["kind"] == "SelfSubjectRulesReview" and decoded["spec"] == {"namespace": "shield"}


# -- against real servers -----------------------------------------------------------------------


def _kubectl(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(kubeconfig.parent), "KUBECONFIG": str(kubeconfig)}
    return subprocess.run([needs.kubectl(), *args], capture_output=True, text=True, env=env, timeout=60,
                          stdin=subprocess.DEVNULL)


def _table(out: str) -> list[list[str]]:
    """kubectl's can-i --list table as rows of cells (columns split on runs of 3+ spaces)."""

    return [[c.strip() for c in re.split(r"\s{3,}", line.rstrip())] for line in out.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    with running_apiserver(tmp_path_factory.mktemp("rules-open")) as srv:
        yield srv


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureServer]:
    d = tmp_path_factory.mktemp("rules-abac")
    tokens, policy = write_security_files(d)
    srv = start_secure_apiserver(d / "data", extra=["--token-auth-file", str(tokens), "--authorization-policy-file",
                                                    str(policy), "--tls"], tls=True)
    try:
        yield srv
    finally:
        srv.stop()


def test_discovery_lists_the_rules_review(open_server: ApiServerProcess) -> None:
    doc = httpx.get(f"{open_server.url}/apis/authorization.k8s.io/v1").json()
    assert [r["name"] for r in doc["resources"]] == ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]
    agg = httpx.get(f"{open_server.url}/apis",
                    headers={"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"}).json()
    group = next(i for i in agg["items"] if i["metadata"]["name"] == "authorization.k8s.io")
    assert {r["resource"]: r["responseKind"]["kind"] for r in group["versions"][0]["resources"]} == {
        "selfsubjectaccessreviews": "SelfSubjectAccessReview", "selfsubjectrulesreviews": "SelfSubjectRulesReview"}


def test_http_rules_review(open_server: ApiServerProcess) -> None:
    r = httpx.post(f"{open_server.url}{RULES}", json={"apiVersion": "authorization.k8s.io/v1",
                                                       "kind": "SelfSubjectRulesReview",
                                                       "spec": {"namespace": "default"}})
    assert r.status_code == 201, r.text
    assert r.json()["status"] == {"resourceRules": ALL[0], "nonResourceRules": ALL[1], "incomplete": False}
    r = httpx.post(f"{open_server.url}{RULES}", json={"spec": {}})
    assert r.status_code == 400
    assert r.json()["message"] == "no namespace on request"


def test_kubectl_can_i_list_without_authorization(open_server: ApiServerProcess, tmp_path: Path) -> None:
    kc = tmp_path / "kubeconfig"
    kc.write_text(render_kubeconfig(open_server.url))
    r = _kubectl(kc, "auth", "can-i", "--list")
    assert r.returncode == 0, r.stderr
    assert _table(r.stdout) == [["Resources", "Non-Resource URLs", "Resource Names", "Verbs"],
                                ["*.*", "[]", "[]", "[*]"],
                                ["", "[*]", "[]", "[*]"]]


def _secure_kubeconfig(srv: SecureServer, token: str, tmp: Path) -> Path:
    assert srv.ca_file is not None
    kc = tmp / f"kubeconfig-{token[:5]}"
    kc.write_text(render_kubeconfig(srv.url, token=token, ca_data=srv.ca_file.read_bytes()))
    return kc


def test_kubectl_can_i_list_with_a_policy(secured: SecureServer, tmp_path: Path) -> None:
    r = _kubectl(_secure_kubeconfig(secured, ALICE, tmp_path), "auth", "can-i", "--list", "-n", "shield")
    assert r.returncode == 0, r.stderr
    rows = _table(r.stdout)
    assert rows[0] == ["Resources", "Non-Resource URLs", "Resource Names", "Verbs"]
    assert sorted(rows[1:]) == sorted([
        ["selfsubjectaccessreviews.authorization.k8s.io", "[]", "[]", "[create]"],
        ["selfsubjectrulesreviews.authorization.k8s.io", "[]", "[]", "[create]"],
        ["services", "[]", "[]", "[get list watch]"],
        # kubectl prints a non-resource rule one verb a row
        ["", "[*]", "[]", "[get]"], ["", "[*]", "[]", "[list]"], ["", "[*]", "[]", "[watch]"],
    ])
    # elsewhere alice's services policy does not apply
    r = _kubectl(_secure_kubeconfig(secured, ALICE, tmp_path), "auth", "can-i", "--list", "-n", "other")
    assert r.returncode == 0, r.stderr
    assert not any(row[0] == "services" for row in _table(r.stdout))
    # bob's group may do anything to pods anywhere; the admin (system:masters) anything at all
    r = _kubectl(_secure_kubeconfig(secured, BOB, tmp_path), "auth", "can-i", "--list", "-n", "x")
    assert ["pods", "[]", "[]", "[*]"] in _table(r.stdout), r.stdout + r.stderr
    r = _kubectl(_secure_kubeconfig(secured, ADMIN, tmp_path), "auth", "can-i", "--list")
    assert ["*.*", "[]", "[]", "[*]"] in _table(r.stdout), r.stdout + r.stderr
