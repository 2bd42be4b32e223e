"""``describe`` pages, line for line like k8s.io/kubectl/pkg/describe/describe.go (v1.32).

Why: people read describe output and diff it against what they know; the
Service page (selector, IPs, ports, NodePort, endpoints from EndpointSlices,
events) and the Pod page (node, IP, containers, conditions, tolerations) are
written with the same format strings, the same ``<none>``/``<unset>``
placeholders and the same tabwriter (minwidth 0, padding 2) as kubectl's.
Other kinds get kubectl's generic describer (every field, camel-case split).

Invariant: functions here are pure: objects (and the lists the command
fetched) in, text out; ``now`` is passed in so tests are deterministic.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from apimachinery.kinds.printing import dig, since
from apimachinery.labels import ANNOTATION_LAST_APPLIED
from apimachinery.pods import pod_qos
from apimachinery.timestamps import parse_time
from kubeclient.kctl.quantity import ZERO, Quantity, parse_quantity
from kubeclient.kctl.tabwriter import tabbed

MAX_ANNOTATION_LEN = 140


def rfc1123z(value: Any) -> str:
    """Go's time.RFC1123Z in the local zone, as kubectl prints timestamps."""
    t = parse_time(value)
    if t is None:
        return ""
    return t.astimezone().strftime("%a, %d %b %Y %H:%M:%S %z")


