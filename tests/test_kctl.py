"""kctl: its pure parts, and kctl and the real kubectl side by side on one live kubelite API server.

Why: kctl promises kubectl's output, so the proof is running both on the same
objects and comparing stdout, the last stderr line and the exit code. The
comparisons skip when kubectl is missing, unless KUBELITE_REQUIRE_KUBECTL=1
(CI), which makes a missing kubectl a failure. Tables are compared exactly,
or token by token with AGE cells masked when the two requests straddled a
second.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from apimachinery import envvars
from apimachinery.errors import StatusError, invalid_object, not_found, required
from apimachinery.kinds.printing import human_duration
from kubeclient.kctl import describers, jsonpath
from kubeclient.kctl.commands.apply import (
    json_merge_three_way,
    modified_configuration,
    parse_tcp,
    service_object,
)
from kubeclient.kctl.commands.expose import exposed_service
from kubeclient.kctl.commands.labels import change_message, changed, merge_patch, split_pairs
from kubeclient.kctl.encoding import go_json, go_yaml
from kubeclient.kctl.failures import KctlError, Problems, fail, status_message
from kubeclient.kctl.manifests import parse_text, split_documents
from kubeclient.kctl.printing import TableOptions, TablePrinter, cell_text
from kubeclient.kctl.quantity import parse_quantity
from kubeclient.kctl.tabwriter import TabWriter, kubectl_writer, tabbed
from tests import needs
from tests.conftest import ApiServerProcess, running_apiserver

AGE_TOKEN = re.compile(r"^(\d+[smhdy])+$")


# ---- pure parts ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # kubectl's get: minwidth 6, padding 3; the last cell of a line is never padded
        ("NAME\tAGE\nthe-bus\t5m3s\n", "NAME      AGE\nthe-bus   5m3s\n"),
        ("A\tB\nx\ty\n", "A     B\nx     y\n"),
        ("NAMESPACE\tNAME\na\tb\n", "NAMESPACE   NAME\na           b\n"),
        # a line without a tab ends the column block
        ("a\tb\nplain\nlonger-cell\tc\n", "a     b\nplain\nlonger-cell   c\n"),
        # empty cells still take their column's width
        ("A\tB\tC\n\tx\ty\n", "A     B     C\n      x     y\n"),
    ],
)
def test_tabwriter_get_layout(text: str, expected: str) -> None:
    w = kubectl_writer()
    w.write(text)
    assert w.flush() == expected


def test_tabwriter_describe_layout_and_blocks() -> None:
    text = "Name:\tx\nPort:\thttp\t80/TCP\nTargetPort:\t8080/TCP\nNodePort:\thttp\t30080/TCP\n"
    assert tabbed(text) == (
        "Name:        x\n"
        "Port:        http  80/TCP\n"
        "TargetPort:  8080/TCP\n"
        "NodePort:    http  30080/TCP\n"
    )


def test_tabwriter_remembers_widths_across_flushes() -> None:
    w = TabWriter(minwidth=6, padding=3, remember_widths=True)
    w.write("NAME\tAGE\nlong-name-here\t1s\n")
    first = w.flush()
    w.write("a\t2s\n")
    assert w.flush() == "a                2s\n"
    assert first.splitlines()[0] == "NAME             AGE"
    w.set_remembered_widths(None)
    w.write("a\t2s\n")
    assert w.flush() == "a     2s\n"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(-5, "<invalid>"), (-1, "0s"), (0, "0s"), (59, "59s"), (119, "119s"), (120, "2m"), (303, "5m3s"),
     (600, "10m"), (3 * 3600 - 1, "179m"), (3 * 3600, "3h"), (7 * 3600 + 60, "7h1m"), (30 * 3600, "30h"),
     (50 * 3600, "2d2h"), (9 * 86400, "9d"), (800 * 86400, "2y70d"), (3000 * 86400, "8y")],
)
def test_human_duration(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


DOC: dict[str, Any] = {
    "kind": "List",
    "items": [
        {"metadata": {"name": "a", "labels": {"app": "x"}}, "spec": {"ports": [{"port": 80}, {"port": 81}]},
         "status": {"phase": "Running"}},
        {"metadata": {"name": "b"}, "status": {"phase": "Pending"}},
    ],
}


@pytest.mark.parametrize(
    ("template", "out"),
    [
        ("{.items[*].metadata.name}", "a b"),
        ("{.items[0].spec.ports[*].port}", "80 81"),
        ("{.items[-1].metadata.name}", "b"),
        ("{.items[0:1].metadata.name}", "a"),
        ("{.items[0].metadata.labels}", '{"app":"x"}'),
        ("{.items[0].metadata.labels['app']}", "x"),
        ('{.items[?(@.status.phase=="Pending")].metadata.name}', "b"),
        ("{..port}", "80 81"),
        ("{.items[*].nope}", ""),
        ('{range .items[*]}{.metadata.name}{"\\t"}{.status.phase}{"\\n"}{end}', "a\tRunning\nb\tPending\n"),
        ("kind={.kind}", "kind=List"),
    ],
)
def test_jsonpath(template: str, out: str) -> None:
    assert jsonpath.execute(template, DOC) == out


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ("nginx", "v: nginx\n"),
        ("80", 'v: "80"\n'),
        ("yes", 'v: "yes"\n'),
        ("", 'v: ""\n'),
        ("2026-11-26T14:13:16Z", 'v: "2026-11-26T14:13:16Z"\n'),
        ("1.5", 'v: "1.5"\n'),
        ("*star", "v: '*star'\n"),
        ("a: b", "v: 'a: b'\n"),
        ('{"a":1}\n', "v: |\n  {\"a\":1}\n"),
        (80, "v: 80\n"),
        (True, "v: true\n"),
    ],
)
def test_go_yaml_scalars(value: Any, line: str) -> None:
    assert go_yaml({"v": value}) == line


def test_go_yaml_layout_and_key_order() -> None:
    doc = {"spec": {"ports": [{"port": 80, "name": "http"}]}, "a10": 1, "a9": 2, "_x": 3, "Z": 4, "status": {}}
    assert go_yaml(doc) == (
        "_x: 3\nZ: 4\na9: 2\na10: 1\nspec:\n  ports:\n  - name: http\n    port: 80\nstatus: {}\n"
    )


def test_go_json_is_marshal_indent() -> None:
    assert go_json({"b": [], "a": {"x": "<none>&"}}) == (
        '{\n    "a": {\n        "x": "\\u003cnone\\u003e\\u0026"\n    },\n    "b": []\n}'
    )


def test_split_documents_like_go_yaml_reader() -> None:
    assert split_documents("a: 1\n---\nb: 2\n--- # c\nc: 3\n---x: 1\n") == ["a: 1\n", "b: 2\n", "c: 3\n---x: 1\n"]


def test_parse_text_flattens_lists_and_json_streams() -> None:
    objs = parse_text("kind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: a}}\n---\n"
                      "apiVersion: v1\nkind: Service\nmetadata: {name: b, creationTimestamp: 2024-01-01}\n",
                      source="f")
    assert [o["metadata"]["name"] for o in objs] == ["a", "b"]
    assert objs[1]["metadata"]["creationTimestamp"] == "2024-01-01"  # stays a string, as in kubectl
    stream = parse_text('{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"}} {"apiVersion":"v1",'
                        '"kind":"Pod","metadata":{"name":"y"}}', source="f")
    assert [o["metadata"]["name"] for o in stream] == ["x", "y"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("apiVersion: v1\nkind: Service\nmetadata: [\n",
         "error: error parsing f.yaml: error converting YAML to JSON: yaml: line 3: did not find expected node "
         "content"),
        ("kind: Service\nmetadata: {name: x}\n",
         'error: error validating "f.yaml": error validating data: apiVersion not set; if you choose to ignore '
         "these errors, turn validation off with --validate=false"),
        ("metadata: {name: x}\n",
         'error: error validating "f.yaml": error validating data: [apiVersion not set, kind not set]; if you '
         "choose to ignore these errors, turn validation off with --validate=false"),
    ],
)
def test_parse_errors_in_kubectl_words(text: str, message: str) -> None:
    with pytest.raises(KctlError) as e:
        parse_text(text, source="f.yaml")
    assert e.value.message == message


def test_last_applied_configuration_is_kubectls() -> None:
    """The exact body kubectl 1.32 POSTs on a first apply (kubectl-contract/requests-by-command.txt)."""
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Service",
                           "metadata": {"name": "the-bus", "namespace": "default"},
           "spec": {"type": "NodePort", "selector": {"env": "marvel"},
                    "ports": [{"port": 8080, "targetPort": 8080, "nodePort": 31112}]}}
    applied = (
        '{"apiVersion":"v1","kind":"Service","metadata":{"annotations":{},"name":"the-bus","namespace":"default"},'
        '"spec":{"ports":[{"nodePort":31112,"port":8080,"targetPort":8080}],"selector":{"env":"marvel"},'
        '"type":"NodePort"}}\n'
    )
    body = modified_configuration(obj)
    assert body == go_json({**obj, "metadata": {
        **obj["metadata"], "annotations": {"kubectl.kubernetes.io/last-applied-configuration": applied}}},
        indent=None) + "\n"


def test_json_merge_fallback_for_types_without_patch_metadata() -> None:
    original = {"a": 1, "b": {"c": 1, "d": 2}}
    current = {"a": 1, "b": {"c": 1, "d": 2}, "status": {"x": 1}}
    assert json_merge_three_way(original, {"b": {"c": 2}}, current) == {"a": None, "b": {"d": None, "c": 2}}
    assert json_merge_three_way(None, {"a": 1}, {"a": 1, "x": 2}) == {}


@pytest.mark.parametrize(
    ("spec", "port"),
    [("8080:80", {"name": "8080-80", "port": 8080, "protocol": "TCP", "targetPort": 80}),
     ("82", {"name": "82", "port": 82, "protocol": "TCP", "targetPort": 82}),
     ("80:http", {"name": "80-http", "port": 80, "protocol": "TCP", "targetPort": "http"})],
)
def test_create_service_ports(spec: str, port: dict[str, Any]) -> None:
    assert parse_tcp(spec) == port


def test_create_service_object_like_kubectl() -> None:
    assert service_object("skippy", "ClusterIP", tcp=("8080:8080",)) == {
        "apiVersion": "v1", "kind": "Service", "metadata": {"labels": {"app": "skippy"}, "name": "skippy"},
        "spec": {"ports": [{"name": "8080-8080", "port": 8080, "protocol": "TCP", "targetPort": 8080}],
                 "selector": {"app": "skippy"}, "type": "ClusterIP"}}
    np = service_object("np", "NodePort", tcp=("81:8081",), node_port=30081)
    assert np["spec"]["ports"][0]["nodePort"] == 30081


def test_expose_pod_selects_its_labels() -> None:
    pod = {"kind": "Pod", "metadata": {"name": "p", "labels": {"env": "marvel", "tier": "web"}},
           "spec": {"containers": [{"ports": [{"containerPort": 80}, {"containerPort": 81}]}]}}
    svc = exposed_service(pod, name="x", port="80", target_port=None, protocol="TCP", svc_type=None,
                          port_name=None)
    assert svc["spec"] == {"ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                           "selector": {"env": "marvel", "tier": "web"}}
    both = exposed_service(pod, name=None, port=None, target_port=None, protocol="TCP", svc_type="NodePort",
                           port_name=None)
    assert [p["name"] for p in both["spec"]["ports"]] == ["port-1", "port-2"]
    assert both["metadata"]["name"] == "p"


def test_label_changes() -> None:
    resources, new, remove = split_pairs(("svc", "x", "tier=web", "old-"), what="label")
    assert (resources, new, remove) == (["svc", "x"], {"tier": "web"}, ["old"])
    with pytest.raises(KctlError, match="all resources must be specified before label changes: y"):
        split_pairs(("svc", "a=b", "y"), what="label")
    with pytest.raises(KctlError, match=r"'tier' already has a value \(db\), and --overwrite is false"):
        changed({"tier": "db"}, {"tier": "web"}, [], overwrite=False, what="label")
    updated, missing = changed({"old": "1", "keep": "2"}, {"tier": "web"}, ["old", "gone"], overwrite=False,
                               what="label")
    assert (updated, missing) == ({"keep": "2", "tier": "web"}, ["gone"])
    assert merge_patch("labels", {"old": "1", "keep": "2"}, updated) == {
        "metadata": {"labels": {"tier": "web", "old": None}}}
    assert merge_patch("labels", {"a": "1"}, {"a": "1"}) == {}
    before = {"metadata": {"labels": {"a": "1"}}}
    assert change_message(before, {"metadata": {"labels": {}}}, overwrite=False) == "unlabeled"
    assert change_message(before, {"metadata": {"labels": {}}}, overwrite=True) == "labeled"
    assert change_message(before, before, overwrite=False) == "not labeled"


def test_error_wording() -> None:
    assert status_message(not_found("services", "x")) == 'Error from server (NotFound): services "x" not found'
    one = invalid_object("Service", "bad", [required("spec.ports")])
    assert status_message(one) == 'The Service "bad" is invalid: spec.ports: Required value'
    two = invalid_object("Service", "bad", [required("spec.ports[0].name"), required("spec.type")])
    assert status_message(two) == ('The Service "bad" is invalid: \n* spec.ports[0].name: Required value\n'
                                   "* spec.type: Required value\n")
    problems = Problems()
    problems.add(one, source_op="creating", source="a.yaml")
    problems.add(fail("boom"))
    assert problems.render() == ('Error from server (Invalid): error when creating "a.yaml": Service "bad" is '
                                 "invalid: spec.ports: Required value\nboom")
    assert isinstance(one, StatusError)


def _svc(name: str, ip: str, ports: list[dict[str, Any]], ns: str = "shield") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"clusterIP": ip, "ports": ports}}


def test_env_vars_for_a_service_with_two_named_ports() -> None:
    """The variable names of kubernetes.io/docs/concepts/containers/container-environment and pkg/kubelet/envvars."""
    svc = _svc("redis-primary", "10.0.0.11", [{"name": "redis", "port": 6379, "protocol": "TCP"},
                                              {"name": "metrics", "port": 9121, "protocol": "UDP"}])
    assert envvars.from_services([svc]) == [
        ("REDIS_PRIMARY_SERVICE_HOST", "10.0.0.11"),
        ("REDIS_PRIMARY_SERVICE_PORT", "6379"),
        ("REDIS_PRIMARY_SERVICE_PORT_REDIS", "6379"),
        ("REDIS_PRIMARY_SERVICE_PORT_METRICS", "9121"),
        ("REDIS_PRIMARY_PORT", "tcp://10.0.0.11:6379"),
        ("REDIS_PRIMARY_PORT_6379_TCP", "tcp://10.0.0.11:6379"),
        ("REDIS_PRIMARY_PORT_6379_TCP_PROTO", "tcp"),
        ("REDIS_PRIMARY_PORT_6379_TCP_PORT", "6379"),
        ("REDIS_PRIMARY_PORT_6379_TCP_ADDR", "10.0.0.11"),
        ("REDIS_PRIMARY_PORT_9121_UDP", "udp://10.0.0.11:9121"),
        ("REDIS_PRIMARY_PORT_9121_UDP_PROTO", "udp"),
        ("REDIS_PRIMARY_PORT_9121_UDP_PORT", "9121"),
        ("REDIS_PRIMARY_PORT_9121_UDP_ADDR", "10.0.0.11"),
    ]


def test_env_vars_choose_services_like_the_kubelet() -> None:
    services = [
        _svc("kubernetes", "10.96.0.1", [{"name": "https", "port": 443}], ns="default"),
        _svc("web", "10.0.0.2", [{"port": 80}]),
        _svc("headless", "None", [{"port": 80}]),
        _svc("other-ns", "10.0.0.3", [{"port": 80}], ns="elsewhere"),
    ]
    pod: dict[str, Any] = {"metadata": {"name": "p", "namespace": "shield"}, "spec": {}}
    names = [k for k, _ in envvars.pod_service_env(pod, services) if k.endswith("_SERVICE_HOST")]
    assert names == ["KUBERNETES_SERVICE_HOST", "WEB_SERVICE_HOST"]
    pod["spec"]["enableServiceLinks"] = False
    names = [k for k, _ in envvars.pod_service_env(pod, services) if k.endswith("_SERVICE_HOST")]
    assert names == ["KUBERNETES_SERVICE_HOST"]


@pytest.mark.parametrize(
    ("ready", "port_name", "expected"),
    [
        ([True, True], "http", "10.1.0.1:8080,10.1.0.2:8080"),
        ([True, False], "http", "10.1.0.1:8080"),
        ([True, None], "other", ""),
        ([True] * 5, "http", "10.1.0.1:8080,10.1.0.2:8080,10.1.0.3:8080 + 2 more..."),
    ],
)
def test_describe_endpoints_from_slices(ready: list[bool | None], port_name: str, expected: str) -> None:
    endpoints = [{"addresses": [f"10.1.0.{i + 1}"], "conditions": {} if r is None else {"ready": r}}
                 for i, r in enumerate(ready)]
    sl = {"ports": [{"name": "http", "port": 8080, "protocol": "TCP"}], "endpoints": endpoints}
    assert describers.format_endpoint_slices([sl], port_name) == expected
    assert describers.format_endpoint_slices([], port_name) == "<none>"


@pytest.mark.parametrize(
    ("a", "b", "total", "milli"),
    [("1Gi", "512Mi", "1536Mi", 1610612736000), ("100m", "200m", "300m", 300), ("0.1", "0", "100m", 100),
     ("1.5", "0", "1500m", 1500), ("1500", "0", "1500", 1500000), ("1000", "0", "1k", 1000000),
     ("0", "0", "0", 0), ("1k", "500", "1500", 1500000), ("2e3", "0", "2e3", 2000000)],
)
def test_quantities_add_and_print_canonically(a: str, b: str, total: str, milli: int) -> None:
    q = parse_quantity(a) + parse_quantity(b)
    assert (str(q), q.milli_value()) == (total, milli)


def test_describe_service_page() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    svc = {"metadata": {"name": "the-bus", "namespace": "shield", "labels": {"app": "bus"},
                        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
           "spec": {"type": "NodePort", "selector": {"env": "marvel"}, "clusterIP": "10.96.0.10",
                    "clusterIPs": ["10.96.0.10"], "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                    "sessionAffinity": "None", "externalTrafficPolicy": "Cluster",
                    "ports": [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080,
                               "protocol": "TCP"}]}}
    event = {"type": "Normal", "reason": "Created", "source": {"component": "ctl"}, "message": "made it",
             "firstTimestamp": (now - timedelta(minutes=5, seconds=3)).isoformat(),
             "lastTimestamp": (now - timedelta(minutes=5, seconds=3)).isoformat(), "count": 1}
    page = describers.describe_service(svc, [], [event], now)
    assert page == (
        "Name:                     the-bus\n"
        "Namespace:                shield\n"
        "Labels:                   app=bus\n"
        "Annotations:              <none>\n"
        "Selector:                 env=marvel\n"
        "Type:                     NodePort\n"
        "IP Family Policy:         SingleStack\n"
        "IP Families:              IPv4\n"
        "IP:                       10.96.0.10\n"
        "IPs:                      10.96.0.10\n"
        "Port:                     http  80/TCP\n"
        "TargetPort:               8080/TCP\n"
        "NodePort:                 http  30080/TCP\n"
        "Endpoints:                <none>\n"
        "Session Affinity:         None\n"
        "External Traffic Policy:  Cluster\n"
        "Events:\n"
        "  Type    Reason   Age   From  Message\n"
        "  ----    ------   ----  ----  -------\n"
        "  Normal  Created  5m3s  ctl   made it\n"
    )


def test_table_printer_decorates_rows() -> None:
    table = {"columnDefinitions": [{"name": "Name", "type": "string", "format": "name", "priority": 0},
                                   {"name": "Age", "type": "string", "priority": 0},
                                   {"name": "Selector", "type": "string", "priority": 1}],
             "rows": [{"cells": ["a", "1s", "x=y"],
                       "object": {"metadata": {"name": "a", "namespace": "n", "labels": {"k": "v"}}}}]}
    w = kubectl_writer()
    TablePrinter(TableOptions(with_namespace=True, kind_prefix="service", show_labels=True)).print_table(table, w)
    assert w.flush() == "NAMESPACE   NAME        AGE   LABELS\nn           service/a   1s    k=v\n"
    w = kubectl_writer()
    TablePrinter(TableOptions(wide=True)).print_table({**table, "rows": []}, w)
    assert w.flush() == ""
    assert cell_text("two\nlines") == "two..."
    assert cell_text(3.0) == "3"


# ---- a live server --------------------------------------------------------------


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def last_err(self) -> str:
        lines = self.err.strip().splitlines()
        return lines[-1] if lines else ""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    with running_apiserver(tmp_path_factory.mktemp("kctl")) as srv:
        yield srv


@pytest.fixture(scope="module")
def home(server: ApiServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A HOME whose ~/.kube/config points at the server (kctl and kubectl find it the same way)."""
    h = tmp_path_factory.mktemp("home")
    (h / ".kube").mkdir()
    (h / ".kube" / "config").write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: kubelite\n  cluster:\n    server: {server.url}\n"
        "users:\n- name: kubelite\n  user: {}\n"
        "contexts:\n- name: kubelite\n  context:\n    cluster: kubelite\n    user: kubelite\n"
        "current-context: kubelite\n"
    )
    return h


