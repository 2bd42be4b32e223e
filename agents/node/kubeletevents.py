"""The kubelet's Event vocabulary for a Pod's life: reasons and messages, as pkg/kubelet writes them.

Why one module: both runtimes (the simulated one in ``agent`` and the
process runtime) tell a Pod's story with the same Events, and ``kubectl
describe pod`` users read them as the kubelet's. Reasons are
pkg/kubelet/events' constants; messages are the format strings of
images/image_manager.go and kuberuntime (``Pulling image "x"``,
``Successfully pulled image "x" in 1.2s (1.2s including waiting). Image
size: N bytes.``, ``Created container: c``, ``Started container c``,
``Stopping container c``).

``pull_decision`` is the image manager's shouldPullImage over a node's
image set: Always pulls, IfNotPresent pulls what the node lacks, Never never
pulls (the simulated node then behaves as if the image were present).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

COMPONENT = "kubelet"

PULLING = "Pulling"
PULLED = "Pulled"
CREATED = "Created"
STARTED = "Started"
KILLING = "Killing"
UNHEALTHY = "Unhealthy"

PULL = "pull"
PRESENT = "present"


def go_duration(seconds: float) -> str:
    """Go's time.Duration String() of a duration truncated to milliseconds: 0s, 12ms, 1.5s, 2m3.004s."""
    ms = max(0, int(seconds * 1000))
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, frac = divmod(rest, 1000)
    text = f"{secs}.{frac:03d}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{text}"
    if minutes:
        return f"{minutes}m{text}"
    return text


def pulling(image: str) -> str:
    return f'Pulling image "{image}"'


def pulled(image: str, *, seconds: float, waited: float, size: int) -> str:
    return (f'Successfully pulled image "{image}" in {go_duration(seconds)} '
            f"({go_duration(waited)} including waiting). Image size: {size} bytes.")


def already_present(image: str) -> str:
    return f'Container image "{image}" already present on machine'


def created(container: str) -> str:
    return f"Created container: {container}"


def started(container: str) -> str:
    return f"Started container {container}"


def killing(container: str) -> str:
    return f"Stopping container {container}"


def probe_failed(kind: str, output: str) -> str:
    """``kind`` is the prober's probeType: Readiness, Liveness or Startup."""
    return f"{kind} probe failed: {output}"


def pull_decision(container: Mapping[str, Any], present: Iterable[str]) -> str:
    """PULL or PRESENT for this container's image on a node holding ``present`` (shouldPullImage)."""
    image = str(container.get("image") or "")
    policy = str(container.get("imagePullPolicy") or "IfNotPresent")
    if policy == "Always":
        return PULL
    if policy == "Never" or image in set(present):
        return PRESENT
    return PULL
