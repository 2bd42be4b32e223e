"""apps/v1 Deployment and ReplicaSet admission: v1 defaults and kube-apiserver's validation.

Why: kubectl (create deployment, scale, set image, rollout undo) and the
controllers read back what kube-apiserver would store, and users compare
rejections with a real cluster's. Sources: pkg/apis/apps/v1/defaults.go
(SetDefaults_Deployment/ReplicaSet, the generated PodTemplateSpec
defaulters), pkg/apis/apps/validation (ValidateDeploymentSpec,
ValidateReplicaSetSpec, ValidatePodTemplateSpecForReplicaSet, the status
checks) and pkg/registry/apps/*/strategy.go (status reset, immutable
selector). The template's PodSpec is checked with the Pod rules.

Invariant: a stored object's selector matches its template's labels and
never changes, so controllers may key everything on it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from apimachinery.errors import FieldError, forbidden, invalid, not_supported, required
from apimachinery.resources import BY_KEY
from apimachinery.selectors import LabelSelector, from_label_selector_object
from apimachinery.validation import (
    FIELD_IMMUTABLE,
    GoValue,
    is_valid_label_value,
    regex_error,
    validate_annotations,
    validate_label_name,
    validate_labels,
    validate_nonnegative,
)
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
from apiserver.admission.pod import (
    default_pod_spec,
    validate_pod_spec,
)

DEFAULT_MAX_SURGE = "25%"
DEFAULT_MAX_UNAVAILABLE = "25%"
DEFAULT_REVISION_HISTORY_LIMIT = 10
DEFAULT_PROGRESS_DEADLINE_SECONDS = 600
MAX_INT32 = 2147483647

RECREATE = "Recreate"
ROLLING_UPDATE = "RollingUpdate"
STRATEGY_TYPES = [RECREATE, ROLLING_UPDATE]

_PERCENT_FMT = "[0-9]+%"
_PERCENT_MSG = "a valid percent string must be a numeric string followed by an ending '%'"
_PERCENT_RE = re.compile(_PERCENT_FMT)


# ---------------------------------------------------------------------------
# Defaults
# ---------------------------------------------------------------------------


def default_template(spec: dict[str, Any]) -> None:
    """The template's PodSpec defaults; the template is created when absent (a Go struct is never nil)."""
    template = spec.get("template")
    if not isinstance(template, dict):
        template = {}
        spec["template"] = template
    pod_spec = template.get("spec")
    if not isinstance(pod_spec, dict):
        pod_spec = {}
        template["spec"] = pod_spec
    default_pod_spec(pod_spec)


def default_replicas(spec: dict[str, Any]) -> None:
    if spec.get("replicas") is None:
        spec["replicas"] = 1


def default_rolling_update(spec: dict[str, Any], field: str, **values: Any) -> None:
    """``spec[field]`` (a strategy) defaults to RollingUpdate, and its rollingUpdate's missing ``values``
    are set, in the order given (the order Go's struct writes them)."""
    strategy = spec.get(field)
    if not isinstance(strategy, dict):
        strategy = {}
        spec[field] = strategy
    if not strategy.get("type"):
        strategy["type"] = ROLLING_UPDATE
    if strategy["type"] == ROLLING_UPDATE:
        rolling = strategy.get("rollingUpdate")
        if not isinstance(rolling, dict):
            rolling = {}
            strategy["rollingUpdate"] = rolling
        for key, value in values.items():
            if rolling.get(key) is None:
                rolling[key] = value


def default_strategy(spec: dict[str, Any]) -> None:
    """SetDefaults_Deployment: RollingUpdate with 25% surge and 25% unavailable."""
    default_rolling_update(spec, "strategy", maxUnavailable=DEFAULT_MAX_UNAVAILABLE, maxSurge=DEFAULT_MAX_SURGE)


# ---------------------------------------------------------------------------
# Go renderings used in messages
# ---------------------------------------------------------------------------


def _go_string_map(value: Any) -> str:
    """%#v of a map[string]string: keys sorted, ``(nil)`` when absent."""
    if not isinstance(value, dict):
        return "map[string]string(nil)"
    return "map[string]string{" + ", ".join(f"{json.dumps(k)}:{json.dumps(str(value[k]))}"
                                            for k in sorted(value)) + "}"


#: The same rendering for the other apps kinds' template-labels messages.
go_string_map = _go_string_map


