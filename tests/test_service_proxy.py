"""The services/pods ``proxy`` subresource: loopback endpoints are proxied, any other address is never dialled."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from apimachinery.errors import StatusError
from apiserver import serviceproxy
from apiserver.serviceproxy import ServiceProxy, locate_pod, locate_service, split_scheme_name_port
from kubeclient.kubeconfig import render_kubeconfig
from tests import needs
from tests.conftest import ApiServerProcess, free_port, running_apiserver


def service(*ports: tuple[str, int]) -> dict[str, Any]:
    return {"metadata": {"name": "web"}, "spec": {"ports": [{"name": n, "port": p} for n, p in ports]}}


def endpoints(*subsets: tuple[list[str], str, int]) -> dict[str, Any]:
    return {"metadata": {"name": "web"},
            "subsets": [{"addresses": [{"ip": ip} for ip in ips], "ports": [{"name": n, "port": p}]}
                        for ips, n, p in subsets]}


def _refusal(fn: Any, *args: Any) -> tuple[int, str]:
    with pytest.raises(StatusError) as ei:
        fn(*args)
    return ei.value.code, ei.value.message


# -- resolution ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("ident", "expected"), [
    ("web", ("", "web", "")), ("web:80", ("", "web", "80")), ("https:web:443", ("https", "web", "443")),
    ("web:http", ("", "web", "http")), ("ftp:web:21", None), ("a:b:c:d", None), (":80", None),
])
def test_split_scheme_name_port(ident: str, expected: tuple[str, str, str] | None) -> None:
    assert split_scheme_name_port(ident) == expected


def test_a_loopback_endpoint_is_chosen_by_port_name_or_number() -> None:
    svc, eps = service(("http", 80)), endpoints((["127.10.0.3"], "http", 8080))
    for ident in ("web", "web:80", "web:http", "http:web:http"):
        want_port = "" if ident == "web" else "http"
        if not want_port:  # a bare name wants the unnamed port, which this Service does not have
            assert _refusal(locate_service, svc, eps, ident) == (503, 'no endpoints available for service "web"')
            continue
        up = locate_service(svc, eps, ident)
        assert (up.scheme, up.host, up.port) == ("http", "127.10.0.3", 8080)
    assert locate_service(svc, eps, "https:web:80").scheme == "https"


def test_kube_apiservers_refusals() -> None:
    svc = service(("http", 80))
    assert _refusal(locate_service, svc, {"subsets": []}, "web:http") == (
        503, 'no endpoints available for service "web"')
    assert _refusal(locate_service, svc, endpoints((["127.0.0.1"], "http", 1)), "web:81") == (
        503, 'no service port 81 found for service "web"')
    assert _refusal(locate_service, svc, endpoints((["127.0.0.1"], "other", 1)), "web:http") == (
        503, 'no endpoints available for service "web:http"')
    assert _refusal(locate_service, svc, None, "web:http") == (404, 'endpoints "web" not found')
    assert _refusal(locate_service, svc, None, "a:b:c:d") == (400, 'invalid service request "a:b:c:d"')


def test_an_address_off_loopback_is_never_chosen() -> None:
    svc = service(("http", 80))
    code, message = _refusal(locate_service, svc, endpoints((["10.244.0.5"], "http", 8080)), "web:http")
    assert code == 503
    assert message == ('endpoint of service "web" at 10.244.0.5:8080 is not reachable from the API server: '
                       "kubelite only dials loopback addresses (127.0.0.0/8), and this one is data")
    mixed = endpoints((["10.244.0.5", "10.244.0.6"], "http", 8080), (["127.10.0.9"], "http", 9090))
    assert {locate_service(svc, mixed, "web:http").host for _ in range(50)} == {"127.10.0.9"}


def test_pod_location() -> None:
    pod: dict[str, Any] = {"metadata": {"name": "p"},
                           "spec": {"containers": [{"name": "c"}, {"name": "d", "ports": [{"containerPort": 8000}]}]},
                           "status": {}}
    assert _refusal(locate_pod, pod, "p") == (400, "address not allowed")
    pod["status"]["podIP"] = "10.244.1.7"
    assert _refusal(locate_pod, pod, "p")[0] == 503
    assert "pod \"p\" at 10.244.1.7 is not reachable from the API server" in _refusal(locate_pod, pod, "p")[1]
    pod["status"]["podIP"] = "127.10.0.7"
    assert locate_pod(pod, "p") == serviceproxy.Upstream("http", "127.10.0.7", 8000)
    assert locate_pod(pod, "https:p:9443") == serviceproxy.Upstream("https", "127.10.0.7", 9443)


async def test_the_filter_refuses_before_opening_any_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Off-loopback endpoints: a 503 is written and no HTTP client is created nor any request sent."""
    sent: list[Any] = []

    def no_client(*args: Any, **kwargs: Any) -> None:
        sent.append(("client", args, kwargs))
        raise AssertionError("an HTTP client was created")

    async def no_send(*args: Any, **kwargs: Any) -> None:
        sent.append(("send", args))
        raise AssertionError("dialled")

    monkeypatch.setattr(httpx.AsyncClient, "send", no_send)
    monkeypatch.setattr(httpx, "AsyncClient", no_client)
    eps = endpoints((["10.96.0.10"], "http", 80))
    entries = {"services": SimpleNamespace(obj=service(("http", 80)))}
    registry = SimpleNamespace(get_entry=lambda rt, ns, name: entries[rt.plural],
                               cache=SimpleNamespace(get=lambda key, ns, name: SimpleNamespace(obj=eps)))
    app = SimpleNamespace(state=SimpleNamespace(server=SimpleNamespace(registry=registry,
                                                                       store=SimpleNamespace(shared=False))))

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("not a proxy URL?")

    proxy = ServiceProxy(inner)
    out: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        out.append(message)

    scope = {"type": "http", "method": "GET", "path": "/api/v1/namespaces/ns/services/web:http/proxy/x",
             "raw_path": b"/api/v1/namespaces/ns/services/web:http/proxy/x", "query_string": b"", "headers": [],
             "app": app}
    await proxy(scope, receive, send)
    assert out[0]["status"] == 503
    assert json.loads(out[1]["body"])["message"].startswith('endpoint of service "web" at 10.96.0.10:80 is not')
    assert sent == []


