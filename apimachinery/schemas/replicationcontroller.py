"""core/v1 ReplicationController: the legacy ReplicaSet, with a map selector."""

from __future__ import annotations

from typing import Annotated

from apimachinery.schemas.apps import PodTemplateSpec
from apimachinery.schemas.base import ConditionStatus, GoType, Int32, Int64, Schema, StringMap, Time
from apimachinery.schemas.meta import TopLevel


class ReplicationControllerSpec(Schema):
    replicas: Int32 | None = None
    min_ready_seconds: Int32 | None = None
    selector: StringMap | None = None
    template: PodTemplateSpec | None = None


class ReplicationControllerCondition(Schema):
    type: Annotated[str, GoType("v1.ReplicationControllerConditionType")] | None = None
    status: ConditionStatus | None = None
    last_transition_time: Time | None = None
    reason: str | None = None
    message: str | None = None


class ReplicationControllerStatus(Schema):
    replicas: Int32 | None = None
    fully_labeled_replicas: Int32 | None = None
    ready_replicas: Int32 | None = None
    available_replicas: Int32 | None = None
    observed_generation: Int64 | None = None
    conditions: list[ReplicationControllerCondition] | None = None


class ReplicationController(TopLevel):
    spec: ReplicationControllerSpec | None = None
    status: ReplicationControllerStatus | None = None
