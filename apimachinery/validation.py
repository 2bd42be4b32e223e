"""Name, label, IP and ObjectMeta validation with kube-apiserver's wording.

Why: users (and kubectl) see these strings verbatim in 422 responses, so every
message is copied from k8s.io/apimachinery (pkg/util/validation,
pkg/api/validate/content, pkg/api/validation) rather than paraphrased.

Conventions kept from Go:
- the ``is_*`` checks return a list of detail strings, empty when valid;
- lengths are measured in UTF-8 bytes (Go's ``len``);
- regular expressions must match the whole value (Go's ``^...$`` in RE2 never
  matches before a trailing newline, so ``re.fullmatch`` is the equivalent).
"""

from __future__ import annotations

import ipaddress
import json
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apimachinery.errors import FieldError, forbidden, invalid, required, too_long

IPAddr = ipaddress.IPv4Address | ipaddress.IPv6Address
NameValidator = Callable[[str], list[str]]

FIELD_IMMUTABLE = "field is immutable"
IS_NEGATIVE = "must be greater than or equal to 0"
TOTAL_ANNOTATION_SIZE_LIMIT_B = 256 * (1 << 10)
NOT_FOUND = ("FieldValueNotFound", "Not found")

DNS1123_LABEL_MAX_LENGTH = 63
DNS1123_SUBDOMAIN_MAX_LENGTH = 253
DNS1035_LABEL_MAX_LENGTH = 63
LABEL_VALUE_MAX_LENGTH = 63
LABEL_KEY_MAX_LENGTH = 63

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_LABEL_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
    "start with an alphabetic character, and end with an alphanumeric character"
)
_LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_KEY_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
)
_LABEL_VALUE_FMT = "(" + _LABEL_KEY_FMT + ")?"
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)

