"""DaemonSet admission: apps/v1 defaults (SetDefaults_DaemonSet), ValidateDaemonSet and its update and status rules.

Why: kubectl and the daemonset controller read back what kube-apiserver
would store (RollingUpdate with maxUnavailable 1 and maxSurge 0, 10
revisions, the template-generation annotation), and users compare
rejections with a real cluster's.

Invariant: a stored DaemonSet's selector matches its template's labels and
never changes.
"""

from __future__ import annotations

from typing import Any

from apimachinery.errors import FieldError, forbidden, invalid, not_supported, required
from apimachinery.resources import BY_KEY
from apimachinery.selectors import from_label_selector_object
from apimachinery.validation import GoValue, validate_annotations, validate_labels, validate_nonnegative
from apiserver.admission.apps import (
    DEFAULT_REVISION_HISTORY_LIMIT,
    default_rolling_update,
    default_template,
    go_label_selector,
    go_string_map,
    int_or_percent,
    validate_label_selector,
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
from apiserver.admission.pod import validate_pod_spec

ROLLING_UPDATE = "RollingUpdate"
ON_DELETE = "OnDelete"
#: The v1 spelling of the internal spec.templateGeneration (bumped on every template change).
TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"


def default_daemon_set(spec: dict[str, Any]) -> None:
    """SetDefaults_DaemonSet and the template's PodSpec defaults."""
    default_template(spec)
    default_rolling_update(spec, "updateStrategy", maxUnavailable=1, maxSurge=0)
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = DEFAULT_REVISION_HISTORY_LIMIT


def _percent_errors(value: Any, path: str) -> list[FieldError]:
    """ValidatePositiveIntOrPercent and IsNotMoreThan100Percent."""
    parsed = int_or_percent(value)
    if isinstance(value, str) and parsed is None:
        return [invalid(path, value, "a valid percent string must be a numeric string followed by an ending '%' "
                        "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")]
    errs = validate_nonnegative(value, path) if isinstance(value, int) else []
    if parsed is not None and parsed[1] and parsed[0] > 100:
        errs.append(invalid(path, value, "must not be greater than 100%"))
    return errs


def _validate_update_strategy(strategy: Any, path: str) -> list[FieldError]:
    """ValidateDaemonSetUpdateStrategy and ValidateRollingUpdateDaemonSet."""
    strategy = as_map(strategy)
    kind = as_str(strategy.get("type"))
    if kind == ON_DELETE:
        return []
    if kind != ROLLING_UPDATE:
        return [not_supported(path, strategy, [ROLLING_UPDATE, ON_DELETE])]
    rolling = strategy.get("rollingUpdate")
    if not isinstance(rolling, dict):
        return [required(f"{path}.rollingUpdate")]
    rpath = f"{path}.rollingUpdate"
    errs: list[FieldError] = []
    unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
    u, s = int_or_percent(unavailable), int_or_percent(surge)
    has_unavailable = unavailable is not None and (u is None or u[0] != 0)
    has_surge = surge is not None and (s is None or s[0] != 0)
    if has_unavailable:
        errs += _percent_errors(unavailable, f"{rpath}.maxUnavailable")
    if has_surge:
        errs += _percent_errors(surge, f"{rpath}.maxSurge")
    if has_unavailable and has_surge:
        errs.append(invalid(f"{rpath}.maxSurge", surge, "may not be set when maxUnavailable is non-zero"))
    elif not has_unavailable and not has_surge:
        errs.append(invalid(f"{rpath}.maxUnavailable", 0 if unavailable is None else unavailable,
                            "cannot be 0 when maxSurge is 0"))
    return errs


def validate_daemon_set_spec(spec: dict[str, Any], path: str = "spec") -> list[FieldError]:
    """ValidateDaemonSetSpec, in kube-apiserver's order."""
    selector = spec.get("selector")
    errs: list[FieldError] = []
    if isinstance(selector, dict):
        errs += validate_label_selector(selector, f"{path}.selector")
    template = as_map(spec.get("template"))
    meta = as_map(template.get("metadata"))
    labels = {str(k): str(v) for k, v in as_map(meta.get("labels")).items()}
    try:
        parsed = from_label_selector_object(selector if isinstance(selector, dict) else None)
    except Exception:
        parsed = None
    if parsed is not None and not parsed.matches(labels):
        errs.append(invalid(f"{path}.template.metadata.labels", GoValue(go_string_map(meta.get("labels"))),
                            "`selector` does not match template `labels`"))
    if isinstance(selector, dict) and not as_map(selector.get("matchLabels")) and not as_list(
            selector.get("matchExpressions")):
        errs.append(invalid(f"{path}.selector", go_label_selector(selector), "empty selector is invalid for daemonset"))
    tpath = f"{path}.template"
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
                            "activeDeadlineSeconds must be nil for daemonset"))
    errs += validate_nonnegative(spec.get("minReadySeconds"), f"{path}.minReadySeconds")
    errs += _validate_update_strategy(spec.get("updateStrategy"), f"{path}.updateStrategy")
    errs += validate_nonnegative(spec.get("revisionHistoryLimit"), f"{path}.revisionHistoryLimit")
    return errs


