"""What "the same object" means when the controller compares its desired Endpoints and
EndpointSlices with the API's: canonical views that ignore what the API server adds or reorders."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apimachinery.objects import annotations_of, as_list, as_map, as_str, labels_of, meta_of
from controllers.endpoints.pods import Obj, port_tuple

# ---------------------------------------------------------------------------
# normalisation: what "the same object" means when comparing with the API
# ---------------------------------------------------------------------------


def _prune(value: Any) -> Any:
    """Drop None, empty lists and empty maps, recursively: they do not survive a JSON round trip in Go."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            pv = _prune(v)
            if pv is None or pv == [] or pv == {}:
                continue
            out[k] = pv
        return out
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def ref_view(ref: Any) -> Any:
    """An ObjectReference compared without resourceVersion (semanticIgnoreResourceVersion)."""
    if not isinstance(ref, dict):
        return None
    return _prune({k: v for k, v in ref.items() if k != "resourceVersion"})


def _address_view(addr: Any) -> Obj:
    a = as_map(addr)
    view = _prune({k: v for k, v in a.items() if k != "targetRef"})
    if a.get("targetRef") is not None:
        view["targetRef"] = ref_view(a.get("targetRef"))
    return dict(view)


def address_key(addr: Mapping[str, Any]) -> tuple[str, str]:
    """LessEndpointAddress: by IP text, then targetRef UID."""
    return (as_str(addr.get("ip")), as_str(as_map(addr.get("targetRef")).get("uid")))


def canonical_subsets(subsets: Any) -> list[Obj]:
    """Endpoints subsets in one canonical order, pruned, targetRef without resourceVersion."""
    out: list[tuple[Any, Obj]] = []
    for subset in as_list(subsets):
        s = as_map(subset)
        ready = sorted((_address_view(a) for a in as_list(s.get("addresses"))), key=address_key)
        not_ready = sorted((_address_view(a) for a in as_list(s.get("notReadyAddresses"))), key=address_key)
        ports = sorted((dict(_prune(as_map(p))) for p in as_list(s.get("ports"))), key=port_tuple)
        for p in ports:
            p.setdefault("protocol", "TCP")
        view: Obj = {}
        if ready:
            view["addresses"] = ready
        if not_ready:
            view["notReadyAddresses"] = not_ready
        if ports:
            view["ports"] = ports
        key = (tuple(port_tuple(p) for p in ports), tuple(address_key(a) for a in ready),
               tuple(address_key(a) for a in not_ready))
        out.append((key, view))
    out.sort(key=lambda kv: kv[0])
    return [view for _, view in out]


def _endpoint_view(ep: Any) -> Obj:
    e = as_map(ep)
    view = dict(_prune({k: v for k, v in e.items() if k not in ("targetRef", "addresses")}))
    view["addresses"] = sorted(as_str(a) for a in as_list(e.get("addresses")))
    if e.get("targetRef") is not None:
        view["targetRef"] = ref_view(e.get("targetRef"))
    return view


def endpoints_view(obj: Mapping[str, Any]) -> Obj:
    """What the controller owns of an Endpoints object, normalised for comparison."""
    meta = meta_of(obj)
    return {
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "labels": labels_of(obj),
        "annotations": annotations_of(obj),
        "subsets": canonical_subsets(obj.get("subsets")),
    }


def slice_view(obj: Mapping[str, Any]) -> Obj:
    """What the controller owns of an EndpointSlice, normalised for comparison (endpoint order kept)."""
    meta = meta_of(obj)
    ports = sorted((dict(_prune(as_map(p))) for p in as_list(obj.get("ports"))), key=port_tuple)
    for p in ports:
        p.setdefault("protocol", "TCP")
        p.setdefault("name", "")
    return {
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "labels": labels_of(obj),
        "annotations": annotations_of(obj),
        "ownerReferences": _prune(as_list(meta.get("ownerReferences"))),
        "addressType": obj.get("addressType"),
        "endpoints": [_endpoint_view(e) for e in as_list(obj.get("endpoints"))],
        "ports": ports,
    }


def same_endpoints(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return endpoints_view(a) == endpoints_view(b)


def same_slice(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return slice_view(a) == slice_view(b)
