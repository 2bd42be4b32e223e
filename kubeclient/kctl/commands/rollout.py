"""``kctl rollout status|history|undo|restart`` for Deployments; status, history and undo for StatefulSets and DaemonSets.

Why client-side: kubectl computes all four from the Deployment and the
ReplicaSets it controls (k8s.io/kubectl/pkg/polymorphichelpers: the
DeploymentStatusViewer, DeploymentHistoryViewer, DeploymentRollbacker and
ObjectRestarter); kctl does the same over the same objects, so both print
the same lines. A revision is the ``deployment.kubernetes.io/revision``
annotation of a ReplicaSet whose controller is the Deployment; ``undo``
copies that ReplicaSet's template (without its pod-template-hash label)
back into the Deployment with kubectl's JSON patch.

StatefulSets and DaemonSets: ``status`` reads their status as kubectl's
viewers do; their history is their ControllerRevisions, and ``undo``
applies the chosen revision's data (a strategic merge patch replacing the
template) as kubectl's rollbackers do.

Invariant: any other kind (or verb) answers kubectl's "not implemented"
error for that verb, never a fake success.
"""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime
from typing import Any

import click

from apimachinery.errors import StatusError
from apimachinery.labels import (
    ANNOTATION_CHANGE_CAUSE,
    ANNOTATION_DESIRED_REPLICAS,
    ANNOTATION_LAST_APPLIED,
    ANNOTATION_MAX_REPLICAS,
    ANNOTATION_RESTARTED_AT,
    ANNOTATION_REVISION,
    ANNOTATION_REVISION_HISTORY,
)
from apimachinery.patch import two_way_merge_patch
from apimachinery.resources import ResourceType
from kubeclient.kctl.describers import describe_pod_template
from kubeclient.kctl.failures import KctlError, Problems, fail
from kubeclient.kctl.options import STR, connection_options, echo, parse_duration, run
from kubeclient.kctl.session import Session, kind_string, plural_string
from kubeclient.kctl.tabwriter import TabWriter
from kubeclient.kctl.targets import parse_targets

POD_TEMPLATE_HASH = "pod-template-hash"
# Deployment annotations that undo keeps from the Deployment, never takes from the ReplicaSet (annotationsToSkip)
SKIPPED_ANNOTATIONS = frozenset({
    ANNOTATION_LAST_APPLIED, ANNOTATION_REVISION, ANNOTATION_REVISION_HISTORY,
    ANNOTATION_DESIRED_REPLICAS, ANNOTATION_MAX_REPLICAS,
    "deprecated.daemonset.template.generation",
})


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def revision_of(obj: dict[str, Any]) -> int | None:
    """deploymentutil.Revision: the annotation as an integer (None when absent or not a number)."""
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_REVISION)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def deployment_status(d: dict[str, Any], revision: int = 0) -> tuple[str, bool]:
    """DeploymentStatusViewer.Status: the line to print and whether the rollout is done."""
    name = (d.get("metadata") or {}).get("name")
    spec = d.get("spec") or {}
    status = d.get("status") or {}
    if revision > 0:
        current = revision_of(d)
        if current is None:
            raise fail(f'cannot get the revision of deployment "{name}"')
        if current != revision:
            raise fail(f"desired revision ({revision}) is different from the running revision ({current})")
    if _int((d.get("metadata") or {}).get("generation")) > _int(status.get("observedGeneration")):
        return "Waiting for deployment spec update to be observed...\n", False
    for c in status.get("conditions") or []:
        if c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded":
            raise fail(f'deployment "{name}" exceeded its progress deadline')
    updated, total, available = (_int(status.get(k)) for k in ("updatedReplicas", "replicas", "availableReplicas"))
    if spec.get("replicas") is not None and updated < _int(spec["replicas"]):
        return (f'Waiting for deployment "{name}" rollout to finish: {updated} out of {_int(spec["replicas"])} new '
                "replicas have been updated...\n"), False
    if total > updated:
        return (f'Waiting for deployment "{name}" rollout to finish: {total - updated} old replicas are pending '
                "termination...\n"), False
    if available < updated:
        return (f'Waiting for deployment "{name}" rollout to finish: {available} of {updated} updated replicas are '
                "available...\n"), False
    return f'deployment "{name}" successfully rolled out\n', True


