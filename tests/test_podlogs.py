"""``pods/log`` in the API server: PodLogOptions validation, the container choice, the kubelet address."""

from __future__ import annotations

from typing import Any

import pytest

from apimachinery.errors import StatusError
from apiserver import podlogs

POD = {"metadata": {"name": "web", "namespace": "default"},
       "spec": {"initContainers": [{"name": "setup"}], "containers": [{"name": "app"}, {"name": "sidecar"}]}}


@pytest.mark.parametrize(("query", "code", "message"), [
    ({"tailLines": "-1"}, 422, 'PodLogOptions "web" is invalid: tailLines: Invalid value: -1: must be greater than '
                               "or equal to 0"),
    ({"limitBytes": "0"}, 422, 'PodLogOptions "web" is invalid: limitBytes: Invalid value: 0: must be greater than 0'),
    ({"sinceSeconds": "0"}, 422, 'PodLogOptions "web" is invalid: sinceSeconds: Invalid value: 0: must be greater '
                                 "than 0"),
    ({"sinceSeconds": "5", "sinceTime": "2026-01-01T00:00:00Z"}, 422,
     'PodLogOptions "web" is invalid: : Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified'),
    ({"tailLines": "x"}, 400, 'invalid value "x" for query parameter tailLines: must be an integer'),
    ({"follow": "maybe"}, 400, 'invalid boolean value "maybe" for query parameter follow'),
])
def test_invalid_options(query: dict[str, str], code: int, message: str) -> None:
    with pytest.raises(StatusError) as ei:
        podlogs.log_options(query, "web")
    assert (ei.value.code, ei.value.message) == (code, message)


def test_valid_options() -> None:
    opts = podlogs.log_options({"follow": "true", "tailLines": "10", "container": "app"}, "web")
    assert opts["follow"] is True and opts["tailLines"] == 10 and opts["previous"] is False


@pytest.mark.parametrize(("pod", "wanted", "result"), [
    ({"metadata": {"name": "one"}, "spec": {"containers": [{"name": "only"}]}}, "", "only"),
    (POD, "setup", "setup"),
    (POD, "", "a container name must be specified for pod web, choose one of: [setup app sidecar]"),
    (POD, "nope", "container nope is not valid for pod web"),
])
def test_container_choice(pod: dict[str, Any], wanted: str, result: str) -> None:
    if " " not in result:
        assert podlogs.pick_container(pod, wanted) == result
        return
    with pytest.raises(StatusError) as ei:
        podlogs.pick_container(pod, wanted)
    assert (ei.value.code, ei.value.message) == (400, result)


def node(ip: str, port: int | None = 10250) -> dict[str, Any]:
    status: dict[str, Any] = {"addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": "n"}]}
    if port:
        status["daemonEndpoints"] = {"kubeletEndpoint": {"Port": port}}
    return {"metadata": {"name": "n"}, "status": status}


def test_kubelet_address_is_loopback_only() -> None:
    assert podlogs.kubelet_address(node("127.0.1.2", 41000)) == ("127.0.1.2", 41000)
    assert podlogs.kubelet_address(node("127.0.1.2", None)) == ("127.0.1.2", 10250)
    with pytest.raises(StatusError) as ei:
        podlogs.kubelet_address(node("10.0.0.5"))
    assert ei.value.code == 500 and "only connects to kubelets on loopback" in ei.value.message