Runner = Callable[..., Result]


def _runner(argv0: list[str], home: Path) -> Runner:
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env.update({"HOME": str(home), "KUBECTL_EXTERNAL_DIFF": "", "PYTHONPATH": str(Path(__file__).parents[1])})

    def run(*args: str, stdin: str | None = None, timeout: float = 60) -> Result:
        p = subprocess.run([*argv0, *args], capture_output=True, text=True, input=stdin, timeout=timeout,
                           env=env, cwd=home, check=False)
        return Result(p.returncode, p.stdout, p.stderr)

    return run


@pytest.fixture(scope="module")
def kctl(home: Path) -> Runner:
    return _runner([sys.executable, "-m", "kubeclient.kctl.cli"], home)


@pytest.fixture(scope="module")
def kubectl(home: Path) -> Runner:
    return _runner([needs.kubectl(), f"--cache-dir={home / 'kube-cache'}"], home)


@pytest.fixture(scope="module")
def http(server: ApiServerProcess) -> Iterator[httpx.Client]:
    # no keep-alive: the server closes idle connections while the subprocesses run
    with httpx.Client(base_url=server.url, timeout=10, limits=httpx.Limits(max_keepalive_connections=0)) as c:
        yield c


_counter = iter(range(1, 1_000_000))


def new_namespace(http: httpx.Client, prefix: str) -> str:
    name = f"{prefix}-{os.getpid()}-{next(_counter)}"
    r = http.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert r.status_code == 201, r.text
    return name


