"""The one registry of resource types kubelite serves.

Why: discovery (aggregated and legacy), OpenAPI, URL routing, kubectl tables
and the client's short names all derive from this list, so a resource is
added in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    # fields a fieldSelector may name, besides metadata.name/metadata.namespace
    selectable_fields: tuple[str, ...] = ()
    verbs: tuple[str, ...] = field(
        default=("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
    )
    # Facts of the kind's registry strategy in kube-apiserver:
    # AllowCreateOnUpdate: a PUT of a missing object creates it.
    allow_create_on_update: bool = False
    # AllowUnconditionalUpdate: an update whose metadata.resourceVersion is "" or "0" writes over
    # whatever is stored; when False it is a 422 ("must be specified for an update").
    allow_unconditional_update: bool = True
    # Spec fields kube-apiserver fills while creating the object and kubelite's controllers fill a
    # moment later (ClusterIPs, node ports): filling one that was empty is not a spec change, so it
    # does not bump metadata.generation. Dotted paths; ``[]`` walks every element of a list.
    filled_after_create: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def key(self) -> str:
        """Storage key of the resource: ``services``, ``leases.coordination.k8s.io``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def url_prefix(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"


_POD_FIELDS = (
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
)
_EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)

RESOURCES: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "Namespace", "namespaces", "namespace", False, ("ns",), (), ("status",),
                 ("status.phase",)),
    ResourceType("", "v1", "Pod", "pods", "pod", True, ("po",), ("all",), ("status", "binding", "log"),
                 _POD_FIELDS),
    ResourceType("", "v1", "Service", "services", "service", True, ("svc",), ("all",), ("status",),
                 filled_after_create=("spec.clusterIP", "spec.clusterIPs", "spec.ports[].nodePort",
                                      "spec.healthCheckNodePort")),
    ResourceType("", "v1", "Endpoints", "endpoints", "endpoints", True, ("ep",), allow_create_on_update=True),
    ResourceType("", "v1", "Node", "nodes", "node", False, ("no",), (), ("status",), ("spec.unschedulable",),
                 allow_create_on_update=True),
    ResourceType("", "v1", "Event", "events", "event", True, ("ev",), (), (), _EVENT_FIELDS,
                 allow_create_on_update=True),
    ResourceType("apps", "v1", "Deployment", "deployments", "deployment", True, ("deploy",), ("all",),
                 ("status", "scale")),
    ResourceType("apps", "v1", "ReplicaSet", "replicasets", "replicaset", True, ("rs",), ("all",),
                 ("status", "scale")),
    ResourceType("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", True,
                 (), (), (), ("addressType",)),
    ResourceType("coordination.k8s.io", "v1", "Lease", "leases", "lease", True, allow_create_on_update=True,
                 allow_unconditional_update=False),
    ResourceType("networking.k8s.io", "v1", "IPAddress", "ipaddresses", "ipaddress", False, ("ip",)),
    ResourceType("networking.k8s.io", "v1", "ServiceCIDR", "servicecidrs", "servicecidr", False, (), (),
                 ("status",)),
    # kubelite's NodePort ledger (Kubernetes keeps node ports in a bitmap; we keep one object per port
    # so that a create failing with AlreadyExists is how a collision is detected, as for IPAddress).
    ResourceType("kubelite.io", "v1", "PortAllocation", "portallocations", "portallocation", False),
)

BY_KEY: dict[str, ResourceType] = {r.key: r for r in RESOURCES}
BY_GROUP_PLURAL: dict[tuple[str, str], ResourceType] = {(r.group, r.plural): r for r in RESOURCES}
BY_GROUP_KIND: dict[tuple[str, str], ResourceType] = {(r.group, r.kind): r for r in RESOURCES}


def lookup(group: str, version: str, plural: str) -> ResourceType | None:
    r = BY_GROUP_PLURAL.get((group, plural))
    if r is None or r.version != version:
        return None
    return r


def group_versions() -> list[tuple[str, str]]:
    """Every (group, version) we serve, core first, in registry order."""
    seen: list[tuple[str, str]] = []
    for r in RESOURCES:
        if (r.group, r.version) not in seen:
            seen.append((r.group, r.version))
    return seen
