"""apps/v1 StatefulSet: spec (ordinals, update strategy, claim templates), status, in Go struct order.

Why typed: the statefulset controller, ``kubectl rollout`` and the printer
read every spec and status field. volumeClaimTemplates are accepted and
stored as PersistentVolumeClaims typed loosely (the statefulset controller
makes each Pod's claims from them).
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from apimachinery.schemas.apps import PodTemplateSpec
from apimachinery.schemas.base import ConditionStatus, GoType, Int32, Int64, IntOrString, Object, Schema, Time
from apimachinery.schemas.meta import LabelSelector, TopLevel

_PACKAGE = "io.k8s.api.apps.v1"


class RollingUpdateStatefulSetStrategy(Schema):
    go_package: ClassVar[str] = _PACKAGE

    partition: Int32 | None = None
    max_unavailable: IntOrString | None = None


class StatefulSetUpdateStrategy(Schema):
    go_package: ClassVar[str] = _PACKAGE

    type: Annotated[str, GoType("v1.StatefulSetUpdateStrategyType")] | None = None
    rolling_update: RollingUpdateStatefulSetStrategy | None = None


class StatefulSetPersistentVolumeClaimRetentionPolicy(Schema):
    go_package: ClassVar[str] = _PACKAGE

    when_deleted: Annotated[str, GoType("v1.PersistentVolumeClaimRetentionPolicyType")] | None = None
    when_scaled: Annotated[str, GoType("v1.PersistentVolumeClaimRetentionPolicyType")] | None = None


class StatefulSetOrdinals(Schema):
    go_package: ClassVar[str] = _PACKAGE

    start: Int32 | None = None


class StatefulSetSpec(Schema):
    go_package: ClassVar[str] = _PACKAGE

    replicas: Int32 | None = None
    selector: LabelSelector | None = None
    template: PodTemplateSpec | None = None
    volume_claim_templates: list[Annotated[Object, GoType("v1.PersistentVolumeClaim")]] | None = None
    service_name: str | None = None
    pod_management_policy: Annotated[str, GoType("v1.PodManagementPolicyType")] | None = None
    update_strategy: StatefulSetUpdateStrategy | None = None
    revision_history_limit: Int32 | None = None
    min_ready_seconds: Int32 | None = None
    persistent_volume_claim_retention_policy: StatefulSetPersistentVolumeClaimRetentionPolicy | None = None
    ordinals: StatefulSetOrdinals | None = None


class StatefulSetCondition(Schema):
    go_package: ClassVar[str] = _PACKAGE

    type: Annotated[str, GoType("v1.StatefulSetConditionType")] | None = None
    status: ConditionStatus | None = None
    last_transition_time: Time | None = None
    reason: str | None = None
    message: str | None = None


class StatefulSetStatus(Schema):
    go_package: ClassVar[str] = _PACKAGE

    observed_generation: Int64 | None = None
    replicas: Int32 | None = None
    ready_replicas: Int32 | None = None
    current_replicas: Int32 | None = None
    updated_replicas: Int32 | None = None
    current_revision: str | None = None
    update_revision: str | None = None
    collision_count: Int32 | None = None
    conditions: list[StatefulSetCondition] | None = None
    available_replicas: Int32 | None = None


class StatefulSet(TopLevel):
    go_package: ClassVar[str] = _PACKAGE

    spec: StatefulSetSpec | None = None
    status: StatefulSetStatus | None = None
