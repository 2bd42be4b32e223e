"""apps/v1 Deployment and ReplicaSet, and core/v1 PodTemplateSpec they both carry.

Why this depth: the deployment and replicaset controllers, kubectl's
``rollout`` commands and the Table printers read every spec and status
field, so all are typed field by field, in Go struct order (the order we
print fields in). The template's PodSpec is the Pod schema's.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from apimachinery.schemas.base import (
    ConditionStatus,
    GoType,
    Int32,
    Int64,
    IntOrString,
    Schema,
    Time,
)
from apimachinery.schemas.meta import LabelSelector, ObjectMeta, TopLevel
from apimachinery.schemas.pod import PodSpec

_PACKAGE = "io.k8s.api.apps.v1"


class PodTemplateSpec(Schema):
    """core/v1 PodTemplateSpec: the Pods a controller stamps out."""

    metadata: ObjectMeta | None = None
    spec: PodSpec | None = None


# --- Deployment -------------------------------------------------------------------


class RollingUpdateDeployment(Schema):
    go_package: ClassVar[str] = _PACKAGE

    max_unavailable: IntOrString | None = None
    max_surge: IntOrString | None = None


class DeploymentStrategy(Schema):
    go_package: ClassVar[str] = _PACKAGE

    type: Annotated[str, GoType("v1.DeploymentStrategyType")] | None = None
    rolling_update: RollingUpdateDeployment | None = None


class DeploymentSpec(Schema):
    go_package: ClassVar[str] = _PACKAGE

    replicas: Int32 | None = None
    selector: LabelSelector | None = None
    template: PodTemplateSpec | None = None
    strategy: DeploymentStrategy | None = None
    min_ready_seconds: Int32 | None = None
    revision_history_limit: Int32 | None = None
    paused: bool | None = None
    progress_deadline_seconds: Int32 | None = None


class DeploymentCondition(Schema):
    go_package: ClassVar[str] = _PACKAGE

    type: Annotated[str, GoType("v1.DeploymentConditionType")] | None = None
    status: ConditionStatus | None = None
    last_update_time: Time | None = None
    last_transition_time: Time | None = None
    reason: str | None = None
    message: str | None = None


class DeploymentStatus(Schema):
    go_package: ClassVar[str] = _PACKAGE

    observed_generation: Int64 | None = None
    replicas: Int32 | None = None
    updated_replicas: Int32 | None = None
    ready_replicas: Int32 | None = None
    available_replicas: Int32 | None = None
    unavailable_replicas: Int32 | None = None
    terminating_replicas: Int32 | None = None
    conditions: list[DeploymentCondition] | None = None
    collision_count: Int32 | None = None


class Deployment(TopLevel):
    go_package: ClassVar[str] = _PACKAGE

    spec: DeploymentSpec | None = None
    status: DeploymentStatus | None = None


# --- ReplicaSet -------------------------------------------------------------------


class ReplicaSetSpec(Schema):
    go_package: ClassVar[str] = _PACKAGE

    replicas: Int32 | None = None
    min_ready_seconds: Int32 | None = None
    selector: LabelSelector | None = None
    template: PodTemplateSpec | None = None


class ReplicaSetCondition(Schema):
    go_package: ClassVar[str] = _PACKAGE

    type: Annotated[str, GoType("v1.ReplicaSetConditionType")] | None = None
    status: ConditionStatus | None = None
    last_transition_time: Time | None = None
    reason: str | None = None
    message: str | None = None


class ReplicaSetStatus(Schema):
    go_package: ClassVar[str] = _PACKAGE

    replicas: Int32 | None = None
    fully_labeled_replicas: Int32 | None = None
    ready_replicas: Int32 | None = None
    available_replicas: Int32 | None = None
    terminating_replicas: Int32 | None = None
    observed_generation: Int64 | None = None
    conditions: list[ReplicaSetCondition] | None = None


class ReplicaSet(TopLevel):
    go_package: ClassVar[str] = _PACKAGE

    spec: ReplicaSetSpec | None = None
    status: ReplicaSetStatus | None = None
