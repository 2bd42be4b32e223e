"""The environment, command line and image of a process-runtime container (kubelet rules)."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from agents.node import podenv

Obj = dict[str, Any]


@pytest.mark.parametrize(("text", "expected"), [
    ("$(A)", "a"),
    ("x$(A)y$(B)z", "xaybz"),
    ("$(MISSING)", "$(MISSING)"),
    ("$$(A)", "$(A)"),  # escaped
    ("$$", "$"),
    ("$(A", "$(A"),  # unterminated reference stays
    ("cost: $5", "cost: $5"),
    ("trailing $", "trailing $"),
    ("$(A)$(A)", "aa"),
    ("", ""),
])
def test_expand(text: str, expected: str) -> None:
    assert podenv.expand(text, {"A": "a", "B": "b"}.get) == expected


def pod(**spec: Any) -> Obj:
    return {"metadata": {"name": "web-1", "namespace": "shop", "uid": "u-1", "labels": {"app": "web", "tier": "fe"}},
            "spec": {"nodeName": "node-2", **spec}}


def svc(ns: str, name: str, ip: str, port: int = 80, port_name: str = "") -> Obj:
    p: Obj = {"port": port, "protocol": "TCP"}
    if port_name:
        p["name"] = port_name
    return {"metadata": {"namespace": ns, "name": name}, "spec": {"clusterIP": ip, "ports": [p]}}


SERVICES = [svc("shop", "cart-db", "127.96.0.7", 5432, "pg"), svc("default", "kubernetes", "127.96.0.1", 443, "https"),
            svc("other", "elsewhere", "127.96.0.9")]


def test_service_variables_and_declared_ones_in_kubelet_order() -> None:
    container = {"env": [{"name": "DB", "value": "$(CART_DB_SERVICE_HOST):$(CART_DB_SERVICE_PORT_PG)"},
                         {"name": "URL", "value": "postgres://$(DB)/x"},
                         {"name": "CART_DB_SERVICE_HOST", "value": "overridden"}]}
    env = podenv.container_env(pod(), container, services=SERVICES, pod_ip="127.10.2.5", host_ip="127.0.1.2")
    names = [k for k, _ in env]
    assert names[:3] == ["DB", "URL", "CART_DB_SERVICE_HOST"]  # declared first, in order
    d = dict(env)
    assert d["DB"] == "127.96.0.7:5432" and d["URL"] == "postgres://127.96.0.7:5432/x"
    assert d["CART_DB_SERVICE_HOST"] == "overridden"  # the declaration wins, and is not repeated
    assert names.count("CART_DB_SERVICE_HOST") == 1
    assert d["KUBERNETES_SERVICE_HOST"] == "127.96.0.1" and d["KUBERNETES_SERVICE_PORT_HTTPS"] == "443"
    assert d["CART_DB_PORT"] == "tcp://127.96.0.7:5432"
    assert "ELSEWHERE_SERVICE_HOST" not in d  # another namespace


def test_service_links_off_keeps_only_the_master_service() -> None:
    env = dict(podenv.container_env(pod(enableServiceLinks=False), {}, services=SERVICES, pod_ip="", host_ip=""))
    assert "CART_DB_SERVICE_HOST" not in env and env["KUBERNETES_SERVICE_HOST"] == "127.96.0.1"


@pytest.mark.parametrize(("path", "expected"), [
    ("metadata.name", "web-1"), ("metadata.namespace", "shop"), ("metadata.uid", "u-1"),
    ("spec.nodeName", "node-2"), ("status.podIP", "127.10.2.5"), ("status.hostIP", "127.0.1.2"),
    ("metadata.labels['tier']", "fe"), ("metadata.labels", 'app="web"\ntier="fe"'),
])
def test_downward_api(path: str, expected: str) -> None:
    c = {"env": [{"name": "X", "valueFrom": {"fieldRef": {"fieldPath": path}}}]}
    env = dict(podenv.container_env(pod(), c, services=[], pod_ip="127.10.2.5", host_ip="127.0.1.2"))
    assert env["X"] == expected


@pytest.mark.parametrize(("var", "message"), [
    ({"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}}, 'configmap "cfg" not found'),
    ({"name": "X", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}, 'secret "s" not found'),
])
def test_missing_config_sources_fail_unless_optional(var: Obj, message: str) -> None:
    with pytest.raises(podenv.ConfigError, match=message):
        podenv.container_env(pod(), {"env": [var]}, services=[], pod_ip="", host_ip="")
    key = next(iter(var["valueFrom"]))
    var["valueFrom"][key]["optional"] = True
    assert podenv.container_env(pod(), {"env": [var]}, services=[], pod_ip="", host_ip="") == []


@pytest.mark.parametrize(("image", "name", "builtin"), [
    ("kubelite/echo", "kubelite/echo", True), ("kubelite/echo:1.2", "kubelite/echo", True),
    ("docker.io/kubelite/tcp-echo@sha256:abc", "kubelite/tcp-echo", True), ("nginx", "nginx", False),
    ("registry:5000/team/app:v1", "registry:5000/team/app", False),
])
def test_image_names(image: str, name: str, builtin: bool) -> None:
    assert podenv.image_name(image) == name
    assert (podenv.builtin(image) is not None) == builtin


def test_launch_of_a_builtin_binds_its_port_and_ip() -> None:
    c = {"name": "web", "image": "kubelite/echo:latest", "ports": [{"containerPort": 9090}], "args": ["--delay", "$(D)"],
         "env": [{"name": "D", "value": "1"}]}
    launch = podenv.launch(pod(), c, services=[], pod_ip="127.10.2.5", host_ip="127.0.1.2", node_name="node-2",
                           sandbox="/tmp/sbx")
    assert launch.argv == [sys.executable, podenv.ECHO_FILE, "http", "--delay", "1"]
    assert launch.env["PORT"] == "9090" and launch.env["KUBELITE_POD_IP"] == "127.10.2.5"
    assert launch.env["HOSTNAME"] == "web-1" and launch.cwd == "/tmp/sbx"


def test_launch_with_a_command_and_an_unknown_image() -> None:
    c = {"name": "job", "image": "busybox", "command": ["sh", "-c"], "args": ["echo $(MSG)"], "workingDir": "/srv",
         "env": [{"name": "MSG", "value": "hi"}]}
    launch = podenv.launch(pod(), c, services=[], pod_ip="", host_ip="", node_name="n", sandbox="/tmp/sbx")
    assert launch.argv == ["sh", "-c", "echo hi"] and launch.cwd == "/srv" and "PORT" not in launch.env
    with pytest.raises(podenv.ImageError, match='image "nginx" is not available'):
        podenv.launch(pod(), {"name": "x", "image": "nginx"}, services=[], pod_ip="", host_ip="", node_name="n",
                      sandbox="")
