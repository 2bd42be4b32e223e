"""Strategic merge patch, computed (client side): the two- and three-way patches that
``kubectl apply`` and ``kubectl edit`` send, as strategicpatch's CreateTwoWayMergePatch and
CreateThreeWayMergePatch compute them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from apimachinery.kinds.base import MERGE
from apimachinery.patch.common import (
    _MAP,
    DELETE,
    DELETE_FROM_PRIMITIVE_LIST,
    DIRECTIVE,
    REPLACE,
    RETAIN_KEYS,
    SET_ELEMENT_ORDER,
    PatchError,
    _bad_arg_type,
    _copy,
    _go_type,
    _go_v,
    _no_merge_key,
    _same,
    _Schema,
    _schema,
    _sorted_copy,
)
from apimachinery.patch.strategic import (
    _CLIENT,
    _dedup_scalars,
    _element_kind,
    _merge_key_equal,
    _merge_map,
    _normalize_slice_order,
)

# --- strategic merge patch: diff (client side, what kubectl computes) --------


@dataclass(frozen=True)
class _DiffOptions:
    set_element_order: bool = False
    ignore_changes_and_additions: bool = False
    ignore_deletions: bool = False
    build_retain_keys_directive: bool = False


def two_way_merge_patch(original: dict[str, Any], modified: dict[str, Any], *, schema: str) -> dict[str, Any]:
    """CreateTwoWayMergePatch: the strategic merge patch turning ``original`` into ``modified``.

    What ``kubectl edit`` sends. Empty dict when they are equal.
    """
    table = _schema(schema)
    patch = _diff_maps(_copy(original), _copy(modified), schema=table, opts=_DiffOptions(set_element_order=True))
    result: dict[str, Any] = _sorted_copy(patch)
    return result


def three_way_merge_patch(
    original: dict[str, Any] | None, modified: dict[str, Any], current: dict[str, Any], *, schema: str
) -> dict[str, Any]:
    """CreateThreeWayMergePatch with overwrite, as client-side ``kubectl apply`` sends it.

    ``original`` is the last-applied configuration (None when the object has
    none), ``modified`` the new configuration, ``current`` the live object.
    The patch deletes what ``original`` had and ``modified`` dropped (nulls,
    ``{"$patch": "delete", <key>: v}`` items, ``$deleteFromPrimitiveList``),
    adds or changes what differs between ``current`` and ``modified``, and
    orders merge lists with ``$setElementOrder``; fields only the server set
    are left alone. Empty dict when there is nothing to do. Keys are in
    json.Marshal order. Raises PatchError on malformed input.
    """
    table = _schema(schema)
    mod = _copy(modified)
    delta = _diff_maps(
        _copy(current), mod, schema=table, opts=_DiffOptions(set_element_order=True, ignore_deletions=True)
    )
    deletions = _diff_maps(
        _copy(original) if original is not None else {},
        mod,
        schema=table,
        opts=_DiffOptions(set_element_order=True, ignore_changes_and_additions=True),
    )
    patch = _merge_map(deletions, delta, schema=table, opts=_CLIENT)
    result: dict[str, Any] = _sorted_copy(patch)
    return result


def _diff_maps(
    original: dict[str, Any], modified: dict[str, Any], *, schema: _Schema, opts: _DiffOptions
) -> dict[str, Any]:
    """diffMaps: the (recursive) patch that yields ``modified`` from ``original``."""
    patch: dict[str, Any] = {}
    retain: list[Any] = []
    changes = not opts.ignore_changes_and_additions
    for key, mod_v in modified.items():
        if opts.build_retain_keys_directive and mod_v is not None:
            retain.append(key)
        if key not in original:
            if changes:
                patch[key] = mod_v
            continue
        orig_v = original[key]
        if key == DIRECTIVE:
            if not isinstance(orig_v, str) or not isinstance(mod_v, str):
                raise PatchError(f"invalid value for special key: {DIRECTIVE}")
            if mod_v != orig_v:
                patch[key] = mod_v
            continue
        if _go_type(orig_v) != _go_type(mod_v):
            if changes:
                patch[key] = mod_v
            continue
        if isinstance(orig_v, dict):
            _diff_map_field(orig_v, mod_v, key=key, patch=patch, schema=schema, opts=opts)
        elif isinstance(orig_v, list):
            _diff_list_field(orig_v, mod_v, key=key, patch=patch, schema=schema, opts=opts)
        elif changes and not _same(orig_v, mod_v):
            patch[key] = mod_v
    if not opts.ignore_deletions:
        for key in original:
            if key not in modified:
                patch[key] = None
    if retain and (patch or any(v is not None and k not in modified for k, v in original.items())):
        patch[RETAIN_KEYS] = sorted(retain, key=_go_v)
    return patch


def _diff_map_field(
    original: dict[str, Any],
    modified: dict[str, Any],
    *,
    key: str,
    patch: dict[str, Any],
    schema: _Schema,
    opts: _DiffOptions,
) -> None:
    """handleMapDiff: recurse, unless the field is replaced whole."""
    meta = schema.meta(key)
    sub = dataclasses.replace(opts, build_retain_keys_directive=meta.retain_keys)
    if meta.strategy == REPLACE:
        if not opts.ignore_changes_and_additions:
            patch[key] = modified
        return
    value = _diff_maps(original, modified, schema=schema.child(key), opts=sub)
    if value:
        patch[key] = value


def _diff_list_field(
    original: list[Any],
    modified: list[Any],
    *,
    key: str,
    patch: dict[str, Any],
    schema: _Schema,
    opts: _DiffOptions,
) -> None:
    """handleSliceDiff: merge lists get item patches and parallel directive lists."""
    meta = schema.meta(key)
    if meta.strategy != MERGE:
        if not opts.ignore_changes_and_additions and not _same(original, modified):
            patch[key] = modified
        return
    sub = dataclasses.replace(opts, build_retain_keys_directive=meta.retain_keys)
    additions, deletions, order = _diff_lists(
        original, modified, schema=schema.child(key), merge_key=meta.merge_key, opts=sub
    )
    if additions:
        patch[key] = additions
    if deletions:
        patch[f"{DELETE_FROM_PRIMITIVE_LIST}/{key}"] = deletions
    if order:
        patch[f"{SET_ELEMENT_ORDER}/{key}"] = order


def _diff_lists(
    original: list[Any], modified: list[Any], *, schema: _Schema, merge_key: str, opts: _DiffOptions
) -> tuple[list[Any], list[Any], list[Any]]:
    """diffLists: (patch list, primitive deletion list, $setElementOrder list)."""
    changes = not opts.ignore_changes_and_additions
    deletes = not opts.ignore_deletions
    if not original:
        if not modified or not changes:
            return [], [], []
        return modified, [], []
    kind = _element_kind(original, modified)
    order: list[Any] = []
    if kind == _MAP:
        items, removed = _diff_lists_of_maps(original, modified, schema=schema, merge_key=merge_key, opts=opts)
        items = _normalize_slice_order(items, modified, merge_key=merge_key, kind=kind)
        same_order = _is_order_same(original, modified, merge_key=merge_key)
        items = items + removed
        if opts.set_element_order and ((changes and (items or not same_order)) or (deletes and items)):
            order = [{merge_key: v[merge_key]} for v in modified]
        return items, [], order
    additions, deletions = _diff_lists_of_scalars(original, modified, opts=opts)
    additions = _normalize_slice_order(additions, modified, merge_key=merge_key, kind=kind)
    # Go sorted ``original`` in place above, so an unsorted but unchanged list
    # still differs here and gets a $setElementOrder (kubectl does the same).
    if opts.set_element_order and ((deletes and deletions) or (changes and not _same(original, modified))):
        order = modified
    return additions, deletions, order


def _is_order_same(original: list[Any], modified: list[Any], *, merge_key: str) -> bool:
    if len(original) != len(modified):
        return False
    return all(_merge_key_equal(o, m, merge_key=merge_key) for o, m in zip(original, modified, strict=True))


def _diff_lists_of_scalars(
    original: list[Any], modified: list[Any], *, opts: _DiffOptions
) -> tuple[list[Any], list[Any]]:
    """diffListsOfScalars: walk both lists sorted by their %v text."""
    original.sort(key=_go_v)  # in place, as Go's sortScalars(original)
    mod = sorted(modified, key=_go_v)
    additions: list[Any] = []
    deletions: list[Any] = []
    oi = mi = 0
    while oi < len(original) or mi < len(mod):
        o_in, m_in = oi < len(original), mi < len(mod)
        o_s = _go_v(original[oi]) if o_in else ""
        m_s = _go_v(mod[mi]) if m_in else ""
        if o_in and m_in and o_s == m_s:
            oi += 1
            mi += 1
        elif not o_in or (m_in and o_s > m_s):
            if not opts.ignore_changes_and_additions:
                additions.append(mod[mi])
            mi += 1
        else:
            if not opts.ignore_deletions:
                deletions.append(original[oi])
            oi += 1
    return additions, _dedup_scalars(deletions)


def _keyed(items: list[Any], index: int, *, merge_key: str) -> tuple[dict[str, Any], Any]:
    item = items[index]
    if not isinstance(item, dict):
        raise _bad_arg_type(_MAP, item)
    if merge_key not in item:
        raise _no_merge_key(item, merge_key)
    return item, item[merge_key]


def _diff_lists_of_maps(
    original: list[Any], modified: list[Any], *, schema: _Schema, merge_key: str, opts: _DiffOptions
) -> tuple[list[Any], list[Any]]:
    """diffListsOfMaps: walk both lists sorted by merge-key text; recurse into matches."""
    def by_key(v: Any) -> str:
        return _go_v(v.get(merge_key)) if isinstance(v, dict) else ""

    orig = sorted(original, key=by_key)
    mod = sorted(modified, key=by_key)
    patch: list[Any] = []
    deletions: list[Any] = []
    oi = mi = 0
    while oi < len(orig) or mi < len(mod):
        o_in, m_in = oi < len(orig), mi < len(mod)
        o_item: dict[str, Any] = {}
        m_item: dict[str, Any] = {}
        o_val = m_val = None
        o_s = m_s = ""
        if o_in:
            o_item, o_val = _keyed(orig, oi, merge_key=merge_key)
            o_s = _go_v(o_val)
        if m_in:
            m_item, m_val = _keyed(mod, mi, merge_key=merge_key)
            m_s = _go_v(m_val)
        if o_in and m_in and o_s == m_s:
            value = _diff_maps(o_item, m_item, schema=schema, opts=opts)
            if value:
                patch.append({merge_key: m_val, **value})
            oi += 1
            mi += 1
        elif not o_in or (m_in and o_s > m_s):
            if not opts.ignore_changes_and_additions:
                patch.append(m_item)
            mi += 1
        else:
            if not opts.ignore_deletions:
                deletions.append({DIRECTIVE: DELETE, merge_key: o_val})
            oi += 1
    return patch, deletions
