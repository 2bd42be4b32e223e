"""The live console in a real headless Chromium: a real API server, the ipam, endpoints, replicaset and
deployment controllers, a node agent and ``kubelite console`` as separate processes on free loopback
ports, always stopped.

What a user sees is checked: the-bus linked to triskelion; a relabel makes the link go and the missing
label marked; hello-deploy's Pods grouped under Deployment -> ReplicaSet, and 5 once scaled to 5; search
and object pages; a stopped endpoints controller reported from its Lease; an annotation holding markup
shown as text; no write route and no extra watch per tab. Waits are for conditions with generous
timeouts, never for a fixed time.

``KUBELITE_CONSOLE_SCREENSHOT=1`` saves docs/console.png (the README's picture); otherwise the tests
write nothing outside their temp dir.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests import needs
from tests.conftest import ApiServerProcess, free_port, start_apiserver

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
XSS = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>window.__pwned = 1</script>"
LEADER_FLAGS = ["--leader-elect-lease-duration", "3s", "--leader-elect-renew-deadline", "2s",
                "--leader-elect-retry-period", "0.5s"]


def wait_for(cond: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


@dataclass
class Proc:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@dataclass
class Cluster:
    api: ApiServerProcess
    dir: Path
    console_url: str = ""
    procs: dict[str, Proc] = field(default_factory=dict)

    def spawn(self, name: str, args: list[str], *, health_port: int) -> Proc:
        log = self.dir / f"{name}.log"
        proc = subprocess.Popen([sys.executable, "-m", "kubelite.cli", *args, "--server", self.api.url],
                                stdout=log.open("ab"), stderr=subprocess.STDOUT)
        p = self.procs[name] = Proc(name, proc, log)

        def healthy() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                return httpx.get(f"http://127.0.0.1:{health_port}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, 60, f"{name} to serve /healthz")
        return p

    def apply(self, docs: list[dict[str, Any]]) -> None:
        """Create each object through the API, as ``kubectl create`` would."""
        with httpx.Client(base_url=self.api.url, timeout=10) as c:
            for d in docs:
                plural = {"Namespace": "namespaces", "Service": "services", "Pod": "pods",
                          "Deployment": "deployments"}[d["kind"]]
                ns = d["metadata"].get("namespace")
                base = "/apis/apps/v1" if d["apiVersion"] == "apps/v1" else "/api/v1"
                path = f"{base}/namespaces/{ns}/{plural}" if ns else f"{base}/{plural}"
                r = c.post(path, json=d)
                assert r.status_code == 201, r.text

    def stop(self) -> None:
        for p in reversed(list(self.procs.values())):
            p.stop()
        self.api.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    needs.browser()
    d = tmp_path_factory.mktemp("console")
    c = Cluster(start_apiserver(d / "api"), d)
    try:
        for name in ("ipam", "endpoints", "replicaset", "deployment"):
            mp = free_port()
            c.spawn(name, ["controller", name, "--metrics-port", str(mp), *LEADER_FLAGS], health_port=mp)
        mp = free_port()
        c.spawn("node-1", ["node", "--name", "node-1", "--pod-cidr", "10.85.1.0/24", "--node-ip", "127.0.0.2",
                           "--metrics-port", str(mp), *LEADER_FLAGS], health_port=mp)
        port = free_port()
        c.spawn("console", ["console", "--port", str(port), "--log-level", "warning"], health_port=port)
        c.console_url = f"http://127.0.0.1:{port}"
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def browser(cluster: Cluster) -> Iterator[Any]:
    """Headless Chromium through the system's chromedriver (Selenium downloads nothing)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = needs.browser()
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900", f"--user-data-dir={cluster.dir / 'chromium-profile'}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver, log_output=str(cluster.dir / "driver.log")),
                              options=opts)
    try:
        yield driver
    finally:
        driver.quit()


