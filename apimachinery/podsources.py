"""The ConfigMaps and Secrets a Pod consumes, as the kubelet reads them: pure functions.

Why a module of its own: the environment (``containerenv``, for the node agent and ``kctl env``),
the node's volume files, its process runtime and its simulated one all need the
same answer to "which objects does this Pod name, and what do they hold";
the agent fetches them (``references``) before each sync and hands the
snapshot (``Sources``) down, so everything below it stays a function of
its inputs.

A ``Source`` keeps both views the kubelet uses: ``strings`` for the
environment (a ConfigMap's ``data``; a Secret's ``data`` decoded) and
``files`` for volumes (a ConfigMap's ``data`` and ``binaryData``; a
Secret's ``data``). Secret values live only here and in the files and
environment they are meant for: no message built from a Source carries a
value, only names and keys.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from apimachinery.objects import as_list, as_map

Obj = dict[str, Any]

CONFIGMAP = "configmap"
SECRET = "secret"
KIND_NAMES = {CONFIGMAP: "ConfigMap", SECRET: "Secret"}


@dataclass(frozen=True)
class Source:
    """One ConfigMap or Secret as a container consumes it."""

    kind: str  # CONFIGMAP or SECRET
    namespace: str
    name: str
    strings: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    immutable: bool = False

    def __repr__(self) -> str:  # never print a value
        return f"Source({self.kind} {self.namespace}/{self.name}, keys={sorted(self.files)})"


# (kind, name) -> the object; a missing entry means the API answered NotFound.
Sources = Mapping[tuple[str, str], Source]


def _b64(value: Any) -> bytes:
    try:
        return base64.b64decode(str(value or ""), validate=True)
    except (binascii.Error, ValueError):
        return b""


def source_of(kind: str, obj: Mapping[str, Any]) -> Source:
    """The Source of a ConfigMap or Secret object as the API serves it (Secret data base64)."""
    meta = as_map(obj.get("metadata"))
    ns, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    immutable = obj.get("immutable") is True
    if kind == SECRET:
        raw = {str(k): _b64(v) for k, v in as_map(obj.get("data")).items()}
        return Source(kind, ns, name, strings={k: v.decode("utf-8", "surrogateescape") for k, v in raw.items()},
                      files=raw, immutable=immutable)
    data = {str(k): str(v) for k, v in as_map(obj.get("data")).items()}
    files = {k: v.encode() for k, v in data.items()}
    files.update({str(k): _b64(v) for k, v in as_map(obj.get("binaryData")).items()})
    return Source(kind, ns, name, strings=data, files=files, immutable=immutable)


def _volume_refs(vol: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    if isinstance(vol.get("configMap"), dict):
        yield CONFIGMAP, str(vol["configMap"].get("name") or "")
    if isinstance(vol.get("secret"), dict):
        yield SECRET, str(vol["secret"].get("secretName") or "")
    for src in as_list(as_map(vol.get("projected")).get("sources")):
        src = as_map(src)
        if isinstance(src.get("configMap"), dict):
            yield CONFIGMAP, str(src["configMap"].get("name") or "")
        if isinstance(src.get("secret"), dict):
            yield SECRET, str(src["secret"].get("name") or "")


def references(pod: Mapping[str, Any]) -> set[tuple[str, str]]:
    """Every (kind, name) the Pod's containers and volumes name: what the agent fetches before a sync."""
    spec = as_map(pod.get("spec"))
    out: set[tuple[str, str]] = set()
    for c in [*as_list(spec.get("initContainers")), *as_list(spec.get("containers"))]:
        c = as_map(c)
        for src in as_list(c.get("envFrom")):
            src = as_map(src)
            if isinstance(src.get("configMapRef"), dict):
                out.add((CONFIGMAP, str(src["configMapRef"].get("name") or "")))
            if isinstance(src.get("secretRef"), dict):
                out.add((SECRET, str(src["secretRef"].get("name") or "")))
        for var in as_list(c.get("env")):
            value_from = as_map(as_map(var).get("valueFrom"))
            if isinstance(value_from.get("configMapKeyRef"), dict):
                out.add((CONFIGMAP, str(value_from["configMapKeyRef"].get("name") or "")))
            if isinstance(value_from.get("secretKeyRef"), dict):
                out.add((SECRET, str(value_from["secretKeyRef"].get("name") or "")))
    for vol in as_list(spec.get("volumes")):
        out.update(_volume_refs(as_map(vol)))
    return {(k, n) for k, n in out if n}


def not_found(kind: str, name: str) -> str:
    """The kubelet's error for a missing object (its managers answer NotFound with the singular resource)."""
    return f'{kind} "{name}" not found'


def missing_key(kind: str, namespace: str, name: str, key: str) -> str:
    """makeEnvironmentVariables' error for a key the object does not have."""
    return f"couldn't find key {key} in {KIND_NAMES[kind]} {namespace}/{name}"
