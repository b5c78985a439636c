"""TLS for clusters that leave this machine: a CA and a certificate per cluster.

A dask scheduler accepts anyone who reaches its port and runs whatever they
send, as the user that started the workers.  So every cluster with a host
other than this machine gets, at ``up`` (or when a sweep starts its own
cluster), a fresh certificate authority and one certificate it signed; the
scheduler, every worker and clusterbench's own client present that certificate
and require the peer's to be signed by the same CA (distributed's ``Security``
with ``require_encryption``: mutual TLS).  A plain-TCP client, or a TLS client
with any other certificate, is refused.

The CA's private key only lives in memory while the certificate is signed: no
one, clusterbench included, can mint another certificate for the cluster.  The
three files (``ca.pem``, ``tls.pem``, ``tls.key``; mode 0600 in a 0700
directory) are removed on ``down``.

distributed's ``Security.temporary()`` makes a single self-signed certificate
in memory; it cannot be handed to a dask worker started by a command line
(SSH, batch jobs), which needs files, hence these few lines of ``cryptography``.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clusterbench.cluster.spec import all_here
from clusterbench.inventory.model import Inventory

CA_FILE = "ca.pem"
CERT_FILE = "tls.pem"
KEY_FILE = "tls.key"
#: A benchmark cluster lives for hours; a week covers any sweep without a renewal story.
VALIDITY = datetime.timedelta(days=7)
LOOPBACK = ("127.", "::1", "localhost")


def wants_tls(inventory: Inventory, insecure: bool = False) -> bool:
    """Whether the cluster of *inventory* runs over TLS.

    ``security: auto`` (the default) means TLS as soon as a worker or the scheduler is
    not this machine or the scheduler listens on a non-loopback address; a local-only
    cluster on loopback stays plain TCP (only this machine's users can reach it).
    *insecure* (``--insecure``) and ``security: insecure`` opt out.
    """
    if insecure or inventory.security == "insecure":
        return False
    if inventory.security == "tls":
        return True
    local = all_here(inventory)
    address = inventory.scheduler.address or "127.0.0.1"
    return not (local and inventory.scheduler.host == "local" and address.startswith(LOOPBACK))


def security_label(inventory: Inventory, insecure: bool = False) -> str:
    """One word for the cluster's transport: ``tls``, ``insecure`` (opted out) or
    ``loopback`` (plain TCP, local only)."""
    if wants_tls(inventory, insecure):
        return "tls"
    return "insecure" if insecure or inventory.security == "insecure" else "loopback"


INSECURE_WARNING = ("TLS is off (--insecure / security: insecure): anyone who can reach the "
                    "scheduler's port can run code as the workers' user")


@dataclass(frozen=True)
class Credentials:
    """The TLS files of one cluster (see the module docstring).

    Parameters
    ----------
    directory
        Where ``ca.pem``, ``tls.pem`` and ``tls.key`` are.
    """

    directory: Path

    @property
    def ca_file(self) -> Path:
        """The cluster's CA certificate."""
        return self.directory / CA_FILE

    @property
    def cert_file(self) -> Path:
        """The certificate every member presents."""
        return self.directory / CERT_FILE

    @property
    def key_file(self) -> Path:
        """Its private key (0600)."""
        return self.directory / KEY_FILE

    def files(self) -> dict[str, Path]:
        """``{file name: local path}`` of the three files."""
        return {CA_FILE: self.ca_file, CERT_FILE: self.cert_file, KEY_FILE: self.key_file}

    def security(self) -> Any:
        """A distributed ``Security`` for every role, mutual TLS required."""
        from distributed.security import Security

        ca, cert, key = str(self.ca_file), str(self.cert_file), str(self.key_file)
        return Security(
            tls_ca_file=ca, require_encryption=True,
            tls_client_cert=cert, tls_client_key=key,
            tls_scheduler_cert=cert, tls_scheduler_key=key,
            tls_worker_cert=cert, tls_worker_key=key,
        )

    def remove(self) -> None:
        """Delete the directory and its key (``down``)."""
        shutil.rmtree(self.directory, ignore_errors=True)


def create_credentials(directory: Path, cluster: str, addresses: tuple[str, ...] = ()
                       ) -> Credentials:
    """A new CA and a certificate it signed, written to *directory* (created, 0700).

    Parameters
    ----------
    directory
        Must not exist yet (one directory per cluster session).
    cluster
        Cluster name, used as the certificates' common name.
    addresses
        Addresses put in the certificate's subjectAltName (distributed does not check
        host names, but other TLS tools that look at the certificate will).
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _certificate(ca_key.public_key(), ca_key, f"{cluster} CA", None, (), ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate(key.public_key(), ca_key, cluster, ca_cert, addresses, ca=False)
    directory.mkdir(mode=0o700, parents=True, exist_ok=False)
    pem = serialization.Encoding.PEM
    try:
        _write_private(directory / CA_FILE, ca_cert.public_bytes(pem))
        _write_private(directory / CERT_FILE, cert.public_bytes(pem))
        _write_private(directory / KEY_FILE, key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    except BaseException:  # a full disk, or SIGTERM mid-way: no half-written key left
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return Credentials(directory)


def _certificate(public_key: Any, signing_key: Any, name: str, issuer: Any,
                 addresses: tuple[str, ...], ca: bool) -> Any:
    """An X.509 certificate with the extensions strict verifiers (Python ≥ 3.13's
    ``VERIFY_X509_STRICT``) require: key identifiers and critical basic constraints."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name[:64])])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer is not None else subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # hosts' clocks differ
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            signing_key.public_key()), critical=False)
    )
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False,
            encipher_only=False, decipher_only=False), critical=True)
    else:
        builder = builder.add_extension(x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        builder = builder.add_extension(
            x509.SubjectAlternativeName(_alt_names(name, addresses)), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def _alt_names(name: str, addresses: tuple[str, ...]) -> list[Any]:
    from cryptography import x509

    names: list[Any] = [x509.DNSName("localhost")]
    for address in dict.fromkeys(addresses):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(address)))
        except ValueError:
            names.append(x509.DNSName(address))
    return names


def _write_private(path: Path, data: bytes) -> None:
    """Create *path* readable by its owner only (no window where it is world-readable)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as fh:
        fh.write(data)


def cluster_credentials(inventory: Inventory, session: str, state_directory: Path
                        ) -> Credentials:
    """New credentials for one session of *inventory*'s cluster, in
    ``<state_directory>/tls-<cluster>-<session>`` (queue jobs read them from there: it has
    to be on storage the compute nodes share)."""
    from clusterbench.cluster.spec import scheduler_address

    return create_credentials(state_directory / f"tls-{inventory.cluster}-{session}",
                              inventory.cluster, (scheduler_address(inventory),))


def load_credentials(directory: str | Path | None) -> Credentials | None:
    """The credentials recorded in a cluster's state (None for a plain-TCP cluster)."""
    if not directory:
        return None
    credentials = Credentials(Path(directory))
    return credentials if credentials.key_file.exists() else None
