"""Secret admission: SetDefaults_Secret, the stringData conversion, ValidateSecret / ValidateSecretUpdate.

The kind itself is declared in apimachinery.kinds.secret. Invariant: no error
built here carries a data value: keys are reported by name, a malformed
docker config as kube's "<secret contents redacted>".
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

import orjson

from apimachinery.errors import FieldError, forbidden, invalid, required, too_long
from apimachinery.resources import BY_KEY
from apimachinery.validation import validate_immutable
from apiserver.admission.base import Admission, Obj, as_map
from apiserver.admission.configmap import IMMUTABLE, MAX_SIZE, is_config_map_key
from apiserver.bodies import go_syntax_error

OPAQUE = "Opaque"
SERVICE_ACCOUNT_TOKEN = "kubernetes.io/service-account-token"
SERVICE_ACCOUNT_NAME_KEY = "kubernetes.io/service-account.name"
DOCKERCFG = "kubernetes.io/dockercfg"
DOCKERCFG_KEY = ".dockercfg"
DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"
DOCKER_CONFIG_JSON_KEY = ".dockerconfigjson"
BASIC_AUTH = "kubernetes.io/basic-auth"
SSH_AUTH = "kubernetes.io/ssh-auth"
TLS = "kubernetes.io/tls"
REDACTED = "<secret contents redacted>"


def _bytes(value: Any) -> bytes:
    """A data value as the bytes it stands for (decoding checked the base64 already)."""
    if not isinstance(value, str):
        return b""
    try:
        return base64.b64decode(value)
    except (binascii.Error, ValueError):
        return b""


def merge_string_data(obj: Obj) -> None:
    """Convert_v1_Secret_To_core_Secret: stringData's keys overwrite data's, as bytes; stringData is never kept."""
    string_data = obj.pop("stringData", None)
    if not isinstance(string_data, dict) or not string_data:
        return
    data = obj.get("data")
    if not isinstance(data, dict):
        data = {}
        obj["data"] = data
    for key, value in string_data.items():
        data[key] = base64.b64encode(str(value).encode("utf-8", "surrogatepass")).decode()


def _json_object_error(raw: bytes) -> str | None:
    """json.Unmarshal(raw, &map[string]interface{}{})'s error, or None."""
    syntax = go_syntax_error(raw)
    if syntax is not None:
        return syntax
    value = orjson.loads(raw)
    if value is None or isinstance(value, dict):
        return None
    what = {bool: "bool", str: "string", list: "array"}.get(type(value), "number")
    return f"json: cannot unmarshal {what} into Go value of type map[string]interface {{}}"


def _docker_config(data: dict[str, Any], key: str) -> list[FieldError]:
    if key not in data:
        return [required(f"data[{key}]")]
    why = _json_object_error(_bytes(data[key]))
    return [invalid(f"data[{key}]", REDACTED, why)] if why is not None else []


def _type_rules(obj: Obj, data: dict[str, Any]) -> list[FieldError]:
    """ValidateSecret's per-type requirements."""
    kind = obj.get("type")
    if kind == SERVICE_ACCOUNT_TOKEN:
        # Only the account's name: the uid and the token may be added later by a controller.
        if not as_map(as_map(obj.get("metadata")).get("annotations")).get(SERVICE_ACCOUNT_NAME_KEY):
            return [required(f"metadata.annotations[{SERVICE_ACCOUNT_NAME_KEY}]")]
    elif kind == DOCKERCFG:
        return _docker_config(data, DOCKERCFG_KEY)
    elif kind == DOCKER_CONFIG_JSON:
        return _docker_config(data, DOCKER_CONFIG_JSON_KEY)
    elif kind == BASIC_AUTH:
        # either may be empty, but one must be there
        if "username" not in data and "password" not in data:
            return [required("data[username]"), required("data[password]")]
    elif kind == SSH_AUTH:
        if not _bytes(data.get("ssh-privatekey")):
            return [required("data[ssh-privatekey]")]
    elif kind == TLS:
        return [required(f"data[{key}]") for key in ("tls.crt", "tls.key") if key not in data]
    return []


_PEM = re.compile(rb"-----BEGIN ([^-\r\n]*)-----\r?\n(.*?)-----END \1-----", re.S)


