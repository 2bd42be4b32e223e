"""TLS material for ``--tls``: a cluster CA and a serving certificate for the addresses we listen on.

Why generate rather than require files: a one-command exposed control plane
needs a CA that kubeconfigs can carry (``certificate-authority-data``) and a
serving certificate whose SANs match every name and address clients use.
Invariants:
- The CA (``pki/ca.crt`` + ``ca.key``) is created once and kept, so
  kubeconfigs handed out earlier stay valid across restarts.
- The serving certificate is re-issued whenever it does not cover a wanted
  name or address, is not signed by the current CA, or expires within 30 days.
- Private keys are written 0600.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import ipaddress
import os
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_VALIDITY = dt.timedelta(days=3650)
SERVING_VALIDITY = dt.timedelta(days=365)
RENEW_BEFORE = dt.timedelta(days=30)
# The names kube-apiserver's serving certificate carries (the in-cluster Service's DNS names).
DEFAULT_NAMES = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                 "kubernetes.default.svc.cluster.local")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class ServingMaterial:
    ca_file: Path
    cert_file: Path
    key_file: Path


def _local_ipv4() -> list[str]:
    """Every interface's IPv4 address (SIOCGIFADDR), Linux only; empty elsewhere."""
    out: list[str] = []
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _, name in socket.if_nameindex():
            with contextlib.suppress(OSError):
                req = struct.pack("256s", name.encode()[:15])
                res = fcntl.ioctl(s.fileno(), 0x8915, req)  # SIOCGIFADDR
                out.append(socket.inet_ntoa(res[20:24]))
    return out


def _local_ipv6() -> list[str]:
    out: list[str] = []
    with contextlib.suppress(OSError), open("/proc/net/if_inet6") as f:
        for line in f:
            raw = line.split()[0]
            addr = ipaddress.IPv6Address(int(raw, 16))
            if not addr.is_link_local:
                out.append(str(addr))
    return out


def serving_hosts(bind_address: str, *, extra: Iterable[str] = (), service_ip: str | None = None) -> list[str]:
    """The names and addresses a serving certificate must cover for ``bind_address``.

    A wildcard bind (0.0.0.0 / ::) covers every local address; a specific
    one covers itself. Loopback, the host name, kube's in-cluster names,
    the ``kubernetes`` Service IP and ``extra`` (``--tls-san``) always.
    """
    hosts: list[str] = ["127.0.0.1", "::1", *DEFAULT_NAMES]
    with contextlib.suppress(OSError):
        hosts.append(socket.gethostname())
    if bind_address in ("0.0.0.0", "::", ""):
        hosts += _local_ipv4() + _local_ipv6()
    else:
        hosts.append(bind_address)
    if service_ip:
        hosts.append(service_ip)
    hosts += list(extra)
    out: list[str] = []
    for h in hosts:
        h = h.strip().strip("[]")
        if h and h not in out:
            out.append(h)
    return out


def _split(hosts: Iterable[str]) -> tuple[set[IPAddress], set[str]]:
    ips: set[IPAddress] = set()
    names: set[str] = set()
    for h in hosts:
        try:
            ips.add(ipaddress.ip_address(h))
        except ValueError:
            names.add(h.lower())
    return ips, names


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _load_ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_crt, ca_key = directory / "ca.crt", directory / "ca.key"
    if ca_crt.exists() and ca_key.exists():
        cert = x509.load_pem_x509_certificate(ca_crt.read_bytes())
        key = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
        if isinstance(key, ec.EllipticCurvePrivateKey) and cert.not_valid_after_utc > _now() + RENEW_BEFORE:
            return cert, key
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"kubelite-ca@{int(_now().timestamp())}")])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - dt.timedelta(minutes=5))
        .not_valid_after(_now() + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(ca_key, _key_pem(key))
    _write_public(ca_crt, cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _serving_ok(path: Path, ca: x509.Certificate, hosts: list[str]) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return False
    if cert.issuer != ca.subject or cert.not_valid_after_utc < _now() + RENEW_BEFORE:
        return False
    try:
        cert.verify_directly_issued_by(ca)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, InvalidSignature, ValueError, TypeError):
        return False
    have_ips = set(san.get_values_for_type(x509.IPAddress))
    have_names = {n.lower() for n in san.get_values_for_type(x509.DNSName)}
    want_ips, want_names = _split(hosts)
    return want_ips <= have_ips and want_names <= have_names


def ensure_serving_material(directory: Path, hosts: Iterable[str]) -> ServingMaterial:
    """CA and serving certificate under ``directory`` (created if needed) covering ``hosts``."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    host_list = list(hosts)
    ca, ca_key = _load_ca(directory)
    crt, key_path = directory / "apiserver.crt", directory / "apiserver.key"
    if key_path.exists() and _serving_ok(crt, ca, host_list):
        return ServingMaterial(directory / "ca.crt", crt, key_path)
    key = ec.generate_private_key(ec.SECP256R1())
    ips, names = _split(host_list)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in sorted(names)]
    sans += [x509.IPAddress(ip) for ip in sorted(ips, key=lambda a: (a.version, int(a)))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - dt.timedelta(minutes=5))
        .not_valid_after(_now() + SERVING_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(key_path, _key_pem(key))
    _write_public(crt, cert.public_bytes(serialization.Encoding.PEM))
    return ServingMaterial(directory / "ca.crt", crt, key_path)


def certificate_sans(path: Path) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) of a PEM certificate, for tests and ``kubelite`` diagnostics."""
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return list(san.get_values_for_type(x509.DNSName)), [str(a) for a in san.get_values_for_type(x509.IPAddress)]


__all__ = ["ServingMaterial", "certificate_sans", "ensure_serving_material", "serving_hosts"]
