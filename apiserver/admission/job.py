"""batch/v1 Job admission: SetDefaults_Job, the job strategy (generated selector, status reset) and ValidateJob.

Why: ``kubectl create job``, ``kubectl wait`` and the job controller read back what kube-apiserver would
store (completions/parallelism 1, backoffLimit 6, completionMode NonIndexed, suspend false,
podReplacementPolicy TerminatingOrFailed, manualSelector false and the selector on
``batch.kubernetes.io/controller-uid``), and users compare rejections with a real cluster's.

Invariant: a stored Job's selector matches its template's labels and never changes; unless
manualSelector is true, both carry the Job's uid, so its Pods can only ever be its own.

Not implemented: podFailurePolicy, successPolicy and backoffLimitPerIndex are accepted, defaulted and
validated in outline (the policy/index rules kube checks field by field are not repeated here) and the
job controller does not act on them (it answers with a Warning Event). A template change refused as
immutable prints the template as ``core.PodTemplateSpec{...}`` (kube prints the whole Go struct).
"""

from __future__ import annotations

from typing import Any

from apimachinery.errors import FieldError, forbidden, invalid, not_supported, required
from apimachinery.labels import (
    LABEL_CONTROLLER_UID,
    LABEL_JOB_NAME,
    LABEL_LEGACY_CONTROLLER_UID,
    LABEL_LEGACY_JOB_NAME,
)
from apimachinery.resources import BY_KEY
from apimachinery.selectors import from_label_selector_object
from apimachinery.validation import (
    FIELD_IMMUTABLE,
    GoValue,
    is_dns1123_label,
    validate_annotations,
    validate_immutable,
    validate_labels,
    validate_nonnegative,
)
from apiserver.admission.apps import default_pod_spec, go_label_selector, validate_label_selector
from apiserver.admission.base import (
    Obj,
    StatusResetAdmission,
    as_int,
    as_list,
    as_map,
    as_str,
    semantic_equal,
    spec_of,
)
from apiserver.admission.pod import validate_pod_spec

NON_INDEXED = "NonIndexed"
INDEXED = "Indexed"
COMPLETION_MODES = [INDEXED, NON_INDEXED]  # sets.List: sorted
REPLACEMENT_POLICIES = ["Failed", "TerminatingOrFailed"]
DEFAULT_BACKOFF_LIMIT = 6
MAX_INT32 = 2147483647
MAX_PARALLELISM_FOR_INDEXED = 100000
_MUTABLE_WHILE_SUSPENDED = ("nodeSelector", "tolerations", "affinity", "schedulingGates")


# ---------------------------------------------------------------------------
# Defaults (SetDefaults_Job and the template's PodSpec defaults)
# ---------------------------------------------------------------------------


def default_job_spec(spec: dict[str, Any]) -> None:
    """The JobSpec part of SetDefaults_Job, as the JobSpec of a Job (not of a CronJob's jobTemplate)."""
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else DEFAULT_BACKOFF_LIMIT
    if spec.get("completionMode") is None:
        spec["completionMode"] = NON_INDEXED
    if spec.get("suspend") is None:
        spec["suspend"] = False
    policy = spec.get("podFailurePolicy")
    for rule in as_list(as_map(policy).get("rules")):
        for pattern in as_list(as_map(rule).get("onPodConditions")):
            if isinstance(pattern, dict) and not pattern.get("status"):
                pattern["status"] = "True"
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if isinstance(policy, dict) else "TerminatingOrFailed"
    if spec.get("manualSelector") is None:
        spec["manualSelector"] = False


def default_template_pod_spec(spec: dict[str, Any]) -> None:
    """The template's PodSpec defaults (the generated defaulters of a PodTemplateSpec)."""
    template = spec.get("template")
    if not isinstance(template, dict):
        template = {}
        spec["template"] = template
    pod_spec = template.get("spec")
    if not isinstance(pod_spec, dict):
        pod_spec = {}
        template["spec"] = pod_spec
    default_pod_spec(pod_spec)


