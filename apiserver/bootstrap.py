"""Objects every cluster has at start (idempotent: a restart keeps what exists)."""

from __future__ import annotations

import ipaddress
from typing import Any

from apimachinery.errors import StatusError
from apimachinery.kinds.priorityclass import SYSTEM_PRIORITY_CLASSES
from apimachinery.resources import BY_KEY
from apiserver.registry import Registry
from apiserver.settings import Settings

NODE_PORT_RANGE_ANNOTATION = "kubelite.io/service-node-port-range"
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
    # the scheduling/bootstrap-system-priority-classes post-start hook
    for name, (value, description) in SYSTEM_PRIORITY_CLASSES.items():
        await ensure(registry, "priorityclasses.scheduling.k8s.io", None,
                     {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
                      "value": value, "description": description})
    await ensure(
        registry, "servicecidrs.networking.k8s.io", None,
        {"apiVersion": "networking.k8s.io/v1", "kind": "ServiceCIDR",
         "metadata": {"name": "kubernetes",
                      # where controllers read the NodePort range from (kube-apiserver has no API for it)
                      "annotations": {NODE_PORT_RANGE_ANNOTATION: settings.service_node_port_range}},
         "spec": {"cidrs": [settings.service_cluster_ip_range]}},
    )
    net = ipaddress.ip_network(settings.service_cluster_ip_range, strict=False)
    await ensure(
        registry, "services", "default",
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
         "spec": {"clusterIP": str(net[1]), "clusterIPs": [str(net[1])], "type": "ClusterIP",
                  "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": settings.port}]}},
    )
    await ensure(
        registry, "services", "kube-system",
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "kube-dns", "labels": {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS",
                                                     "kubernetes.io/cluster-service": "true"}},
         "spec": {"clusterIP": str(net[10]), "clusterIPs": [str(net[10])], "type": "ClusterIP",
                  # no selector: kubelite's DNS server is a process, not Pods, and lists itself
                  # (servers/dns/publish.py), as kube-apiserver lists itself in default/kubernetes
                  "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                            {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}]}},
    )
