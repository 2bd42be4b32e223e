"""The ``/scale`` subresource: an autoscaling/v1 Scale view of a workload's replicas.

Why: ``kubectl scale`` (and autoscalers) never touch a Deployment or
ReplicaSet directly; they GET ``.../scale`` and PATCH or PUT
``spec.replicas`` on it. The Scale is derived from the stored object on
every request (pkg/registry/apps/deployment/storage ScaleREST), and a write
becomes an ordinary update of the parent, so defaults, validation,
generation and watch events are the parent's.

Invariant: a Scale's metadata.resourceVersion is the parent's; a write that
names one is a precondition (409 Conflict on the parent when stale), a
write that does not is retried on conflicts.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import yaml

from apimachinery import errors
from apimachinery.errors import StatusError
from apimachinery.patch import json_patch, merge_patch
from apimachinery.resources import ResourceType
from apimachinery.selectors import from_label_selector_object
from apiserver.registry import PATCH_RETRIES, Registry

SCALE_KIND = "Scale"
SCALE_API_VERSION = "autoscaling/v1"
_META_KEYS = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")


def to_scale(obj: dict[str, Any], *, map_selector: bool = False) -> dict[str, Any]:
    """scaleFromDeployment / scaleFromReplicaSet / scaleFromRC: identity metadata, spec.replicas,
    status.replicas + selector (``map_selector``: spec.selector is a label map, ResourceType.map_selector)."""
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    raw = spec.get("selector")
    try:
        selector = str(from_label_selector_object({"matchLabels": raw} if map_selector and raw else raw))
    except StatusError:
        selector = ""
    scale_status: dict[str, Any] = {"replicas": int(status.get("replicas") or 0)}
    if selector:
        scale_status["selector"] = selector
    return {
        "kind": SCALE_KIND,
        "apiVersion": SCALE_API_VERSION,
        "metadata": {k: meta[k] for k in _META_KEYS if meta.get(k) is not None},
        "spec": {"replicas": int(spec.get("replicas") or 0)},
        "status": scale_status,
    }


def _replicas_of(body: Any, name: str) -> tuple[int, str | None]:
    """The requested replicas and resourceVersion precondition; 400/422 errors as kube-apiserver words them."""
    if not isinstance(body, dict):
        raise errors.bad_request("the object provided is unrecognized (must be of type Scale)")
    kind = body.get("kind")
    if kind not in (None, "", SCALE_KIND):
        raise errors.bad_request(f'{kind} in version "{body.get("apiVersion")}" cannot be handled as a Scale: '
                                 "the kind in the body does not match the URL")
    meta: dict[str, Any] = body["metadata"] if isinstance(body.get("metadata"), dict) else {}
    if meta.get("name") and meta["name"] != name:
        raise errors.bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL ({name})")
    spec: dict[str, Any] = body["spec"] if isinstance(body.get("spec"), dict) else {}
    replicas = spec.get("replicas", 0)
    if replicas is None:
        replicas = 0
    if isinstance(replicas, bool) or not isinstance(replicas, int) or not -(2**31) <= replicas < 2**31:
        raise errors.bad_request("Scale in version \"v1\" cannot be handled as a Scale: json: cannot unmarshal "
                                 "value into Go struct field ScaleSpec.spec.replicas of type int32")
    if replicas < 0:
        raise errors.invalid_object(SCALE_KIND, name, [errors.invalid("spec.replicas", replicas,
                                                                      "must be greater than or equal to 0")],
                                    "autoscaling")
    rv = meta.get("resourceVersion")
    return replicas, (str(rv) if rv else None)


def get_scale(registry: Registry, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
    return to_scale(registry.get_entry(rt, namespace, name).obj, map_selector=rt.map_selector)


async def update_scale(registry: Registry, rt: ResourceType, namespace: str | None, name: str, body: Any, *,
                       dry_run: bool = False) -> dict[str, Any]:
    """PUT .../scale: set the parent's spec.replicas."""
    replicas, rv = _replicas_of(body, name)
    return await _write(registry, rt, namespace, name, replicas, rv, dry_run=dry_run)


async def patch_scale(registry: Registry, rt: ResourceType, namespace: str | None, name: str, patch_type: str,
                      raw: bytes, *, dry_run: bool = False) -> dict[str, Any]:
    """PATCH .../scale: the patch applies to the current Scale, the result is written like a PUT."""
    try:
        patch = yaml.safe_load(raw) if patch_type == "apply" else orjson.loads(raw)
    except Exception as e:
        raise errors.bad_request(f"error decoding patch: {e}") from None
    for _ in range(PATCH_RETRIES):
        current = to_scale(registry.get_entry(rt, namespace, name).obj, map_selector=rt.map_selector)
        if patch_type == "json":
            patched = json_patch(copy.deepcopy(current), patch)
        elif isinstance(patch, dict):
            # A Scale has no lists, so strategic merge and apply reduce to a JSON merge patch.
            patched = merge_patch(copy.deepcopy(current), {k: v for k, v in patch.items() if not k.startswith("$")})
        else:
            raise errors.bad_request("patch must be a JSON object")
        pinned = isinstance(patch, dict) and bool((patch.get("metadata") or {}).get("resourceVersion"))
        replicas, rv = _replicas_of(patched, name)
        try:
            return await _write(registry, rt, namespace, name, replicas,
                                rv if pinned else current["metadata"].get("resourceVersion"), dry_run=dry_run)
        except StatusError as e:
            if e.reason == "Conflict" and not pinned:
                continue  # the parent changed since the patch was applied: apply it to the new Scale
            raise
    raise errors.conflict(rt.plural, name, rt.group)


async def _write(registry: Registry, rt: ResourceType, namespace: str | None, name: str, replicas: int,
                 rv: str | None, *, dry_run: bool) -> dict[str, Any]:
    for _ in range(PATCH_RETRIES):
        entry = registry.get_entry(rt, namespace, name)
        if rv is not None and rv != str(entry.revision):
            raise errors.conflict(rt.plural, name, rt.group)
        new = copy.deepcopy(entry.obj)
        new.setdefault("spec", {})["replicas"] = replicas
        new.setdefault("metadata", {})["resourceVersion"] = str(entry.revision)
        try:
            res = await registry.update(rt, namespace, name, new, dry_run=dry_run)
        except StatusError as e:
            if e.reason == "Conflict" and rv is None:
                continue
            raise
        return to_scale(res.obj, map_selector=rt.map_selector)
    raise errors.conflict(rt.plural, name, rt.group)