def generate_selector(job: Obj) -> None:
    """generateSelector: the job-name and controller-uid labels on the template, the uid in the selector.

    Labels the user already set are left alone (validation then refuses a wrong value).
    """
    meta = as_map(job.get("metadata"))
    spec = spec_of(job)
    template = spec.setdefault("template", {})
    tmeta = template.get("metadata")
    if not isinstance(tmeta, dict):
        tmeta = {}
        template["metadata"] = tmeta
    labels = tmeta.get("labels")
    if not isinstance(labels, dict):
        labels = {}
        tmeta["labels"] = labels
    name, uid = as_str(meta.get("name")), as_str(meta.get("uid"))
    for key in (LABEL_LEGACY_JOB_NAME, LABEL_JOB_NAME):
        labels.setdefault(key, name)
    for key in (LABEL_LEGACY_CONTROLLER_UID, LABEL_CONTROLLER_UID):
        labels.setdefault(key, uid)
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        selector = {}
        spec["selector"] = selector
    match = selector.get("matchLabels")
    if not isinstance(match, dict):
        match = {}
        selector["matchLabels"] = match
    match.setdefault(LABEL_CONTROLLER_UID, uid)


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------


def _has_label(labels: dict[str, Any], path: str, key: str, expected: str) -> list[FieldError]:
    """ValidateHasLabel."""
    if key not in labels:
        return [required(f"{path}.labels[{key}]", expected)]
    if labels[key] != expected:
        return [invalid(f"{path}.labels[{key}]", {str(k): str(v) for k, v in labels.items()},
                        f"must be '{expected}'")]
    return []


def validate_generated_selector(job: Obj) -> list[FieldError]:
    """ValidateGeneratedSelector (with the batch.kubernetes.io/ labels required, as for every new Job)."""
    spec = as_map(job.get("spec"))
    if spec.get("manualSelector") is True:
        return []
    tmeta = as_map(as_map(spec.get("template")).get("metadata"))
    labels = tmeta.get("labels")
    if not isinstance(labels, dict):
        return []
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        return []
    meta = as_map(job.get("metadata"))
    uid, name = as_str(meta.get("uid")), as_str(meta.get("name"))
    errs: list[FieldError] = []
    if not uid:
        errs.append(required("metadata.uid"))
    tpath = "spec.template.metadata"
    errs += _has_label(labels, tpath, LABEL_LEGACY_CONTROLLER_UID, uid)
    errs += _has_label(labels, tpath, LABEL_LEGACY_JOB_NAME, name)
    errs += _has_label(labels, tpath, LABEL_CONTROLLER_UID, uid)
    errs += _has_label(labels, tpath, LABEL_JOB_NAME, name)
    try:
        parsed = from_label_selector_object(selector)
    except Exception:
        return errs
    if not parsed.matches({LABEL_CONTROLLER_UID: uid}):
        errs.append(invalid("spec.selector", go_label_selector(selector), "`selector` not auto-generated"))
    return errs


def validate_pod_template(template: Any, path: str) -> list[FieldError]:
    """ValidatePodTemplateSpec: the template's labels and annotations, its PodSpec, no ephemeral containers."""
    template = as_map(template)
    meta = as_map(template.get("metadata"))
    errs = validate_labels(meta.get("labels"), f"{path}.labels")
    errs += validate_annotations(meta.get("annotations"), f"{path}.annotations")
    pod_spec = as_map(template.get("spec"))
    errs += validate_pod_spec(pod_spec, f"{path}.spec")
    if as_list(pod_spec.get("ephemeralContainers")):
        errs.append(forbidden(f"{path}.spec.ephemeralContainers", "ephemeral containers not allowed in pod template"))
    return errs


