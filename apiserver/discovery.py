"""Discovery documents (/version, /api, /apis, /api/v1, /apis/{g}/{v}) built from the registry.

Why: kubectl finds every resource it can talk to (short names, scope, verbs,
categories for ``get all``) only through these documents, and the
``kubectl`` on these machines picks its own build from ``/version``'s minor.
Everything here derives from ``apimachinery.resources.RESOURCES``, so a
resource type is declared in exactly one place.

Invariants:
- The aggregated documents (apidiscovery.k8s.io/v2) must be answered with
  ``AGGREGATED_CONTENT_TYPE`` or kubectl silently finds no resources.
- ``/apis`` never 404s: with no groups it is an empty ``APIGroupList``.
- Resources are listed sorted by name, verbs sorted, as kube-apiserver does.
"""

from __future__ import annotations

import base64
import hashlib
import platform
from typing import Any

from apimachinery.errors import StatusError
from apimachinery.resources import RESOURCES, ResourceType, group_versions

AGGREGATED_CONTENT_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

# The kube-apiserver release we present ourselves as: the kubectl dispatcher
# on these machines runs the kubectl build matching ``minor``.
_MAJOR = "1"
_MINOR = "32"
_GIT_VERSION = "v1.32.4"
_GIT_COMMIT = "59526cd4867447956156ae3a602fcbac10a2c335"
_BUILD_DATE = "2025-04-22T16:02:27Z"
_GO_VERSION = "go1.23.6"

_AGG_GROUP = "apidiscovery.k8s.io"
_AGG_VERSION = "v2"
_AGG_KIND = "APIGroupDiscoveryList"

# Verbs kube-apiserver lists for a subresource (status and scale are
# get/patch/update; binding-like ones only accept create).
_SUBRESOURCE_VERBS: dict[str, tuple[str, ...]] = {
    "status": ("get", "patch", "update"),
    "scale": ("get", "patch", "update"),
    "binding": ("create",),
    "eviction": ("create",),
    "log": ("get",),
    "finalize": ("update",),
}
_DEFAULT_SUBRESOURCE_VERBS = ("get", "patch", "update")
_SCALE_KIND = {"group": "autoscaling", "version": "v1", "kind": "Scale"}
# Subresources whose kind is not the parent's (kubectl drain finds pods/eviction by kind Eviction and its
# group/version, to pick the Eviction version it POSTs).
_SUBRESOURCE_KINDS: dict[str, dict[str, str]] = {
    "scale": _SCALE_KIND,
    "eviction": {"group": "policy", "version": "v1", "kind": "Eviction"},
}

_GO_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def version_info() -> dict[str, str]:
    """The /version document (version.Info) of kube-apiserver v1.32.4."""
    machine = platform.machine().lower()
    return {
        "major": _MAJOR,
        "minor": _MINOR,
        "gitVersion": _GIT_VERSION,
        "gitCommit": _GIT_COMMIT,
        "gitTreeState": "clean",
        "buildDate": _BUILD_DATE,
        "goVersion": _GO_VERSION,
        "compiler": "gc",
        "platform": f"linux/{_GO_ARCH.get(machine, machine or 'amd64')}",
    }


