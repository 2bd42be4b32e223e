"""/openapi/v3: the index and one OpenAPI 3.0 document per group-version.

Why: kubectl's default ``--validate=strict`` (create, apply, replace, edit)
first reads ``/openapi/v3``, then the group-version document of the kind it
writes. If that document has a PATCH operation for the kind (matched by the
operation's ``x-kubernetes-group-version-kind``) that lists the
``fieldValidation`` query parameter, kubectl leaves validation to the server
and sends ``fieldValidation=Strict``; otherwise it refuses to work without
``--validate=false``. Client-side apply also computes its strategic merge
patch from the component schemas when the PATCH operation accepts
``application/strategic-merge-patch+json``, reading the
``x-kubernetes-patch-merge-key``/``-strategy`` tags, so those are published
from apimachinery.patch's table, the one the server merges with.

Everything is generated from the resource registry (apimachinery.resources)
and the schemas the server decodes with (apimachinery.schemas); the
structural tags come from apiserver.schematypes.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from apimachinery.patch import PATCH_METADATA
from apimachinery.resources import RESOURCES, ResourceType, group_versions
from apimachinery.schemas import MODELS, components, definition_name
from apiserver import schematypes

JSON = "application/json"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
PATCH_CONTENT_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)
_RESPONSE_TYPES = (JSON, "application/yaml", "application/vnd.kubernetes.protobuf")
_KUBE_VERSION = "v1.32.4"


def _query(name: str, description: str, *, typ: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": {"type": typ, "uniqueItems": True}}


_DRY_RUN = _query("dryRun", "When present, indicates that modifications should not be persisted. Valid values "
                            "are: - All: all dry run stages will be processed")
_FIELD_MANAGER = _query("fieldManager", "fieldManager is a name associated with the actor or entity that is making "
                                        "these changes.")
_FIELD_VALIDATION = _query(
    "fieldValidation",
    "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing "
    "unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict",
)
_FORCE = _query("force", "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting "
                         "fields owned by other people.", typ="boolean")
_LIST = [
    _query("allowWatchBookmarks", "allowWatchBookmarks requests watch events with type \"BOOKMARK\".",
           typ="boolean"),
    _query("continue", "The continue option should be set when retrieving more results from the server."),
    _query("fieldSelector", "A selector to restrict the list of returned objects by their fields."),
    _query("labelSelector", "A selector to restrict the list of returned objects by their labels."),
    _query("limit", "limit is a maximum number of responses to return for a list call.", typ="integer"),
    _query("resourceVersion", "resourceVersion sets a constraint on what resource versions a request may be "
                              "served from."),
    _query("resourceVersionMatch", "resourceVersionMatch determines how resourceVersion is applied to list calls."),
    _query("sendInitialEvents", "`sendInitialEvents=true` may be set together with `watch=true`.", typ="boolean"),
    _query("timeoutSeconds", "Timeout for the list/watch call.", typ="integer"),
    _query("watch", "Watch for changes to the described resources and return them as a stream of add, update, "
                    "and remove notifications.", typ="boolean"),
]
_DELETE = [
    _DRY_RUN,
    _query("gracePeriodSeconds", "The duration in seconds before the object should be deleted.", typ="integer"),
    _query("propagationPolicy", "Whether and how garbage collection will be performed."),
]


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "description": f"{name} of the resource", "required": True,
            "schema": {"type": "string", "uniqueItems": True}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _content(schema: dict[str, Any], types: tuple[str, ...] = _RESPONSE_TYPES) -> dict[str, Any]:
    return {t: {"schema": schema} for t in types}


def _operation_prefix(rt: ResourceType) -> str:
    group = rt.group.split(".")[0] if rt.group else "core"
    return group[:1].upper() + group[1:] + rt.version[:1].upper() + rt.version[1:]


def _gvk(rt: ResourceType) -> dict[str, str]:
    return {"group": rt.group, "kind": rt.kind, "version": rt.version}


def _op(rt: ResourceType, action: str, op_id: str, *, params: list[dict[str, Any]], kind_schema: str,
        codes: tuple[str, ...] = ("200",), body: dict[str, Any] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {
        "tags": [_operation_prefix(rt)[:1].lower() + _operation_prefix(rt)[1:]],
        "description": f"{action} {rt.kind}",
        "operationId": op_id,
        "parameters": params,
        "responses": {code: {"description": "OK" if code == "200" else "Created",
                             "content": _content(_ref(kind_schema))} for code in codes},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(rt),
    }
    op["responses"]["401"] = {"description": "Unauthorized"}
    if body is not None:
        op["requestBody"] = body
    return op


def _paths(rt: ResourceType) -> dict[str, Any]:
    """kube-apiserver's paths for one resource: collection, item, and /status."""
    prefix = _operation_prefix(rt)
    kind = definition_name(MODELS[rt.key])
    list_kind = kind + "List"
    scope = "Namespaced" if rt.namespaced else ""
    base = rt.url_prefix() + ("/namespaces/{namespace}/" if rt.namespaced else "/") + rt.plural
    common = [_path_param("namespace")] if rt.namespaced else []
    pretty = [_query("pretty", "If 'true', then the output is pretty printed.")]
    body = {"content": _content(_ref(kind), (JSON, "application/yaml", "application/vnd.kubernetes.protobuf")),
            "required": True}
    patch_types = tuple(t for t in PATCH_CONTENT_TYPES
                        if t != "application/strategic-merge-patch+json" or rt.key in PATCH_METADATA)
    patch_body = {"content": {t: {"schema": _ref(_META + "Patch")} for t in patch_types}, "required": True}
    write = [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION]
    out: dict[str, Any] = {
        base: {
            "get": _op(rt, "list", f"list{prefix}{scope}{rt.kind}", params=_LIST, kind_schema=list_kind),
            "post": _op(rt, "post", f"create{prefix}{scope}{rt.kind}", params=write, kind_schema=kind,
                        codes=("200", "201", "202"), body=body),
            "delete": _op(rt, "deletecollection", f"deleteCollection{prefix}{scope}{rt.kind}",
                          params=[*_DELETE, *_LIST], kind_schema=_META + "Status"),
            "parameters": [*common, *pretty],
        },
        base + "/{name}": {
            "get": _op(rt, "get", f"read{prefix}{scope}{rt.kind}", params=[], kind_schema=kind),
            "put": _op(rt, "put", f"replace{prefix}{scope}{rt.kind}", params=write, kind_schema=kind,
                       codes=("200", "201"), body=body),
            "patch": _op(rt, "patch", f"patch{prefix}{scope}{rt.kind}", params=[*write, _FORCE],
                         kind_schema=kind, codes=("200", "201"), body=patch_body),
            "delete": _op(rt, "delete", f"delete{prefix}{scope}{rt.kind}", params=_DELETE, kind_schema=kind,
                          codes=("200", "202")),
            "parameters": [_path_param("name"), *common, *pretty],
        },
    }
    if "status" in rt.subresources:
        out[base + "/{name}/status"] = {
            "get": _op(rt, "get", f"read{prefix}{scope}{rt.kind}Status", params=[], kind_schema=kind),
            "put": _op(rt, "put", f"replace{prefix}{scope}{rt.kind}Status", params=write, kind_schema=kind,
                       codes=("200", "201"), body=body),
            "patch": _op(rt, "patch", f"patch{prefix}{scope}{rt.kind}Status", params=[*write, _FORCE],
                         kind_schema=kind, codes=("200", "201"), body=patch_body),
            "parameters": [_path_param("name"), *common, *pretty],
        }
    if rt.namespaced:
        out[f"{rt.url_prefix()}/{rt.plural}"] = {
            "get": _op(rt, "list", f"list{prefix}{rt.kind}ForAllNamespaces", params=_LIST, kind_schema=list_kind),
            "parameters": pretty,
        }
    return out


