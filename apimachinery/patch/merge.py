"""JSON merge patch (RFC 7386), as evanphx/json-patch's MergePatch that kube-apiserver links,
with the decode check that gives kube-apiserver's messages for a patched object of the wrong shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apimachinery.errors import StatusError, bad_request, go_json, invalid, invalid_object
from apimachinery.patch.common import _copy, _sorted_copy, json_type

# --- JSON merge patch (RFC 7386, as evanphx/json-patch MergePatch) ----------


def merge_patch(original: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Apply an ``application/merge-patch+json`` body.

    null deletes a key, an object merges into an object, anything else
    replaces. Like evanphx/json-patch (kube-apiserver's implementation),
    nulls inside a value that lands where there was no object are dropped.
    The body must be an object: kube-apiserver decodes it into a map first.
    """
    if patch is None:
        raise bad_request("Invalid JSON Patch")
    if not isinstance(patch, dict):
        raise bad_request(
            f"error decoding patch: json: cannot unmarshal {json_type(patch)} "
            "into Go value of type map[string]interface {}"
        )
    doc: dict[str, Any] = _copy(original)
    _merge_docs(doc, _copy(patch))
    _check_decodes(doc, original, shown=lambda: _go_text(_merged_as_evanphx(original, patch)))
    return doc


def _merge_docs(doc: dict[str, Any], patch: dict[str, Any]) -> None:
    for k, v in patch.items():
        if v is None:
            doc.pop(k, None)
            continue
        cur = doc.get(k)
        if cur is None:
            doc[k] = _prune_nulls(v)
        elif not isinstance(cur, dict):
            doc[k] = _prune_nulls(v)
        elif not isinstance(v, dict):
            doc[k] = v
        else:
            _merge_docs(cur, v)


def _prune_nulls(v: Any) -> Any:
    """pruneNulls: drop null members of objects, at any depth (null list items stay)."""
    if isinstance(v, dict):
        return {k: _prune_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [None if x is None else _prune_nulls(x) for x in v]
    return v


def _merged_as_evanphx(original: Any, patch: Any) -> Any:
    """The merge of ``patch`` into ``original`` with keys in the order evanphx/json-patch's MergePatch
    writes them: maps it decoded (the root, each map the patch merged into, whatever the patch added
    where there was no map) sorted, the rest as it came (the original's untouched values, a non-map
    value the patch put over a map)."""
    if not isinstance(original, dict):
        return _sorted_copy(_prune_nulls(patch))
    if not isinstance(patch, dict):
        return patch
    out = dict(original)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        elif out.get(k) is None:
            out[k] = _sorted_copy(_prune_nulls(v))
        else:
            out[k] = _merged_as_evanphx(out[k], v)
    return {k: out[k] for k in sorted(out)}


def _sorted_top(doc: dict[str, Any]) -> dict[str, Any]:
    """evanphx's Apply decodes the root (written sorted) and leaves most values as they came."""
    return {k: doc[k] for k in sorted(doc)}


def _go_text(obj: Any) -> str:
    return go_json(obj).decode()


def _check_decodes(obj: dict[str, Any], original: dict[str, Any], *, shown: Callable[[], str],
                   strategic: bool = False) -> None:
    """Refuse a patched object that does not decode into its Go type, as kube-apiserver's patch handler does.

    kube-apiserver turns the patched document into the typed object before anything else looks at it;
    when that fails the answer is 422 NewInvalid(GroupKind{}, "", [Invalid("patch", <value>, <err>)])
    (message `` "" is invalid: patch: Invalid value: ...``). The value is the patch (``%+v``) on the
    strategic path, whose error is runtime.DefaultUnstructuredConverter's (``cannot restore map from
    string``), and the patched JSON on the merge and json-patch paths, whose error is encoding/json's
    (``json: cannot unmarshal string into Go struct field ...``). Objects that are not a served kind
    (no matching apiVersion/kind) are not checked. Unknown fields are not errors here: the registry
    applies fieldValidation to them.
    """
    # Imported here: the models cost ~150 ms to import and kctl uses this module without them.
    from pydantic import ValidationError

    from apimachinery import schemas
    from apimachinery.resources import BY_GROUP_KIND
    from apimachinery.schemas.base import built

    api_version = str(original.get("apiVersion") or "")
    rt = BY_GROUP_KIND.get((api_version.rpartition("/")[0], str(original.get("kind") or "")))
    if rt is None or rt.key not in schemas.MODELS:
        return
    model = schemas.MODELS[rt.key]
    try:
        built(model).__pydantic_validator__.validate_python(obj, by_name=False)
        return
    except ValidationError as e:
        errs = [err for err in e.errors(include_url=False) if err["type"] != "extra_forbidden"]
    if not errs:
        return
    if strategic:
        detail = _from_unstructured_error(model, obj, errs)
    else:
        try:
            schemas.decode(rt.key, obj)
            return
        except StatusError as e:
            detail = e.message.removeprefix(f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: ')
    raise invalid_object("", "", [invalid("patch", shown(), detail)])


# reflect.Kind of a value decoded from JSON with ints preserved
_GO_KIND = {dict: "map", list: "slice", str: "string", bool: "bool", int: "int64", float: "float64"}
_INT_KINDS = frozenset({"int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64"})
_FLOAT_KINDS = frozenset({"float32", "float64"})


def _from_unstructured_error(model: Any, obj: dict[str, Any], errs: list[Any]) -> str:
    """runtime.DefaultUnstructuredConverter's error for the first field (in document order) that does not fit."""
    from apimachinery.schemas.base import GO_ERROR
    from apimachinery.schemas.codec import _position, describe

    err = min(errs, key=lambda e: _position(obj, e["loc"]))
    if err["type"] == GO_ERROR:  # a type with its own unmarshaler (Quantity, Time, IntOrString)
        return str(err["ctx"]["message"])
    src = _GO_KIND.get(type(err["input"]), "interface")
    kind = err["type"]
    if kind == "dict_type":
        return f"cannot restore map from {src}"
    if kind == "list_type":
        return f"cannot restore slice from {src}"
    if kind in ("model_type", "model_attributes_type"):
        return f"cannot restore struct from: {src}"
    _struct, _path, go_type = describe(model, err["loc"])
    dst_kind = {"string_type": "string", "bool_type": "bool", "float_type": "float64"}.get(kind, "")
    if not dst_kind:
        dst_kind = go_type if go_type in _INT_KINDS | _FLOAT_KINDS else "int64"
    numeric_src = src in ("int64", "float64")
    convertible = (numeric_src and (dst_kind in _INT_KINDS | _FLOAT_KINDS or (src == "int64" and dst_kind == "string"))) \
        or (src == dst_kind)
    if convertible:  # a Go conversion exists but JSON forbids it (int64 -> string, 1.5 -> int32)
        return f"cannot convert {src} to {go_type}"
    return f"unrecognized type: {dst_kind}"