def validate_daemon_set_status(status: dict[str, Any], old_status: dict[str, Any]) -> list[FieldError]:
    """ValidateDaemonSetStatusUpdate: every count non-negative, collisionCount never decremented."""
    errs: list[FieldError] = []
    for key in ("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady",
                "observedGeneration", "updatedNumberScheduled", "numberAvailable", "numberUnavailable",
                "collisionCount"):
        errs += validate_nonnegative(status.get(key), f"status.{key}")
    new_count, old_count = as_int(status.get("collisionCount")), as_int(old_status.get("collisionCount"))
    if old_count is not None and (new_count is None or new_count < old_count):
        errs.append(invalid("status.collisionCount", new_count or 0, "cannot be decremented"))
    return errs


def _template_generation(obj: Obj) -> int:
    return as_int(as_map(as_map(obj.get("metadata")).get("annotations")).get(TEMPLATE_GENERATION)) or 0


def _set_template_generation(obj: Obj, value: int) -> None:
    meta = obj.setdefault("metadata", {})
    annotations = meta.get("annotations")
    if not isinstance(annotations, dict):
        annotations = {}
        meta["annotations"] = annotations
    annotations[TEMPLATE_GENERATION] = str(value)


class DaemonSetAdmission(StatusResetAdmission):
    """daemonSetStrategy: defaults, status reset, templateGeneration, immutable selector."""

    def __init__(self) -> None:
        super().__init__(BY_KEY["daemonsets.apps"])

    def default(self, obj: Obj) -> None:
        default_daemon_set(spec_of(obj))

    def initial_status(self, obj: Obj) -> dict[str, Any]:
        # DaemonSetStatus{}: the four counts are not omitempty
        return {"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0, "numberReady": 0}

    def prepare_create(self, obj: Obj) -> None:
        super().prepare_create(obj)
        _set_template_generation(obj, 1)

    def prepare_update(self, obj: Obj, old: Obj) -> None:
        super().prepare_update(obj, old)
        generation = _template_generation(old) or 1
        if not semantic_equal(as_map(obj.get("spec")).get("template"), as_map(old.get("spec")).get("template")):
            generation += 1
        _set_template_generation(obj, generation)

    def validate_create(self, obj: Obj) -> list[FieldError]:
        return validate_daemon_set_spec(as_map(obj.get("spec")))

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        errs = validate_daemon_set_spec(as_map(obj.get("spec")))
        new_sel, old_sel = as_map(obj.get("spec")).get("selector"), as_map(old.get("spec")).get("selector")
        if not semantic_equal(new_sel, old_sel):
            errs.append(invalid("spec.selector", go_label_selector(new_sel), "field is immutable"))
        return errs

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_daemon_set_status(as_map(obj.get("status")), as_map(old.get("status")))


__all__ = ["DaemonSetAdmission", "default_daemon_set", "validate_daemon_set_spec"]
