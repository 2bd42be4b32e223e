"""The shared vocabulary at the bottom floor (apimachinery): objects, timestamps, quantities, Pods, Events,
the allocation ledger's refusals, and the stop-on-signal loop every process runs."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

import httpx
import pytest

from apimachinery import events, ledger, pods, quantity, timestamps
from apimachinery.objects import as_list, as_map, int_or, meta_of
from controllers.ipam import IpamController
from controllers.runtime.signals import run_until_stopped, stop_signals
from kubeclient.client import Client
from kubeclient.kctl.quantity import parse_quantity
from tests.conftest import ApiServerProcess


def test_accessors_read_an_ill_typed_field_as_absent() -> None:
    obj = {"metadata": ["not", "a", "map"], "spec": {"replicas": True, "ports": {"a": 1}, "n": 3}}
    assert meta_of(obj) == {} and as_map(obj["spec"]) is obj["spec"]
    assert as_list(obj["spec"]["ports"]) == [] and as_list([1]) == [1]
    assert (int_or(obj["spec"]["replicas"], 7), int_or(obj["spec"]["n"]), int_or("3")) == (7, 3, 0)


def test_time_text_kube_apiserver_writes_and_any_reader_reads() -> None:
    t = datetime(2024, 5, 1, 12, 0, 3, 120000, tzinfo=timezone(timedelta(hours=2)))
    assert timestamps.format_time(t) == "2024-05-01T10:00:03Z"
    assert timestamps.format_micro_time(t) == "2024-05-01T10:00:03.120000Z"
    assert timestamps.format_rfc3339_nano(t) == "2024-05-01T10:00:03.12Z"
    assert timestamps.format_nano_time(t) == "2024-05-01T10:00:03.120000000Z"
    want = datetime(2024, 5, 1, 10, 0, 3, 123456, tzinfo=UTC)
    for text in ("2024-05-01T10:00:03.123456789Z", "2024-05-01T12:00:03.123456+02:00", "2024-05-01T10:00:03.123456"):
        assert timestamps.parse_time(text) == want, text
    for junk in ("", "yesterday", None, 17, "2024-13-01T00:00:00Z"):
        assert timestamps.parse_time(junk) is None
    assert timestamps.parse_time(timestamps.format_time(t)) == t.replace(microsecond=0)


@pytest.mark.parametrize(("text", "value", "fmt"), [
    ("100m", Fraction(1, 10), "DecimalSI"), ("1Gi", Fraction(2**30), "BinarySI"),
    ("2e3", Fraction(2000), "DecimalExponent"), ("0.0000000001", Fraction(1, 10**9), "DecimalSI"),
    ("-1.5k", Fraction(-1500), "DecimalSI"),
])
def test_one_quantity_parser_for_schemas_readers_and_kctl(text: str, value: Fraction, fmt: str) -> None:
    assert quantity.parse(text) == (value, fmt)
    assert quantity.value_of(text) == value
    assert parse_quantity(text).value == Decimal(value.numerator) / Decimal(value.denominator)
    assert str(parse_quantity(text)) == quantity.canonical(text)


def test_quantity_readers_skip_malformed_values_and_kctl_says_go_s_words() -> None:
    assert [quantity.value_of(v) for v in ("1.2.3", "5Qi", True, None, 2, 0.5)] == [
        None, None, None, None, Fraction(2), Fraction(1, 2)]
    with pytest.raises(quantity.QuantityError, match=r"quantities must match the regular expression"):
        parse_quantity("1.2.3")


def _pod(*containers: dict[str, dict[str, str]], qos: str | None = None) -> dict[str, object]:
    return {"spec": {"containers": [{"name": f"c{i}", "resources": r} for i, r in enumerate(containers)]},
            "status": {"qosClass": qos} if qos else {}}


def test_qos_compares_amounts_not_spellings() -> None:
    same = {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1000m", "memory": "1024Mi"}}
    assert pods.pod_qos(_pod(same)) == "Guaranteed"
    assert pods.pod_qos(_pod({"requests": {"cpu": "100m"}})) == "Burstable"
    assert pods.pod_qos(_pod({}, {"limits": {"cpu": "0"}})) == "BestEffort"
    assert pods.pod_qos(_pod(same, {"limits": {"cpu": "1"}})) == "Burstable"
    assert pods.pod_qos(_pod({}, qos="Guaranteed")) == "Guaranteed"  # the kubelet's word wins


def test_pod_ready_is_the_first_ready_condition() -> None:
    pod = {"status": {"conditions": [{"type": "PodScheduled", "status": "True"},
                                     {"type": "Ready", "status": "False"}, {"type": "Ready", "status": "True"}]}}
    assert not pods.is_pod_ready(pod) and pods.ready_condition(pod) == {"type": "Ready", "status": "False"}
    assert pods.is_pod_ready({"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    assert not pods.is_pod_ready({"status": {"conditions": "Ready"}})


@pytest.mark.parametrize(("status", "terminal"), [
    ({"phase": "Succeeded"}, True), ({"phase": "Failed"}, True), ({"phase": "Running"}, False),
    ({"phase": "Pending"}, False), ({}, False), ("Failed", False),
])
def test_pod_terminal_is_succeeded_or_failed(status: object, terminal: bool) -> None:
    assert pods.is_pod_terminal({"status": status}) is terminal


def test_event_shape_and_the_bounded_fold() -> None:
    ns_obj = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "uid": "u"}}
    ref = events.object_reference(ns_obj)
    assert ref == {"kind": "Node", "name": "n1", "uid": "u", "apiVersion": "v1"}
    ev = events.event_object(ref, type_=events.WARNING, reason="R", message="m", component="ipam", host="h",
                             now="2025-01-01T00:00:00Z", name="n1.1", reporting_instance="h")
    assert (ev["metadata"]["namespace"], ev["reportingInstance"], ev["source"]) == (
        "default", "h", {"component": "ipam", "host": "h"})
    seen: events.Seen[int] = events.Seen(size=2)
    keys = [events.correlation_key(ref, type_="Normal", reason=r, message="m", component="c") for r in "abc"]
    for i, k in enumerate(keys):
        seen.remember(k, i)
    assert [seen.get(k) for k in keys] == [None, 1, 2]


def _service(name: str, **spec: object) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"ports": [{"port": 80}], **spec}}


def test_allocators_read_the_servers_refusals_as_typed_reasons(api: httpx.Client, ns: str) -> None:
    r = api.post(f"/api/v1/namespaces/{ns}/services", json=_service("first", clusterIP="10.96.7.7"))
    assert r.status_code == 201, r.text
    r = api.post(f"/api/v1/namespaces/{ns}/services", json=_service("second", clusterIP="10.96.7.7"))
    assert r.status_code == 422, r.text
    got = ledger.refusals(r.json()["details"]["causes"])
    assert got == [ledger.Refusal("spec.clusterIPs", ledger.Reason.ALLOCATED)] and got[0].ip and not got[0].port
    r = api.post(f"/api/v1/namespaces/{ns}/services",
                 json=_service("third", type="NodePort", ports=[{"port": 80, "nodePort": 80}]))
    assert r.status_code == 422, r.text
    got = ledger.refusals(r.json()["details"]["causes"])
    assert got == [ledger.Refusal("spec.ports[0].nodePort", ledger.Reason.OUT_OF_RANGE)] and got[0].port


def test_a_validation_error_on_a_ledger_field_is_no_refusal() -> None:
    causes = [{"reason": "FieldValueInvalid", "field": "spec.clusterIPs", "message": "Invalid value: \"x\": must be "
               "a valid IP address"}, {"reason": "FieldValueRequired", "field": "spec.ports[0].nodePort",
                                       "message": "Required value"}]
    assert ledger.refusals(causes) == []


async def test_sigterm_stops_the_main_task_after_the_last_words() -> None:
    order: list[str] = []

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            order.append("main cancelled")

    async def last_words() -> None:
        order.append("before cancel")

    with stop_signals() as stop:
        asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), signal.SIGTERM)
        exc = await run_until_stopped(forever(), stop, name="t:main", label="t", log=logging.getLogger("t"),
                                      before_cancel=last_words)
    assert (exc, order) == (None, ["before cancel", "main cancelled"])
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the handler is gone with the block


async def test_a_failing_main_task_reports_its_error() -> None:
    async def broken() -> None:
        raise RuntimeError("no API server")

    with stop_signals() as stop:
        exc = await run_until_stopped(broken(), stop, name="t:main", label="t", log=logging.getLogger("t"))
    assert isinstance(exc, RuntimeError) and str(exc) == "no API server"


async def test_an_allocator_claim_the_ledger_refuses_is_remembered_and_the_next_one_holds(
        apiserver: ApiServerProcess, api: httpx.Client, ns: str) -> None:
    assert api.post(f"/api/v1/namespaces/{ns}/services",
                    json=_service("holder", clusterIP="10.96.9.9")).status_code == 201
    r = api.post(f"/api/v1/namespaces/{ns}/services", json=_service("waiter"))
    assert r.status_code == 201, r.text
    svc = r.json()
    async with Client(apiserver.url) as client:
        ctl = IpamController(client)
        key = f"{ns}/waiter"
        expect = {"/spec/clusterIP": svc["spec"].get("clusterIP"), "/spec/clusterIPs": svc["spec"].get("clusterIPs")}
        taken = await ctl.claim(key, svc, chosen=["10.96.9.9"], expect=expect,
                                set_={"/spec/clusterIP": "10.96.9.9", "/spec/clusterIPs": ["10.96.9.9"]})
        assert taken is None and ctl.refused("10.96.9.9") and not ctl.inflight
        held = await ctl.claim(key, svc, chosen=["10.96.9.10"], expect=expect,
                               set_={"/spec/clusterIP": "10.96.9.10", "/spec/clusterIPs": ["10.96.9.10"]})
        assert held is not None and held["spec"]["clusterIPs"] == ["10.96.9.10"]
        assert ctl.written[key] == held["metadata"]["resourceVersion"]
    ipaddress = api.get("/apis/networking.k8s.io/v1/ipaddresses/10.96.9.10").json()
    assert ipaddress["spec"]["parentRef"] == ledger.parent_ref(ns, "waiter")
