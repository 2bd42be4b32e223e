"""SelfSubjectAccessReview (authorization.k8s.io/v1): "may I do this?", for ``kubectl auth can-i``.

Why a dedicated endpoint rather than a registry resource: a review is never
stored, has no watch, list or schema beyond its spec, so it is served here
and only listed in discovery (kubectl resolves ``auth can-i`` arguments from
discovery, then POSTs one review). The answer comes from the same
``Authorizer`` that guards every request, for the requesting user, so
``can-i`` never disagrees with what the server then does.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from apimachinery import errors
from apimachinery.errors import StatusError
from apiserver.auth import Authorizer, RequestInfo, user_of

GROUP = "authorization.k8s.io"
VERSION = "v1"
GROUP_VERSION = f"{GROUP}/{VERSION}"
KIND = "SelfSubjectAccessReview"
PLURAL = "selfsubjectaccessreviews"
SINGULAR = "selfsubjectaccessreview"
PATH = f"/apis/{GROUP_VERSION}/{PLURAL}"
JSON = "application/json"


def _str(attrs: dict[str, Any], key: str) -> str:
    v = attrs.get(key)
    return v if isinstance(v, str) else ""


def review_info(spec: dict[str, Any]) -> RequestInfo:
    """The request attributes a review's spec describes; 422 unless exactly one kind is given."""
    res = spec.get("resourceAttributes")
    non = spec.get("nonResourceAttributes")
    errs: list[errors.FieldError] = []
    if res is not None and non is not None:
        errs.append(errors.invalid("spec.nonResourceAttributes", non,
                                   "cannot be specified in combination with resourceAttributes"))
    if res is None and non is None:
        errs.append(errors.invalid("spec.resourceAttributes", None,
                                   "exactly one of nonResourceAttributes or resourceAttributes must be specified"))
    for fld, v in (("spec.resourceAttributes", res), ("spec.nonResourceAttributes", non)):
        if v is not None and not isinstance(v, dict):
            errs.append(errors.invalid(fld, v, "must be an object"))
    if errs:
        raise errors.invalid_object(KIND, "", errs, GROUP)
    if isinstance(res, dict):
        return RequestInfo(verb=_str(res, "verb"), resource_request=True, api_group=_str(res, "group"),
                           api_version=_str(res, "version"), namespace=_str(res, "namespace"),
                           resource=_str(res, "resource"), subresource=_str(res, "subresource"),
                           name=_str(res, "name"))
    assert isinstance(non, dict)
    return RequestInfo(verb=_str(non, "verb"), path=_str(non, "path"))


def review(authorizer: Authorizer, body: Any, *, user: Any) -> dict[str, Any]:
    """The created SelfSubjectAccessReview: the request's spec and ``status.allowed``."""
    if not isinstance(body, dict):
        raise errors.bad_request(f"the object provided is unrecognized (must be of type {KIND})")
    kind, api_version = body.get("kind"), body.get("apiVersion")
    if kind not in (None, "", KIND) or api_version not in (None, "", GROUP_VERSION):
        raise errors.bad_request(f'{kind} in version "{api_version}" cannot be handled as a {KIND}: '
                                 f"the kind in the body does not match the URL ({PLURAL})")
    spec = body.get("spec")
    if not isinstance(spec, dict):
        spec = {}
    allowed, reason = authorizer.authorize(user, review_info(spec))
    status: dict[str, Any] = {"allowed": allowed}
    if reason:
        status["reason"] = reason
    meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    return {"kind": KIND, "apiVersion": GROUP_VERSION, "metadata": copy.deepcopy(meta),
            "spec": copy.deepcopy(spec), "status": status}


# -- discovery ----------------------------------------------------------------------------------


def _response_kind() -> dict[str, str]:
    return {"group": GROUP, "version": VERSION, "kind": KIND}


def add_to_aggregated(doc: dict[str, Any]) -> dict[str, Any]:
    """``/apis`` (apidiscovery.k8s.io/v2) with the authorization.k8s.io group added."""
    item = {
        "metadata": {"name": GROUP},
        "versions": [{
            "version": VERSION,
            "resources": [{"resource": PLURAL, "responseKind": _response_kind(), "scope": "Cluster",
                           "singularResource": SINGULAR, "verbs": ["create"]}],
            "freshness": "Current",
        }],
    }
    items = [i for i in doc.get("items") or [] if (i.get("metadata") or {}).get("name") != GROUP]
    return {**doc, "items": [*items, item]}