class Page:
    """describe's PrefixWriter: two spaces per level, text aligned by ``tabbed`` at the end."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def w(self, level: int, text: str) -> None:
        self.parts.append("  " * level + text)

    def line(self, text: str) -> None:
        self.parts.append(text + "\n")

    def text(self) -> str:
        return tabbed("".join(self.parts))


def labels_multiline(p: Page, title: str, labels: Mapping[str, str] | None, *, indent: str = "") -> None:
    p.w(0, f"{indent}{title}:\t")
    if not labels:
        p.line("<none>")
        return
    for i, key in enumerate(sorted(labels)):
        if i:
            p.w(0, f"{indent}\t")
        p.w(0, f"{key}={labels[key]}\n")


def annotations_multiline(p: Page, title: str, annotations: Mapping[str, str] | None) -> None:
    p.w(0, f"{title}:\t")
    keys = sorted(k for k in (annotations or {}) if k != ANNOTATION_LAST_APPLIED)
    if not keys:
        p.line("<none>")
        return
    assert annotations is not None
    for i, key in enumerate(keys):
        if i:
            p.w(0, "\t")
        value = annotations[key].removesuffix("\n")
        if len(value) + len(key) + 2 > MAX_ANNOTATION_LEN or "\n" in value:
            p.w(0, f"{key}:\n")
            for s in value.split("\n"):
                cut = s if len(s) <= MAX_ANNOTATION_LEN - 2 else s[:MAX_ANNOTATION_LEN - 2] + "..."
                p.w(0, f"\t  {cut}\n")
        else:
            p.w(0, f"{key}: {value}\n")


def tolerations_multiline(p: Page, title: str, tolerations: list[dict[str, Any]] | None) -> None:
    p.w(0, f"{title}:\t")
    if not tolerations:
        p.line("<none>")
        return
    for i, t in enumerate(sorted(tolerations, key=lambda t: str(t.get("key") or ""))):
        if i:
            p.w(0, "\t")
        s = str(t.get("key") or "")
        if t.get("value"):
            s += f"={t['value']}"
        if t.get("effect"):
            s += f":{t['effect']}"
        if t.get("operator") == "Exists" and not t.get("value"):
            s += " op=Exists" if (t.get("key") or t.get("effect")) else "op=Exists"
        if t.get("tolerationSeconds") is not None:
            s += f" for {t['tolerationSeconds']}s"
        p.w(0, s + "\n")


def _event_time(e: Mapping[str, Any]) -> str:
    series = e.get("series")
    if series and series.get("lastObservedTime"):
        return str(series["lastObservedTime"])
    return str(e.get("lastTimestamp") or e.get("eventTime") or "")


def describe_events(p: Page, events: list[dict[str, Any]] | None, now: datetime) -> None:
    """DescribeEvents: ``Events: <none>`` or a Type/Reason/Age/From/Message table, oldest first."""
    if not events:
        p.w(0, "Events:\t<none>\n")
        return
    p.w(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n")
    p.w(1, "----\t------\t----\t----\t-------\n")
    for e in sorted(events, key=lambda e: parse_time(_event_time(e)) or datetime.min.replace(tzinfo=UTC)):
        first = since(e.get("eventTime"), now) if e.get("eventTime") else since(e.get("firstTimestamp"), now)
        series = e.get("series")
        if series:
            interval = f"{since(series.get('lastObservedTime'), now)} (x{series.get('count', 0)} over {first})"
        elif int(e.get("count") or 0) > 1:
            interval = f"{since(e.get('lastTimestamp'), now)} (x{e['count']} over {first})"
        else:
            interval = first
        source = dig(e, "source", "component") or e.get("reportingComponent") or ""
        message = str(e.get("message") or "").strip()
        if dig(e, "involvedObject", "fieldPath"):
            message = f"{e['involvedObject']['fieldPath']}: {message}"
        p.w(1, f"{e.get('type', '')}\t{e.get('reason', '')}\t{interval}\t{source}\t{message}\n")


def _join_host_port(host: str, port: Any) -> str:
    try:
        if ipaddress.ip_address(host).version == 6:
            return f"[{host}]:{port}"
    except ValueError:
        if ":" in host:
            return f"[{host}]:{port}"
    return f"{host}:{port}"


def format_endpoint_slices(slices: list[dict[str, Any]], port_name: str | None) -> str:
    """formatEndpointSlices: ready endpoints as ``ip:port``, at most 3 then `` + N more...``."""
    if not slices:
        return "<none>"
    out: list[str] = []
    limit, more, count = 3, False, 0
    for sl in slices:
        ports = sl.get("ports") or []
        endpoints = sl.get("endpoints") or []
        if not ports:
            for ep in endpoints:
                if len(out) == limit:
                    more = True
                if dig(ep, "conditions", "ready") is False:
                    continue
                if not more:
                    out.append(str((ep.get("addresses") or [""])[0]))
                count += 1
            continue
        for port in ports:
            if port_name is not None and (port.get("name") or "") != port_name:
                continue
            for ep in endpoints:
                if len(out) == limit:
                    more = True
                if dig(ep, "conditions", "ready") is False:
                    continue
                if not more:
                    out.append(_join_host_port(str((ep.get("addresses") or [""])[0]), port.get("port")))
                count += 1
    ret = ",".join(out)
    return f"{ret} + {count - limit} more..." if more else ret


def describe_service(svc: dict[str, Any], slices: list[dict[str, Any]], events: list[dict[str, Any]] | None,
                     now: datetime) -> str:
    meta = svc.get("metadata") or {}
    spec = svc.get("spec") or {}
    p = Page()
    p.w(0, f"Name:\t{meta.get('name', '')}\n")
    p.w(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    labels_multiline(p, "Labels", meta.get("labels"))
    annotations_multiline(p, "Annotations", meta.get("annotations"))
    selector = spec.get("selector") or {}
    p.w(0, "Selector:\t" + (",".join(f"{k}={selector[k]}" for k in sorted(selector)) or "<none>") + "\n")
    p.w(0, f"Type:\t{spec.get('type', '')}\n")
    if spec.get("ipFamilyPolicy") is not None:
        p.w(0, f"IP Family Policy:\t{spec['ipFamilyPolicy']}\n")
    families = spec.get("ipFamilies") or []
    p.w(0, f"IP Families:\t{','.join(families) if families else '<none>'}\n")
    p.w(0, f"IP:\t{spec.get('clusterIP') or ''}\n")
    ips = spec.get("clusterIPs") or []
    p.w(0, f"IPs:\t{','.join(ips) if ips else '<none>'}\n")
    if spec.get("externalIPs"):
        p.w(0, f"External IPs:\t{','.join(spec['externalIPs'])}\n")
    if spec.get("loadBalancerIP"):
        p.w(0, f"Desired LoadBalancer IP:\t{spec['loadBalancerIP']}\n")
    if spec.get("externalName"):
        p.w(0, f"External Name:\t{spec['externalName']}\n")
    ingress = dig(svc, "status", "loadBalancer", "ingress") or []
    if ingress:
        parts = []
        for ing in ingress:
            if ing.get("ip"):
                parts.append(ing["ip"] + (f" ({ing['ipMode']})" if ing.get("ipMode") else ""))
            else:
                parts.append(str(ing.get("hostname") or ""))
        p.w(0, f"LoadBalancer Ingress:\t{', '.join(parts)}\n")
    for sp in spec.get("ports") or []:
        name = sp.get("name") or "<unset>"
        proto = sp.get("protocol") or ""
        p.w(0, f"Port:\t{name}\t{sp.get('port')}/{proto}\n")
        target = sp.get("targetPort")
        p.w(0, f"TargetPort:\t{target if target is not None else 0}/{proto}\n")
        if sp.get("appProtocol") is not None:
            p.w(0, f"AppProtocol:\t{sp['appProtocol']}\n")
        if sp.get("nodePort"):
            p.w(0, f"NodePort:\t{name}\t{sp['nodePort']}/{proto}\n")
        p.w(0, f"Endpoints:\t{format_endpoint_slices(slices, sp.get('name') or '')}\n")
    p.w(0, f"Session Affinity:\t{spec.get('sessionAffinity', '')}\n")
    if spec.get("externalTrafficPolicy"):
        p.w(0, f"External Traffic Policy:\t{spec['externalTrafficPolicy']}\n")
    if spec.get("internalTrafficPolicy") is not None:
        p.w(0, f"Internal Traffic Policy:\t{spec['internalTrafficPolicy']}\n")
    if spec.get("healthCheckNodePort"):
        p.w(0, f"HealthCheck NodePort:\t{spec['healthCheckNodePort']}\n")
    if spec.get("loadBalancerSourceRanges"):
        p.w(0, f"LoadBalancer Source Ranges:\t{','.join(spec['loadBalancerSourceRanges'])}\n")
    if spec.get("trafficDistribution") is not None:
        p.w(0, f"Traffic Distribution:\t{spec['trafficDistribution']}\n")
    describe_events(p, events, now)
    return p.text()


def _container_ports(ports: list[dict[str, Any]], key: str) -> str:
    out = []
    for cp in ports:
        s = f"{cp.get(key, 0)}/{cp.get('protocol', '')}"
        if cp.get("name"):
            s += f" ({cp['name']})"
        out.append(s)
    return ", ".join(out)


def _container_state(p: Page, title: str, state: Mapping[str, Any]) -> None:
    if state.get("running") is not None:
        p.w(2, f"{title}:\tRunning\n")
        p.w(3, f"Started:\t{rfc1123z(state['running'].get('startedAt'))}\n")
    elif state.get("waiting") is not None:
        p.w(2, f"{title}:\tWaiting\n")
        if state["waiting"].get("reason"):
            p.w(3, f"Reason:\t{state['waiting']['reason']}\n")
    elif state.get("terminated") is not None:
        t = state["terminated"]
        p.w(2, f"{title}:\tTerminated\n")
        if t.get("reason"):
            p.w(3, f"Reason:\t{t['reason']}\n")
        if t.get("message"):
            p.w(3, f"Message:\t{t['message']}\n")
        p.w(3, f"Exit Code:\t{t.get('exitCode', 0)}\n")
        if int(t.get("signal") or 0) > 0:
            p.w(3, f"Signal:\t{t['signal']}\n")
        p.w(3, f"Started:\t{rfc1123z(t.get('startedAt'))}\n")
        p.w(3, f"Finished:\t{rfc1123z(t.get('finishedAt'))}\n")
    else:
        p.w(2, f"{title}:\tWaiting\n")


def _describe_containers(p: Page, label: str, containers: list[dict[str, Any]],
                         statuses: list[dict[str, Any]], *, space: str = "") -> None:
    """describeContainers; ``space`` prefixes the block's title (and one space the names), as for templates."""
    by_name = {s.get("name"): s for s in statuses}
    p.w(0, f"{space}{label}:{' <none>' if not containers else ''}\n")
    for c in containers:
        st = by_name.get(c.get("name"))
        p.w(1, f"{' ' if space else ''}{c.get('name', '')}:\n")
        if st is not None:
            p.w(2, f"Container ID:\t{st.get('containerID', '')}\n")
        p.w(2, f"Image:\t{c.get('image', '')}\n")
        if st is not None:
            p.w(2, f"Image ID:\t{st.get('imageID', '')}\n")
        ports = c.get("ports") or []
        ps = _container_ports(ports, "containerPort")
        p.w(2, f"Ports:\t{ps}\n" if "," in ps else f"Port:\t{ps or '<none>'}\n")
        hps = _container_ports(ports, "hostPort")
        p.w(2, f"Host Ports:\t{hps}\n" if "," in hps else f"Host Port:\t{hps or '<none>'}\n")
        for key, title in (("command", "Command"), ("args", "Args")):
            if c.get(key):
                p.w(2, f"{title}:\n")
                for item in c[key]:
                    for s in str(item).split("\n"):
                        p.w(3, f"{s}\n")
        if st is not None:
            _container_state(p, "State", st.get("state") or {})
            if dig(st, "lastState", "terminated") is not None:
                _container_state(p, "Last State", st["lastState"])
            p.w(2, f"Ready:\t{'True' if st.get('ready') else 'False'}\n")
            p.w(2, f"Restart Count:\t{st.get('restartCount', 0)}\n")
        for kind, title in (("limits", "Limits"), ("requests", "Requests")):
            res = dig(c, "resources", kind) or {}
            if res:
                p.w(2, f"{title}:\n")
                for name in sorted(res):
                    p.w(3, f"{name}:\t{res[name]}\n")
        env = c.get("env") or []
        p.w(2, "Environment:" + ("\t<none>" if not env else "") + "\n")
        for e in env:
            if e.get("valueFrom") is None:
                for i, s in enumerate(str(e.get("value", "")).split("\n")):
                    p.w(3, f"{e.get('name')}:\t{s}\n" if i == 0 else f"\t{s}\n")
            else:
                vf = e["valueFrom"]
                if vf.get("fieldRef"):
                    p.w(3, f"{e.get('name')}:\t ({vf['fieldRef'].get('apiVersion', '')}:"
                           f"{vf['fieldRef'].get('fieldPath', '')})\n")
                elif vf.get("secretKeyRef"):
                    r = vf["secretKeyRef"]
                    p.w(3, f"{e.get('name')}:\t<set to the key '{r.get('key')}' in secret '{r.get('name')}'>\t"
                           f"Optional: {'true' if r.get('optional') else 'false'}\n")
                elif vf.get("configMapKeyRef"):
                    r = vf["configMapKeyRef"]
                    p.w(3, f"{e.get('name')}:\t<set to the key '{r.get('key')}' of config map '{r.get('name')}'>"
                           f"\tOptional: {'true' if r.get('optional') else 'false'}\n")
        mounts = c.get("volumeMounts") or []
        p.w(2, "Mounts:" + ("\t<none>" if not mounts else "") + "\n")
        for m in sorted(mounts, key=lambda m: str(m.get("mountPath") or "")):
            flags = ["ro" if m.get("readOnly") else "rw"]
            if m.get("subPath"):
                flags.append(f'path="{m["subPath"]}"')
            p.w(3, f"{m.get('mountPath')} from {m.get('name')} ({','.join(flags)})\n")


