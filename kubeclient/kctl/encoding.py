"""Objects to text the way kubectl's JSON and YAML printers write them.

Why: ``-o json`` is Go's ``json.MarshalIndent(obj, "", "    ")`` over an
unstructured map (keys sorted, ``<``/``>``/``&`` escaped) and ``-o yaml`` is
sigs.k8s.io/yaml over go-yaml v2 (keys in go-yaml's natural order, strings
that would read back as another type double-quoted, multi-line strings as
``|`` blocks, sequences not indented under their key). Matching those rules
keeps kctl output diffable against kubectl's.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import yaml

_HTML = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def go_json(obj: Any, *, indent: int | None = 4) -> str:
    """json.MarshalIndent (or json.Marshal with ``indent=None``) of a decoded JSON value."""
    if indent is None:
        text = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    else:
        text = json.dumps(obj, sort_keys=True, ensure_ascii=False, indent=indent)
    return re.sub("[<>&\u2028\u2029]", lambda m: _HTML[m.group(0)], text)


# ---- go-yaml v2 -------------------------------------------------------------

_YAML_NONSTR = {
    "", "~", "null", "Null", "NULL",
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
    "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
    ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN",
    "<<",
}
_YAML_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_BASE60 = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
_INT = re.compile(r"^[-+]?(0[bB][01_]+|0[oO]?[0-7_]+|0[xX][0-9a-fA-F_]+|[0-9][0-9_]*)$")
_TIMESTAMP = re.compile(
    r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]*)?"
    r"(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?$"
)


def _reads_as_other_type(s: str) -> bool:
    """go-yaml v2 resolve(""): would this plain scalar read back as something other than a string?"""
    if s in _YAML_NONSTR:
        return True
    if s[:1].isdigit() or s[:1] in "+-.":
        plain = s.replace("_", "") if "_" in s else s
        if _INT.match(s) or _YAML_FLOAT.match(plain) or _TIMESTAMP.match(s) or _BASE60.match(s):
            return True
    return False


def _key_cmp(a: str, b: str) -> int:
    """go-yaml v2 keyList.Less on strings: letters after non-letters, digit runs compared as numbers."""
    for i in range(min(len(a), len(b))):
        ca, cb = a[i], b[i]
        if ca == cb:
            continue
        al, bl = ca.isalpha(), cb.isalpha()
        if al and bl:
            return -1 if ca < cb else 1
        if al or bl:
            return -1 if bl else 1
        an = bn = 0
        if ca == "0" or cb == "0":
            j = i - 1
            while j >= 0 and a[j].isdigit():
                if a[j] != "0":
                    an = bn = 1
                    break
                j -= 1
        ai = i
        while ai < len(a) and a[ai].isdigit():
            an = an * 10 + int(a[ai])
            ai += 1
        bi = i
        while bi < len(b) and b[bi].isdigit():
            bn = bn * 10 + int(b[bi])
            bi += 1
        if an != bn:
            return -1 if an < bn else 1
        if ai != bi:
            return -1 if ai < bi else 1
        return -1 if ca < cb else 1
    return (len(a) > len(b)) - (len(a) < len(b))


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, s: str) -> yaml.ScalarNode:
    if "\n" in s:
        style: str | None = "|"
    elif _reads_as_other_type(s):
        style = '"'
    else:
        style = None
    return dumper.represent_scalar("tag:yaml.org,2002:str", s, style=style)


def _dict(dumper: yaml.SafeDumper, d: dict[Any, Any]) -> yaml.MappingNode:
    keys = sorted(d, key=functools.cmp_to_key(lambda x, y: _key_cmp(str(x), str(y))))
    return dumper.represent_mapping("tag:yaml.org,2002:map", [(k, d[k]) for k in keys])


def _float(dumper: yaml.SafeDumper, f: float) -> yaml.ScalarNode:
    text = repr(f)
    if f == int(f) and abs(f) < 1e21:
        text = str(int(f))
    return dumper.represent_scalar("tag:yaml.org,2002:float", text)


_Dumper.add_representer(str, _str)
_Dumper.add_representer(dict, _dict)
_Dumper.add_representer(float, _float)


def go_yaml(obj: Any) -> str:
    """sigs.k8s.io/yaml.Marshal of a decoded JSON value."""
    text = yaml.dump(obj, Dumper=_Dumper, default_flow_style=False, allow_unicode=True, sort_keys=False,
                     width=80)
    return str(text)
