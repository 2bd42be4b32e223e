"""The Go struct tags of the types our kinds are made of: ONE table for strategic merge and server-side apply.

Why: Kubernetes writes, on each Go struct field, both its strategic-merge
tags (``patchStrategy``/``patchMergeKey``, read by PATCH and client-side
apply) and its structured-merge tags (``+listType``/``+listMapKey``, read by
server-side apply and published in OpenAPI). They are facts of the same
field, so they live in one table keyed by (OpenAPI definition name,
property); apimachinery.patch derives each kind's patch paths from it
through the kind's ``structs`` (where each struct sits in the object), and
apiserver.schematypes reads the list types. A field's two facts may differ
(``topologySpreadConstraints`` merges by topologyKey but is a list-map keyed
by topologyKey and whenUnsatisfiable), as in Go.

Invariant: a field absent here has no patch tags and is an atomic list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from apimachinery.kinds.base import PatchMeta, merge

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
CORE = "io.k8s.api.core.v1."
APPS = "io.k8s.api.apps.v1."
DISCOVERY = "io.k8s.api.discovery.v1."
NETWORKING = "io.k8s.api.networking.v1."
POLICY = "io.k8s.api.policy.v1."
BATCH = "io.k8s.api.batch.v1."


@dataclass(frozen=True)
class ListType:
    """``x-kubernetes-list-type`` (atomic, set, map) and ``x-kubernetes-list-map-keys``."""

    kind: str = "atomic"
    keys: tuple[str, ...] = ()


ATOMIC = ListType()
SET = ListType("set")


def list_map(*keys: str) -> ListType:
    return ListType("map", keys)


@dataclass(frozen=True)
class Tags:
    """One field's tags: strategic-merge ``patch`` and structured-merge ``list_type`` (None: untagged)."""

    patch: PatchMeta | None = None
    list_type: ListType | None = None


def _both(key: str, *keys: str, retain_keys: bool = False) -> Tags:
    """The common case: merged by ``key`` in a patch, a list-map keyed by ``key`` (and ``keys``) for apply."""
    return Tags(merge(key, retain_keys=retain_keys), list_map(key, *keys))


def _container(definition: str) -> dict[tuple[str, str], Tags]:
    """core/v1 Container and EphemeralContainerCommon."""
    return {
        (definition, "ports"): Tags(merge("containerPort"), list_map("containerPort", "protocol")),
        (definition, "env"): _both("name"),
        (definition, "volumeMounts"): _both("mountPath"),
        (definition, "volumeDevices"): _both("devicePath"),
    }


#: (definition name, property) -> its tags.
FIELD_TAGS: Mapping[tuple[str, str], Tags] = MappingProxyType({
    (META + "ObjectMeta", "finalizers"): Tags(merge(), SET),
    (META + "ObjectMeta", "ownerReferences"): _both("uid"),
    **_container(CORE + "Container"),
    **_container(CORE + "EphemeralContainer"),
    # containerStatuses and their lists carry no patch tags (replaced whole)
    (CORE + "ContainerStatus", "volumeMounts"): Tags(list_type=list_map("mountPath")),
    (CORE + "ContainerStatus", "allocatedResourcesStatus"): Tags(list_type=list_map("name")),
    (CORE + "ResourceRequirements", "claims"): Tags(list_type=list_map("name")),
    # PodSpec; tolerations, readinessGates, dnsConfig lists carry no tags (replaced)
    (CORE + "PodSpec", "volumes"): _both("name", retain_keys=True),
    (CORE + "PodSpec", "initContainers"): _both("name"),
    (CORE + "PodSpec", "containers"): _both("name"),
    (CORE + "PodSpec", "ephemeralContainers"): _both("name"),
    (CORE + "PodSpec", "imagePullSecrets"): _both("name"),
    (CORE + "PodSpec", "hostAliases"): _both("ip"),
    (CORE + "PodSpec", "topologySpreadConstraints"): _both("topologyKey", "whenUnsatisfiable"),
    (CORE + "PodSpec", "schedulingGates"): _both("name"),
    (CORE + "PodSpec", "resourceClaims"): _both("name", retain_keys=True),
    (CORE + "PodStatus", "conditions"): _both("type"),
    (CORE + "PodStatus", "podIPs"): _both("ip"),
    (CORE + "PodStatus", "hostIPs"): Tags(merge("ip")),
    (CORE + "PodStatus", "resourceClaimStatuses"): _both("name", retain_keys=True),
    (CORE + "ServiceSpec", "ports"): Tags(merge("port"), list_map("port", "protocol")),
    (CORE + "ServiceStatus", "conditions"): _both("type"),
    (CORE + "NamespaceStatus", "conditions"): _both("type"),
    (CORE + "NodeSpec", "podCIDRs"): Tags(merge(), SET),
    (CORE + "NodeStatus", "conditions"): _both("type"),
    (CORE + "NodeStatus", "addresses"): _both("type"),
    (CORE + "PersistentVolumeClaimStatus", "conditions"): _both("type"),
    (DISCOVERY + "Endpoint", "addresses"): Tags(list_type=SET),
    (NETWORKING + "ServiceCIDRStatus", "conditions"): _both("type"),
    # DeploymentSpec.Strategy is patchStrategy=retainKeys: switching to Recreate drops rollingUpdate.
    (APPS + "DeploymentSpec", "strategy"): Tags(PatchMeta(retain_keys=True)),
    (APPS + "DeploymentStatus", "conditions"): _both("type"),
    (APPS + "ReplicaSetStatus", "conditions"): _both("type"),
    (POLICY + "PodDisruptionBudgetStatus", "conditions"): _both("type"),
    (BATCH + "JobStatus", "conditions"): Tags(merge("type")),  # patchStrategy=merge, but +listType=atomic
    (BATCH + "UncountedTerminatedPods", "succeeded"): Tags(list_type=SET),
    (BATCH + "UncountedTerminatedPods", "failed"): Tags(list_type=SET),
    (CORE + "ServiceAccount", "secrets"): _both("name"),
    (CORE + "ReplicationControllerStatus", "conditions"): _both("type"),
    (APPS + "StatefulSetStatus", "conditions"): _both("type"),
    (APPS + "DaemonSetStatus", "conditions"): _both("type"),
})



def _patched() -> dict[str, list[tuple[str, PatchMeta]]]:
    """FIELD_TAGS' patch tags grouped by definition."""
    out: dict[str, list[tuple[str, PatchMeta]]] = {}
    for (definition, prop), tags in FIELD_TAGS.items():
        if tags.patch is not None:
            out.setdefault(definition, []).append((prop, tags.patch))
    return out


_PATCHED = _patched()


def patch_paths(structs: Mapping[str, str]) -> dict[str, PatchMeta]:
    """A kind's strategic-merge tags by dotted path, from where its structs sit (Kind.structs)."""
    out: dict[str, PatchMeta] = {}
    for prefix, definition in structs.items():
        for prop, meta in _PATCHED.get(definition, ()):
            out[f"{prefix}.{prop}" if prefix else prop] = meta
    return out


def list_types() -> dict[tuple[str, str], ListType]:
    """Every non-atomic list (structured-merge-diff's view), by (definition, property)."""
    return {k: t.list_type for k, t in FIELD_TAGS.items() if t.list_type is not None}
