"""Strategic merge patch, applied (server side): the PATCH body ``kubectl edit`` and
``kubectl patch`` send, merged as k8s.io/apimachinery/pkg/util/strategicpatch does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apimachinery.errors import bad_request
from apimachinery.kinds.base import MERGE, PatchMeta
from apimachinery.patch.common import (
    _MAP,
    _SLICE,
    DELETE,
    DELETE_FROM_PRIMITIVE_LIST,
    DIRECTIVE,
    ERR_NO_LIST_OF_LISTS,
    ERR_PRIMITIVE_LIST,
    ERR_RETAIN_KEYS,
    ERR_SET_ELEMENT_ORDER,
    REPLACE,
    RETAIN_KEYS,
    SET_ELEMENT_ORDER,
    PatchError,
    _bad_arg_type,
    _bad_patch_type,
    _contains,
    _copy,
    _go_type,
    _go_v,
    _no_merge_key,
    _same,
    _Schema,
    _schema,
    json_type,
)
from apimachinery.patch.merge import _check_decodes

# --- strategic merge patch: apply (server side) ------------------------------


@dataclass(frozen=True)
class _MergeOptions:
    """MergeOptions: server-side apply merges parallel lists and drops unmatched nulls."""

    merge_parallel_list: bool
    ignore_unmatched_nulls: bool


_SERVER = _MergeOptions(merge_parallel_list=True, ignore_unmatched_nulls=True)
_CLIENT = _MergeOptions(merge_parallel_list=False, ignore_unmatched_nulls=False)


def check_strategic_patch(patch: Any) -> None:
    """kube-apiserver decodes a strategic merge patch into a map first: anything else is a 400."""
    if not isinstance(patch, dict):
        raise bad_request(f"json: cannot unmarshal {json_type(patch)} into Go value of type map[string]interface {{}}")


def strategic_merge_patch(original: dict[str, Any], patch: Any, *, schema: str) -> dict[str, Any]:
    """Apply an ``application/strategic-merge-patch+json`` body to ``original``.

    ``schema`` is a resource key of apimachinery.resources (``services``,
    ``leases.coordination.k8s.io``); it selects the patch metadata.
    Semantics are StrategicMergeMapPatch's; errors are mapped as
    kube-apiserver's interpretStrategicMergePatchError does. Directive keys
    left over in the result (e.g. a ``$setElementOrder/x`` inside a map the
    live object lacked) are dropped, as decoding into the typed object drops
    them on kube-apiserver.
    """
    table = _schema(schema)
    if patch is None:
        patch = {}
    check_strategic_patch(patch)
    try:
        merged = _merge_map(_copy(original), _copy(patch), schema=table, opts=_SERVER)
    except PatchError as err:
        raise err.status_error() from err
    result: dict[str, Any] = _drop_directive_keys(merged)
    _check_decodes(result, original, shown=lambda: _go_v(patch), strategic=True)
    return result


def _is_directive_key(key: str) -> bool:
    return (
        key in (DIRECTIVE, RETAIN_KEYS)
        or key.startswith(SET_ELEMENT_ORDER + "/")
        or key.startswith(DELETE_FROM_PRIMITIVE_LIST + "/")
    )


def _drop_directive_keys(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _drop_directive_keys(x) for k, x in v.items() if not _is_directive_key(k)}
    if isinstance(v, list):
        return [_drop_directive_keys(x) for x in v]
    return v


def _merge_map(
    original: dict[str, Any] | None, patch: dict[str, Any], *, schema: _Schema, opts: _MergeOptions
) -> dict[str, Any]:
    """mergeMap: merge ``patch`` into ``original`` (both are consumed)."""
    if DIRECTIVE in patch:
        return _map_directive(patch[DIRECTIVE], patch)
    if original is None:
        original = {}
    _apply_retain_keys(original, patch, opts=opts)
    _merge_set_element_order(original, patch, schema=schema, opts=opts)
    for key, patch_v in list(patch.items()):
        k = key
        is_delete_list = False
        if key.startswith(DELETE_FROM_PRIMITIVE_LIST):
            if not opts.merge_parallel_list:
                original[key] = patch_v
                continue
            k = _extract_key(key, DELETE_FROM_PRIMITIVE_LIST)
            is_delete_list = True
        if patch_v is None:
            original.pop(k, None)
            if opts.ignore_unmatched_nulls:
                continue
        if k not in original or _go_type(original[k]) != _go_type(patch_v):
            if not is_delete_list:
                _adopt(original, k, value=patch_v, opts=opts)
            continue
        orig_v = original[k]
        meta = schema.meta(k)
        if isinstance(orig_v, dict):
            if meta.strategy == REPLACE:
                original[k] = patch_v
            else:
                original[k] = _merge_map(orig_v, patch_v, schema=schema.child(k), opts=opts)
        elif isinstance(orig_v, list):
            original[k] = _merge_slice_handler(
                orig_v, patch_v, schema=schema.child(k), meta=meta, is_delete_list=is_delete_list, opts=opts
            )
        else:
            original[k] = patch_v
    return original


def _adopt(original: dict[str, Any], key: str, *, value: Any, opts: _MergeOptions) -> None:
    """Take the patch value where the original has none (or another type)."""
    if opts.ignore_unmatched_nulls:
        _discard_nulls(value)
    kept, keep = _remove_directives(value)
    if keep:
        original[key] = kept
    else:
        original.pop(key, None)


def _map_directive(directive: Any, patch: dict[str, Any]) -> dict[str, Any]:
    """handleDirectiveInMergeMap: only replace and delete are valid in a map."""
    if directive == REPLACE:
        del patch[DIRECTIVE]
        return patch
    if directive == DELETE:
        return {}
    raise _bad_patch_type(directive, patch)


def _discard_nulls(v: Any) -> None:
    if isinstance(v, dict):
        for k in [k for k, x in v.items() if x is None]:
            del v[k]
        for x in v.values():
            _discard_nulls(x)
    elif isinstance(v, list):
        for x in v:
            _discard_nulls(x)


def _remove_directives(obj: Any) -> tuple[Any, bool]:
    """removeDirectives: a map carrying ``$patch`` vanishes; returns (value, keep)."""
    if isinstance(obj, dict):
        if DIRECTIVE in obj:
            return None, False
        for k in list(obj):
            v, keep = _remove_directives(obj[k])
            if keep:
                obj[k] = v
            else:
                del obj[k]
        return obj, True
    if isinstance(obj, list):
        out = []
        for x in obj:
            v, keep = _remove_directives(x)
            if keep:
                out.append(v)
        return out, True
    return obj, True


def _extract_key(s: str, prefix: str) -> str:
    parts = s.split("/", 1)
    if len(parts) <= 1 or parts[0] != prefix:
        if prefix == DELETE_FROM_PRIMITIVE_LIST:
            raise PatchError(ERR_PRIMITIVE_LIST, kind="bad_request")
        if prefix == SET_ELEMENT_ORDER:
            raise PatchError(ERR_SET_ELEMENT_ORDER, kind="bad_request")
        raise PatchError(f'fail to find unknown prefix "{prefix}" in {s}')
    return parts[1]


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any], *, opts: _MergeOptions) -> None:
    """applyRetainKeysDirective: clear fields of original missing from ``$retainKeys``."""
    if RETAIN_KEYS not in patch:
        return
    retain = patch.pop(RETAIN_KEYS)
    if not opts.merge_parallel_list:
        if RETAIN_KEYS in original:
            if not _same(original[RETAIN_KEYS], retain):
                raise PatchError(
                    f"{_go_v(original[RETAIN_KEYS])} and {_go_v(retain)} are not deep equal: "
                    "this may happen when calculating the 3-way diff patch"
                )
        else:
            original[RETAIN_KEYS] = retain
        return
    if not isinstance(retain, list):
        raise PatchError(ERR_RETAIN_KEYS, kind="bad_request")
    allowed = {v for v in retain if isinstance(v, str)}
    for k, v in patch.items():
        if v is None or k.startswith(DELETE_FROM_PRIMITIVE_LIST) or k.startswith(SET_ELEMENT_ORDER):
            continue
        if k not in allowed:
            raise PatchError(ERR_RETAIN_KEYS, kind="bad_request")
    for k in [k for k in original if k not in allowed]:
        del original[k]


def _merge_set_element_order(
    original: dict[str, Any], patch: dict[str, Any], *, schema: _Schema, opts: _MergeOptions
) -> None:
    """mergePatchIntoOriginal: merge each list that has a ``$setElementOrder`` and order it.

    Precedence: the ``$setElementOrder`` list, then the order in the live list.
    """
    for key in [k for k in patch if k.startswith(SET_ELEMENT_ORDER)]:
        order = patch.pop(key)
        if not opts.merge_parallel_list:
            if key in original:
                if not _same(original[key], order):
                    raise PatchError(ERR_SET_ELEMENT_ORDER, kind="bad_request")
            else:
                original[key] = order
        if not isinstance(order, list):
            raise _bad_arg_type(_SLICE, order)
        list_key = _extract_key(key, SET_ELEMENT_ORDER)
        found_orig, found_patch = list_key in original, list_key in patch
        orig_list: list[Any] = []
        patch_list: list[Any] = []
        if found_orig:
            if not isinstance(original[list_key], list):
                raise _bad_arg_type(_SLICE, original[list_key])
            orig_list = original[list_key]
        if found_patch:
            if not isinstance(patch[list_key], list):
                raise _bad_arg_type(_SLICE, patch[list_key])
            patch_list = patch[list_key]
        meta = schema.meta(list_key)
        _validate_against_order(patch_list, order, merge_key=meta.merge_key)
        if found_orig and found_patch:
            merged = _merge_slice_handler(
                orig_list, patch_list, schema=schema.child(list_key), meta=meta, is_delete_list=False, opts=opts
            )
        elif found_orig:
            merged = orig_list
        elif found_patch:
            merged = _remove_directives(patch_list)[0]
        else:
            continue
        if meta.merge_key:
            patch_items, server_only = _partition_maps(merged, order, merge_key=meta.merge_key)
        else:
            patch_items, server_only = _partition_primitives(merged, order)
        kind = _element_kind(orig_list, patch_list)
        original[list_key] = _normalize_element_order(
            patch_items, server_only, patch_order=order, server_order=orig_list, merge_key=meta.merge_key, kind=kind
        )
        patch.pop(list_key, None)


def _validate_against_order(patch_list: list[Any], order: list[Any], *, merge_key: str) -> None:
    """validatePatchWithSetOrderList: patch items appear in ``order``, in the same relative order."""
    if not order or not patch_list:
        return
    items = _split_deletions(patch_list)[0] if merge_key else patch_list
    pi = si = 0
    while pi < len(items) and si < len(order):
        if isinstance(items[pi], dict) and DIRECTIVE in items[pi]:
            pi += 1
            continue
        if _merge_key_equal(items[pi], order[si], merge_key=merge_key):
            pi += 1
        si += 1
    if pi < len(items) and si >= len(order):
        raise PatchError(
            f"the order in patch list:\n{_go_v(patch_list)}\n doesn't match "
            f"{SET_ELEMENT_ORDER} list:\n{_go_v(order)}"
        )


def _merge_key_equal(left: Any, right: Any, *, merge_key: str) -> bool:
    if not merge_key:
        return _same(left, right)
    if not isinstance(left, dict):
        raise _bad_arg_type(_MAP, left)
    if not isinstance(right, dict):
        raise _bad_arg_type(_MAP, right)
    if merge_key not in left:
        raise _no_merge_key(left, merge_key)
    if merge_key not in right:
        raise _no_merge_key(right, merge_key)
    return _same(left[merge_key], right[merge_key])


def _merge_slice_handler(
    original: list[Any],
    patch: list[Any],
    *,
    schema: _Schema,
    meta: PatchMeta,
    is_delete_list: bool,
    opts: _MergeOptions,
) -> list[Any]:
    """Lists without the merge strategy are replaced by the patch list as sent."""
    if meta.strategy == MERGE or is_delete_list:
        return _merge_slice(
            original, patch, schema=schema, merge_key=meta.merge_key, opts=opts, is_delete_list=is_delete_list
        )
    return patch


def _merge_slice(
    original: list[Any],
    patch: list[Any],
    *,
    schema: _Schema,
    merge_key: str,
    opts: _MergeOptions,
    is_delete_list: bool,
) -> list[Any]:
    """mergeSlice: primitives as a set, maps by merge key; patch order wins, live order fills in."""
    if not original and not patch:
        return original
    kind = _element_kind(original, patch)
    if kind != _MAP:
        if opts.merge_parallel_list and is_delete_list:
            return [v for v in original if not _contains(patch, v)]
        merged = _dedup_scalars(original + patch)
    else:
        if not merge_key:
            raise PatchError(f"cannot merge lists without merge key for {schema.name}")
        original, patch = _apply_list_directives(original, patch, merge_key=merge_key)
        merged = _merge_list_items(original, patch, merge_key=merge_key, schema=schema, opts=opts)
    if merge_key:
        patch_items, server_only = _partition_maps(merged, patch, merge_key=merge_key)
    else:
        patch_items, server_only = _partition_primitives(merged, patch)
    return _normalize_element_order(
        patch_items, server_only, patch_order=patch, server_order=original, merge_key=merge_key, kind=kind
    )


def _apply_list_directives(
    original: list[Any], patch: list[Any], *, merge_key: str
) -> tuple[list[Any], list[Any]]:
    """mergeSliceWithSpecialElements: ``$patch`` items delete matches or replace the list."""
    plain: list[Any] = []
    replace = False
    for item in patch:
        if DIRECTIVE not in item:
            plain.append(item)
            continue
        directive = item[DIRECTIVE]
        if directive == DELETE:
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
            value = item[merge_key]
            original = [o for o in original if not (merge_key in o and _same(o[merge_key], value))]
        elif directive == REPLACE:
            replace = True
        elif directive == MERGE:
            raise PatchError("merging lists cannot yet be specified in the patch")
        else:
            raise _bad_patch_type(directive, item)
    if replace:
        return plain, []
    return original, plain


def _merge_list_items(
    original: list[Any], patch: list[Any], *, merge_key: str, schema: _Schema, opts: _MergeOptions
) -> list[Any]:
    """mergeSliceWithoutSpecialElements: merge into the item with the same key, else append."""
    merged = list(original)
    for item in patch:
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
        idx = _find_by_key(merged, item[merge_key], key=merge_key)
        if idx is None:
            merged.append(item)
        else:
            merged[idx] = _merge_map(merged[idx], item, schema=schema, opts=opts)
    return merged


def _find_by_key(items: list[Any], value: Any, *, key: str) -> int | None:
    for i, v in enumerate(items):
        if not isinstance(v, dict):
            raise PatchError(f"value for key {i} is not a map")
        if key in v and _same(v[key], value):
            return i
    return None


def _element_kind(*lists: list[Any]) -> str:
    """sliceElementType: the one Go type of every element (no lists of lists)."""
    prev: str | None = None
    for items in lists:
        for v in items:
            t = _go_type(v)
            if prev is None:
                prev = t
                if t == _SLICE:
                    raise PatchError(ERR_NO_LIST_OF_LISTS, kind="invalid")
            elif prev != t:
                raise PatchError(f"list element types are not identical: {_go_v(list(lists))}")
    if prev is None:
        raise PatchError("no elements in any of the given slices")
    return prev


def _dedup_scalars(items: list[Any]) -> list[Any]:
    """deduplicateScalars, including its order (a duplicate is overwritten by the last item)."""
    s = list(items)
    length = len(s) - 1
    i = 0
    while i < length:
        j = i + 1
        while j <= length:
            if _same(s[i], s[j]):
                s[j] = s[length]
                s = s[:length]
                length -= 1
                j -= 1
            j += 1
        i += 1
    return s


def _partition_primitives(items: list[Any], by: list[Any]) -> tuple[list[Any], list[Any]]:
    inside = [v for v in items if _contains(by, v)]
    outside = [v for v in items if not _contains(by, v)]
    return inside, outside


def _partition_maps(items: list[Any], by: list[Any], *, merge_key: str) -> tuple[list[Any], list[Any]]:
    inside: list[Any] = []
    outside: list[Any] = []
    for v in items:
        if not isinstance(v, dict):
            raise _bad_arg_type(_MAP, v)
        if merge_key not in v:
            raise _no_merge_key(v, merge_key)
        (outside if _find_by_key(by, v[merge_key], key=merge_key) is None else inside).append(v)
    return inside, outside


def _index(items: list[Any], value: Any, *, merge_key: str, kind: str) -> int:
    """index(): position of the item with the same merge key (or value), -1 if none."""
    def key_of(item: Any) -> Any:
        if kind != _MAP:
            return item
        return item.get(merge_key) if isinstance(item, dict) else None

    wanted = key_of(value)
    for i, v in enumerate(items):
        if _same(wanted, key_of(v)):
            return i
    return -1


def _split_deletions(items: list[Any]) -> tuple[list[Any], list[Any]]:
    """extractToDeleteItems: (items to keep, ``$patch: delete`` items)."""
    keep: list[Any] = []
    delete: list[Any] = []
    for v in items:
        if not isinstance(v, dict):
            raise _bad_arg_type(_MAP, v)
        (delete if v.get(DIRECTIVE) == DELETE else keep).append(v)
    return keep, delete


def _normalize_slice_order(items: list[Any], order: list[Any], *, merge_key: str, kind: str) -> list[Any]:
    """normalizeSliceOrder: stable sort by position in ``order``; delete directives last."""
    deletions: list[Any] = []
    if kind == _MAP:
        for lst in (items, order):
            for v in lst:
                if not isinstance(v, dict):
                    raise _bad_arg_type(_MAP, v)
                if merge_key not in v:
                    raise _no_merge_key(v, merge_key)
        items, deletions = _split_deletions(items)
    positions = [_index(order, v, merge_key=merge_key, kind=kind) for v in items]
    if all(p >= 0 for p in positions):
        ranked = sorted(zip(positions, range(len(items)), strict=True))
        return [items[i] for _, i in ranked] + deletions
    # Go's less() is true whenever either item is missing from order; its
    # insertion sort is what sort.SliceStable does for short lists.
    pairs = list(zip(positions, items, strict=True))
    for i in range(1, len(pairs)):
        j = i
        while j > 0 and (pairs[j][0] < 0 or pairs[j - 1][0] < 0 or pairs[j][0] < pairs[j - 1][0]):
            pairs[j - 1], pairs[j] = pairs[j], pairs[j - 1]
            j -= 1
    return [v for _, v in pairs] + deletions


def _normalize_element_order(
    patch_items: list[Any],
    server_only: list[Any],
    *,
    patch_order: list[Any],
    server_order: list[Any],
    merge_key: str,
    kind: str,
) -> list[Any]:
    """normalizeElementOrder + mergeSortedSlice: interleave server-only items by live order."""
    right = _normalize_slice_order(patch_items, patch_order, merge_key=merge_key, kind=kind)
    left = _normalize_slice_order(server_only, server_order, merge_key=merge_key, kind=kind)
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li = _index(server_order, left[i], merge_key=merge_key, kind=kind)
            ri = _index(server_order, right[j], merge_key=merge_key, kind=kind)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out
