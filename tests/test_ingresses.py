"""Ingresses and IngressClasses (apimachinery/kinds/ingress.py, ingressclass.py): what a user sees.

HTTP CRUD, kube's ValidateIngress / ValidateIngressClass messages, the
status subresource, Tables and kubectl's columns. No ingress controller
runs: an Ingress gets no address.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import run_kubectl

ING = "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses"
CLASSES = "/apis/networking.k8s.io/v1/ingressclasses"
TABLE = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
MERGE = {"Content-Type": "application/merge-patch+json"}


def _backend(name: str = "web", port: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"service": {"name": name, "port": {"number": 80} if port is None else port}}


def _ing(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name}, "spec": spec}


def _rule(host: str, *paths: dict[str, Any]) -> dict[str, Any]:
    return {"host": host, "http": {"paths": list(paths)}}


def _invalid(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["message"]


def test_ingress_crud_and_no_address(api: httpx.Client, ns: str) -> None:
    body = _ing("web", ingressClassName="nginx",
                rules=[_rule("a.example.com", {"path": "/", "pathType": "Prefix", "backend": _backend()})])
    body["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.9"}]}}
    r = api.post(ING.format(ns=ns), json=body)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == {"loadBalancer": {}}  # PrepareForCreate resets the status
    assert r.json()["metadata"]["generation"] == 1
    r = api.patch(ING.format(ns=ns) + "/web", content='{"spec":{"ingressClassName":"other"}}', headers=MERGE)
    assert r.status_code == 200 and r.json()["metadata"]["generation"] == 2
    # only the status subresource writes the address
    r = api.patch(ING.format(ns=ns) + "/web/status", headers=MERGE,
                  content='{"status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.9"}]}}}')
    assert r.status_code == 200 and r.json()["status"]["loadBalancer"]["ingress"] == [{"ip": "192.0.2.9"}]
    r = api.patch(ING.format(ns=ns) + "/web/status", headers=MERGE,
                  content='{"status":{"loadBalancer":{"ingress":[{"ip":"not-an-ip"}]}}}')
    assert _invalid(r) == (422, 'Ingress.networking.k8s.io "web" is invalid: status.loadBalancer.ingress[0].ip: '
                                'Invalid value: "not-an-ip": must be a valid IP address, (e.g. 10.9.8.7 or '
                                "2001:db8::ffff)")
    assert api.delete(ING.format(ns=ns) + "/web").status_code == 200
    assert api.get(ING.format(ns=ns) + "/web").status_code == 404


def test_ingress_validation_messages(api: httpx.Client, ns: str) -> None:
    url = ING.format(ns=ns)
    assert _invalid(api.post(url, json=_ing("empty"))) == (
        422, 'Ingress.networking.k8s.io "empty" is invalid: spec: Invalid value: []networking.IngressRule(nil): '
             "either `defaultBackend` or `rules` must be specified")
    body = _ing("bad", rules=[
        _rule("1.2.3.4", {"path": "/", "backend": _backend()},
              {"path": "a//b", "pathType": "Exact", "backend": _backend("Web", {"number": 70000})},
              {"path": "/x/..", "pathType": "Prefix", "backend": _backend(port={"name": "http", "number": 80})},
              {"path": "/", "pathType": "Regex", "backend": {}}),
        {"host": "*.example.com", "http": {"paths": []}},
    ])
    code, message = _invalid(api.post(url, json=body))
    assert code == 422
    assert message == (
        'Ingress.networking.k8s.io "bad" is invalid: ['
        'spec.rules[0].host: Invalid value: "1.2.3.4": must be a DNS name, not an IP address, '
        "spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified, "
        'spec.rules[0].http.paths[1].path: Invalid value: "a//b": must be an absolute path, '
        "spec.rules[0].http.paths[1].path: Invalid value: \"a//b\": must not contain '//', "
        'spec.rules[0].http.paths[1].backend.service.name: Invalid value: "Web": a DNS-1035 label must consist of '
        "lower case alphanumeric characters or '-', start with an alphabetic character, and end with an "
        "alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
        "'[a-z]([-a-z0-9]*[a-z0-9])?'), "
        "spec.rules[0].http.paths[1].backend.service.port.number: Invalid value: 70000: must be between 1 and "
        "65535, inclusive, "
        "spec.rules[0].http.paths[2].path: Invalid value: \"/x/..\": cannot end with '/..', "
        'spec.rules[0].http.paths[2].backend: Invalid value: "": cannot set both port name & port number, '
        'spec.rules[0].http.paths[3].pathType: Unsupported value: "Regex": supported values: "Exact", '
        '"ImplementationSpecific", "Prefix", '
        'spec.rules[0].http.paths[3].backend: Invalid value: "": resource or service backend is required, '
        "spec.rules[1].http.paths: Required value]")
    body = _ing("tls", defaultBackend=_backend(port={}), tls=[{"hosts": ["*.a.example.com", "*bad"],
                                                               "secretName": "Bad"}],
                ingressClassName="nginx")
    body["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "traefik"}
    code, message = _invalid(api.post(url, json=body))
    assert message.startswith(
        'Ingress.networking.k8s.io "tls" is invalid: ['
        "spec.defaultBackend: Required value: port name or number is required, "
        'spec.tls[0].hosts[1]: Invalid value: "*bad": a wildcard DNS-1123 subdomain must start with \'*.\''), message
    assert message.endswith(
        'spec.tls[0].secretName: Invalid value: "Bad": a lowercase RFC 1123 subdomain must consist of lower case '
        "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
        "'example.com', regex used for validation is "
        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*'), "
        'annotations.kubernetes.io/ingress.class: Invalid value: "traefik": must match `ingressClassName` when '
        "both are specified]"), message


def test_ingress_table(api: httpx.Client, ns: str) -> None:
    path = {"path": "/", "pathType": "Prefix", "backend": _backend()}
    api.post(ING.format(ns=ns), json=_ing("many", rules=[_rule(h, path) for h in ("a.x", "b.x", "c.x", "d.x", "e.x")],
                                          tls=[{"hosts": ["a.x"]}]))
    api.post(ING.format(ns=ns), json=_ing("plain", defaultBackend=_backend()))
    table = api.get(ING.format(ns=ns), headers=TABLE).json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Class", "Hosts", "Address", "Ports", "Age"]
    rows = {r["cells"][0]: r["cells"][:5] for r in table["rows"]}
    assert rows == {"many": ["many", "<none>", "a.x,b.x,c.x + 2 more...", "", "80, 443"],
                    "plain": ["plain", "<none>", "*", "", "80"]}


def test_ingress_class(api: httpx.Client, ns: str) -> None:
    name = f"{ns}-cls"
    body = {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": name},
            "spec": {"controller": "example.com/ingress", "parameters": {"kind": "Params", "name": "p"}}}
    r = api.post(CLASSES, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["spec"]["parameters"] == {"kind": "Params", "name": "p", "scope": "Cluster"}  # defaulted
    table = api.get(f"{CLASSES}/{name}", headers=TABLE).json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Controller", "Parameters", "Age"]
    assert table["rows"][0]["cells"][:3] == [name, "example.com/ingress", "Params/p"]
    r = api.patch(f"{CLASSES}/{name}", content='{"spec":{"controller":"example.com/other"}}', headers=MERGE)
    assert _invalid(r) == (422, f'IngressClass.networking.k8s.io "{name}" is invalid: spec.controller: Invalid '
                                'value: "example.com/other": field is immutable')
    bad = {**body, "metadata": {"name": f"{ns}-bad"},
           "spec": {"controller": "nginx", "parameters": {"kind": "P", "name": "p", "scope": "Namespace"}}}
    assert _invalid(api.post(CLASSES, json=bad)) == (
        422, f'IngressClass.networking.k8s.io "{ns}-bad" is invalid: [spec.controller: Invalid value: "nginx": '
             'must be a domain-prefixed path (such as "acme.io/foo"), spec.parameters.namespace: Required value: '
             "`parameters.scope` is set to 'Namespace']")
    assert api.delete(f"{CLASSES}/{name}").status_code == 200


# --- through kubectl --------------------------------------------------------------------------------


def test_kubectl_create_ingress_and_get_ing(kubectl_env: dict[str, str], tmp_path: Path, ns: str) -> None:
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "create", "ingress", "web", "--class=nginx",
                 "--rule=a.example.com/api*=api:8080", "--rule=b.example.com/=web:http,tls=web-tls")
    assert (r.returncode, r.stdout) == (0, "ingress.networking.k8s.io/web created\n"), r.stderr
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "get", "ing")
    header, row = r.stdout.splitlines()
    assert header.split() == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    assert re.fullmatch(r"web\s+nginx\s+a\.example\.com,b\.example\.com\s+80, 443\s+\d+s", row), row
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "get", "ingress", "web", "-o",
                 "jsonpath={.spec.rules[0].http.paths[0].pathType} {.spec.rules[0].http.paths[0].backend.service}")
    assert r.stdout == 'Prefix {"name":"api","port":{"number":8080}}', r.stderr

    r = run_kubectl(kubectl_env, tmp_path, "api-resources", "--api-group=networking.k8s.io", "--no-headers")
    lines = [line.split() for line in r.stdout.splitlines()]
    assert ["ingresses", "ing", "networking.k8s.io/v1", "true", "Ingress"] in lines
    assert ["ingressclasses", "networking.k8s.io/v1", "false", "IngressClass"] in lines

    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "create", "ingress", "nohost", "--rule=/=web:80")
    assert r.returncode == 0, r.stderr
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "get", "ing", "nohost", "--no-headers")
    assert re.fullmatch(r"nohost\s+<none>\s+\*\s+80\s+\d+s\n", r.stdout), r.stdout
