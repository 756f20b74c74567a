"""Art. 19 with the Electronic Signature Law (电子签名法 Art. 13-14): a PDF carrying a reliable
electronic signature of the subject makes its authorization effective.

A signature counts when pyHanko finds it intact, covering the whole file (nothing appended
after signing), made with a certificate that chains to one of the configured trust roots
(`CREDIT_SIGNATURE_TRUST_ROOTS`, a file of PEM certificates) and was valid when checked, and
when the signer is the subject: the certificate's subject `serialNumber` attribute (OID
2.5.4.5, where Chinese CAs put the resident ID number or the USCC) equals the subject key.
Nothing is fetched from the network (no OCSP/CRL download): revocation is checked only from
what the file carries ("soft-fail"), a limit the README states.

Validation is CPU work on a document of at most a few MiB: it runs in a worker thread with its
own event loop, never on the server's loop, and never while a database connection is held."""

from __future__ import annotations

import asyncio
import io
import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("credit.authorizations.signatures")

VERIFY_SECONDS = 20.0


@dataclass(frozen=True)
class SignatureCheck:
    """The outcome of checking a document's signature against a subject."""

    valid: bool
    reason: str  # machine word: valid, not_pdf, no_signature, altered, not_whole_file, untrusted, ...
    message: str  # in words, for the grantee and the subject
    signer: str | None = None  # the certificate's subject, as text
    signer_serial: str | None = None  # its serialNumber attribute

    def as_json(self) -> dict[str, object]:
        return {"valid": self.valid, "reason": self.reason, "message": self.message,
                "signer": self.signer, "signer_serial": self.signer_serial}


def load_trust_roots(path: Path | None) -> list:
    """The configured trust roots (asn1crypto certificates); none configured: an empty list,
    and then no signature is ever accepted."""
    if path is None:
        return []
    from asn1crypto import pem, x509

    data = path.read_bytes()
    roots = []
    for _kind, _headers, der in pem.unarmor(data, multiple=True):
        roots.append(x509.Certificate.load(der))
    return roots


async def check_signature(
    pdf: bytes, subject_key: str, trust_roots: list, *, timeout: float = VERIFY_SECONDS
) -> SignatureCheck:
    """Check off the event loop; a check that does not finish in time counts as not valid."""
    if not trust_roots:
        return SignatureCheck(False, "no_trust_roots",
                              "平台未配置电子签名信任根（CREDIT_SIGNATURE_TRUST_ROOTS），无法认定电子签名")
    try:
        return await asyncio.wait_for(
            asyncio.to_thread(_check_in_thread, pdf, subject_key, trust_roots), timeout
        )
    except TimeoutError:
        return SignatureCheck(False, "timeout", "电子签名验证超时，未认定")


def _check_in_thread(pdf: bytes, subject_key: str, trust_roots: list) -> SignatureCheck:
    return asyncio.run(_check(pdf, subject_key, trust_roots))


async def _check(pdf: bytes, subject_key: str, trust_roots: list) -> SignatureCheck:
    from pyhanko.pdf_utils.misc import PdfReadError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import async_validate_pdf_signature
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        signatures = reader.embedded_signatures
    except (PdfReadError, ValueError, KeyError, TypeError) as e:
        return SignatureCheck(False, "not_pdf", f"文件无法作为 PDF 读取：{e}")
    if not signatures:
        return SignatureCheck(False, "no_signature", "文件不含电子签名")
    sig = signatures[-1]
    context = ValidationContext(trust_roots=trust_roots, allow_fetching=False,
                                revocation_mode="soft-fail")
    try:
        status = await async_validate_pdf_signature(sig, context)
    except (SignatureValidationError, PdfReadError, ValueError, KeyError, TypeError) as e:
        return SignatureCheck(False, "invalid", f"电子签名无法验证：{e}")
    cert = status.signing_cert
    signer = cert.subject.human_friendly if cert is not None else None
    serial = _serial_number(cert)
    if not status.intact or not status.valid:
        return SignatureCheck(False, "altered", "签名后文件已被改动，或签名值不符", signer, serial)
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        return SignatureCheck(False, "not_whole_file", "签名未覆盖整个文件（签名后有追加内容）",
                              signer, serial)
    if not status.trusted:
        return SignatureCheck(False, "untrusted",
                              "签名证书不受信任、已过期或已吊销（不能链接到平台配置的信任根）",
                              signer, serial)
    if serial is None or serial.strip().upper() != subject_key.upper():
        return SignatureCheck(False, "signer_mismatch",
                              "签名人不是授权主体：证书 serialNumber 与主体标识不一致", signer, serial)
    return SignatureCheck(True, "valid", "主体本人有效电子签名", signer, serial)


def _serial_number(cert) -> str | None:
    if cert is None:
        return None
    value = cert.subject.native.get("serial_number")
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value) if value is not None else None
