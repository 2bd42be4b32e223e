"""apiserver.protobuf: kubectl's protobuf bodies decode to the JSON a Go server would see."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from apimachinery.errors import StatusError
from apiserver.discovery import version_info
from apiserver.protobuf import MAGIC, decode_protobuf, message_class
from tests import needs

CONTRACT = Path(__file__).parent / "data" / "kubectl-contract"

# Bodies the real kubectl v1.32.4 sent (kubectl-contract/requests-by-command.txt).
KUBECTL_SKIPPY = bytes.fromhex(
    "6b3873000a0d0a02763112075365727669636512750a250a06736b6970707912001a0022002a003200380042005a0d0a0361"
    "70701206736b6970707912480a1e0a09383038302d38303830120354435018903f2207080010903f1a002800120d0a036170"
    "701206736b697070791a002209436c757374657249503a00420052005a00600068001a020a001a002200"
)
KUBECTL_PBX = bytes.fromhex(
    "6b3873000a0d0a02763112075365727669636512640a1f0a0370627812001a0022002a003200380042005a0a0a0361707012"
    "03706278123d0a160a03312d31120354435018012206080010011a002800120a0a0361707012037062781a002209436c7573"
    "74657249503a00420052005a00600068001a020a001a002200"
)

CORE = "k8s.io.api.core.v1"


def envelope(kind: str, raw: bytes, *, api_version: str = "v1", encoding: str = "") -> bytes:
    unknown: Any = message_class("k8s.io.apimachinery.pkg.runtime.Unknown")()
    unknown.typeMeta.apiVersion = api_version
    unknown.typeMeta.kind = kind
    unknown.raw = raw
    unknown.contentEncoding = encoding
    unknown.contentType = ""
    return MAGIC + bytes(unknown.SerializeToString())


def full_service() -> bytes:
    """A Service with every field family set, built like Go marshals it (zero values on the wire)."""
    svc: Any = message_class(f"{CORE}.Service")()
    md = svc.metadata
    md.name = ""
    md.generateName = "web-"
    md.namespace = "shield"
    md.labels["app"] = "web"
    md.annotations["note"] = "x"
    md.finalizers.append("example.com/f")
    md.creationTimestamp.SetInParent()  # zero Time: an empty message, i.e. null
    md.generation = 0
    ref = md.ownerReferences.add()
    ref.apiVersion, ref.kind, ref.name, ref.uid = "v1", "Pod", "p", "u-1"
    ref.controller = True
    spec = svc.spec
    p1 = spec.ports.add()
    p1.name, p1.protocol, p1.port, p1.nodePort = "http", "TCP", 80, 30080
    p1.targetPort.type, p1.targetPort.strVal = 1, "web"
    p2 = spec.ports.add()
    p2.name, p2.protocol, p2.port, p2.nodePort = "", "UDP", 53, 0
    p2.targetPort.type, p2.targetPort.intVal = 0, 0
    p2.appProtocol = "dns"
    spec.selector["app"] = "web"
    spec.clusterIP = "10.96.0.10"
    spec.clusterIPs.extend(["10.96.0.10"])
    spec.type = "LoadBalancer"
    spec.externalIPs.extend(["192.0.2.1"])
    spec.sessionAffinity = "ClientIP"
    spec.sessionAffinityConfig.clientIP.timeoutSeconds = 60
    spec.externalName = ""
    spec.healthCheckNodePort = 0
    spec.publishNotReadyAddresses = False
    spec.ipFamilies.extend(["IPv4"])
    spec.ipFamilyPolicy = "SingleStack"
    spec.allocateLoadBalancerNodePorts = False
    spec.internalTrafficPolicy = "Cluster"
    ing = svc.status.loadBalancer.ingress.add()
    ing.ip = "198.51.100.7"
    ing.hostname = ""
    return bytes(svc.SerializeToString())


def test_recorded_kubectl_create_service_clusterip() -> None:
    assert decode_protobuf(KUBECTL_SKIPPY) == {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "skippy", "labels": {"app": "skippy"}},
        "spec": {
            "ports": [{"name": "8080-8080", "protocol": "TCP", "port": 8080, "targetPort": 8080}],
            "selector": {"app": "skippy"},
            "type": "ClusterIP",
        },
    }


def test_recorded_body_port_one() -> None:
    obj = decode_protobuf(KUBECTL_PBX)
    assert obj["metadata"] == {"name": "pbx", "labels": {"app": "pbx"}}
    assert obj["spec"]["ports"] == [{"name": "1-1", "protocol": "TCP", "port": 1, "targetPort": 1}]


def test_full_service_follows_go_json_rules() -> None:
    obj = decode_protobuf(envelope("Service", full_service()))
    assert list(obj) == ["apiVersion", "kind", "metadata", "spec", "status"]
    assert obj["metadata"] == {
        "generateName": "web-",
        "namespace": "shield",
        "labels": {"app": "web"},
        "annotations": {"note": "x"},
        "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "u-1", "controller": True}],
        "finalizers": ["example.com/f"],
    }
    assert obj["spec"] == {
        "ports": [
            {"name": "http", "protocol": "TCP", "port": 80, "targetPort": "web", "nodePort": 30080},
            {"protocol": "UDP", "appProtocol": "dns", "port": 53},
        ],
        "selector": {"app": "web"},
        "clusterIP": "10.96.0.10",
        "clusterIPs": ["10.96.0.10"],
        "type": "LoadBalancer",
        "externalIPs": ["192.0.2.1"],
        "sessionAffinity": "ClientIP",
        "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "allocateLoadBalancerNodePorts": False,
        "internalTrafficPolicy": "Cluster",
    }
    assert obj["status"] == {"loadBalancer": {"ingress": [{"ip": "198.51.100.7"}]}}


def test_port_zero_is_kept_and_times_render_rfc3339() -> None:
    svc: Any = message_class(f"{CORE}.Service")()
    svc.metadata.name = "t"
    svc.metadata.creationTimestamp.seconds = 1_700_000_000
    svc.spec.ports.add().port = 0
    obj = decode_protobuf(envelope("Service", svc.SerializeToString()))
    assert obj["metadata"] == {"name": "t", "creationTimestamp": "2023-11-14T22:13:20Z"}
    assert obj["spec"] == {"ports": [{"port": 0}]}


def test_namespace() -> None:
    ns: Any = message_class(f"{CORE}.Namespace")()
    ns.metadata.name = "shield"
    ns.metadata.namespace = ""
    ns.spec.finalizers.append("kubernetes")
    ns.status.phase = ""
    assert decode_protobuf(envelope("Namespace", ns.SerializeToString())) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "shield"},
        "spec": {"finalizers": ["kubernetes"]},
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "does not appear to be a protobuf message"),
        (b'{"kind":"Service"}', "does not appear to be a protobuf message"),
        (MAGIC + b"\xff\xff\xff", "unable to decode runtime.Unknown envelope"),
        (envelope("", b""), "Object 'Kind' is missing"),
        (envelope("Pod", b""), "Pod (v1) cannot be sent as application/vnd.kubernetes.protobuf"),
        (envelope("Service", b"\x0a\x05\x0a"), "unable to decode Service from protobuf"),
        (envelope("Service", b"", encoding="gzip"), 'unsupported protobuf content encoding "gzip"'),
    ],
)
def test_garbage_is_bad_request(body: bytes, message: str) -> None:
    with pytest.raises(StatusError) as ei:
        decode_protobuf(body)
    assert ei.value.code == 400
    assert ei.value.reason == "BadRequest"
    assert message in ei.value.message


# --- the real kubectl ---------------------------------------------------------------------------------


def kubectl_or_skip() -> str:
    return needs.kubectl()


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), RecordingHandler)
        self.posts: list[tuple[str, str, bytes]] = []


class RecordingHandler(BaseHTTPRequestHandler):
    """Answers /version and discovery from the recorded documents, records POST bodies."""

    server: Recorder

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, code: int, body: Any, ctype: str = "application/json") -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        agg = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        if path == "/version":
            self._reply(200, version_info())
        elif path == "/api":
            self._reply(200, json.loads((CONTRACT / "agg_api.json").read_text()), agg)
        elif path == "/apis":
            self._reply(200, json.loads((CONTRACT / "agg_apis.json").read_text()), agg)
        else:
            self._reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.posts.append((self.path, self.headers.get("Content-Type") or "", body))
        obj = decode_protobuf(body)
        obj["metadata"].setdefault("namespace", "default")
        self._reply(201, obj)


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    srv = Recorder()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def run_kubectl(srv: Recorder, tmp_path: Path, *args: str) -> str:
    kubectl = kubectl_or_skip()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("")
    port = srv.server_address[1]
    cmd = [kubectl, *args, "-s", f"http://127.0.0.1:{port}", "--cache-dir", str(tmp_path / "cache")]
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path)}
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize(
    ("args", "path", "expected"),
    [
        (
            ("create", "service", "clusterip", "x", "--tcp=80:8080"),
            "/api/v1/namespaces/default/services",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "x", "labels": {"app": "x"}},
                "spec": {
                    "ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}],
                    "selector": {"app": "x"},
                    "type": "ClusterIP",
                },
            },
        ),
        (
            ("create", "service", "nodeport", "skippy", "--tcp=8080:8080", "--node-port=30050"),
            "/api/v1/namespaces/default/services",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "skippy", "labels": {"app": "skippy"}},
                "spec": {
                    "ports": [
                        {"name": "8080-8080", "protocol": "TCP", "port": 8080, "targetPort": 8080, "nodePort": 30050}
                    ],
                    "selector": {"app": "skippy"},
                    "type": "NodePort",
                },
            },
        ),
        (
            ("create", "namespace", "shield"),
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shield"}},
        ),
        (
            ("create", "secret", "generic", "db", "--from-literal=password=s3cret"),
            "/api/v1/namespaces/default/secrets",
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
             "data": {"password": "czNjcmV0"}},
        ),
    ],
)
def test_real_kubectl_body_decodes(
    recorder: Recorder, tmp_path: Path, args: tuple[str, ...], path: str, expected: dict[str, Any]
) -> None:
    out = run_kubectl(recorder, tmp_path, *args)
    assert "created" in out
    assert len(recorder.posts) == 1
    post_path, ctype, body = recorder.posts[0]
    assert post_path.split("?")[0] == path
    assert ctype == "application/vnd.kubernetes.protobuf"
    assert body.startswith(MAGIC)
    assert decode_protobuf(body) == expected
