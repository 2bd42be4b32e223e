"""Test helpers for API servers with authentication, authorization and TLS (issue 9 tests)."""

from __future__ import annotations

import signal
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests import needs
from tests.conftest import free_port

ADMIN, ALICE, BOB = "admin-token-0123456789", "alice-token-0123456789", "bob-token-0123456789"
TOKENS_CSV = (
    f'{ADMIN},admin,uid-admin,"system:masters"\n'
    f"{ALICE},alice,uid-alice\n"
    f'{BOB},bob,uid-bob,"dev,ops"\n'
)
POLICY_JSONL = "\n".join([
    "# alice reads Services in shield only",
    '{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", '
    '"spec": {"user": "alice", "namespace": "shield", "resource": "services", "apiGroup": "", "readonly": true}}',
    "# group dev may do anything to pods, anywhere",
    '{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", '
    '"spec": {"group": "dev", "namespace": "*", "resource": "pods", "apiGroup": ""}}',
    "# anonymous may read Services in public",
    '{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", '
    '"spec": {"user": "system:anonymous", "namespace": "public", "resource": "services", "apiGroup": "", '
    '"readonly": true}}',
    "# everyone signed in may read discovery and other non-resource paths",
    '{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", '
    '"spec": {"group": "system:authenticated", "nonResourcePath": "*", "readonly": true}}',
    "",
])


def kubectl_or_skip() -> str:
    return needs.kubectl()


def write_security_files(directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    tokens, policy = directory / "tokens.csv", directory / "policy.jsonl"
    tokens.write_text(TOKENS_CSV)
    policy.write_text(POLICY_JSONL)
    return tokens, policy


@dataclass
class SecureServer:
    url: str
    port: int
    data_dir: Path
    proc: subprocess.Popen[bytes]
    log: Path
    ca_file: Path | None

    @property
    def verify(self) -> ssl.SSLContext | bool:
        return ssl.create_default_context(cafile=str(self.ca_file)) if self.ca_file else True

    def client(self, token: str | None = None, **kw: object) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, verify=self.verify, timeout=10, **kw)  # type: ignore[arg-type]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def start_secure_apiserver(data_dir: Path, *, extra: list[str], tls: bool = False,
                           port: int | None = None) -> SecureServer:
    """Start ``kubelite apiserver`` with ``extra`` flags; ready when /readyz (public) answers 200."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log = data_dir / f"apiserver-{port}.log"
    cmd = [sys.executable, "-m", "kubelite.cli", "apiserver", "--port", str(port), "--data-dir", str(data_dir),
           "--log-level", "warning", *extra]
    proc = subprocess.Popen(cmd, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    scheme = "https" if tls else "http"
    url = f"{scheme}://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"apiserver exited with {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=1, verify=False).status_code == 200:
                ca = data_dir / "pki" / "ca.crt"
                return SecureServer(url, port, data_dir, proc, log, ca if tls and ca.exists() else None)
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"apiserver did not become ready: {log.read_text()[-3000:]}")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0