def _annotate_patch_tags(defs: dict[str, Any], rt: ResourceType) -> None:
    """Publish apimachinery.patch's merge keys/strategies on the component schemas."""
    for dotted, meta in (PATCH_METADATA.get(rt.key) or {}).items():
        node: Mapping[str, Any] | None = defs.get(definition_name(MODELS[rt.key]))
        target: dict[str, Any] | None = None
        for part in dotted.split("."):
            while node is not None and ("$ref" in node or "items" in node):
                if "$ref" in node:
                    node = defs.get(str(node["$ref"]).rsplit("/", 1)[-1])
                else:
                    node = node["items"]
            if node is None:
                break
            target = (node.get("properties") or {}).get(part)
            node = target
        if target is None:
            continue
        strategies = [s for s in (meta.strategy, "retainKeys" if meta.retain_keys else "") if s]
        if meta.merge_key:
            target["x-kubernetes-patch-merge-key"] = meta.merge_key
        if strategies:
            target["x-kubernetes-patch-strategy"] = ",".join(strategies)


def _shared_components() -> dict[str, Any]:
    return {
        _META + "Patch": {"type": "object", "description": "Patch is provided to give a concrete name and type to "
                                                           "the Kubernetes PATCH request body."},
        _META + "ListMeta": {"type": "object", "properties": {
            "continue": {"type": "string"}, "remainingItemCount": {"type": "integer", "format": "int64"},
            "resourceVersion": {"type": "string"}, "selfLink": {"type": "string"}}},
        _META + "Status": {"type": "object", "properties": {
            "apiVersion": {"type": "string"}, "code": {"type": "integer", "format": "int32"},
            "details": {"type": "object"}, "kind": {"type": "string"}, "message": {"type": "string"},
            "metadata": _ref(_META + "ListMeta"), "reason": {"type": "string"}, "status": {"type": "string"}},
            "x-kubernetes-group-version-kind": [{"group": "", "kind": "Status", "version": "v1"}]},
        _META + "DeleteOptions": {"type": "object", "properties": {
            "apiVersion": {"type": "string"}, "dryRun": {"type": "array", "items": {"type": "string"}},
            "gracePeriodSeconds": {"type": "integer", "format": "int64"}, "kind": {"type": "string"},
            "preconditions": {"type": "object"}, "propagationPolicy": {"type": "string"}}},
    }


