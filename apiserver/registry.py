"""Generic REST semantics for every resource: create, get, list, update, patch, delete.

Why one generic registry: kube-apiserver's generic Store gives every kind the
same resourceVersion, uid, generation, status-subresource and deletion rules;
per-kind behaviour is admission (defaults + validation) and a few strategy
flags. This module is also the one place where storage errors become Status.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import yaml

from apimachinery import errors
from apimachinery.errors import FieldError, StatusError
from apimachinery.patch import json_patch, merge_patch, strategic_merge_patch
from apimachinery.resources import BY_KEY, ResourceType
from apimachinery.schemas import decode
from apimachinery.selectors import FieldSelector, LabelSelector, field_matcher
from apimachinery.timestamps import format_time
from apimachinery.validation import GoValue
from apiserver import apply as apply_mod
from apiserver.admission import ADMISSION
from apiserver.admission.pod import validate_binding
from apiserver.apply import record_update
from apiserver.storage.errors import KeyExists, KeyNotFound, StorageError, VersionConflict
from apiserver.storage.records import Change, Op
from apiserver.storage.store import Store
from apiserver.watchcache import Entry, Filter, WatchCache

NAMESPACES = BY_KEY["namespaces"]
# Which kinds' DELETE answers the deleted object (ResourceType.return_deleted) or honours
# propagationPolicy through finalizers (ResourceType.gc_finalizers) is declared in apimachinery.kinds.
ORPHAN_FINALIZER = "orphan"
FOREGROUND_FINALIZER = "foregroundDeletion"
PATCH_RETRIES = 8
# An unconditional update that keeps losing the race is retried until it wins, as GuaranteedUpdate
# does (kube has no bound; each round some writer wins, so this one only guards against a bug).
UPDATE_RETRIES = 1000
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def rfc3339_after(seconds: int) -> str:
    return format_time(datetime.now(UTC) + timedelta(seconds=seconds))


def storage_to_status(e: StorageError, rt: ResourceType) -> StatusError:
    """The one translation of storage errors into Kubernetes Status errors."""
    if isinstance(e, KeyExists):
        return errors.already_exists(rt.plural, e.name, rt.group)
    if isinstance(e, KeyNotFound):
        return errors.not_found(rt.plural, e.name, rt.group)
    if isinstance(e, VersionConflict):
        return errors.conflict(rt.plural, e.name, rt.group)
    return errors.internal(str(e))


@dataclass
class Result:
    obj: dict[str, Any]
    code: int = 200
    warnings: tuple[str, ...] = ()


def _validation_mode(value: str | None) -> str:
    v = (value or "Warn").strip()
    if v not in ("Strict", "Warn", "Ignore"):
        raise errors.bad_request(
            f'fieldValidation parameter unsupported: "{v}". Supported values are "Ignore", "Warn", "Strict"'
        )
    return v


def _spec_of(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


class Registry:
    """REST operations over the store (writes) and the watch cache (reads)."""

    def __init__(self, store: Store, cache: WatchCache) -> None:
        self.store = store
        self.cache = cache
        # Hooks that add ops to a create or update of one kind, committed in the
        # same transaction (the allocation ledger for a Service's IPs and ports).
        self.write_hooks: dict[str, Callable[[dict[str, Any]], list[Op]]] = {}
        self.validators: dict[str, Callable[[dict[str, Any], dict[str, Any] | None], list[FieldError]]] = {}
        # Per kind: the created object as the create should answer it, once the controllers that fill
        # what kube-apiserver sets at create have done so (a Service's ClusterIPs and node ports).
        self.create_settlers: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = {}
        # Per kind: kube-apiserver's admission plugins that read other objects (a Pod's ServiceAccount
        # and PriorityClass), called with (object, stored object or None on a create, namespace) after
        # decoding and before the kind's own admission; each may fill fields and refuses with a
        # StatusError (403 Forbidden), as a mutating+validating plugin does.
        self.plugins: dict[str, list[Callable[[dict[str, Any], dict[str, Any] | None, str], Awaitable[None]]]] = {}
        # Per kind: a check of a DELETE by name before anything else, raising a StatusError to refuse it
        # (a kind's REST Delete override: the system PriorityClasses cannot be deleted).
        self.delete_guards: dict[str, Callable[[str], None]] = {}

    # -- helpers -------------------------------------------------------------
    def _ns(self, rt: ResourceType, namespace: str | None) -> str:
        return (namespace or "") if rt.namespaced else ""

    def _require_namespace(self, rt: ResourceType, namespace: str, *, creating: bool) -> None:
        if not rt.namespaced:
            return
        e = self.cache.get(NAMESPACES.key, "", namespace)
        if e is None:
            raise errors.not_found("namespaces", namespace)
        if creating and (e.obj.get("status") or {}).get("phase") == "Terminating":
            raise errors.forbidden_error(
                rt.plural, "", f"unable to create new content in namespace {namespace} because it is being terminated",
                rt.group,
            )

    def get_entry(self, rt: ResourceType, namespace: str | None, name: str) -> Entry:
        e = self.cache.get(rt.key, self._ns(rt, namespace), name)
        if e is None:
            raise errors.not_found(rt.plural, name, rt.group)
        return e

    async def _commit(self, rt: ResourceType, ops: list[Op]) -> list[Change]:
        try:
            return await self.store.commit(ops)
        except StorageError as e:
            err_rt = BY_KEY.get(e.resource, rt)
            raise storage_to_status(e, err_rt) from None

    def _decode(self, rt: ResourceType, body: Any, mode: str) -> tuple[dict[str, Any], list[str]]:
        if not isinstance(body, dict):
            raise errors.bad_request(f"the object provided is unrecognized (must be of type {rt.kind})")
        kind = body.get("kind")
        api_version = body.get("apiVersion")
        if kind not in (None, "", rt.kind):
            raise errors.bad_request(f'{kind} in version "{api_version}" cannot be handled as a {rt.kind}: '
                                     f"the kind in the body does not match the URL ({rt.plural})")
        if api_version not in (None, "", rt.api_version):
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({rt.api_version})"
            )
        obj, unknown = decode(rt.key, body)
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind
        warnings: list[str] = []
        if unknown and mode != "Ignore":
            if mode == "Strict":
                raise errors.bad_request(
                    "strict decoding error: " + ", ".join(f'unknown field "{u}"' for u in unknown)
                )
            warnings = [f'unknown field "{u}"' for u in unknown]
        return obj, warnings

    def _raise_invalid(self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None,
                       errs: list[FieldError]) -> None:
        extra = self.validators.get(rt.key)
        if extra is not None and not errs:
            errs = errs + extra(obj, old)
        if errs:
            meta = obj.get("metadata") or {}
            raise errors.invalid_object(rt.kind, str(meta.get("name") or meta.get("generateName") or ""), errs,
                                        rt.group)

    # -- create ----------------------------------------------------------------
    async def create(
        self, rt: ResourceType, namespace: str | None, body: Any, *, dry_run: bool = False,
        field_validation: str | None = None, manager: str = "",
    ) -> Result:
        mode = _validation_mode(field_validation)
        obj, warnings = self._decode(rt, body, mode)
        ns = self._ns(rt, namespace)
        meta = obj.setdefault("metadata", {})
        if rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != ns:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = ns
        else:
            meta.pop("namespace", None)
        self._require_namespace(rt, ns, creating=True)
        # the uid first (FillObjectMetaSystemFields): PrepareForCreate may use it (a Job's generated selector)
        meta["uid"] = str(uuid.uuid4())
        for plugin in self.plugins.get(rt.key, ()):
            await plugin(obj, None, ns)
        # default -> generateName -> PrepareForCreate -> validate, in kube-apiserver's order
        self._raise_invalid(rt, obj, None, ADMISSION[rt.key].admit_create(obj))
        warnings += ADMISSION[rt.key].warnings_on_create(obj)  # WarningsOnCreate, after the decoder's
        if manager:
            _set_managed_fields(obj, record_update(rt, None, obj, manager=manager))
        meta["creationTimestamp"] = format_time()
        meta["generation"] = 1
        for k in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion", "selfLink"):
            meta.pop(k, None)
        ops = [Op("ADDED", rt.key, ns, meta["name"], obj), *self._hook_ops(rt, obj)]
        if dry_run:
            return Result(obj, 201, tuple(warnings))
        await self._commit_with_hooks(rt, obj, ops)
        settle = self.create_settlers.get(rt.key)
        if settle is not None:
            obj = await settle(obj)
        return Result(obj, 201, tuple(warnings))

    def _hook_ops(self, rt: ResourceType, obj: dict[str, Any]) -> list[Op]:
        hook = self.write_hooks.get(rt.key)
        if hook is None:
            return []
        ops = hook(obj)
        for op in ops:
            m = op.obj.setdefault("metadata", {})
            m.setdefault("uid", str(uuid.uuid4()))
            m.setdefault("creationTimestamp", format_time())
            m.setdefault("generation", 1)
        return ops

    async def _commit_with_hooks(self, rt: ResourceType, obj: dict[str, Any], ops: list[Op]) -> None:
        try:
            await self._commit(rt, ops)
        except StatusError as e:
            # A ledger object was taken by a concurrent writer in the meantime:
            # the hook, run again on the now-current cache, names the field (422).
            if e.reason == "AlreadyExists" and len(ops) > 1 and (e.details or {}).get("kind") != rt.plural:
                self._hook_ops(rt, obj)
            raise

    # -- read ------------------------------------------------------------------
    def list_entries(
        self, rt: ResourceType, namespace: str | None, *, label_selector: LabelSelector | None,
        field_selector: FieldSelector | None, limit: int = 0, continue_token: str | None = None,
    ) -> tuple[list[Entry], int, str | None]:
        """Entries, the list's resourceVersion and a continue token when more remain.

        Later pages are served from the current state, and carry the first
        page's resourceVersion: a watch started from it replays whatever
        changed meanwhile, so an informer never misses a change.
        """
        filt = self.filter(rt, namespace, label_selector, field_selector)
        start: tuple[str, str] | None = None
        rv = self.cache.revision
        if continue_token:
            try:
                tok = orjson.loads(base64.urlsafe_b64decode(continue_token.encode()))
                rv = int(tok["rv"])
                start = (str(tok["start"][0]), str(tok["start"][1]))
            except Exception:
                raise errors.bad_request("continue key is not valid: illegal base64 data") from None
        entries, last = self.cache.select(rt.key, filt, start_after=start, limit=limit)
        token = None
        if last is not None:
            token = base64.urlsafe_b64encode(orjson.dumps({"rv": rv, "start": list(last)})).decode()
        return entries, rv, token

    def filter(
        self, rt: ResourceType, namespace: str | None, labels: LabelSelector | None, fields: FieldSelector | None
    ) -> Filter:
        matcher = field_matcher(fields, rt.field_readers)
        if labels is not None and labels.empty:
            labels = None
        ns = namespace if (rt.namespaced and namespace) else None
        return Filter(ns, labels, matcher)

    # -- update ----------------------------------------------------------------
    async def update(
        self, rt: ResourceType, namespace: str | None, name: str, body: Any, *, subresource: str | None = None,
        dry_run: bool = False, field_validation: str | None = None, manager: str = "",
    ) -> Result:
        mode = _validation_mode(field_validation)
        obj, warnings = self._decode(rt, body, mode)
        ns = self._ns(rt, namespace)
        meta = obj.setdefault("metadata", {})
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        meta["name"] = name
        if rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != ns:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = ns
        for _ in range(UPDATE_RETRIES):
            current = self.cache.get(rt.key, ns, name)
            if current is None:
                if rt.allow_create_on_update and subresource is None:
                    meta.pop("resourceVersion", None)
                    return await self.create(rt, namespace, obj, dry_run=dry_run, field_validation="Ignore",
                                             manager=manager)
                raise errors.not_found(rt.plural, name, rt.group)
            unconditional = _update_precondition(rt, name, meta.get("resourceVersion")) is None
            attempt = obj
            if unconditional:  # over whatever is stored now; a fresh copy, as admission may have changed obj
                attempt = copy.deepcopy(obj)
                attempt["metadata"]["resourceVersion"] = str(current.revision)
            elif int(meta["resourceVersion"]) != current.revision:
                raise errors.conflict(rt.plural, name, rt.group)
            try:
                res = await self._write_update(rt, current, attempt, subresource=subresource, dry_run=dry_run,
                                               manager=manager)
            except StatusError as e:
                # GuaranteedUpdate: an unconditional update that lost a race to another write is
                # retried on the state that won; only a precondition the client set answers 409.
                if e.reason == "Conflict" and unconditional and not (e.details or {}).get("causes") \
                        and await self._lost_race(rt, ns, name, current.revision):
                    continue
                raise
            res.warnings = (*warnings, *res.warnings)
            return res
        raise errors.conflict(rt.plural, name, rt.group)

    async def _lost_race(self, rt: ResourceType, ns: str, name: str, revision: int) -> bool:
        """Whether a Conflict on an object read at ``revision`` was a race lost to another write of it.

        Only then is an unconditional update retried: a conflict on anything else (a hook's write)
        is the client's answer, as before. With a shared database the winner may be another server's
        write that this cache has not yet: it is brought up to the database's revision first.
        """
        again = self.cache.get(rt.key, ns, name)
        if again is not None and again.revision == revision and self.store.shared:
            await self.store.fresh_revision()
            again = self.cache.get(rt.key, ns, name)
        return again is None or again.revision != revision

    async def _write_update(
        self, rt: ResourceType, current: Entry, obj: dict[str, Any], *, subresource: str | None, dry_run: bool,
        manager: str = "", managed_fields: list[dict[str, Any]] | None = None,
    ) -> Result:
        old = current.obj
        if subresource is None:
            for plugin in self.plugins.get(rt.key, ()):
                await plugin(obj, old, current.obj.get("metadata", {}).get("namespace") or "")
        new = self.prepare_for_update(rt, obj, old, subresource=subresource)
        # WarningsOnUpdate: answered whether or not anything is written
        warns = () if subresource else tuple(ADMISSION[rt.key].warnings_on_update(new, old))
        meta = new["metadata"]
        # managedFields (apiserver.apply): recorded for this write's manager, given by an apply,
        # or kept as they were for internal writes.
        if managed_fields is not None:
            _set_managed_fields(new, managed_fields)
        else:
            recorded = record_update(rt, old, new, manager=manager, subresource=subresource or "") if manager else None
            if recorded is not None:
                _set_managed_fields(new, recorded)
            elif "managedFields" not in meta and "managedFields" in (old.get("metadata") or {}):
                meta["managedFields"] = old["metadata"]["managedFields"]
        # An unchanged object is not written again, unless its stored form was read with an older
        # encryption key: then the rewrite is what rotates it (kube's stale transform).
        if _same(new, old) and not self.store.is_stale(rt.key, self._ns(rt, meta.get("namespace")), meta["name"]):
            return Result(old, warnings=warns)
        if dry_run:
            return Result(new, warnings=warns)
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and not meta.get("deletionGracePeriodSeconds") \
                and not (new.get("spec") or {}).get("finalizers"):
            # ShouldDeleteDuringUpdate: the last finalizer is gone (and no graceful deletion, and for a
            # namespace no spec.finalizers either): the object is deleted now.
            await self._commit(rt, [Op("DELETED", rt.key, self._ns(rt, meta.get("namespace")), meta["name"], new,
                                       current.revision)])
            return Result(new, warnings=warns)
        ops = [Op("MODIFIED", rt.key, self._ns(rt, meta.get("namespace")), meta["name"], new, current.revision),
               *self._hook_ops(rt, new)]
        await self._commit_with_hooks(rt, new, ops)
        return Result(new, warnings=warns)

    def prepare_for_update(
        self, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any], *, subresource: str | None
    ) -> dict[str, Any]:
        """Admission for an update: what the request may change, defaults, validation.

        /status changes only status (ResetObjectMetaForStatus: metadata and
        spec are the stored object's); the main resource keeps the stored
        status and the server-owned metadata.
        """
        adm = ADMISSION[rt.key]
        if subresource == "finalize":
            # FinalizeStrategy: only spec (a namespace's finalizers) changes; status and metadata stay.
            new = copy.deepcopy(old)
            new["spec"] = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
            self._raise_invalid(rt, new, old, adm.validate_finalize_update(new, old))
            return new
        if subresource == "status":
            new = copy.deepcopy(old)
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
            self._raise_invalid(rt, new, old, adm.validate_status_update(new, old))
            return new
        new = obj
        meta = new.setdefault("metadata", {})
        old_meta = old.get("metadata") or {}
        meta.setdefault("resourceVersion", old_meta.get("resourceVersion"))
        self._raise_invalid(rt, new, old, adm.admit_update(new, old))
        for k in ("creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
            if k in old_meta:
                meta[k] = old_meta[k]
            else:
                meta.pop(k, None)
        if "status" in rt.subresources:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        if _spec_of(new) != _spec_of(_adopt_filled(old, new, rt.filled_after_create)):
            meta["generation"] = int(old_meta.get("generation") or 1) + 1
        return new

    # -- patch -----------------------------------------------------------------
    async def patch(
        self, rt: ResourceType, namespace: str | None, name: str, patch_type: str, raw: bytes, *,
        subresource: str | None = None, dry_run: bool = False, field_validation: str | None = None,
        force: bool = False, manager: str = "",
    ) -> Result:
        mode = _validation_mode(field_validation)
        if patch_type == "apply":
            return await self._apply(rt, namespace, name, raw, subresource=subresource, dry_run=dry_run,
                                     force=force, manager=manager)
        try:
            patch = orjson.loads(raw)
        except Exception as e:
            raise errors.bad_request(f"error decoding patch: {e}") from None
        ns = self._ns(rt, namespace)
        for _ in range(PATCH_RETRIES):
            current = self.cache.get(rt.key, ns, name)
            if current is None:
                raise errors.not_found(rt.plural, name, rt.group)
            base = copy.deepcopy(current.obj)
            if patch_type == "json":
                patched = json_patch(base, patch)
            elif patch_type == "merge":
                patched = merge_patch(base, patch)
            elif patch_type == "strategic":
                if not isinstance(patch, dict):
                    raise errors.bad_request("strategic merge patch must be a JSON object")
                patched = strategic_merge_patch(base, patch, schema=rt.key)
            else:
                raise errors.unsupported_media_type(patch_type, [])
            if not isinstance(patched, dict):
                raise errors.bad_request("the patch did not produce an object")
            # The patch pins a version only by changing metadata.resourceVersion: to N (a precondition),
            # or to ""/"0"/null (an unconditional update, or 422 for kinds that do not allow one).
            pmeta = patched.setdefault("metadata", {})
            pinned = False
            if str(pmeta.get("resourceVersion") or "") != str(current.revision):
                pinned = _update_precondition(rt, name, pmeta.get("resourceVersion")) is not None
            if not pinned:
                pmeta["resourceVersion"] = str(current.revision)
            obj, warnings = self._decode(rt, patched, mode)
            meta = obj.setdefault("metadata", {})
            if meta.get("name") != name:
                raise errors.bad_request(f"the name of the object ({meta.get('name')}) does not match the name on "
                                         f"the URL ({name})")
            if pinned and int(meta["resourceVersion"]) != current.revision:
                raise errors.conflict(rt.plural, name, rt.group)
            try:
                res = await self._write_update(rt, current, obj, subresource=subresource, dry_run=dry_run,
                                               manager=manager)
            except StatusError as e:
                if e.reason == "Conflict" and not pinned:
                    await asyncio.sleep(0)
                    continue
                raise
            res.warnings = (*warnings, *res.warnings)
            return res
        raise errors.conflict(rt.plural, name, rt.group)

    async def _apply(
        self, rt: ResourceType, namespace: str | None, name: str, raw: bytes, *, subresource: str | None,
        dry_run: bool, force: bool, manager: str,
    ) -> Result:
        """PATCH application/apply-patch+yaml: server-side apply (apiserver.apply), creating when missing."""
        try:
            config = yaml.safe_load(raw)
        except yaml.YAMLError as e:
            raise errors.bad_request(f"error decoding YAML: {e}") from None
        if not isinstance(config, dict):
            raise errors.bad_request("error decoding YAML: the apply configuration must be an object")
        ns = self._ns(rt, namespace)
        raw_meta = config.get("metadata")
        meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL "
                                     f"({name})")
        if rt.namespaced and meta.get("namespace") and meta["namespace"] != ns:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        decoded, unknown = decode(rt.key, {k: v for k, v in config.items() if k not in ("apiVersion", "kind")})
        apply_mod.check_config(rt, config, unknown=unknown)
        decoded = {"apiVersion": rt.api_version, "kind": rt.kind, **decoded}
        dmeta = decoded.setdefault("metadata", {})
        dmeta["name"] = name
        if rt.namespaced:
            dmeta["namespace"] = ns
        pinned = str(dmeta.pop("resourceVersion", "") or "")
        for _ in range(PATCH_RETRIES):
            current = self.cache.get(rt.key, ns, name)
            if current is None:
                if subresource is not None:
                    raise errors.not_found(rt.plural, name, rt.group)
                created = apply_mod.apply(rt, None, decoded, manager=manager, force=force, raw_config=config)
                return await self.create(rt, namespace, created.obj, dry_run=dry_run, field_validation="Ignore")
            if pinned and _update_precondition(rt, name, pinned) is not None and pinned != str(current.revision):
                raise errors.conflict(rt.plural, name, rt.group)
            applied = apply_mod.apply(rt, current.obj, decoded, manager=manager, force=force,
                                      subresource=subresource or "", raw_config=config)
            obj = applied.obj
            obj.setdefault("metadata", {})["resourceVersion"] = str(current.revision)
            managed = obj["metadata"].get("managedFields") or []
            try:
                return await self._write_update(rt, current, obj, subresource=subresource, dry_run=dry_run,
                                                managed_fields=managed)
            except StatusError as e:
                if e.reason == "Conflict" and not pinned and not (e.details or {}).get("causes"):
                    await asyncio.sleep(0)
                    continue
                raise
        raise errors.conflict(rt.plural, name, rt.group)

    # -- binding -----------------------------------------------------------
    async def bind(self, namespace: str, name: str, body: Any, *, dry_run: bool = False) -> Result:
        """pods/binding: the scheduler's way to set spec.nodeName (once)."""
        pods = BY_KEY["pods"]
        if not isinstance(body, dict) or not isinstance(body.get("target"), dict):
            raise errors.invalid_object("Binding", name, [errors.required("target")])
        if errs := validate_binding(body):
            raise errors.invalid_object("Binding", name, errs)
        node = str(body["target"]["name"])
        for _ in range(PATCH_RETRIES):
            current = self.get_entry(pods, namespace, name)
            old = current.obj
            if (old.get("metadata") or {}).get("deletionTimestamp"):
                raise errors.conflict(pods.plural, name, "", f"pod {name} is being deleted, cannot be assigned to a host")
            assigned = (old.get("spec") or {}).get("nodeName")
            if assigned:
                raise errors.conflict(pods.plural, name, "", f'pod {name} is already assigned to node "{assigned}"')
            new = copy.deepcopy(old)
            new.setdefault("spec", {})["nodeName"] = node
            conds = [c for c in (new.setdefault("status", {}).get("conditions") or []) if c.get("type") != "PodScheduled"]
            conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                          "lastTransitionTime": format_time()})
            new["status"]["conditions"] = conds
            if dry_run:
                break
            try:
                await self._commit(pods, [Op("MODIFIED", pods.key, namespace, name, new, current.revision)])
            except StatusError as e:
                if e.reason == "Conflict":
                    continue
                raise
            break
        return Result({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201},
                      201)

    # -- delete ----------------------------------------------------------------
    async def delete(
        self, rt: ResourceType, namespace: str | None, name: str, options: dict[str, Any] | None = None, *,
        dry_run: bool = False, with_ops: Callable[[Entry], list[Op]] | None = None,
    ) -> Result:
        """DELETE with its preconditions. ``with_ops``, given the object as this attempt reads it, returns
        further writes committed in the delete's own transaction (an eviction's PodDisruptionBudget status), or
        raises to refuse the delete; it is asked again on every retry."""
        options = options or {}
        ns = self._ns(rt, namespace)
        guard = self.delete_guards.get(rt.key)
        if guard is not None:
            guard(name)
        for _ in range(PATCH_RETRIES):
            current = self.get_entry(rt, ns, name)
            old = current.obj
            meta = old.get("metadata") or {}
            pre = options.get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != meta.get("uid"):
                raise errors.conflict(
                    rt.plural, name, rt.group,
                    f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: {meta.get('uid')}",
                )
            if pre.get("resourceVersion") and str(pre["resourceVersion"]) != str(current.revision):
                raise errors.conflict(
                    rt.plural, name, rt.group,
                    f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, "
                    f"ResourceVersion in object meta: {current.revision}",
                )
            try:
                extra = with_ops(current) if with_ops is not None else []
                return await self._delete_once(rt, ns, current, options, dry_run=dry_run, extra=extra)
            except StatusError as e:
                if e.reason == "Conflict" and not pre:
                    continue
                raise
        raise errors.conflict(rt.plural, name, rt.group)

    def _grace_period(self, rt: ResourceType, old: dict[str, Any], options: dict[str, Any]) -> int:
        if not rt.graceful_deletion:
            return 0
        spec = old.get("spec") or {}
        status = old.get("status") or {}
        if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
            return 0
        g = options.get("gracePeriodSeconds")
        if g is None:
            g = spec.get("terminationGracePeriodSeconds", 30)
        return max(0, int(g))

    async def _delete_once(
        self, rt: ResourceType, ns: str, current: Entry, options: dict[str, Any], *, dry_run: bool,
        extra: list[Op] | None = None,
    ) -> Result:
        old = current.obj
        meta = old.get("metadata") or {}
        name = meta["name"]
        grace = self._grace_period(rt, old, options)
        graceful = grace > 0 and rt.graceful_deletion
        finalizers = _gc_finalizers(rt, meta, options)
        if finalizers is not None and not meta.get("deletionTimestamp"):
            old = copy.deepcopy(old)
            old["metadata"]["finalizers"] = finalizers
            meta = old["metadata"]
        if meta.get("finalizers") or graceful or rt.terminating_on_delete:
            existing = meta.get("deletionGracePeriodSeconds")
            if meta.get("deletionTimestamp") and (existing is None or grace >= int(existing)):
                return Result(old)  # already terminating; a longer grace never extends it
            if not (meta.get("deletionTimestamp") and grace == 0 and not meta.get("finalizers")):
                new = copy.deepcopy(old)
                nm = new["metadata"]
                # as kube-apiserver: the moment the object should be gone (now + grace)
                nm.setdefault("deletionTimestamp", rfc3339_after(grace))
                nm["deletionGracePeriodSeconds"] = grace
                if rt.terminating_on_delete:
                    new.setdefault("status", {})["phase"] = "Terminating"
                if not dry_run:
                    await self._commit(rt, [Op("MODIFIED", rt.key, ns, name, new, current.revision), *(extra or [])])
                return Result(new)
        if dry_run:
            return Result(old if rt.return_deleted else self._success(rt, old))
        final = copy.deepcopy(old)
        await self._commit(rt, [Op("DELETED", rt.key, ns, name, final, current.revision), *(extra or [])])
        return Result(final if rt.return_deleted else self._success(rt, final))

    def _success(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        details: dict[str, Any] = {"name": meta.get("name", ""), "kind": rt.plural, "uid": meta.get("uid", "")}
        if rt.group:
            details["group"] = rt.group
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}

    async def delete_collection(
        self, rt: ResourceType, namespace: str | None, *, label_selector: LabelSelector | None,
        field_selector: FieldSelector | None, options: dict[str, Any] | None = None, dry_run: bool = False,
    ) -> list[dict[str, Any]]:
        entries, _, _ = self.list_entries(rt, namespace, label_selector=label_selector, field_selector=field_selector)
        out: list[dict[str, Any]] = []
        for e in entries:
            meta = e.obj["metadata"]
            try:
                res = await self.delete(rt, meta.get("namespace"), meta["name"], options, dry_run=dry_run)
            except StatusError as err:
                if err.code == 404:
                    continue
                raise
            out.append(res.obj if res.obj.get("kind") != "Status" else e.obj)
        return out

