"""A Pod's configMap, secret, downwardAPI, projected and emptyDir volumes as files the process runtime writes.

Why: kubelite's process runtime cannot bind-mount anything into a
process, so a volume is a directory on the node's disk, laid out as the
kubelet lays it out, and each container is told where its mounts are.

Layout (the kubelet's):
``<root>/pods/<uid>/volumes/kubernetes.io~<plugin>/<volume>`` holds what
the kubelet's AtomicWriter writes: a timestamped directory
``..2006_01_02_15_04_05.NNNN`` with the files, a ``..data`` symlink to it,
and one user-visible symlink per top-level entry (``key -> ..data/key``).
An update writes a new timestamped directory and swaps ``..data`` with one
rename, so a reader sees the old files or the new ones, never a mix; a
payload equal to what is on disk writes nothing. ``<root>/pods/<uid>/volumes``
is 0700 (only the node's user, whose processes the containers are, can
enter it: a Secret is not readable by other users of the machine); inside,
file modes are kube's: the item's ``mode``, else the source's
``defaultMode`` (0644 by API default).

Telling the process: ``mount_env`` gives each container one
``KUBELITE_VOLUME_<NAME>`` variable per volumeMount (the volume's name
upper-cased, other characters ``_``), the host path that stands for its
``mountPath``: the volume directory, or for a ``subPath`` mount a copy of
that entry taken when the container starts (``volume-subpaths/``, as the
kubelet's bind mount of a subPath, it is not updated afterwards). The
first mount of a volume in a container names the variable. Other volume
types (hostPath, persistentVolumeClaim...) get no directory and no
variable.

Payloads (``payload``) are pure: MakePayload/CollectData of the kubelet's
configmap, secret, downwardapi and projected plugins, with their error
texts; a missing object is an error unless the source is optional (then
it projects nothing).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.node import podenv
from apimachinery.objects import as_list, as_map
from apimachinery.podsources import CONFIGMAP, SECRET, Sources, not_found

Obj = dict[str, Any]

DATA_DIR = "..data"
DATA_TMP = "..data_tmp"
DEFAULT_MODE = 0o644
PLUGINS = {
    "configMap": "kubernetes.io~configmap",
    "secret": "kubernetes.io~secret",
    "downwardAPI": "kubernetes.io~downward-api",
    "projected": "kubernetes.io~projected",
    "emptyDir": "kubernetes.io~empty-dir",
}
WRITTEN = ("configMap", "secret", "downwardAPI", "projected")  # re-synced while the Pod runs


@dataclass(frozen=True)
class FileProjection:
    data: bytes
    mode: int

    def __repr__(self) -> str:  # never print a value
        return f"FileProjection({len(self.data)} bytes, mode={self.mode:o})"


class MountError(Exception):
    """A volume cannot be set up: the kubelet's FailedMount."""

    def __init__(self, volume: str, message: str) -> None:
        super().__init__(f'MountVolume.SetUp failed for volume "{volume}" : {message}')
        self.volume = volume


def volume_kind(vol: Mapping[str, Any]) -> str:
    """The plugin key of a volume kubelite materializes ("" for the others)."""
    return next((k for k in PLUGINS if isinstance(vol.get(k), dict)), "")


def refreshed(pod: Mapping[str, Any]) -> bool:
    """Whether the Pod has volumes whose files follow their sources (the agent re-syncs it periodically)."""
    return any(volume_kind(as_map(v)) in WRITTEN for v in as_list(as_map(pod.get("spec")).get("volumes")))


def env_name(volume: str) -> str:
    return "KUBELITE_VOLUME_" + re.sub(r"[^A-Z0-9]", "_", volume.upper())


# ---------------------------------------------------------------------------
# payloads (pure)
# ---------------------------------------------------------------------------


