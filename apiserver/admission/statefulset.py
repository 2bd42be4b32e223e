"""StatefulSet admission: apps/v1 defaults (SetDefaults_StatefulSet), ValidateStatefulSet and its update rules.

Why: kubectl and the statefulset controller read back what kube-apiserver
would store (OrderedReady, RollingUpdate with partition 0, 10 revisions,
the Retain/Retain claim retention policy), and users compare rejections
with a real cluster's. volumeClaimTemplates are defaulted and stored like
kube's (the controller makes each Pod's claims from them; nothing binds
them: docs/architecture.md).

Invariant: a stored StatefulSet's selector matches its template's labels,
and only replicas, ordinals, template, updateStrategy,
revisionHistoryLimit, the retention policy and minReadySeconds change after
create, so the controller may key Pods and revisions on the rest.
"""

from __future__ import annotations

import copy
from typing import Any

from apimachinery.errors import FieldError, forbidden, invalid, not_supported, required
from apimachinery.resources import BY_KEY
from apimachinery.selectors import from_label_selector_object
from apimachinery.validation import GoValue, validate_annotations, validate_labels, validate_nonnegative
from apiserver.admission.apps import (
    DEFAULT_REVISION_HISTORY_LIMIT,
    default_replicas,
    default_rolling_update,
    default_template,
    go_label_selector,
    go_string_map,
    validate_label_selector,
)
from apiserver.admission.base import Obj, StatusResetAdmission, as_int, as_list, as_map, as_str, spec_of

ORDERED_READY = "OrderedReady"
PARALLEL = "Parallel"
ROLLING_UPDATE = "RollingUpdate"
ON_DELETE = "OnDelete"
RETAIN = "Retain"
DELETE = "Delete"
RETENTION_POLICIES = [RETAIN, DELETE]

_UPDATABLE = ("replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
              "persistentVolumeClaimRetentionPolicy", "minReadySeconds")
_FORBIDDEN_UPDATE = ("updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
                     "'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and "
                     "'minReadySeconds' are forbidden")


# ---------------------------------------------------------------------------
# Defaults
# ---------------------------------------------------------------------------


def _default_claim_template(claim: dict[str, Any]) -> None:
    """SetDefaults_PersistentVolumeClaim(+Spec) as the generated StatefulSet defaulter runs them per template."""
    spec = claim.get("spec")
    if not isinstance(spec, dict):
        spec = {}
        claim["spec"] = spec
    if not spec.get("volumeMode"):
        spec["volumeMode"] = "Filesystem"
    status = claim.get("status")
    if not isinstance(status, dict):
        status = {}
        claim["status"] = status
    if not status.get("phase"):
        status["phase"] = "Pending"


def default_stateful_set(spec: dict[str, Any]) -> None:
    """SetDefaults_StatefulSet and the template's PodSpec defaults."""
    default_template(spec)
    if not spec.get("podManagementPolicy"):
        spec["podManagementPolicy"] = ORDERED_READY
    default_rolling_update(spec, "updateStrategy", partition=0)
    policy = spec.get("persistentVolumeClaimRetentionPolicy")
    if not isinstance(policy, dict):
        policy = {}
        spec["persistentVolumeClaimRetentionPolicy"] = policy
    for key in ("whenDeleted", "whenScaled"):
        if not policy.get(key):
            policy[key] = RETAIN
    default_replicas(spec)
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = DEFAULT_REVISION_HISTORY_LIMIT
    for claim in as_list(spec.get("volumeClaimTemplates")):
        if isinstance(claim, dict):
            _default_claim_template(claim)


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------


def _validate_update_strategy(spec: dict[str, Any], path: str) -> list[FieldError]:
    strategy = as_map(spec.get("updateStrategy"))
    kind = as_str(strategy.get("type"))
    spath = f"{path}.updateStrategy"
    rolling = strategy.get("rollingUpdate")
    if kind == "":
        return [required(spath)]
    if kind == ON_DELETE:
        if rolling is not None:
            return [invalid(f"{spath}.rollingUpdate", rolling, f"only allowed for updateStrategy '{ROLLING_UPDATE}'")]
        return []
    if kind == ROLLING_UPDATE:
        if isinstance(rolling, dict):
            return validate_nonnegative(rolling.get("partition"), f"{spath}.rollingUpdate.partition")
        return []
    return [invalid(spath, strategy, f"must be '{ROLLING_UPDATE}' or '{ON_DELETE}'")]


def _validate_retention_policy(policy: Any, path: str) -> list[FieldError]:
    """ValidatePersistentVolumeClaimRetentionPolicy: each of whenDeleted/whenScaled is Retain or Delete."""
    if not isinstance(policy, dict):
        return []
    errs: list[FieldError] = []
    for key in ("whenDeleted", "whenScaled"):
        value = as_str(policy.get(key))
        if value not in RETENTION_POLICIES:
            errs.append(not_supported(f"{path}.{key}", value, RETENTION_POLICIES))
    return errs