def _adopt_filled(old: dict[str, Any], new: dict[str, Any], paths: tuple[str, ...]) -> dict[str, Any]:
    """``old`` with each of ``paths`` that is empty there but set in ``new`` taken from ``new``.

    Why: kube-apiserver fills a Service's ClusterIPs and node ports inside the
    create, at generation 1; kubelite's allocators fill them a moment later, and
    that fill must not count as a spec change (generation stays 1). A change of
    a value that was already set still counts.
    """
    if not paths:
        return old
    out = copy.deepcopy(old)
    for path in paths:
        _adopt(out, new, path.split("."))
    return out


def _adopt(old: Any, new: Any, parts: list[str]) -> None:
    if not isinstance(old, dict) or not isinstance(new, dict):
        return
    head, rest = parts[0], parts[1:]
    if head.endswith("[]"):
        a, b = old.get(head[:-2]), new.get(head[:-2])
        if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for x, y in zip(a, b, strict=True):
                _adopt(x, y, rest)
        return
    if rest:
        _adopt(old.get(head), new.get(head), rest)
    elif old.get(head) in (None, "", [], 0) and new.get(head) not in (None, "", [], 0):
        old[head] = copy.deepcopy(new[head])


def _update_precondition(rt: ResourceType, name: str, rv: Any) -> int | None:
    """The resourceVersion an update must meet, or None for an unconditional update.

    As kube-apiserver's Store.Update: the version is parsed as an unsigned
    integer, so "" (absent) and "0" are both 0, which means "unconditional"
    for kinds whose strategy allows it and a 422 for the others (Leases).
    """
    text = "" if rv is None else str(rv)
    if text and not (text.isascii() and text.isdigit()):
        raise errors.invalid_object("", "", [errors.invalid(
            "resourceVersion", text, f"strconv.ParseUint: parsing {json.dumps(text)}: invalid syntax")])
    version = int(text or "0")
    if version:
        return version
    if rt.allow_unconditional_update:
        return None
    raise errors.invalid_object(rt.plural, name, [errors.invalid("metadata.resourceVersion", GoValue("0x0"),
                                                                 "must be specified for an update")], rt.group)