# -- against a real server and a real loopback HTTP server ---------------------------------------


RELEASE = threading.Event()  # the /stream answer's second part waits for it


class Echo(BaseHTTPRequestHandler):
    def _stream(self) -> None:
        """First part now, second part once the test has seen the first: only a streaming proxy passes."""
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()  # no Content-Length: the body ends when the connection closes (HTTP/1.0)
        self.wfile.write(b"first\n")
        self.wfile.flush()
        RELEASE.wait(20)
        self.wfile.write(b"second\n")

    def _answer(self) -> None:
        if self.path == "/stream":
            self._stream()
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = json.dumps({"method": self.command, "path": self.path, "body": self.rfile.read(length).decode(),
                           "authorization": self.headers.get("Authorization"),
                           "forwarded_for": self.headers.get("X-Forwarded-For")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Echo", "yes")
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def echo() -> Iterator[int]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield int(httpd.server_address[1])
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    with running_apiserver(tmp_path_factory.mktemp("proxy")) as srv:
        yield srv


def _put_endpoints(c: httpx.Client, ns: str, name: str, ip: str, port_name: str, port: int) -> None:
    body = {"metadata": {"name": name}, "subsets": [{"addresses": [{"ip": ip}],
                                                     "ports": [{"name": port_name, "port": port}]}]}
    r = c.put(f"/api/v1/namespaces/{ns}/endpoints/{name}", json=body)
    assert r.status_code in (200, 201), r.text


@pytest.fixture(scope="module")
def api(server: ApiServerProcess, echo: int) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as c:
        assert c.post("/api/v1/namespaces", json={"metadata": {"name": "px"}}).status_code == 201
        for name in ("web", "far", "empty"):
            svc = {"metadata": {"name": name}, "spec": {"ports": [{"name": "http", "port": 80}]}}
            assert c.post("/api/v1/namespaces/px/services", json=svc).status_code == 201, name
        _put_endpoints(c, "px", "web", "127.0.0.1", "http", echo)
        _put_endpoints(c, "px", "far", "10.244.0.5", "http", 8080)
        assert c.put("/api/v1/namespaces/px/endpoints/empty",
                     json={"metadata": {"name": "empty"}}).status_code in (200, 201)
        yield c


def test_proxy_to_a_loopback_endpoint(api: httpx.Client, echo: int) -> None:
    r = api.get("/api/v1/namespaces/px/services/web:http/proxy/hello/there?x=1&y=2",
                headers={"Authorization": "Bearer secret-token"})
    assert r.status_code == 200, r.text
    assert r.headers["x-echo"] == "yes"
    got = r.json()
    assert (got["method"], got["path"]) == ("GET", "/hello/there?x=1&y=2")
    assert got["authorization"] is None  # the caller's credentials never reach the backend
    assert got["forwarded_for"] == "127.0.0.1"
    r = api.post("/api/v1/namespaces/px/services/web:80/proxy/submit", content=b"payload")
    assert (r.status_code, r.json()["method"], r.json()["body"]) == (200, "POST", "payload")
    r = api.get("/api/v1/namespaces/px/services/web:http/proxy?a=b")
    assert (r.status_code, r.headers["location"]) == (301, "/api/v1/namespaces/px/services/web:http/proxy/?a=b")


def test_answers_are_streamed(api: httpx.Client) -> None:
    RELEASE.clear()
    with api.stream("GET", "/api/v1/namespaces/px/services/web:http/proxy/stream", timeout=10) as r:
        assert r.status_code == 200
        chunks = r.iter_bytes()
        assert next(chunks) == b"first\n"  # arrives while the backend still holds the rest back
        RELEASE.set()
        assert b"".join(chunks) == b"second\n"


def test_refusals_over_http(api: httpx.Client) -> None:
    r = api.get("/api/v1/namespaces/px/services/far:http/proxy/")
    assert r.status_code == 503
    assert r.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "message": 'endpoint of service "far" at 10.244.0.5:8080 is not reachable from the API '
                                   "server: kubelite only dials loopback addresses (127.0.0.0/8), and this one is data",
                        "reason": "ServiceUnavailable", "code": 503}
    r = api.get("/api/v1/namespaces/px/services/empty:http/proxy/")
    assert (r.status_code, r.json()["message"]) == (503, 'no endpoints available for service "empty"')
    r = api.get("/api/v1/namespaces/px/services/nope/proxy/")
    assert (r.status_code, r.json()["message"]) == (404, 'services "nope" not found')
    for upgrade, extra in (("SPDY/3.1", {}), ("websocket", {"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                                                           "Sec-WebSocket-Version": "13"})):
        r = api.get("/api/v1/namespaces/px/services/web:http/proxy/ws",
                    headers={"Connection": "Upgrade", "Upgrade": upgrade, **extra})
        assert (r.status_code, r.json()["reason"]) == (501, "NotImplemented"), r.text
        assert r.json()["message"] == f"{upgrade} upgrades are not proxied by kubelite; plain HTTP requests are"


def test_a_dead_loopback_endpoint_is_a_503(api: httpx.Client) -> None:
    port = free_port()
    _put_endpoints(api, "px", "empty", "127.0.0.1", "http", port)
    r = api.get("/api/v1/namespaces/px/services/empty:http/proxy/")
    assert r.status_code == 503
    assert r.json()["message"] == (f"error trying to reach service: dial tcp 127.0.0.1:{port}: connect: "
                                   "connection refused")
    assert api.put("/api/v1/namespaces/px/endpoints/empty", json={"metadata": {"name": "empty"}}).status_code == 200


def test_pod_proxy(api: httpx.Client, echo: int) -> None:
    for name, ip in (("near", "127.0.0.1"), ("away", "10.244.3.4")):
        pod = {"metadata": {"name": name},
               "spec": {"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": echo}]}]}}
        r = api.post("/api/v1/namespaces/px/pods", json=pod)
        assert r.status_code == 201, r.text
        obj = r.json()
        obj["status"] = {"podIP": ip, "podIPs": [{"ip": ip}]}
        r = api.put(f"/api/v1/namespaces/px/pods/{name}/status", json=obj)
        assert r.status_code == 200, r.text
    r = api.get("/api/v1/namespaces/px/pods/near/proxy/metrics")
    assert (r.status_code, r.json()["path"]) == (200, "/metrics")
    r = api.get("/api/v1/namespaces/px/pods/away/proxy/metrics")
    assert r.status_code == 503 and "10.244.3.4 is not reachable from the API server" in r.json()["message"]