def until(driver: Any, cond: Callable[[Any], Any], what: str, timeout: float = 30) -> Any:
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, ignored_exceptions=[StaleElementReferenceException]).until(cond)
    except TimeoutException:
        logs = [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; browser errors: {logs}") from None


def css(driver: Any, selector: str) -> list[Any]:
    return list(driver.find_elements("css selector", selector))


def link(driver: Any, frm: str, to: str, kind: str = "selects") -> list[Any]:
    return css(driver, f'#links path.link.{kind}[data-from="{frm}"][data-to="{to}"]')


def texts(driver: Any, selector: str) -> list[str]:
    """The rendered text of every element matching ``selector``, read in one step (the page may redraw a
    card between two WebDriver calls)."""
    return list(driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map((e) => e.innerText.trim())", selector))


def see(driver: Any, selector: str, cond: Callable[[list[str]], bool], what: str) -> list[str]:
    """Wait until the texts of ``selector`` satisfy ``cond``; returns them."""
    last: list[str] = []

    def check(d: Any) -> list[str] | None:
        nonlocal last
        last = texts(d, selector)
        return last if cond(last) else None

    try:
        return list(until(driver, check, what))
    except AssertionError as e:
        raise AssertionError(f"{e}; last seen {selector}: {last!r}") from None


def test_the_bus_links_triskelion_and_a_relabel_marks_the_missing_label(cluster: Cluster, browser: Any) -> None:
    cluster.apply([d for d in yaml.safe_load_all((ROOT / "examples" / "shield-app.yml").read_text()) if d])
    browser.get(cluster.console_url + "/?namespace=shield")
    until(browser, lambda d: link(d, "the-bus", "triskelion") and link(d, "the-bus", "zephyr-one"),
          "arrows from the-bus to both Pods")
    [card] = see(browser, '[data-service="the-bus"]', lambda t: bool(t) and bool(re.search(r"ClusterIP\s*10\.", t[0])),
                 "the ClusterIP the ipam controller set")
    assert "NodePort" in card and "8080 -> 8080 (NodePort 31112)/TCP" in card
    assert "the-bus.shield.svc.cluster.local" in card
    assert texts(browser, '[data-service="the-bus"] .chip.selector') == ["env=marvel"]
    until(browser, lambda d: link(d, "the-bus", "triskelion", "ready"), "triskelion Ready in the endpoints")
    see(browser, '[data-pod="triskelion"] .chip.match', lambda t: t == ["env=marvel"], "triskelion's matching label")
    see(browser, '[data-service="the-bus"] .endpoints', lambda t: bool(t) and "(triskelion) ready" in t[0],
        "triskelion in the-bus's endpoints")

    with httpx.Client(base_url=cluster.api.url, timeout=10) as c:
        r = c.patch("/api/v1/namespaces/shield/pods/triskelion", json={"metadata": {"labels": {"env": "shield"}}},
                    headers={"Content-Type": "application/merge-patch+json"})
        assert r.status_code == 200, r.text

    until(browser, lambda d: not link(d, "the-bus", "triskelion"), "the arrow to triskelion to go")
    see(browser, '[data-pod="triskelion"] .miss-note', lambda t: t == ["the-bus near miss: env=shield, wanted env=marvel"],
        "triskelion's near-miss note")
    see(browser, '[data-pod="triskelion"] .chip.miss', lambda t: t == ["env=shield"], "the different label marked")
    see(browser, '[data-service="the-bus"] .near', lambda t: t == ["triskelion: env=shield, wanted env=marvel"],
        "the-bus's near misses")
    assert link(browser, "the-bus", "triskelion", "near")
    assert link(browser, "the-bus", "zephyr-one")  # the other Pod stays selected
    see(browser, '[data-service="the-bus"] .endpoints', lambda t: bool(t) and "(triskelion)" not in t[0]
        and "(zephyr-one)" in t[0], "triskelion to leave the endpoint list")
    if os.environ.get("KUBELITE_CONSOLE_SCREENSHOT") == "1":
        time.sleep(1)  # let the transitions finish: the picture, not a test condition
        browser.save_screenshot(str(ROOT / "docs" / "console.png"))

    # readiness follows too: the node agent holds zephyr-one not ready, its arrow turns dashed
    with httpx.Client(base_url=cluster.api.url, timeout=10) as c:
        r = c.patch("/api/v1/namespaces/shield/pods/zephyr-one",
                    json={"metadata": {"annotations": {"kubelite.io/ready": "false"}}},
                    headers={"Content-Type": "application/merge-patch+json"})
        assert r.status_code == 200, r.text
    until(browser, lambda d: link(d, "the-bus", "zephyr-one", "notready"), "zephyr-one's arrow not ready")
    see(browser, '[data-service="the-bus"] .endpoints', lambda t: bool(t) and "(zephyr-one) not ready" in t[0],
        "zephyr-one not ready in the endpoints")
    see(browser, '[data-pod="zephyr-one"] .badge.state', lambda t: t == ["Running, not ready"], "zephyr-one's state")


def test_an_annotation_holding_markup_renders_as_text(cluster: Cluster, browser: Any) -> None:
    cluster.apply([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "xss"}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "sly", "namespace": "xss", "annotations": {"note": XSS, "script": SCRIPT}},
         "spec": {"selector": {"app": "sly"}, "ports": [{"port": 80}]}},
    ])
    browser.get(cluster.console_url + "/?namespace=xss")
    def opened(d: Any) -> bool:
        from selenium.common.exceptions import StaleElementReferenceException

        if any(texts(d, '[data-service="sly"] .annotations dd')):
            return True
        with contextlib.suppress(StaleElementReferenceException, IndexError):
            css(d, '[data-service="sly"] details summary')[0].click()
        return False

    until(browser, opened, "the annotations opened")
    see(browser, '[data-service="sly"] .annotations dd', lambda t: t == [XSS, SCRIPT], "the annotations as text")
    assert texts(browser, '[data-service="sly"] .annotations dt') == ["note", "script"]
    assert css(browser, "img") == [] and len(css(browser, "script")) == 1  # the console's own
    assert browser.execute_script("return window.__pwned === undefined")
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018


