"""``kubelite up`` as a user runs it: everything starts, works, survives a restart and a crash."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import needs
from tests.conftest import free_port

SHIELD = """
apiVersion: v1
kind: Namespace
metadata: {name: shield}
---
apiVersion: v1
kind: Service
metadata: {name: the-bus, namespace: shield}
spec:
  type: NodePort
  selector: {env: marvel}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: triskelion, namespace: shield, labels: {env: marvel}}
spec: {containers: [{name: web, image: nginx, ports: [{containerPort: 8080}]}]}
---
apiVersion: v1
kind: Pod
metadata: {name: playground, namespace: shield, labels: {env: marvel}}
spec: {containers: [{name: web, image: nginx, ports: [{containerPort: 8080}]}]}
"""


class Up:
    """``kubelite up`` on free ports, its output in a log beside the data dir; ``stop`` always ends it.

    ``argv`` replaces the command (the README test runs the README's own), ``extra`` adds flags.
    """

    def __init__(self, data_dir: Path, port: int, dns_port: int, *, argv: list[str] | None = None,
                 extra: tuple[str, ...] = (), cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.data_dir, self.port, self.dns_port = data_dir, port, dns_port
        self.log = data_dir.parent / f"up-{port}.log"
        self.offset = self.log.stat().st_size if self.log.exists() else 0
        if argv is None:
            argv = [sys.executable, "-m", "kubelite.cli", "up", "--data-dir", str(data_dir), "--port", str(port),
                    "--dns-port", str(dns_port), "--nodes", "2", "--console-port", str(free_port())]
        self.proc = subprocess.Popen([*argv, *extra], stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
                                     start_new_session=True, cwd=cwd, env=env)
        self.url = f"http://127.0.0.1:{port}"

    def output(self) -> str:
        """What this run printed so far."""
        return self.log.read_text(errors="replace")[self.offset:]

    def wait_ready(self, timeout: float = 60) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if "kubelite is ready" in self.output():
                return time.monotonic() - start
            assert self.proc.poll() is None, self.log.read_text()[-4000:]
            time.sleep(0.1)
        raise AssertionError("kubelite up not ready: " + self.log.read_text()[-4000:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    u = Up(tmp_path / "kl", free_port(), free_port())
    try:
        yield u
    finally:
        u.stop()


def kubectl(up: Up, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(up.data_dir / "kubeconfig")}
    return subprocess.run(["kubectl", "--cache-dir", str(up.data_dir / "kcache"), *args], capture_output=True,
                          text=True, env=env, timeout=60)


def eventually(fn: Any, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = fn()
            if result:
                return result
        except (AssertionError, KeyError, httpx.HTTPError):
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.2)


def dns_a(up: Up, name: str) -> list[str]:
    import dns.message
    import dns.query
    import dns.rdatatype

    q = dns.message.make_query(name, dns.rdatatype.A)
    r = dns.query.udp(q, "127.0.0.1", port=up.dns_port, timeout=2)
    return sorted(rr.address for rrset in r.answer for rr in rrset)


def test_up_runs_the_whole_system_and_keeps_state_across_restarts(up: Up, tmp_path: Path) -> None:
    needs.kubectl()
    elapsed = up.wait_ready()
    assert elapsed < 30
    manifest = tmp_path / "shield.yml"
    manifest.write_text(SHIELD)
    r = kubectl(up, "apply", "-f", str(manifest))
    assert r.returncode == 0, r.stderr
    api = httpx.Client(base_url=up.url, timeout=5)

    def allocated() -> dict[str, Any] | None:
        svc = api.get("/api/v1/namespaces/shield/services/the-bus").json()
        ok = svc["spec"].get("clusterIP") and svc["spec"]["ports"][0].get("nodePort")
        return svc if ok else None

    svc = eventually(allocated)
    ip, node_port = svc["spec"]["clusterIP"], svc["spec"]["ports"][0]["nodePort"]

    def endpoints() -> list[str]:
        ep = api.get("/api/v1/namespaces/shield/endpoints/the-bus").json()
        addrs = [a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or []]
        return addrs if len(addrs) == 2 else []

    addrs = eventually(endpoints)
    assert all(a.startswith("10.85.") for a in addrs)
    assert eventually(lambda: dns_a(up, "the-bus.shield.svc.cluster.local")) == [ip]

    up.stop()
    again = Up(up.data_dir, up.port, up.dns_port)
    try:
        again.wait_ready()
        svc2 = api.get("/api/v1/namespaces/shield/services/the-bus").json()
        assert svc2["spec"]["clusterIP"] == ip and svc2["spec"]["ports"][0]["nodePort"] == node_port
        assert svc2["metadata"]["uid"] == svc["metadata"]["uid"]
        assert sorted(eventually(endpoints)) == sorted(addrs)
    finally:
        again.stop()


def test_supervisor_restarts_a_killed_controller(up: Up) -> None:
    """A restarted controller takes its crashed predecessor's Lease at once (same identity), not after 15 s."""
    up.wait_ready()
    api = httpx.Client(base_url=up.url, timeout=5)
    lease_path = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kubelite-ipam"
    holder = eventually(lambda: api.get(lease_path).json()["spec"].get("holderIdentity"))
    pattern = f"kubelite.cli controller ipam --server {up.url}"
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    pids = [int(p) for p in out.stdout.split()]
    assert pids
    os.kill(pids[0], signal.SIGKILL)

    def restarted() -> bool:
        out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
        new = [int(p) for p in out.stdout.split() if int(p) not in pids]
        return bool(new)

    eventually(restarted, timeout=20)
    assert "exited with code" in up.log.read_text()
    restarted_at = time.monotonic()
    api.post("/api/v1/namespaces/default/services",
             json={"apiVersion": "v1", "kind": "Service", "metadata": {"name": "after-crash"},
                   "spec": {"ports": [{"port": 80}]}})
    eventually(lambda: api.get("/api/v1/namespaces/default/services/after-crash").json()["spec"].get("clusterIP"),
               timeout=20)
    # the lease duration is 15 s: a successor with a new identity would wait it out
    assert time.monotonic() - restarted_at < 10
    assert api.get(lease_path).json()["spec"]["holderIdentity"] == holder


def test_up_with_tls_issues_tokens_and_controllers_still_work(tmp_path: Path) -> None:
    port, dns_port, console_port = free_port(), free_port(), free_port()
    data = tmp_path / "kls"
    log = tmp_path / "up-tls.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubelite.cli", "up", "--data-dir", str(data), "--port", str(port),
         "--dns-port", str(dns_port), "--nodes", "1", "--tls", "--console-port", str(console_port)],
        stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while "kubelite is ready" not in log.read_text(errors="replace"):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-4000:]
            time.sleep(0.1)
        url = f"https://127.0.0.1:{port}"
        import ssl

        ca = ssl.create_default_context(cafile=str(data / "pki" / "ca.crt"))
        anonymous = httpx.get(f"{url}/api/v1/namespaces", verify=ca)
        assert anonymous.status_code == 401 and anonymous.json()["reason"] == "Unauthorized"
        import yaml

        token = yaml.safe_load((data / "kubeconfig").read_text())["users"][0]["user"]["token"]
        api = httpx.Client(base_url=url, verify=ca, headers={"Authorization": f"Bearer {token}"}, timeout=5)
        r = api.post("/api/v1/namespaces/default/services",
                     json={"apiVersion": "v1", "kind": "Service", "metadata": {"name": "secure"},
                           "spec": {"type": "NodePort", "ports": [{"port": 80}]}})
        assert r.status_code == 201, r.text
        # the controllers authenticate with their own tokens: the Service gets its IP and port
        svc = eventually(lambda: (lambda s: s if s["spec"].get("clusterIP") and
                                  s["spec"]["ports"][0].get("nodePort") else None)(
            api.get("/api/v1/namespaces/default/services/secure").json()), timeout=20)
        assert svc["spec"]["clusterIP"].startswith("10.")
        tokens = (data / "auth" / "tokens.csv").read_text()
        assert "system:kubelite:ipam" in tokens and "admin" in tokens
        # --tls also encrypts Secrets at rest, with a key generated owner-only under the data dir
        config = data / "pki" / "encryption-config.yaml"
        assert config.stat().st_mode & 0o777 == 0o600
        value = "up-tls-secret-value-9137"
        r = api.post("/api/v1/namespaces/default/secrets",
                     json={"metadata": {"name": "s"}, "stringData": {"password": value}})
        assert r.status_code == 201, r.text
        raw = b"".join(p.read_bytes() for p in data.glob("kubelite.db*"))
        assert value.encode() not in raw and b"k8s:enc:secretbox:v1:key1:" in raw
        # the console reads over https as the admin, and says where it is
        assert f"console:     http://127.0.0.1:{console_port}/" in log.read_text()
        eventually(lambda: [s for s in httpx.get(f"http://127.0.0.1:{console_port}/api/map?namespace=default",
                                                 timeout=5).json()["services"] if s["name"] == "secure"])
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def recorded_children(data_dir: Path) -> dict[str, tuple[int, str]]:
    """The pid files ``up`` keeps for its running children: name -> (pid, start time)."""
    from kubelite.datadir import UP, PidFiles

    return {r.name: (r.pid, r.start) for r in PidFiles(data_dir).alive() if r.name != UP}


