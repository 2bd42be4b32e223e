"""Crash test: kill -9 the API server in the middle of a write load, restart it, check every acknowledged write.

``python -m bench.crash [--quick] [--iterations 20] [--seed N] [--keep]`` repeats:
start ``kubelite apiserver`` on one data directory, start a write load in a
separate process (creates of Pods and Services, label patches, deletes; every
2xx reply is appended to a log before the next request), kill -9 the server
at a random moment, restart it on the same directory and check that

- every acknowledged create is present (unless a delete of it was sent: its reply may be what the
  crash swallowed),
- every acknowledged delete is gone,
- every acknowledged patch is visible (the object's counter label is at least
  the acknowledged value: a later, unacknowledged patch may have landed too),
- every stored object and change decodes (the SQLite file is read directly)
  and ``PRAGMA integrity_check`` is ok.

One JSON line per iteration goes to stderr; stdout gets one JSON line per
figure (bench/common.py ``figure``): acknowledged writes lost (baseline: the
writes acknowledged, target 0), the restart time after kill -9 (baseline: the
clean start on the same directory in the same iteration), and the SQLite
db + WAL size as the kill left it (baseline: the JSON bytes of the objects
stored). The exit code is 1 if any iteration lost a write. ``--quick``: 3
iterations. The servers are not pinned to cores. tests/test_crash.py runs
three iterations in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.common import MIB, figure, free_port, log, sqlite_bytes

NS = "crash"


def _pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"gen": "0"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def _service(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}}


# -- the write load (a separate process) ----------------------------------------------------------


async def _load(url: str, log_path: Path, *, prefix: str, workers: int, seed: int) -> None:
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def ack(rec: dict[str, Any]) -> None:
        os.write(fd, orjson.dumps(rec) + b"\n")  # one write(2) per line: complete even if we die next

    async def worker(w: int, c: httpx.AsyncClient) -> None:
        rng = random.Random(seed * 1000 + w)
        pods: list[tuple[str, int]] = []
        services: list[str] = []
        i = 0
        while True:
            i += 1
            roll = rng.random()
            if roll < 0.45 or not pods:
                name = f"{prefix}-p{w}-{i}"
                r = await c.post(f"/api/v1/namespaces/{NS}/pods", json=_pod(name))
                if r.status_code == 201:
                    pods.append((name, 0))
                    ack({"op": "create", "res": "pods", "name": name})
            elif roll < 0.65:
                name = f"{prefix}-s{w}-{i}"
                r = await c.post(f"/api/v1/namespaces/{NS}/services", json=_service(name))
                if r.status_code == 201:
                    services.append(name)
                    ack({"op": "create", "res": "services", "name": name})
            elif roll < 0.9:
                k = rng.randrange(len(pods))
                name, gen = pods[k]
                r = await c.patch(f"/api/v1/namespaces/{NS}/pods/{name}",
                                  content=orjson.dumps({"metadata": {"labels": {"gen": str(gen + 1)}}}),
                                  headers={"Content-Type": "application/merge-patch+json"})
                if r.status_code == 200:
                    pods[k] = (name, gen + 1)
                    ack({"op": "patch", "res": "pods", "name": name, "gen": gen + 1})
            elif services:
                name = services.pop(rng.randrange(len(services)))
                # Logged before sending: a delete whose reply the crash swallows may still have landed.
                ack({"op": "deleting", "res": "services", "name": name})
                r = await c.delete(f"/api/v1/namespaces/{NS}/services/{name}")
                if r.status_code == 200:
                    ack({"op": "delete", "res": "services", "name": name})

    async with httpx.AsyncClient(base_url=url, timeout=30) as c:
        try:
            await asyncio.gather(*(worker(w, c) for w in range(workers)))
        except httpx.HTTPError:
            return  # the server is gone: the test kills it
        finally:
            os.close(fd)


def writer_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("log", type=Path)
    p.add_argument("--prefix", default="w")
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    asyncio.run(_load(a.url, a.log, prefix=a.prefix, workers=a.workers, seed=a.seed))
    return 0


# -- one iteration ---------------------------------------------------------------------------------


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str


def start_server(data_dir: Path, port: int, *, kubelite: list[str] | None = None) -> Server:
    data_dir.mkdir(parents=True, exist_ok=True)
    cmd = [*(kubelite or [sys.executable, "-m", "kubelite.cli"]), "apiserver", "--port", str(port), "--data-dir",
           str(data_dir), "--log-level", "warning"]
    log = (data_dir / "apiserver.log").open("ab")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"apiserver exited with {proc.returncode}: "
                               f"{(data_dir / 'apiserver.log').read_text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return Server(proc, url)
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("apiserver did not become ready")


def stop_server(s: Server) -> None:
    if s.proc.poll() is None:
        s.proc.send_signal(signal.SIGTERM)
        try:
            s.proc.wait(20)
        except subprocess.TimeoutExpired:
            s.proc.kill()
            s.proc.wait(10)


@dataclass
class Result:
    iteration: int
    acknowledged: int  # log records: acknowledged writes, plus deletes about to be sent
    kill_after_s: float
    objects: int
    lost: list[str] = field(default_factory=list)
    undeleted: list[str] = field(default_factory=list)
    stale_patches: list[str] = field(default_factory=list)
    undecodable: list[str] = field(default_factory=list)
    integrity: str = ""
    writes_acked: int = 0  # creates, patches and deletes answered 2xx
    start_s: float = 0.0  # clean start -> ready
    restart_s: float = 0.0  # start after kill -9 -> ready (recovery included)
    db_bytes_at_kill: int = 0  # db + WAL as the kill left them
    body_bytes: int = 0  # JSON bytes of the objects stored after the restart

    @property
    def ok(self) -> bool:
        return not (self.lost or self.undeleted or self.stale_patches or self.undecodable) and self.integrity == "ok"


def _read_acks(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_bytes().splitlines():
        if line.strip():
            out.append(orjson.loads(line))
    return out


def check_database(db_file: Path) -> tuple[list[str], str, int]:
    """Every stored body and change decodes as an object with a name; SQLite's own integrity check.

    Also returns the bytes of the stored objects' bodies: the logical size the file size is compared with.
    """
    bad: list[str] = []
    body_bytes = 0
    conn = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)
    try:
        integrity = str(conn.execute("PRAGMA integrity_check").fetchone()[0])
        for table in ("objects", "changes"):
            for resource, name, body in conn.execute(f"SELECT resource, name, body FROM {table}"):
                try:
                    obj = orjson.loads(body)
                    ok = isinstance(obj, dict) and (obj.get("metadata") or {}).get("name") == name
                except orjson.JSONDecodeError:
                    ok = False
                if not ok:
                    bad.append(f"{table}:{resource}/{name}")
                if table == "objects":
                    body_bytes += len(body)
    finally:
        conn.close()
    return bad, integrity, body_bytes


def verify(url: str, acks: list[dict[str, Any]]) -> tuple[list[str], list[str], list[str], int]:
    with httpx.Client(base_url=url, timeout=30) as c:
        present: dict[tuple[str, str], dict[str, Any]] = {}
        for res in ("pods", "services"):
            r = c.get(f"/api/v1/namespaces/{NS}/{res}")
            r.raise_for_status()
            for item in r.json()["items"]:
                present[(res, item["metadata"]["name"])] = item
    deleted = {(a["res"], a["name"]) for a in acks if a["op"] == "delete"}
    maybe_deleted = {(a["res"], a["name"]) for a in acks if a["op"] == "deleting"}
    lost = [f"{a['res']}/{a['name']}" for a in acks
            if a["op"] == "create" and (a["res"], a["name"]) not in present
            and (a["res"], a["name"]) not in maybe_deleted]
    undeleted = [f"{r}/{n}" for r, n in deleted if (r, n) in present]
    stale: list[str] = []
    for a in acks:
        if a["op"] != "patch":
            continue
        obj = present.get(("pods", a["name"]))
        gen = int(((obj or {}).get("metadata", {}).get("labels") or {}).get("gen", "-1"))
        if gen < a["gen"]:
            stale.append(f"pods/{a['name']}: gen {gen} < acknowledged {a['gen']}")
    return lost, undeleted, stale, len(present)


def run_iteration(data_dir: Path, iteration: int, *, rng: random.Random, port: int | None = None,
                  kubelite: list[str] | None = None) -> Result:
    """One load / kill -9 / restart / verify cycle on ``data_dir`` (reused across iterations)."""
    port = port or free_port()
    t0 = time.monotonic()
    srv = start_server(data_dir, port, kubelite=kubelite)
    start_s = time.monotonic() - t0
    with httpx.Client(base_url=srv.url, timeout=10) as c:
        r = c.post("/api/v1/namespaces", json={"metadata": {"name": NS}})
        assert r.status_code in (201, 409), r.text
        # no serviceaccount controller runs here: the account the load's Pods are admitted with
        r = c.post(f"/api/v1/namespaces/{NS}/serviceaccounts", json={"metadata": {"name": "default"}})
        assert r.status_code in (201, 409), r.text
    ack_log = data_dir / f"acks-{iteration}.jsonl"
    writer = subprocess.Popen([sys.executable, "-m", "bench.crash", "--writer", srv.url, str(ack_log), "--prefix",
                               f"i{iteration}", "--seed", str(rng.randrange(1 << 30))],
                              cwd=Path(__file__).resolve().parent.parent)
    kill_after = rng.uniform(0.3, 2.5)
    try:
        deadline = time.monotonic() + 30
        while not ack_log.exists() or ack_log.stat().st_size == 0:  # the load is running
            if time.monotonic() > deadline or writer.poll() is not None:
                raise RuntimeError("the write load never got a write acknowledged")
            time.sleep(0.01)
        time.sleep(kill_after)
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait(10)
        writer.wait(60)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait(10)
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait(10)
    acks = _read_acks(ack_log)
    db_bytes = sqlite_bytes(data_dir / "kubelite.db")
    t0 = time.monotonic()
    srv = start_server(data_dir, port, kubelite=kubelite)
    restart_s = time.monotonic() - t0
    try:
        lost, undeleted, stale, objects = verify(srv.url, acks)
    finally:
        stop_server(srv)
    undecodable, integrity, body_bytes = check_database(data_dir / "kubelite.db")
    writes = sum(1 for a in acks if a["op"] in ("create", "patch", "delete"))
    return Result(iteration, len(acks), round(kill_after, 3), objects, lost, undeleted, stale, undecodable,
                  integrity, writes, round(start_s, 3), round(restart_s, 3), db_bytes, body_bytes)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--writer"]:
        return writer_main(argv[1:])
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="short run: 3 iterations")
    p.add_argument("--iterations", type=int, default=None, help="default 20 (3 with --quick)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--keep", action="store_true", help="keep the data directory")
    p.add_argument("--kubelite", default="", help="command that runs kubelite (before 'apiserver')")
    a = p.parse_args(argv)
    iterations = a.iterations or (3 if a.quick else 20)
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    kubelite = a.kubelite.split() if a.kubelite else None
    d = Path(tempfile.mkdtemp(prefix="kubelite-crash-"))
    log(f"seed {seed}, data in {d}")
    results: list[Result] = []
    error = ""  # an iteration that could not run (e.g. the server did not start): a failure, not a number
    try:
        for i in range(iterations):
            try:
                res = run_iteration(d, i, rng=rng, kubelite=kubelite)
            except Exception as e:  # reported below as a failed run, then the loop stops
                error = f"iteration {i}: {type(e).__name__}: {str(e)[-500:]}"
                log(f"FAILED {error}")
                break
            results.append(res)
            log(json.dumps({**asdict(res), "ok": res.ok}))
    finally:
        if not a.keep:
            import shutil

            shutil.rmtree(d, ignore_errors=True)
    failed = sum(not r.ok for r in results) + bool(error)
    log(f"{len(results) - failed + bool(error)}/{iterations} iterations lost nothing")
    wrong = sum(len(r.lost) + len(r.undeleted) + len(r.stale_patches) for r in results)
    counts: dict[str, Any] = {"iterations_completed": len(results), "failed_iterations": failed, "seed": seed}
    if error:
        counts["error"] = error
    figure(f"acknowledged writes lost after kill -9 ({iterations} iterations; baseline: writes acknowledged)",
           wrong if results else None, "writes", sum(r.writes_acked for r in results),
           target="== 0, every object decodes, integrity ok", met=failed == 0, **counts)
    figure("restart after kill -9 until ready, median (baseline: clean start on the same directory)",
           statistics.median(r.restart_s for r in results) if results else None, "s",
           statistics.median(r.start_s for r in results) if results else None)
    last = results[-1] if results else None
    figure("SQLite db + WAL as the last kill left them (baseline: JSON bytes of the objects stored)",
           last.db_bytes_at_kill / MIB if last else None, "MiB", last.body_bytes / MIB if last else None,
           objects=last.objects if last else None)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