def statefulset_status(sts: dict[str, Any], revision: int = 0) -> tuple[str, bool]:
    """StatefulSetStatusViewer.Status: ready Pods, then the partition's or the revisions' progress."""
    spec, status = sts.get("spec") or {}, sts.get("status") or {}
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type") != "RollingUpdate":
        raise fail("rollout status is only available for RollingUpdate strategy type")
    observed = _int(status.get("observedGeneration"))
    if observed == 0 or _int((sts.get("metadata") or {}).get("generation")) > observed:
        return "Waiting for statefulset spec update to be observed...\n", False
    replicas, ready = spec.get("replicas"), _int(status.get("readyReplicas"))
    if replicas is not None and ready < _int(replicas):
        return f"Waiting for {_int(replicas) - ready} pods to be ready...\n", False
    rolling = strategy.get("rollingUpdate")
    updated = _int(status.get("updatedReplicas"))
    if isinstance(rolling, dict):
        if replicas is not None and rolling.get("partition") is not None:
            want = _int(replicas) - _int(rolling.get("partition"))
            if updated < want:
                return (f"Waiting for partitioned roll out to finish: {updated} out of {want} new pods have been "
                        "updated...\n"), False
        return f"partitioned roll out complete: {updated} new pods have been updated...\n", True
    if status.get("updateRevision") != status.get("currentRevision"):
        return (f"waiting for statefulset rolling update to complete {updated} pods at revision "
                f"{status.get('updateRevision')}...\n"), False
    return (f"statefulset rolling update complete {_int(status.get('currentReplicas'))} pods at revision "
            f"{status.get('currentRevision')}...\n"), True


def daemonset_status(ds: dict[str, Any], revision: int = 0) -> tuple[str, bool]:
    """DaemonSetStatusViewer.Status: updated, then available, daemon Pods out of the desired number."""
    name = (ds.get("metadata") or {}).get("name")
    status = ds.get("status") or {}
    if ((ds.get("spec") or {}).get("updateStrategy") or {}).get("type") != "RollingUpdate":
        raise fail("rollout status is only available for RollingUpdate strategy type")
    if _int((ds.get("metadata") or {}).get("generation")) > _int(status.get("observedGeneration")):
        return "Waiting for daemon set spec update to be observed...\n", False
    desired = _int(status.get("desiredNumberScheduled"))
    updated, available = _int(status.get("updatedNumberScheduled")), _int(status.get("numberAvailable"))
    if updated < desired:
        return (f'Waiting for daemon set "{name}" rollout to finish: {updated} out of {desired} new pods have been '
                "updated...\n"), False
    if available < desired:
        return (f'Waiting for daemon set "{name}" rollout to finish: {available} of {desired} updated pods are '
                "available...\n"), False
    return f'daemon set "{name}" successfully rolled out\n', True


#: kubectl's StatusViewerFor: the kinds ``rollout status`` knows.
STATUS_VIEWERS = {
    ("apps", "Deployment"): deployment_status,
    ("apps", "StatefulSet"): statefulset_status,
    ("apps", "DaemonSet"): daemonset_status,
}


