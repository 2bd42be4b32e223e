"""apiserver.discovery: documents generated from the registry, checked against what kubectl accepted."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from apimachinery.errors import StatusError
from apimachinery.resources import BY_KEY, RESOURCES
from apiserver.discovery import (
    AGGREGATED_CONTENT_TYPE,
    aggregated_api,
    aggregated_apis,
    api_group_list,
    api_resource_list,
    api_versions,
    storage_version_hash,
    version_info,
    wants_aggregated,
)
from tests import needs

CONTRACT = Path(__file__).parent / "data" / "kubectl-contract"
KUBECTL_ACCEPT = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
)


def recorded(name: str) -> Any:
    return json.loads((CONTRACT / name).read_text())


def covers(ours: Any, theirs: Any, *, where: str = "") -> None:
    """Every key and value of the recorded document is in ours.

    Lists of objects are matched by their identifying key; ``verbs`` may be a
    superset (the recorded documents are the minimum kubectl accepted).
    """
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), where
        for k, v in theirs.items():
            assert k in ours, f"{where}.{k} missing"
            covers(ours[k], v, where=f"{where}.{k}")
    elif isinstance(theirs, list) and theirs and isinstance(theirs[0], dict):
        assert isinstance(ours, list), where
        for item in theirs:
            ident = next(k for k in ("resource", "name", "version", "groupVersion", "metadata") if k in item)
            match = [o for o in ours if o.get(ident) == item[ident]]
            assert len(match) == 1, f"{where}: {ident}={item[ident]!r} found {len(match)} times"
            covers(match[0], item, where=f"{where}[{item[ident]}]")
    elif where.endswith("verbs"):
        assert set(theirs) <= set(ours), where
    else:
        assert ours == theirs, where


def test_version_selects_kubectl_1_32() -> None:
    v = version_info()
    assert (v["major"], v["minor"], v["gitVersion"]) == ("1", "32", "v1.32.4")
    assert set(v) == {
        "major", "minor", "gitVersion", "gitCommit", "gitTreeState", "buildDate", "goVersion", "compiler", "platform"
    }
    assert v["platform"].startswith("linux/")


def test_aggregated_content_type() -> None:
    assert AGGREGATED_CONTENT_TYPE == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


@pytest.mark.parametrize(
    ("ours", "name"),
    [
        (aggregated_api, "agg_api.json"),
        (aggregated_apis, "agg_apis.json"),
        (api_versions, "legacy_api.json"),
        (api_group_list, "legacy_apis.json"),
        (lambda: api_resource_list("", "v1"), "legacy_api_v1.json"),
        (lambda: api_resource_list("discovery.k8s.io", "v1"), "legacy_apis_discovery_v1.json"),
    ],
)
def test_covers_what_kubectl_accepted(ours: Any, name: str) -> None:
    doc = ours()
    theirs = recorded(name)
    assert list(doc)[: len(theirs)] == list(theirs), "top-level keys in the recorded order"
    covers(doc, theirs, where=name)


def test_aggregated_lists_every_registry_resource_once() -> None:
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for doc in (aggregated_api(), aggregated_apis()):
        for item in doc["items"]:
            group = item["metadata"].get("name", "")
            for version in item["versions"]:
                assert version["freshness"] == "Current"
                names = [r["resource"] for r in version["resources"]]
                assert names == sorted(names)
                for r in version["resources"]:
                    key = (group, version["version"], r["resource"])
                    assert key not in seen
                    seen[key] = r
    assert set(seen) == {(r.group, r.version, r.plural) for r in RESOURCES}
    for r in RESOURCES:
        doc = seen[(r.group, r.version, r.plural)]
        assert doc["responseKind"] == {"group": r.group, "version": r.version, "kind": r.kind}
        assert doc["scope"] == ("Namespaced" if r.namespaced else "Cluster")
        assert doc["singularResource"] == r.singular
        assert doc["verbs"] == sorted(r.verbs)
        assert doc.get("shortNames", []) == list(r.short_names)
        assert doc.get("categories", []) == list(r.categories)
        assert [s["subresource"] for s in doc.get("subresources", [])] == sorted(r.subresources)


@pytest.mark.parametrize("plural", ["deployments", "replicasets"])
def test_scale_subresource_answers_autoscaling_v1_scale(plural: str) -> None:
    """kubectl's scale client looks the Scale kind up in discovery (DiscoveryScaleKindResolver)."""
    legacy = {r["name"]: r for r in api_resource_list("apps", "v1")["resources"]}
    assert legacy[f"{plural}/scale"] == {"name": f"{plural}/scale", "singularName": "", "namespaced": True,
                                         "group": "autoscaling", "version": "v1", "kind": "Scale",
                                         "verbs": ["get", "patch", "update"]}
    assert legacy[f"{plural}/status"]["kind"] == legacy[plural]["kind"]
    apps = next(i for i in aggregated_apis()["items"] if i["metadata"]["name"] == "apps")
    doc = next(r for r in apps["versions"][0]["resources"] if r["resource"] == plural)
    subs = {s["subresource"]: s for s in doc["subresources"]}
    assert subs["scale"]["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    assert subs["status"]["responseKind"] == doc["responseKind"]
    assert doc["shortNames"] == (["deploy"] if plural == "deployments" else ["rs"])
    assert doc["categories"] == ["all"]


def test_core_group_is_only_in_api() -> None:
    assert [i["metadata"] for i in aggregated_api()["items"]] == [{}]
    assert all(i["metadata"]["name"] for i in aggregated_apis()["items"])
    assert api_versions() == {"kind": "APIVersions", "versions": ["v1"]}


def test_group_list_matches_registry() -> None:
    groups = api_group_list()["groups"]
    expected = sorted({r.group for r in RESOURCES if r.group})
    assert sorted(g["name"] for g in groups) == expected
    for g in groups:
        assert g["preferredVersion"] == g["versions"][0]
        assert g["preferredVersion"]["groupVersion"] == f"{g['name']}/{g['preferredVersion']['version']}"


def test_legacy_resource_list_has_subresources_and_hashes() -> None:
    doc = api_resource_list("", "v1")
    assert "apiVersion" not in doc  # like kube-apiserver's /api/v1
    by_name = {r["name"]: r for r in doc["resources"]}
    assert list(by_name) == sorted(by_name)
    assert by_name["pods/status"] == {
        "name": "pods/status",
        "singularName": "",
        "namespaced": True,
        "kind": "Pod",
        "verbs": ["get", "patch", "update"],
    }
    assert by_name["namespaces"]["namespaced"] is False
    # values kube-apiserver v1.32 serves
    assert by_name["pods"]["storageVersionHash"] == "xPOwRZ+Yhw8="
    assert by_name["services"]["storageVersionHash"] == "0/CO1lhkEBI="
    assert by_name["services"]["singularName"] == "service"
    assert api_resource_list("discovery.k8s.io", "v1")["apiVersion"] == "v1"


@pytest.mark.parametrize(("group", "version"), [("", "v2"), ("apps", "v1beta1"), ("discovery.k8s.io", "v1beta1")])
def test_unknown_group_version_is_404(group: str, version: str) -> None:
    with pytest.raises(StatusError) as ei:
        api_resource_list(group, version)
    assert ei.value.code == 404
    assert ei.value.message == "the server could not find the requested resource"


def test_storage_version_hash() -> None:
    assert storage_version_hash(BY_KEY["namespaces"]) == "Q3oi5N2YM8M="
    assert storage_version_hash(BY_KEY["endpointslices.discovery.k8s.io"]) == "qgS0xkrxYAI="


@pytest.mark.parametrize(
    ("accept", "aggregated"),
    [
        (KUBECTL_ACCEPT, True),
        ("application/json", False),
        ("", False),
        ("*/*", False),
        ("application/json, */*", False),
        # more parameters sort first at equal q, whatever the header order (goautoneg)
        ("application/json, " + AGGREGATED_CONTENT_TYPE, True),
        # we serve v2 only: v2beta1 is skipped and plain JSON decides
        ("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json", False),
        ("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList", False),
        # q wins over specificity
        (AGGREGATED_CONTENT_TYPE + ";q=0.5, application/json", False),
        (AGGREGATED_CONTENT_TYPE + ";q=0", False),
        # protobuf is not served: the next clause decides
        (
            "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
            + AGGREGATED_CONTENT_TYPE,
            True,
        ),
        ("application/json;as=APIGroupDiscoveryList;v=v2;g=apidiscovery.k8s.io", True),
        ("application/json; charset=utf-8; g=apidiscovery.k8s.io; v=v2; as=APIGroupDiscoveryList", True),
        ("*/*;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", True),
        ("text/html", False),
    ],
)
def test_wants_aggregated(accept: str, aggregated: bool) -> None:
    assert wants_aggregated(accept) is aggregated


# --- the real kubectl reads our documents --------------------------------------------------------


class DiscoveryServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, *, aggregated: bool) -> None:
        super().__init__(("127.0.0.1", 0), DiscoveryHandler)
        self.aggregated = aggregated
        self.paths: list[str] = []


