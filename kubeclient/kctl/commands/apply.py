"""``kctl apply -f`` (client-side apply) and ``kctl create -f`` / ``create service|namespace``.

apply follows kubectl's apply.go + patcher.go: GET the live object; if it is
missing, POST the manifest with the ``kubectl.kubernetes.io/last-applied-
configuration`` annotation (fieldManager kubectl-client-side-apply);
otherwise send the three-way strategic merge patch between the last-applied
configuration, the new one and the live object (``unchanged`` when it is
empty). Because the annotation and the patch are computed exactly as kubectl
computes them, kubectl and kctl can apply the same objects in turn.

``apply --server-side`` sends the whole object as an apply patch
(fieldManager ``kubectl`` unless ``--field-manager``, ``force`` from
``--force-conflicts``); the server merges it by field ownership and a 409
is printed with kubectl's advice on resolving the conflicts.

create service builds the same Service kubectl's ``create service``
generators build (label and selector ``app=<name>``, ports named after the
``--tcp`` spec with ``:`` turned into ``-``).
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

import click

from apimachinery.errors import StatusError
from apimachinery.labels import ANNOTATION_LAST_APPLIED
from apimachinery.patch import PatchError, three_way_merge_patch
from apimachinery.resources import ResourceType
from kubeclient import errors
from kubeclient.kctl.encoding import go_json
from kubeclient.kctl.failures import KctlError, Problems, aggregate_text, fail
from kubeclient.kctl.manifests import Manifest, read_manifests
from kubeclient.kctl.options import STR, connection_options, echo, echo_err, run
from kubeclient.kctl.printing import Output
from kubeclient.kctl.session import Session, kind_string


class SourcedError(Exception):
    """A server error on the object read from ``source`` (kubectl: ``error when creating "f": ...``)."""

    def __init__(self, exc: StatusError, op: str, source: str) -> None:
        super().__init__(str(exc))
        self.exc = exc
        self.op = op
        self.source = source


def dry_run_suffix(dry_run: str) -> str:
    return {"client": " (dry run)", "server": " (server dry run)"}.get(dry_run, "")


def check_dry_run(value: str | None) -> str:
    v = value or "none"
    if v not in ("none", "client", "server"):
        raise fail(f'Invalid dry-run value ({v}). Must be "none", "server", or "client".')
    return v


def modified_configuration(obj: dict[str, Any]) -> str:
    """GetModifiedConfiguration(annotate=true): the object's JSON carrying its own last-applied annotation."""
    o = copy.deepcopy(obj)
    meta = o.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    annotations.pop(ANNOTATION_LAST_APPLIED, None)
    meta["annotations"] = annotations
    annotations[ANNOTATION_LAST_APPLIED] = go_json(o, indent=None) + "\n"
    meta["annotations"] = annotations
    return go_json(o, indent=None) + "\n"


def prepare(s: Session, m: Manifest) -> tuple[ResourceType, dict[str, Any]]:
    """The manifest's resource type, and the object with its namespace filled in (kubectl's builder)."""
    obj = copy.deepcopy(m.obj)
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise fail(f'error validating "{m.source}": error validating data: metadata must be an object')
    rt = s.for_kind(str(obj.get("apiVersion")), str(obj.get("kind")))
    if rt is None:
        raise fail(f'resource mapping not found for name: "{meta.get("name", "")}" namespace: '
                   f'"{meta.get("namespace", "")}" from "{m.source}": no matches for kind "{obj.get("kind")}" in '
                   f'version "{obj.get("apiVersion")}"\nensure CRDs are installed first')
    if rt.namespaced:
        given = meta.get("namespace")
        if given and s.explicit_namespace and given != s.namespace:
            raise fail(f'the namespace from the provided object "{given}" does not match the namespace '
                       f'"{s.namespace}". You must pass \'--namespace={given}\' to perform this operation.')
        meta["namespace"] = given or s.namespace
    return rt, obj


