"""Node registration and heartbeat: the Node object and its Lease in kube-node-lease.

Why a Lease (as kubelet's NodeLease): renewing a small object every
``lease_duration/4`` seconds is the cheap liveness signal the node lifecycle
pass reads; the Node's status is written only when it changes (at
registration, or when it is found not Ready, e.g. after the lifecycle pass
marked it Unknown while this agent was away).

Registration refuses to take over a Node whose podCIDR differs from ours:
the addresses its Pods hold came from the other range.

The version the Node reports (nodeInfo.kubeletVersion, the VERSION column of
``kubectl get nodes``) is read from the API server's /version before the
first registration: the release is written down once, in the API server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from agents.node import status as nodestatus
from apimachinery.containerenv import NODE_RESOURCES
from apimachinery.resources import BY_KEY
from apimachinery.timestamps import format_micro_time, format_time
from kubeclient import errors
from kubeclient.client import Client

log = logging.getLogger("agents.node.heartbeat")

Obj = dict[str, Any]
NODES = BY_KEY["nodes"]
LEASES = BY_KEY["leases.coordination.k8s.io"]
NAMESPACES = BY_KEY["namespaces"]
NODE_LEASE_NAMESPACE = "kube-node-lease"


class RegistrationError(Exception):
    """The Node exists with settings this agent cannot adopt."""


class NodeHeartbeat:
    def __init__(
        self,
        client: Client,
        *,
        node_name: str,
        pod_cidr: str,
        address: str,
        zone: str | None = None,
        max_pods: int = 110,
        lease_duration: int = 40,
        on_write: Callable[[str], None] | None = None,
        kubelet_port: int = nodestatus.DEFAULT_KUBELET_PORT,
    ) -> None:
        self.client = client
        self.node_name = node_name
        self.pod_cidr = pod_cidr
        self.address = address
        self.zone = zone
        self.max_pods = max_pods
        self.lease_duration = lease_duration
        self.renew_interval = max(0.2, lease_duration / 4)
        self.on_write = on_write or (lambda _what: None)
        self.kubelet_port = kubelet_port
        self.node: Obj | None = None
        self.version = ""

    async def _server_version(self) -> str:
        """The API server's gitVersion (asked once; a registration retry asks again only if it failed)."""
        if not self.version:
            info = await self.client.version()
            version = str(info.get("gitVersion") or "")
            if not version:
                raise RegistrationError(f"the API server's /version has no gitVersion: {info!r}")
            self.version = version
        return self.version

    def _capacity(self) -> dict[str, str]:
        return {**NODE_RESOURCES, "pods": str(self.max_pods)}

    async def register(self) -> Obj:
        """Create the Node, or adopt the existing one and post a healthy status."""
        version = await self._server_version()
        desired = nodestatus.node_object(self.node_name, pod_cidr=self.pod_cidr, address=self.address,
                                         now=format_time(), zone=self.zone, max_pods=self.max_pods,
                                         kubelet_port=self.kubelet_port, version=version)
        try:
            node = await self.client.create(NODES, desired)
            log.info("registered Node %s (podCIDR %s)", self.node_name, self.pod_cidr)
            self.on_write("node_create")
        except errors.AlreadyExists:
            node = await self.client.get(NODES, self.node_name)
            spec = node.get("spec") or {}
            if spec.get("podCIDR") and spec.get("podCIDR") != self.pod_cidr:
                raise RegistrationError(f"Node {self.node_name} exists with podCIDR {spec.get('podCIDR')}, "
                                        f"not {self.pod_cidr}") from None
            labels = {**((node.get("metadata") or {}).get("labels") or {}), **desired["metadata"]["labels"]}
            if labels != (node.get("metadata") or {}).get("labels") or not spec.get("podCIDR"):
                node["metadata"]["labels"] = labels
                node["spec"] = {**spec, "podCIDR": self.pod_cidr, "podCIDRs": [self.pod_cidr]}
                node = await self.client.update(NODES, node)
            self.node = node
            await self.renew_lease()  # fresh Lease first: the lifecycle pass must not re-mark us while we post Ready
            node = await self.post_status(node)
            log.info("adopted existing Node %s", self.node_name)
        self.node = node
        return node

    async def post_status(self, node: Obj) -> Obj:
        status = nodestatus.node_status(node.get("status") or {}, hostname=self.node_name, address=self.address,
                                        now=format_time(), capacity=self._capacity(), kubelet_port=self.kubelet_port,
                                        version=await self._server_version())
        body = dict(node)
        body["status"] = status
        updated = await self.client.update_status(NODES, body)
        self.on_write("node_status")
        return updated

    async def renew_lease(self) -> None:
        """Create or renew kube-node-lease/<node>; a conflict just waits for the next round."""
        spec = {"holderIdentity": self.node_name, "leaseDurationSeconds": self.lease_duration,
                "renewTime": format_micro_time()}
        try:
            lease = await self.client.get(LEASES, self.node_name, namespace=NODE_LEASE_NAMESPACE)
        except errors.NotFound:
            owner = []
            if self.node is not None and (self.node.get("metadata") or {}).get("uid"):
                owner = [{"apiVersion": "v1", "kind": "Node", "name": self.node_name,
                          "uid": self.node["metadata"]["uid"]}]
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.node_name, "namespace": NODE_LEASE_NAMESPACE,
                                 "ownerReferences": owner},
                    "spec": spec}
            try:
                await self.client.create(LEASES, body, namespace=NODE_LEASE_NAMESPACE)
            except errors.NotFound:
                await self._ensure_namespace()
                return
            except (errors.AlreadyExists, errors.Conflict):
                return
            self.on_write("lease")
            return
        lease["spec"] = {**(lease.get("spec") or {}), **spec}
        with contextlib.suppress(errors.Conflict):
            await self.client.update(LEASES, lease)
            self.on_write("lease")

    async def _ensure_namespace(self) -> None:
        with contextlib.suppress(errors.AlreadyExists, errors.Conflict):
            await self.client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": NODE_LEASE_NAMESPACE}})

    async def check_node(self) -> None:
        """Post a healthy status again if the Node is not Ready (marked Unknown while we were silent)."""
        node = await self.client.get(NODES, self.node_name)
        self.node = node
        if not nodestatus.node_ready(node):
            log.info("Node %s is not Ready in the API; posting Ready", self.node_name)
            self.node = await self.post_status(node)

    async def run(self) -> None:
        """Renew the Lease and keep the Node Ready until cancelled; errors are retried next round."""
        while True:
            try:
                await self.renew_lease()
                await self.check_node()
            except errors.NotFound:
                log.warning("Node %s was deleted; registering again", self.node_name)
                with contextlib.suppress(errors.ClientError):
                    await self.register()
            except errors.ClientError as e:
                log.warning("heartbeat of %s failed: %s", self.node_name, e)
            await asyncio.sleep(self.renew_interval)
