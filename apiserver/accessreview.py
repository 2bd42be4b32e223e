"""SelfSubjectAccessReview and SelfSubjectRulesReview (authorization.k8s.io/v1), for ``kubectl auth can-i``.

``can-i VERB RESOURCE`` asks "may I do this?" (an access review); ``can-i --list``
asks "what may I do in this namespace?" (a rules review).

Why a dedicated endpoint rather than a registry resource: a review is never
stored, has no watch, list or schema beyond its spec, so it is served here
and only listed in discovery (kubectl resolves ``auth can-i`` arguments from
discovery, then POSTs one review). The answer comes from the same
``Authorizer`` that guards every request, for the requesting user, so
``can-i`` never disagrees with what the server then does. The rules review lists
the rules that same ``Authorizer`` applies (kube's ``RuleResolver``s): every rule
when authorization is off (AlwaysAllow) or for ``system:masters``, create on the
self reviews for anyone signed in (RBAC's ``system:basic-user``), then the ABAC
policies that name the user and the namespace, as kube's ABAC ``RulesFor``.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from apimachinery import errors
from apimachinery.errors import StatusError
from apiserver.auth import AUTHENTICATED_GROUP, PRIVILEGED_GROUP, Authorizer, UserInfo, user_of
from apiserver.requestinfo import RequestInfo

GROUP = "authorization.k8s.io"
VERSION = "v1"
GROUP_VERSION = f"{GROUP}/{VERSION}"
KIND = "SelfSubjectAccessReview"
PLURAL = "selfsubjectaccessreviews"
SINGULAR = "selfsubjectaccessreview"
PATH = f"/apis/{GROUP_VERSION}/{PLURAL}"
RULES_KIND = "SelfSubjectRulesReview"
RULES_PLURAL = "selfsubjectrulesreviews"
RULES_SINGULAR = "selfsubjectrulesreview"
RULES_PATH = f"/apis/{GROUP_VERSION}/{RULES_PLURAL}"
# (plural, singular, kind) of every review served here, sorted by plural as discovery lists them.
_REVIEWS = ((PLURAL, SINGULAR, KIND), (RULES_PLURAL, RULES_SINGULAR, RULES_KIND))
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


def _check_kind(body: Any, kind: str, plural: str) -> None:
    """400 unless ``body`` is an object of ``kind`` (or names no kind/apiVersion at all)."""
    if not isinstance(body, dict):
        raise errors.bad_request(f"the object provided is unrecognized (must be of type {kind})")
    got, api_version = body.get("kind"), body.get("apiVersion")
    if got not in (None, "", kind) or api_version not in (None, "", GROUP_VERSION):
        raise errors.bad_request(f'{got} in version "{api_version}" cannot be handled as a {kind}: '
                                 f"the kind in the body does not match the URL ({plural})")


def review(authorizer: Authorizer, body: Any, *, user: Any) -> dict[str, Any]:
    """The created SelfSubjectAccessReview: the request's spec and ``status.allowed``."""
    _check_kind(body, KIND, PLURAL)
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


_ALL_RESOURCES: dict[str, Any] = {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}
_ALL_NON_RESOURCES: dict[str, Any] = {"verbs": ["*"], "nonResourceURLs": ["*"]}
# RBAC's system:basic-user, which our Authorizer grants every signed-in user (auth._is_self_review).
_SELF_REVIEWS: dict[str, Any] = {"verbs": ["create"], "apiGroups": [GROUP], "resources": [PLURAL, RULES_PLURAL]}
_READONLY = ["get", "list", "watch"]


def rules_for(authorizer: Authorizer, user: UserInfo, namespace: str) -> tuple[list[dict[str, Any]],
                                                                               list[dict[str, Any]]]:
    """(resourceRules, nonResourceRules) the authorizer applies to ``user`` in ``namespace``.

    The order is the authorizer's: AlwaysAllow and ``system:masters`` first (every verb on
    everything), the self reviews for signed-in users, then each ABAC policy whose subject
    is the user (kube's ``PolicyList.RulesFor``: a readonly policy grants get/list/watch, any
    other ``*``; ``apiGroup`` is listed as written). A resource rule needs the policy's namespace
    to be ``*`` or ``namespace``; a ``nonResourcePath`` rule is listed whatever the policy's
    namespace, because that is how the policy matches requests (kube 1.32 also filters these by
    namespace, so it never lists the usual namespace-less path policy although it grants it).
    """
    if authorizer.policies is None or PRIVILEGED_GROUP in user.groups:
        return [copy.deepcopy(_ALL_RESOURCES)], [copy.deepcopy(_ALL_NON_RESOURCES)]
    resource_rules: list[dict[str, Any]] = []
    non_resource_rules: list[dict[str, Any]] = []
    if AUTHENTICATED_GROUP in user.groups:
        resource_rules.append(copy.deepcopy(_SELF_REVIEWS))
    for p in authorizer.policies:
        if not p.subject_matches(user):
            continue
        verbs = list(_READONLY) if p.readonly else ["*"]
        if p.resource and p.namespace in ("*", namespace):
            resource_rules.append({"verbs": verbs, "apiGroups": [p.api_group], "resources": [p.resource]})
        if p.non_resource_path:
            non_resource_rules.append({"verbs": list(verbs), "nonResourceURLs": [p.non_resource_path]})
    return resource_rules, non_resource_rules


