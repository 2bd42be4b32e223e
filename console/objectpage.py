"""The console's object page (any kind the API serves: YAML, Events, owner chain, Services selecting it)
and its search (by name or label selector over the objects the console watches).

Why reads through the API for the page: the console caches only the kinds its map draws; an object page
may be asked for any served kind, so it GETs that one object (and its Events and owners) with the user's
credentials, and the API server's authorization decides, as it would for kubectl.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from apimachinery.errors import StatusError
from apimachinery.kinds.base import ResourceType
from apimachinery.objects import as_list, as_map, as_str, labels_of, meta_of, name_of
from apimachinery.selectors import parse_label_selector, selector_from_set
from kubeclient.client import Client

Obj = Mapping[str, Any]
MAX_OWNER_DEPTH = 8
SELECTOR_CHARS = ("=", "!", " in ", " notin ", "(")


def resolve(types: Iterable[ResourceType], *, group: str, version: str, resource: str) -> ResourceType | None:
    for rt in types:
        if (rt.group, rt.version, rt.plural) == (group, version, resource):
            return rt
    return None


def by_kind(types: Iterable[ResourceType], api_version: str, kind: str) -> ResourceType | None:
    """The resource serving ``kind`` at ``apiVersion`` (``v1``, ``apps/v1``), as an ownerReference names it."""
    group, _, version = api_version.rpartition("/")
    for rt in types:
        if (rt.group, rt.version, rt.kind) == (group, version, kind):
            return rt
    return None


def link(rt: ResourceType, namespace: str, name: str) -> dict[str, str]:
    """What the page needs to ask for an object again: its resource coordinates."""
    return {"group": rt.group, "version": rt.version, "resource": rt.plural, "kind": rt.kind,
            "namespace": namespace if rt.namespaced else "", "name": name}


def event_rows(events: Iterable[Obj]) -> list[dict[str, Any]]:
    """Events newest last, as ``kubectl describe`` lists them."""
    rows = []
    for ev in events:
        when = as_str(ev.get("lastTimestamp") or ev.get("eventTime") or ev.get("firstTimestamp")
                      or meta_of(ev).get("creationTimestamp"))
        source = as_map(ev.get("source"))
        rows.append({"type": as_str(ev.get("type")), "reason": as_str(ev.get("reason")),
                     "message": as_str(ev.get("message")), "count": ev.get("count") or 1, "last": when,
                     "from": as_str(source.get("component") or ev.get("reportingComponent"))})
    return sorted(rows, key=lambda r: r["last"])


def selecting_services(pod: Obj, services: Iterable[Obj]) -> list[str]:
    """Services of the Pod's namespace whose (non-empty) selector it matches."""
    ns = meta_of(pod).get("namespace")
    out = []
    for s in services:
        selector = as_map(as_map(s.get("spec")).get("selector"))
        if meta_of(s).get("namespace") == ns and selector and selector_from_set(selector).matches(labels_of(pod)):
            out.append(name_of(s))
    return sorted(out)


def is_selector(q: str) -> bool:
    return any(c in f" {q} " for c in SELECTOR_CHARS)


def search(q: str, objects: Iterable[tuple[ResourceType, Obj]], *, namespace: str = "",
           limit: int = 200) -> list[dict[str, str]]:
    """Objects whose name contains ``q``, or, when ``q`` reads as a label selector (``env=marvel``,
    ``app in (a,b)``, ``!tier``), whose labels it selects; within ``namespace`` when given.

    Raises StatusError (400) with the selector parser's message for a selector that does not parse.
    """
    q = q.strip()
    selector = parse_label_selector(q) if is_selector(q) else None
    hits = []
    for rt, obj in objects:
        ns = as_str(meta_of(obj).get("namespace"))
        if namespace and rt.namespaced and ns != namespace:
            continue
        ok = selector.matches(labels_of(obj)) if selector is not None else q.lower() in name_of(obj).lower()
        if ok:
            hits.append(link(rt, ns, name_of(obj)))
    hits.sort(key=lambda h: (h["kind"], h["namespace"], h["name"]))
    return hits[:limit]


async def owner_chain(client: Client, types: Sequence[ResourceType], obj: Obj) -> list[dict[str, str]]:
    """The controller owners upwards (ReplicaSet, then its Deployment...), nearest first; an owner that
    cannot be read ends the chain with what its reference says and why."""
    chain: list[dict[str, str]] = []
    current = obj
    ns = as_str(meta_of(obj).get("namespace"))
    for _ in range(MAX_OWNER_DEPTH):
        refs = [as_map(r) for r in as_list(meta_of(current).get("ownerReferences"))]
        ref = next((r for r in refs if r.get("controller")), refs[0] if refs else None)
        if ref is None:
            break
        kind, name = as_str(ref.get("kind")), as_str(ref.get("name"))
        rt = by_kind(types, as_str(ref.get("apiVersion")), kind)
        if rt is None:
            chain.append({"kind": kind, "name": name, "missing": "kind not served"})
            break
        entry = link(rt, ns, name)
        try:
            current = await client.get(rt, name, namespace=ns if rt.namespaced else None)
        except StatusError as e:
            chain.append({**entry, "missing": e.message})
            break
        chain.append(entry)
    return chain


async def object_page(client: Client, types: Sequence[ResourceType], rt: ResourceType, *, namespace: str,
                      name: str, services: Iterable[Obj]) -> dict[str, Any]:
    """The page of one object; StatusError (404, 403...) propagates for the caller to answer with."""
    obj = await client.get(rt, name, namespace=namespace if rt.namespaced else None)
    events_rt = by_kind(types, "v1", "Event")
    events: list[Obj] = []
    events_error = "" if events_rt is not None else "Events are not served"
    if events_rt is not None:
        fs = f"involvedObject.kind={rt.kind},involvedObject.name={name}"
        try:
            events = (await client.list(events_rt, namespace=namespace if rt.namespaced else None,
                                        field_selector=fs))["items"]
        except StatusError as e:  # e.g. not allowed to read Events: the object is shown without them
            events_error = e.message
    return {"link": link(rt, namespace, name), "yaml": yaml.safe_dump(dict(obj), sort_keys=False),
            "labels": labels_of(obj), "events": event_rows(events), "eventsError": events_error,
            "owners": await owner_chain(client, types, obj),
            "services": selecting_services(obj, services) if rt.kind == "Pod" and rt.group == "" else []}