APP = """\
apiVersion: v1
kind: Service
metadata:
  name: the-bus
  labels: {app: bus}
spec:
  type: NodePort
  selector: {env: marvel}
  ports:
  - name: http
    port: 8080
    targetPort: TARGET
  - name: metrics
    port: 9090
---
apiVersion: v1
kind: Pod
metadata:
  name: triskelion
  labels: {env: marvel, suite: kctl}
spec:
  containers:
  - name: bus-ctr
    image: quay.io/mask365/scaling:latest
    ports:
    - containerPort: 8080
"""


def app(home: Path, name: str, *, target: int = 8080) -> str:
    (home / name).write_text(APP.replace("TARGET", str(target)))
    return name


def same_output(a: str, b: str) -> bool:
    """Equal, or equal token by token once AGE-like cells are masked (the two requests straddled a second)."""
    if a == b:
        return True

    def tokens(text: str) -> list[list[str]]:
        return [["<age>" if AGE_TOKEN.match(t) else t for t in line.split()] for line in text.splitlines()]

    return tokens(a) == tokens(b)


def assert_same(ours: Result, theirs: Result, what: str) -> None:
    assert ours.code == theirs.code, f"{what}: exit {ours.code} != kubectl's {theirs.code}\n{ours.err}"
    assert same_output(ours.out, theirs.out), f"{what}: stdout differs\nkctl:\n{ours.out}\nkubectl:\n{theirs.out}"
    assert ours.last_err == theirs.last_err, f"{what}: stderr differs\nkctl: {ours.err}\nkubectl: {theirs.err}"


