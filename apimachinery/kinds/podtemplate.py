"""Strategic-merge tags of core/v1 PodSpec and PodStatus, shared by the Pod and by workloads' templates.

Why: a Deployment's ``spec.template.spec.containers`` merges exactly as a
Pod's ``spec.containers`` (same Go struct); the tags are written once here.
"""

from __future__ import annotations

from apimachinery.kinds.base import OBJECT_META, PatchMeta, merge

# core/v1 Container and EphemeralContainerCommon
_CONTAINER = {
    "ports": merge("containerPort"),
    "env": merge("name"),
    "volumeMounts": merge("mountPath"),
    "volumeDevices": merge("devicePath"),
}
# core/v1 PodSpec; tolerations, readinessGates, dnsConfig lists carry no tags (replaced).
_POD_SPEC = {
    "volumes": merge("name", retain_keys=True),
    "initContainers": merge("name"),
    "containers": merge("name"),
    "ephemeralContainers": merge("name"),
    "imagePullSecrets": merge("name"),
    "hostAliases": merge("ip"),
    "topologySpreadConstraints": merge("topologyKey"),
    "schedulingGates": merge("name"),
    "resourceClaims": merge("name", retain_keys=True),
}
# core/v1 PodStatus; containerStatuses and friends are atomic.
_POD_STATUS = {
    "conditions": merge("type"),
    "podIPs": merge("ip"),
    "hostIPs": merge("ip"),
    "resourceClaimStatuses": merge("name", retain_keys=True),
}


def pod_fields() -> dict[str, PatchMeta]:
    """A Pod's spec and status tags, by dotted path from the Pod."""
    out = {f"spec.{k}": v for k, v in _POD_SPEC.items()}
    for field in ("initContainers", "containers", "ephemeralContainers"):
        out.update({f"spec.{field}.{k}": v for k, v in _CONTAINER.items()})
    out.update({f"status.{k}": v for k, v in _POD_STATUS.items()})
    return out


def template_fields() -> dict[str, PatchMeta]:
    """A workload's spec.template: the Pod's ObjectMeta and PodSpec tags under ``spec.template``."""
    out = {f"spec.template.{k}": v for k, v in OBJECT_META.items()}
    out.update({f"spec.template.{k}": v for k, v in pod_fields().items() if k.startswith("spec.")})
    return out
