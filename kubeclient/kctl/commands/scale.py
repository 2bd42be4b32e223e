"""``kctl scale``: set a Deployment's or ReplicaSet's replicas through the ``scale`` subresource.

Follows kubectl's scale.go and scale/scale.go: objects come from
``TYPE NAME``, ``TYPE/NAME`` or ``-f``; without preconditions the new count
is a merge patch of ``{"spec":{"replicas":N}}`` on ``.../scale``; with
``--current-replicas`` (or ``--resource-version``) kubectl GETs the Scale,
checks it (``Expected replicas to be 2, was 3``) and PUTs it back, so a
concurrent change answers 409 and the check runs again.

Invariant: objects are resolved first (a missing one is reported after the
others are scaled, as kubectl's ContinueOnError builder does), and the first
failed scale ends the command.
"""

from __future__ import annotations

from typing import Any

import click

from apimachinery.errors import StatusError
from apimachinery.resources import ResourceType
from kubeclient import errors
from kubeclient.kctl.commands.apply import prepare
from kubeclient.kctl.failures import KctlError, Problems, fail
from kubeclient.kctl.manifests import read_manifests
from kubeclient.kctl.options import STR, connection_options, echo, run
from kubeclient.kctl.session import Session, kind_string
from kubeclient.kctl.targets import parse_targets

USAGE_FILES = ("You must provide one or more resources by argument or filename.\nExample resource specifications "
               "include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'")
CONFLICT_RETRIES = 3


class PreconditionError(KctlError):
    """scale.PreconditionError: the Scale did not have the value ``--current-replicas`` expected."""

    def __init__(self, what: str, expected: str, actual: str) -> None:
        text = f"Expected {what} to be {expected}, was {actual}"
        super().__init__(f"error: {text}", text=text)


async def resolve_named(s: Session, args: tuple[str, ...], filenames: tuple[str, ...], *, verb: str,
                        problems: Problems) -> list[tuple[ResourceType, dict[str, Any]]]:
    """``(type, live object)`` of every object named by arguments or ``-f``, in order.

    Objects that do not exist are recorded in ``problems`` (kubectl's builder goes on with the others).
    """
    await s.discover()
    named: list[tuple[ResourceType, str, str | None]] = []
    if filenames:
        if args:
            raise fail(USAGE_FILES)
        for m in read_manifests(filenames, verb=verb):
            rt, obj = prepare(s, m)
            named.append((rt, str(obj["metadata"].get("name") or ""), obj["metadata"].get("namespace")))
    else:
        if not args:
            raise fail(USAGE_FILES)
        for tgt in parse_targets(s, args, verb=verb).groups:
            if tgt.names is None:
                raise fail("resource(s) were provided, but no name was specified")
            named.extend((tgt.rt, n, s.ns_for(tgt.rt)) for n in tgt.names)
    found: list[tuple[ResourceType, dict[str, Any]]] = []
    for rt, name, ns in named:
        try:
            found.append((rt, await s.api.get(rt, name, namespace=ns)))
        except StatusError as e:
            problems.add(e)
    return found


def error_text(problems: Problems) -> str:
    """Go's err.Error() of what the builder collected: one message, or an aggregate ``[a, b]``."""
    texts = [e.exc.text if isinstance(e.exc, KctlError) else e.exc.message if isinstance(e.exc, StatusError)
             else str(e.exc) for e in problems.items]
    if len(texts) == 1:
        return texts[0]
    return "[" + ", ".join(texts) + "]" if texts else ""


async def scale_one(s: Session, rt: ResourceType, name: str, ns: str | None, *, replicas: int,
                    current: int, resource_version: str) -> None:
    """ScaleWithRetries: a merge patch, or GET-check-PUT when a precondition is given (409s retried)."""
    path = s.api.path(rt, namespace=ns, name=name, subresource="scale")
    if current < 0 and not resource_version:
        await s.api.request("PATCH", path, body={"spec": {"replicas": replicas}},
                            content_type="application/merge-patch+json")
        return
    for attempt in range(CONFLICT_RETRIES + 1):
        scale = await s.api.get_json(path)
        spec = scale.setdefault("spec", {})
        if current >= 0 and int(spec.get("replicas") or 0) != current:
            raise PreconditionError("replicas", str(current), str(int(spec.get("replicas") or 0)))
        meta = scale.setdefault("metadata", {})
        if resource_version and meta.get("resourceVersion") != resource_version:
            raise PreconditionError("resource version", resource_version, str(meta.get("resourceVersion") or ""))
        spec["replicas"] = replicas
        try:
            await s.api.request("PUT", path, body=scale)
            return
        except errors.Conflict:
            if attempt == CONFLICT_RETRIES or resource_version:
                raise


@click.command("scale")
@click.argument("args", nargs=-1)
@click.option("--replicas", type=int, default=None, help="The new desired number of replicas. Required.")
@click.option("--current-replicas", type=int, default=-1,
              help="Precondition for current size. Requires that the current size of the resource match this "
                   "value in order to scale. -1 (default) for no condition.")
@click.option("--resource-version", type=STR, default="",
              help="Precondition for resource version. Requires that the current resource version match this "
                   "value in order to scale.")
@click.option("-f", "--filename", "filenames", type=STR, multiple=True,
              help="Filename, directory, or URL to files identifying the resource to set a new size.")
@click.option("-o", "--output", type=STR, default=None, help="name")
@connection_options
def scale_cmd(args: tuple[str, ...], replicas: int | None, current_replicas: int, resource_version: str,
              filenames: tuple[str, ...], output: str | None) -> None:
    """Set a new size for a deployment or replica set."""
    if replicas is None:
        raise fail('required flag(s) "replicas" not set')
    if replicas < 0:
        raise fail("The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0")
    if output not in (None, "", "name"):
        raise fail(f'unable to match a printer suitable for the output format "{output}", allowed formats are: '
                   "name")

    async def body(s: Session) -> None:
        problems = Problems()
        found = await resolve_named(s, args, filenames, verb="scale", problems=problems)
        if not found:
            raise fail(f"no objects passed to scale {error_text(problems)}".rstrip())
        for rt, obj in found:
            name, ns = str(obj["metadata"]["name"]), obj["metadata"].get("namespace")
            await scale_one(s, rt, name, ns, replicas=replicas, current=current_replicas,
                            resource_version=resource_version)
            echo(f"{kind_string(rt)}/{name}" + ("\n" if output == "name" else " scaled\n"))
        problems.raise_if_any()

    run(body)