def _params(field_manager: str, dry_run: str) -> dict[str, str]:
    p = {"fieldManager": field_manager, "fieldValidation": "Strict"}
    if dry_run == "server":
        p["dryRun"] = "All"
    return p


def _line(rt: ResourceType, obj: dict[str, Any], op: str, out: Output) -> str:
    if out.fmt == "name":
        return f"{kind_string(rt)}/{(obj.get('metadata') or {}).get('name')}\n"
    if out.fmt:
        return out.render_objects([obj], single=True)
    return f"{kind_string(rt)}/{(obj.get('metadata') or {}).get('name')} {op}\n"


def json_merge_three_way(original: dict[str, Any] | None, modified: dict[str, Any],
                         current: dict[str, Any]) -> dict[str, Any]:
    """CreateThreeWayJSONMergePatch: what changed from ``current`` to ``modified``, plus nulls for the keys
    ``original`` had and ``modified`` dropped."""

    def changes(cur: Any, mod: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in mod.items():
            c = cur.get(k) if isinstance(cur, dict) else None
            if isinstance(v, dict) and isinstance(c, dict):
                sub = changes(c, v)
                if sub:
                    out[k] = sub
            elif not isinstance(cur, dict) or k not in cur or c != v:
                out[k] = v
        return out

    def deletions(orig: dict[str, Any], mod: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in orig.items():
            if k not in mod:
                out[k] = None
            elif isinstance(v, dict) and isinstance(mod[k], dict):
                sub = deletions(v, mod[k])
                if sub:
                    out[k] = sub
        return out

    def merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        out = dict(a)
        for k, v in b.items():
            out[k] = merge(out[k], v) if isinstance(out.get(k), dict) and isinstance(v, dict) else v
        return out

    return merge(deletions(original or {}, modified), changes(current, modified))


async def apply_one(s: Session, m: Manifest, *, dry_run: str, out: Output,
                    field_manager: str = "kubectl-client-side-apply") -> str:
    rt, obj = prepare(s, m)
    name = str(obj["metadata"].get("name") or "")
    ns = obj["metadata"].get("namespace")
    if not name:
        raise fail(f'error when retrieving current configuration of:\nResource: "{rt.plural}", GroupVersionKind: '
                   f'"{rt.api_version}, Kind={rt.kind}"\nName: "", Namespace: "{ns or ""}"\nfrom server for: '
                   f'"{m.source}": resource name may not be empty')
    modified = json.loads(modified_configuration(obj))
    suffix = dry_run_suffix(dry_run)
    try:
        current = await s.api.get(rt, name, namespace=ns)
    except errors.NotFound:
        if dry_run == "client":
            return _line(rt, modified, "created" + suffix, out)
        path = s.api.path(rt, namespace=ns if rt.namespaced else None)
        try:
            created = await s.api.request("POST", path, body=modified, params=_params(
                field_manager, dry_run))
        except StatusError as e:
            raise SourcedError(e, "creating", m.source) from e
        return _line(rt, json.loads(created.content), "created" + suffix, out)
    if dry_run == "client":
        return _line(rt, current, "configured" + suffix, out)  # kubectl computes no patch in client dry-run
    annotations = (current.get("metadata") or {}).get("annotations") or {}
    original = json.loads(annotations[ANNOTATION_LAST_APPLIED]) if annotations.get(ANNOTATION_LAST_APPLIED) else None
    content_type = "application/strategic-merge-patch+json"
    try:
        patch = three_way_merge_patch(original, modified, current, schema=rt.key)
    except PatchError as e:
        raise fail(f"{e}") from e
    except ValueError:  # no strategic-merge metadata for this type: kubectl falls back to a JSON merge patch
        patch = json_merge_three_way(original, modified, current)
        content_type = "application/merge-patch+json"
    if not patch:
        return _line(rt, current, "unchanged" + suffix, out)
    try:
        resp = await s.api.request("PATCH", s.api.path(rt, namespace=ns, name=name), body=patch,
                                   content_type=content_type,
                                   params=_params(field_manager, dry_run))
        patched = json.loads(resp.content)
    except StatusError as e:
        raise SourcedError(e, "patching", m.source) from e
    return _line(rt, patched, "configured" + suffix, out)


FIELD_MANAGER_CONFLICT = """Please review the fields above--they currently have other managers. Here
are the ways you can resolve this warning:
* If you intend to manage all of these fields, please re-run the apply
  command with the `--force-conflicts` flag.
* If you do not intend to manage all of the fields, please edit your
  manifest to remove references to the fields that should keep their
  current managers.
* You may co-own fields by updating your manifest to match the existing
  value; in this case, you'll become the manager if the other manager(s)
  stop managing the field (remove it from their configuration).
See https://kubernetes.io/docs/reference/using-api/server-side-apply/#conflicts"""


LAST_APPLIED_MANAGER = "kubectl-last-applied"
LAST_APPLIED_PATH = ("f:metadata", "f:annotations", f"f:{ANNOTATION_LAST_APPLIED}")
MIGRATION_RETRIES = 5
WARN_LAST_APPLIED = ("Warning: failed to migrate kubectl.kubernetes.io/last-applied-configuration for Server-Side "
                     "Apply. This is non-fatal and will be retried next time you apply. Error: {}\n")
WARN_MIGRATION = ("Warning: server rejected managed fields migration to Server-Side Apply. This is non-fatal and "
                  "will be retried next time you apply. Error: {}\n")
WARN_REAPPLY = ("Warning: failed to re-apply configuration after performing Server-Side Apply migration. This is "
                "non-fatal and will be retried next time you apply. Error: {}\n")


def fields_owners(managed: list[dict[str, Any]], operation: str, path: tuple[str, ...]) -> list[dict[str, Any]]:
    """csaupgrade.FindFieldsOwners: the managedFields entries of ``operation`` whose set holds ``path``."""
    out = []
    for entry in managed:
        if entry.get("operation") != operation:
            continue
        node: Any = entry.get("fieldsV1") or {}
        for step in path:
            node = node.get(step) if isinstance(node, dict) else None
        if node is not None:
            out.append(entry)
    return out


def _union(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _union(out[k], v) if isinstance(out.get(k), dict) and isinstance(v, dict) else v
    return out


def upgraded_managed_fields(managed: list[dict[str, Any]], csa_manager: str,
                            ssa_manager: str) -> list[dict[str, Any]]:
    """csaupgrade's upgradedManagedFields: ``csa_manager``'s Update sets merged into ``ssa_manager``'s Apply entry
    (the first CSA entry becomes that entry when there is none), the CSA entries dropped."""
    fields = copy.deepcopy(managed)

    def is_csa(e: dict[str, Any]) -> bool:
        return e.get("manager") == csa_manager and e.get("operation") == "Update" and not e.get("subresource")

    target = next((i for i, e in enumerate(fields) if e.get("manager") == ssa_manager and
                   e.get("operation") == "Apply" and not e.get("subresource")), None)
    if target is None:
        target = next((i for i, e in enumerate(fields) if is_csa(e)), None)
        if target is None:
            return fields
        fields[target]["operation"] = "Apply"
        fields[target]["manager"] = ssa_manager
    merged = fields[target].get("fieldsV1") or {}
    for e in fields:
        if is_csa(e):
            merged = _union(merged, e.get("fieldsV1") or {})
    fields[target]["fieldsV1"] = merged
    return [e for e in fields if not is_csa(e)]


def upgrade_managed_fields_patch(obj: dict[str, Any], csa_managers: list[str],
                                 ssa_manager: str) -> list[dict[str, Any]] | None:
    """csaupgrade.UpgradeManagedFieldsPatch: the JSON patch moving CSA ownership to SSA, None when nothing to do.

    The resourceVersion is replaced too so that a concurrent write makes the server answer 409.
    """
    meta = obj.get("metadata") or {}
    managed = list(meta.get("managedFields") or [])
    upgraded = managed
    for name in csa_managers:
        upgraded = upgraded_managed_fields(upgraded, name, ssa_manager)
    if upgraded == managed:
        return None
    return [{"op": "replace", "path": "/metadata/managedFields", "value": upgraded},
            {"op": "replace", "path": "/metadata/resourceVersion", "value": meta.get("resourceVersion")}]


async def _after_server_side_apply(s: Session, path: str, applied: dict[str, Any], *, rt: ResourceType,
                                   field_manager: str, dry_run: str) -> bool:
    """saveLastApplyAnnotationIfNecessary, then migrateToSSAIfNecessary; True when managed fields were migrated.

    Why: an object once client-side applied keeps ``kubectl-client-side-apply`` as the owner of its fields, so
    every later server-side apply would conflict with it; kubectl hands those fields over to its SSA manager
    (and keeps the last-applied annotation under ``kubectl-last-applied`` so a return to client-side apply
    still works). Failures are warnings: the apply itself succeeded.
    """
    meta = applied.get("metadata") or {}
    annotation = (meta.get("annotations") or {}).get(ANNOTATION_LAST_APPLIED)
    if field_manager == "kubectl" and annotation is not None and not fields_owners(
            list(meta.get("managedFields") or []), "Apply", LAST_APPLIED_PATH):
        just_meta: dict[str, Any] = {"name": meta.get("name"), "annotations": {ANNOTATION_LAST_APPLIED: annotation}}
        if rt.namespaced:
            just_meta["namespace"] = meta.get("namespace")
        just_annotation = {"apiVersion": rt.api_version, "kind": rt.kind, "metadata": just_meta}
        try:
            resp = await s.api.request("PATCH", path, body=just_annotation,
                                       content_type="application/apply-patch+yaml",
                                       params=_params(LAST_APPLIED_MANAGER, dry_run))
            applied = json.loads(resp.content)
        except StatusError as e:
            echo_err(WARN_LAST_APPLIED.format(e.message))
            return False
    csa = list(dict.fromkeys(str(e.get("manager")) for e in fields_owners(
        list((applied.get("metadata") or {}).get("managedFields") or []), "Update", LAST_APPLIED_PATH)))
    for _ in range(MIGRATION_RETRIES):
        patch = upgrade_managed_fields_patch(applied, csa, field_manager)
        if patch is None:
            return False
        try:
            await s.api.request("PATCH", path, body=patch, content_type="application/json-patch+json",
                                params=_params(field_manager, dry_run))
            return True
        except errors.Conflict:
            applied = await s.api.get_json(path)
        except StatusError as e:
            echo_err(WARN_MIGRATION.format(e.message))
            return False
    echo_err(WARN_MIGRATION.format("the object kept changing"))
    return False


async def server_side_apply_one(s: Session, m: Manifest, *, dry_run: str, out: Output, field_manager: str,
                                force: bool) -> str:
    """One object through PATCH application/apply-patch+yaml (kubectl's applyOneObject, ServerSideApply)."""
    rt, obj = prepare(s, m)
    name = str(obj["metadata"].get("name") or "")
    ns = obj["metadata"].get("namespace") if rt.namespaced else None
    params = _params(field_manager, dry_run)
    params["force"] = "true" if force else "false"
    path = s.api.path(rt, namespace=ns, name=name)
    try:
        resp = await s.api.request("PATCH", path, body=obj, content_type="application/apply-patch+yaml",
                                   params=params)
    except errors.Conflict as e:
        raise fail(f"{e.message}\n{FIELD_MANAGER_CONFLICT}") from e
    applied = json.loads(resp.content)
    if await _after_server_side_apply(s, path, applied, rt=rt, field_manager=field_manager, dry_run=dry_run):
        try:  # the original apply again, so that fields no longer applied are finally removed
            resp = await s.api.request("PATCH", path, body=obj, content_type="application/apply-patch+yaml",
                                       params=params)
            applied = json.loads(resp.content)
        except StatusError as e:
            echo_err(WARN_REAPPLY.format(e.message))
    return _line(rt, applied, "serverside-applied", out)


async def create_one(s: Session, m: Manifest, *, dry_run: str, out: Output) -> str:
    rt, obj = prepare(s, m)
    if dry_run == "client":
        return _line(rt, obj, "created" + dry_run_suffix(dry_run), out)
    path = s.api.path(rt, namespace=obj["metadata"].get("namespace") if rt.namespaced else None)
    try:
        resp = await s.api.request("POST", path, body=obj, params=_params("kubectl-create", dry_run))
    except StatusError as e:
        raise SourcedError(e, "creating", m.source) from e
    return _line(rt, json.loads(resp.content), "created" + dry_run_suffix(dry_run), out)


def _each(files: tuple[str, ...], recursive: bool, verb: str, dry_run: str, out: Output, *,
          fn: Any) -> None:
    """kubectl's apply/create loop: read everything first (builder errors aggregated), then one object at a time."""
    builder_errs: list[KctlError] = []
    manifests = read_manifests(files, recursive=recursive, verb=verb, errors=builder_errs)

    async def body(s: Session) -> None:
        await s.discover()
        ready: list[Manifest] = []
        for m in manifests:
            try:
                prepare(s, m)
                ready.append(m)
            except KctlError as e:
                builder_errs.append(e)
        problems = Problems()
        if builder_errs:
            problems.add(aggregate_text(builder_errs))
        for m in ready:
            try:
                echo(await fn(s, m, dry_run=dry_run, out=out))
            except SourcedError as e:
                problems.add(e.exc, source_op=e.op, source=e.source)
            except (KctlError, StatusError) as e:
                problems.add(e)
        problems.raise_if_any()

    run(body)


_file_opts = [
    click.option("-f", "--filename", "filenames", type=STR, multiple=True,
                 help="Files, directories or - (stdin) with the configuration."),
    click.option("-R", "--recursive", is_flag=True, help="Process the directory used in -f recursively."),
    click.option("--dry-run", type=STR, default=None, help='Must be "none", "server", or "client".'),
    click.option("-o", "--output", type=STR, default=None, help="name|json|yaml"),
]


def _with_file_opts(f: Any) -> Any:
    for opt in reversed(_file_opts):
        f = opt(f)
    return f


@click.command("apply")
@_with_file_opts
@click.option("--server-side", is_flag=True, help="If true, apply runs in the server instead of the client.")
@click.option("--field-manager", type=STR, default=None, help="Name of the manager used to track field ownership.")
@click.option("--force-conflicts", is_flag=True,
              help="If true, server-side apply will force the changes against conflicts.")
@connection_options
def apply_cmd(filenames: tuple[str, ...], recursive: bool, dry_run: str | None, output: str | None,
              server_side: bool, field_manager: str | None, force_conflicts: bool) -> None:
    """Apply a configuration to a resource by file name or stdin."""
    dr = check_dry_run(dry_run)
    if force_conflicts and not server_side:
        raise fail("--force-conflicts only works with --server-side")
    if server_side and dr == "client":
        raise fail("--dry-run=client doesn't work with --server-side (did you mean --dry-run=server instead?)")
    if not filenames:
        raise fail("must specify one of -f and -k")
    if server_side:
        fn: Any = functools.partial(server_side_apply_one, field_manager=field_manager or "kubectl",
                                    force=force_conflicts)
    else:
        fn = functools.partial(apply_one, field_manager=field_manager or "kubectl-client-side-apply")
    _each(filenames, recursive, "apply", dr, Output.parse(output), fn=fn)


@click.group("create", invoke_without_command=True)
@_with_file_opts
@connection_options
@click.pass_context
def create_cmd(ctx: click.Context, filenames: tuple[str, ...], recursive: bool, dry_run: str | None,
               output: str | None) -> None:
    """Create a resource from a file or from stdin, or a Service/Namespace by name."""
    if ctx.invoked_subcommand is not None:
        return
    if not filenames:
        raise fail("must specify one of -f and -k")
    _each(filenames, recursive, "create", check_dry_run(dry_run), Output.parse(output), fn=create_one)


def parse_tcp(spec: str) -> dict[str, Any]:
    """``port[:targetPort]`` into a ServicePort named after the spec (``8080:80`` -> ``8080-80``)."""
    port_s, _, target_s = spec.partition(":")
    try:
        port = int(port_s)
    except ValueError as e:
        raise fail(f'strconv.Atoi: parsing "{port_s}": invalid syntax') from e
    target: int | str = port
    if target_s:
        target = int(target_s) if target_s.isdigit() else target_s
    return {"name": spec.replace(":", "-"), "port": port, "protocol": "TCP", "targetPort": target}


def service_object(name: str, svc_type: str, *, tcp: tuple[str, ...], cluster_ip: str | None = None,
                   node_port: int = 0, external_name: str = "") -> dict[str, Any]:
    """The Service kubectl's ``create service <type>`` sends."""
    ports = [parse_tcp(t) for t in tcp]
    for p in ports:
        if node_port:
            p["nodePort"] = node_port
    spec: dict[str, Any] = {"ports": ports, "selector": {"app": name}, "type": svc_type}
    if external_name:
        spec["externalName"] = external_name
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
    if not ports:
        del spec["ports"]
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"labels": {"app": name}, "name": name},
            "spec": spec}


def _create_object(obj: dict[str, Any], *, dry_run: str | None, output: str | None, plural: str) -> None:
    dr = check_dry_run(dry_run)
    out = Output.parse(output)

    async def body(s: Session) -> None:
        await s.discover()
        rt = s.resolve(plural)
        if dr == "client":
            echo(_line(rt, obj, "created" + dry_run_suffix(dr), out))
            return
        path = s.api.path(rt, namespace=s.namespace if rt.namespaced else None)
        resp = await s.api.request("POST", path, body=obj, params=_params("kubectl-create", dr))
        echo(_line(rt, json.loads(resp.content), "created" + dry_run_suffix(dr), out))

    run(body)


@create_cmd.group("service", invoke_without_command=False)
def create_service() -> None:
    """Create a Service using a specified subcommand."""


def _svc_command(svc_type: str, sub: str) -> None:
    @create_service.command(sub, help=f"Create a {svc_type} service.")
    @click.argument("name")
    @click.option("--tcp", type=STR, multiple=True, help="Port pairs: <port>:<targetPort>.")
    @click.option("--clusterip", type=STR, default=None, help="Assign your own ClusterIP or 'None'.")
    @click.option("--node-port", type=int, default=0, help="Port used to expose the service on each node.")
    @click.option("--external-name", type=STR, default="", help="External name of the service.")
    @click.option("--dry-run", type=STR, default=None)
    @click.option("-o", "--output", type=STR, default=None)
    @connection_options
    def cmd(name: str, tcp: tuple[str, ...], clusterip: str | None, node_port: int, external_name: str,
            dry_run: str | None, output: str | None) -> None:
        if svc_type == "ExternalName" and not external_name:
            raise fail("external name must be specified")
        if svc_type != "ExternalName" and not tcp and clusterip != "None":
            raise fail("at least one tcp port specifier must be provided")
        obj = service_object(name, svc_type, tcp=tcp, cluster_ip=clusterip,
                             node_port=node_port if svc_type == "NodePort" else 0, external_name=external_name)
        _create_object(obj, dry_run=dry_run, output=output, plural="services")


for _t, _sub in (("ClusterIP", "clusterip"), ("NodePort", "nodeport"), ("LoadBalancer", "loadbalancer"),
                 ("ExternalName", "externalname")):
    _svc_command(_t, _sub)


@create_cmd.command("namespace")
@click.argument("name")
@click.option("--dry-run", type=STR, default=None)
@click.option("-o", "--output", type=STR, default=None)
@connection_options
def create_namespace(name: str, dry_run: str | None, output: str | None) -> None:
    """Create a namespace with the specified name."""
    _create_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
                   dry_run=dry_run, output=output, plural="namespaces")