def _gc_finalizers(rt: ResourceType, meta: dict[str, Any], options: dict[str, Any]) -> list[str] | None:
    """deletionFinalizersForGarbageCollection: the finalizers a propagationPolicy asks for, or None if unchanged.

    Orphan adds "orphan", Foreground adds "foregroundDeletion", Background
    (the apps/v1 default) removes both; an explicit orphanDependents counts
    as Orphan or Background.
    """
    if not rt.gc_finalizers:
        return None
    policy = options.get("propagationPolicy")
    if policy is None and isinstance(options.get("orphanDependents"), bool):
        policy = "Orphan" if options["orphanDependents"] else "Background"
    current = [f for f in meta.get("finalizers") or [] if isinstance(f, str)]
    if policy is None:
        return None
    wanted = [f for f in current if f not in (ORPHAN_FINALIZER, FOREGROUND_FINALIZER)]
    if policy == "Orphan":
        wanted.append(ORPHAN_FINALIZER)
    elif policy == "Foreground":
        wanted.append(FOREGROUND_FINALIZER)
    return None if set(wanted) == set(current) else wanted


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal ignoring resourceVersion: such an update is a no-op, as in Kubernetes."""
    ma = {k: v for k, v in (a.get("metadata") or {}).items() if k != "resourceVersion"}
    mb = {k: v for k, v in (b.get("metadata") or {}).items() if k != "resourceVersion"}
    if ma != mb:
        return False
    return {k: v for k, v in a.items() if k != "metadata"} == {k: v for k, v in b.items() if k != "metadata"}


def _set_managed_fields(obj: dict[str, Any], managed: list[dict[str, Any]] | None) -> None:
    """Store managedFields on ``obj``: None leaves them as they are, [] removes them."""
    if managed is None:
        return
    meta = obj.setdefault("metadata", {})
    if managed:
        meta["managedFields"] = managed
    else:
        meta.pop("managedFields", None)