def go_label_selector(selector: Any) -> GoValue:
    """%#v of a metav1.LabelSelector (what ``field is immutable`` prints for spec.selector)."""
    sel = as_map(selector)
    exprs = sel.get("matchExpressions")
    if isinstance(exprs, list):
        items = []
        for e in exprs:
            e = as_map(e)
            values = e.get("values")
            rendered = ("[]string{" + ", ".join(json.dumps(str(v)) for v in values) + "}"
                        if isinstance(values, list) else "[]string(nil)")
            items.append(f'v1.LabelSelectorRequirement{{Key:{json.dumps(as_str(e.get("key")))}, '
                         f'Operator:{json.dumps(as_str(e.get("operator")))}, Values:{rendered}}}')
        expr_text = "[]v1.LabelSelectorRequirement{" + ", ".join(items) + "}"
    else:
        expr_text = "[]v1.LabelSelectorRequirement(nil)"
    labels = sel.get("matchLabels")
    return GoValue(f"v1.LabelSelector{{MatchLabels:{_go_string_map(labels)}, MatchExpressions:{expr_text}}}")


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------


def validate_label_selector(selector: dict[str, Any], path: str) -> list[FieldError]:
    """metav1 ValidateLabelSelector (AllowInvalidLabelValueInSelector: false)."""
    errs = validate_labels(selector.get("matchLabels"), f"{path}.matchLabels")
    for i, expr in enumerate(as_list(selector.get("matchExpressions"))):
        expr = as_map(expr)
        p = f"{path}.matchExpressions[{i}]"
        op = as_str(expr.get("operator"))
        values = as_list(expr.get("values"))
        if op in ("In", "NotIn"):
            if not values:
                errs.append(required(f"{p}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                errs.append(forbidden(f"{p}.values", "may not be specified when `operator` is 'Exists' or "
                                      "'DoesNotExist'"))
        else:
            errs.append(invalid(f"{p}.operator", op, "not a valid selector operator"))
        errs += validate_label_name(as_str(expr.get("key")), f"{p}.key")
        for j, v in enumerate(values):
            text = v if isinstance(v, str) else str(v)
            errs += [invalid(f"{p}.values[{j}]", text, m) for m in is_valid_label_value(text)]
    return errs


def _selector_errors(spec: dict[str, Any], path: str) -> tuple[list[FieldError], LabelSelector | None]:
    """The selector checks of ValidateDeploymentSpec/ValidateReplicaSetSpec, and the parsed selector.

    A missing selector parses as "nothing" (metav1.LabelSelectorAsSelector(nil)),
    so it also fails the template-labels check, as in kube-apiserver.
    """
    selector = spec.get("selector")
    errs: list[FieldError] = []
    if not isinstance(selector, dict):
        errs.append(required(f"{path}.selector"))
    else:
        errs += validate_label_selector(selector, f"{path}.selector")
        if not as_map(selector.get("matchLabels")) and not as_list(selector.get("matchExpressions")):
            # sic: kube-apiserver says "deployment" for ReplicaSets too
            errs.append(invalid(f"{path}.selector", go_label_selector(selector),
                                "empty selector is invalid for deployment"))
    try:
        parsed = from_label_selector_object(selector if isinstance(selector, dict) else None)
    except Exception:
        errs.append(invalid(f"{path}.selector", go_label_selector(selector), "invalid label selector"))
        return errs, None
    return errs, parsed


def validate_template_for_replica_set(spec: dict[str, Any], path: str, *,
                                      selector: LabelSelector | None) -> list[FieldError]:
    """ValidatePodTemplateSpecForReplicaSet: labels match the selector, Pod rules, restartPolicy Always."""
    template = spec.get("template")
    tpath = f"{path}.template"
    if not isinstance(template, dict):
        return [required(tpath)]
    errs: list[FieldError] = []
    meta = as_map(template.get("metadata"))
    labels = as_map(meta.get("labels"))
    if selector is not None and not selector.empty and not selector.matches(
            {str(k): str(v) for k, v in labels.items()}):
        errs.append(invalid(f"{tpath}.metadata.labels", GoValue(_go_string_map(meta.get("labels"))),
                            "`selector` does not match template `labels`"))
    errs += validate_labels(meta.get("labels"), f"{tpath}.labels")
    errs += validate_annotations(meta.get("annotations"), f"{tpath}.annotations")
    pod_spec = as_map(template.get("spec"))
    errs += validate_pod_spec(pod_spec, f"{tpath}.spec")
    if as_list(pod_spec.get("ephemeralContainers")):
        errs.append(forbidden(f"{tpath}.spec.ephemeralContainers", "ephemeral containers not allowed in pod template"))
    restart = as_str(pod_spec.get("restartPolicy"))
    if restart != "Always":
        errs.append(not_supported(f"{tpath}.spec.restartPolicy", restart, ["Always"]))
    if pod_spec.get("activeDeadlineSeconds") is not None:
        errs.append(invalid(f"{tpath}.spec.activeDeadlineSeconds", pod_spec.get("activeDeadlineSeconds"),
                            "activeDeadlineSeconds in ReplicaSet is not Supported"))
    return errs


