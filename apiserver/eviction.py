"""The ``pods/eviction`` subresource: a Pod deletion that honours PodDisruptionBudgets (kubectl drain's verb).

Why its own module: an eviction is not a generic write. It reads the Pod and
the budgets that guard it, refuses with 429 when the budget has no disruption
left (kube-apiserver's exact Status, which kubectl drain retries on), and
otherwise deletes the Pod with the request's DeleteOptions (grace period,
preconditions).

Invariant: the budget is spent in the same transaction as the Pod's
deletion. kube-apiserver updates the PodDisruptionBudget status (with a
conflict retry) and then deletes the Pod, so a failed delete leaves a spent
disruption behind until the disruption controller's two-minute timeout;
here the status write (disruptionsAllowed - 1, the Pod recorded in
status.disruptedPods for the controller) and the Pod's deletion commit
together or not at all, and a conflict on either re-reads both.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from typing import Any

from apimachinery import errors
from apimachinery.disruption import (
    ALWAYS_ALLOW,
    guards_for_eviction,
    update_disruption_allowed_condition,
)
from apimachinery.errors import StatusError
from apimachinery.objects import as_map, int_or
from apimachinery.pods import is_pod_ready
from apimachinery.resources import BY_KEY
from apimachinery.timestamps import format_time
from apiserver.registry import Registry
from apiserver.storage.records import Op
from apiserver.watchcache import Entry

PODS = BY_KEY["pods"]
PDBS = BY_KEY["poddisruptionbudgets.policy"]
# The Eviction versions the subresource accepts (AcceptsGroupVersion): policy/v1 and policy/v1beta1.
ACCEPTED_VERSIONS = ("policy/v1", "policy/v1beta1")
# MaxDisruptedPodSize: more evictions than this not yet seen by the disruption controller are refused.
MAX_DISRUPTED_POD_SIZE = 2000
# EvictionsRetry: attempts (0.5 s apart) at a budget update that keeps conflicting.
EVICTION_RETRIES = 20
RETRY_INTERVAL = 0.5
VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."
MULTIPLE_BUDGETS = "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
DISRUPTION_BUDGET_CAUSE = "DisruptionBudget"
SUCCESS: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


def too_many_requests(message: str, cause: str, retry_after: int = 0) -> StatusError:
    """errors.NewTooManyRequests with the DisruptionBudget cause; a retry hint also goes out as Retry-After."""
    details: dict[str, Any] = {"causes": [{"reason": DISRUPTION_BUDGET_CAUSE, "message": cause}]}
    if retry_after:
        details["retryAfterSeconds"] = retry_after
    return StatusError(429, "TooManyRequests", message, details=details,
                       headers={"Retry-After": str(retry_after)} if retry_after else None)


def still_processing(pdb_name: str) -> StatusError:
    """createTooManyRequestsError: the budget's status does not reflect its spec yet (or a pinned delete lost a
    race); the client should come back in 10 s."""
    return too_many_requests(VIOLATION, f"The disruption budget {pdb_name} is still being processed by the server.",
                             10)


def can_ignore_pdb(pod: dict[str, Any]) -> bool:
    """canIgnorePDB: a finished, pending or already terminating Pod is deleted without asking its budget."""
    phase = as_map(pod.get("status")).get("phase")
    return phase in ("Succeeded", "Failed", "Pending") or bool(as_map(pod.get("metadata")).get("deletionTimestamp"))


def should_enforce_resource_version(pod: dict[str, Any]) -> bool:
    """shouldEnforceResourceVersion: pin the delete to the Pod we looked at unless it is finished or terminating,
    so a Pod that became Ready meanwhile is not deleted on a stale judgement."""
    phase = as_map(pod.get("status")).get("phase")
    return phase not in ("Succeeded", "Failed") and not as_map(pod.get("metadata")).get("deletionTimestamp")


def check_and_decrement(pdb: dict[str, Any], pod_name: str, *, dry_run: bool, now: str) -> dict[str, Any]:
    """checkAndDecrement: the budget with one disruption spent, or the refusal kube-apiserver answers."""
    meta, status = as_map(pdb.get("metadata")), as_map(pdb.get("status"))
    name = str(meta.get("name") or "")
    if int_or(status.get("observedGeneration")) < int_or(meta.get("generation")):
        raise still_processing(name)
    allowed = int_or(status.get("disruptionsAllowed"))
    if allowed < 0:
        raise errors.forbidden_error("poddisruptionbudget", name, "pdb disruptions allowed is negative", "policy")
    if len(as_map(status.get("disruptedPods"))) > MAX_DISRUPTED_POD_SIZE:
        raise errors.forbidden_error("poddisruptionbudget", name, "DisruptedPods map too big - too many evictions "
                                     "not confirmed by PDB controller", "policy")
    if allowed == 0:
        raise too_many_requests(VIOLATION, f"The disruption budget {name} needs "
                                f"{int_or(status.get('desiredHealthy'))} healthy pods and has "
                                f"{int_or(status.get('currentHealthy'))} currently")
    new = copy.deepcopy(pdb)
    new_status = new.setdefault("status", {})
    new_status["disruptionsAllowed"] = allowed - 1
    if allowed - 1 == 0:
        update_disruption_allowed_condition(new_status, now)
    if not dry_run:
        new_status["disruptedPods"] = {**as_map(new_status.get("disruptedPods")), pod_name: now}
    return new


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# DeleteOptions' fields as encoding/json decodes them into the Go struct.
_DELETE_OPTION_TYPES: tuple[tuple[str, str, Callable[[Any], bool]], ...] = (
    ("gracePeriodSeconds", "int64", _is_int),
    ("preconditions", "v1.Preconditions", lambda v: isinstance(v, dict)),
    ("orphanDependents", "bool", lambda v: isinstance(v, bool)),
    ("propagationPolicy", "v1.DeletionPropagation", lambda v: isinstance(v, str)),
    ("dryRun", "[]string", lambda v: isinstance(v, list) and all(isinstance(d, str) for d in v)),
)
_JSON_TYPES = ((bool, "bool"), (int, "number"), (float, "number"), (str, "string"), (list, "array"),
               (dict, "object"))


def _undecodable(value: Any, field: str, go_type: str) -> StatusError:
    """The 400 of a body encoding/json cannot decode into an Eviction."""
    json_type = next((name for t, name in _JSON_TYPES if isinstance(value, t)), "value")
    return errors.bad_request(f'Eviction in version "v1" cannot be handled as a Eviction: json: cannot unmarshal '
                              f"{json_type} into Go struct field {field} of type {go_type}")


def _eviction_options(body: Any, name: str, namespace: str, *, dry_run: bool) -> tuple[dict[str, Any], bool]:
    """The Eviction's DeleteOptions and whether this is a dry run (propagateDryRun), or kube's 400."""
    if not isinstance(body, dict):
        raise errors.bad_request("the object provided is unrecognized (must be of type Eviction)")
    api_version = body.get("apiVersion")
    if api_version and api_version not in ACCEPTED_VERSIONS:
        raise errors.bad_request(f"the API version in the data ({api_version}) does not match the expected API "
                                 f"version (policy/v1)")
    meta = as_map(body.get("metadata"))
    if meta.get("namespace") and meta["namespace"] != namespace:
        raise errors.bad_request("the namespace of the provided object does not match the namespace sent on the "
                                 "request")
    if meta.get("name") != name:
        raise errors.bad_request("name in URL does not match name in Eviction object")
    raw = body.get("deleteOptions")
    if raw is not None and not isinstance(raw, dict):
        raise _undecodable(raw, "Eviction.deleteOptions", "v1.DeleteOptions")
    options = dict(raw or {})
    for key, go_type, ok in _DELETE_OPTION_TYPES:
        value = options.get(key)
        if value is not None and not ok(value):
            raise _undecodable(value, f"Eviction.deleteOptions.{key}", go_type)
    for key in ("uid", "resourceVersion"):
        value = as_map(options.get("preconditions")).get(key)
        if value is not None and not isinstance(value, str):
            raise _undecodable(value, f"Eviction.deleteOptions.preconditions.{key}", "string")
    # propagateDryRun: the request's dryRun and the Eviction's own, which must agree when both are given;
    # any non-empty list means a dry run (dryrun.IsDryRun).
    raw_dry = options.pop("dryRun", None)
    body_dry = [str(d) for d in raw_dry] if isinstance(raw_dry, list) else []
    if body_dry and dry_run and body_dry != ["All"]:
        raise errors.internal(f"Non-matching dry-run options in request and content: [All] and "
                              f"[{' '.join(body_dry)}]")
    return options, dry_run or bool(body_dry)


def _pinned(options: dict[str, Any], pod: Entry) -> dict[str, Any]:
    """setPreconditionsResourceVersion: the delete applies only to the Pod as read."""
    pre = dict(as_map(options.get("preconditions")))
    pre["resourceVersion"] = str(pod.revision)
    return {**options, "preconditions": pre}


def _budgets(registry: Registry, pod: dict[str, Any], namespace: str) -> list[Entry]:
    entries, _, _ = registry.list_entries(PDBS, namespace, label_selector=None, field_selector=None)
    return [e for e in entries if guards_for_eviction(e.obj, pod)]


async def evict(registry: Registry, namespace: str, name: str, body: Any, *, dry_run: bool) -> dict[str, Any]:
    """EvictionREST.Create: delete the Pod if its budget allows, else raise the refusal. Returns the Status."""
    options, dry_run = _eviction_options(body, name, namespace, dry_run=dry_run)
    rv_given = bool(as_map(options.get("preconditions")).get("resourceVersion"))
    pdb_name = ""
    for _ in range(EVICTION_RETRIES):
        pod = registry.get_entry(PODS, namespace, name)
        if can_ignore_pdb(pod.obj):
            opts = _pinned(options, pod) if should_enforce_resource_version(pod.obj) and not rv_given else options
            try:
                await registry.delete(PODS, namespace, name, opts, dry_run=dry_run)
            except StatusError as e:
                if e.reason == "Conflict" and not rv_given:
                    continue  # the Pod changed under us: judge it again
                raise
            return dict(SUCCESS)
        budgets = _budgets(registry, pod.obj, namespace)
        if len(budgets) > 1:
            raise StatusError(500, "", MULTIPLE_BUDGETS)
        if not budgets:
            await registry.delete(PODS, namespace, name, options, dry_run=dry_run)
            return dict(SUCCESS)
        pdb = budgets[0]
        pdb_name = str(as_map(pdb.obj.get("metadata")).get("name") or "")
        status = as_map(pdb.obj.get("status"))
        if not is_pod_ready(pod.obj):
            policy = as_map(pdb.obj.get("spec")).get("unhealthyPodEvictionPolicy")
            desired, current = int_or(status.get("desiredHealthy")), int_or(status.get("currentHealthy"))
            if policy == ALWAYS_ALLOW or (current >= desired and desired > 0):
                # an unhealthy Pod does not count towards currentHealthy: deleting it spends nothing
                opts = options if rv_given else _pinned(options, pod)
                try:
                    await registry.delete(PODS, namespace, name, opts, dry_run=dry_run)
                except StatusError as e:
                    if e.reason == "Conflict" and not rv_given:
                        raise still_processing(pdb_name) from None
                    raise
                return dict(SUCCESS)

        def spend(_pod: Entry, budget: str = pdb_name) -> list[Op]:
            current = registry.cache.get(PDBS.key, namespace, budget)
            if current is None:
                raise errors.not_found(PDBS.plural, budget, PDBS.group)
            new = check_and_decrement(current.obj, name, dry_run=dry_run, now=format_time())
            return [] if dry_run else [Op("MODIFIED", PDBS.key, namespace, budget, new, current.revision)]

        try:
            await registry.delete(PODS, namespace, name, options, dry_run=dry_run, with_ops=spend)
        except StatusError as e:
            if e.reason == "Conflict" and as_map(e.details).get("kind") == PDBS.plural:
                await asyncio.sleep(RETRY_INTERVAL)
                continue
            raise
        return dict(SUCCESS)
    raise errors.timeout(f'couldn\'t update PodDisruptionBudget "{pdb_name}" due to conflicts', 10)


__all__ = ["MULTIPLE_BUDGETS", "SUCCESS", "VIOLATION", "can_ignore_pdb", "check_and_decrement", "evict",
           "too_many_requests"]