@pytest.fixture(scope="module")
def shield(http: httpx.Client, home: Path, kctl: Runner) -> str:
    """One namespace with the seed objects; the comparisons below only read it."""
    ns = new_namespace(http, "shield")
    r = kctl("apply", "-n", ns, "-f", app(home, "shield.yaml"))
    assert r.code == 0, r.err
    r = kctl("create", "service", "clusterip", "web", "--tcp=80:8080", "-n", ns)
    assert r.code == 0, r.err
    return ns


GET_COMMANDS = [
    ["get", "svc"],
    ["get", "svc", "-o", "wide"],
    ["get", "pods", "-l", "env in (marvel)"],
    ["get", "pods", "-A", "-l", "suite=kctl"],
    ["get", "pods", "-A", "-o", "wide", "-l", "suite=kctl"],
    ["get", "svc,pods"],
    ["get", "all"],
    ["get", "pods", "--show-labels"],
    ["get", "svc", "-o", "name"],
    ["get", "svc", "the-bus", "-o", "yaml"],
    ["get", "svc", "-o", "json"],
    ["get", "po", "triskelion", "-o", "jsonpath={.metadata.labels}"],
    ["get", "svc", "-o", "jsonpath={range .items[*]}{.metadata.name}{\"\\t\"}{.spec.ports[*].port}{\"\\n\"}{end}"],
    ["get", "svc/the-bus", "po/triskelion"],
    ["get", "endpoints"],
    ["get", "svc", "nope"],
    ["get", "bogus"],
    ["get", "pods", "-l", "nope=1"],
    ["describe", "svc", "the-bus"],
    ["describe", "svc", "the"],
    ["describe", "pod", "triskelion"],
    ["describe", "svc", "nope"],
]