def test_the_console_writes_nothing_and_serves_loopback_only(cluster: Cluster) -> None:
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert httpx.request(method, cluster.console_url + "/api/map", timeout=5).status_code == 405
    r = httpx.get(cluster.console_url + "/", timeout=5)
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert httpx.get(cluster.console_url + "/", headers={"Host": "evil.example"}, timeout=5).status_code == 400
    out = subprocess.run([sys.executable, "-m", "kubelite.cli", "console", "--bind-address", "0.0.0.0",
                          "--server", cluster.api.url, "--port", str(free_port())],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "refusing to bind 0.0.0.0" in out.stderr


def test_tabs_share_one_watch_per_resource(cluster: Cluster) -> None:
    """Three more browser streams open no watch on the API server: the console's informers serve them all."""
    def watchers() -> dict[str, float]:
        from prometheus_client.parser import text_string_to_metric_families

        text = httpx.get(cluster.api.url + "/metrics", timeout=5).text
        return {s.labels["resource"]: s.value for f in text_string_to_metric_families(text)
                for s in f.samples if s.name == "apiserver_registered_watchers"}

    before = watchers()
    assert before.get("services", 0) >= 1  # the console's own watch, among the controllers'
    with httpx.Client(timeout=10) as c, contextlib.ExitStack() as stack:
        for _ in range(3):
            r = stack.enter_context(c.stream("GET", cluster.console_url + "/api/stream?namespace=shield"))
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            assert next(r.iter_lines()).startswith("data: {")
        assert watchers() == before


def test_a_deployment_grouped_by_owner_and_scaled_to_five(cluster: Cluster, browser: Any) -> None:
    docs = [d for d in yaml.safe_load_all((ROOT / "examples" / "skippy.yml").read_text()) if d]
    for d in docs:
        d["metadata"]["namespace"] = "scale"
    cluster.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "scale"}}, *docs])
    browser.get(cluster.console_url + "/?namespace=scale")

    def pods_under_deployment(n: int) -> Callable[[Any], bool]:
        def check(d: Any) -> bool:
            groups = d.execute_script(
                "return Array.from(document.querySelectorAll('.group')).map((g) => [g.querySelector('.owner')"
                ".innerText, g.querySelectorAll('article[data-pod]').length])")
            return any(t.startswith("Deployment hello-deploy \u2192 ReplicaSet hello-deploy-") and count == n
                       for t, count in groups) and len(css(d, '#links path.link.selects[data-from="skippy"]')) == n
        return check

    until(browser, pods_under_deployment(3), "3 Pods of hello-deploy, each with skippy's arrow", timeout=60)
    with httpx.Client(base_url=cluster.api.url, timeout=10) as c:
        r = c.patch("/apis/apps/v1/namespaces/scale/deployments/hello-deploy", json={"spec": {"replicas": 5}},
                    headers={"Content-Type": "application/merge-patch+json"})
        assert r.status_code == 200, r.text
    until(browser, pods_under_deployment(5), "5 Pods of hello-deploy, each with skippy's arrow", timeout=60)