def _build(group: str, version: str) -> dict[str, Any]:
    rts = [r for r in RESOURCES if (r.group, r.version) == (group, version)]
    defs = components(r.key for r in rts)
    defs.update(_shared_components())
    for rt in rts:
        kind = definition_name(MODELS[rt.key])
        defs[kind + "List"] = {
            "type": "object",
            "required": ["items"],
            "properties": {
                "apiVersion": {"type": "string"},
                "items": {"type": "array", "items": _ref(kind)},
                "kind": {"type": "string"},
                "metadata": _ref(_META + "ListMeta"),
            },
            "x-kubernetes-group-version-kind": [{"group": rt.group, "kind": rt.kind + "List", "version": rt.version}],
        }
        _annotate_patch_tags(defs, rt)
    schematypes.annotate(defs)
    paths: dict[str, Any] = {}
    for rt in rts:
        paths.update(_paths(rt))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": _KUBE_VERSION},
        "paths": paths,
        "components": {"schemas": dict(sorted(defs.items()))},
    }


def _key(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


@functools.cache
def _documents() -> dict[str, tuple[bytes, str]]:
    out: dict[str, tuple[bytes, str]] = {}
    for group, version in group_versions():
        body = orjson.dumps(_build(group, version))
        out[_key(group, version)] = (body, hashlib.sha512(body).hexdigest().upper())
    return out


def index() -> bytes:
    """The /openapi/v3 discovery document: each group-version's URL, pinned by the document's hash."""
    paths = {key: {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
             for key, (_, digest) in _documents().items()}
    return orjson.dumps({"paths": paths})


def document(path: str) -> tuple[bytes, str] | None:
    """The document for ``api/v1`` or ``apis/<group>/<version>`` and its hash; None when not served."""
    return _documents().get(path.strip("/"))