@pytest.mark.parametrize("args", GET_COMMANDS, ids=[" ".join(a) for a in GET_COMMANDS])
def test_reads_match_kubectl(args: list[str], shield: str, kctl: Runner, kubectl: Runner) -> None:
    theirs = kubectl(*args, "-n", shield)
    ours = kctl(*args, "-n", shield)
    assert_same(ours, theirs, " ".join(args))


def test_api_resources_match_kubectl(kctl: Runner, kubectl: Runner) -> None:
    assert_same(kctl("api-resources"), kubectl("api-resources"), "api-resources")


def test_apply_twice_then_change_matches_kubectl(http: httpx.Client, home: Path, kctl: Runner,
                                                 kubectl: Runner) -> None:
    mine, theirs = new_namespace(http, "apply-kctl"), new_namespace(http, "apply-kubectl")
    v1, v2 = app(home, "v1.yaml"), app(home, "v2.yaml", target=9090)
    steps = [["apply", "-f", v1], ["apply", "-f", v1], ["apply", "-f", v2], ["apply", "-f", v2],
             ["apply", "-f", v1, "--dry-run=server"], ["apply", "-f", v1, "--dry-run=client"]]
    for step in steps:
        ours, kube = kctl(*step, "-n", mine), kubectl(*step, "-n", theirs)
        assert_same(ours, kube, " ".join(step))
    assert [line.split()[1] for line in kctl("apply", "-f", v1, "-n", mine).out.splitlines()] == [
        "configured", "unchanged"]
    # the two tools take turns on the same objects: the last-applied annotation is the same
    assert kubectl("apply", "-f", v2, "-n", mine).out.split() == ["service/the-bus", "configured",
                                                                 "pod/triskelion", "unchanged"]
    assert kctl("apply", "-f", v2, "-n", mine).out.split() == ["service/the-bus", "unchanged",
                                                              "pod/triskelion", "unchanged"]
    ours = kctl("get", "svc", "the-bus", "-n", mine, "-o", "jsonpath={.spec.ports[*].targetPort}")
    assert ours.out == "9090 9090"


