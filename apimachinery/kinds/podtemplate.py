"""Where a PodSpec's tagged structs sit, shared by the Pod and by workloads' templates.

Why: a Deployment's ``spec.template.spec.containers`` merges exactly as a
Pod's ``spec.containers`` (same Go struct); the layout is written once here.
"""

from __future__ import annotations

from apimachinery.kinds.base import OBJECT_META
from apimachinery.kinds.tags import CORE


def pod_spec_structs(prefix: str) -> dict[str, str]:
    """The PodSpec at ``prefix`` and its containers."""
    return {
        prefix: CORE + "PodSpec",
        f"{prefix}.initContainers": CORE + "Container",
        f"{prefix}.containers": CORE + "Container",
        f"{prefix}.ephemeralContainers": CORE + "EphemeralContainer",
    }


def template_structs() -> dict[str, str]:
    """A workload's spec.template (PodTemplateSpec): the Pod's ObjectMeta and PodSpec."""
    return {"spec.template.metadata": OBJECT_META, **pod_spec_structs("spec.template.spec")}