def storage_version_hash(r: ResourceType) -> str:
    """discovery.StorageVersionHash: base64 of the first 8 bytes of sha256("group/version/Kind")."""
    digest = hashlib.sha256(f"{r.group}/{r.version}/{r.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _resources_of(group: str, version: str) -> list[ResourceType]:
    return sorted((r for r in RESOURCES if r.group == group and r.version == version), key=lambda r: r.plural)


def _subresource_verbs(name: str) -> list[str]:
    return sorted(_SUBRESOURCE_VERBS.get(name, _DEFAULT_SUBRESOURCE_VERBS))


def _response_kind(r: ResourceType) -> dict[str, str]:
    return {"group": r.group, "version": r.version, "kind": r.kind}


def _subresource_kind(r: ResourceType, sub: str) -> dict[str, str]:
    """``scale`` answers autoscaling/v1 Scale (kubectl's scale client looks this up); others the resource's kind."""
    if sub in _SUBRESOURCE_KINDS:
        return dict(_SUBRESOURCE_KINDS[sub])
    return _response_kind(r)


def _aggregated_resource(r: ResourceType) -> dict[str, Any]:
    """One apidiscovery.k8s.io/v2 APIResourceDiscovery."""
    doc: dict[str, Any] = {
        "resource": r.plural,
        "responseKind": _response_kind(r),
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular,
        "verbs": sorted(r.verbs),
    }
    if r.short_names:
        doc["shortNames"] = list(r.short_names)
    if r.categories:
        doc["categories"] = list(r.categories)
    if r.subresources:
        doc["subresources"] = [
            {"subresource": s, "responseKind": _subresource_kind(r, s), "verbs": _subresource_verbs(s)}
            for s in sorted(r.subresources)
        ]
    return doc


def _aggregated_group(group: str, versions: list[str]) -> dict[str, Any]:
    return {
        "metadata": {"name": group} if group else {},
        "versions": [
            {
                "version": v,
                "resources": [_aggregated_resource(r) for r in _resources_of(group, v)],
                "freshness": "Current",
            }
            for v in versions
        ],
    }


def _versions_by_group() -> list[tuple[str, list[str]]]:
    """(group, [versions]) in registry order; the first version is the preferred one."""
    out: list[tuple[str, list[str]]] = []
    for group, version in group_versions():
        for g, vs in out:
            if g == group:
                vs.append(version)
                break
        else:
            out.append((group, [version]))
    return out


def _aggregated_list(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"kind": _AGG_KIND, "apiVersion": f"{_AGG_GROUP}/{_AGG_VERSION}", "items": items}


def aggregated_api() -> dict[str, Any]:
    """The aggregated /api document: one item, the core ("") group."""
    items = [_aggregated_group(g, vs) for g, vs in _versions_by_group() if g == ""]
    return _aggregated_list(items)


def aggregated_apis() -> dict[str, Any]:
    """The aggregated /apis document: every named group (may be empty, never absent)."""
    items = [_aggregated_group(g, vs) for g, vs in _versions_by_group() if g != ""]
    return _aggregated_list(items)


def api_versions() -> dict[str, Any]:
    """Legacy /api: metav1.APIVersions."""
    versions = [vs for g, vs in _versions_by_group() if g == ""]
    return {"kind": "APIVersions", "versions": versions[0] if versions else []}


def api_group_list() -> dict[str, Any]:
    """Legacy /apis: metav1.APIGroupList (``groups`` is [] rather than absent)."""
    groups: list[dict[str, Any]] = []
    for group, versions in _versions_by_group():
        if not group:
            continue
        gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        groups.append({"name": group, "versions": gvs, "preferredVersion": gvs[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def _legacy_resource(r: ResourceType) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": r.plural,
        "singularName": r.singular,
        "namespaced": r.namespaced,
        "kind": r.kind,
        "verbs": sorted(r.verbs),
    }
    if r.short_names:
        doc["shortNames"] = list(r.short_names)
    if r.categories:
        doc["categories"] = list(r.categories)
    doc["storageVersionHash"] = storage_version_hash(r)
    return doc


def api_resource_list(group: str, version: str) -> dict[str, Any]:
    """Legacy /api/v1 or /apis/{group}/{version}: metav1.APIResourceList.

    Subresources appear as their own entries (``pods/status``), sorted in
    with the resources as kube-apiserver lists them. /api/v1 carries no
    ``apiVersion`` while group documents do, exactly like kube-apiserver.
    Raises a 404 StatusError for a group-version we do not serve.
    """
    resources = _resources_of(group, version)
    if not resources:
        raise StatusError(404, "NotFound", "the server could not find the requested resource")
    entries: list[dict[str, Any]] = []
    for r in resources:
        entries.append(_legacy_resource(r))
        for s in r.subresources:
            entry: dict[str, Any] = {"name": f"{r.plural}/{s}", "singularName": "", "namespaced": r.namespaced}
            sub_kind = _SUBRESOURCE_KINDS.get(s)
            if sub_kind is not None:
                entry.update(group=sub_kind["group"], version=sub_kind["version"])
            entry["kind"] = sub_kind["kind"] if sub_kind is not None else r.kind
            entry["verbs"] = _subresource_verbs(s)
            entries.append(entry)
    entries.sort(key=lambda e: str(e["name"]))
    doc: dict[str, Any] = {"kind": "APIResourceList"}
    if group:
        doc["apiVersion"] = "v1"
    doc["groupVersion"] = f"{group}/{version}" if group else version
    doc["resources"] = entries
    return doc


# --- content negotiation -------------------------------------------------------------------------


def _parse_accept(header: str) -> list[tuple[str, str, dict[str, str], float]]:
    """goautoneg.ParseAccept: (type, subtype, params without q, q), best first.

    Sorted like goautoneg: higher q first, then concrete types before
    wildcards, then more parameters first; ties keep header order.
    """
    clauses: list[tuple[str, str, dict[str, str], float]] = []
    for part in header.split(","):
        pieces = [p.strip() for p in part.split(";")]
        media = pieces[0].lower()
        if not media:
            continue
        typ, _, sub = media.partition("/")
        if not sub:
            typ, sub = (typ, "*") if typ == "*" else (typ, "")
        params: dict[str, str] = {}
        q = 1.0
        for p in pieces[1:]:
            key, sep, value = p.partition("=")
            if not sep:
                continue
            key, value = key.strip().lower(), value.strip().strip('"')
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
            else:
                params[key] = value
        clauses.append((typ, sub, params, q))

    def rank(c: tuple[str, str, dict[str, str], float]) -> tuple[float, int, int, int]:
        typ, sub, params, q = c
        return (-q, typ == "*", sub == "*", -len(params))

    return sorted(clauses, key=rank)


def _json_compatible(typ: str, sub: str) -> bool:
    return (typ, sub) in (("application", "json"), ("application", "*"), ("*", "*"))


def wants_aggregated(accept_header: str) -> bool:
    """True when kube-apiserver would answer /api or /apis with APIGroupDiscoveryList.

    Mirrors negotiation.NegotiateMediaTypeOptions: walk the Accept clauses
    best-first; the first one we can serve as JSON decides. A clause naming
    ``as=APIGroupDiscoveryList;g=apidiscovery.k8s.io;v=v2`` selects the
    aggregated document; one with no ``as``/``g``/``v`` selects the legacy
    document; any other target (v2beta1, Table) is skipped. Other parameters
    (``charset``, ``pretty``) do not matter.
    """
    for typ, sub, params, q in _parse_accept(accept_header or ""):
        if q <= 0 or not _json_compatible(typ, sub):
            continue
        target = (params.get("as"), params.get("g"), params.get("v"))
        if target == (None, None, None):
            return False
        if target == (_AGG_KIND, _AGG_GROUP, _AGG_VERSION):
            return True
    return False
