"""One kctl invocation's connection: config, client, discovery and the resource mapper.

Why: every command needs the same three things kubectl's Factory gives it:
the effective kubeconfig (flags > KUBECONFIG > ~/.kube/config), a client,
and a RESTMapper built from the server's discovery so that ``svc``, ``po``,
``Service``, ``deployments.apps`` or a category like ``all`` name resource
types without a hard-coded list.

Invariant: names resolve only through what ``/api`` and ``/apis`` return;
nothing here knows a resource by name.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from apimachinery.resources import ResourceType
from kubeclient.client import Client
from kubeclient.kctl.failures import fail
from kubeclient.kubeconfig import ConfigError, load_config

TABLE_ACCEPT = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,"
    "application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
    "application/json"
)
LIST_CHUNK = 500


class KctlClient(Client):
    """The library client plus what only kctl needs: a JSON document that is not an API object."""

    async def get_json(self, path: str, *, params: Mapping[str, str] | None = None,
                       accept: str = "application/json") -> dict[str, Any]:
        resp = await self.request("GET", path, params=params, headers={"Accept": accept})
        data = orjson.loads(resp.content)
        if not isinstance(data, dict):
            raise fail(f"unexpected response to GET {path}")
        return data


@dataclass(frozen=True)
class ConnectionFlags:
    """kubectl's global connection flags (any of them may be None = not given)."""

    kubeconfig: str | None = None
    context: str | None = None
    server: str | None = None
    namespace: str | None = None
    token: str | None = None
    request_timeout: float | None = None


def kind_string(rt: ResourceType) -> str:
    """``service``, ``deployment.apps``: the prefix of kubectl's ``service/name`` lines."""
    return f"{rt.kind.lower()}.{rt.group}" if rt.group else rt.kind.lower()


def plural_string(rt: ResourceType) -> str:
    """``services``, ``deployments.apps``: GroupResource.String()."""
    return f"{rt.plural}.{rt.group}" if rt.group else rt.plural


@dataclass
class Session:
    """Connection state for one command; ``await open()`` before use, ``await close()`` after."""

    flags: ConnectionFlags
    client: KctlClient | None = None
    namespace: str = "default"
    explicit_namespace: bool = False
    resources: builtins.list[ResourceType] = field(default_factory=list)

    def connect(self) -> KctlClient:
        try:
            cfg = load_config(kubeconfig=self.flags.kubeconfig, context=self.flags.context,
                              server=self.flags.server, namespace=self.flags.namespace)
        except ConfigError as e:
            raise fail(str(e)) from e
        self.namespace = cfg.namespace
        self.explicit_namespace = bool(self.flags.namespace)
        token = self.flags.token or cfg.token
        self.client = KctlClient.from_config(cfg, token=token, timeout=self.flags.request_timeout or 32.0)
        return self.client

    @property
    def api(self) -> KctlClient:
        if self.client is None:
            return self.connect()
        return self.client

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()

    async def discover(self) -> builtins.list[ResourceType]:
        if not self.resources:
            seen: set[tuple[str, str]] = set()
            for rt in await self.api.discover():
                if not rt.kind or "/" in rt.plural or (rt.group, rt.plural) in seen:
                    continue
                seen.add((rt.group, rt.plural))
                self.resources.append(rt)
        return self.resources

    # ---- the RESTMapper ---------------------------------------------------

    def match(self, arg: str) -> ResourceType | None:
        a = arg.strip()
        low = a.lower()
        for rt in self.resources:
            if low in rt.short_names:
                return rt
        name, _, rest = low.partition(".")
        version = group = ""
        if rest:
            head, _, tail = rest.partition(".")
            if tail and head.startswith("v") and head[1:2].isdigit():
                version, group = head, tail
            else:
                group = rest
        for rt in self.resources:
            if name in (rt.plural, rt.singular.lower(), rt.kind.lower()):
                if rest and rt.group != group and not (rt.group == "" and rest == rt.version):
                    continue
                if version and rt.version != version:
                    continue
                return rt
        return None

    def resolve(self, arg: str) -> ResourceType:
        """One resource type; kubectl's error when the server has none by that name."""
        rt = self.match(arg)
        if rt is None:
            raise fail(f'the server doesn\'t have a resource type "{arg}"')
        return rt

    def expand(self, arg: str) -> builtins.list[ResourceType]:
        """A comma list of types, categories (``all``) expanded in discovery order."""
        out: builtins.list[ResourceType] = []
        for part in arg.split(","):
            if not part:
                continue
            rt = self.match(part)
            if rt is not None:
                members = [rt]
            else:
                members = [r for r in self.resources if part.lower() in r.categories]
                if not members:
                    raise fail(f'the server doesn\'t have a resource type "{part}"')
            for m in members:
                if m not in out:
                    out.append(m)
        return out

    def for_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        for rt in self.resources:
            if rt.group == group and rt.version == version and rt.kind == kind:
                return rt
        return None

    def ns_for(self, rt: ResourceType, *, all_namespaces: bool = False) -> str | None:
        """The namespace a request on ``rt`` goes to (None: cluster-scoped, or all namespaces)."""
        if not rt.namespaced or all_namespaces:
            return None
        return self.namespace

    async def list_all(self, rt: ResourceType, *, namespace: str | None, label_selector: str | None = None,
                       field_selector: str | None = None) -> dict[str, Any]:
        """Every page of a List, merged into one (kubectl's --chunk-size=500 loop)."""
        items: builtins.list[Any] = []
        cont: str | None = None
        first: dict[str, Any] = {}
        while True:
            page = await self.api.list(rt, namespace=namespace, label_selector=label_selector,
                                       field_selector=field_selector, limit=LIST_CHUNK, continue_=cont)
            if not first:
                first = page
            items.extend(page.get("items") or [])
            cont = (page.get("metadata") or {}).get("continue")
            if not cont:
                break
        first["items"] = items
        first.setdefault("metadata", {}).pop("continue", None)
        return first

    async def table(self, rt: ResourceType, *, namespace: str | None, name: str | None = None,
                    label_selector: str | None = None, field_selector: str | None = None) -> dict[str, Any]:
        """The server's meta.k8s.io/v1 Table for one object or for a whole (paged) list."""
        path = self.api.path(rt, namespace=namespace, name=name)
        if name is not None:
            return await self.api.get_json(path, accept=TABLE_ACCEPT)
        params: dict[str, str] = {"limit": str(LIST_CHUNK)}
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        result: dict[str, Any] = {}
        while True:
            page = await self.api.get_json(path, params=params, accept=TABLE_ACCEPT)
            if not result:
                result = page
                result.setdefault("rows", [])
            else:
                result["rows"].extend(page.get("rows") or [])
            cont = (page.get("metadata") or {}).get("continue")
            if not cont:
                break
            params["continue"] = str(cont)
        result.setdefault("metadata", {}).pop("continue", None)
        if result.get("rows") is None:
            result["rows"] = []
        return result
