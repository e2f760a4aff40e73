"""Certificates and keys for the embedded control plane (a throwaway CA per run)."""

from __future__ import annotations

import datetime as dt
import fcntl
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = dt.timedelta(days=2)
# A kind cluster may be kept (--kfs-keep) and used for weeks: its webhook must keep answering.
_SERVICE_VALIDITY = dt.timedelta(days=365)


@dataclass(frozen=True)
class ControlPlanePki:
    """Paths of the PEM files the control plane and its clients use."""

    ca_cert: Path
    ca_key: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    service_account_key: Path
    service_account_pub: Path


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(parts)


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: rsa.RSAPublicKey,
    validity: dt.timedelta = _VALIDITY,
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + validity)
    )


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o600)
    return path


def _new_ca(
    common_name: str, validity: dt.timedelta = _VALIDITY
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    ca_key = _new_key()
    ca_name = _name(common_name)
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key(), validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return ca_key, ca_cert


@dataclass(frozen=True)
class ServiceCertificate:
    """A serving certificate for in-cluster DNS names, with its own CA (PEM bytes): what
    cert-manager's self-signed issuer gives a webhook Service."""

    ca_cert: bytes
    cert: bytes
    key: bytes


# A machine's own CA for Google's host names: the kind images built here will trust it, so it
# outlives runs.
_MACHINE_CA_VALIDITY = dt.timedelta(days=3650)


@dataclass(frozen=True)
class MachineCa:
    """A CA kept on this machine (PEM files)."""

    cert: Path
    key: Path


def machine_ca(directory: Path, common_name: str) -> MachineCa:
    """The CA kept in `directory`, made there once (under a lock: parallel runs agree)."""
    found = MachineCa(directory / "ca.crt", directory / "ca.key")
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        if not (found.cert.is_file() and found.key.is_file()):
            key, cert = _new_ca(common_name, _MACHINE_CA_VALIDITY)
            _write(found.key, _key_pem(key))
            _write(found.cert, cert.public_bytes(serialization.Encoding.PEM))
    return found


def _server_certificate(
    ca_key: rsa.RSAPrivateKey, ca_cert: x509.Certificate, dns_names: tuple[str, ...]
) -> tuple[bytes, bytes]:
    """A server certificate for `dns_names` (the first is the subject): (cert, key) as PEM."""
    key = _new_key()
    cert = (
        _builder(_name(dns_names[0]), ca_cert.subject, key.public_key(), _SERVICE_VALIDITY)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name) for name in dns_names]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def signed_by(ca: MachineCa, dns_names: tuple[str, ...]) -> tuple[bytes, bytes]:
    """A server certificate for `dns_names` signed by `ca`: (certificate, key) as PEM."""
    ca_cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
    ca_key = serialization.load_pem_private_key(ca.key.read_bytes(), password=None)
    if not isinstance(ca_key, rsa.RSAPrivateKey):
        raise ValueError(f"{ca.key} is not an RSA key")
    return _server_certificate(ca_key, ca_cert, dns_names)


def service_certificate(dns_names: tuple[str, ...]) -> ServiceCertificate:
    """A throwaway CA and a server certificate for `dns_names` (the first is the subject)."""
    ca_key, ca_cert = _new_ca("pytest-kfs-webhook-ca", _SERVICE_VALIDITY)
    cert, key = _server_certificate(ca_key, ca_cert, dns_names)
    return ServiceCertificate(ca_cert.public_bytes(serialization.Encoding.PEM), cert, key)


def generate(directory: Path) -> ControlPlanePki:
    """Write a CA, a loopback serving certificate, an admin client certificate and the SA key."""
    ca_key, ca_cert = _new_ca("pytest-kfs-ca")
    ca_name = ca_cert.subject

    serving_key = _new_key()
    serving_cert = (
        _builder(_name("kube-apiserver"), ca_name, serving_key.public_key())
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.DNSName("kubernetes"),
                    x509.DNSName("kubernetes.default.svc"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    # system:masters is the group RBAC always allows: the embedded admin, like kind's.
    admin_key = _new_key()
    admin_cert = (
        _builder(_name("kfs-admin", "system:masters"), ca_name, admin_key.public_key())
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    sa_key = _new_key()
    pem = serialization.Encoding.PEM
    return ControlPlanePki(
        ca_cert=_write(directory / "ca.crt", ca_cert.public_bytes(pem)),
        ca_key=_write(directory / "ca.key", _key_pem(ca_key)),
        serving_cert=_write(directory / "apiserver.crt", serving_cert.public_bytes(pem)),
        serving_key=_write(directory / "apiserver.key", _key_pem(serving_key)),
        admin_cert=_write(directory / "admin.crt", admin_cert.public_bytes(pem)),
        admin_key=_write(directory / "admin.key", _key_pem(admin_key)),
        service_account_key=_write(directory / "sa.key", _key_pem(sa_key)),
        service_account_pub=_write(
            directory / "sa.pub",
            sa_key.public_key().public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo),
        ),
    )