class DiscoveryHandler(BaseHTTPRequestHandler):
    """Serves only what discovery.py generates, negotiating like the real server will."""

    server: DiscoveryServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        self.server.paths.append(path)
        accept = self.headers.get("Accept") or ""
        agg = self.server.aggregated and wants_aggregated(accept)
        ctype = AGGREGATED_CONTENT_TYPE if agg else "application/json"
        code = 200
        body: Any
        if path == "/version":
            body = version_info()
        elif path == "/api":
            body = aggregated_api() if agg else api_versions()
        elif path == "/apis":
            body = aggregated_apis() if agg else api_group_list()
        elif path.startswith(("/api/", "/apis/")):
            parts = path.strip("/").split("/")
            try:
                body = api_resource_list("", parts[1]) if parts[0] == "api" else api_resource_list(parts[1], parts[2])
            except StatusError as e:
                code, body = e.code, e.status
        else:
            code, body = 404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404}
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def kubectl_or_skip() -> str:
    return needs.kubectl()


@pytest.fixture(params=[True, False], ids=["aggregated", "legacy"])
def discovery_server(request: pytest.FixtureRequest) -> Iterator[DiscoveryServer]:
    srv = DiscoveryServer(aggregated=request.param)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def test_kubectl_api_resources(discovery_server: DiscoveryServer, tmp_path: Path) -> None:
    kubectl = kubectl_or_skip()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("")
    url = f"http://127.0.0.1:{discovery_server.server_address[1]}"
    out = subprocess.run(
        [kubectl, "api-resources", "-s", url, "--cache-dir", str(tmp_path / "cache")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path)},
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    for r in RESOURCES:
        expected = [r.plural, *([",".join(r.short_names)] if r.short_names else []), r.api_version,
                    "true" if r.namespaced else "false", r.kind]
        assert rows[r.plural] == expected
    legacy_reads = {"/api/v1", "/apis/discovery.k8s.io/v1"} & set(discovery_server.paths)
    assert bool(legacy_reads) is (not discovery_server.aggregated)

