"""ConfigMap admission: ValidateConfigMap / ValidateConfigMapUpdate (pkg/apis/core/validation).

The kind itself is declared in apimachinery.kinds.configmap.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from apimachinery.errors import FieldError, forbidden, invalid, too_long
from apimachinery.resources import BY_KEY
from apimachinery.validation import DNS1123_SUBDOMAIN_MAX_LENGTH, max_len_error, regex_error
from apiserver.admission.base import Admission, Obj, as_map

# core.MaxSecretSize: data plus binaryData, in bytes
MAX_SIZE = 1024 * 1024
IMMUTABLE = "field is immutable when `immutable` is set"

_KEY_FMT = "[-._a-zA-Z0-9]+"
_KEY_RE = re.compile(_KEY_FMT)
_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"


def is_config_map_key(value: str) -> list[str]:
    """validation.IsConfigMapKey: a file name a volume can project (also Secrets' keys)."""
    errs: list[str] = []
    if len(value.encode("utf-8", "surrogatepass")) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH))
    if not _KEY_RE.fullmatch(value):
        errs.append(regex_error(_KEY_MSG, _KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def _size(value: Any, *, binary: bool) -> int:
    """len() of the Go value: UTF-8 bytes of a string, decoded bytes of binaryData (valid after decoding)."""
    if not isinstance(value, str):
        return 0
    return len(base64.b64decode(value)) if binary else len(value.encode("utf-8", "surrogatepass"))


class ConfigMapAdmission(Admission):
    def __init__(self) -> None:
        super().__init__(BY_KEY["configmaps"])

    def validate_create(self, obj: Obj) -> list[FieldError]:
        data, binary = as_map(obj.get("data")), as_map(obj.get("binaryData"))
        errs: list[FieldError] = []
        total = 0
        for key, value in data.items():
            errs += [invalid(f"data[{key}]", key, m) for m in is_config_map_key(key)]
            if key in binary:
                errs.append(invalid(f"data[{key}]", key, "duplicate of key present in binaryData"))
            total += _size(value, binary=False)
        for key, value in binary.items():
            errs += [invalid(f"binaryData[{key}]", key, m) for m in is_config_map_key(key)]
            total += _size(value, binary=True)
        if total > MAX_SIZE:
            # field.NewPath(""): the error is about the whole object, printed "[]"
            errs.append(too_long("[]", MAX_SIZE))
        return errs

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        if old.get("immutable") is True:
            if obj.get("immutable") is not True:
                errs.append(forbidden("immutable", IMMUTABLE))
            # reflect.DeepEqual of Go maps: a nil map and an empty one differ, as absent and {} do here
            if obj.get("data") != old.get("data"):
                errs.append(forbidden("data", IMMUTABLE))
            if obj.get("binaryData") != old.get("binaryData"):
                errs.append(forbidden("binaryData", IMMUTABLE))
        return errs + self.validate_create(obj)