def _describe_volumes(p: Page, volumes: list[dict[str, Any]], *, space: str = "") -> None:
    if not volumes:
        p.w(0, f"{space}Volumes:\t<none>\n")
        return
    p.w(0, f"{space}Volumes:\n")
    for v in volumes:
        p.w(1, f"{v.get('name')}:\n")
        if v.get("emptyDir") is not None:
            limit = v["emptyDir"].get("sizeLimit") or "<unset>"
            p.w(2, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n"
                   f"    Medium:\t{v['emptyDir'].get('medium', '')}\n    SizeLimit:\t{limit}\n")
        else:
            p.w(2, "<unknown>\n")


def describe_pod_template(template: Mapping[str, Any]) -> str:
    """DescribePodTemplate as ``rollout history --revision`` prints it: untabbed, blocks indented by two.

    Why untabbed: kubectl writes this page through a bare PrefixWriter (no tabwriter), so its tabs reach
    the terminal as they are.
    """
    meta = dig(template, "metadata") or {}
    spec = dig(template, "spec") or {}
    p = Page()
    p.w(0, "Pod Template:\n")
    labels_multiline(p, "  Labels", meta.get("labels"))
    if meta.get("annotations"):
        annotations_multiline(p, "  Annotations", meta["annotations"])
    if spec.get("serviceAccountName"):
        p.w(1, f"Service Account:\t{spec['serviceAccountName']}\n")
    if spec.get("initContainers"):
        _describe_containers(p, "Init Containers", spec["initContainers"], [], space="  ")
    _describe_containers(p, "Containers", spec.get("containers") or [], [], space="  ")
    _describe_volumes(p, spec.get("volumes") or [], space="  ")
    if spec.get("priorityClassName"):
        p.w(1, f"Priority Class Name:\t{spec['priorityClassName']}\n")
    labels_multiline(p, "  Node-Selectors", spec.get("nodeSelector"))
    tolerations_multiline(p, "  Tolerations", spec.get("tolerations"))
    return "".join(p.parts)


