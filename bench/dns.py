"""Cluster DNS benchmark: our DNS process against dnsmasq, and DNS programming latency.

    python bench/dns.py [--services 1000] [--duration 10] [--rounds 3] [--latency-samples 100] [--check]

What it does, all on 127.0.0.1 with free ports and a temporary data directory:
1. starts an API server and creates ``--services`` Services (explicit ClusterIPs);
2. starts ``python -m controllers.dns.main`` against it, and ``dnsmasq`` serving
   the same names from a hosts file;
3. runs ``dnsperf`` over the same query file against each, alternating, for
   ``--rounds`` rounds of ``--duration`` seconds, and prints qps, latency and
   the qps ratio (ours / dnsmasq, median of the rounds);
4. measures Service create -> resolvable (POST sent until our server answers
   with the new ClusterIP) ``--latency-samples`` times: p50, p99, max.

``--check`` exits 1 unless the ratio is >= 1.0 and p99 < 100 ms.  Needs the
Debian packages dnsperf and dnsmasq (or dnsmasq-base).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as ``python bench/dns.py``, this file's directory comes first on sys.path
# and its name would shadow dnspython's ``dns`` package: drop that entry.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass

import dns.exception
import dns.message
import dns.query
import dns.rcode
import httpx

HOST = "127.0.0.1"
NS = "bench"


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1."""
    while True:
        with socket.socket() as t:
            t.bind((HOST, 0))
            port = int(t.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind((HOST, port))
                except OSError:
                    continue
        return port


def cluster_ip(i: int) -> str:
    """Inside 10.96.0.0/12, away from 10.96.0.1 (kubernetes) and 10.96.0.10 (kube-dns)."""
    return f"10.100.{i // 250}.{i % 250 + 1}"


@dataclass
class PerfResult:
    qps: float
    avg_ms: float
    max_ms: float
    lost: int
    completed: int
    cpu_us: float = 0.0  # server CPU time per completed query: robust to a busy machine


def parse_dnsperf(out: str) -> PerfResult:
    def grab(pattern: str) -> str:
        m = re.search(pattern, out)
        if m is None:
            raise RuntimeError(f"unexpected dnsperf output:\n{out}")
        return m.group(1)

    return PerfResult(
        qps=float(grab(r"Queries per second:\s+([\d.]+)")),
        avg_ms=float(grab(r"Average Latency \(s\):\s+([\d.]+)")) * 1000,
        max_ms=float(grab(r"Average Latency \(s\):.*max ([\d.]+)")) * 1000,
        lost=int(grab(r"Queries lost:\s+(\d+)")),
        completed=int(grab(r"Queries completed:\s+(\d+)")),
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def dnsperf(port: int, datafile: Path, *, duration: float, clients: int, outstanding: int,
            pid: int | None = None) -> PerfResult:
    before = cpu_seconds(pid) if pid else 0.0
    out = subprocess.run(
        ["dnsperf", "-s", HOST, "-p", str(port), "-d", str(datafile), "-l", str(duration),
         "-c", str(clients), "-q", str(outstanding)],
        capture_output=True, text=True, check=True, timeout=duration + 60,
    ).stdout
    result = parse_dnsperf(out)
    if pid and result.completed:
        result.cpu_us = (cpu_seconds(pid) - before) / result.completed * 1e6
    return result


def wait_resolves(port: int, name: str, ip: str, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    q = dns.message.make_query(name, "A")
    while True:
        try:
            r = dns.query.udp(q, HOST, port=port, timeout=0.5)
            if [rd.to_text() for rr in r.answer for rd in rr] == [ip]:
                return
        except (dns.exception.Timeout, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not resolve to {ip} on port {port}")
        time.sleep(0.02)


def start_apiserver(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = (data_dir / "apiserver.log").open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "kubelite.cli", "apiserver", "--port", str(port),
                             "--data-dir", str(data_dir / "api"), "--log-level", "warning"],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"apiserver exited:\n{(data_dir / 'apiserver.log').read_text()[-3000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("apiserver did not become ready")


def service_body(name: str, ip: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS},
            "spec": {"clusterIP": ip, "clusterIPs": [ip], "ports": [{"name": "http", "port": 80}]}}


async def create_services(url: str, count: int) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as c:
        r = await c.post("/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                                     "metadata": {"name": NS}})
        if r.status_code not in (201, 409):
            raise RuntimeError(r.text)
        sem = asyncio.Semaphore(16)

        async def one(i: int) -> None:
            async with sem:
                r = await c.post(f"/api/v1/namespaces/{NS}/services", json=service_body(f"svc-{i}", cluster_ip(i)))
                if r.status_code != 201:
                    raise RuntimeError(r.text)

        await asyncio.gather(*(one(i) for i in range(count)))


def programming_latency(url: str, dns_port: int, samples: int) -> list[float]:
    """Seconds from sending the create to our server answering with the new ClusterIP."""
    latencies = []
    with httpx.Client(base_url=url, timeout=30) as c:
        for i in range(samples):
            name, ip = f"lat-{i}", f"10.101.{i // 250}.{i % 250 + 1}"
            q = dns.message.make_query(f"{name}.{NS}.svc.cluster.local.", "A")
            start = time.perf_counter()
            r = c.post(f"/api/v1/namespaces/{NS}/services", json=service_body(name, ip))
            if r.status_code != 201:
                raise RuntimeError(r.text)
            while True:
                reply = dns.query.udp(q, HOST, port=dns_port, timeout=1)
                if reply.rcode() == dns.rcode.NOERROR and reply.answer:
                    break
                time.sleep(0.0005)
            latencies.append(time.perf_counter() - start)
    return latencies


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--services", type=int, default=1000)
    p.add_argument("--duration", type=float, default=10.0, help="seconds per dnsperf run")
    p.add_argument("--rounds", type=int, default=3, help="alternating runs against each server")
    p.add_argument("--clients", type=int, default=1, help="dnsperf -c")
    p.add_argument("--outstanding", type=int, default=100, help="dnsperf -q")
    p.add_argument("--latency-samples", type=int, default=100)
    p.add_argument("--check", action="store_true", help="exit 1 unless ratio >= 1.0 and p99 < 100 ms")
    args = p.parse_args(argv)
    for tool in ("dnsperf", "dnsmasq"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            print(f"{tool} not found: apt-get install -y dnsperf dnsmasq-base", file=sys.stderr)
            return 2
    dnsmasq = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    # the API server and DNS processes import this checkout, wherever we are run from
    root = str(Path(__file__).resolve().parent.parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)

    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="kubelite-bench-dns-") as tmp:
        work = Path(tmp)
        try:
            api, url = start_apiserver(work)
            procs.append(api)
            t0 = time.perf_counter()
            asyncio.run(create_services(url, args.services))
            print(f"created {args.services} Services in {time.perf_counter() - t0:.1f}s")

            names = [f"svc-{i}.{NS}.svc.cluster.local" for i in range(args.services)]
            queries = work / "queries.txt"
            queries.write_text("".join(f"{n} A\n" for n in names))
            hosts = work / "hosts"
            hosts.write_text("".join(f"{cluster_ip(i)} {n}\n" for i, n in enumerate(names)))

            ours_port = free_port()
            ours_proc = subprocess.Popen(
                [sys.executable, "-m", "controllers.dns.main", "--server", url, "--port", str(ours_port),
                 "--log-level", "warning"])
            procs.append(ours_proc)
            dm_port = free_port()
            dm_proc = subprocess.Popen(
                [dnsmasq, "--keep-in-foreground", "--no-hosts", f"--addn-hosts={hosts}", f"--port={dm_port}",
                 f"--listen-address={HOST}", "--bind-interfaces", "--no-resolv", "--pid-file=", "--user=root",
                 f"--cache-size={max(10000, 2 * args.services)}"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(dm_proc)
            last = args.services - 1
            wait_resolves(ours_port, names[last], cluster_ip(last), timeout=60)
            wait_resolves(dm_port, names[last], cluster_ip(last), timeout=30)

            # warm both: every name answered once (our server precomputes on first query)
            for port in (ours_port, dm_port):
                dnsperf(port, queries, duration=2, clients=1, outstanding=10)

            ours: list[PerfResult] = []
            theirs: list[PerfResult] = []
            for r in range(args.rounds):
                ours.append(dnsperf(ours_port, queries, duration=args.duration, clients=args.clients,
                                    outstanding=args.outstanding, pid=ours_proc.pid))
                theirs.append(dnsperf(dm_port, queries, duration=args.duration, clients=args.clients,
                                      outstanding=args.outstanding, pid=dm_proc.pid))
                print(f"round {r + 1}: kubelite {ours[-1].qps:,.0f} qps ({ours[-1].cpu_us:.2f} us cpu/query)  "
                      f"dnsmasq {theirs[-1].qps:,.0f} qps ({theirs[-1].cpu_us:.2f} us cpu/query)  "
                      f"ratio {ours[-1].qps / theirs[-1].qps:.2f}")

            latencies = programming_latency(url, ours_port, args.latency_samples)
        finally:
            for proc in reversed(procs):
                stop(proc)

    ratio = statistics.median(o.qps / t.qps for o, t in zip(ours, theirs, strict=True))
    print()
    print(f"{'server':<10} {'qps (median)':>14} {'avg latency':>12} {'max latency':>12} {'lost':>6} "
          f"{'cpu/query':>10}")
    for label, runs in (("kubelite", ours), ("dnsmasq", theirs)):
        print(f"{label:<10} {statistics.median(r.qps for r in runs):>14,.0f} "
              f"{statistics.median(r.avg_ms for r in runs):>10.3f}ms {max(r.max_ms for r in runs):>10.3f}ms "
              f"{sum(r.lost for r in runs):>6} {statistics.median(r.cpu_us for r in runs):>8.2f}us")
    print(f"qps ratio kubelite/dnsmasq: {ratio:.2f}x (target >= 1.0x)")
    p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
    print(f"DNS programming latency (Service create -> resolvable), {len(latencies)} samples: "
          f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(latencies) * 1000:.1f} ms (target p99 < 100 ms)")
    if args.check and (ratio < 1.0 or p99 >= 100):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