def validate_stateful_set_spec(spec: dict[str, Any], path: str = "spec") -> list[FieldError]:
    """ValidateStatefulSetSpec, in kube-apiserver's order."""
    errs: list[FieldError] = []
    policy = as_str(spec.get("podManagementPolicy"))
    if policy == "":
        errs.append(required(f"{path}.podManagementPolicy"))
    elif policy not in (ORDERED_READY, PARALLEL):
        errs.append(invalid(f"{path}.podManagementPolicy", policy, f"must be '{ORDERED_READY}' or '{PARALLEL}'"))
    errs += _validate_update_strategy(spec, path)
    errs += _validate_retention_policy(spec.get("persistentVolumeClaimRetentionPolicy"),
                                       f"{path}.persistentVolumeClaimRetentionPolicy")
    errs += validate_nonnegative(spec.get("replicas"), f"{path}.replicas")
    ordinals = spec.get("ordinals")
    if isinstance(ordinals, dict):
        errs += validate_nonnegative(ordinals.get("start"), f"{path}.ordinals.start")
    errs += validate_nonnegative(spec.get("minReadySeconds"), f"{path}.minReadySeconds")
    selector = spec.get("selector")
    if not isinstance(selector, dict):
        errs.append(required(f"{path}.selector"))
    else:
        errs += validate_label_selector(selector, f"{path}.selector")
        if not as_map(selector.get("matchLabels")) and not as_list(selector.get("matchExpressions")):
            errs.append(invalid(f"{path}.selector", go_label_selector(selector),
                                "empty selector is invalid for statefulset"))
    try:
        parsed = from_label_selector_object(selector if isinstance(selector, dict) else None)
    except Exception:
        errs.append(invalid(f"{path}.selector", go_label_selector(selector)))
    else:
        template = as_map(spec.get("template"))
        meta = as_map(template.get("metadata"))
        labels = {str(k): str(v) for k, v in as_map(meta.get("labels")).items()}
        tpath = f"{path}.template"
        if not parsed.empty and not parsed.matches(labels):
            errs.append(invalid(f"{tpath}.metadata.labels", GoValue(go_string_map(meta.get("labels"))),
                                "`selector` does not match template `labels`"))
        errs += validate_labels(meta.get("labels"), f"{tpath}.labels")
        errs += validate_annotations(meta.get("annotations"), f"{tpath}.annotations")
    pod_spec = as_map(as_map(spec.get("template")).get("spec"))
    restart = as_str(pod_spec.get("restartPolicy"))
    if restart != "Always":
        errs.append(not_supported(f"{path}.template.spec.restartPolicy", restart, ["Always"]))
    if pod_spec.get("activeDeadlineSeconds") is not None:
        errs.append(forbidden(f"{path}.template.spec.activeDeadlineSeconds",
                              "activeDeadlineSeconds in StatefulSet is not Supported"))
    return errs


def validate_stateful_set_update(obj: Obj, old: Obj) -> list[FieldError]:
    """ValidateStatefulSetUpdate: only the updatable fields may change; replicas stays non-negative."""
    new_spec = copy.deepcopy(as_map(obj.get("spec")))
    old_spec = as_map(old.get("spec"))
    for key in _UPDATABLE:
        new_spec.pop(key, None)
    rest_old = {k: v for k, v in old_spec.items() if k not in _UPDATABLE}
    errs: list[FieldError] = []
    if new_spec != rest_old:
        errs.append(forbidden("spec", _FORBIDDEN_UPDATE))
    return errs + validate_nonnegative(as_map(obj.get("spec")).get("replicas"), "spec.replicas")


def validate_stateful_set_status(status: dict[str, Any], old_status: dict[str, Any]) -> list[FieldError]:
    """ValidateStatefulSetStatus and the status update's collisionCount rule."""
    errs: list[FieldError] = []
    for key in ("replicas", "readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas",
                "observedGeneration", "collisionCount"):
        errs += validate_nonnegative(status.get(key), f"status.{key}")
    replicas = as_int(status.get("replicas")) or 0
    for key in ("readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas"):
        value = as_int(status.get(key)) or 0
        if value > replicas:
            errs.append(invalid(f"status.{key}", value, "cannot be greater than status.replicas"))
    available, ready = as_int(status.get("availableReplicas")) or 0, as_int(status.get("readyReplicas")) or 0
    if available > ready:
        errs.append(invalid("status.availableReplicas", available, "cannot be greater than status.readyReplicas"))
    new_count, old_count = as_int(status.get("collisionCount")), as_int(old_status.get("collisionCount"))
    if old_count is not None and (new_count is None or new_count < old_count):
        errs.append(invalid("status.collisionCount", new_count or 0, "cannot be decremented"))
    return errs


class StatefulSetAdmission(StatusResetAdmission):
    """statefulSetStrategy: defaults, status reset on create, the update rules."""

    def __init__(self) -> None:
        super().__init__(BY_KEY["statefulsets.apps"])

    def default(self, obj: Obj) -> None:
        default_stateful_set(spec_of(obj))

    def initial_status(self, obj: Obj) -> dict[str, Any]:
        # StatefulSetStatus{}: replicas and availableReplicas are not omitempty
        return {"replicas": 0, "availableReplicas": 0}

    def validate_create(self, obj: Obj) -> list[FieldError]:
        return validate_stateful_set_spec(as_map(obj.get("spec")))

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_stateful_set_spec(as_map(obj.get("spec"))) + validate_stateful_set_update(obj, old)

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_stateful_set_status(as_map(obj.get("status")), as_map(old.get("status")))


__all__ = ["StatefulSetAdmission", "default_stateful_set", "validate_stateful_set_spec"]
