"""Authentication (static bearer tokens) and authorization (ABAC policy file), as kube-apiserver does them.

Why: the API server may listen beyond loopback only when every request is
tied to a user and checked against a policy. The file formats are
kube-apiserver's, so existing ``--token-auth-file`` CSVs and ABAC policy
files work unchanged, and refusals carry kube-apiserver's exact Status
bodies (kubectl prints them verbatim).

Invariants:
- A request that presents an ``Authorization`` header is authenticated by it
  or refused with 401, even when anonymous requests are allowed (kube's
  union authenticator fails on error). ``system:anonymous`` is only ever the
  identity of a request without credentials, and only with ``--anonymous-auth``.
- Authorization sees the same request attributes kube's RequestInfo would
  derive from the URL (verb, API group, namespace, resource, subresource,
  name); apiserver.requestinfo derives them, with the parser the handler uses.
- Members of ``system:masters`` are always allowed (kube's privileged-group
  authorizer runs before any other).
- Health probes (/healthz, /livez, /readyz) need no credentials.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from apimachinery.errors import StatusError
from apiserver.requestinfo import INFO_KEY, RequestInfo, request_info
from apiserver.settings import Settings

log = logging.getLogger("kubelite.auth")

PRIVILEGED_GROUP = "system:masters"
AUTHENTICATED_GROUP = "system:authenticated"
UNAUTHENTICATED_GROUP = "system:unauthenticated"
ANONYMOUS_USER = "system:anonymous"
# The identity of every request when authentication is off (loopback only).
UNSECURED_USER = "system:unsecured"
ABAC_API_VERSION = "abac.authorization.kubernetes.io/v1beta1"
ABAC_V0_API_VERSION = "abac.authorization.kubernetes.io/v0"
PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz"})
USER_KEY = "kubelite.user"


class ConfigError(Exception):
    """A token or policy file that cannot be used; the server refuses to start."""


@dataclass(frozen=True)
class UserInfo:
    """user.Info: who made the request."""

    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()


ANONYMOUS = UserInfo(ANONYMOUS_USER, "", (UNAUTHENTICATED_GROUP,))
UNSECURED = UserInfo(UNSECURED_USER, "", (AUTHENTICATED_GROUP,))


# -- authentication ----------------------------------------------------------------------------


def parse_token_file(text: str, *, path: str = "<tokens>") -> dict[str, UserInfo]:
    """kube-apiserver's ``--token-auth-file``: CSV ``token,user,uid[,"group1,group2"]``.

    Blank lines are skipped, fewer than 3 columns is an error, an empty token
    is skipped and a duplicate token: the last one wins (as tokenfile.NewCSV).
    """
    tokens: dict[str, UserInfo] = {}
    for record in csv.reader(io.StringIO(text)):
        if not record:
            continue
        if len(record) < 3:
            raise ConfigError(
                f"token file '{path}' must have at least 3 columns (token, user name, user uid), found {len(record)}"
            )
        token, name, uid = record[0], record[1], record[2]
        if not token:
            log.warning("empty token has been found in token file '%s'", path)
            continue
        groups = tuple(record[3].split(",")) if len(record) >= 4 else ()
        tokens[token] = UserInfo(name, uid, groups)
    return tokens


def load_token_file(path: Path) -> dict[str, UserInfo]:
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"unable to read token file {path}: {e.strerror or e}") from e
    return parse_token_file(text, path=str(path))


def new_token() -> str:
    """A random bearer token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def ensure_identities(path: Path, identities: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """Make sure ``path`` holds a token for each user name (with its groups); return name -> token.

    For ``kubelite up``: the admin and every controller get their own
    identity; tokens already in the file are kept (kubeconfigs stay valid),
    missing users are appended. The file is created 0600.
    """
    existing = load_token_file(path) if path.exists() else {}
    by_user = {u.name: tok for tok, u in existing.items()}
    lines: list[str] = []
    for name, groups in identities.items():
        if name in by_user:
            continue
        tok = new_token()
        by_user[name] = tok
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow([tok, name, name, ",".join(groups)])
        lines.append(buf.getvalue())
    if lines:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as f:
            f.write("".join(lines))
    return {name: by_user[name] for name in identities}


class Authenticator:
    """Bearer tokens from a static table, and (optionally) anonymous requests.

    ``tokens=None`` and ``anonymous=False`` is "authentication off": every
    request is ``system:unsecured`` (the server then only listens on loopback).
    """

    def __init__(self, tokens: Mapping[str, UserInfo] | None, *, anonymous: bool = False) -> None:
        self.tokens = dict(tokens) if tokens is not None else None
        self.anonymous = anonymous

    @property
    def enabled(self) -> bool:
        return self.tokens is not None or self.anonymous

    def authenticate(self, authorization: str | None) -> UserInfo | None:
        """The request's user, or None for 401 Unauthorized."""
        if not self.enabled:
            return UNSECURED
        auth = (authorization or "").strip()
        if auth:
            parts = auth.split(" ", 2)
            if len(parts) >= 2 and parts[0].lower() == "bearer" and parts[1]:
                user = (self.tokens or {}).get(parts[1])
                if user is None:
                    return None  # an invalid token is never anonymous
                if AUTHENTICATED_GROUP in user.groups:
                    return user
                return UserInfo(user.name, user.uid, (*user.groups, AUTHENTICATED_GROUP))
        return ANONYMOUS if self.anonymous else None


# -- authorization (ABAC) -----------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """One ABAC policy (abac.Policy's spec, after version conversion)."""

    user: str = ""
    group: str = ""
    readonly: bool = False
    api_group: str = ""
    resource: str = ""
    namespace: str = ""
    non_resource_path: str = ""

    def subject_matches(self, user: UserInfo) -> bool:
        matched = False
        if self.user:
            if self.user == "*":
                matched = True
            elif self.user != user.name:
                return False
            else:
                matched = True
        if self.group:
            if self.group == "*":
                matched = True
            elif self.group not in user.groups:
                return False
            else:
                matched = True
        return matched

    def verb_matches(self, info: RequestInfo) -> bool:
        return info.readonly or not self.readonly

    def resource_matches(self, info: RequestInfo) -> bool:
        return (info.resource_request
                and self.namespace in ("*", info.namespace)
                and self.resource in ("*", info.resource)
                and self.api_group in ("*", info.api_group))

    def non_resource_matches(self, info: RequestInfo) -> bool:
        if info.resource_request or not self.non_resource_path:
            return False
        p = self.non_resource_path
        if p in ("*", info.path):
            return True
        return p.endswith("*") and info.path.startswith(p.rstrip("*"))

    def matches(self, user: UserInfo, info: RequestInfo) -> bool:
        return (self.subject_matches(user) and self.verb_matches(info)
                and (self.resource_matches(info) or self.non_resource_matches(info)))


_SPEC_FIELDS = {"user": str, "group": str, "readonly": bool, "apiGroup": str, "resource": str, "namespace": str,
                "nonResourcePath": str}


def _typed(doc: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n in names:
        v = doc.get(n)
        if v is None:
            continue
        want = _SPEC_FIELDS[n]
        if not isinstance(v, want):
            raise ValueError(f"json: cannot unmarshal {type(v).__name__} into Go struct field "
                             f"PolicySpec.{n} of type {'bool' if want is bool else 'string'}")
        out[n] = v
    return out


def parse_policy(doc: Any) -> Policy:
    """One decoded policy line: v1beta1 (``{"apiVersion", "kind": "Policy", "spec"}``) or unversioned v0."""
    if not isinstance(doc, dict):
        raise ValueError("a policy must be a JSON object")
    api_version = doc.get("apiVersion") or ""
    if api_version == ABAC_API_VERSION:
        if doc.get("kind") != "Policy":
            raise ValueError(f'no kind "{doc.get("kind") or ""}" is registered for version "{api_version}"')
        spec = _typed(doc.get("spec") or {}, _SPEC_FIELDS)
        user, group = spec.get("user", ""), spec.get("group", "")
        if user == "*" or group == "*":  # v1beta1 conversion: * means every authenticated subject
            user, group = "", AUTHENTICATED_GROUP
        return Policy(user=user, group=group, readonly=spec.get("readonly", False), api_group=spec.get("apiGroup", ""),
                      resource=spec.get("resource", ""), namespace=spec.get("namespace", ""),
                      non_resource_path=spec.get("nonResourcePath", ""))
    if api_version not in ("", ABAC_V0_API_VERSION):
        raise ValueError(f'no kind "{doc.get("kind") or ""}" is registered for version "{api_version}"')
    v0 = _typed(doc, ("user", "group", "readonly", "resource", "namespace"))
    user, group = v0.get("user", ""), v0.get("group", "")
    ns, res = v0.get("namespace", ""), v0.get("resource", "")
    if not user and not group:
        group = AUTHENTICATED_GROUP
    if user == "*" or group == "*":
        user, group = "", AUTHENTICATED_GROUP
    return Policy(user=user, group=group, readonly=v0.get("readonly", False), api_group="*",
                  resource=res or "*", namespace=ns or "*", non_resource_path="*" if not ns and not res else "")


def parse_policy_file(text: str, *, path: str = "<policy>") -> list[Policy]:
    """One JSON policy object a line; blank lines and ``#`` comments are skipped."""
    out: list[Policy] = []
    for i, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        try:
            out.append(parse_policy(orjson.loads(s)))
        except (ValueError, orjson.JSONDecodeError) as e:
            raise ConfigError(f"error reading policy file {path}, line {i}: {s}: {e}") from None
    return out


def load_policy_file(path: Path) -> list[Policy]:
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"error reading policy file {path}: {e.strerror or e}") from e
    return parse_policy_file(text, path=str(path))


def _is_self_review(info: RequestInfo) -> bool:
    return (info.resource_request and info.verb == "create" and info.api_group == "authorization.k8s.io"
            and info.resource in ("selfsubjectaccessreviews", "selfsubjectrulesreviews") and not info.subresource)


class Authorizer:
    """``policies=None``: AlwaysAllow; otherwise system:masters, then the ABAC policies in order."""

    def __init__(self, policies: list[Policy] | None) -> None:
        self.policies = policies

    def authorize(self, user: UserInfo, info: RequestInfo) -> tuple[bool, str]:
        """(allowed, reason). The reason of a denial is empty, like RBAC's, so the 403 message
        is exactly ``... cannot create resource "services" in API group "" in the namespace "x"``."""
        if self.policies is None or PRIVILEGED_GROUP in user.groups:
            return True, ""
        if _is_self_review(info) and AUTHENTICATED_GROUP in user.groups:
            return True, ""  # as RBAC's system:basic-user: anyone signed in may ask what they may do
        return any(p.matches(user, info) for p in self.policies), ""


# -- refusals -----------------------------------------------------------------------------------


def unauthorized() -> StatusError:
    return StatusError(401, "Unauthorized", "Unauthorized")


def forbidden_message(user: UserInfo, info: RequestInfo) -> str:
    """responsewriters.forbiddenMessage."""
    if not info.resource_request:
        return f'User "{user.name}" cannot {info.verb} path "{info.path}"'
    resource = f"{info.resource}/{info.subresource}" if info.subresource else info.resource
    if info.namespace:
        return (f'User "{user.name}" cannot {info.verb} resource "{resource}" in API group "{info.api_group}" '
                f'in the namespace "{info.namespace}"')
    return f'User "{user.name}" cannot {info.verb} resource "{resource}" in API group "{info.api_group}" at the cluster scope'


def forbidden(user: UserInfo, info: RequestInfo, *, reason: str = "") -> StatusError:
    """apierrors.NewForbidden(group-resource, name, message) as the authorization filter sends it."""
    msg = forbidden_message(user, info)
    if reason:
        msg = f"{msg}: {reason}"
    details: dict[str, Any] = {}
    if info.name:
        details["name"] = info.name
    if info.api_group:
        details["group"] = info.api_group
    if info.resource:
        details["kind"] = info.resource
    if not info.resource:
        text = f"forbidden: {msg}"
    else:
        gr = f"{info.resource}.{info.api_group}" if info.api_group else info.resource
        text = f'{gr} "{info.name}" is forbidden: {msg}' if info.name else f"{gr} is forbidden: {msg}"
    return StatusError(403, "Forbidden", text, details=details)


# -- the ASGI middleware ------------------------------------------------------------------------


@dataclass
class Security:
    """What the server checks on every request (built once from the settings)."""

    authenticator: Authenticator = field(default_factory=lambda: Authenticator(None))
    authorizer: Authorizer = field(default_factory=lambda: Authorizer(None))

    @property
    def enabled(self) -> bool:
        return self.authenticator.enabled or self.authorizer.policies is not None

    @classmethod
    def from_files(cls, *, token_auth_file: Path | None, authorization_policy_file: Path | None,
                   anonymous_auth: bool) -> Security:
        tokens = load_token_file(Path(token_auth_file)) if token_auth_file else None
        policies = load_policy_file(Path(authorization_policy_file)) if authorization_policy_file else None
        return cls(Authenticator(tokens, anonymous=anonymous_auth), Authorizer(policies))

    @classmethod
    def from_settings(cls, settings: Settings) -> Security:
        return cls.from_files(token_auth_file=settings.token_auth_file,
                              authorization_policy_file=settings.authorization_policy_file,
                              anonymous_auth=settings.anonymous_auth)


def user_of(scope: Mapping[str, Any]) -> UserInfo:
    """The authenticated user of a request (``system:unsecured`` when authentication is off)."""
    user = scope.get(USER_KEY)
    return user if isinstance(user, UserInfo) else UNSECURED


Scope = dict[str, Any]
Receive = Any
Send = Any


async def send_status(send: Send, e: StatusError) -> None:
    body = e.encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in e.headers.items()]
    await send({"type": "http.response.start", "status": e.code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class AuthMiddleware:
    """Authenticate, then authorize, every HTTP request before it reaches a handler."""

    def __init__(self, app: Any, *, security: Security) -> None:
        self.app = app
        self.security = security

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        header: str | None = None
        for k, v in scope["headers"]:
            if k == b"authorization":
                header = v.decode("latin-1")
                break
        user = self.security.authenticator.authenticate(header)
        if user is None:
            await send_status(send, unauthorized())
            return
        scope[USER_KEY] = user
        if self.security.authorizer.policies is not None and PRIVILEGED_GROUP not in user.groups:
            info = scope[INFO_KEY] = request_info(scope["method"], scope["path"],
                                                  query=scope.get("query_string", b""))
            allowed, reason = self.security.authorizer.authorize(user, info)
            if not allowed:
                await send_status(send, forbidden(user, info, reason=reason))
                return
        await self.app(scope, receive, send)


def install(app: Any, security: Security) -> None:
    """Add authentication and authorization to the app, unless both are off (then nothing runs per request)."""
    if security.enabled:
        app.add_middleware(AuthMiddleware, security=security)


__all__ = [
    "ANONYMOUS",
    "UNSECURED",
    "AuthMiddleware",
    "Authenticator",
    "Authorizer",
    "ConfigError",
    "Policy",
    "RequestInfo",
    "Security",
    "UserInfo",
    "ensure_identities",
    "forbidden",
    "forbidden_message",
    "install",
    "load_policy_file",
    "load_token_file",
    "new_token",
    "parse_policy",
    "parse_policy_file",
    "parse_token_file",
    "request_info",
    "send_status",
    "unauthorized",
    "user_of",
]
