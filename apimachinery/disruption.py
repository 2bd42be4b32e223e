"""PodDisruptionBudget rules shared by the API server's eviction subresource and the disruption controller.

Why one home: both sides write a PDB's status (the controller recomputes it,
an eviction spends one allowed disruption), and both must agree on which
Pods a budget covers, how a percentage scales and what the DisruptionAllowed
condition says, or they would flap it between them. These are the rules of
kube's disruption controller and of its component-helpers
(UpdateDisruptionAllowedCondition, ConditionsAreUpToDate).

Invariant: pure functions over JSON objects; no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from apimachinery.objects import as_list, as_map, int_or
from apimachinery.selectors import LabelSelector, from_label_selector_object

DISRUPTION_ALLOWED = "DisruptionAllowed"
SUFFICIENT_PODS = "SufficientPods"
INSUFFICIENT_PODS = "InsufficientPods"
SYNC_FAILED = "SyncFailed"
# spec.unhealthyPodEvictionPolicy values (policy/v1)
IF_HEALTHY_BUDGET = "IfHealthyBudget"
ALWAYS_ALLOW = "AlwaysAllow"
UNHEALTHY_POD_EVICTION_POLICIES = (ALWAYS_ALLOW, IF_HEALTHY_BUDGET)
# How long an eviction's entry in status.disruptedPods keeps that Pod out of currentHealthy
# (DeletionTimeout): if the Pod is not deleted by then, the controller counts it again.
DELETION_TIMEOUT = 120.0


def pdb_selector(pdb: Mapping[str, Any]) -> LabelSelector | None:
    """spec.selector as policy/v1 reads it (nil selects nothing, ``{}`` every Pod); None when it does not parse."""
    raw = as_map(pdb.get("spec")).get("selector")
    try:
        return from_label_selector_object(raw if isinstance(raw, dict) else None)
    except Exception:
        return None


def pod_labels(pod: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in as_map(as_map(pod.get("metadata")).get("labels")).items()}


def guards_for_eviction(pdb: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """The eviction subresource's getPodDisruptionBudgets test: a nil, empty or unparsable selector matches
    nothing there (never every Pod), unlike the controller's count."""
    sel = pdb_selector(pdb)
    return sel is not None and not sel.empty and sel.matches(pod_labels(pod))


def scaled_value(value: Any, total: int, *, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: an int as is, ``N%`` of ``total`` rounded up or down.

    Raises ValueError with Go's message for a string that is not a percentage.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value)
    if not text.endswith("%"):
        raise ValueError("invalid type: string is not a percentage")
    try:
        percent = int(text[:-1])
    except ValueError:
        raise ValueError(f'invalid value for IntOrString: invalid value "{text}": strconv.Atoi: parsing '
                         f'"{text[:-1]}": invalid syntax') from None
    scaled = percent * total / 100
    return math.ceil(scaled) if round_up else math.floor(scaled)


def find_condition(status: Mapping[str, Any], ctype: str) -> dict[str, Any] | None:
    for c in as_list(status.get("conditions")):
        if isinstance(c, dict) and c.get("type") == ctype:
            return c
    return None


def set_condition(status: dict[str, Any], cond: dict[str, Any], now: str) -> None:
    """apimeta.SetStatusCondition: replace the condition of its type; lastTransitionTime moves only when the
    status changes (or the condition is new)."""
    conds = [c for c in as_list(status.get("conditions")) if isinstance(c, dict)]
    for i, c in enumerate(conds):
        if c.get("type") == cond["type"]:
            merged = dict(c)
            if c.get("status") != cond["status"]:
                merged["lastTransitionTime"] = now
            merged.update(status=cond["status"], reason=cond["reason"], message=cond.get("message", ""),
                          observedGeneration=cond.get("observedGeneration", 0))
            conds[i] = _ordered(merged)
            status["conditions"] = conds
            return
    conds.append(_ordered({**cond, "lastTransitionTime": now, "message": cond.get("message", "")}))
    status["conditions"] = conds


def _ordered(cond: dict[str, Any]) -> dict[str, Any]:
    """metav1.Condition's field order; observedGeneration omitted when 0 (omitempty)."""
    out: dict[str, Any] = {"type": cond.get("type"), "status": cond.get("status")}
    if int_or(cond.get("observedGeneration")):
        out["observedGeneration"] = int_or(cond.get("observedGeneration"))
    out.update(lastTransitionTime=cond.get("lastTransitionTime"), reason=cond.get("reason", ""),
               message=cond.get("message", ""))
    return out


def update_disruption_allowed_condition(status: dict[str, Any], now: str) -> None:
    """UpdateDisruptionAllowedCondition: True/SufficientPods while disruptionsAllowed > 0, else
    False/InsufficientPods, at the status' observedGeneration."""
    allowed = int_or(status.get("disruptionsAllowed")) > 0
    set_condition(status, {"type": DISRUPTION_ALLOWED, "status": "True" if allowed else "False",
                           "reason": SUFFICIENT_PODS if allowed else INSUFFICIENT_PODS,
                           "observedGeneration": int_or(status.get("observedGeneration"))}, now)


def conditions_up_to_date(pdb: Mapping[str, Any]) -> bool:
    """ConditionsAreUpToDate: the DisruptionAllowed condition agrees with the status and the generation."""
    status = as_map(pdb.get("status"))
    cond = find_condition(status, DISRUPTION_ALLOWED)
    if cond is None:
        return False
    if int_or(status.get("observedGeneration")) != int_or(as_map(pdb.get("metadata")).get("generation")):
        return False
    if int_or(status.get("disruptionsAllowed")) > 0:
        return cond.get("status") == "True" and cond.get("reason") == SUFFICIENT_PODS
    return cond.get("status") == "False" and cond.get("reason") == INSUFFICIENT_PODS


__all__ = [
    "ALWAYS_ALLOW",
    "DELETION_TIMEOUT",
    "DISRUPTION_ALLOWED",
    "IF_HEALTHY_BUDGET",
    "INSUFFICIENT_PODS",
    "SUFFICIENT_PODS",
    "SYNC_FAILED",
    "UNHEALTHY_POD_EVICTION_POLICIES",
    "conditions_up_to_date",
    "find_condition",
    "guards_for_eviction",
    "pdb_selector",
    "pod_labels",
    "scaled_value",
    "set_condition",
    "update_disruption_allowed_condition",
]