def describe_pod(pod: dict[str, Any], events: list[dict[str, Any]] | None, now: datetime) -> str:
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    p = Page()
    p.w(0, f"Name:\t{meta.get('name', '')}\n")
    p.w(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    if spec.get("priority") is not None:
        p.w(0, f"Priority:\t{spec['priority']}\n")
    if spec.get("priorityClassName"):
        p.w(0, f"Priority Class Name:\t{spec['priorityClassName']}\n")
    if spec.get("runtimeClassName"):
        p.w(0, f"Runtime Class Name:\t{spec['runtimeClassName']}\n")
    if spec.get("serviceAccountName"):
        p.w(0, f"Service Account:\t{spec['serviceAccountName']}\n")
    if not spec.get("nodeName"):
        p.w(0, "Node:\t<none>\n")
    else:
        p.w(0, f"Node:\t{spec['nodeName']}/{status.get('hostIP', '')}\n")
    if status.get("startTime"):
        p.w(0, f"Start Time:\t{rfc1123z(status['startTime'])}\n")
    labels_multiline(p, "Labels", meta.get("labels"))
    annotations_multiline(p, "Annotations", meta.get("annotations"))
    phase = status.get("phase", "")
    if meta.get("deletionTimestamp") and phase not in ("Failed", "Succeeded"):
        p.w(0, f"Status:\tTerminating (lasts {since(meta['deletionTimestamp'], now)})\n")
        p.w(0, f"Termination Grace Period:\t{meta.get('deletionGracePeriodSeconds', 0)}s\n")
    else:
        p.w(0, f"Status:\t{phase}\n")
    if status.get("reason"):
        p.w(0, f"Reason:\t{status['reason']}\n")
    if status.get("message"):
        p.w(0, f"Message:\t{status['message']}\n")
    p.w(0, f"IP:\t{status.get('podIP', '')}\n")
    pod_ips = status.get("podIPs") or []
    if not pod_ips:
        p.w(0, "IPs:\t<none>\n")
    else:
        p.w(0, "IPs:\n")
        for ip in pod_ips:
            p.w(1, f"IP:\t{ip.get('ip', '')}\n")
    for ref in meta.get("ownerReferences") or []:
        if ref.get("controller"):
            p.w(0, f"Controlled By:\t{ref.get('kind')}/{ref.get('name')}\n")
            break
    if status.get("nominatedNodeName"):
        p.w(0, f"NominatedNodeName:\t{status['nominatedNodeName']}\n")
    if spec.get("initContainers"):
        _describe_containers(p, "Init Containers", spec["initContainers"], status.get("initContainerStatuses") or [])
    _describe_containers(p, "Containers", spec.get("containers") or [], status.get("containerStatuses") or [])
    conditions = status.get("conditions") or []
    if spec.get("readinessGates"):
        p.w(0, "Readiness Gates:\n  Type\tStatus\n")
        for g in spec["readinessGates"]:
            st = next((str(c.get("status")) for c in conditions if c.get("type") == g.get("conditionType")),
                      "<none>")
            p.w(1, f"{g.get('conditionType')} \t{st} \n")
    if conditions:
        p.w(0, "Conditions:\n  Type\tStatus\n")
        for c in conditions:
            p.w(1, f"{c.get('type', '')} \t{c.get('status', '')} \n")
    _describe_volumes(p, spec.get("volumes") or [])
    p.w(0, f"QoS Class:\t{pod_qos(pod)}\n")
    labels_multiline(p, "Node-Selectors", spec.get("nodeSelector"))
    tolerations_multiline(p, "Tolerations", spec.get("tolerations"))
    describe_events(p, events, now)
    return p.text()


def describe_endpoint_slice(eps: dict[str, Any], events: list[dict[str, Any]] | None, now: datetime) -> str:
    meta = eps.get("metadata") or {}
    p = Page()
    p.w(0, f"Name:\t{meta.get('name', '')}\n")
    p.w(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    labels_multiline(p, "Labels", meta.get("labels"))
    annotations_multiline(p, "Annotations", meta.get("annotations"))
    p.w(0, f"AddressType:\t{eps.get('addressType', '')}\n")
    ports = eps.get("ports") or []
    if not ports:
        p.w(0, "Ports: <unset>\n")
    else:
        p.w(0, "Ports:\n")
        p.w(1, "Name\tPort\tProtocol\n")
        p.w(1, "----\t----\t--------\n")
        for port in ports:
            p.w(1, f"{port.get('name') or '<unset>'}\t{port.get('port', '<unset>')}\t{port.get('protocol', '')}\n")
    endpoints = eps.get("endpoints") or []
    if not endpoints:
        p.w(0, "Endpoints: <none>\n")
    else:
        p.w(0, "Endpoints:\n")
        for ep in endpoints:
            p.w(1, f"- Addresses:\t{', '.join(ep.get('addresses') or []) or '<none>'}\n")
            p.w(2, "Conditions:\n")
            ready = dig(ep, "conditions", "ready")
            p.w(3, f"Ready:\t{'<unset>' if ready is None else str(bool(ready)).lower()}\n")
            p.w(2, f"Hostname:\t{ep.get('hostname', '<unset>')}\n")
            if ep.get("targetRef"):
                p.w(2, f"TargetRef:\t{ep['targetRef'].get('kind')}/{ep['targetRef'].get('name')}\n")
            p.w(2, f"NodeName:\t{ep.get('nodeName', '<unset>')}\n")
            p.w(2, f"Zone:\t{ep.get('zone', '<unset>')}\n")
    describe_events(p, events, now)
    return p.text()


def describe_endpoints(ep: dict[str, Any], events: list[dict[str, Any]] | None, now: datetime) -> str:
    meta = ep.get("metadata") or {}
    p = Page()
    p.w(0, f"Name:\t{meta.get('name', '')}\n")
    p.w(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    labels_multiline(p, "Labels", meta.get("labels"))
    annotations_multiline(p, "Annotations", meta.get("annotations"))
    p.w(0, "Subsets:\n")
    for subset in ep.get("subsets") or []:
        addrs = ",".join(str(a.get("ip")) for a in subset.get("addresses") or []) or "<none>"
        p.w(1, f"Addresses:\t{addrs}\n")
        not_ready = ",".join(str(a.get("ip")) for a in subset.get("notReadyAddresses") or []) or "<none>"
        p.w(1, f"NotReadyAddresses:\t{not_ready}\n")
        if subset.get("ports"):
            p.w(1, "Ports:\n")
            p.w(2, "Name\tPort\tProtocol\n")
            p.w(2, "----\t----\t--------\n")
            for port in subset["ports"]:
                p.w(2, f"{port.get('name') or '<unset>'}\t{port.get('port')}\t{port.get('protocol', '')}\n")
        p.w(0, "\n")
    describe_events(p, events, now)
    return p.text()


def describe_namespace(ns: dict[str, Any], events: list[dict[str, Any]] | None, now: datetime) -> str:
    del events, now  # kubectl's namespace page has no events
    meta = ns.get("metadata") or {}
    p = Page()
    p.w(0, f"Name:\t{meta.get('name', '')}\n")
    labels_multiline(p, "Labels", meta.get("labels"))
    annotations_multiline(p, "Annotations", meta.get("annotations"))
    p.w(0, f"Status:\t{dig(ns, 'status', 'phase') or ''}\n")
    return p.text()


_ACRONYMS = {"API", "URL", "UID", "GUID"}
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+|[^A-Za-z0-9]+")


def smart_label(field: str) -> str:
    """smartLabelFor: ``clusterIPs`` -> ``Cluster I Ps``-style camel-case split, acronyms kept."""
    if any(not (ch.isalpha() or ch == "-") for ch in field):
        return field
    parts = _CAMEL.findall(field)
    out = []
    for part in parts:
        if part == "_":
            continue
        if part.upper() in _ACRONYMS:
            part = part.upper()
        elif part.lower() == part:
            part = part[:1].upper() + part[1:]
        out.append(part)
    return " ".join(out)


def _go_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "<nil>"
    return str(v)


def _unstructured(p: Page, level: int, content: Mapping[str, Any], prefix: str, skip: set[str]) -> None:
    for key in sorted(content):
        value = content[key]
        path = f"{prefix}.{key}"
        if path in skip:
            continue
        if isinstance(value, Mapping):
            p.w(level, f"{smart_label(key)}:\n")
            _unstructured(p, level + 1, value, path, skip)
        elif isinstance(value, list):
            p.w(level, f"{smart_label(key)}:\n")
            for child in value:
                if isinstance(child, Mapping):
                    _unstructured(p, level + 1, child, path, skip)
                else:
                    p.w(level + 1, f"{_go_value(child)}\n")
        else:
            p.w(level, f"{smart_label(key)}:\t{_go_value(value)}\n")


def describe_generic(obj: dict[str, Any], events: list[dict[str, Any]] | None, now: datetime) -> str:
    """genericDescriber: name, namespace, labels, annotations, then every other field."""
    meta = obj.get("metadata") or {}
    p = Page()
    p.w(0, f"Name:\t{meta.get('name', '')}\n")
    p.w(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    labels_multiline(p, "Labels", meta.get("labels"))
    annotations_multiline(p, "Annotations", meta.get("annotations"))
    _unstructured(p, 0, obj, "", {".metadata.managedFields", ".metadata.name", ".metadata.namespace",
                                  ".metadata.labels", ".metadata.annotations"})
    if events is not None:
        describe_events(p, events, now)
    return p.text()


def _pod_totals(pod: Mapping[str, Any], field: str) -> dict[str, Quantity]:
    """PodRequests/PodLimits: the containers' sum, raised to any larger init container's value."""
    total: dict[str, Quantity] = {}
    for c in dig(pod, "spec", "containers") or []:
        for name, value in (dig(c, "resources", field) or {}).items():
            total[name] = total.get(name, ZERO) + parse_quantity(value)
    for c in dig(pod, "spec", "initContainers") or []:
        for name, value in (dig(c, "resources", field) or {}).items():
            q = parse_quantity(value)
            if q.value > total.get(name, ZERO).value:
                total[name] = q
    return total


def _pct(part: Quantity, whole: Quantity | None, *, milli: bool) -> int:
    if whole is None:
        return 0
    den = whole.milli_value() if milli else whole.int_value()
    if den == 0:
        return 0
    num = part.milli_value() if milli else part.int_value()
    return int(num / den * 100)


def _taint(t: Mapping[str, Any]) -> str:
    key, value, effect = str(t.get("key") or ""), str(t.get("value") or ""), str(t.get("effect") or "")
    if not effect:
        return key if not value else f"{key}={value}:"
    return f"{key}:{effect}" if not value else f"{key}={value}:{effect}"


def describe_node(node: dict[str, Any], pods: list[dict[str, Any]] | None, lease: dict[str, Any] | None,
                  lease_error: str | None, events: list[dict[str, Any]] | None, now: datetime) -> str:
    """describeNode (kubectl 1.32): status, capacity, system info, the Pods on it and their requests."""
    meta = node.get("metadata") or {}
    spec = node.get("spec") or {}
    status = node.get("status") or {}
    p = Page()
    p.w(0, f"Name:\t{meta.get('name', '')}\n")
    roles = sorted({k.removeprefix("node-role.kubernetes.io/") for k in meta.get("labels") or {}
                    if k.startswith("node-role.kubernetes.io/") and k != "node-role.kubernetes.io/"}
                   | {v for k, v in (meta.get("labels") or {}).items() if k == "kubernetes.io/role" and v})
    p.w(0, f"Roles:\t{','.join(roles) if roles else '<none>'}\n")
    labels_multiline(p, "Labels", meta.get("labels"))
    annotations_multiline(p, "Annotations", meta.get("annotations"))
    p.w(0, f"CreationTimestamp:\t{rfc1123z(meta.get('creationTimestamp'))}\n")
    taints = sorted(spec.get("taints") or [], key=lambda t: f"{t.get('effect', '')},{t.get('key', '')}")
    p.w(0, "Taints:\t")
    if not taints:
        p.line("<none>")
    for i, t in enumerate(taints):
        p.w(0, ("\t" if i else "") + _taint(t) + "\n")
    p.w(0, f"Unschedulable:\t{'true' if spec.get('unschedulable') else 'false'}\n")
    if lease_error is not None:
        p.w(0, f"Lease:\tFailed to get lease: {lease_error}\n")
    else:
        lspec = (lease or {}).get("spec") or {}
        p.w(0, "Lease:\n")
        p.w(1, f"HolderIdentity:\t{lspec.get('holderIdentity') or '<unset>'}\n")
        p.w(1, f"AcquireTime:\t{rfc1123z(lspec.get('acquireTime')) or '<unset>'}\n")
        p.w(1, f"RenewTime:\t{rfc1123z(lspec.get('renewTime')) or '<unset>'}\n")
    conditions = status.get("conditions") or []
    if conditions:
        p.w(0, "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n")
        p.w(1, "----\t------\t-----------------\t------------------\t------\t-------\n")
        for c in conditions:
            p.w(1, f"{c.get('type', '')} \t{c.get('status', '')} \t{rfc1123z(c.get('lastHeartbeatTime'))} \t"
                   f"{rfc1123z(c.get('lastTransitionTime'))} \t{c.get('reason', '')} \t{c.get('message', '')}\n")
    p.w(0, "Addresses:\n")
    for a in status.get("addresses") or []:
        p.w(1, f"{a.get('type', '')}:\t{a.get('address', '')}\n")
    for title, key in (("Capacity", "capacity"), ("Allocatable", "allocatable")):
        resources = status.get(key) or {}
        if resources:
            p.w(0, f"{title}:\n")
            for name in sorted(resources):
                p.w(0, f"  {name}:\t{parse_quantity(resources[name])}\n")
    info = status.get("nodeInfo") or {}
    p.w(0, "System Info:\n")
    for title, key in (("Machine ID", "machineID"), ("System UUID", "systemUUID"), ("Boot ID", "bootID"),
                       ("Kernel Version", "kernelVersion"), ("OS Image", "osImage"),
                       ("Operating System", "operatingSystem"), ("Architecture", "architecture"),
                       ("Container Runtime Version", "containerRuntimeVersion"),
                       ("Kubelet Version", "kubeletVersion"), ("Kube-Proxy Version", "kubeProxyVersion")):
        p.w(0, f"  {title}:\t{info.get(key, '')}\n")
    if spec.get("podCIDR"):
        p.w(0, f"PodCIDR:\t{spec['podCIDR']}\n")
    if spec.get("podCIDRs"):
        p.w(0, f"PodCIDRs:\t{','.join(spec['podCIDRs'])}\n")
    if spec.get("providerID"):
        p.w(0, f"ProviderID:\t{spec['providerID']}\n")
    if pods is None:
        p.w(0, "Pods:\tnot authorized\n")
    else:
        _node_resources(p, node, pods, now)
    describe_events(p, events, now)
    return p.text()


def _node_resources(p: Page, node: Mapping[str, Any], pods: list[dict[str, Any]], now: datetime) -> None:
    status = node.get("status") or {}
    alloc_raw = status.get("allocatable") or status.get("capacity") or {}
    alloc = {k: parse_quantity(v) for k, v in alloc_raw.items()}
    p.w(0, f"Non-terminated Pods:\t({len(pods)} in total)\n")
    p.w(1, "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n")
    p.w(1, "---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n")
    reqs: dict[str, Quantity] = {}
    limits: dict[str, Quantity] = {}
    for pod in pods:
        req, lim = _pod_totals(pod, "requests"), _pod_totals(pod, "limits")
        for total, part in ((reqs, req), (limits, lim)):
            for name, q in part.items():
                total[name] = total[name] + q if name in total else q
        cells = [f"{q} ({_pct(q, alloc.get(res), milli=milli)}%)"
                 for q, res, milli in ((req.get("cpu", ZERO), "cpu", True), (lim.get("cpu", ZERO), "cpu", True),
                                       (req.get("memory", ZERO), "memory", False),
                                       (lim.get("memory", ZERO), "memory", False))]
        meta = pod.get("metadata") or {}
        p.w(1, f"{meta.get('namespace', '')}\t{meta.get('name', '')}\t\t" + "\t".join(cells)
            + f"\t{since(meta.get('creationTimestamp'), now)}\n")
    p.w(0, "Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n")
    p.w(1, "Resource\tRequests\tLimits\n")
    p.w(1, "--------\t--------\t------\n")
    for res, milli in (("cpu", True), ("memory", False), ("ephemeral-storage", False)):
        r, lq = reqs.get(res, ZERO), limits.get(res, ZERO)
        p.w(1, f"{res}\t{r} ({_pct(r, alloc.get(res), milli=milli)}%)\t{lq} "
               f"({_pct(lq, alloc.get(res), milli=milli)}%)\n")
    standard = {"cpu", "memory", "ephemeral-storage", "storage", "pods"}
    huge = sorted(k for k in alloc if k.startswith("hugepages-"))
    ext = sorted(k for k in alloc if k not in standard and not k.startswith("hugepages-") and "/" in k)
    for res in huge:
        r, lq = reqs.get(res, ZERO), limits.get(res, ZERO)
        p.w(1, f"{res}\t{r} ({_pct(r, alloc.get(res), milli=False)}%)\t{lq} "
               f"({_pct(lq, alloc.get(res), milli=False)}%)\n")
    for res in ext:
        p.w(1, f"{res}\t{reqs.get(res, ZERO)}\t{limits.get(res, ZERO)}\n")
