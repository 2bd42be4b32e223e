"""Encryption at rest: kube-apiserver's ``--encryption-provider-config`` at the storage seam.

Why here: every body the SQL log writes (an object row and its change row)
passes ``Transformer.to_storage`` and every body it reads back passes
``from_storage``, so SQLite and PostgreSQL encrypt alike and nothing above
the store (the watch cache, the registry) ever sees ciphertext.

The file is kube-apiserver's EncryptionConfiguration
(apiserver.config.k8s.io/v1): ``resources[]`` each name resources (storage
keys as ``secrets`` or ``deployments.apps``; ``*.`` every core resource,
``*.<group>`` a group, ``*.*`` all) and an ordered list of providers
(``aesgcm``, ``aescbc``, ``secretbox`` with named base64 keys, ``identity``).
The first provider of the first entry naming a resource encrypts its writes;
every provider of that entry is tried for reads, so listing a new key first
rotates while data written with the old one still reads. A stored value is
``k8s:enc:<provider>:v1:<key name>:`` then the provider's payload, as
kube-apiserver writes it; identity stores the JSON as is.

Invariant: nothing here logs or reports a key or a plaintext; a config
error names the file's field and the problem, a key only as REDACTED.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from apiserver.storage.errors import StorageError

API_VERSION = "apiserver.config.k8s.io/v1"
KIND = "EncryptionConfiguration"
ENCRYPTED = b"k8s:enc:"
AES_KEY_SIZES = (16, 24, 32)
SECRETBOX_KEY_SIZES = (32,)
PROVIDERS = ("aesgcm", "aescbc", "secretbox", "identity")


class EncryptionConfigError(Exception):
    """The encryption provider config cannot be used; the message names the file and the problem."""


class TransformError(StorageError):
    """A stored body could not be decrypted with any configured provider."""

    def __init__(self, resource: str, namespace: str, name: str, message: str) -> None:
        super().__init__(resource, namespace, name)
        self.args = (message,)


class Provider(Protocol):
    """One key of one provider: the prefix it writes and reads, and its cipher."""

    @property
    def prefix(self) -> bytes: ...

    def seal(self, plain: bytes, context: bytes) -> bytes: ...

    def open(self, payload: bytes, context: bytes) -> bytes: ...


@dataclass(frozen=True)
class Identity:
    """Plain JSON; reads anything not encrypted."""

    prefix: bytes = b""

    def seal(self, plain: bytes, context: bytes) -> bytes:
        return plain

    def open(self, payload: bytes, context: bytes) -> bytes:
        if payload.startswith(ENCRYPTED):
            raise ValueError("identity transformer tried to read encrypted data")
        return payload


@dataclass(frozen=True)
class AESGCMKey:
    """AES-GCM, a random 12-byte nonce first, the storage key as authenticated data (kube's aesgcm)."""

    prefix: bytes
    key: bytes = field(repr=False)

    def seal(self, plain: bytes, context: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + AESGCM(self.key).encrypt(nonce, plain, context)

    def open(self, payload: bytes, context: bytes) -> bytes:
        if len(payload) < 12 + 16:
            raise ValueError("the stored data was shorter than the required size")
        return AESGCM(self.key).decrypt(payload[:12], payload[12:], context)


@dataclass(frozen=True)
class AESCBCKey:
    """AES-CBC with PKCS#7 padding, a random 16-byte IV first (kube's aescbc)."""

    prefix: bytes
    key: bytes = field(repr=False)

    def seal(self, plain: bytes, context: bytes) -> bytes:
        iv = os.urandom(16)
        padder = padding.PKCS7(128).padder()
        enc = Cipher(algorithms.AES(self.key), modes.CBC(iv)).encryptor()
        return iv + enc.update(padder.update(plain) + padder.finalize()) + enc.finalize()

    def open(self, payload: bytes, context: bytes) -> bytes:
        if len(payload) < 32 or len(payload) % 16:
            raise ValueError("invalid ciphertext length")
        dec = Cipher(algorithms.AES(self.key), modes.CBC(payload[:16])).decryptor()
        unpadder = padding.PKCS7(128).unpadder()
        return unpadder.update(dec.update(payload[16:]) + dec.finalize()) + unpadder.finalize()


@dataclass(frozen=True)
class SecretBoxKey:
    """NaCl secretbox (XSalsa20-Poly1305), a random 24-byte nonce first (kube's secretbox)."""

    prefix: bytes
    key: bytes = field(repr=False)

    def seal(self, plain: bytes, context: bytes) -> bytes:
        from nacl.secret import SecretBox

        return bytes(SecretBox(self.key).encrypt(plain, os.urandom(24)))

    def open(self, payload: bytes, context: bytes) -> bytes:
        from nacl.secret import SecretBox

        return bytes(SecretBox(self.key).decrypt(payload))


_CIPHERS: dict[str, tuple[type[AESGCMKey] | type[AESCBCKey] | type[SecretBoxKey], tuple[int, ...]]] = {
    "aesgcm": (AESGCMKey, AES_KEY_SIZES),
    "aescbc": (AESCBCKey, AES_KEY_SIZES),
    "secretbox": (SecretBoxKey, SECRETBOX_KEY_SIZES),
}


def _matches(pattern: str, resource: str) -> bool:
    """Whether a config resource name covers a storage key (``secrets``, ``deployments.apps``)."""
    if pattern == "*.*":
        return True
    if pattern == "*.":
        return "." not in resource
    if pattern.startswith("*."):
        return resource.endswith(pattern[1:])
    return pattern == resource


class Transformer:
    """Per resource: the providers in config order (the first writes, all read)."""

    def __init__(self, rules: Sequence[tuple[tuple[str, ...], tuple[Provider, ...]]]) -> None:
        self.rules = list(rules)
        self._by_resource: dict[str, tuple[Provider, ...]] = {}
        # Objects last read with a provider other than the one that writes: a rewrite re-encrypts them
        # even when nothing else changed (kube's "stale" transform result).
        self._stale: set[tuple[str, str, str]] = set()

    def providers(self, resource: str) -> tuple[Provider, ...]:
        found = self._by_resource.get(resource)
        if found is None:
            plain: tuple[Provider, ...] = (Identity(),)
            found = next((p for names, p in self.rules if any(_matches(n, resource) for n in names)), plain)
            self._by_resource[resource] = found
        return found

    def encrypts(self, resource: str) -> bool:
        return bool(self.providers(resource)[0].prefix)

    @staticmethod
    def context(resource: str, namespace: str, name: str) -> bytes:
        """The authenticated data binding a ciphertext to its object (kube uses the etcd key)."""
        return f"/registry/{resource}/{namespace}/{name}".encode() if namespace else \
            f"/registry/{resource}/{name}".encode()

    def to_storage(self, resource: str, namespace: str, name: str, body: bytes) -> bytes:
        first = self.providers(resource)[0]
        self._stale.discard((resource, namespace, name))
        if not first.prefix:
            return body
        return first.prefix + first.seal(body, self.context(resource, namespace, name))

    def from_storage(self, resource: str, namespace: str, name: str, stored: bytes) -> bytes:
        """The JSON body; TransformError when no configured provider reads it."""
        errs: list[str] = []
        for i, p in enumerate(self.providers(resource)):
            if not stored.startswith(p.prefix):
                continue
            try:
                plain = p.open(stored[len(p.prefix):], self.context(resource, namespace, name))
            except (ValueError, InvalidTag, binascii.Error, ImportError) as e:
                if p.prefix:
                    errs.append(f"{p.prefix.decode(errors='replace')} {type(e).__name__}: {e}".rstrip(": "))
                continue
            except Exception as e:  # nacl.exceptions.CryptoError and kin: never the data
                errs.append(f"{p.prefix.decode(errors='replace')} {type(e).__name__}")
                continue
            if i:
                self._stale.add((resource, namespace, name))
            return plain
        where = f"{resource} {namespace + '/' if namespace else ''}{name}"
        why = "; ".join(errs) or "no matching prefix found"
        raise TransformError(resource, namespace, name, f"cannot read {where} from storage: {why}")

    def is_stale(self, resource: str, namespace: str, name: str) -> bool:
        return (resource, namespace, name) in self._stale


# --- the config file --------------------------------------------------------------------------------


def _fail(path: Path, problem: str) -> EncryptionConfigError:
    return EncryptionConfigError(f"encryption provider config {path}: {problem}")


def _keys(path: Path, where: str, provider: str, spec: Any) -> list[Provider]:
    cls, sizes = _CIPHERS[provider]
    keys = spec.get("keys") if isinstance(spec, dict) else None
    if not isinstance(keys, list) or not keys:
        raise _fail(path, f"{where}.keys: Required value: at least one key is required")
    out: list[Provider] = []
    names: set[str] = set()
    for k, key in enumerate(keys):
        at = f"{where}.keys[{k}]"
        name = key.get("name") if isinstance(key, dict) else None
        secret = key.get("secret") if isinstance(key, dict) else None
        if not isinstance(name, str) or not name:
            raise _fail(path, f"{at}.name: Required value: name is a mandatory field for a key")
        if ":" in name:
            raise _fail(path, f'{at}.name: Invalid value: "{name}": must not contain \':\'')
        if name in names:
            raise _fail(path, f'{at}.name: Duplicate value: "{name}"')
        names.add(name)
        if not isinstance(secret, str) or not secret:
            raise _fail(path, f"{at}.secret: Required value: secret is a mandatory field for a key")
        try:
            raw = base64.b64decode(secret, validate=True)
        except (binascii.Error, ValueError):
            raise _fail(path, f'{at}.secret: Invalid value: "REDACTED": secrets must be base64 encoded') from None
        if len(raw) not in sizes:
            raise _fail(path, f'{at}.secret: Invalid value: "REDACTED": secret is not of the expected length, '
                              f"got {len(raw)}, expected one of [{' '.join(str(s) for s in sizes)}]")
        out.append(cls(f"k8s:enc:{provider}:v1:{name}:".encode(), raw))
    return out


def parse_config(path: Path, doc: Any) -> Transformer:
    """An EncryptionConfiguration document -> its Transformer, or EncryptionConfigError naming the problem."""
    if not isinstance(doc, dict):
        raise _fail(path, "not an EncryptionConfiguration object")
    if doc.get("kind") != KIND or doc.get("apiVersion") != API_VERSION:
        raise _fail(path, f'expected apiVersion "{API_VERSION}" and kind "{KIND}", got apiVersion '
                          f'"{doc.get("apiVersion") or ""}" and kind "{doc.get("kind") or ""}"')
    entries = doc.get("resources")
    if not isinstance(entries, list) or not entries:
        raise _fail(path, "resources: Required value: at least one resources entry is required")
    rules: list[tuple[tuple[str, ...], tuple[Provider, ...]]] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        at = f"resources[{i}]"
        names = entry.get("resources") if isinstance(entry, dict) else None
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            raise _fail(path, f"{at}.resources: Required value: at least one resource is required")
        for j, n in enumerate(names):
            if n != n.lower():
                raise _fail(path, f'{at}.resources[{j}]: Invalid value: "{n}": '
                                  "resource name should not contain capital letters")
            if n == "*":
                raise _fail(path, f'{at}.resources[{j}]: Invalid value: "*": use \'*.\' to encrypt all the resources '
                                  "from core API group or *.* to encrypt all resources")
            if n in seen:
                raise _fail(path, f'{at}.resources[{j}]: Duplicate value: "{n}": '
                                  "the same resource cannot be specified multiple times")
            seen.add(n)
        specs = entry.get("providers")
        if not isinstance(specs, list) or not specs:
            raise _fail(path, f"{at}.providers: Required value: at least one provider is required")
        providers: list[Provider] = []
        for j, spec in enumerate(specs):
            where = f"{at}.providers[{j}]"
            if not isinstance(spec, dict) or len(spec) != 1:
                raise _fail(path, f"{where}: Invalid value: exactly one provider must be specified in a single "
                                  "element, should split into different list elements")
            (kind, body), = spec.items()
            if kind == "identity":
                providers.append(Identity())
            elif kind in _CIPHERS:
                providers.extend(_keys(path, f"{where}.{kind}", kind, body))
            elif kind == "kms":
                raise _fail(path, f"{where}.kms: Unsupported value: kubelite has no KMS plugin support; use "
                                  "aesgcm, aescbc, secretbox or identity")
            else:
                raise _fail(path, f'{where}: Unsupported value: "{kind}": supported values: '
                                  + ", ".join(f'"{p}"' for p in PROVIDERS))
        rules.append((tuple(names), tuple(providers)))
    return Transformer(rules)


def load_config(path: Path) -> Transformer:
    """Read and check kube-apiserver's EncryptionConfiguration file (YAML or JSON)."""
    try:
        text = path.read_text()
    except OSError as e:
        raise _fail(path, f"cannot read it: {e.strerror or e}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise _fail(path, f"not valid YAML: {e}") from None
    return parse_config(path, doc)


def generate_config(path: Path) -> bool:
    """Write a config with a fresh secretbox key for Secrets (then identity: older plain data still reads).

    Owner-only, and only when ``path`` does not exist (the key must outlive restarts); True when written.
    """
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    key = base64.b64encode(os.urandom(32)).decode()
    doc = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "resources": [{"resources": ["secrets"],
                       "providers": [{"secretbox": {"keys": [{"name": "key1", "secret": key}]}}, {"identity": {}}]}],
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    return True
