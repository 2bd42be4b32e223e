"""The official ``kubernetes`` Python client against a live kubelite API server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client as k8s  # noqa: E402
from kubernetes import watch as k8s_watch  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

from tests.conftest import ApiServerProcess  # noqa: E402


@pytest.fixture
def core(apiserver: ApiServerProcess) -> Iterator[Any]:
    cfg = k8s.Configuration()
    cfg.host = apiserver.url
    with k8s.ApiClient(cfg) as api_client:
        yield k8s.CoreV1Api(api_client)


def make_pod(name: str, labels: dict[str, str]) -> Any:
    return k8s.V1Pod(metadata=k8s.V1ObjectMeta(name=name, labels=labels),
                     spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="c", image="nginx")]))


def test_create_list_patch_delete_pods_and_services(core: Any, ns: str) -> None:
    core.create_namespaced_pod(ns, make_pod("a", {"env": "marvel"}))
    core.create_namespaced_pod(ns, make_pod("b", {"env": "dc"}))
    pods = core.list_namespaced_pod(ns, label_selector="env in (marvel)")
    assert [p.metadata.name for p in pods.items] == ["a"]
    patched = core.patch_namespaced_pod("a", ns, {"metadata": {"labels": {"ver": "v1"}}})
    assert patched.metadata.labels == {"env": "marvel", "ver": "v1"}
    svc = k8s.V1Service(metadata=k8s.V1ObjectMeta(name="the-bus"),
                        spec=k8s.V1ServiceSpec(selector={"env": "marvel"},
                                               ports=[k8s.V1ServicePort(port=80, target_port=8080)]))
    created = core.create_namespaced_service(ns, svc)
    assert created.spec.type == "ClusterIP" and created.spec.ports[0].protocol == "TCP"
    core.delete_namespaced_service("the-bus", ns)
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_service("the-bus", ns)
    assert exc.value.status == 404
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_pod(ns, make_pod("a", {}))
    assert exc.value.status == 409


def test_watch_pods(core: Any, ns: str) -> None:
    seen: list[tuple[str, str]] = []
    w = k8s_watch.Watch()
    start_rv = core.list_namespaced_pod(ns).metadata.resource_version

    def consume() -> None:
        for ev in w.stream(core.list_namespaced_pod, ns, resource_version=start_rv, timeout_seconds=5):
            seen.append((ev["type"], ev["object"].metadata.name))
            if len(seen) == 3:
                w.stop()

    t = threading.Thread(target=consume)
    t.start()
    core.create_namespaced_pod(ns, make_pod("w1", {}))
    core.patch_namespaced_pod("w1", ns, {"metadata": {"labels": {"x": "y"}}})
    core.delete_namespaced_pod("w1", ns)
    t.join(10)
    assert seen == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]


def test_configmaps_followed_through_changes_by_the_clients_watch(core: Any, ns: str) -> None:
    """The official client's create/list/patch/delete of ConfigMaps, and its watch following each change."""
    start_rv = core.list_namespaced_config_map(ns).metadata.resource_version
    seen: list[tuple[str, str, dict[str, str] | None]] = []
    w = k8s_watch.Watch()

    def consume() -> None:
        for ev in w.stream(core.list_namespaced_config_map, ns, resource_version=start_rv, timeout_seconds=10):
            seen.append((ev["type"], ev["object"].metadata.name, ev["object"].data))
            if len(seen) == 4:
                w.stop()

    t = threading.Thread(target=consume)
    t.start()
    core.create_namespaced_config_map(ns, k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="settings"),
                                                          data={"color": "blue"}))
    assert [c.metadata.name for c in core.list_namespaced_config_map(ns).items] == ["settings"]
    core.patch_namespaced_config_map("settings", ns, {"data": {"color": "green"}})
    core.replace_namespaced_config_map("settings", ns, k8s.V1ConfigMap(
        metadata=k8s.V1ObjectMeta(name="settings"), data={"color": "red", "size": "xl"}))
    core.delete_namespaced_config_map("settings", ns)
    t.join(15)
    assert seen == [("ADDED", "settings", {"color": "blue"}), ("MODIFIED", "settings", {"color": "green"}),
                    ("MODIFIED", "settings", {"color": "red", "size": "xl"}),
                    ("DELETED", "settings", {"color": "red", "size": "xl"})]
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_config_map("settings", ns)
    assert exc.value.status == 404
