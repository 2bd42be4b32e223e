"""ControllerRevisions as a workload's history (pkg/controller/history), as pure functions.

Why: StatefulSets (and DaemonSets) record each template they have run as an
immutable apps/v1 ControllerRevision named ``<owner>-<hash>``, numbered by
``revision``; the controller rolls Pods from one to the next, and ``kubectl
rollout history|undo`` read them. Keeping naming, equality and numbering
pure lets table tests pin them; the controllers do the writes.

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
from apimachinery.objects import as_map, int_or, meta_of
from controllers.rollout import fnv32a, safe_encode

Obj = dict[str, Any]


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


__all__ = ["find_equal", "hash_revision", "history_to_delete", "new_revision", "next_revision", "revision_number",
           "sort_revisions"]
