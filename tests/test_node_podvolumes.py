"""Volume payloads (the kubelet's MakePayload/CollectData) and the atomic writer's layout and updates."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from agents.node import podvolumes
from agents.node.podvolumes import FileProjection
from apimachinery import podsources

Obj = dict[str, Any]
POD: Obj = {"metadata": {"name": "web-1", "namespace": "shop", "uid": "u-1", "labels": {"b": "2", "a": "1"}},
            "spec": {"containers": [{"name": "app", "resources": {"limits": {"memory": "64Mi"}}}]}}
SOURCES = {
    ("configmap", "cfg"): podsources.source_of("configmap", {"metadata": {"namespace": "shop", "name": "cfg"},
                                                            "data": {"a": "1", "b": "2"},
                                                            "binaryData": {"bin": "AAE="}}),
    ("secret", "s"): podsources.source_of("secret", {"metadata": {"namespace": "shop", "name": "s"},
                                                     "data": {"token": "dG9r"}}),
}


def files(vol: Obj) -> dict[str, tuple[bytes, int]]:
    out = podvolumes.payload(POD, vol, sources=SOURCES, pod_ip="127.0.0.9", host_ip="127.0.0.1")
    return {k: (v.data, v.mode) for k, v in out.items()}


@pytest.mark.parametrize(("vol", "expected"), [
    ({"configMap": {"name": "cfg"}}, {"a": (b"1", 0o644), "b": (b"2", 0o644), "bin": (b"\x00\x01", 0o644)}),
    ({"configMap": {"name": "cfg", "defaultMode": 0o600, "items": [{"key": "a", "path": "dir/x"},
                                                                   {"key": "b", "path": "y", "mode": 0o400}]}},
     {"dir/x": (b"1", 0o600), "y": (b"2", 0o400)}),
    ({"configMap": {"name": "gone", "optional": True}}, {}),
    ({"configMap": {"name": "cfg", "optional": True, "items": [{"key": "zz", "path": "z"}]}}, {}),
    ({"secret": {"secretName": "s", "defaultMode": 0o400}}, {"token": (b"tok", 0o400)}),
    ({"downwardAPI": {"items": [{"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
                                {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                                {"path": "mem", "resourceFieldRef": {"containerName": "app", "resource": "limits.memory",
                                                                     "divisor": "1Mi"}, "mode": 0o444}]}},
     {"name": (b"web-1", 0o644), "labels": (b'a="1"\nb="2"', 0o644), "mem": (b"64", 0o444)}),
    ({"projected": {"defaultMode": 0o640, "sources": [
        {"configMap": {"name": "cfg", "items": [{"key": "a", "path": "a"}]}},
        {"secret": {"name": "s"}},
        {"downwardAPI": {"items": [{"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
        {"secret": {"name": "gone", "optional": True}}]}},
     {"a": (b"1", 0o640), "token": (b"tok", 0o640), "ns": (b"shop", 0o640)}),
])
def test_payload(vol: Obj, expected: dict[str, tuple[bytes, int]]) -> None:
    assert files({"name": "v", **vol}) == expected


@pytest.mark.parametrize(("vol", "message"), [
    ({"configMap": {"name": "gone"}}, 'configmap "gone" not found'),
    ({"secret": {"secretName": "gone"}}, 'secret "gone" not found'),
    ({"configMap": {"name": "cfg", "items": [{"key": "zz", "path": "z"}]}},
     "configmap references non-existent config key: zz"),
    ({"secret": {"secretName": "s", "items": [{"key": "zz", "path": "z"}]}}, "references non-existent secret key: zz"),
    ({"projected": {"sources": [{"configMap": {"name": "gone"}}, {"secret": {"name": "gone2"}}]}},
     '[configmap "gone" not found, secret "gone2" not found]'),
])
def test_payload_errors_are_failed_mounts(vol: Obj, message: str) -> None:
    with pytest.raises(podvolumes.MountError) as e:
        files({"name": "v", **vol})
    assert str(e.value) == f'MountVolume.SetUp failed for volume "v" : {message}'


def test_atomic_writer_layout_updates_and_no_op(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    assert podvolumes.write_atomic(target, {"a": FileProjection(b"1", 0o644), "d/x": FileProjection(b"2", 0o600)})
    first = os.readlink(target / "..data")
    assert first.startswith("..") and (target / first).is_dir()
    assert os.readlink(target / "a") == "..data/a" and os.readlink(target / "d") == "..data/d"
    assert (target / "d" / "x").read_bytes() == b"2"
    assert stat.S_IMODE((target / "d" / "x").stat().st_mode) == 0o600
    # the same payload writes nothing
    assert not podvolumes.write_atomic(target, {"a": FileProjection(b"1", 0o644), "d/x": FileProjection(b"2", 0o600)})
    assert os.readlink(target / "..data") == first
    # a change swaps ..data, drops names that went away and the old directory
    assert podvolumes.write_atomic(target, {"a": FileProjection(b"one", 0o644)})
    second = os.readlink(target / "..data")
    assert second != first and not (target / first).exists()
    assert (target / "a").read_bytes() == b"one" and not (target / "d").exists()
    assert sorted(p.name for p in target.iterdir()) == sorted(["..data", second, "a"])


def test_set_up_skips_immutable_sources_once_written_and_keeps_a_volume_whose_source_went(tmp_path: Path) -> None:
    pod = {**POD, "spec": {**POD["spec"], "volumes": [{"name": "v", "configMap": {"name": "cfg"}},
                                                      {"name": "scratch", "emptyDir": {}}]}}
    written: set[str] = set()
    immutable = {("configmap", "cfg"): podsources.source_of("configmap", {
        "metadata": {"namespace": "shop", "name": "cfg"}, "data": {"a": "1"}, "immutable": True})}
    assert podvolumes.set_up(pod, tmp_path, sources=immutable, pod_ip="", host_ip="", written=written) == []
    vol = tmp_path / "volumes" / "kubernetes.io~configmap" / "v"
    assert (vol / "a").read_text() == "1" and written == {"v", "scratch"}
    assert (tmp_path / "volumes" / "kubernetes.io~empty-dir" / "scratch").is_dir()
    changed = {("configmap", "cfg"): podsources.source_of("configmap", {
        "metadata": {"namespace": "shop", "name": "cfg"}, "data": {"a": "2"}, "immutable": True})}
    podvolumes.set_up(pod, tmp_path, sources=changed, pod_ip="", host_ip="", written=written)
    assert (vol / "a").read_text() == "1"  # immutable: not watched again
    assert podvolumes.set_up(pod, tmp_path, sources={}, pod_ip="", host_ip="", written=written) == []
    assert (vol / "a").read_text() == "1"  # set up before: the files stay


def test_mount_env_names_and_subpath_copies(tmp_path: Path) -> None:
    pod = {**POD, "spec": {**POD["spec"], "volumes": [{"name": "my-config", "configMap": {"name": "cfg"}}]}}
    podvolumes.set_up(pod, tmp_path, sources=SOURCES, pod_ip="", host_ip="", written=set())
    c = {"name": "app", "volumeMounts": [{"name": "my-config", "mountPath": "/etc/a", "subPath": "a"},
                                         {"name": "my-config", "mountPath": "/etc/all"}]}
    env = podvolumes.mount_env(pod, c, tmp_path)
    assert list(env) == ["KUBELITE_VOLUME_MY_CONFIG"]  # the first mount names the variable
    copy = Path(env["KUBELITE_VOLUME_MY_CONFIG"])
    assert copy.read_text() == "1" and not copy.is_symlink()
