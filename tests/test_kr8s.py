"""kr8s, a popular Python client written for real Kubernetes, against kubelite: its everyday calls.

Why: kr8s builds paths with a trailing slash (``/version/``, ``/api/``) and failed at its very first
call before kubelite answered those as kube-apiserver does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ApiServerProcess, running_apiserver

kr8s = pytest.importorskip("kr8s")
from kr8s.objects import Deployment, Service  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    with running_apiserver(tmp_path_factory.mktemp("kr8s")) as srv:
        yield srv


@pytest.fixture
def api(server: ApiServerProcess, tmp_path: Path) -> Any:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters: [{{name: c, cluster: {{server: '{server.url}'}}}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {}}]\n")
    return kr8s.api(kubeconfig=str(kubeconfig))


def test_first_calls_version_and_api_resources(api: Any) -> None:
    assert api.version()["gitVersion"] == "v1.32.4"
    names = {r["name"] for r in api.api_resources()}
    assert {"services", "pods", "endpoints", "deployments", "endpointslices.discovery.k8s.io"} <= names or \
        {"services", "pods", "endpoints", "deployments", "endpointslices"} <= names


def test_create_label_list_scale_wait_delete(api: Any) -> None:
    svc = Service({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "the-bus", "namespace": "default"},
                   "spec": {"selector": {"env": "marvel"}, "ports": [{"port": 8080}]}}, api=api)
    svc.create()
    assert svc.metadata.uid
    svc.label({"tier": "web"})
    svc.refresh()
    assert svc.labels == {"tier": "web"}
    assert "the-bus" in [s.name for s in api.get("services", namespace="default")]
    assert [s.name for s in api.get("services", namespace="default", label_selector={"tier": "web"})] == ["the-bus"]
    deploy = Deployment({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "hello", "namespace": "default"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "h"}},
                 "template": {"metadata": {"labels": {"app": "h"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}, api=api)
    deploy.create()
    deploy.scale(3)
    deploy.refresh()
    assert deploy.spec.replicas == 3
    svc.delete()
    svc.wait("delete", timeout=10)
    assert not svc.exists()
    deploy.delete()
