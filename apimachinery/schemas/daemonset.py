"""apps/v1 DaemonSet: spec (update strategy with maxUnavailable/maxSurge), status, in Go struct order."""

from __future__ import annotations

from typing import Annotated, ClassVar

from apimachinery.schemas.apps import PodTemplateSpec
from apimachinery.schemas.base import ConditionStatus, GoType, Int32, Int64, IntOrString, Schema, Time
from apimachinery.schemas.meta import LabelSelector, TopLevel

_PACKAGE = "io.k8s.api.apps.v1"


class RollingUpdateDaemonSet(Schema):
    go_package: ClassVar[str] = _PACKAGE

    max_unavailable: IntOrString | None = None
    max_surge: IntOrString | None = None


class DaemonSetUpdateStrategy(Schema):
    go_package: ClassVar[str] = _PACKAGE

    type: Annotated[str, GoType("v1.DaemonSetUpdateStrategyType")] | None = None
    rolling_update: RollingUpdateDaemonSet | None = None


class DaemonSetSpec(Schema):
    go_package: ClassVar[str] = _PACKAGE

    selector: LabelSelector | None = None
    template: PodTemplateSpec | None = None
    update_strategy: DaemonSetUpdateStrategy | None = None
    min_ready_seconds: Int32 | None = None
    revision_history_limit: Int32 | None = None


class DaemonSetCondition(Schema):
    go_package: ClassVar[str] = _PACKAGE

    type: Annotated[str, GoType("v1.DaemonSetConditionType")] | None = None
    status: ConditionStatus | None = None
    last_transition_time: Time | None = None
    reason: str | None = None
    message: str | None = None


class DaemonSetStatus(Schema):
    go_package: ClassVar[str] = _PACKAGE

    current_number_scheduled: Int32 | None = None
    number_misscheduled: Int32 | None = None
    desired_number_scheduled: Int32 | None = None
    number_ready: Int32 | None = None
    observed_generation: Int64 | None = None
    updated_number_scheduled: Int32 | None = None
    number_available: Int32 | None = None
    number_unavailable: Int32 | None = None
    collision_count: Int32 | None = None
    conditions: list[DaemonSetCondition] | None = None


class DaemonSet(TopLevel):
    go_package: ClassVar[str] = _PACKAGE

    spec: DaemonSetSpec | None = None
    status: DaemonSetStatus | None = None
