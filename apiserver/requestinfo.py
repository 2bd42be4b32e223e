"""A request's parsed URL, as kube-apiserver's RequestInfo: the one parser of the Kubernetes URL scheme.

Why one module: the handler (app), authorization (auth, accessreview) and the filters read the same
attributes of a request (group, version, namespace, resource, name, subresource, verb); deriving them
twice from the URL in two places would let authorization and serving disagree about what a request
touches. This module sits below every filter and the app, so none of them imports the app.

- :func:`parse_path` maps a served resource URL to a :class:`Target` (or raises the 404 kube-apiserver's
  router answers for it);
- :func:`request_info` is RequestInfoFactory.NewRequestInfo: the authorizer's attributes for any URL,
  served or not (kube authorizes before routing).

Parsed once: the authorization filter leaves its RequestInfo in the ASGI scope (:data:`INFO_KEY`), and
:func:`target_of` hands the handler the Target already parsed there instead of parsing the URL again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from apimachinery import errors
from apimachinery.errors import StatusError
from apimachinery.resources import ResourceType, group_versions, lookup

READONLY_VERBS = frozenset({"get", "list", "watch"})
_METHOD_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch",
                 "DELETE": "delete"}
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
_SPECIAL_VERBS = frozenset({"proxy", "watch"})
# Where a filter that derived the request's RequestInfo leaves it for the handler (an ASGI scope key).
INFO_KEY = "kubelite.requestinfo"


@dataclass
class Target:
    """A parsed Kubernetes resource URL."""

    rt: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None


def _unrouted(group: str, version: str) -> StatusError:
    """404 for a path no resource route matches: kube-apiserver's go-restful container answers under a served
    group-version (empty details), its last handler anywhere else (no details)."""
    if (group, version) in group_versions():
        return errors.generic_response(404)
    return errors.path_not_found()


def parse_path(prefix: str, path: str) -> Target:
    """Map ``/api/v1/...`` or ``/apis/g/v/...`` to a resource, namespace, name and subresource."""
    parts = [p for p in path.split("/") if p]
    if prefix == "api":
        if not parts:
            raise errors.path_not_found()
        group, version, rest = "", parts[0], parts[1:]
    else:
        if len(parts) < 2:
            raise errors.path_not_found()
        group, version, rest = parts[0], parts[1], parts[2:]
    if not rest:
        raise _unrouted(group, version)
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in _NAMESPACE_SUBRESOURCES:
        namespace, rest = rest[1], rest[2:]
    rt = lookup(group, version, rest[0])
    if rt is None or len(rest) > 3:
        raise _unrouted(group, version)
    if namespace is not None and not rt.namespaced:
        raise _unrouted(group, version)
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if sub is not None and sub not in rt.subresources:
        raise _unrouted(group, version)
    return Target(rt, namespace, name, sub)


@dataclass(frozen=True)
class RequestInfo:
    """authorizer.Attributes minus the user: what the request does to what."""

    verb: str
    path: str = ""
    resource_request: bool = False
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    # The served resource the URL names (None when it names none): the handler's parse, done once.
    target: Target | None = field(default=None, compare=False, repr=False)

    @property
    def readonly(self) -> bool:
        return self.verb in READONLY_VERBS


def _watch_param(value: str) -> bool:
    """Convert_Slice_string_To_bool: anything but "", "false" and "0" is true."""
    return value.lower() not in ("", "false", "0")


def _name_from_field_selector(selector: str) -> str:
    """fieldSelector.RequiresExactMatch("metadata.name"), for list/watch of one object."""
    for term in selector.split(","):
        for op in ("==", "="):
            key, sep, value = term.partition(op)
            if sep and key.strip() == "metadata.name" and not value.startswith("="):
                value = value.strip()
                if value and value not in (".", "..") and "/" not in value and "%" not in value:
                    return value
                return ""
    return ""


def request_info(method: str, path: str, *, query: str | bytes = "") -> RequestInfo:
    """kube's RequestInfoFactory.NewRequestInfo for our URL scheme."""
    verb = method.lower()
    parts = [p for p in path.split("/") if p]
    if len(parts) < 3 or parts[0] not in ("api", "apis") or (parts[0] == "apis" and len(parts) < 4):
        return RequestInfo(verb=verb, path=path)
    prefix = parts[0]
    group, version, rest = ("", parts[1], parts[2:]) if prefix == "api" else (parts[1], parts[2], parts[3:])
    verb = _METHOD_VERBS.get(method.upper(), "")
    if rest[0] in _SPECIAL_VERBS and len(rest) >= 2:
        verb, rest = rest[0], rest[1:]
    namespace = resource = name = sub = ""
    t: Target | None = None
    try:
        if verb in _SPECIAL_VERBS:
            raise StatusError(404, "NotFound", "special verb")
        t = parse_path(prefix, "/".join(parts[1:]))
        resource, name, sub = t.rt.plural, t.name or "", t.subresource or ""
        namespace = t.namespace or (name if t.rt.plural == "namespaces" and not t.rt.group else "")
    except StatusError:
        # Not a resource we serve: derive the attributes from the URL alone (kube authorizes
        # before routing, so an unknown resource is still a resource request).
        if rest[0] == "namespaces" and len(rest) > 1:
            namespace = rest[1]
            if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
                rest = rest[2:]
        if len(rest) >= 3 and verb != "proxy":
            sub = rest[2]
        if len(rest) >= 2:
            name = rest[1]
        resource = rest[0]
    if not name and verb in ("get", "delete"):
        q = query.decode("latin-1") if isinstance(query, bytes) else query
        params = dict(parse_qsl(q, keep_blank_values=True)) if q else {}
        if verb == "get":
            verb = "watch" if "watch" in params and _watch_param(params["watch"]) else "list"
        else:
            verb = "deletecollection"
        if params.get("fieldSelector"):
            name = _name_from_field_selector(params["fieldSelector"])
    return RequestInfo(verb=verb, path=path, resource_request=True, api_group=group, api_version=version,
                       namespace=namespace, resource=resource, subresource=sub, name=name, target=t)


def target_of(scope: Mapping[str, Any], prefix: str, path: str) -> Target:
    """The served resource ``/{prefix}/{path}`` names: the one a filter parsed already (``scope[INFO_KEY]``),
    else parsed now; raises the router's 404 for a URL that names none."""
    info: RequestInfo | None = scope.get(INFO_KEY)
    if info is not None and info.target is not None:
        return info.target
    return parse_path(prefix, path)


__all__ = ["INFO_KEY", "READONLY_VERBS", "RequestInfo", "Target", "parse_path", "request_info", "target_of"]
