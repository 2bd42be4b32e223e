"""The README's commands, read out of README.md and run as written against a real ``kubelite up``.

Why: the README is a new user's first hour; a command in it that errors, or a
file it names that does not exist, is a bug. Which blocks run is decided by
section: every fenced block of "## Start it" (the ``pip install`` line is
skipped: the test runs in the installed environment and downloads nothing),
and the ``$ ``-prompted blocks of "## kctl walkthrough", whose printed output
must match what kctl prints (IPs, ages and node names are normalized; ``...``
stands for any lines; watches with ``-w`` are not run).

Each test runs in a temporary copy of a fresh clone's ``examples/``, with
HOME in the temp dir (kubectl's cache stays there), ``kubelite up`` on free
ports (the README's ``-p 5353`` becomes the test's DNS port), and stops it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import free_port
from tests.test_up import Up

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"

pytestmark = pytest.mark.skipif(not (shutil.which("kubectl") and shutil.which("dig")),
                                reason="the README's commands need kubectl and dig")


def section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else len(text)]


def blocks(text: str, *, info: str = "") -> list[str]:
    """The fenced code blocks of ``text`` whose info string is ``info`` (untagged by default)."""
    return [m.group(2) for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.M | re.S) if m.group(1) == info]


@dataclass
class Ran:
    command: str
    output: str
    code: int


def run_script(commands: list[str], *, cwd: Path, env: dict[str, str], timeout: float = 240) -> list[Ran]:
    """Run ``commands`` in ONE bash (so ``export`` carries over), each with its output (stderr merged) and code."""
    mark = "@@kubelite-readme@@"
    script = ["exec 2>&1"]
    for i, cmd in enumerate(commands):
        script += [f"echo {mark}start {i}", cmd, f"echo {mark}code {i} $?"]
    out = subprocess.run(["bash", "-c", "\n".join(script)], cwd=cwd, env=env, capture_output=True, text=True,
                         timeout=timeout).stdout
    ran: list[Ran] = []
    for i, cmd in enumerate(commands):
        m = re.search(rf"^{mark}start {i}\n(.*?)^{mark}code {i} (\d+)\n", out, re.M | re.S)
        assert m, f"no result for {cmd!r}:\n{out}"
        ran.append(Ran(cmd, m.group(1), int(m.group(2))))
    return ran


@dataclass
class Clone:
    """A temp dir standing for a fresh clone (its ``examples/``), and the environment the user's shell has."""

    dir: Path
    env: dict[str, str]


@pytest.fixture
def clone(tmp_path: Path) -> Clone:
    d = tmp_path / "clone"
    shutil.copytree(REPO / "examples", d / "examples")
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    env["HOME"] = str(tmp_path / "home")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")  # kubelite, kctl
    return Clone(d, env)


def start_up(line: str, clone: Clone) -> Up:
    """The README's ``kubelite up`` line, on free ports, in the clone (its data dir: ./.kubelite)."""
    argv = shlex.split(line, comments=True)
    if argv[-1:] == ["&"]:
        argv.pop()
    assert argv[:2] == ["kubelite", "up"], line
    port, dns_port = free_port(), free_port()
    return Up(clone.dir / ".kubelite", port, dns_port, argv=argv,
              extra=("--port", str(port), "--dns-port", str(dns_port), "--console-port", str(free_port())),
              cwd=clone.dir, env=clone.env)


@pytest.fixture
def stoppers() -> Iterator[list[Up]]:
    ups: list[Up] = []
    try:
        yield ups
    finally:
        for u in ups:
            u.stop()


def test_every_file_the_readme_names_ships_and_its_yaml_is_the_file() -> None:
    text = README.read_text()
    named = set(re.findall(r"examples/[\w./-]+\.ya?ml", text))
    assert named >= {"examples/shield-app.yml", "examples/skippy.yml"}
    for path in named:
        assert (REPO / path).is_file(), path
    shown = blocks(section("kctl walkthrough"), info="yaml")
    assert len(shown) == 1
    on_disk = list(yaml.safe_load_all((REPO / "examples/shield-app.yml").read_text()))
    assert list(yaml.safe_load_all(shown[0])) == on_disk
    assert not re.search(r"(?<!examples/)shield-app\.yml", text), "every shield-app.yml in the README has its path"