def rules_review(authorizer: Authorizer, body: Any, *, user: UserInfo) -> dict[str, Any]:
    """The created SelfSubjectRulesReview, as kube-apiserver answers it: no spec echoed, the rules
    in ``status`` and ``incomplete: false`` (every authorizer here can list its rules)."""
    _check_kind(body, RULES_KIND, RULES_PLURAL)
    spec = body.get("spec")
    namespace = spec.get("namespace") if isinstance(spec, dict) else None
    if not isinstance(namespace, str) or not namespace:
        raise errors.bad_request("no namespace on request")
    resource_rules, non_resource_rules = rules_for(authorizer, user, namespace)
    return {"kind": RULES_KIND, "apiVersion": GROUP_VERSION, "metadata": {"creationTimestamp": None}, "spec": {},
            "status": {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules,
                       "incomplete": False}}


# -- discovery ----------------------------------------------------------------------------------


def _response_kind(kind: str) -> dict[str, str]:
    return {"group": GROUP, "version": VERSION, "kind": kind}


def add_to_aggregated(doc: dict[str, Any]) -> dict[str, Any]:
    """``/apis`` (apidiscovery.k8s.io/v2) with the authorization.k8s.io group (both reviews) added."""
    item = {
        "metadata": {"name": GROUP},
        "versions": [{
            "version": VERSION,
            "resources": [{"resource": plural, "responseKind": _response_kind(kind), "scope": "Cluster",
                           "singularResource": singular, "verbs": ["create"]}
                          for plural, singular, kind in _REVIEWS],
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
            "resources": [{"name": plural, "singularName": singular, "namespaced": False, "kind": kind,
                           "verbs": ["create"]} for plural, singular, kind in _REVIEWS]}


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


def _unknown(body: bytes) -> tuple[dict[str, str], dict[int, bytes]]:
    """``k8s\\0`` + runtime.Unknown{typeMeta, raw}: (typeMeta, the raw object's fields)."""
    if not body.startswith(_MAGIC):
        raise errors.bad_request(
            "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]")
    unknown = _fields(body[len(_MAGIC):])
    return _strings(unknown.get(1, b""), {1: "apiVersion", 2: "kind"}), _fields(unknown.get(2, b""))


def decode_protobuf_review(body: bytes) -> dict[str, Any]:
    """``k8s\\0`` + runtime.Unknown{typeMeta, raw=SelfSubjectAccessReview} -> the JSON review."""
    try:
        type_meta, review_fields = _unknown(body)
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


def decode_protobuf_rules_review(body: bytes) -> dict[str, Any]:
    """The same envelope around a SelfSubjectRulesReview (spec = 2, its namespace = 1)."""
    try:
        type_meta, review_fields = _unknown(body)
        spec = _strings(review_fields.get(2, b""), {1: "namespace"})
    except ValueError as e:
        raise errors.bad_request(f"unable to decode {RULES_KIND} from protobuf: {e}") from None
    return {"kind": type_meta.get("kind", ""), "apiVersion": type_meta.get("apiVersion", ""), "metadata": {},
            "spec": spec}


def _status(e: StatusError) -> Response:
    return Response(e.encode(), status_code=e.code, media_type=JSON, headers=e.headers or None)


class ReviewEndpoint:
    """ASGI filter serving both review endpoints and ``/apis/authorization.k8s.io/v1`` itself.

    A filter rather than a route so that no route order (the generic ``/apis/{path}`` route is
    first in the router) can shadow it; it must sit inside the authentication filter, which
    puts the user in the scope.
    """

    def __init__(self, app: Any, *, authorizer: Authorizer) -> None:
        self.app = app
        self.authorizer = authorizer

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path in (PATH, RULES_PATH):
            response = await self._review(Request(scope, receive), rules=path == RULES_PATH)
        elif path == f"/apis/{GROUP_VERSION}" and scope["method"] in ("GET", "HEAD"):
            response = Response(orjson.dumps(resource_list()), media_type=JSON)
        else:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)

    async def _review(self, request: Request, *, rules: bool) -> Response:
        try:
            if request.method != "POST":
                raise errors.method_not_allowed()
            server = request.app.state.server
            ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
            if ctype == PROTOBUF:
                raw = await server.read_body(request)
                body = decode_protobuf_rules_review(raw) if rules else decode_protobuf_review(raw)
            else:
                body = await server.decode_body(request)
            user = user_of(request.scope)
            out = (rules_review(self.authorizer, body, user=user) if rules
                   else review(self.authorizer, body, user=user))
        except StatusError as e:
            return _status(e)
        return Response(orjson.dumps(out), status_code=201, media_type=JSON)


def install(app: FastAPI, authorizer: Authorizer) -> None:
    """Add the review endpoint; call it before installing the authentication filter (so it runs after)."""
    app.add_middleware(ReviewEndpoint, authorizer=authorizer)


__all__ = ["ReviewEndpoint", "add_to_aggregated", "add_to_group_list", "decode_protobuf_review",
           "decode_protobuf_rules_review", "install", "resource_list", "review", "review_info", "rules_for",
           "rules_review"]