def test_search_and_object_pages(cluster: Cluster, browser: Any) -> None:
    owned = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "gone-rs", "uid": "0-0", "controller": True}
    container = {"name": "c", "image": "kubelite/echo", "ports": [{"containerPort": 8080}]}
    cluster.apply([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "pages"}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "front", "namespace": "pages"},
         "spec": {"selector": {"tier": "front"}, "ports": [{"port": 80, "targetPort": 8080}]}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "namespace": "pages",
                                                          "labels": {"tier": "front"}},
         "spec": {"containers": [container]}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "orphan", "namespace": "pages",
                                                          "labels": {"tier": "back"}, "ownerReferences": [owned]},
         "spec": {"containers": [container]}},
    ])
    browser.get(cluster.console_url + "/?namespace=pages")
    until(browser, lambda d: link(d, "front", "web-1"), "front's arrow to web-1")
    box = css(browser, "#q")[0]
    box.send_keys("tier in (front,back)\n")
    see(browser, "#results li", lambda t: t == ["Pod pages/orphan", "Pod pages/web-1"], "the selector's hits")
    css(browser, "#q")[0].clear()
    css(browser, "#q")[0].send_keys("tier in (\n")
    see(browser, "#results .note", lambda t: t == ["unable to parse requirement: found '', expected: ',', ')' or identifier"],
        "the selector's parse error")

    def page_with_events(d: Any) -> bool:
        d.get(cluster.console_url + "/?namespace=pages")
        until(d, lambda d: css(d, '[data-pod="web-1"] a.name'), "web-1's link")[0].click()  # the map's link
        until(d, lambda d: "name: web-1" in (texts(d, "#yaml") or [""])[0], "web-1's YAML")
        return "Scheduled" in " ".join(texts(d, "#events"))

    until(browser, page_with_events, "web-1's page with its Scheduled Event", timeout=60)
    assert texts(browser, "#services li") == ["front"]
    assert texts(browser, "#owners") == ["none"]
    browser.get(cluster.console_url + "/object?version=v1&resource=pods&namespace=pages&name=orphan")
    see(browser, "#owners li", lambda t: len(t) == 1 and t[0].startswith("ReplicaSet gone-rs (")
        and "not found" in t[0], "the owner that does not exist")
    browser.get(cluster.console_url + "/object?version=v1&resource=gadgets&namespace=pages&name=x")
    see(browser, '[role="alert"]', lambda t: t == ["the server doesn't have a resource type \"gadgets\" in v1"],
        "the unknown resource")


def test_a_stopped_endpoints_controller_is_reported(cluster: Cluster, browser: Any) -> None:
    browser.get(cluster.console_url + "/?namespace=shield")
    see(browser, '[data-controller="endpoints"]', lambda t: bool(t) and t[0].startswith("endpoints: running"),
        "the endpoints controller shown running")
    cluster.procs["endpoints"].stop()  # it releases its Lease on the way out
    see(browser, '[data-controller="endpoints"].dead',
        lambda t: t == ["endpoints: not running (released (no holder))"], "the endpoints controller reported stopped")
    see(browser, '[data-service="the-bus"] .note',
        lambda t: "endpoints are not being updated: the endpoints controller is not running" in t, "the-bus's note")
    assert texts(browser, '[data-controller="ipam"]')[0].startswith("ipam: running")
