"""ControllerRevisions as a workload's history (pkg/controller/history).

Why: StatefulSets (and DaemonSets) record each template they have run as an
immutable apps/v1 ControllerRevision named ``<owner>-<hash>``, numbered by
``revision``; the controller rolls Pods from one to the next, and ``kubectl
rollout history|undo`` read them. Naming, equality and numbering are pure
(table tests pin them); ``sync_revisions`` is the one write path both
controllers share.

Invariants: a revision's name is a function of its data and the owner's
collisionCount (a name taken by different data bumps collisionCount, never
overwrites); revision numbers grow: re-using an older revision's data
renumbers that revision to the next number instead of creating a copy.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from apimachinery import labels
from apimachinery.objects import as_map, as_str, int_or, meta_of
from apimachinery.resources import BY_KEY, ResourceType
from controllers.ownership import controller_ref
from controllers.rollout import fnv32a, safe_encode
from kubeclient import errors
from kubeclient.client import Client

Obj = dict[str, Any]
REVISIONS = BY_KEY["controllerrevisions.apps"]
MAX_COLLISIONS = 10


class TooManyCollisions(Exception):
    """Every name tried for a new revision was taken by different data."""


def hash_revision(data: Any, collision_count: int | None = None) -> str:
    """HashControllerRevision: FNV-32a of the data (canonical JSON here) and the collision count, safe-encoded."""
    raw = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    if collision_count is not None:
        raw += (collision_count & 0xFFFFFFFF).to_bytes(4, "little")
    return safe_encode(str(fnv32a(raw)))


def revision_number(rev: Mapping[str, Any]) -> int:
    return int_or(rev.get("revision"))


def sort_revisions(revisions: Iterable[Obj]) -> list[Obj]:
    """SortControllerRevisions: by revision, then creation time, then name."""
    return sorted(revisions, key=lambda r: (revision_number(r), str(meta_of(r).get("creationTimestamp") or ""),
                                            str(meta_of(r).get("name") or "")))


def next_revision(revisions: Sequence[Obj]) -> int:
    """nextRevision: one past the highest number (1 for an empty history)."""
    return max((revision_number(r) for r in revisions), default=0) + 1


def find_equal(revisions: Sequence[Obj], data: Any) -> list[Obj]:
    """FindEqualRevisions: the revisions whose data equals ``data``."""
    return [r for r in revisions if r.get("data") == data]


def new_revision(owner: Mapping[str, Any], *, api_version: str, kind: str, template_labels: Mapping[str, str],
                 data: Any, revision: int, collision_count: int | None) -> Obj:
    """NewControllerRevision: ``<owner>-<hash>``, the template's labels plus the hash label, owned by ``owner``.

    The owner's annotations are copied (``kubectl rollout history`` prints the
    change-cause annotation from them).
    """
    meta = meta_of(owner)
    hash_ = hash_revision(data, collision_count)
    rev_labels = {**template_labels, labels.LABEL_REVISION_HASH: hash_}
    rev_meta: dict[str, Any] = {
        "name": f"{meta.get('name')}-{hash_}",
        "namespace": meta.get("namespace"),
        "labels": rev_labels,
        "ownerReferences": [{"apiVersion": api_version, "kind": kind, "name": meta.get("name"),
                             "uid": meta.get("uid"), "controller": True, "blockOwnerDeletion": True}],
    }
    annotations = as_map(meta.get("annotations"))
    if annotations:
        rev_meta["annotations"] = dict(annotations)
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": rev_meta, "data": data,
            "revision": revision}


def history_to_delete(revisions: Sequence[Obj], *, live: set[str], limit: int) -> list[Obj]:
    """truncateHistory: the oldest revisions no Pod and no status names, beyond ``limit`` of them."""
    dead = [r for r in sort_revisions(revisions) if str(meta_of(r).get("name")) not in live]
    excess = len(dead) - max(0, limit)
    return dead[:excess] if excess > 0 else []


def revision_data(owner: Mapping[str, Any]) -> Obj:
    """getPatch: the patch that restores the owner's template (what a revision records, and what undo applies)."""
    template = dict(as_map(as_map(owner.get("spec")).get("template")))
    template["$patch"] = "replace"
    return {"spec": {"template": dict(sorted(template.items()))}}


def template_of(rev: Mapping[str, Any]) -> Obj:
    """ApplyRevision's result for the template: the recorded template without the patch directive."""
    template = as_map(as_map(as_map(rev.get("data")).get("spec")).get("template"))
    return {k: v for k, v in template.items() if k != "$patch"}


def _owned_by(rev: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    ref = controller_ref(rev)
    return ref is not None and ref.get("uid") == meta_of(owner).get("uid")


async def sync_revisions(client: Client, owner: Obj, owner_rt: ResourceType,
                         revisions: list[Obj]) -> tuple[Obj, Obj, int]:
    """The owner's (current, update, collisionCount) revisions, writing the update revision when needed.

    ``revisions`` are the owner's, sorted (sort_revisions). The update revision
    is the one recording the owner's template: reused if it is the newest,
    renumbered to the next number if older (a rollback), else created; a name
    taken by other data bumps collisionCount. The current revision is the one
    status.currentRevision names, else the update revision.
    """
    status = as_map(owner.get("status"))
    collisions = int_or(status.get("collisionCount"))
    data = revision_data(owner)
    equal = find_equal(revisions, data)
    if equal and equal[-1] is revisions[-1]:
        update = equal[-1]
    elif equal:
        update = await client.update(REVISIONS, {**equal[-1], "revision": next_revision(revisions)})
    else:
        update, collisions = await _create(client, owner, owner_rt, data, next_revision(revisions), collisions)
    current_name = as_str(status.get("currentRevision"))
    current = next((r for r in revisions if meta_of(r).get("name") == current_name), update)
    return current, update, collisions


async def _create(client: Client, owner: Obj, owner_rt: ResourceType, data: Obj, number: int,
                  collisions: int) -> tuple[Obj, int]:
    """CreateControllerRevision: on a name taken by different data, bump collisionCount and try again."""
    template_labels = {str(k): str(v) for k, v in as_map(as_map(as_map(
        as_map(owner.get("spec")).get("template")).get("metadata")).get("labels")).items()}
    ns = str(meta_of(owner).get("namespace"))
    for _ in range(MAX_COLLISIONS):
        rev = new_revision(owner, api_version=owner_rt.api_version, kind=owner_rt.kind,
                           template_labels=template_labels, data=data, revision=number, collision_count=collisions)
        try:
            return await client.create(REVISIONS, rev, namespace=ns), collisions
        except errors.AlreadyExists:
            existing = await client.get(REVISIONS, str(rev["metadata"]["name"]), namespace=ns)
            if existing.get("data") == data and _owned_by(existing, owner):
                return existing, collisions
            collisions += 1
    raise TooManyCollisions(f"no free ControllerRevision name for {meta_of(owner).get('name')}")


__all__ = ["find_equal", "hash_revision", "history_to_delete", "new_revision", "next_revision", "revision_data",
           "revision_number", "sort_revisions", "sync_revisions", "template_of"]
