"""The shape of a kind's declaration: what every module in apimachinery.kinds fills in.

Why: everything true of one kind (its REST identity, its registry strategy
flags, where its tagged structs sit, its Go zero value, how kubectl prints it)
is declared once, next to each other, in ``apimachinery/kinds/<kind>.py``,
as Kubernetes keeps it in ``pkg/registry/<group>/<kind>/strategy.go``. The
server's generic code (registry, apply, tables, discovery, OpenAPI) reads
these declarations; it has no branch on a kind's name.

Invariant: this module is pure data (no I/O, nothing registered at import).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from types import MappingProxyType
from typing import Any

from apimachinery.selectors import FieldReader, selectable_fields


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    # The kind's GetAttrs/ToSelectableFields: each field a fieldSelector may name, besides
    # metadata.name/metadata.namespace, with how its value reads (apimachinery.selectors.field_at...).
    selectable_fields: tuple[tuple[str, FieldReader], ...] = ()
    verbs: tuple[str, ...] = field(
        default=("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
    )
    # Facts of the kind's registry strategy in kube-apiserver:
    # AllowCreateOnUpdate: a PUT of a missing object creates it.
    allow_create_on_update: bool = False
    # AllowUnconditionalUpdate: an update whose metadata.resourceVersion is "" or "0" writes over
    # whatever is stored; when False it is a 422 ("must be specified for an update").
    allow_unconditional_update: bool = True
    # Spec fields kube-apiserver fills while creating the object and kubelite's controllers fill a
    # moment later (ClusterIPs, node ports): filling one that was empty is not a spec change, so it
    # does not bump metadata.generation. Dotted paths; ``[]`` walks every element of a list.
    filled_after_create: tuple[str, ...] = ()
    # ReturnDeletedObject: DELETE answers the deleted object rather than a success Status.
    return_deleted: bool = False
    # DefaultGarbageCollectionPolicy honoured through finalizers: DELETE with propagationPolicy
    # Orphan/Foreground adds the "orphan" / "foregroundDeletion" finalizer
    # (deletionFinalizersForGarbageCollection); controllers/gc.py removes it when done.
    gc_finalizers: bool = False
    # Graceful deletion (the pod strategy's CheckGracefulDelete): a DELETE of a scheduled, not
    # finished object sets deletionTimestamp + grace and leaves the removal to its node.
    graceful_deletion: bool = False
    # The namespace lifecycle: DELETE marks the object Terminating (status.phase) and the server's
    # namespace cleanup empties it, then removes it.
    terminating_on_delete: bool = False
    # spec.selector is a label map (map[string]string, core/v1 ReplicationController), not a
    # metav1.LabelSelector: the Scale's status.selector and kubectl's views read it as matchLabels.
    map_selector: bool = False

    @cached_property
    def field_readers(self) -> Mapping[str, FieldReader]:
        """Every field a fieldSelector on this resource may name -> its reader (ObjectMeta's first)."""
        return MappingProxyType(selectable_fields(self.selectable_fields))

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def key(self) -> str:
        """Storage key of the resource: ``services``, ``leases.coordination.k8s.io``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def url_prefix(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"


# --- strategic-merge tags (the patchStrategy / patchMergeKey struct tags) ----------------------------

MERGE = "merge"


@dataclass(frozen=True)
class PatchMeta:
    """The strategic-merge tags of one field.

    ``strategy`` is ``merge`` (lists merged by ``merge_key``, or as a set for
    primitives), ``replace`` or empty (maps merge key by key, lists are
    replaced whole). ``retain_keys`` is the ``retainKeys`` strategy.
    """

    strategy: str = ""
    merge_key: str = ""
    retain_keys: bool = False


def merge(key: str = "", *, retain_keys: bool = False) -> PatchMeta:
    """``patchStrategy:"merge"`` (with ``patchMergeKey:key``), optionally plus ``retainKeys``."""
    return PatchMeta(MERGE, key, retain_keys)


#: Where ObjectMeta sits: every kind has it.
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


# --- printing (the kind's TableConvertor) ------------------------------------------------------------

Column = tuple[str, str, str, str, int]  # name, type, format, description, priority
Cells = Callable[[dict[str, Any], datetime], list[Any]]  # one object's row, given the time ages count to


@dataclass(frozen=True)
class Printer:
    """kube-apiserver's printers.go entry for a kind: TableColumnDefinitions and the row of one object.

    ``conditions``, when set, gives a row's conditions (a finished Pod's ``Completed``), or None.
    """

    columns: tuple[Column, ...]
    cells: Cells
    conditions: Callable[[dict[str, Any]], list[dict[str, str]] | None] | None = None


_NO_ZERO: Mapping[str, Any] = MappingProxyType({})
_METADATA_ONLY: Mapping[str, str] = MappingProxyType({"metadata": OBJECT_META})


# --- the declaration ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """Everything declared about one kind; ``apimachinery.kinds.KINDS`` lists them.

    ``structs``: where the kind's tagged structs sit, dotted path (list items
    add no component: ``spec.containers``) -> OpenAPI definition name; the
    strategic-merge tags of those structs' fields (apimachinery.kinds.tags)
    become the kind's patch metadata, ``spec.containers.ports``.
    ``schema``: the dotted name of the kind's pydantic model (module path,
    then class); apimachinery.schemas derives ``MODELS`` from it. A name,
    not the class: importing the kinds must not import pydantic and every
    schema module (clients and controllers read the kinds, only the server
    decodes), and apimachinery.schemas reads the kinds, so a class reference
    here would be an import circle.
    ``zero``: top-level fields of the Go zero value beyond ``metadata`` and
    an empty ``spec``/``status`` (what a create's "old" object is for
    managedFields). ``printer``: the Table columns, or None for kube's
    default NAME/CREATED AT.
    """

    resource: ResourceType
    schema: str
    structs: Mapping[str, str] = field(default_factory=lambda: _METADATA_ONLY)
    zero: Mapping[str, Any] = field(default_factory=lambda: _NO_ZERO)
    printer: Printer | None = None