def test_start_it_commands_work_as_written(clone: Clone, stoppers: list[Up]) -> None:
    start, use, deploy = blocks(section("Start it"))
    install, up_line = start.strip().splitlines()
    assert install.startswith("pip install")
    up = start_up(up_line, clone)
    stoppers.append(up)
    up.wait_ready()
    assert "-p 5353" in use
    commands = [c for c in (use.replace("-p 5353", f"-p {up.dns_port}") + deploy).splitlines() if c.strip()]
    ran = run_script(commands, cwd=clone.dir, env=clone.env)
    for r in ran:
        assert r.code == 0, f"README command failed: {r.command}\n{r.output}"

    def output_of(prefix: str) -> str:
        return next(r.output for r in ran if r.command.startswith(prefix))

    shown = output_of("kubectl get svc,endpoints")
    svc = re.search(r"^service/the-bus\s+NodePort\s+(\S+)\s", shown, re.M)
    assert svc and re.fullmatch(r"10\.\d+\.\d+\.\d+", svc.group(1)), shown
    eps = re.search(r"^endpoints/the-bus\s+(\S+)\s", shown, re.M)
    assert eps, shown
    pods = httpx.get(f"{up.url}/api/v1/namespaces/shield/pods", timeout=5).json()["items"]
    assert sorted(eps.group(1).split(",")) == sorted(f"{p['status']['podIP']}:8080" for p in pods)
    assert output_of("dig").split() == [svc.group(1)]  # the ClusterIP is data here: never dialled
    deployed = output_of("kubectl get deployment hello-deploy")
    assert re.search(r"^hello-deploy\s+3/3\s+3\s+3\s", deployed, re.M), deployed


WATCH = re.compile(r"\s-w(\s|$)")


def expected_runs(section_text: str) -> list[tuple[str, list[str]]]:
    """The ``$ `` commands of a section's blocks with the lines shown after each (watches left out)."""
    out: list[tuple[str, list[str]]] = []
    for block in blocks(section_text):
        if not block.startswith("$ "):
            continue
        for line in block.splitlines():
            if line.startswith("$ "):
                out.append((line[2:], []))
            else:
                out[-1][1].append(line)
    return [(cmd, lines) for cmd, lines in out if not WATCH.search(cmd)]


def normalize(line: str) -> str:
    """Values that differ between runs: IPs, ages, which node; column widths follow them."""
    line = re.sub(r"\d+\.\d+\.\d+\.\d+", "IP", line)
    line = re.sub(r"\bnode-\d+\b", "node-N", line)
    line = re.sub(r"(?<!\S)(\d+[smhd])+(?!\S)", "AGE", line)
    return " ".join(line.split())


def matches(shown: list[str], printed: str) -> bool:
    """``printed`` is what the README shows, ``...`` standing for any lines."""
    pattern = "".join(r"(?:.*\n)*?" if line.strip() == "..." else re.escape(normalize(line)) + r"\n"
                      for line in shown)
    actual = "".join(normalize(line) + "\n" for line in printed.splitlines())
    return re.fullmatch(pattern, actual) is not None


def test_kctl_walkthrough_prints_what_the_readme_shows(clone: Clone, stoppers: list[Up]) -> None:
    text = section("kctl walkthrough")
    setup = blocks(text)[0].strip().splitlines()
    up_line, export = setup
    up = start_up(up_line, clone)
    stoppers.append(up)
    up.wait_ready()
    runs = expected_runs(text)
    assert len(runs) >= 10
    ran = run_script([export, *(cmd for cmd, _ in runs)], cwd=clone.dir, env=clone.env)
    assert ran[0].code == 0, ran[0].output
    for (cmd, shown), r in zip(runs, ran[1:], strict=True):
        assert matches(shown, r.output), f"$ {cmd}\nREADME shows:\n" + "\n".join(shown) + f"\nkctl printed:\n{r.output}"


def test_kctl_version_without_a_server_prints_the_client_version_first(clone: Clone) -> None:
    """As the README's Commands section says: the client line, then kubectl's connection error, exit code 1."""
    r = subprocess.run(["kctl", "-s", f"http://127.0.0.1:{free_port()}", "version"], capture_output=True, text=True,
                       env=clone.env, timeout=30)
    assert r.returncode == 1
    assert re.fullmatch(r"Client Version: v\S+ \(kctl\)\n", r.stdout), r.stdout
    assert "was refused - did you specify the right host or port?" in r.stderr
