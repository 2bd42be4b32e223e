"""Controller references: who owns an object, and adopting or releasing it (ControllerRefManager).

Why: a ReplicaSet owns the Pods, and a Deployment the ReplicaSets, that
carry an ownerReference with ``controller: true`` naming them by uid. An
orphan that matches a live owner's selector is adopted, an owned object
that stops matching is released, and nothing is adopted by an owner that
is being deleted (checked against a fresh read, as canAdopt does, so a
stale cache never adopts into a dying owner).

Both writes are strategic merge patches that carry the object's uid, so a
patch never lands on a different object that took the same name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from apimachinery.objects import meta_of
from apimachinery.resources import ResourceType
from kubeclient import errors
from kubeclient.client import Client

log = logging.getLogger("controllers.ownership")

Obj = dict[str, Any]


def controller_ref(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """metav1.GetControllerOf: the ownerReference with controller=true, if any."""
    for ref in meta_of(obj).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller") is True:
            return ref
    return None


def owner_reference(owner: Mapping[str, Any], *, api_version: str, kind: str) -> dict[str, Any]:
    """metav1.NewControllerRef: controller=true and blockOwnerDeletion=true."""
    meta = meta_of(owner)
    return {"apiVersion": api_version, "kind": kind, "name": meta.get("name"), "uid": meta.get("uid"),
            "controller": True, "blockOwnerDeletion": True}


def is_deleting(obj: Mapping[str, Any]) -> bool:
    return meta_of(obj).get("deletionTimestamp") is not None


def uid_of(obj: Mapping[str, Any]) -> str:
    return str(meta_of(obj).get("uid") or "")


class RefManager:
    """Claims the objects of one owner: keeps its own, adopts matching orphans, releases the rest."""

    def __init__(
        self,
        client: Client,
        *,
        owner: Obj,
        owner_rt: ResourceType,
        child_rt: ResourceType,
        matches: Callable[[Obj], bool],
    ) -> None:
        self.client = client
        self.owner = owner
        self.owner_rt = owner_rt
        self.child_rt = child_rt
        self.matches = matches
        self._can_adopt: bool | None = None

    async def claim(self, children: Sequence[Obj]) -> list[Obj]:
        """ClaimObjects: the children this owner controls after adoption and release."""
        owner_uid = uid_of(self.owner)
        out: list[Obj] = []
        for child in children:
            ref = controller_ref(child)
            if ref is not None:
                if ref.get("uid") != owner_uid:
                    continue
                if self.matches(child):
                    out.append(child)
                elif not is_deleting(self.owner):
                    await self._release(child)
                continue
            if is_deleting(self.owner) or is_deleting(child) or not self.matches(child):
                continue
            adopted = await self._adopt(child)
            if adopted is not None:
                out.append(adopted)
        return out

    async def _fresh_owner_ok(self) -> bool:
        """canAdopt: re-read the owner; a different uid or a deletionTimestamp forbids adoption."""
        if self._can_adopt is None:
            meta = meta_of(self.owner)
            try:
                fresh = await self.client.get(self.owner_rt, str(meta.get("name")), namespace=meta.get("namespace"))
            except errors.NotFound:
                self._can_adopt = False
            else:
                self._can_adopt = uid_of(fresh) == uid_of(self.owner) and not is_deleting(fresh)
        return self._can_adopt

    async def _adopt(self, child: Obj) -> Obj | None:
        if not await self._fresh_owner_ok():
            return None
        meta = meta_of(child)
        ref = owner_reference(self.owner, api_version=self.owner_rt.api_version, kind=self.owner_rt.kind)
        patch = {"metadata": {"ownerReferences": [ref], "uid": meta.get("uid")}}
        try:
            adopted = await self.client.patch(self.child_rt, str(meta.get("name")), patch,
                                              namespace=meta.get("namespace"), patch_type="strategic")
        except (errors.NotFound, errors.Invalid, errors.Conflict) as e:
            log.info("could not adopt %s %s/%s: %s", self.child_rt.kind, meta.get("namespace"), meta.get("name"), e)
            return None
        log.info("%s %s/%s adopted by %s %s", self.child_rt.kind, meta.get("namespace"), meta.get("name"),
                 self.owner_rt.kind, meta_of(self.owner).get("name"))
        return adopted

    async def _release(self, child: Obj) -> None:
        meta = meta_of(child)
        patch = {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": uid_of(self.owner)}],
                              "uid": meta.get("uid")}}
        try:
            await self.client.patch(self.child_rt, str(meta.get("name")), patch, namespace=meta.get("namespace"),
                                    patch_type="strategic")
        except (errors.NotFound, errors.Invalid, errors.Conflict):
            return
        log.info("%s %s/%s released by %s %s", self.child_rt.kind, meta.get("namespace"), meta.get("name"),
                 self.owner_rt.kind, meta_of(self.owner).get("name"))
