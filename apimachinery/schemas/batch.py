"""batch/v1 Job and CronJob, field by field in Go struct order.

Why this depth: the job and cronjob controllers, ``kubectl create job
--from=cronjob/x`` and the Table printers read every spec and status field.
The Pod template is apps' PodTemplateSpec (core/v1, one struct).
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from apimachinery.schemas.apps import PodTemplateSpec
from apimachinery.schemas.base import ConditionStatus, GoType, Int32, Int64, Schema, Time
from apimachinery.schemas.core import ObjectReference
from apimachinery.schemas.meta import LabelSelector, ObjectMeta, TopLevel

_PACKAGE = "io.k8s.api.batch.v1"


class PodFailurePolicyOnExitCodesRequirement(Schema):
    go_package: ClassVar[str] = _PACKAGE

    container_name: str | None = None
    operator: Annotated[str, GoType("v1.PodFailurePolicyOnExitCodesOperator")] | None = None
    values: list[Int32] | None = None


class PodFailurePolicyOnPodConditionsPattern(Schema):
    go_package: ClassVar[str] = _PACKAGE

    type: Annotated[str, GoType("v1.PodConditionType")] | None = None
    status: ConditionStatus | None = None


class PodFailurePolicyRule(Schema):
    go_package: ClassVar[str] = _PACKAGE

    action: Annotated[str, GoType("v1.PodFailurePolicyAction")] | None = None
    on_exit_codes: PodFailurePolicyOnExitCodesRequirement | None = None
    on_pod_conditions: list[PodFailurePolicyOnPodConditionsPattern] | None = None


class PodFailurePolicy(Schema):
    go_package: ClassVar[str] = _PACKAGE

    rules: list[PodFailurePolicyRule] | None = None


class SuccessPolicyRule(Schema):
    go_package: ClassVar[str] = _PACKAGE

    succeeded_indexes: str | None = None
    succeeded_count: Int32 | None = None


class SuccessPolicy(Schema):
    go_package: ClassVar[str] = _PACKAGE

    rules: list[SuccessPolicyRule] | None = None


class JobSpec(Schema):
    go_package: ClassVar[str] = _PACKAGE

    parallelism: Int32 | None = None
    completions: Int32 | None = None
    active_deadline_seconds: Int64 | None = None
    pod_failure_policy: PodFailurePolicy | None = None
    success_policy: SuccessPolicy | None = None
    backoff_limit: Int32 | None = None
    backoff_limit_per_index: Int32 | None = None
    max_failed_indexes: Int32 | None = None
    selector: LabelSelector | None = None
    manual_selector: bool | None = None
    template: PodTemplateSpec | None = None
    ttl_seconds_after_finished: Int32 | None = None
    completion_mode: Annotated[str, GoType("v1.CompletionMode")] | None = None
    suspend: bool | None = None
    pod_replacement_policy: Annotated[str, GoType("v1.PodReplacementPolicy")] | None = None
    managed_by: str | None = None


class JobCondition(Schema):
    go_package: ClassVar[str] = _PACKAGE

    type: Annotated[str, GoType("v1.JobConditionType")] | None = None
    status: ConditionStatus | None = None
    last_probe_time: Time | None = None
    last_transition_time: Time | None = None
    reason: str | None = None
    message: str | None = None


class UncountedTerminatedPods(Schema):
    go_package: ClassVar[str] = _PACKAGE

    succeeded: list[Annotated[str, GoType("types.UID")]] | None = None
    failed: list[Annotated[str, GoType("types.UID")]] | None = None


class JobStatus(Schema):
    go_package: ClassVar[str] = _PACKAGE

    conditions: list[JobCondition] | None = None
    start_time: Time | None = None
    completion_time: Time | None = None
    active: Int32 | None = None
    succeeded: Int32 | None = None
    failed: Int32 | None = None
    terminating: Int32 | None = None
    completed_indexes: str | None = None
    failed_indexes: str | None = None
    uncounted_terminated_pods: UncountedTerminatedPods | None = None
    ready: Int32 | None = None


class Job(TopLevel):
    go_package: ClassVar[str] = _PACKAGE

    spec: JobSpec | None = None
    status: JobStatus | None = None


class JobTemplateSpec(Schema):
    go_package: ClassVar[str] = _PACKAGE

    metadata: ObjectMeta | None = None
    spec: JobSpec | None = None


class CronJobSpec(Schema):
    go_package: ClassVar[str] = _PACKAGE

    schedule: str | None = None
    time_zone: str | None = None
    starting_deadline_seconds: Int64 | None = None
    concurrency_policy: Annotated[str, GoType("v1.ConcurrencyPolicy")] | None = None
    suspend: bool | None = None
    job_template: JobTemplateSpec | None = None
    successful_jobs_history_limit: Int32 | None = None
    failed_jobs_history_limit: Int32 | None = None


class CronJobStatus(Schema):
    go_package: ClassVar[str] = _PACKAGE

    active: list[ObjectReference] | None = None
    last_schedule_time: Time | None = None
    last_successful_time: Time | None = None


class CronJob(TopLevel):
    go_package: ClassVar[str] = _PACKAGE

    spec: CronJobSpec | None = None
    status: CronJobStatus | None = None
