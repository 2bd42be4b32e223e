"""/openapi/v3 documents (apiserver.openapi): what kubectl's validation and client-side apply read."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from apimachinery.patch import PATCH_METADATA
from apimachinery.resources import RESOURCES, ResourceType, group_versions
from apiserver import openapi

CORE = "io.k8s.api.core.v1."


def doc(group: str, version: str) -> dict[str, Any]:
    key = f"apis/{group}/{version}" if group else f"api/{version}"
    found = openapi.document(key)
    assert found is not None
    out: dict[str, Any] = orjson.loads(found[0])
    return out


def item_path(rt: ResourceType) -> str:
    ns = "/namespaces/{namespace}" if rt.namespaced else ""
    return f"{rt.url_prefix()}{ns}/{rt.plural}/{{name}}"


def test_index_lists_every_group_version_with_its_hash() -> None:
    index = orjson.loads(openapi.index())
    want = {f"apis/{g}/{v}" if g else f"api/{v}" for g, v in group_versions()}
    assert set(index["paths"]) == want
    url = index["paths"]["api/v1"]["serverRelativeURL"]
    found = openapi.document("api/v1")
    assert found is not None and url == f"/openapi/v3/api/v1?hash={found[1]}"


@pytest.mark.parametrize("rt", RESOURCES, ids=lambda r: r.key)
def test_patch_operation_names_the_kind_and_field_validation(rt: ResourceType) -> None:
    d = doc(rt.group, rt.version)
    patch = d["paths"][item_path(rt)]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": rt.group, "kind": rt.kind, "version": rt.version}
    params = {(p["name"], p["in"]) for p in patch["parameters"]}
    assert {("fieldValidation", "query"), ("fieldManager", "query"), ("force", "query"),
            ("dryRun", "query")} <= params
    content = patch["requestBody"]["content"]
    assert "application/apply-patch+yaml" in content
    assert ("application/strategic-merge-patch+json" in content) == (rt.key in PATCH_METADATA)
    kinds = [s.get("x-kubernetes-group-version-kind") for s in d["components"]["schemas"].values()]
    assert [{"group": rt.group, "kind": rt.kind, "version": rt.version}] in kinds


@pytest.mark.parametrize(("group", "version"), group_versions())
def test_every_ref_resolves(group: str, version: str) -> None:
    d = doc(group, version)
    schemas = d["components"]["schemas"]
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(d)
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref


@pytest.mark.parametrize(("definition", "prop", "want"), [
    (CORE + "ServiceSpec", "ports", {"x-kubernetes-patch-merge-key": "port", "x-kubernetes-patch-strategy": "merge",
                                     "x-kubernetes-list-type": "map",
                                     "x-kubernetes-list-map-keys": ["port", "protocol"]}),
    (CORE + "PodSpec", "volumes", {"x-kubernetes-patch-merge-key": "name",
                                   "x-kubernetes-patch-strategy": "merge,retainKeys"}),
    (CORE + "Container", "ports", {"x-kubernetes-patch-merge-key": "containerPort",
                                   "x-kubernetes-list-map-keys": ["containerPort", "protocol"]}),
    (CORE + "ServiceSpec", "selector", {"x-kubernetes-map-type": "atomic"}),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers",
     {"x-kubernetes-patch-strategy": "merge", "x-kubernetes-list-type": "set"}),
    (CORE + "ServicePort", "protocol", {"default": "TCP"}),
])
def test_structural_tags(definition: str, prop: str, want: dict[str, Any]) -> None:
    node = doc("", "v1")["components"]["schemas"][definition]["properties"][prop]
    assert {k: node.get(k) for k in want} == want


def test_unknown_document_is_none() -> None:
    assert openapi.document("apis/nope.example.com/v1") is None


def test_served_over_http(api: httpx.Client) -> None:
    index = api.get("/openapi/v3")
    assert index.status_code == 200 and index.headers["content-type"] == "application/json"
    url = index.json()["paths"]["apis/discovery.k8s.io/v1"]["serverRelativeURL"]
    r = api.get(url)
    assert r.status_code == 200 and r.headers["cache-control"] == "public, immutable"
    assert "/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices/{name}" in r.json()["paths"]
    assert api.get("/openapi/v3/apis/nope.example.com/v1").status_code == 404
    assert api.get("/openapi/v2").status_code == 404
