"""The platform's report signatures: a detached Ed25519 signature over the JSON report's
canonical bytes, and an X.509 signature in the PDF (pyHanko, PAdES). Keys are configured files;
unset, a local key (and a self-signed certificate for the PDF) is made once in the data folder,
which is right for a trial and wrong for a deployment (the README says so)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

LOCAL_ED25519 = "report-signing-key.pem"
LOCAL_PDF_KEY = "report-pdf-key.pem"
LOCAL_PDF_CERT = "report-pdf-cert.pem"


@dataclass(frozen=True)
class ReportKeys:
    signing_key: ed25519.Ed25519PrivateKey
    pdf_key_file: Path
    pdf_cert_file: Path

    @property
    def public_pem(self) -> bytes:
        return self.signing_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    @property
    def key_id(self) -> str:
        raw = self.signing_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return hashlib.sha256(raw).hexdigest()[:16]

    def sign(self, document: bytes) -> bytes:
        return self.signing_key.sign(document)

    def verify(self, document: bytes, signature: bytes) -> bool:
        try:
            self.signing_key.public_key().verify(signature, document)
        except InvalidSignature:
            return False
        return True


def signature_b64(signature: bytes) -> str:
    return base64.b64encode(signature).decode()


def _write_private(path: Path, data: bytes) -> None:
    """Whole or not at all, readable by the owner only; a concurrent maker's file wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def _local_ed25519(data_dir: Path) -> Path:
    path = data_dir / LOCAL_ED25519
    if not path.exists():
        key = ed25519.Ed25519PrivateKey.generate()
        _write_private(path, key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return path


def _local_pdf_identity(data_dir: Path) -> tuple[Path, Path]:
    key_path, cert_path = data_dir / LOCAL_PDF_KEY, data_dir / LOCAL_PDF_CERT
    if not (key_path.exists() and cert_path.exists()):
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "沧州市公共信用信息共享平台"),
            x509.NameAttribute(NameOID.COMMON_NAME, "信用报告签章（本地试用证书）"),
        ])
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
            .sign(key, hashes.SHA256())
        )
        _write_private(key_path, key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        _write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def load_keys(data_dir: Path, *, signing_key_file: Path | None, pdf_key_file: Path | None,
              pdf_cert_file: Path | None) -> ReportKeys:
    ed_path = signing_key_file or _local_ed25519(data_dir)
    key = serialization.load_pem_private_key(ed_path.read_bytes(), password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ValueError(f"{ed_path}: the report signing key must be an Ed25519 private key (PEM)")
    if (pdf_key_file is None) != (pdf_cert_file is None):
        raise ValueError("CREDIT_REPORT_PDF_KEY_FILE and CREDIT_REPORT_PDF_CERT_FILE go together")
    if pdf_key_file is None:
        pdf_key_file, pdf_cert_file = _local_pdf_identity(data_dir)
    return ReportKeys(signing_key=key, pdf_key_file=pdf_key_file, pdf_cert_file=pdf_cert_file)
