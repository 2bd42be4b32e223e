"""``kctl logs``: a container's log from ``pods/NAME/log``, for a Pod or an object that selects Pods.

Follows kubectl's logs.go and polymorphichelpers (logsForObject,
attachablePodForObject): ``POD [CONTAINER]``, ``TYPE/NAME`` (deployments,
replicasets, services: the first Pod of their selector in kubectl's
ByLogging order, announced on stderr as ``Found 2 pods, using pod/x``),
``-c`` or the default container (the ``kubectl.kubernetes.io/default-
container`` annotation, else the first, announced as ``Defaulted container
"a" out of: a, b``), and the PodLogOptions flags passed to the server as
query parameters. ``-f`` copies the body as it arrives until the server
ends it (the container stopped) or Ctrl-C.

Invariant: the bytes the server sends are written unchanged to stdout.
"""

from __future__ import annotations

import asyncio
import math
import sys
from datetime import datetime
from typing import Any

import click

from apimachinery.errors import StatusError
from apimachinery.labels import ANNOTATION_DEFAULT_CONTAINER
from apimachinery.pods import is_pod_ready, ready_condition
from apimachinery.selectors import from_label_selector_object, selector_from_set
from kubeclient import errors
from kubeclient.kctl.failures import fail
from kubeclient.kctl.options import STR, connection_options, echo_err, parse_duration, run
from kubeclient.kctl.session import Session

USAGE = ("expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.\nPOD or TYPE/NAME is a required argument for "
         "the logs command\nSee 'kctl logs -h' for help and examples")  # kubectl's text, our name
PHASE_ORDER = {"Running": 0, "Unknown": 1, "Pending": 2}


def _containers(pod: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, shown as) of every container in AllContainerNames' order: regular, ephemeral, init."""
    spec = pod.get("spec") or {}
    out = [(str(c.get("name")), str(c.get("name"))) for c in spec.get("containers") or []]
    out += [(str(c.get("name")), f"{c.get('name')} (ephem)") for c in spec.get("ephemeralContainers") or []]
    out += [(str(c.get("name")), f"{c.get('name')} (init)") for c in spec.get("initContainers") or []]
    return out


def choose_container(pod: dict[str, Any], wanted: str) -> tuple[str, str]:
    """The container to read and what kubectl says on stderr about the choice (may be empty)."""
    meta = pod.get("metadata") or {}
    names = [n for n, _ in _containers(pod)]
    if wanted:
        if wanted not in names:
            raise fail(f"container {wanted} is not valid for pod {meta.get('name')}")
        return wanted, ""
    note = ""
    default = str((meta.get("annotations") or {}).get(ANNOTATION_DEFAULT_CONTAINER) or "")
    if default:
        if default in names:
            return default, ""
        note = f'Warning: default container name "{default}" not found in pod {meta.get("name")}\n'
    regular = [str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or []]
    if not regular:
        raise fail(f"pod {meta.get('name')} does not have any containers")
    if len(regular) > 1:
        shown = ", ".join(s for _, s in _containers(pod))
        note += f'Defaulted container "{regular[0]}" out of: {shown}\n'
    return regular[0], note


def _ready_since(pod: dict[str, Any]) -> str | None:
    """The Ready condition's lastTransitionTime while the pod is ready (podutil.IsPodReady), else None."""
    cond = ready_condition(pod)
    return str(cond.get("lastTransitionTime") or "") if is_pod_ready(pod) and cond else None


def _restarts(pod: dict[str, Any]) -> int:
    return max((int(s.get("restartCount") or 0) for s in (pod.get("status") or {}).get("containerStatuses") or []),
               default=0)


def by_logging_key(pod: dict[str, Any]) -> tuple[Any, ...]:
    """controller.ByLogging: assigned, Running<Unknown<Pending, ready, ready longer, more restarts, older."""
    ready = _ready_since(pod)
    created = str((pod.get("metadata") or {}).get("creationTimestamp") or "")
    return (
        0 if (pod.get("spec") or {}).get("nodeName") else 1,
        PHASE_ORDER.get(str((pod.get("status") or {}).get("phase")), 3),
        0 if ready is not None else 1,
        ready or "",
        -_restarts(pod),
        created or "~",  # an empty timestamp sorts last
    )


def log_params(*, container: str, follow: bool, previous: bool, timestamps: bool, tail: int,
               since: float | None, since_time: str | None, limit_bytes: int) -> dict[str, str]:
    """PodLogOptions as query parameters (only what was asked: unset means the server's default)."""
    params = {"container": container}
    if follow:
        params["follow"] = "true"
    if previous:
        params["previous"] = "true"
    if timestamps:
        params["timestamps"] = "true"
    if tail >= 0:
        params["tailLines"] = str(tail)
    if since is not None:
        params["sinceSeconds"] = str(math.ceil(since))
    if since_time:
        params["sinceTime"] = since_time
    if limit_bytes:
        params["limitBytes"] = str(limit_bytes)
    return params


async def _first_pod(s: Session, selector: str, namespace: str, *, timeout: float) -> tuple[dict[str, Any], int]:
    """GetFirstPod: the best Pod for logs among those selected, and how many there were (waits for one)."""
    pods_rt = s.resolve("pods")
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        items = list((await s.list_all(pods_rt, namespace=namespace, label_selector=selector)).get("items") or [])
        if items:
            items.sort(key=by_logging_key)
            return items[0], len(items)
        if asyncio.get_running_loop().time() >= deadline:
            raise fail("timed out waiting for the condition")
        await asyncio.sleep(1.0)


