"""Cluster DNS benchmark: our DNS process against dnsmasq, and DNS programming latency.

    python -m bench.dns [--quick] [--services 1000] [--duration 10] [--rounds 3] [--latency-samples 100] [--check]
    (or python bench/dns.py ...)

What it does, all on 127.0.0.1 with free ports and a temporary data directory:
1. starts an API server and creates ``--services`` Services (explicit ClusterIPs);
2. starts ``python -m servers.dns.main`` against it, and ``dnsmasq`` serving
   the same names from a hosts file;
3. runs ``dnsperf`` over the same query file against each, alternating, for
   ``--rounds`` rounds of ``--duration`` seconds: median qps of each, with
   dnsmasq as the baseline (target ratio >= 1.0), and server CPU per query;
4. measures Service create -> resolvable (POST sent until our server answers
   with the new ClusterIP) ``--latency-samples`` times: p50, p99 (target
   < 100 ms), beside the create request's own latency; a sample that never
   resolves within 5 s is a timeout, never a number;
5. samples the RSS of both DNS servers during the dnsperf rounds (peak).

The API server and both DNS servers run on CPU 0 (``taskset -c 0``); this
process and dnsperf on CPU 1, as bench/api.py does. One JSON line per
figure on stdout (bench/common.py ``figure``), progress on stderr.
``--quick``: 200 Services, one 2 s round, 20 latency samples.

``--check`` exits 1 when a target is missed.  Needs the Debian packages
dnsperf and dnsmasq (or dnsmasq-base).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as ``python bench/dns.py``, this file's directory comes first on sys.path
# and its name would shadow dnspython's ``dns`` package: drop that entry.
# Put the checkout's root there instead, for ``bench.common``.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import argparse
import asyncio
import re
import shutil
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

from bench.common import (
    HOST,
    MIB,
    Sampler,
    figure,
    free_port,
    log,
    percentile,
    pin_generator,
    process_cpu,
    start_apiserver,
    start_process,
    stop_processes,
)

NS = "bench"


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


def dnsperf(port: int, datafile: Path, *, duration: float, clients: int, outstanding: int,
            pid: int | None = None) -> PerfResult:
    before = process_cpu(pid) if pid else 0.0
    out = subprocess.run(
        ["dnsperf", "-s", HOST, "-p", str(port), "-d", str(datafile), "-l", str(duration),
         "-c", str(clients), "-q", str(outstanding)],
        capture_output=True, text=True, check=True, timeout=duration + 60,
    ).stdout
    result = parse_dnsperf(out)
    if pid and result.completed:
        result.cpu_us = (process_cpu(pid) - before) / result.completed * 1e6
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


def programming_latency(url: str, dns_port: int, samples: int, *, timeout: float = 5.0) -> tuple[
        list[float], list[float], int]:
    """(create -> resolvable seconds, create request seconds, samples that timed out).

    A ClusterIP is data here (10.101.x.x in the answer); only 127.0.0.1 is
    ever sent a packet.
    """
    latencies: list[float] = []
    creates: list[float] = []
    timeouts = 0
    with httpx.Client(base_url=url, timeout=30) as c:
        for i in range(samples):
            name, ip = f"lat-{i}", f"10.101.{i // 250}.{i % 250 + 1}"
            q = dns.message.make_query(f"{name}.{NS}.svc.cluster.local.", "A")
            start = time.perf_counter()
            r = c.post(f"/api/v1/namespaces/{NS}/services", json=service_body(name, ip))
            if r.status_code != 201:
                raise RuntimeError(r.text)
            creates.append(time.perf_counter() - start)
            while True:
                try:
                    reply = dns.query.udp(q, HOST, port=dns_port, timeout=1)
                    if reply.rcode() == dns.rcode.NOERROR and reply.answer:
                        latencies.append(time.perf_counter() - start)
                        break
                except dns.exception.Timeout:
                    pass
                if time.perf_counter() - start > timeout:
                    timeouts += 1
                    log(f"TIMEOUT: {name} not resolvable {timeout:g} s after its create")
                    break
                time.sleep(0.0005)
    return latencies, creates, timeouts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short run: 200 Services, one 2 s round, 20 samples")
    p.add_argument("--services", type=int, default=None, help="default 1000 (200 with --quick)")
    p.add_argument("--duration", type=float, default=None, help="seconds per dnsperf run (default 10, 2 with --quick)")
    p.add_argument("--rounds", type=int, default=None, help="alternating runs against each server (default 3, 1)")
    p.add_argument("--clients", type=int, default=1, help="dnsperf -c")
    p.add_argument("--outstanding", type=int, default=100, help="dnsperf -q")
    p.add_argument("--latency-samples", type=int, default=None, help="default 100 (20 with --quick)")
    p.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = p.parse_args(argv)
    services = args.services or (200 if args.quick else 1000)
    duration = args.duration or (2.0 if args.quick else 10.0)
    rounds = args.rounds or (1 if args.quick else 3)
    samples = args.latency_samples or (20 if args.quick else 100)
    for tool in ("dnsperf", "dnsmasq"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            log(f"{tool} not found: apt-get install -y dnsperf dnsmasq-base")
            return 2
    dnsmasq = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    pin_generator()

    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="kubelite-bench-dns-") as tmp:
        work = Path(tmp)
        try:
            api, url = start_apiserver(work / "api")
            procs.append(api)
            t0 = time.perf_counter()
            asyncio.run(create_services(url, services))
            log(f"created {services} Services in {time.perf_counter() - t0:.1f}s")

            names = [f"svc-{i}.{NS}.svc.cluster.local" for i in range(services)]
            queries = work / "queries.txt"
            queries.write_text("".join(f"{n} A\n" for n in names))
            hosts = work / "hosts"
            hosts.write_text("".join(f"{cluster_ip(i)} {n}\n" for i, n in enumerate(names)))

            ours_port = free_port(udp=True)
            ours_proc = start_process(
                [sys.executable, "-m", "servers.dns.main", "--server", url, "--port", str(ours_port),
                 "--log-level", "warning"], work / "dns.log")
            procs.append(ours_proc)
            dm_port = free_port(udp=True)
            dm_proc = start_process(
                [dnsmasq, "--keep-in-foreground", "--no-hosts", f"--addn-hosts={hosts}", f"--port={dm_port}",
                 f"--listen-address={HOST}", "--bind-interfaces", "--no-resolv", "--pid-file=", "--user=root",
                 f"--cache-size={max(10000, 2 * services)}"], work / "dnsmasq.log")
            procs.append(dm_proc)
            last = services - 1
            wait_resolves(ours_port, names[last], cluster_ip(last), timeout=60)
            wait_resolves(dm_port, names[last], cluster_ip(last), timeout=30)

            # warm both: every name answered once (our server precomputes on first query)
            for port in (ours_port, dm_port):
                dnsperf(port, queries, duration=2, clients=1, outstanding=10)

            ours: list[PerfResult] = []
            theirs: list[PerfResult] = []
            with Sampler(pids={"ours": ours_proc.pid, "dnsmasq": dm_proc.pid}) as rss:
                for r in range(rounds):
                    ours.append(dnsperf(ours_port, queries, duration=duration, clients=args.clients,
                                        outstanding=args.outstanding, pid=ours_proc.pid))
                    theirs.append(dnsperf(dm_port, queries, duration=duration, clients=args.clients,
                                          outstanding=args.outstanding, pid=dm_proc.pid))
                    log(f"round {r + 1}: kubelite {ours[-1].qps:,.0f} qps ({ours[-1].cpu_us:.2f} us cpu/query)  "
                        f"dnsmasq {theirs[-1].qps:,.0f} qps ({theirs[-1].cpu_us:.2f} us cpu/query)  "
                        f"ratio {ours[-1].qps / theirs[-1].qps:.2f}")

            latencies, creates, timeouts = programming_latency(url, ours_port, samples)
        finally:
            stop_processes(procs)

    def med(runs: list[PerfResult], attr: str) -> float:
        return float(statistics.median(getattr(r, attr) for r in runs))

    qps, dm_qps = med(ours, "qps"), med(theirs, "qps")
    lost = {"lost": sum(r.lost for r in ours), "baseline_lost": sum(r.lost for r in theirs),
            "round_ratios": [round(o.qps / t.qps, 3) for o, t in zip(ours, theirs, strict=True)]}
    qps_line = figure(f"DNS qps, median of {rounds} x {duration:g} s ({services} names; baseline: dnsmasq)", qps,
                      "qps", dm_qps, target=">= 1.0x", met=qps >= dm_qps and lost["lost"] == 0, **lost)
    figure("DNS server CPU per query, median (baseline: dnsmasq)", med(ours, "cpu_us"), "us", med(theirs, "cpu_us"))
    figure("DNS average latency under dnsperf, median (baseline: dnsmasq)", med(ours, "avg_ms"), "ms",
           med(theirs, "avg_ms"))
    counts = {"samples": samples, "timeouts": timeouts}
    lines = []
    for q, target in ((0.5, None), (0.99, "< 100 ms")):
        v = 1000 * percentile(latencies, q) if latencies and not timeouts else None
        lines.append(figure(f"Service create -> resolvable p{q * 100:g} (baseline: the create request's latency)",
                            v, "ms", 1000 * percentile(creates, q), target=target,
                            met=v is not None and v < 100, **counts))
    figure("DNS server RSS, peak during dnsperf (baseline: dnsmasq)", rss.peak["ours"] / MIB, "MiB",
           rss.peak["dnsmasq"] / MIB)
    if args.check and not (qps_line["met"] and lines[-1]["met"]):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