def proc_children(pid: int) -> set[int]:
    return {int(c) for task in Path(f"/proc/{pid}/task").iterdir()
            for c in (task / "children").read_text().split()}


def test_up_starts_the_api_server_first_and_no_client_is_refused(up: Up) -> None:
    up.wait_ready()
    up.stop()
    out = up.output()
    assert "refused" not in out.lower(), [line for line in out.splitlines() if "refused" in line.lower()]
    lines = [line for line in out.splitlines() if " | " in line]
    first_client = next(i for i, line in enumerate(lines) if not line.startswith("apiserver"))
    assert any("Uvicorn running on" in line for line in lines[:first_client]), lines[:first_client + 1]
    assert not recorded_children(up.data_dir) and not (up.data_dir / "run" / "up.pid").exists()


def test_kill_9_of_up_leaves_no_process_behind(up: Up) -> None:
    up.wait_ready()
    children = recorded_children(up.data_dir)
    assert {"apiserver", "ipam", "node-1", "node-2", "dns"} <= set(children)
    assert {pid for pid, _ in children.values()} == proc_children(up.proc.pid)
    os.kill(up.proc.pid, signal.SIGKILL)
    up.proc.wait(10)
    from kubelite.datadir import start_time

    eventually(lambda: not [n for n, (pid, start) in children.items() if start_time(pid) == start], timeout=20)


