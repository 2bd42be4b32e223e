"""Secrets, the kind declared in apimachinery/kinds/secret.py: what a user sees.

The HTTP answers of kube-apiserver's ValidateSecret / ValidateSecretUpdate
(keys, per-type requirements, the 1 MiB limit, ``type`` and ``immutable``),
stringData merged into data, values never echoed in errors; kubectl's
``create secret generic|tls|docker-registry`` and ``get``; the official
Python client. Encryption at rest is tests/test_encryption.py.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ApiServerProcess, run_kubectl

SECRETS = "/api/v1/namespaces/{ns}/secrets"
KEY_MSG = ("a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
           "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')")
IMMUTABLE = "field is immutable when `immutable` is set"
REDACTED = "<secret contents redacted>"


def _b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def _secret(name: str, **fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, **fields}


def _invalid(r: httpx.Response) -> tuple[int, str, list[dict[str, str]]]:
    body = r.json()
    return r.status_code, body["message"], body.get("details", {}).get("causes", [])


# --- through HTTP -----------------------------------------------------------------------------------


def test_create_defaults_type_and_merges_string_data(api: httpx.Client, ns: str) -> None:
    """stringData overwrites data's keys and is never stored or answered; type defaults to Opaque."""
    url = SECRETS.format(ns=ns)
    r = api.post(url, json=_secret("db", data={"user": _b64("root"), "pw": _b64("old")},
                                   stringData={"pw": "s3cret", "host": "db.local"}))
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["type"] == "Opaque" and "stringData" not in created
    assert created["data"] == {"user": _b64("root"), "pw": _b64("s3cret"), "host": _b64("db.local")}
    got = api.get(url + "/db").json()
    assert got["data"] == created["data"] and "stringData" not in got

    # an update's stringData merges into the data it sends
    r = api.put(url + "/db", json={**got, "stringData": {"pw": "n3w"}})
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {**created["data"], "pw": _b64("n3w")}
    # and a merge patch of stringData alone changes one key
    r = api.patch(url + "/db", content='{"stringData":{"user":"admin"}}',
                  headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["user"] == _b64("admin") and "stringData" not in r.json()

    names = [i["metadata"]["name"] for i in api.get(url).json()["items"]]
    assert names == ["db"]
    d = api.delete(url + "/db")
    assert d.status_code == 200 and d.json()["kind"] == "Status" and d.json()["details"]["kind"] == "secrets"
    assert api.get(url + "/db").status_code == 404


def test_invalid_keys(api: httpx.Client, ns: str) -> None:
    r = api.post(SECRETS.format(ns=ns), json=_secret("bad", data={"a b": _b64("1")}, stringData={"..x": "2"}))
    code, message, causes = _invalid(r)
    assert code == 422
    assert message == (f'Secret "bad" is invalid: [data[a b]: Invalid value: "a b": {KEY_MSG}, '
                       "data[..x]: Invalid value: \"..x\": must not start with '..']")
    assert [c["field"] for c in causes] == ["data[a b]", "data[..x]"]


def test_data_must_be_base64(api: httpx.Client, ns: str) -> None:
    r = api.post(SECRETS.format(ns=ns), json=_secret("b64", data={"k": "aGk=x"}))
    assert r.status_code == 400
    assert r.json()["message"] == 'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 4'


def test_total_size_limit(api: httpx.Client, ns: str) -> None:
    """Decoded data bytes count; exactly 1 MiB is allowed."""
    half = 512 * 1024
    url = SECRETS.format(ns=ns)
    ok = _secret("full", data={"a": _b64(b"\0" * half), "b": _b64(b"\1" * half)})
    assert api.post(url, json=ok).status_code == 201
    big = _secret("big", data={"a": _b64(b"\0" * half)}, stringData={"b": "x" * (half + 1)})
    code, message, causes = _invalid(api.post(url, json=big))
    assert (code, message) == (422, 'Secret "big" is invalid: data: Too long: must have at most 1048576 bytes')
    assert causes == [{"reason": "FieldValueTooLong", "message": "Too long: must have at most 1048576 bytes",
                       "field": "data"}]


@pytest.mark.parametrize(("type_", "fields", "message"), [
    ("kubernetes.io/service-account-token", {},
     "metadata.annotations[kubernetes.io/service-account.name]: Required value"),
    ("kubernetes.io/dockercfg", {}, "data[.dockercfg]: Required value"),
    ("kubernetes.io/dockercfg", {"stringData": {".dockercfg": "[1]"}},
     f'data[.dockercfg]: Invalid value: "{REDACTED}": '
     "json: cannot unmarshal array into Go value of type map[string]interface {}"),
    ("kubernetes.io/dockerconfigjson", {}, "data[.dockerconfigjson]: Required value"),
    ("kubernetes.io/dockerconfigjson", {"stringData": {".dockerconfigjson": '{"auths":'}},
     f'data[.dockerconfigjson]: Invalid value: "{REDACTED}": unexpected end of JSON input'),
    ("kubernetes.io/basic-auth", {"stringData": {"user": "x"}},
     "[data[username]: Required value, data[password]: Required value]"),
    ("kubernetes.io/ssh-auth", {"stringData": {"ssh-privatekey": ""}}, "data[ssh-privatekey]: Required value"),
    ("kubernetes.io/tls", {"stringData": {"tls.key": "k"}}, "data[tls.crt]: Required value"),
    ("kubernetes.io/tls", {}, "[data[tls.crt]: Required value, data[tls.key]: Required value]"),
])
def test_type_requirements(api: httpx.Client, ns: str, type_: str, fields: dict[str, Any], message: str) -> None:
    code, got, _ = _invalid(api.post(SECRETS.format(ns=ns), json=_secret("typed", type=type_, **fields)))
    assert (code, got) == (422, f'Secret "typed" is invalid: {message}')


@pytest.mark.parametrize(("type_", "fields"), [
    ("kubernetes.io/service-account-token",
     {"metadata": {"name": "ok", "annotations": {"kubernetes.io/service-account.name": "default"}}}),
    ("kubernetes.io/dockerconfigjson", {"stringData": {".dockerconfigjson": '{"auths":{}}'}}),
    ("kubernetes.io/dockercfg", {"stringData": {".dockercfg": "null"}}),
    ("kubernetes.io/basic-auth", {"stringData": {"password": ""}}),
    ("kubernetes.io/ssh-auth", {"stringData": {"ssh-privatekey": "k"}}),
    ("kubernetes.io/tls", {"stringData": {"tls.crt": "", "tls.key": ""}}),
    ("bootstrap.kubernetes.io/token", {"stringData": {"token-id": "abcdef"}}),
    ("example.com/anything", {}),
])
def test_type_requirements_met(api: httpx.Client, ns: str, type_: str, fields: dict[str, Any]) -> None:
    r = api.post(SECRETS.format(ns=ns), json={**_secret("ok", type=type_), **fields})
    assert r.status_code == 201, r.text
    assert r.json()["type"] == type_


def test_tls_key_pair_warnings(api: httpx.Client, ns: str, tmp_path: Path) -> None:
    """warningsForSecret: a tls Secret is stored even when its key does not pair, with tls.X509KeyPair's error
    as a Warning header (kubectl prints it)."""
    crt, key = _self_signed(tmp_path / "a")
    _, other_key = _self_signed(tmp_path / "b")
    url = SECRETS.format(ns=ns)

    def tls(name: str, cert: bytes, private: bytes) -> httpx.Response:
        return api.post(url, json=_secret(name, type="kubernetes.io/tls",
                                          data={"tls.crt": _b64(cert), "tls.key": _b64(private)}))

    r = tls("good", crt.read_bytes(), key.read_bytes())
    assert r.status_code == 201 and "warning" not in r.headers
    cases = [
        ("mismatch", crt.read_bytes(), other_key.read_bytes(), "tls: private key does not match public key"),
        ("switched", key.read_bytes(), crt.read_bytes(),
         "tls: failed to find certificate PEM data in certificate input, but did find a private key; "
         "PEM inputs may have been switched"),
        ("nokey", crt.read_bytes(), b"", "tls: failed to find any PEM data in key input"),
        ("nocert", b"junk", key.read_bytes(), "tls: failed to find any PEM data in certificate input"),
        ("certkey", crt.read_bytes(), crt.read_bytes(),
         "tls: found a certificate rather than a key in the PEM for the private key"),
    ]
    for name, cert, private, warning in cases:
        r = tls(name, cert, private)
        assert r.status_code == 201, r.text
        assert r.headers["warning"] == f'299 - "{warning}"', name
    # an update warns too, even when it changes nothing
    live = api.get(url + "/mismatch").json()
    r = api.put(url + "/mismatch", json=live)
    assert r.status_code == 200 and r.headers["warning"] == '299 - "tls: private key does not match public key"'


def test_errors_never_echo_a_value(api: httpx.Client, ns: str) -> None:
    """A bad Secret's answer names keys and fields, never the secret value it was sent."""
    value = "correct-horse-battery-staple-7731"
    url = SECRETS.format(ns=ns)
    cases = [
        _secret("leak", type="kubernetes.io/dockerconfigjson", stringData={".dockerconfigjson": value}),
        _secret("leak", type="kubernetes.io/dockercfg", data={".dockercfg": _b64(value)}),
        _secret("leak", type="kubernetes.io/tls", stringData={"bad key": value}),
        _secret("leak", stringData={"k": value * 40000}),
    ]
    for body in cases:
        r = api.post(url, json=body)
        assert r.status_code == 422, r.text
        assert value not in r.text and _b64(value) not in r.text and _b64(value)[:20] not in r.text


def test_type_is_immutable(api: httpx.Client, ns: str) -> None:
    url = SECRETS.format(ns=ns)
    assert api.post(url, json=_secret("t", stringData={"a": "1"})).status_code == 201
    live = api.get(url + "/t").json()
    code, message, _ = _invalid(api.put(url + "/t", json={**live, "type": "example.com/other"}))
    assert (code, message) == (422, 'Secret "t" is invalid: type: Invalid value: "example.com/other": '
                                    "field is immutable")
    # an update that leaves type out gets it defaulted, which is no change
    r = api.put(url + "/t", json={k: v for k, v in live.items() if k != "type"})
    assert r.status_code == 200 and r.json()["type"] == "Opaque", r.text


def test_immutable(api: httpx.Client, ns: str) -> None:
    url = SECRETS.format(ns=ns)
    assert api.post(url, json=_secret("frozen", stringData={"a": "1"}, immutable=True)).status_code == 201
    live = api.get(url + "/frozen").json()

    code, message, _ = _invalid(api.put(url + "/frozen", json={**live, "stringData": {"a": "2"}}))
    assert (code, message) == (422, f'Secret "frozen" is invalid: data: Forbidden: {IMMUTABLE}')
    code, message, _ = _invalid(api.put(url + "/frozen", json={**live, "immutable": False}))
    assert (code, message) == (422, f'Secret "frozen" is invalid: immutable: Forbidden: {IMMUTABLE}')

    labelled = {**live, "metadata": {**live["metadata"], "labels": {"tier": "db"}}}
    r = api.put(url + "/frozen", json=labelled)
    assert r.status_code == 200 and r.json()["metadata"]["labels"] == {"tier": "db"}, r.text


def test_field_selector_on_type(api: httpx.Client, ns: str) -> None:
    url = SECRETS.format(ns=ns)
    api.post(url, json=_secret("plain", stringData={"a": "1"}))
    api.post(url, json=_secret("cert", type="kubernetes.io/tls", stringData={"tls.crt": "c", "tls.key": "k"}))
    r = api.get(url, params={"fieldSelector": "type=kubernetes.io/tls"})
    assert [i["metadata"]["name"] for i in r.json()["items"]] == ["cert"]
    r = api.get(url, params={"fieldSelector": "data.a=1"})
    assert r.status_code == 400


def test_table_columns(api: httpx.Client, ns: str) -> None:
    api.post(SECRETS.format(ns=ns), json=_secret("t", stringData={"a": "1", "b": "2"}))
    r = api.get(SECRETS.format(ns=ns), headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    table = r.json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Type", "Data", "Age"]
    [row] = table["rows"]
    assert row["cells"][:3] == ["t", "Opaque", 2]


# --- through kubectl --------------------------------------------------------------------------------


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "secrets.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    tmp_path.mkdir(parents=True, exist_ok=True)
    crt, pem = tmp_path / "tls.crt", tmp_path / "tls.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    return crt, pem


def test_kubectl_create_and_get_secrets(kubectl_env: dict[str, str], tmp_path: Path, ns: str) -> None:
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "create", "secret", "generic", "s", "--from-literal=k=v",
                 "--from-literal=pw=hunter2")
    assert (r.returncode, r.stdout) == (0, "secret/s created\n"), r.stderr

    crt, key = _self_signed(tmp_path)
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "create", "secret", "tls", "web", f"--cert={crt}", f"--key={key}")
    assert (r.returncode, r.stdout) == (0, "secret/web created\n"), r.stderr

    # kubectl create secret tls checks the pair itself; a manifest gets the server's warning
    _, other_key = _self_signed(tmp_path / "other")
    (tmp_path / "odd.json").write_text(json.dumps(_secret("odd", type="kubernetes.io/tls", data={
        "tls.crt": _b64(crt.read_bytes()), "tls.key": _b64(other_key.read_bytes())})))
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "create", "-f", "odd.json")
    assert (r.returncode, r.stdout) == (0, "secret/odd created\n"), r.stderr
    assert r.stderr == "Warning: tls: private key does not match public key\n"

    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "create", "secret", "docker-registry", "reg",
                 "--docker-server=registry.example", "--docker-username=u", "--docker-password=p4ss")
    assert (r.returncode, r.stdout) == (0, "secret/reg created\n"), r.stderr

    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "get", "secret")
    assert r.returncode == 0, r.stderr
    header, *rows = r.stdout.splitlines()
    assert header.split() == ["NAME", "TYPE", "DATA", "AGE"]
    assert [row.split()[:3] for row in rows] == [["odd", "kubernetes.io/tls", "2"],
                                                 ["reg", "kubernetes.io/dockerconfigjson", "1"],
                                                 ["s", "Opaque", "2"], ["web", "kubernetes.io/tls", "2"]]
    assert all(re.fullmatch(r"\d+s", row.split()[3]) for row in rows), rows
    assert "hunter2" not in r.stdout

    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "get", "secret", "s", "-o", "jsonpath={.data.k}")
    assert r.returncode == 0, r.stderr
    assert base64.b64decode(r.stdout) == b"v"
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "get", "secret", "web", "-o", "jsonpath={.data.tls\\.crt}")
    assert base64.b64decode(r.stdout) == crt.read_bytes()
    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "get", "secret", "reg", "-o", "jsonpath={.data.\\.dockerconfigjson}")
    auths = json.loads(base64.b64decode(r.stdout))["auths"]
    assert auths["registry.example"]["username"] == "u" and auths["registry.example"]["password"] == "p4ss"

    r = run_kubectl(kubectl_env, tmp_path, "api-resources", "--api-group=", "--no-headers")
    assert ["secrets", "v1", "true", "Secret"] in [line.split() for line in r.stdout.splitlines()]

    r = run_kubectl(kubectl_env, tmp_path, "-n", ns, "create", "secret", "generic", "bad", "--type=kubernetes.io/tls",
                 "--from-literal=tls.key=hidden-value-42")
    assert r.returncode == 1
    assert r.stderr == 'error: failed to create secret Secret "bad" is invalid: data[tls.crt]: Required value\n'


