"""TLS: generated CA and serving certificate, given certificate files, and the non-loopback bind rule."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import ssl
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click
import httpx
import pytest
from cryptography import x509

from apimachinery.resources import BY_KEY
from apiserver.certificates import certificate_sans, ensure_serving_material, serving_hosts
from apiserver.settings import Settings
from kubeclient.client import Client
from kubeclient.kubeconfig import load_config, render_kubeconfig
from kubelite.cli import check_exposure
from tests.secure_server import (
    ADMIN,
    SecureServer,
    kubectl_or_skip,
    start_secure_apiserver,
    write_security_files,
)

# -- certificates ------------------------------------------------------------------------------


def test_serving_hosts_for_a_specific_address() -> None:
    hosts = serving_hosts("127.0.0.5", extra=["api.example.com", "127.0.0.5"], service_ip="10.96.0.1")
    for h in ("127.0.0.1", "::1", "localhost", "kubernetes.default.svc", "127.0.0.5", "api.example.com",
              "10.96.0.1", socket.gethostname()):
        assert h in hosts
    assert len(hosts) == len(set(hosts))


def test_serving_hosts_for_a_wildcard_cover_local_addresses() -> None:
    hosts = serving_hosts("0.0.0.0")
    assert "0.0.0.0" not in hosts
    assert "127.0.0.1" in hosts
    # every IPv4 address of this machine (loopback at least) is covered
    assert any(h.startswith("127.") for h in hosts)


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_generated_material_is_signed_private_and_reused(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    m = ensure_serving_material(pki, ["127.0.0.1", "localhost", "10.96.0.1"])
    ca, crt = _cert(m.ca_file), _cert(m.cert_file)
    crt.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not crt.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    names, ips = certificate_sans(m.cert_file)
    assert "localhost" in names and "127.0.0.1" in ips and "10.96.0.1" in ips
    for key in (m.key_file, pki / "ca.key"):
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    before = m.cert_file.read_bytes()
    again = ensure_serving_material(pki, ["localhost", "127.0.0.1"])  # a subset: nothing to re-issue
    assert again == m and m.cert_file.read_bytes() == before


def test_new_address_reissues_the_certificate_under_the_same_ca(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    m = ensure_serving_material(pki, ["127.0.0.1"])
    ca_before, crt_before = m.ca_file.read_bytes(), m.cert_file.read_bytes()
    m2 = ensure_serving_material(pki, ["127.0.0.1", "192.0.2.10", "api.example.com"])
    assert m2.ca_file.read_bytes() == ca_before  # kubeconfigs that carry the CA stay valid
    assert m2.cert_file.read_bytes() != crt_before
    names, ips = certificate_sans(m2.cert_file)
    assert "192.0.2.10" in ips and "api.example.com" in names
    _cert(m2.cert_file).verify_directly_issued_by(_cert(m2.ca_file))


def test_a_foreign_certificate_is_replaced(tmp_path: Path) -> None:
    other = ensure_serving_material(tmp_path / "other", ["127.0.0.1"])
    pki = tmp_path / "pki"
    ensure_serving_material(pki, ["127.0.0.1"])
    (pki / "apiserver.crt").write_bytes(other.cert_file.read_bytes())  # signed by another CA
    m = ensure_serving_material(pki, ["127.0.0.1"])
    _cert(m.cert_file).verify_directly_issued_by(_cert(m.ca_file))


# -- exposure rule -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bind", "tls", "cert", "tokens", "refused"),
    [
        ("127.0.0.1", False, False, False, None),
        ("127.0.0.2", False, False, False, None),
        ("::1", False, False, False, None),
        ("localhost", False, False, False, None),
        ("0.0.0.0", False, False, False, "without TLS (--tls or --tls-cert-file) and token authentication"),
        ("0.0.0.0", True, False, False, "without token authentication (--token-auth-file) the API"),
        ("0.0.0.0", False, False, True, "without TLS (--tls or --tls-cert-file) the API"),
        ("0.0.0.0", True, False, True, None),
        ("192.0.2.1", False, True, True, None),
        ("::", True, False, True, None),
    ],
)
def test_non_loopback_needs_tls_and_tokens(bind: str, tls: bool, cert: bool, tokens: bool, refused: str | None,
                                           tmp_path: Path) -> None:
    s = Settings(bind_address=bind, tls=tls, token_auth_file=tmp_path / "t.csv" if tokens else None,
                 tls_cert_file=tmp_path / "c" if cert else None, tls_private_key_file=tmp_path / "k" if cert else None)
    if refused is None:
        check_exposure(s)
    else:
        with pytest.raises(click.UsageError, match=re.escape(refused)):
            check_exposure(s)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ([], "refusing to bind 0.0.0.0: without TLS"),
        (["--tls"], "without token authentication"),
        (["--tls-cert-file", "{f}"], "--tls-cert-file and --tls-private-key-file must be given together"),
    ],
)
def test_cli_refuses_before_listening(flags: list[str], message: str, tmp_path: Path) -> None:
    f = tmp_path / "file.pem"
    f.write_text("x")
    argv = [sys.executable, "-m", "kubelite.cli", "apiserver", "--bind-address", "0.0.0.0", "--data-dir",
            str(tmp_path / "d"), *[a.replace("{f}", str(f)) for a in flags]]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert message in r.stderr


# -- serving -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureServer]:
    d = tmp_path_factory.mktemp("tls")
    tokens, _ = write_security_files(d)
    srv = start_secure_apiserver(d / "data", extra=["--tls", "--token-auth-file", str(tokens)], tls=True)
    try:
        yield srv
    finally:
        srv.stop()


def test_https_verifies_with_the_generated_ca(tls_server: SecureServer) -> None:
    assert tls_server.ca_file is not None
    with tls_server.client(ADMIN) as c:
        r = c.get("/api/v1/namespaces/default")
        assert r.status_code == 200 and r.json()["metadata"]["name"] == "default"
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(tls_server.url + "/readyz", timeout=10)  # system CAs do not know ours
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{tls_server.port}/readyz", timeout=5)  # no plain HTTP on the TLS port
    names, ips = certificate_sans(tls_server.data_dir / "pki" / "apiserver.crt")
    assert "127.0.0.1" in ips and "10.96.0.1" in ips and "kubernetes.default.svc" in names


def test_unauthenticated_https_request_is_401(tls_server: SecureServer) -> None:
    r = httpx.get(tls_server.url + "/api/v1/pods", verify=tls_server.verify, timeout=10)
    assert r.status_code == 401 and r.json()["reason"] == "Unauthorized"


async def test_client_library_from_kubeconfig(tls_server: SecureServer, tmp_path: Path) -> None:
    assert tls_server.ca_file is not None
    kc = tmp_path / "kubeconfig"
    kc.write_text(render_kubeconfig(tls_server.url, token=ADMIN, ca_data=tls_server.ca_file.read_bytes()))
    cfg = load_config(kubeconfig=str(kc))
    async with Client.from_config(cfg) as c:
        got = await asyncio.wait_for(c.get(BY_KEY["namespaces"], "default"), 10)
        assert got["metadata"]["name"] == "default"
    async with Client(tls_server.url, token=ADMIN, verify=ssl.create_default_context()) as c:
        with pytest.raises(Exception, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            await asyncio.wait_for(c.get(BY_KEY["namespaces"], "default"), 10)


def test_kubernetes_python_client_verifies(tls_server: SecureServer) -> None:
    from kubernetes import client as k8s

    cfg = k8s.Configuration()
    cfg.host = tls_server.url
    cfg.ssl_ca_cert = str(tls_server.ca_file)
    cfg.api_key = {"authorization": ADMIN}
    cfg.api_key_prefix = {"authorization": "Bearer"}
    assert k8s.CoreV1Api(k8s.ApiClient(cfg)).read_namespace("default").metadata.name == "default"


def test_kubectl_verifies_the_ca_from_kubeconfig(tls_server: SecureServer, tmp_path: Path) -> None:
    kubectl = kubectl_or_skip()
    assert tls_server.ca_file is not None
    env = {**os.environ, "HOME": str(tmp_path)}
    good = tmp_path / "good"
    r = subprocess.run([sys.executable, "-m", "kubelite.cli", "kubeconfig", "--server", tls_server.url, "--token",
                        ADMIN, "--certificate-authority", str(tls_server.ca_file)], capture_output=True, text=True,
                       timeout=60, check=True)
    good.write_text(r.stdout)
    r = subprocess.run([kubectl, "--kubeconfig", str(good), "get", "ns", "default", "-o", "name"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert (r.returncode, r.stdout.strip()) == (0, "namespace/default"), r.stderr
    other_ca = ensure_serving_material(tmp_path / "other", ["127.0.0.1"]).ca_file
    bad = tmp_path / "bad"
    bad.write_text(render_kubeconfig(tls_server.url, token=ADMIN, ca_data=other_ca.read_bytes()))
    r = subprocess.run([kubectl, "--kubeconfig", str(bad), "get", "ns", "default"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert r.returncode == 1
    assert "x509" in r.stderr or "certificate" in r.stderr


def test_given_certificate_files(tmp_path: Path) -> None:
    m = ensure_serving_material(tmp_path / "mine", ["127.0.0.1", "localhost"])
    srv = start_secure_apiserver(tmp_path / "data", tls=True, extra=[
        "--tls-cert-file", str(m.cert_file), "--tls-private-key-file", str(m.key_file)])
    try:
        assert not (tmp_path / "data" / "pki").exists()  # nothing generated
        ctx = ssl.create_default_context(cafile=str(m.ca_file))
        assert httpx.get(srv.url + "/api/v1/namespaces/default", verify=ctx, timeout=10).status_code == 200
    finally:
        srv.stop()


def test_tls_listens_on_6443_by_default(tmp_path: Path) -> None:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", 6443))
        except OSError:
            pytest.skip("port 6443 is in use on this machine")
    proc = subprocess.Popen([sys.executable, "-m", "kubelite.cli", "apiserver", "--tls", "--data-dir",
                             str(tmp_path / "data"), "--log-level", "warning"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        ca = tmp_path / "data" / "pki" / "ca.crt"
        for _ in range(300):
            try:
                if ca.exists() and httpx.get("https://127.0.0.1:6443/readyz", timeout=1,
                                             verify=ssl.create_default_context(cafile=str(ca))).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                pytest.fail(f"apiserver exited with {proc.returncode}")
            time.sleep(0.05)
        else:
            pytest.fail("apiserver with --tls did not answer on 6443")
    finally:
        proc.terminate()
        proc.wait(15)