def test_create_label_delete_match_kubectl(http: httpx.Client, home: Path, kctl: Runner, kubectl: Runner) -> None:
    mine, theirs = new_namespace(http, "cld-kctl"), new_namespace(http, "cld-kubectl")
    f = app(home, "cld.yaml")
    steps = [
        ["create", "-f", f],
        ["create", "-f", f],
        ["create", "service", "nodeport", "np", "--tcp=81:8081"],
        ["create", "service", "externalname", "ext", "--external-name=example.com"],
        ["expose", "pod", "triskelion", "--port=8080", "--name=tri"],
        ["label", "svc", "the-bus", "tier=web"],
        ["label", "svc", "the-bus", "tier=db"],
        ["label", "svc", "the-bus", "tier=db", "--overwrite"],
        ["label", "svc", "the-bus", "tier-"],
        ["label", "svc", "the-bus", "tier-"],
        ["label", "pods", "-l", "env=marvel", "x=y"],
        ["annotate", "svc", "the-bus", "note=hi"],
        ["label", "svc", "nope", "a=b"],
        ["wait", "--for=jsonpath={.status.phase}=Pending", "pod/triskelion", "--timeout=5s"],
        ["wait", "--for=condition=Ready", "pod/triskelion", "--timeout=1s"],
        ["wait", "--for=delete", "pod/nope", "--timeout=1s"],
        ["delete", "svc", "np", "ext", "tri"],
        ["delete", "svc", "nope"],
        ["delete", "pods", "-l", "nope=1"],
        ["delete", "-f", f],
        ["get", "all"],
    ]
    for step in steps:
        ours, kube = kctl(*step, "-n", mine), kubectl(*step, "-n", theirs)
        assert_same(ours, kube.__class__(kube.code, kube.out.replace(theirs, mine), kube.err.replace(theirs, mine)),
                    " ".join(step))


