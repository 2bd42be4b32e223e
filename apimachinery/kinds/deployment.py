"""apps/v1 Deployment (pkg/registry/apps/deployment)."""

from __future__ import annotations

from types import MappingProxyType

from apimachinery.kinds.base import OBJECT_META, Kind, PatchMeta, ResourceType, merge
from apimachinery.kinds.podtemplate import template_fields

KIND = Kind(
    ResourceType("apps", "v1", "Deployment", "deployments", "deployment", True, ("deploy",), ("all",),
                 ("status", "scale"), gc_finalizers=True),
    # DeploymentSpec.Strategy is patchStrategy=retainKeys: switching to Recreate drops rollingUpdate.
    patch=MappingProxyType({**OBJECT_META, **template_fields(), "spec.strategy": PatchMeta(retain_keys=True),
                            "status.conditions": merge("type")}),
    zero=MappingProxyType({"spec": {"selector": None,
                                    "template": {"metadata": {"creationTimestamp": None},
                                                 "spec": {"containers": None}},
                                    "strategy": {}}}),
)