def validate_job_spec_fields(spec: dict[str, Any], path: str) -> list[FieldError]:
    """validateJobSpec: counts, completion mode, replacement policy, the template and its restartPolicy."""
    errs: list[FieldError] = []
    for key in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished",
                "backoffLimitPerIndex", "maxFailedIndexes"):
        errs += validate_nonnegative(spec.get(key), f"{path}.{key}")
    mode = spec.get("completionMode")
    if mode is not None:
        if mode not in (NON_INDEXED, INDEXED):
            errs.append(not_supported(f"{path}.completionMode", mode, COMPLETION_MODES))
        if mode == INDEXED:
            if spec.get("completions") is None:
                errs.append(required(f"{path}.completions", f"when completion mode is {INDEXED}"))
            parallelism = as_int(spec.get("parallelism"))
            if parallelism is not None and parallelism > MAX_PARALLELISM_FOR_INDEXED:
                errs.append(invalid(f"{path}.parallelism", parallelism,
                                    f"must be less than or equal to {MAX_PARALLELISM_FOR_INDEXED} when completion "
                                    f"mode is {INDEXED}"))
        elif mode == NON_INDEXED:
            if spec.get("backoffLimitPerIndex") is not None:
                errs.append(forbidden(f"{path}.backoffLimitPerIndex", "requires indexed completion mode"))
            if spec.get("maxFailedIndexes") is not None:
                errs.append(forbidden(f"{path}.maxFailedIndexes", "requires indexed completion mode"))
    replacement = spec.get("podReplacementPolicy")
    if replacement is not None:
        if isinstance(spec.get("podFailurePolicy"), dict):
            if replacement != "Failed":
                errs.append(not_supported(f"{path}.podReplacementPolicy", replacement, ["Failed"]))
        elif replacement not in REPLACEMENT_POLICIES:
            errs.append(not_supported(f"{path}.podReplacementPolicy", replacement, REPLACEMENT_POLICIES))
    template = spec.get("template")
    errs += validate_pod_template(template, f"{path}.template")
    restart = as_str(as_map(as_map(template).get("spec")).get("restartPolicy"))
    rpath = f"{path}.template.spec.restartPolicy"
    if restart in ("Always", ""):
        errs.append(required(rpath, 'valid values: "OnFailure", "Never"'))
    elif restart not in ("OnFailure", "Never"):
        errs.append(not_supported(rpath, restart, ["OnFailure", "Never"]))
    elif isinstance(spec.get("podFailurePolicy"), dict) and restart != "Never":
        errs.append(invalid(rpath, restart, 'only "Never" is supported when podFailurePolicy is specified'))
    return errs


def validate_job_spec(spec: dict[str, Any], path: str = "spec") -> list[FieldError]:
    """ValidateJobSpec: validateJobSpec plus the selector, which must select the template's labels."""
    errs = validate_job_spec_fields(spec, path)
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        errs.append(required(f"{path}.selector"))
    else:
        errs += validate_label_selector(selector, f"{path}.selector")
    try:
        parsed = from_label_selector_object(selector if isinstance(selector, dict) else None)
    except Exception:
        return errs
    labels = as_map(as_map(as_map(spec.get("template")).get("metadata")).get("labels"))
    if not parsed.matches({str(k): str(v) for k, v in labels.items()}):
        errs.append(invalid(f"{path}.template.metadata.labels", {str(k): str(v) for k, v in labels.items()},
                            "`selector` does not match template `labels`"))
    return errs


def validate_job(job: Obj) -> list[FieldError]:
    """ValidateJob past ObjectMeta: the Indexed hostname check, the generated selector, the spec."""
    spec = as_map(job.get("spec"))
    errs: list[FieldError] = []
    completions = as_int(spec.get("completions"))
    if spec.get("completionMode") == INDEXED and completions is not None and completions > 0:
        name = as_str(as_map(job.get("metadata")).get("name"))
        hostname = f"{name}-{completions - 1}"
        if is_dns1123_label(hostname):
            errs.append(invalid("metadata.name", name, f"will not able to create pod with invalid DNS label: {hostname}"))
    errs += validate_generated_selector(job)
    return errs + validate_job_spec(spec)