BAD_MANIFESTS = {
    "broken.yaml": "apiVersion: v1\nkind: Service\nmetadata: [\n",
    "noversion.yaml": "kind: Service\nmetadata:\n  name: x\n",
    "invalid.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  ports: []\n",
    "invalid2.yaml": ("apiVersion: v1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  type: Bogus\n"
                      "  ports: [{port: 80}, {port: 70000}]\n"),
}


@pytest.mark.parametrize(
    "args",
    [["get", "svc", "nope"], ["delete", "pod", "nope"], ["describe", "pod", "nope"],
     *[["apply", "-f", name] for name in BAD_MANIFESTS], ["create", "-f", "invalid2.yaml"],
     ["apply", "-f", "/does/not/exist.yaml"], ["get", "bogus"],
     ["-s", "http://127.0.0.1:1", "get", "pods"], ["get", "pods", "--server=http://127.0.0.1:1"]],
    ids=lambda a: " ".join(a),
)
def test_errors_match_kubectl(args: list[str], http: httpx.Client, home: Path, kctl: Runner,
                              kubectl: Runner) -> None:
    for name, text in BAD_MANIFESTS.items():
        (home / name).write_text(text)
    ns = new_namespace(http, "err")
    ours, theirs = kctl(*args, "-n", ns), kubectl(*args, "-n", ns)
    assert_same(ours, theirs, " ".join(args))
    assert ours.code == 1


def test_watch_matches_kubectl(http: httpx.Client, kctl: Runner, kubectl: Runner, home: Path) -> None:
    ns = new_namespace(http, "watch")
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env.update({"HOME": str(home), "PYTHONPATH": str(Path(__file__).parents[1])})
    kubectl_path = needs.kubectl()
    procs = [subprocess.Popen([*argv, "get", "svc", "-w", "-n", ns], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env, cwd=home)
             for argv in ([sys.executable, "-m", "kubeclient.kctl.cli"],
                          [kubectl_path, f"--cache-dir={home / 'kube-cache'}"])]
    try:
        time.sleep(2.0)
        assert kctl("create", "service", "clusterip", "a-long-service-name", "--tcp=80", "-n", ns).code == 0
        assert kctl("label", "svc", "a-long-service-name", "x=y", "-n", ns).code == 0
        assert kctl("create", "service", "nodeport", "b", "--tcp=81:81", "-n", ns).code == 0
        assert kctl("delete", "svc", "b", "-n", ns).code == 0
        time.sleep(1.5)
    finally:
        outs = []
        for p in procs:
            p.send_signal(signal.SIGINT)
            try:
                out, _ = p.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                out, _ = p.communicate()
            outs.append(out)
    ours, theirs = outs
    assert len(ours.splitlines()) == 5, ours
    assert same_output(ours, theirs), f"kctl:\n{ours}\nkubectl:\n{theirs}"


