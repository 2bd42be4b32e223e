"""Command-line resource arguments (``svc a b``, ``svc,po``, ``svc/a po/b``, ``all``) as kubectl's builder reads them.

Why: every verb that names objects (get, describe, delete, label, annotate,
wait) accepts the same argument shapes with the same errors; this is
ResourceTypeOrNameArgs from cli-runtime's resource.Builder, resolving type
names through the discovery-backed mapper.
"""

from __future__ import annotations

from dataclasses import dataclass

from apimachinery.resources import ResourceType
from kubeclient.kctl.failures import fail
from kubeclient.kctl.session import Session


@dataclass(frozen=True)
class Target:
    """One resource type and the names asked for (None: every object, filtered by selectors)."""

    rt: ResourceType
    names: tuple[str, ...] | None


@dataclass(frozen=True)
class Targets:
    groups: tuple[Target, ...]
    multiple_types: bool  # kubectl then prints "kind/name" in tables
    single_item: bool  # exactly one TYPE NAME: -o json/yaml print the object, not a List


def parse_targets(session: Session, args: tuple[str, ...] | list[str], *, verb: str = "get") -> Targets:
    args = [a for a in args if a]
    if not args:
        raise fail("Required resource not specified.\nUse \"kctl explain <resource>\" for a detailed description "
                   f"of that resource (e.g. kctl explain pods).\nSee 'kctl {verb} -h' for help and examples")
    if any("/" in a for a in args):
        groups: list[Target] = []
        for a in args:
            if "/" not in a:
                raise fail("there is no need to specify a resource type as a separate argument when passing "
                           f"arguments in resource/name form (e.g. 'kctl {verb} resource/<resource_name>' instead "
                           f"of 'kctl {verb} resource resource/<resource_name>'")
            type_name, _, name = a.partition("/")
            if not name:
                raise fail("arguments in resource/name form must have a single resource and name")
            rt = session.resolve(type_name)
            if groups and groups[-1].rt == rt and groups[-1].names is not None:
                groups[-1] = Target(rt, (*groups[-1].names, name))
            else:
                groups.append(Target(rt, (name,)))
        distinct = {g.rt for g in groups}
        single = len(groups) == 1 and len(groups[0].names or ()) == 1
        return Targets(tuple(groups), len(distinct) > 1, single)
    types_arg, names = args[0], tuple(args[1:])
    rts = session.expand(types_arg)
    category = any(session.match(p) is None for p in types_arg.split(",") if p)
    groups = [Target(rt, names or None) for rt in rts]
    single = len(rts) == 1 and len(names) == 1 and not category
    return Targets(tuple(groups), len(rts) > 1 or category, single)