def test_a_second_up_on_a_data_dir_in_use_refuses_in_one_line(up: Up) -> None:
    up.wait_ready()
    r = subprocess.run([sys.executable, "-m", "kubelite.cli", "up", "--data-dir", str(up.data_dir),
                        "--port", str(free_port()), "--dns-port", str(free_port())],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr == (f"error: kubelite up (pid {up.proc.pid}) is already running on {up.data_dir}; "
                        f"stop it (kill {up.proc.pid}) or use another --data-dir\n")


def test_up_stops_the_leftovers_of_a_killed_up(tmp_path: Path) -> None:
    """A child that outlived its up (as if PR_SET_PDEATHSIG had not been there) holds the port: up stops it."""
    from kubelite.datadir import PidFiles, start_time

    data, port = tmp_path / "kl", free_port()
    data.mkdir()
    # started by a shell that exits at once: the API server is nobody's child here, like a real orphan
    server = shlex.join([sys.executable, "-m", "kubelite.cli", "apiserver", "--port", str(port),
                         "--data-dir", str(data)])
    out = subprocess.run(["bash", "-c", f"{server} >{tmp_path}/orphan.log 2>&1 & echo $!"],
                         capture_output=True, text=True, start_new_session=True, check=True)
    orphan = int(out.stdout)
    try:
        eventually(lambda: httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200, timeout=30)
        PidFiles(data).record("apiserver", orphan)
        again = Up(data, port, free_port())
        try:
            again.wait_ready()
            assert (f"stopped 1 processes left running by an earlier kubelite up on {data}: apiserver (pid {orphan})"
                    in again.output())
            assert start_time(orphan) is None
        finally:
            again.stop()
    finally:
        if start_time(orphan) is not None:
            os.kill(orphan, signal.SIGKILL)


@pytest.mark.parametrize("made_with", ["simulated", "data-path"])
def test_up_refuses_a_data_dir_of_the_other_mode_before_starting_anything(tmp_path: Path, made_with: str) -> None:
    data = tmp_path / "kl"
    data.mkdir()
    (data / "mode.json").write_text(f'{{"mode": "{made_with}"}}\n')
    flag = [] if made_with == "data-path" else ["--data-path"]
    r = subprocess.run([sys.executable, "-m", "kubelite.cli", "up", "--data-dir", str(data), *flag,
                        "--port", str(free_port()), "--dns-port", str(free_port())],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stdout == ""
    if made_with == "simulated":
        hint = "was created without --data-path; run without --data-path, use a fresh --data-dir"
    else:
        hint = "was created with --data-path; add --data-path, use a fresh --data-dir"
    assert r.stderr == f"error: {data} {hint}, or remove {data}\n"
    assert sorted(p.name for p in data.iterdir()) == ["mode.json"]  # nothing was started or migrated


def test_up_reads_the_mode_of_a_data_dir_from_before_the_mode_file(up: Up) -> None:
    up.wait_ready()
    up.stop()
    (up.data_dir / "mode.json").unlink()
    r = subprocess.run([sys.executable, "-m", "kubelite.cli", "up", "--data-dir", str(up.data_dir), "--data-path",
                        "--port", str(free_port()), "--dns-port", str(free_port())],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.startswith(f"error: {up.data_dir} was created without --data-path; ") and r.stderr.count("\n") == 1


def test_dns_upstream_reaches_the_dns_process_only_when_asked(tmp_path: Path) -> None:
    from kubelite.up import plan

    def dns_argv(upstream: str | None) -> list[str]:
        _, others, _ = plan(data_dir=tmp_path, bind_address="127.0.0.1", port=8080, dns_port=5353, nodes=1,
                            db="", apiservers=1, dns_upstream=upstream)
        return next(c.argv for c in others if c.name == "dns")

    assert "--upstream" not in dns_argv(None)
    argv = dns_argv("127.0.0.1:5300")
    assert argv[argv.index("--upstream") + 1] == "127.0.0.1:5300"


def test_help_everywhere() -> None:
    from click.testing import CliRunner

    from kubelite.cli import apiserver, main

    apiserver.make_context("apiserver", [])  # made alone first (as a test elsewhere does): -h must survive
    top = CliRunner().invoke(main, ["-h"])
    assert top.exit_code == 0 and "``" not in top.output
    for cmd in main.commands:  # type: ignore[attr-defined]
        shown = CliRunner().invoke(main, [cmd, "-h"])
        assert shown.exit_code == 0 and shown.output.startswith(("Usage:", "usage:")), (cmd, shown.output)
    assert CliRunner().invoke(main, ["controller", "ipam", "-h"]).output.startswith("usage: kubelite controller ipam")
    up_help = CliRunner().invoke(main, ["up", "-h"]).output
    assert "simulated nodes" not in up_help
    import click

    for opt in main.commands["up"].params:  # type: ignore[attr-defined]
        assert not isinstance(opt, click.Option) or opt.help, opt.name