def add_to_group_list(doc: dict[str, Any]) -> dict[str, Any]:
    """Legacy ``/apis`` (APIGroupList) with the authorization.k8s.io group added."""
    gv = {"groupVersion": GROUP_VERSION, "version": VERSION}
    groups = [g for g in doc.get("groups") or [] if g.get("name") != GROUP]
    return {**doc, "groups": [*groups, {"name": GROUP, "versions": [gv], "preferredVersion": gv}]}


def resource_list() -> dict[str, Any]:
    """``/apis/authorization.k8s.io/v1`` (APIResourceList)."""
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GROUP_VERSION,
            "resources": [{"name": PLURAL, "singularName": SINGULAR, "namespaced": False, "kind": KIND,
                           "verbs": ["create"]}]}


# -- protobuf (kubectl auth can-i sends the review as application/vnd.kubernetes.protobuf) ---------

PROTOBUF = "application/vnd.kubernetes.protobuf"
_MAGIC = b"k8s\x00"
# Field numbers from k8s.io/api/authorization/v1/generated.proto.
_RESOURCE_FIELDS = {1: "namespace", 2: "verb", 3: "group", 4: "version", 5: "resource", 6: "subresource", 7: "name"}
_NON_RESOURCE_FIELDS = {1: "path", 2: "verb"}


def _varint(data: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        if i >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def _fields(data: bytes) -> dict[int, bytes]:
    """Length-delimited fields of one message (last wins); other wire types are skipped."""
    out: dict[int, bytes] = {}
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            _, i = _varint(data, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            n, i = _varint(data, i)
            if i + n > len(data):
                raise ValueError("truncated field")
            out[num] = data[i:i + n]
            i += n
        else:
            raise ValueError(f"unsupported wire type {wire}")
    if i != len(data):
        raise ValueError("truncated message")
    return out


def _strings(data: bytes, names: dict[int, str]) -> dict[str, str]:
    return {names[n]: v.decode("utf-8", errors="replace") for n, v in _fields(data).items() if n in names}


def decode_protobuf_review(body: bytes) -> dict[str, Any]:
    """``k8s\\0`` + runtime.Unknown{typeMeta, raw=SelfSubjectAccessReview} -> the JSON review."""
    if not body.startswith(_MAGIC):
        raise errors.bad_request(
            "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]")
    try:
        unknown = _fields(body[len(_MAGIC):])
        type_meta = _strings(unknown.get(1, b""), {1: "apiVersion", 2: "kind"})
        review_fields = _fields(unknown.get(2, b""))
        spec_fields = _fields(review_fields.get(2, b""))
        spec: dict[str, Any] = {}
        if 1 in spec_fields:
            spec["resourceAttributes"] = _strings(spec_fields[1], _RESOURCE_FIELDS)
        if 2 in spec_fields:
            spec["nonResourceAttributes"] = _strings(spec_fields[2], _NON_RESOURCE_FIELDS)
    except ValueError as e:
        raise errors.bad_request(f"unable to decode {KIND} from protobuf: {e}") from None
    return {"kind": type_meta.get("kind", ""), "apiVersion": type_meta.get("apiVersion", ""), "metadata": {},
            "spec": spec}


def _status(e: StatusError) -> Response:
    return Response(orjson.dumps(e.status), status_code=e.code, media_type=JSON, headers=e.headers or None)


class ReviewEndpoint:
    """ASGI filter serving the review endpoint and ``/apis/authorization.k8s.io/v1`` itself.

    A filter rather than a route so that no route order (the generic ``/apis/{path}`` route is
    first in the router) can shadow it; it must sit inside the authentication filter, which
    puts the user in the scope.
    """

    def __init__(self, app: Any, *, authorizer: Authorizer) -> None:
        self.app = app
        self.authorizer = authorizer

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == PATH:
            response = await self._review(Request(scope, receive))
        elif path == f"/apis/{GROUP_VERSION}" and scope["method"] in ("GET", "HEAD"):
            response = Response(orjson.dumps(resource_list()), media_type=JSON)
        else:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)

    async def _review(self, request: Request) -> Response:
        try:
            if request.method != "POST":
                raise errors.method_not_allowed()
            server = request.app.state.server
            ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
            if ctype == PROTOBUF:
                body = decode_protobuf_review(await server.read_body(request))
            else:
                body = await server.decode_body(request)
            out = review(self.authorizer, body, user=user_of(request.scope))
        except StatusError as e:
            return _status(e)
        return Response(orjson.dumps(out), status_code=201, media_type=JSON)


def install(app: FastAPI, authorizer: Authorizer) -> None:
    """Add the review endpoint; call it before installing the authentication filter (so it runs after)."""
    app.add_middleware(ReviewEndpoint, authorizer=authorizer)


__all__ = ["ReviewEndpoint", "add_to_aggregated", "add_to_group_list", "decode_protobuf_review", "install",
           "resource_list", "review", "review_info"]