def int_or_percent(value: Any) -> tuple[int, bool] | None:
    """(value, is_percent) of an IntOrString; None when a string is not ``N%``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value, False
    if isinstance(value, str) and _PERCENT_RE.fullmatch(value):
        return int(value[:-1]), True
    return None


def _positive_int_or_percent(value: Any, path: str) -> list[FieldError]:
    """ValidatePositiveIntOrPercent."""
    if isinstance(value, str):
        if not _PERCENT_RE.fullmatch(value):
            return [invalid(path, value, regex_error(_PERCENT_MSG, _PERCENT_FMT, "1%", "93%"))]
        return []
    return validate_nonnegative(value, path)


def validate_strategy(strategy: Any, path: str) -> list[FieldError]:
    """ValidateDeploymentStrategy and ValidateRollingUpdateDeployment."""
    strategy = as_map(strategy)
    kind = as_str(strategy.get("type"))
    rolling = strategy.get("rollingUpdate")
    if kind == RECREATE:
        if rolling is not None:
            return [forbidden(f"{path}.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'")]
        return []
    if kind != ROLLING_UPDATE:
        return [not_supported(path, GoValue(_go_strategy(strategy)), STRATEGY_TYPES)]
    if not isinstance(rolling, dict):
        return [required(f"{path}.rollingUpdate", "this should be defaulted and never be nil")]
    rpath = f"{path}.rollingUpdate"
    unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
    errs = _positive_int_or_percent(unavailable, f"{rpath}.maxUnavailable")
    errs += _positive_int_or_percent(surge, f"{rpath}.maxSurge")
    u, s = int_or_percent(unavailable), int_or_percent(surge)
    if (u is None or u[0] == 0) and (s is None or s[0] == 0):
        errs.append(invalid(f"{rpath}.maxUnavailable", 0 if unavailable is None else unavailable,
                            "may not be 0 when `maxSurge` is 0"))
    if u is not None and u[1] and u[0] > 100:
        errs.append(invalid(f"{rpath}.maxUnavailable", unavailable, "must not be greater than 100%"))
    return errs


def _go_strategy(strategy: dict[str, Any]) -> str:
    return f"apps.DeploymentStrategy{{Type:{json.dumps(as_str(strategy.get('type')))}, RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}}"


def _nonnegative_fields(obj: dict[str, Any], keys: tuple[str, ...], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for key in keys:
        errs += validate_nonnegative(obj.get(key), f"{path}.{key}")
    return errs


def validate_replica_set_spec(spec: dict[str, Any], path: str = "spec") -> list[FieldError]:
    errs = _nonnegative_fields(spec, ("replicas", "minReadySeconds"), path)
    sel_errs, selector = _selector_errors(spec, path)
    errs += sel_errs
    errs += validate_template_for_replica_set(spec, path, selector=selector)
    return errs


def validate_deployment_spec(spec: dict[str, Any], path: str = "spec") -> list[FieldError]:
    errs = validate_nonnegative(spec.get("replicas"), f"{path}.replicas")
    sel_errs, selector = _selector_errors(spec, path)
    errs += sel_errs
    errs += validate_template_for_replica_set(spec, path, selector=selector)
    errs += validate_strategy(spec.get("strategy"), f"{path}.strategy")
    errs += _nonnegative_fields(spec, ("minReadySeconds", "revisionHistoryLimit"), path)
    deadline = spec.get("progressDeadlineSeconds")
    if deadline is not None:
        errs += validate_nonnegative(deadline, f"{path}.progressDeadlineSeconds")
        min_ready = as_int(spec.get("minReadySeconds")) or 0
        if isinstance(deadline, int) and deadline <= min_ready:
            errs.append(invalid(f"{path}.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"))
    return errs


def validate_deployment_status(status: dict[str, Any], path: str = "status") -> list[FieldError]:
    errs = _nonnegative_fields(status, ("observedGeneration", "replicas", "updatedReplicas", "readyReplicas",
                                        "availableReplicas", "unavailableReplicas", "terminatingReplicas",
                                        "collisionCount"), path)
    replicas = as_int(status.get("replicas")) or 0
    ready = as_int(status.get("readyReplicas")) or 0
    msg = "cannot be greater than status.replicas"
    for key in ("updatedReplicas", "readyReplicas", "availableReplicas"):
        value = as_int(status.get(key)) or 0
        if value > replicas:
            errs.append(invalid(f"{path}.{key}", value, msg))
    available = as_int(status.get("availableReplicas")) or 0
    if available > ready:
        errs.append(invalid(f"{path}.availableReplicas", available, "cannot be greater than readyReplicas"))
    return errs


def validate_replica_set_status(status: dict[str, Any], path: str = "status") -> list[FieldError]:
    errs = _nonnegative_fields(status, ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas",
                                        "terminatingReplicas", "observedGeneration"), path)
    replicas = as_int(status.get("replicas")) or 0
    msg = "cannot be greater than the number of replicas"
    for key in ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"):
        value = as_int(status.get(key)) or 0
        if value > replicas:
            errs.append(invalid(f"{path}.{key}", value, msg))
    available, ready = as_int(status.get("availableReplicas")) or 0, as_int(status.get("readyReplicas")) or 0
    if available > ready:
        errs.append(invalid(f"{path}.availableReplicas", available, "cannot be greater than readyReplicas"))
    return errs


def _immutable_selector(obj: Obj, old: Obj) -> list[FieldError]:
    """The apps/v1 strategies' ValidateUpdate: spec.selector never changes."""
    new_sel, old_sel = as_map(obj.get("spec")).get("selector"), as_map(old.get("spec")).get("selector")
    if semantic_equal(new_sel, old_sel):
        return []
    return [invalid("spec.selector", go_label_selector(new_sel), FIELD_IMMUTABLE)]


