"""ReplicationController admission: SetDefaults_ReplicationController, ValidateReplicationController(Update)
and the status checks, with kube-apiserver's messages (pkg/apis/core/validation).

Unlike a ReplicaSet, the selector is a label map, defaulted from the template's labels (as the
object's own labels are), and it may change on update. The kind itself is declared in
apimachinery.kinds.replicationcontroller.
"""

from __future__ import annotations

import json
from typing import Any

from apimachinery.errors import FieldError, forbidden, invalid, not_supported, required
from apimachinery.resources import BY_KEY
from apimachinery.validation import GoValue, validate_annotations, validate_labels, validate_nonnegative
from apiserver.admission.apps import default_template, validate_replica_set_status
from apiserver.admission.base import Obj, StatusResetAdmission, as_list, as_map, as_str, spec_of
from apiserver.admission.pod import validate_pod_spec


def _go_string_map(value: Any) -> str:
    """%#v of a map[string]string: keys sorted, ``(nil)`` when absent."""
    if not isinstance(value, dict):
        return "map[string]string(nil)"
    return "map[string]string{" + ", ".join(f"{json.dumps(k)}:{json.dumps(str(value[k]))}"
                                            for k in sorted(value)) + "}"


def validate_rc_spec(spec: dict[str, Any], path: str = "spec") -> list[FieldError]:
    """ValidateReplicationControllerSpec and ValidatePodTemplateSpecForRC."""
    errs = validate_nonnegative(spec.get("minReadySeconds"), f"{path}.minReadySeconds")
    selector = {str(k): str(v) for k, v in as_map(spec.get("selector")).items()}
    if not selector:
        errs.append(required(f"{path}.selector"))
    errs += validate_nonnegative(spec.get("replicas"), f"{path}.replicas")
    template = spec.get("template")
    tpath = f"{path}.template"
    if not isinstance(template, dict):
        return [*errs, required(tpath)]
    meta = as_map(template.get("metadata"))
    labels = {str(k): str(v) for k, v in as_map(meta.get("labels")).items()}
    if selector and any(labels.get(k) != v for k, v in selector.items()):
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
        errs.append(forbidden(f"{tpath}.spec.activeDeadlineSeconds",
                              "activeDeadlineSeconds in ReplicationController is not Supported"))
    return errs


class ReplicationControllerAdmission(StatusResetAdmission):
    """rcStrategy: defaults, status reset on create; the selector may change."""

    def __init__(self) -> None:
        super().__init__(BY_KEY["replicationcontrollers"])

    def default(self, obj: Obj) -> None:
        """SetDefaults_ReplicationController: selector and labels from the template's labels, 1 replica."""
        spec = spec_of(obj)
        template = spec.get("template")
        labels = as_map(template.get("metadata")).get("labels") if isinstance(template, dict) else None
        if isinstance(labels, dict) and labels:
            if not as_map(spec.get("selector")):
                spec["selector"] = dict(labels)
            meta = obj.setdefault("metadata", {})
            if isinstance(meta, dict) and not as_map(meta.get("labels")):
                meta["labels"] = dict(labels)
        if spec.get("replicas") is None:
            spec["replicas"] = 1
        if isinstance(template, dict):
            default_template(spec)
        status = obj.get("status")
        if isinstance(status, dict):
            status.setdefault("replicas", 0)  # Replicas int32 `json:"replicas"`: always written

    def initial_status(self, obj: Obj) -> dict[str, Any]:
        """PrepareForCreate: an empty ReplicationControllerStatus, whose replicas is always written."""
        return {"replicas": 0}

    def validate_create(self, obj: Obj) -> list[FieldError]:
        return validate_rc_spec(as_map(obj.get("spec")))

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_replica_set_status(as_map(obj.get("status")))


__all__ = ["ReplicationControllerAdmission", "validate_rc_spec"]