def _pem_blocks(data: bytes) -> list[tuple[str, bytes]]:
    """pem.Decode in a loop: (type, DER) of each well-formed block (headers and bad base64 are skipped)."""
    out: list[tuple[str, bytes]] = []
    for m in _PEM.finditer(data):
        body = m.group(2)
        if b":" in body.split(b"\n", 1)[0]:  # RFC 1421 headers: drop them
            body = body.split(b"\n\n", 1)[-1]
        try:
            out.append((m.group(1).decode("latin-1"), base64.b64decode(b"".join(body.split()), validate=True)))
        except (binascii.Error, ValueError):
            continue
    return out


def x509_key_pair_error(cert_pem: bytes, key_pem: bytes) -> str | None:
    """The error of Go's tls.X509KeyPair for this certificate and key, or None when they pair."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    blocks = _pem_blocks(cert_pem)
    certs = [der for kind, der in blocks if kind == "CERTIFICATE"]
    if not certs:
        skipped = [kind for kind, _ in blocks]
        if not skipped:
            return "tls: failed to find any PEM data in certificate input"
        if len(skipped) == 1 and skipped[0].endswith("PRIVATE KEY"):
            return ("tls: failed to find certificate PEM data in certificate input, but did find a private key; "
                    "PEM inputs may have been switched")
        return ('tls: failed to find "CERTIFICATE" PEM block in certificate input after skipping PEM blocks of '
                f"the following types: [{' '.join(skipped)}]")
    key_der: bytes | None = None
    skipped = []
    for kind, der in _pem_blocks(key_pem):
        if kind == "PRIVATE KEY" or kind.endswith(" PRIVATE KEY"):
            key_der = der
            break
        skipped.append(kind)
    if key_der is None:
        if not skipped:
            return "tls: failed to find any PEM data in key input"
        if skipped == ["CERTIFICATE"]:
            return "tls: found a certificate rather than a key in the PEM for the private key"
        return ('tls: failed to find PEM block with type ending in "PRIVATE KEY" in key input after skipping PEM '
                f"blocks of the following types: [{' '.join(skipped)}]")
    try:
        public = x509.load_der_x509_certificate(certs[0]).public_key()
    except ValueError:
        return "x509: malformed certificate"
    try:
        private = serialization.load_der_private_key(key_der, None)
    except (ValueError, TypeError):
        return "tls: failed to parse private key"
    pairs: list[tuple[type[Any], type[Any]]] = [(rsa.RSAPublicKey, rsa.RSAPrivateKey),
                                                (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey),
                                                (ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey)]
    for pub_type, priv_type in pairs:
        if isinstance(public, pub_type):
            if not isinstance(private, priv_type):
                return "tls: private key type does not match public key type"
            raw = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            if public.public_bytes(*raw) != private.public_key().public_bytes(*raw):
                return "tls: private key does not match public key"
            return None
    return "tls: unknown public key algorithm"


def _warnings(obj: Obj) -> list[str]:
    """warningsForSecret: a kubernetes.io/tls Secret whose certificate and key do not pair."""
    if obj.get("type") != TLS:
        return []
    data = as_map(obj.get("data"))
    why = x509_key_pair_error(_bytes(data.get("tls.crt")), _bytes(data.get("tls.key")))
    return [why] if why else []


class SecretAdmission(Admission):
    def __init__(self) -> None:
        super().__init__(BY_KEY["secrets"])

    def default(self, obj: Obj) -> None:
        """SetDefaults_Secret."""
        if not obj.get("type"):
            obj["type"] = OPAQUE

    def prepare_create(self, obj: Obj) -> None:
        merge_string_data(obj)

    def prepare_update(self, obj: Obj, old: Obj) -> None:
        super().prepare_update(obj, old)
        merge_string_data(obj)

    def warnings_on_create(self, obj: Obj) -> list[str]:
        return _warnings(obj)

    def warnings_on_update(self, obj: Obj, old: Obj) -> list[str]:
        return _warnings(obj)

    def validate_create(self, obj: Obj) -> list[FieldError]:
        data = as_map(obj.get("data"))
        errs: list[FieldError] = []
        total = 0
        for key, value in data.items():
            errs += [invalid(f"data[{key}]", key, m) for m in is_config_map_key(key)]
            total += len(_bytes(value))
        if total > MAX_SIZE:
            errs.append(too_long("data", MAX_SIZE))
        return errs + _type_rules(obj, data)

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        errs = validate_immutable(obj.get("type"), old.get("type"), "type")
        if old.get("immutable") is True:
            if obj.get("immutable") is not True:
                errs.append(forbidden("immutable", IMMUTABLE))
            # stringData was merged into data before: data is all there is to compare
            if obj.get("data") != old.get("data"):
                errs.append(forbidden("data", IMMUTABLE))
        return errs + self.validate_create(obj)