# ---------------------------------------------------------------------------
# Admissions
# ---------------------------------------------------------------------------


class DeploymentAdmission(StatusResetAdmission):
    """deploymentStrategy: defaults, status reset on create, immutable selector."""

    def __init__(self) -> None:
        super().__init__(BY_KEY["deployments.apps"])

    def default(self, obj: Obj) -> None:
        spec = spec_of(obj)
        default_replicas(spec)
        default_template(spec)
        default_strategy(spec)
        if spec.get("revisionHistoryLimit") is None:
            spec["revisionHistoryLimit"] = DEFAULT_REVISION_HISTORY_LIMIT
        if spec.get("progressDeadlineSeconds") is None:
            spec["progressDeadlineSeconds"] = DEFAULT_PROGRESS_DEADLINE_SECONDS

    def validate_create(self, obj: Obj) -> list[FieldError]:
        return validate_deployment_spec(as_map(obj.get("spec")))

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_deployment_spec(as_map(obj.get("spec"))) + _immutable_selector(obj, old)

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_deployment_status(as_map(obj.get("status")))


class ReplicaSetAdmission(StatusResetAdmission):
    """rsStrategy: defaults, status reset on create, immutable selector."""

    def __init__(self) -> None:
        super().__init__(BY_KEY["replicasets.apps"])

    def default(self, obj: Obj) -> None:
        spec = spec_of(obj)
        default_replicas(spec)
        default_template(spec)

    def validate_create(self, obj: Obj) -> list[FieldError]:
        return validate_replica_set_spec(as_map(obj.get("spec")))

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_replica_set_spec(as_map(obj.get("spec"))) + _immutable_selector(obj, old)

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_replica_set_status(as_map(obj.get("status")))


__all__ = [
    "MAX_INT32",
    "DeploymentAdmission",
    "ReplicaSetAdmission",
    "default_pod_spec",
    "go_label_selector",
    "go_string_map",
    "int_or_percent",
    "validate_deployment_spec",
    "validate_label_selector",
    "validate_replica_set_spec",
    "validate_strategy",
]