async def _pod_for(s: Session, args: tuple[str, ...], *, pod_timeout: float) -> tuple[dict[str, Any], str]:
    """The Pod named (or selected) by the arguments; and the container given as a second argument."""
    ns = s.namespace
    if "/" not in args[0]:
        name, container_arg = args[0], (args[1] if len(args) == 2 else "")
        try:
            return await s.api.get(s.resolve("pods"), name, namespace=ns), container_arg
        except errors.NotFound as e:
            raise fail(f'error from server (NotFound): {e.message} in namespace "{ns}"') from e
    if len(args) != 1:
        raise fail(USAGE)
    type_name, _, name = args[0].partition("/")
    rt = s.resolve(type_name)
    try:
        obj = await s.api.get(rt, name, namespace=s.ns_for(rt))
    except errors.NotFound as e:
        raise fail(f'error from server (NotFound): {e.message} in namespace "{ns}"') from e
    kind = rt.kind
    if (rt.group, kind) == ("", "Pod"):
        return obj, ""
    spec = obj.get("spec") or {}
    if (rt.group, kind) == ("", "Service"):
        if not spec.get("selector"):
            raise fail(f"cannot get the logs from *v1.Service: invalid service '{name}': Service is defined "
                       "without a selector")
        selector = str(selector_from_set(spec["selector"]))
    elif (rt.group, kind) in (("apps", "Deployment"), ("apps", "ReplicaSet"), ("apps", "StatefulSet"),
                              ("apps", "DaemonSet"), ("batch", "Job")):
        selector = str(from_label_selector_object(spec.get("selector")))
    else:
        raise fail(f"cannot get the logs from {rt.group or 'core'}/{rt.version}, Kind={kind}: selector for "
                   f"{kind} not implemented")
    pod, count = await _first_pod(s, selector, ns, timeout=pod_timeout)
    if count > 1:
        sys.stderr.write(f"Found {count} pods, using pod/{(pod.get('metadata') or {}).get('name')}\n")
    return pod, ""


@click.command("logs")
@click.argument("args", nargs=-1)
@click.option("-c", "--container", type=STR, default="", help="Print the logs of this container.")
@click.option("-f", "--follow", is_flag=True, help="Specify if the logs should be streamed.")
@click.option("-p", "--previous", is_flag=True, help="Print the logs for the previous instance of the container.")
@click.option("--timestamps", is_flag=True, help="Include timestamps on each line in the log output.")
@click.option("--tail", type=int, default=-1, help="Lines of recent log file to display (-1: all).")
@click.option("--since", type=STR, default=None, help="Only return logs newer than a relative duration like 5s.")
@click.option("--since-time", type=STR, default=None, help="Only return logs after a date (RFC3339).")
@click.option("--limit-bytes", type=int, default=0, help="Maximum bytes of logs to return. Defaults to no limit.")
@click.option("--pod-running-timeout", type=STR, default="20s",
              help="How long to wait until at least one pod is selected (e.g. 5s, 2m).")
@connection_options
def logs_cmd(args: tuple[str, ...], container: str, follow: bool, previous: bool, timestamps: bool, tail: int,
             since: str | None, since_time: str | None, limit_bytes: int, pod_running_timeout: str) -> None:
    """Print the logs for a container in a pod, or in the first pod of a deployment, replica set or service."""
    if not args or len(args) > 2:
        raise fail(USAGE)
    since_seconds = parse_duration(since, flag="--since") if since is not None else None
    if since_time is not None:
        try:
            datetime.fromisoformat(since_time.replace("Z", "+00:00"))
        except ValueError:
            raise fail(f'parsing time "{since_time}" as "2006-01-02T15:04:05Z07:00": cannot parse "{since_time}" '
                       'as "2006"') from None
    if since_seconds is not None and since_time is not None:
        raise fail("at most one of `sinceTime` or `sinceSeconds` may be specified")
    if limit_bytes < 0:
        raise fail("--limit-bytes must be greater than 0")
    if tail < -1:
        raise fail("--tail must be greater than or equal to -1")
    pod_timeout = parse_duration(pod_running_timeout, flag="--pod-running-timeout")

    async def body(s: Session) -> None:
        await s.discover()
        pod, container_arg = await _pod_for(s, args, pod_timeout=pod_timeout)
        if container_arg and container:
            raise fail("only one of -c or an inline [CONTAINER] arg is allowed")
        name, note = choose_container(pod, container or container_arg)
        echo_err(note)
        meta = pod.get("metadata") or {}
        params = log_params(container=name, follow=follow, previous=previous, timestamps=timestamps, tail=tail,
                            since=since_seconds, since_time=since_time, limit_bytes=limit_bytes)
        path = s.api.path(s.resolve("pods"), namespace=meta.get("namespace"), name=str(meta.get("name")),
                          subresource="log")
        out = sys.stdout.buffer
        try:
            async for chunk in s.api.stream_bytes(path, params=params):
                out.write(chunk)
                out.flush()
        except StatusError:
            sys.stdout.flush()
            raise

    run(body)