def _mode(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _keyed(kind: str, source: Mapping[str, Any], name: str, sources: Sources, *, default_mode: int,
           optional: bool) -> dict[str, FileProjection]:
    """configmap/secret MakePayload: every key, or the listed items (a missing key fails unless optional)."""
    found = sources.get((kind, name))
    if found is None:
        if optional:
            return {}
        raise ValueError(not_found(kind, name))
    items = as_list(source.get("items"))
    if not items:
        return {k: FileProjection(v, default_mode) for k, v in found.files.items()}
    out: dict[str, FileProjection] = {}
    for item in items:
        item = as_map(item)
        key, path = str(item.get("key") or ""), str(item.get("path") or "")
        if key not in found.files:
            if optional:
                continue
            raise ValueError(f"configmap references non-existent config key: {key}" if kind == CONFIGMAP
                             else f"references non-existent secret key: {key}")
        out[path] = FileProjection(found.files[key], _mode(item.get("mode"), default_mode))
    return out


def _downward(pod: Mapping[str, Any], items: list[Any], *, default_mode: int, pod_ip: str, host_ip: str,
              allocatable: Mapping[str, str]) -> dict[str, FileProjection]:
    """downwardapi CollectData."""
    out: dict[str, FileProjection] = {}
    errs: list[str] = []
    containers = {str(as_map(c).get("name")): as_map(c) for key in ("containers", "initContainers")
                  for c in as_list(as_map(pod.get("spec")).get(key))}
    for item in items:
        item = as_map(item)
        path = str(item.get("path") or "")
        mode = _mode(item.get("mode"), default_mode)
        try:
            if item.get("fieldRef"):
                value = podenv.field_ref(pod, str(as_map(item["fieldRef"]).get("fieldPath") or ""), pod_ip=pod_ip,
                                         host_ip=host_ip)
            elif item.get("resourceFieldRef"):
                ref = as_map(item["resourceFieldRef"])
                cname = str(ref.get("containerName") or "")
                if cname not in containers:
                    raise podenv.ConfigError(f"container {cname} not found")
                value = podenv.resource_ref(containers[cname], ref, allocatable=allocatable)
            else:
                continue
        except podenv.ConfigError as e:
            errs.append(str(e))
            continue
        out[path] = FileProjection(value.encode(), mode)
    if errs:
        raise ValueError(errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]")
    return out


def payload(pod: Mapping[str, Any], vol: Mapping[str, Any], *, sources: Sources, pod_ip: str, host_ip: str,
            allocatable: Mapping[str, str] = podenv.NODE_RESOURCES) -> dict[str, FileProjection]:
    """The files of one volume (relative path -> content and mode); raises MountError."""
    name = str(vol.get("name") or "")
    kind = volume_kind(vol)
    src = as_map(vol.get(kind))
    default_mode = _mode(src.get("defaultMode"), DEFAULT_MODE)
    try:
        if kind == "configMap":
            return _keyed(CONFIGMAP, src, str(src.get("name") or ""), sources, default_mode=default_mode,
                          optional=bool(src.get("optional")))
        if kind == "secret":
            return _keyed(SECRET, src, str(src.get("secretName") or ""), sources, default_mode=default_mode,
                          optional=bool(src.get("optional")))
        if kind == "downwardAPI":
            return _downward(pod, as_list(src.get("items")), default_mode=default_mode, pod_ip=pod_ip,
                             host_ip=host_ip, allocatable=allocatable)
        if kind == "projected":
            return _projected(pod, src, sources=sources, default_mode=default_mode, pod_ip=pod_ip, host_ip=host_ip,
                              allocatable=allocatable)
    except ValueError as e:
        raise MountError(name, str(e)) from e
    return {}


def _projected(pod: Mapping[str, Any], src: Mapping[str, Any], *, sources: Sources, default_mode: int,
               pod_ip: str, host_ip: str, allocatable: Mapping[str, str]) -> dict[str, FileProjection]:
    """projected collectData: the sources in order, later paths overwriting earlier ones; errors aggregated."""
    out: dict[str, FileProjection] = {}
    errs: list[str] = []
    for source in as_list(src.get("sources")):
        source = as_map(source)
        try:
            if isinstance(source.get("configMap"), dict):
                cm = as_map(source["configMap"])
                out.update(_keyed(CONFIGMAP, cm, str(cm.get("name") or ""), sources, default_mode=default_mode,
                                  optional=bool(cm.get("optional"))))
            elif isinstance(source.get("secret"), dict):
                sec = as_map(source["secret"])
                out.update(_keyed(SECRET, sec, str(sec.get("name") or ""), sources, default_mode=default_mode,
                                  optional=bool(sec.get("optional"))))
            elif isinstance(source.get("downwardAPI"), dict):
                out.update(_downward(pod, as_list(as_map(source["downwardAPI"]).get("items")),
                                     default_mode=default_mode, pod_ip=pod_ip, host_ip=host_ip,
                                     allocatable=allocatable))
            else:
                kinds = ", ".join(sorted(source)) or "an empty source"
                errs.append(f"kubelite does not project {kinds}")
        except ValueError as e:
            errs.append(str(e))
    if errs:
        raise ValueError(errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]")
    return out


# ---------------------------------------------------------------------------
# the atomic writer (files)
# ---------------------------------------------------------------------------


def _on_disk(ts_dir: Path) -> dict[str, tuple[bytes, int]] | None:
    """What a timestamped directory holds; None when a file cannot be read back (a mode of 0, say)."""
    out: dict[str, tuple[bytes, int]] = {}
    for dirpath, _dirs, files in os.walk(ts_dir):
        for f in files:
            p = Path(dirpath) / f
            try:
                out[str(p.relative_to(ts_dir))] = (p.read_bytes(), stat.S_IMODE(p.lstat().st_mode))
            except PermissionError:
                return None
    return out


def write_atomic(target: Path, files: Mapping[str, FileProjection]) -> bool:
    """AtomicWriter.Write: make ``target`` hold exactly ``files``; True when something changed.

    Invariant: ``target/..data`` always points to a complete directory; the
    user-visible names are symlinks through it, so swapping it is the update.
    """
    target.mkdir(parents=True, exist_ok=True)
    data = target / DATA_DIR
    old = os.readlink(data) if data.is_symlink() else ""
    wanted = {path: (fp.data, fp.mode & 0o777) for path, fp in files.items()}
    if old and (target / old).is_dir() and _on_disk(target / old) == wanted:
        _link_visible(target, files)
        return False
    stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
    ts_dir = Path(tempfile.mkdtemp(prefix=stamp, dir=target))
    os.chmod(ts_dir, 0o755)
    for path, fp in files.items():
        dest = ts_dir / path
        dest.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        dest.write_bytes(fp.data)
        os.chmod(dest, fp.mode & 0o777)
    tmp = target / DATA_TMP
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(ts_dir.name)
    os.replace(tmp, data)
    _link_visible(target, files)
    if old and old != ts_dir.name:
        shutil.rmtree(target / old, ignore_errors=True)
    return True


def _link_visible(target: Path, files: Mapping[str, FileProjection]) -> None:
    top = {path.split("/", 1)[0] for path in files}
    for name in top:
        link = target / name
        if not link.is_symlink():
            link.symlink_to(f"{DATA_DIR}/{name}")
    for entry in target.iterdir():
        if not entry.name.startswith("..") and entry.name not in top and entry.is_symlink():
            entry.unlink()


# ---------------------------------------------------------------------------
# a Pod's volumes on disk
# ---------------------------------------------------------------------------


def volumes_root(sandbox: Path) -> Path:
    return sandbox / "volumes"


def volume_dir(sandbox: Path, vol: Mapping[str, Any]) -> Path | None:
    kind = volume_kind(vol)
    if not kind:
        return None
    return volumes_root(sandbox) / PLUGINS[kind] / str(vol.get("name") or "")


def set_up(pod: Mapping[str, Any], sandbox: Path, *, sources: Sources, pod_ip: str, host_ip: str,
           written: set[str], allocatable: Mapping[str, str] = podenv.NODE_RESOURCES) -> list[MountError]:
    """Write every volume of the Pod (SetUp, then the periodic sync); returns the volumes that failed.

    ``written`` names the volumes set up before: an immutable source's
    volume is not written again (the kubelet stops watching it), nor is a
    failed re-sync an error for a volume that was set up.
    """
    root = volumes_root(sandbox)
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    errs: list[MountError] = []
    for vol in as_list(as_map(pod.get("spec")).get("volumes")):
        vol = as_map(vol)
        name, kind = str(vol.get("name") or ""), volume_kind(vol)
        target = volume_dir(sandbox, vol)
        if target is None:
            continue
        if kind == "emptyDir":
            target.mkdir(parents=True, exist_ok=True)
            written.add(name)
            continue
        if name in written and _immutable(vol, sources):
            continue
        try:
            files = payload(pod, vol, sources=sources, pod_ip=pod_ip, host_ip=host_ip, allocatable=allocatable)
        except MountError as e:
            if name not in written:
                errs.append(e)
            continue
        write_atomic(target, files)
        written.add(name)
    return errs


def _immutable(vol: Mapping[str, Any], sources: Sources) -> bool:
    kind = volume_kind(vol)
    src = as_map(vol.get(kind))
    if kind == "configMap":
        found = sources.get((CONFIGMAP, str(src.get("name") or "")))
    elif kind == "secret":
        found = sources.get((SECRET, str(src.get("secretName") or "")))
    else:
        return False
    return found is not None and found.immutable


def mount_env(pod: Mapping[str, Any], container: Mapping[str, Any], sandbox: Path, *, index: int = 0) -> dict[str, str]:
    """``KUBELITE_VOLUME_<NAME>`` for each of the container's mounts; copies subPath entries (taken at start).

    ``index`` distinguishes container starts, so a restarted container
    gets the subPath as it is at its own start (the kubelet re-binds then).
    """
    volumes = {str(as_map(v).get("name")): as_map(v) for v in as_list(as_map(pod.get("spec")).get("volumes"))}
    cname = str(container.get("name") or "")
    out: dict[str, str] = {}
    for i, mount in enumerate(as_list(container.get("volumeMounts"))):
        mount = as_map(mount)
        vname = str(mount.get("name") or "")
        vol = volumes.get(vname)
        base = volume_dir(sandbox, vol) if vol is not None else None
        var = env_name(vname)
        if base is None or var in out:
            continue
        sub = str(mount.get("subPath") or "")
        if not sub:
            out[var] = str(base)
            continue
        source = base / sub
        dest = sandbox / "volume-subpaths" / vname / cname / f"{i}.{index}"
        try:
            _snapshot(source, dest)
        except OSError as e:
            raise podenv.ConfigError(f'failed to prepare subPath for volumeMount "{vname}" of container '
                                     f'"{cname}"') from e
        out[var] = str(dest)
    return out


def _snapshot(source: Path, dest: Path) -> None:
    """A copy of a subPath entry as it is now (following the volume's symlinks)."""
    if dest.exists() or dest.is_symlink():
        if dest.is_dir() and not dest.is_symlink():
            shutil.rmtree(dest)
        else:
            dest.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, dest, symlinks=False)
    elif source.exists():
        shutil.copy2(source, dest)
    else:
        dest.mkdir()  # the kubelet creates a missing subPath as a directory