# ---- kctl on its own (no kubectl needed) -------------------------------------------


def test_env_for_a_service_with_two_named_ports(http: httpx.Client, home: Path, kctl: Runner) -> None:
    ns = new_namespace(http, "env")
    (home / "env.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web-app\nspec:\n  clusterIP: 10.96.100.10\n"
        "  selector: {app: web}\n  ports:\n  - {name: http, port: 80, targetPort: 8080}\n"
        "  - {name: metrics, port: 9090, protocol: UDP}\n---\n"
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: client\n  labels: {app: client}\n"
        "spec:\n  containers:\n  - {name: c, image: busybox}\n")
    assert kctl("apply", "-f", "env.yaml", "-n", ns).code == 0
    r = kctl("env", "pod/client", "-n", ns)
    assert r.code == 0, r.err
    lines = [line for line in r.out.splitlines() if line.startswith("WEB_APP_")]
    assert lines == [
        "WEB_APP_SERVICE_HOST=10.96.100.10",
        "WEB_APP_SERVICE_PORT=80",
        "WEB_APP_SERVICE_PORT_HTTP=80",
        "WEB_APP_SERVICE_PORT_METRICS=9090",
        "WEB_APP_PORT=tcp://10.96.100.10:80",
        "WEB_APP_PORT_80_TCP=tcp://10.96.100.10:80",
        "WEB_APP_PORT_80_TCP_PROTO=tcp",
        "WEB_APP_PORT_80_TCP_PORT=80",
        "WEB_APP_PORT_80_TCP_ADDR=10.96.100.10",
        "WEB_APP_PORT_9090_UDP=udp://10.96.100.10:9090",
        "WEB_APP_PORT_9090_UDP_PROTO=udp",
        "WEB_APP_PORT_9090_UDP_PORT=9090",
        "WEB_APP_PORT_9090_UDP_ADDR=10.96.100.10",
    ]
    assert "KUBERNETES_SERVICE_HOST=10.96.0.1" in r.out.splitlines()


def test_exit_codes_and_messages_without_kubectl(http: httpx.Client, kctl: Runner, home: Path) -> None:
    ns = new_namespace(http, "codes")
    r = kctl("get", "svc", "nope", "-n", ns)
    assert (r.code, r.out, r.err) == (1, "", 'Error from server (NotFound): services "nope" not found\n')
    r = kctl("get", "svc", "-n", ns)
    assert (r.code, r.out, r.err) == (0, "", f"No resources found in {ns} namespace.\n")
    r = kctl("-s", "http://127.0.0.1:1", "get", "pods")
    assert (r.code, r.err) == (1, "The connection to the server 127.0.0.1:1 was refused - did you specify the "
                                  "right host or port?\n")
    r = kctl("get", "pods", "--bogus-flag")
    assert (r.code, r.err) == (1, "error: unknown flag: --bogus-flag\nSee 'kctl get --help' for usage.\n")
    # flags before the verb, -n=..., and an explicit --kubeconfig work as with kubectl
    cfg = home / "explicit-config"
    cfg.write_text((home / ".kube" / "config").read_text())
    r = kctl(f"--kubeconfig={cfg}", "-n=" + ns, "get", "svc", "-o", "name")
    assert (r.code, r.out) == (0, "")
    r = kctl("--context", "missing", "get", "svc")
    assert (r.code, r.err) == (1, 'error: context "missing" does not exist\n')
    r = kctl("version")
    assert r.code == 0 and "Server Version: v1.32.4" in r.out


def test_stdin_manifest_and_yaml_round_trip(http: httpx.Client, kctl: Runner) -> None:
    ns = new_namespace(http, "stdin")
    r = kctl("apply", "-n", ns, "-f", "-", stdin=APP.replace("TARGET", "8080"))
    assert (r.code, r.out) == (0, "service/the-bus created\npod/triskelion created\n"), r.err
    got = yaml.safe_load(kctl("get", "svc", "the-bus", "-n", ns, "-o", "yaml").out)
    assert got["spec"]["ports"][0]["targetPort"] == 8080
    assert "managedFields" not in got["metadata"]
