"""The three PATCH bodies kube-apiserver accepts, and the patch kubectl apply computes.

Why: ``kubectl label``/``annotate`` send JSON merge patches, ``kubectl patch
--type json`` sends RFC 6902 operations, ``kubectl edit`` and client-side
``kubectl apply`` send strategic merge patches. Each must land exactly as on
kube-apiserver, or server-set fields (clusterIP, nodePort) are lost and
scripts that parse errors break.

Sources (read, then rewritten): k8s.io/apimachinery/pkg/util/strategicpatch
(patch.go, v1.32..v1.36), pkg/util/mergepatch/errors.go,
k8s.io/apiserver/pkg/endpoints/handlers/patch.go and gopkg.in/evanphx/json-patch.v4
(what kube-apiserver links for RFC 6902 / RFC 7386).

Invariants:
- no function mutates its arguments and no result shares a container with them;
- server-side functions (:func:`merge_patch`, :func:`json_patch`,
  :func:`strategic_merge_patch`) fail only with :class:`StatusError`, carrying
  the code, reason and message kube-apiserver answers with;
- client-side functions (:func:`three_way_merge_patch`,
  :func:`two_way_merge_patch`) fail with :class:`PatchError` carrying Go's text.

Layout: ``common`` (vocabulary, errors, struct tags, Go value text), ``merge`` (RFC 7386),
``operations`` (RFC 6902), ``strategic`` (apply) and ``diff`` (what kubectl computes).
"""

from __future__ import annotations

from apimachinery.patch.common import (
    DELETE,
    DELETE_FROM_PRIMITIVE_LIST,
    DIRECTIVE,
    MAX_JSON_PATCH_OPERATIONS,
    MERGE,
    PATCH_METADATA,
    REPLACE,
    RETAIN_KEYS,
    SET_ELEMENT_ORDER,
    PatchError,
    PatchMeta,
    json_type,
)
from apimachinery.patch.diff import three_way_merge_patch, two_way_merge_patch
from apimachinery.patch.merge import merge_patch
from apimachinery.patch.operations import json_patch
from apimachinery.patch.strategic import check_strategic_patch, strategic_merge_patch

__all__ = [
    "DELETE",
    "DELETE_FROM_PRIMITIVE_LIST",
    "DIRECTIVE",
    "MAX_JSON_PATCH_OPERATIONS",
    "MERGE",
    "PATCH_METADATA",
    "REPLACE",
    "RETAIN_KEYS",
    "SET_ELEMENT_ORDER",
    "PatchError",
    "PatchMeta",
    "check_strategic_patch",
    "json_patch",
    "json_type",
    "merge_patch",
    "strategic_merge_patch",
    "three_way_merge_patch",
    "two_way_merge_patch",
]