def owned_replica_sets(d: dict[str, Any], sets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ReplicaSets whose controller is ``d`` (by UID, as GetAllReplicaSets filters them)."""
    uid = (d.get("metadata") or {}).get("uid")
    out = []
    for rs in sets:
        refs = (rs.get("metadata") or {}).get("ownerReferences") or []
        if any(r.get("controller") and r.get("uid") == uid for r in refs):
            out.append(rs)
    return out


def history_table(sets: list[dict[str, Any]]) -> str:
    """DeploymentHistoryViewer.ViewHistory without --revision: REVISION and CHANGE-CAUSE per revision."""
    causes: dict[int, str] = {}
    for rs in sets:
        rev = revision_of(rs)
        if rev is not None:
            causes[rev] = ((rs.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_CHANGE_CAUSE) or ""
    if not causes:
        return "No rollout history found."
    w = TabWriter(minwidth=0, padding=2)
    w.write("REVISION\tCHANGE-CAUSE\n")
    for rev in sorted(causes):
        w.write(f"{rev}\t{causes[rev] or '<none>'}\n")
    return w.flush()


def revision_template(sets: list[dict[str, Any]], revision: int) -> str:
    """ViewHistory with --revision: the Pod Template of that revision (its change-cause as an annotation)."""
    for rs in sets:
        if revision_of(rs) == revision:
            template = copy.deepcopy((rs.get("spec") or {}).get("template") or {})
            cause = ((rs.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_CHANGE_CAUSE)
            if cause:
                template.setdefault("metadata", {}).setdefault("annotations", {})[ANNOTATION_CHANGE_CAUSE] = cause
            return describe_pod_template(template)
    raise fail("unable to find the specified revision")


def rollback_source(d: dict[str, Any], sets: list[dict[str, Any]], to_revision: int) -> dict[str, Any]:
    """deploymentRevision: the ReplicaSet of ``to_revision``, or of the revision before the latest (0)."""
    latest: tuple[int, dict[str, Any] | None] = (-1, None)
    previous: tuple[int, dict[str, Any] | None] = (-1, None)
    for rs in sets:
        v = revision_of(rs)
        if v is None:
            continue
        if to_revision == 0:
            if latest[0] < v:
                previous, latest = latest, (v, rs)
            elif previous[0] < v:
                previous = (v, rs)
        elif to_revision == v:
            return rs
    if to_revision > 0:
        raise fail(f"unable to find specified revision {to_revision} in history")
    if previous[1] is None:
        raise fail(f'no rollout history found for deployment "{(d.get("metadata") or {}).get("name")}"')
    return previous[1]


#: Kinds whose history is their ControllerRevisions (kubectl's StatefulSet and DaemonSet history viewers
#: and rollbackers); a Deployment's is its ReplicaSets.
REVISION_KINDS = frozenset({("apps", "StatefulSet"), ("apps", "DaemonSet")})
HISTORY_KINDS = REVISION_KINDS | {("apps", "Deployment")}


def controlled_revisions(obj: dict[str, Any], revisions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """controlledHistories: the ControllerRevisions whose controller is ``obj``, by revision number."""
    owned = owned_replica_sets(obj, revisions)  # the same controller-uid filter
    return sorted(owned, key=lambda r: _int(r.get("revision")))


def revisions_table(revisions: list[dict[str, Any]]) -> str:
    """printHistory without --revision: REVISION and CHANGE-CAUSE per ControllerRevision."""
    if not revisions:
        return "No rollout history found."
    w = TabWriter(minwidth=0, padding=2)
    w.write("REVISION\tCHANGE-CAUSE\n")
    for rev in revisions:
        cause = ((rev.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_CHANGE_CAUSE)
        w.write(f"{_int(rev.get('revision'))}\t{cause or '<none>'}\n")
    return w.flush()


def revision_to_restore(revisions: list[dict[str, Any]], to_revision: int) -> dict[str, Any]:
    """findHistory: ``to_revision``'s ControllerRevision, or the one before the latest (0)."""
    if to_revision == 0:
        if len(revisions) > 1:
            return revisions[-2]
    else:
        for rev in revisions:
            if _int(rev.get("revision")) == to_revision:
                return rev
    raise fail(f"unable to find specified revision {to_revision} in history")


def _semantic(value: Any) -> Any:
    """Templates compared as apiequality.Semantic does for our JSON: empty maps/lists equal absent ones."""
    if isinstance(value, dict):
        return {k: _semantic(v) for k, v in value.items() if v not in (None, {}, [], "")}
    if isinstance(value, list):
        return [_semantic(v) for v in value]
    return value


def without_hash(template: dict[str, Any]) -> dict[str, Any]:
    t = copy.deepcopy(template)
    labels = (t.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(POD_TEMPLATE_HASH, None)
    return t


def undo_patch(d: dict[str, Any], rs: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The JSON patch restoring ``rs``'s template and annotations, or None when the template already matches."""
    template = without_hash((rs.get("spec") or {}).get("template") or {})
    if _semantic(template) == _semantic(without_hash((d.get("spec") or {}).get("template") or {})):
        return None
    current = (d.get("metadata") or {}).get("annotations") or {}
    annotations = {k: v for k, v in current.items() if k in SKIPPED_ANNOTATIONS}
    annotations.update({k: v for k, v in ((rs.get("metadata") or {}).get("annotations") or {}).items()
                        if k not in SKIPPED_ANNOTATIONS})
    return [{"op": "replace", "path": "/spec/template", "value": template},
            {"op": "replace", "path": "/metadata/annotations", "value": annotations}]


def rfc3339_now() -> str:
    """Go's time.Now().Format(time.RFC3339) in the local zone (``Z`` for UTC)."""
    now = datetime.now().astimezone()
    text = now.isoformat(timespec="seconds")
    return text.replace("+00:00", "Z") if now.utcoffset() == UTC.utcoffset(None) else text


@click.group("rollout", invoke_without_command=True)
@click.pass_context
def rollout_cmd(ctx: click.Context) -> None:
    """Manage the rollout of one or many resources (deployments)."""
    if ctx.invoked_subcommand is None:  # kubectl prints the help and fails: a subcommand is required
        click.echo(ctx.get_help())
        raise KctlError("")


async def _deployments(s: Session, args: tuple[str, ...], *, verb: str, unsupported: str,
                       problems: Problems | None = None,
                       kinds: frozenset[tuple[str, str]] = frozenset({("apps", "Deployment")}),
                       ) -> list[tuple[ResourceType, dict[str, Any]]]:
    """The objects named; a kind not in ``kinds`` (Deployment) fails with ``unsupported`` (``{kind}``, ``{ref}``).

    With ``problems``, an object that cannot be read is recorded there and the others are still returned
    (kubectl's ContinueOnError builder); otherwise the first such error is raised.
    """
    await s.discover()
    out: list[tuple[ResourceType, dict[str, Any]]] = []
    for tgt in parse_targets(s, args, verb=f"rollout {verb}").groups:
        if tgt.names is None:
            raise fail("resource(s) were provided, but no name was specified")
        for name in tgt.names:
            try:
                obj = await s.api.get(tgt.rt, name, namespace=s.ns_for(tgt.rt))
            except StatusError as e:
                if problems is None:
                    raise
                problems.add(e)
                continue
            if (tgt.rt.group, tgt.rt.kind) not in kinds:
                raise fail(unsupported.format(kind=tgt.rt.kind, ref=f'{plural_string(tgt.rt)} "{name}"'))
            out.append((tgt.rt, obj))
    return out


async def _revisions(s: Session, obj: dict[str, Any]) -> list[dict[str, Any]]:
    rev_type = s.resolve("controllerrevisions.apps")
    lst = await s.list_all(rev_type, namespace=(obj.get("metadata") or {}).get("namespace"))
    return controlled_revisions(obj, list(lst.get("items") or []))


async def _replica_sets(s: Session, d: dict[str, Any]) -> list[dict[str, Any]]:
    rs_type = s.resolve("replicasets.apps")
    lst = await s.list_all(rs_type, namespace=(d.get("metadata") or {}).get("namespace"))
    return owned_replica_sets(d, list(lst.get("items") or []))


@rollout_cmd.command("status")
@click.argument("args", nargs=-1)
@click.option("-w", "--watch", type=click.BOOL, default=True, help="Watch the status of the rollout until it's done.")
@click.option("--revision", type=int, default=0, help="Pin to a specific revision for showing its status.")
@click.option("--timeout", type=STR, default="0s", help="The length of time to wait before ending watch (0: never).")
@connection_options
def status_cmd(args: tuple[str, ...], watch: bool, revision: int, timeout: str) -> None:
    """Show the status of the rollout, waiting for it to finish unless --watch=false."""
    seconds = parse_duration(timeout)
    if revision < 0:
        raise fail(f"revision must be a positive integer: {revision}")

    async def body(s: Session) -> None:
        found = await _deployments(s, args, verb="status", unsupported="no status viewer has been implemented for "
                                                                       "{kind}", kinds=frozenset(STATUS_VIEWERS))
        rt, d = found[0]
        meta = d.get("metadata") or {}
        viewer = STATUS_VIEWERS[(rt.group, rt.kind)]
        line, done = viewer(d, revision)
        echo(line)
        if done or not watch:
            return

        async def follow() -> None:
            rv = str(meta.get("resourceVersion") or "")
            while True:
                async for etype, obj in s.api.watch(rt, namespace=meta.get("namespace"), resource_version=rv,
                                                    field_selector=f"metadata.name={meta.get('name')}",
                                                    timeout_seconds=300):
                    if etype == "BOOKMARK":
                        rv = str((obj.get("metadata") or {}).get("resourceVersion") or rv)
                        continue
                    if etype == "DELETED":
                        raise fail("object has been deleted")
                    rv = str((obj.get("metadata") or {}).get("resourceVersion") or rv)
                    text, finished = viewer(obj, revision)
                    echo(text)
                    if finished:
                        return

        if seconds > 0:
            try:
                async with asyncio.timeout(seconds):
                    await follow()
            except TimeoutError:
                raise fail("timed out waiting for the condition") from None
        else:
            await follow()

    run(body)


@rollout_cmd.command("history")
@click.argument("args", nargs=-1)
@click.option("--revision", type=int, default=0, help="See the details, including podTemplate of the revision.")
@connection_options
def history_cmd(args: tuple[str, ...], revision: int) -> None:
    """View previous rollout revisions and configurations."""
    async def body(s: Session) -> None:
        found = await _deployments(s, args, verb="history", unsupported='error retrieving history for "{kind}", '
                                                                        "no visitor method exists for {{ {kind}}}",
                                   kinds=HISTORY_KINDS)
        for rt, d in found:
            if (rt.group, rt.kind) in REVISION_KINDS:
                if revision > 0:
                    raise fail("kctl shows the Pod template of a revision for deployments only")
                echo(f"{kind_string(rt)}/{(d.get('metadata') or {}).get('name')} \n"
                     f"{revisions_table(await _revisions(s, d))}\n")
                continue
            sets = await _replica_sets(s, d)
            text = revision_template(sets, revision) if revision > 0 else history_table(sets)
            suffix = f"with revision #{revision}" if revision > 0 else ""
            echo(f"{kind_string(rt)}/{(d.get('metadata') or {}).get('name')} {suffix}\n{text}\n")

    run(body)


@rollout_cmd.command("undo")
@click.argument("args", nargs=-1)
@click.option("--to-revision", type=int, default=0, help="The revision to rollback to. Default to 0 (last revision).")
@connection_options
def undo_cmd(args: tuple[str, ...], to_revision: int) -> None:
    """Roll back to a previous rollout."""
    async def body(s: Session) -> None:
        found = await _deployments(s, args, verb="undo", unsupported='error retrieving rollbacker for "{kind}", '
                                                                     "no visitor method exists for {{ {kind}}}",
                                   kinds=HISTORY_KINDS)
        problems = Problems()
        for rt, d in found:
            meta = d.get("metadata") or {}
            ref = f"{kind_string(rt)}/{meta.get('name')}"
            if to_revision < 0:
                raise fail(f"unable to find specified revision {to_revision} in history")
            if (rt.group, rt.kind) in REVISION_KINDS:
                rev = revision_to_restore(await _revisions(s, d), to_revision)
                data = rev.get("data") or {}
                template = {k: v for k, v in ((data.get("spec") or {}).get("template") or {}).items()
                            if k != "$patch"}
                if _semantic(template) == _semantic((d.get("spec") or {}).get("template") or {}):
                    echo(f"{ref} skipped rollback (current template already matches revision {to_revision})\n")
                    continue
                try:
                    await s.api.patch(rt, str(meta.get("name")), data, namespace=meta.get("namespace"),
                                      patch_type="strategic")
                except Exception as e:  # kubectl wraps whatever the PATCH answered
                    problems.add(fail(f"failed restoring revision {to_revision}: {getattr(e, 'message', e)}"))
                    continue
                echo(f"{ref} rolled back\n")
                continue
            if (d.get("spec") or {}).get("paused"):
                raise fail("you cannot rollback a paused deployment; resume it first with 'kubectl rollout "
                           "resume' and try again")
            rs = rollback_source(d, await _replica_sets(s, d), to_revision)
            patch = undo_patch(d, rs)
            if patch is None:
                echo(f"{ref} skipped rollback (current template already matches revision {to_revision})\n")
                continue
            try:
                await s.api.patch(rt, str(meta.get("name")), patch, namespace=meta.get("namespace"),
                                  patch_type="json")
            except Exception as e:  # kubectl wraps whatever the PATCH answered
                problems.add(fail(f"failed restoring revision {to_revision}: {getattr(e, 'message', e)}"))
                continue
            echo(f"{ref} rolled back\n")
        problems.raise_if_any()

    run(body)


@rollout_cmd.command("restart")
@click.argument("args", nargs=-1)
@connection_options
def restart_cmd(args: tuple[str, ...]) -> None:
    """Restart a deployment: a new restartedAt annotation on its Pod template starts a rollout."""
    async def body(s: Session) -> None:
        found = await _deployments(s, args, verb="restart", unsupported="{ref} restarting is not supported")
        for rt, d in found:
            meta = d.get("metadata") or {}
            if (d.get("spec") or {}).get("paused"):
                raise fail(f'{plural_string(rt)} "{meta.get("name")}" can\'t restart paused deployment (run rollout '
                           "resume first)")
            modified = copy.deepcopy(d)
            tmeta = modified.setdefault("spec", {}).setdefault("template", {}).setdefault("metadata", {})
            tmeta.setdefault("annotations", {})[ANNOTATION_RESTARTED_AT] = rfc3339_now()
            patch = two_way_merge_patch(d, modified, schema=rt.key)
            await s.api.patch(rt, str(meta.get("name")), patch, namespace=meta.get("namespace"),
                              patch_type="strategic", field_manager="kubectl-rollout")
            echo(f"{kind_string(rt)}/{meta.get('name')} restarted\n")

    run(body)


def _pause_command(pause: bool) -> None:
    verb, done = ("pause", "paused") if pause else ("resume", "resumed")

    @rollout_cmd.command(verb, help=f"Mark the provided deployments as {done}.")
    @click.argument("args", nargs=-1)
    @click.option("-o", "--output", type=STR, default=None, help="name")
    @connection_options
    def cmd(args: tuple[str, ...], output: str | None) -> None:
        async def body(s: Session) -> None:
            problems = Problems()
            found = await _deployments(s, args, verb=verb, unsupported="{ref} " + ("pausing" if pause else "resuming")
                                       + " is not supported", problems=problems)
            for rt, d in found:
                meta = d.get("metadata") or {}
                if bool((d.get("spec") or {}).get("paused")) == pause:
                    # kubectl words these "error: ..." itself, so the prefix stays even among several errors
                    text = (f'error: {plural_string(rt)} "{meta.get("name")}" '
                            + ("is already paused" if pause else "is not paused"))
                    problems.add(KctlError(text, text=text))
                    continue
                modified = copy.deepcopy(d)
                modified.setdefault("spec", {})["paused"] = pause
                await s.api.patch(rt, str(meta.get("name")), two_way_merge_patch(d, modified, schema=rt.key),
                                  namespace=meta.get("namespace"), patch_type="strategic",
                                  field_manager="kubectl-rollout")
                echo(f"{kind_string(rt)}/{meta.get('name')}" + ("\n" if output == "name" else f" {done}\n"))
            problems.raise_if_any()

        run(body)


_pause_command(True)
_pause_command(False)