def _template_update_errors(spec: dict[str, Any], old_spec: dict[str, Any], *, mutable_scheduling: bool) -> list[FieldError]:
    """validatePodTemplateUpdate: the template is immutable (scheduling directives excepted while suspended)."""
    new_t = as_map(spec.get("template"))
    old_t = as_map(old_spec.get("template"))
    if mutable_scheduling:
        old_t = {**old_t, "metadata": {**as_map(old_t.get("metadata")),
                                       "labels": as_map(new_t.get("metadata")).get("labels"),
                                       "annotations": as_map(new_t.get("metadata")).get("annotations")}}
        old_pod = dict(as_map(old_t.get("spec")))
        for key in _MUTABLE_WHILE_SUSPENDED:
            old_pod[key] = as_map(new_t.get("spec")).get(key)
        old_t["spec"] = old_pod
    if semantic_equal(new_t, old_t):
        return []
    return [invalid("spec.template", GoValue("core.PodTemplateSpec{...}"), FIELD_IMMUTABLE)]


def validate_job_spec_update(job: Obj, old: Obj) -> list[FieldError]:
    """ValidateJobSpecUpdate: what may not change once a Job exists."""
    spec, old_spec = as_map(job.get("spec")), as_map(old.get("spec"))
    errs: list[FieldError] = []
    if spec.get("completionMode") == INDEXED and not semantic_equal(spec.get("completions"), old_spec.get("completions")):
        completions = spec.get("completions")
        if completions is not None and completions != spec.get("parallelism"):
            errs.append(invalid("spec.completions", completions, "can only be modified in tandem with spec.parallelism"))
    else:
        errs += validate_immutable(spec.get("completions"), old_spec.get("completions"), "spec.completions")
    if not semantic_equal(spec.get("selector"), old_spec.get("selector")):
        errs.append(invalid("spec.selector", go_label_selector(spec.get("selector")), FIELD_IMMUTABLE))
    never_started = as_map(old.get("status")).get("startTime") is None
    errs += _template_update_errors(spec, old_spec, mutable_scheduling=bool(spec.get("suspend")) and never_started)
    for key in ("completionMode", "backoffLimitPerIndex", "managedBy"):
        errs += validate_immutable(spec.get(key), old_spec.get(key), f"spec.{key}")
    for key in ("podFailurePolicy", "successPolicy"):
        if not semantic_equal(spec.get(key), old_spec.get(key)):
            errs.append(invalid(f"spec.{key}", GoValue(f"&batch.{key[0].upper()}{key[1:]}{{...}}"), FIELD_IMMUTABLE))
    return errs


def validate_job_status(status: dict[str, Any], path: str = "status") -> list[FieldError]:
    """ValidateJobStatus: the counters are never negative."""
    errs: list[FieldError] = []
    for key in ("active", "succeeded", "failed", "ready", "terminating"):
        errs += validate_nonnegative(status.get(key), f"{path}.{key}")
    return errs


class JobAdmission(StatusResetAdmission):
    """jobStrategy: defaults, the generated selector, status reset, ValidateJob/ValidateJobUpdate."""

    def __init__(self) -> None:
        super().__init__(BY_KEY["jobs.batch"])

    def default(self, obj: Obj) -> None:
        spec = spec_of(obj)
        default_job_spec(spec)
        default_template_pod_spec(spec)
        template_labels = as_map(as_map(spec.get("template")).get("metadata")).get("labels")
        meta = obj.setdefault("metadata", {})
        if isinstance(template_labels, dict) and template_labels and not as_map(meta.get("labels")):
            meta["labels"] = dict(template_labels)

    def prepare_create(self, obj: Obj) -> None:
        super().prepare_create(obj)
        if spec_of(obj).get("manualSelector") is not True:
            generate_selector(obj)

    def validate_create(self, obj: Obj) -> list[FieldError]:
        return validate_job(obj)

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_job(obj) + validate_job_spec_update(obj, old)

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_job_status(as_map(obj.get("status")))


__all__ = [
    "JobAdmission",
    "default_job_spec",
    "default_template_pod_spec",
    "generate_selector",
    "validate_job",
    "validate_job_spec_fields",
    "validate_pod_template",
]
