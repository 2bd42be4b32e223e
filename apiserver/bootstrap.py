"""Objects every cluster has at start (idempotent: a restart keeps what exists)."""

from __future__ import annotations

from typing import Any

from apimachinery.errors import StatusError
from apimachinery.resources import BY_KEY
from apiserver.registry import Registry
from apiserver.settings import Settings

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


async def ensure(registry: Registry, key: str, namespace: str | None, obj: dict[str, Any]) -> None:
    rt = BY_KEY[key]
    name = obj["metadata"]["name"]
    if registry.cache.get(rt.key, namespace or "", name) is not None:
        return
    try:
        await registry.create(rt, namespace, obj)
    except StatusError as e:
        if e.reason != "AlreadyExists":
            raise


async def bootstrap(registry: Registry, settings: Settings) -> None:
    for ns in SYSTEM_NAMESPACES:
        await ensure(registry, "namespaces", None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    await ensure(
        registry, "servicecidrs.networking.k8s.io", None,
        {"apiVersion": "networking.k8s.io/v1", "kind": "ServiceCIDR", "metadata": {"name": "kubernetes"},
         "spec": {"cidrs": [settings.service_cluster_ip_range]}},
    )
