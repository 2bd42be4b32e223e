"""policy/v1 PodDisruptionBudget: how many of a set of Pods may be voluntarily disrupted at once.

Why typed field by field: the disruption controller, the eviction subresource
and kubectl's printer read every spec and status field; Go struct order.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from apimachinery.schemas.base import GoType, Int32, Int64, IntOrString, Schema, Time
from apimachinery.schemas.meta import Condition, LabelSelector, TopLevel

_PACKAGE = "io.k8s.api.policy.v1"


class PodDisruptionBudgetSpec(Schema):
    go_package: ClassVar[str] = _PACKAGE

    min_available: IntOrString | None = None
    selector: LabelSelector | None = None
    max_unavailable: IntOrString | None = None
    unhealthy_pod_eviction_policy: Annotated[str, GoType("v1.UnhealthyPodEvictionPolicyType")] | None = None


class PodDisruptionBudgetStatus(Schema):
    go_package: ClassVar[str] = _PACKAGE

    observed_generation: Int64 | None = None
    disrupted_pods: dict[str, Time] | None = None
    disruptions_allowed: Int32 | None = None
    current_healthy: Int32 | None = None
    desired_healthy: Int32 | None = None
    expected_pods: Int32 | None = None
    conditions: list[Condition] | None = None


class PodDisruptionBudget(TopLevel):
    go_package: ClassVar[str] = _PACKAGE

    spec: PodDisruptionBudgetSpec | None = None
    status: PodDisruptionBudgetStatus | None = None