_DNS1123_LABEL_RE = re.compile(_DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN_RE = re.compile(_DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL_RE = re.compile(_DNS1035_LABEL_FMT)
_LABEL_KEY_RE = re.compile(_LABEL_KEY_FMT)
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE_FMT)
_PORT_NAME_CHARSET_RE = re.compile("[-a-z0-9]+")
_PORT_NAME_ONE_LETTER_RE = re.compile("[a-z]")

INVALID_IP = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
INVALID_CIDR = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"


# ---------------------------------------------------------------------------
# Message builders (validation.MaxLenError & co.)
# ---------------------------------------------------------------------------


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def empty_error() -> str:
    return "must be non-empty"


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    if not examples:
        return msg + " (regex used for validation is '" + fmt + "')"
    # Go appends "'x', " per example joined by " or ", hence the double space.
    msg += " (e.g. " + " or ".join("'" + e + "', " for e in examples)
    return msg + "regex used for validation is '" + fmt + "')"


def _blen(value: str) -> int:
    return len(value.encode("utf-8", "surrogatepass"))


# ---------------------------------------------------------------------------
# String formats
# ---------------------------------------------------------------------------


def is_dns1123_label(value: str) -> list[str]:
    errs: list[str] = []
    if _blen(value) > DNS1123_LABEL_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_LABEL_MAX_LENGTH))
    if not _DNS1123_LABEL_RE.fullmatch(value):
        if _DNS1123_SUBDOMAIN_RE.fullmatch(value):
            # a valid subdomain but not a label: length was checked, so it has dots
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    errs: list[str] = []
    if _blen(value) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH))
    if not _DNS1123_SUBDOMAIN_RE.fullmatch(value):
        errs.append(regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    errs: list[str] = []
    if _blen(value) > DNS1035_LABEL_MAX_LENGTH:
        errs.append(max_len_error(DNS1035_LABEL_MAX_LENGTH))
    if not _DNS1035_LABEL_RE.fullmatch(value):
        errs.append(regex_error(_DNS1035_LABEL_MSG, _DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def is_qualified_name(value: str) -> list[str]:
    """content.IsLabelKey: ``[prefix/]name``, used for label and annotation keys."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part " + empty_error())
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return [
            "a valid label key "
            + regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part " + empty_error())
    elif _blen(name) > LABEL_KEY_MAX_LENGTH:
        errs.append("name part " + max_len_error(LABEL_KEY_MAX_LENGTH))
    if not _LABEL_KEY_RE.fullmatch(name):
        errs.append("name part " + regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc"))
    return errs


def is_valid_label_value(value: str) -> list[str]:
    errs: list[str] = []
    if _blen(value) > LABEL_VALUE_MAX_LENGTH:
        errs.append(max_len_error(LABEL_VALUE_MAX_LENGTH))
    if not _LABEL_VALUE_RE.fullmatch(value):
        errs.append(regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def is_valid_port_name(port: str) -> list[str]:
    """IANA_SVC_NAME: at most 15 chars of [-a-z0-9], one letter, no ``--``, no edge hyphen."""
    errs: list[str] = []
    if _blen(port) > 15:
        errs.append(max_len_error(15))
    if not _PORT_NAME_CHARSET_RE.fullmatch(port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _PORT_NAME_ONE_LETTER_RE.search(port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_valid_port_num(port: int) -> list[str]:
    if 1 <= port <= 65535:
        return []
    return [inclusive_range_error(1, 65535)]


def is_in_range(value: int, lo: int, hi: int) -> list[str]:
    return [] if lo <= value <= hi else [inclusive_range_error(lo, hi)]


def is_valid_path_segment_name(name: str) -> list[str]:
    """path.IsValidPathSegmentName: what every stored name must satisfy."""
    for bad in (".", ".."):
        if name == bad:
            return [f"may not be '{bad}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


def is_relaxed_env_var_name(value: str) -> list[str]:
    errs: list[str] = []
    if not value:
        errs.append("environment variable name " + empty_error())
    if any(ord(c) > 0x7E or ord(c) < 0x20 or c == "=" for c in value):
        errs.append("a valid environment variable name must consist only of printable ASCII characters other than '='")
    return errs


def is_http_header_name(value: str) -> list[str]:
    if re.fullmatch("[-A-Za-z0-9]+", value):
        return []
    return [regex_error("a valid HTTP header must consist of alphanumeric characters or '-'", "[-A-Za-z0-9]+",
                        "X-Header-Name")]


# ---------------------------------------------------------------------------
# IP addresses and CIDRs (netutils.ParseIPSloppy and netip strictness)
# ---------------------------------------------------------------------------


def _dtoi(s: str) -> int | None:
    if not s or not s.isascii() or not s.isdigit():
        return None
    n = int(s)
    return n if n < 0xFFFFFF else None


def _parse_ipv4_sloppy(value: str) -> ipaddress.IPv4Address | None:
    parts = value.split(".")
    if len(parts) != 4:
        return None
    octets = [_dtoi(p) for p in parts]
    if any(o is None or o > 255 for o in octets):
        return None
    return ipaddress.IPv4Address(".".join(str(o) for o in octets))


def parse_ip_sloppy(value: str) -> IPAddr | None:
    """Go's legacy parser: IPv4 octets may carry leading zeros; no IPv6 zones."""
    if not value or "%" in value or not value.isascii():
        return None
    if ":" not in value:
        return _parse_ipv4_sloppy(value)
    try:
        return ipaddress.IPv6Address(value)
    except ValueError:
        pass
    head, _, tail = value.rpartition(":")
    if "." in tail:
        v4 = _parse_ipv4_sloppy(tail)
        if v4 is not None:
            try:
                return ipaddress.IPv6Address(f"{head}:{v4}")
            except ValueError:
                return None
    return None


def _strict_ip(value: str) -> IPAddr | None:
    """netip.ParseAddr without zones: rejects IPv4 leading zeros."""
    if not value or "%" in value or not value.isascii():
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def ip_string(ip: IPAddr) -> str:
    """net.IP.String(): IPv4-mapped IPv6 prints as dotted IPv4."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def is_valid_ip(value: str) -> list[str]:
    """IsValidIPForLegacyField(strict=false): any address Go's sloppy parser accepts."""
    return [] if parse_ip_sloppy(value) is not None else [INVALID_IP]


def is_canonical_ip(value: str) -> list[str]:
    """IsValidIP (strict): parseable, no leading 0s, not 4-in-6, and canonical."""
    ip = parse_ip_sloppy(value)
    if ip is None:
        return [INVALID_IP]
    errs: list[str] = []
    strict = _strict_ip(value)
    if strict is None:
        errs.append("must not have leading 0s")
    if isinstance(strict, ipaddress.IPv6Address) and strict.ipv4_mapped is not None:
        errs.append("must not be an IPv4-mapped IPv6 address")
    if errs:
        return errs
    canonical = ip_string(ip)
    if value != canonical:
        errs.append(f'must be in canonical form ("{canonical}")')
    return errs


def is_valid_ipv4_address(value: str) -> list[str]:
    ip = parse_ip_sloppy(value)
    if ip is None or (isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None):
        return ["must be a valid IPv4 address"]
    return []


def is_valid_ipv6_address(value: str) -> list[str]:
    ip = parse_ip_sloppy(value)
    if ip is None or isinstance(ip, ipaddress.IPv4Address) or ip.ipv4_mapped is not None:
        return ["must be a valid IPv6 address"]
    return []


def is_ipv6(value: str) -> bool:
    """netutils.IsIPv6String."""
    ip = parse_ip_sloppy(value)
    return isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None


def non_special_ip_errors(value: str) -> list[str]:
    """ValidateNonSpecialIP: no unspecified, loopback or link-local addresses."""
    ip = parse_ip_sloppy(value)
    if ip is None:
        return ["must be a valid IP address"]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    errs: list[str] = []
    if ip.is_unspecified:
        errs.append(f"may not be unspecified ({value})")
    if ip.is_loopback:
        errs.append("may not be in the loopback range (127.0.0.0/8, ::1/128)")
    if ip.is_link_local:
        errs.append("may not be in the link-local range (169.254.0.0/16, fe80::/10)")
    link_local_multicast = (
        ip in ipaddress.IPv4Network("224.0.0.0/24")
        if isinstance(ip, ipaddress.IPv4Address)
        else ip.packed[0] == 0xFF and ip.packed[1] & 0x0F == 0x02
    )
    if link_local_multicast:
        errs.append("may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")
    return errs


def parse_cidr_sloppy(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    addr, slash, bits_s = value.partition("/")
    bits = _dtoi(bits_s) if slash else None
    ip = parse_ip_sloppy(addr)
    if ip is None or bits is None or bits > ip.max_prefixlen:
        return None
    return ipaddress.ip_network(f"{ip}/{bits}", strict=False)


def is_valid_cidr(value: str) -> list[str]:
    """IsValidCIDRForLegacyField(strict=false)."""
    return [] if parse_cidr_sloppy(value) is not None else [INVALID_CIDR]


def is_canonical_cidr(value: str) -> list[str]:
    """IsValidCIDR (strict): a subnet in canonical form, for new fields like ServiceCIDR."""
    net = parse_cidr_sloppy(value)
    if net is None:
        return [INVALID_CIDR]
    addr_s, _, bits_s = value.partition("/")
    strict = _strict_ip(addr_s)
    if strict is None or (len(bits_s) > 1 and bits_s[0] == "0"):
        return ["must not have leading 0s in IP or prefix length"]
    if isinstance(strict, ipaddress.IPv6Address) and strict.ipv4_mapped is not None:
        return ["must not have an IPv4-mapped IPv6 address"]
    if strict != net.network_address:
        return ["must not have bits set beyond the prefix length"]
    if value != str(net):
        return [f'must be in canonical form ("{net}")']
    return []


def is_dual_stack(values: list[str], *, cidrs: bool = False) -> bool:
    """netutils.IsDualStack{IP,CIDR}Strings: at least one of each family."""
    fams: set[bool] = set()
    for v in values:
        if cidrs:
            net = parse_cidr_sloppy(v)
            if net is None:
                return False
            fams.add(net.version == 6)
        else:
            fams.add(is_ipv6(v))
    return fams == {True, False}


def validate_fqdn(path: str, name: str) -> list[FieldError]:
    """IsFullyQualifiedDomainName: two or more labels, an optional trailing dot."""
    if not name:
        return [required(path)]
    name = name.removesuffix(".")
    if errs := is_dns1123_subdomain(name):
        return [invalid(path, name, ",".join(errs))]
    labels = name.split(".")
    if len(labels) < 2:
        return [invalid(path, name, "should be a domain with at least two segments separated by dots")]
    for label in labels:
        if errs := is_dns1123_label(label):
            return [invalid(path, label, ",".join(errs))]
    return []


# ---------------------------------------------------------------------------
# Name validators (apimachinery/pkg/api/validation.ValidateNameFunc)
# ---------------------------------------------------------------------------


def mask_trailing_dash(name: str) -> str:
    """generateName may end in '-': validate it as if a letter followed (Go's maskTrailingDash)."""
    return name[:-2] + "a" if name.endswith("-") else name


def name_is_dns_subdomain(name: str) -> list[str]:
    return is_dns1123_subdomain(name)


def name_is_dns_label(name: str) -> list[str]:
    return is_dns1123_label(name)


def name_is_dns1035_label(name: str) -> list[str]:
    return is_dns1035_label(name)


def name_is_path_segment(name: str) -> list[str]:
    return is_valid_path_segment_name(name)


def name_is_canonical_ip(name: str) -> list[str]:
    return is_canonical_ip(name)


_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def generate_name(base: str) -> str:
    """names.SimpleNameGenerator: base cut to 58 bytes plus five random characters."""
    base = base[:58]
    return base + "".join(random.choice(_NAME_CHARS) for _ in range(5))


# ---------------------------------------------------------------------------
# Rendering Go values inside messages
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GoValue:
    """A bad value already rendered the way Go's ``%#v``/``String()`` prints it."""

    text: str

    def __str__(self) -> str:
        return self.text


def go_time(value: Any) -> Any:
    """metav1.Time as field.Error prints it: time.Time.String() (``2024-01-02 03:04:05 +0000 UTC``)."""
    if value is None:
        return None
    if not isinstance(value, str):
        return value
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    offset = t.utcoffset()
    zone = "+0000 UTC" if offset is None or not offset.total_seconds() else t.strftime("%z")
    frac = f".{t.microsecond:06d}".rstrip("0") if t.microsecond else ""
    return GoValue(t.strftime("%Y-%m-%d %H:%M:%S") + frac + " " + zone)


def go_string_list(values: list[Any], type_name: str = "string") -> GoValue:
    return GoValue(f"[]{type_name}{{" + ", ".join(json.dumps(str(v)) for v in values) + "}")


# ---------------------------------------------------------------------------
# Labels, annotations, finalizers, owner references
# ---------------------------------------------------------------------------


def validate_label_name(name: str, path: str) -> list[FieldError]:
    return [invalid(path, name, m) for m in is_qualified_name(name)]


def validate_labels(labels: Any, path: str) -> list[FieldError]:
    """metav1 ValidateLabels: every error is reported at the map's path, not per key."""
    errs: list[FieldError] = []
    if not isinstance(labels, Mapping):
        return errs
    for k, v in labels.items():
        errs.extend(validate_label_name(str(k), path))
        value = v if isinstance(v, str) else str(v)
        errs.extend(invalid(path, value, m) for m in is_valid_label_value(value))
    return errs


def validate_annotations(annotations: Any, path: str) -> list[FieldError]:
    """Keys are qualified names compared case-insensitively; keys+values total at most 256 KiB."""
    errs: list[FieldError] = []
    if not isinstance(annotations, Mapping):
        return errs
    total = 0
    for k, v in annotations.items():
        key = str(k)
        errs.extend(invalid(path, key, m) for m in is_qualified_name(key.lower()))
        total += _blen(key) + _blen(v if isinstance(v, str) else str(v))
    if total > TOTAL_ANNOTATION_SIZE_LIMIT_B:
        errs.append(too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT_B))
    return errs


def validate_finalizers(finalizers: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not isinstance(finalizers, list):
        return errs
    for f in finalizers:
        errs.extend(invalid(path, f, m) for m in is_qualified_name(str(f)))
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        errs.append(invalid(path, go_string_list(finalizers),
                            "finalizer orphan and foregroundDeletion cannot be both set"))
    return errs


def validate_owner_references(refs: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not isinstance(refs, list):
        return errs
    first_controller = ""
    for ref in refs:
        if not isinstance(ref, Mapping):
            continue
        api_version = str(ref.get("apiVersion") or "")
        kind = str(ref.get("kind") or "")
        group, _, version = api_version.rpartition("/")
        if not version:
            errs.append(invalid(f"{path}.apiVersion", api_version, "version must not be empty"))
        if not kind:
            errs.append(invalid(f"{path}.kind", kind, "must not be empty"))
        if not ref.get("name"):
            errs.append(invalid(f"{path}.name", str(ref.get("name") or ""), "must not be empty"))
        if not ref.get("uid"):
            errs.append(invalid(f"{path}.uid", str(ref.get("uid") or ""), "must not be empty"))
        if group == "" and version == "v1" and kind == "Event":
            errs.append(invalid(path, dict(ref), "/v1, Kind=Event is disallowed from being an owner"))
        if ref.get("controller") is True:
            current = f"{kind}/{ref.get('name') or ''}"
            if first_controller:
                errs.append(invalid(path, refs, "Only one reference can have Controller set to true. "
                                    f'Found "true" in references for {first_controller} and {current}'))
            else:
                first_controller = current
    return errs


def validate_nonnegative(value: Any, path: str) -> list[FieldError]:
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        return [invalid(path, value, IS_NEGATIVE)]
    return []


def validate_immutable(new: Any, old: Any, path: str) -> list[FieldError]:
    """ValidateImmutableField: the new value is reported, with ``field is immutable``."""
    if _semantic(new) == _semantic(old):
        return []
    return [invalid(path, new, FIELD_IMMUTABLE)]


def _semantic(value: Any) -> Any:
    """apiequality.Semantic: absent, null, empty string/list/map are the same zero value."""
    if value in (None, "", [], {}):
        return None
    return value


# ---------------------------------------------------------------------------
# ObjectMeta
# ---------------------------------------------------------------------------


def validate_object_meta(
    meta: Any,
    *,
    namespaced: bool,
    name_validator: NameValidator,
    path: str = "metadata",
) -> list[FieldError]:
    """ValidateObjectMeta on create, in Go's order.

    Expects name generation to have happened already; a generateName that is
    still present is validated as a prefix (a trailing '-' is allowed).
    """
    meta = meta if isinstance(meta, Mapping) else {}
    errs: list[FieldError] = []
    generate = meta.get("generateName")
    if isinstance(generate, str) and generate:
        errs.extend(invalid(f"{path}.generateName", generate, m)
                    for m in name_validator(mask_trailing_dash(generate)))
    name = meta.get("name")
    if not name:
        errs.append(required(f"{path}.name", "name or generateName is required"))
    else:
        name = str(name)
        errs.extend(invalid(f"{path}.name", name, m) for m in name_validator(name))
    namespace = meta.get("namespace") or ""
    if namespaced:
        if not namespace:
            errs.append(required(f"{path}.namespace"))
        else:
            errs.extend(invalid(f"{path}.namespace", str(namespace), m) for m in is_dns1123_label(str(namespace)))
    elif namespace:
        errs.append(forbidden(f"{path}.namespace", "not allowed on this type"))
    errs.extend(validate_nonnegative(meta.get("generation"), f"{path}.generation"))
    errs.extend(validate_labels(meta.get("labels"), f"{path}.labels"))
    errs.extend(validate_annotations(meta.get("annotations"), f"{path}.annotations"))
    errs.extend(validate_owner_references(meta.get("ownerReferences"), f"{path}.ownerReferences"))
    errs.extend(validate_finalizers(meta.get("finalizers"), f"{path}.finalizers"))
    return errs


def validate_object_meta_update(new: Any, old: Any, *, path: str = "metadata") -> list[FieldError]:
    """ValidateObjectMetaUpdate: identity fields never change; labels etc. stay valid.

    Like kube-apiserver, callers should copy uid/creationTimestamp from the
    stored object when the request omits them, and fill in resourceVersion for
    unconditional updates, before calling this.
    """
    new = new if isinstance(new, Mapping) else {}
    old = old if isinstance(old, Mapping) else {}
    errs: list[FieldError] = []
    if old.get("deletionTimestamp"):
        old_fin = old.get("finalizers") or []
        extra = sorted({f for f in (new.get("finalizers") or []) if f not in old_fin})
        if extra:
            errs.append(forbidden(f"{path}.finalizers", "no new finalizers can be added if the object is being "
                                  f"deleted, found new finalizers {go_string_list(extra)}"))
    if not new.get("resourceVersion"):
        errs.append(invalid(f"{path}.resourceVersion", "", "must be specified for an update"))
    new_gen, old_gen = new.get("generation") or 0, old.get("generation") or 0
    if isinstance(new_gen, int) and isinstance(old_gen, int) and new_gen < old_gen:
        errs.append(invalid(f"{path}.generation", new_gen, "must not be decremented"))
    for key in ("name", "namespace", "uid"):
        errs.extend(validate_immutable(new.get(key) or "", old.get(key) or "", f"{path}.{key}"))
    for key in ("creationTimestamp", "deletionTimestamp"):
        if _semantic(new.get(key)) != _semantic(old.get(key)):
            errs.append(invalid(f"{path}.{key}", go_time(new.get(key)), FIELD_IMMUTABLE))
    errs.extend(validate_immutable(new.get("deletionGracePeriodSeconds"), old.get("deletionGracePeriodSeconds"),
                                   f"{path}.deletionGracePeriodSeconds"))
    errs.extend(validate_labels(new.get("labels"), f"{path}.labels"))
    errs.extend(validate_annotations(new.get("annotations"), f"{path}.annotations"))
    errs.extend(validate_owner_references(new.get("ownerReferences"), f"{path}.ownerReferences"))
    return errs