def test_the_urls_kubectl_cluster_info_prints_answer(server: ApiServerProcess, api: httpx.Client, echo: int,
                                                     tmp_path: Path) -> None:
    # kube-dns's Endpoints as the data path would write them, on loopback, port named "dns" (an HTTP echo here)
    _put_endpoints(api, "kube-system", "kube-dns", "127.0.0.1", "dns", echo)
    kc = tmp_path / "kubeconfig"
    kc.write_text(render_kubeconfig(server.url))
    env = {**os.environ, "HOME": str(tmp_path), "KUBECONFIG": str(kc), "NO_COLOR": "1"}
    r = subprocess.run([needs.kubectl(), "cluster-info"], capture_output=True, text=True, env=env, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    text = re.sub(r"\x1b\[[0-9;]*m", "", r.stdout)
    urls = dict(re.findall(r"^(.+?) is running at (\S+)$", text, re.M))
    assert urls["Kubernetes control plane"] == server.url
    assert urls["CoreDNS"] == f"{server.url}/api/v1/namespaces/kube-system/services/kube-dns:dns/proxy"
    answer = httpx.get(urls["CoreDNS"], follow_redirects=True, timeout=10)
    assert (answer.status_code, answer.json()["path"]) == (200, "/")
    r = subprocess.run([needs.kubectl(), "get", "--raw",
                        "/api/v1/namespaces/kube-system/services/kube-dns:dns/proxy/healthz"],
                       capture_output=True, text=True, env=env, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 0 and json.loads(r.stdout)["path"] == "/healthz", r.stderr