# --- through the official Python client ------------------------------------------------------------


def test_python_client_create_list_watch_delete(apiserver: ApiServerProcess, ns: str) -> None:
    pytest.importorskip("kubernetes")
    from kubernetes import client as k8s
    from kubernetes import watch as k8s_watch

    cfg = k8s.Configuration()
    cfg.host = apiserver.url
    with k8s.ApiClient(cfg) as api_client:
        core = k8s.CoreV1Api(api_client)
        start_rv = core.list_namespaced_secret(ns).metadata.resource_version
        seen: list[tuple[str, str, str]] = []
        w = k8s_watch.Watch()

        def consume() -> None:
            for ev in w.stream(core.list_namespaced_secret, ns, resource_version=start_rv, timeout_seconds=20):
                seen.append((ev["type"], ev["object"].metadata.name, (ev["object"].data or {}).get("k", "")))
                if len(seen) == 3:
                    w.stop()

        t = threading.Thread(target=consume)
        t.start()
        body = k8s.V1Secret(metadata=k8s.V1ObjectMeta(name="py"), string_data={"k": "v1"})
        created = core.create_namespaced_secret(ns, body)
        assert created.type == "Opaque" and created.data == {"k": _b64("v1")} and created.string_data is None
        core.patch_namespaced_secret("py", ns, {"stringData": {"k": "v2"}})
        listed = core.list_namespaced_secret(ns, field_selector="type=Opaque")
        assert [(s.metadata.name, s.data) for s in listed.items] == [("py", {"k": _b64("v2")})]
        core.delete_namespaced_secret("py", ns)
        t.join(30)
        assert seen == [("ADDED", "py", _b64("v1")), ("MODIFIED", "py", _b64("v2")), ("DELETED", "py", _b64("v2"))]
