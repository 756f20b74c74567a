"""Art. 12: subject identifiers. Unified social credit code (GB 32100-2015) and resident ID
number (GB 11643-1999), both with check characters. Pure functions; see
shared/domain/identifiers.md for the algorithms."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from .i18n import _

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
_USCC_WEIGHTS = [pow(3, i, 31) for i in range(17)]
_ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_CODE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_RID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RID_CHECK = "10X98765432"
_RID_RE = re.compile(r"^[0-9]{17}[0-9X]$")

# Kinds of key a subject can have (Art. 12). Only the first two carry a check character.
RESIDENT_ID = "resident_id"
USCC = "uscc"
OTHER_DOCUMENTS = ("passport", "hk_macao_permit", "taiwan_permit", "foreign_permanent_residence")


class IdentifierError(ValueError):
    """An identifier failed a rule; `rule` names which one, `str()` says it in plain words."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule


def canonical(raw: str | None) -> str:
    """A key as it is stored: NFKC-normalised (full-width ０-９ and Ａ-Ｚ become ASCII), trimmed,
    and then plain ASCII, or IdentifierError (rule `ascii`). Digits of other scripts (Arabic-Indic
    ١, Devanagari १, ...) are refused rather than read as numbers: a key has one spelling, so a
    variant can neither reach another subject nor create a second one."""
    value = unicodedata.normalize("NFKC", raw or "").strip()
    for i, c in enumerate(value):
        if not (c.isascii() and c.isprintable()):
            raise IdentifierError(
                "ascii",
                _("a subject key is ASCII letters and digits; character {n} ({code}) is not",
                  n=i + 1, code=f"U+{ord(c):04X}"),
            )
    return value


@dataclass(frozen=True)
class SubjectKey:
    value: str
    kind: str  # RESIDENT_ID, USCC or one of OTHER_DOCUMENTS


def uscc_check_char(body17: str) -> str:
    total = sum(_USCC_VALUE[c] * w for c, w in zip(body17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def org_code_check_char(body8: str) -> str:
    total = sum(_ORG_CODE_ALPHABET.index(c) * w for c, w in zip(body8, _ORG_CODE_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def resident_id_check_char(body17: str) -> str:
    return _RID_CHECK[sum(int(c) * w for c, w in zip(body17, _RID_WEIGHTS, strict=True)) % 11]


def validate_uscc(raw: str, *, legacy_allow: frozenset[str] = frozenset()) -> str:
    """Return the normalised code or raise IdentifierError naming the broken rule."""
    code = canonical(raw).upper()
    if code in legacy_allow:
        return code
    if len(code) != 18:
        raise IdentifierError("length", _("a unified social credit code has 18 characters, not {n}",
                                                n=len(code)))
    bad = sorted({c for c in code if c not in _USCC_VALUE})
    if bad:
        raise IdentifierError(
            "alphabet",
            _("a unified social credit code cannot contain {chars} (I, O, Z, S and V are never "
              "used)", chars=", ".join(bad)),
        )
    expected = uscc_check_char(code[:17])
    if code[17] != expected:
        raise IdentifierError(
            "check_character",
            _("the check character is {found} but the first 17 characters give {expected}; "
              "the code was probably mistyped", found=code[17], expected=expected),
        )
    org_expected = org_code_check_char(code[8:16])
    if code[16] != org_expected:
        raise IdentifierError(
            "org_code_check_character",
            _("the organisation code inside (positions 9-17, {org}) ends in {found} but its "
              "first 8 characters give {expected}", org=code[8:17], found=code[16],
              expected=org_expected),
        )
    return code


def validate_resident_id(raw: str, *, today: dt.date | None = None) -> str:
    """Return the normalised ID number (lower-case x made X) or raise IdentifierError."""
    rid = canonical(raw).upper()
    if len(rid) != 18:
        raise IdentifierError("length", _("a resident ID number has 18 characters, not {n}",
                                                n=len(rid)))
    if not _RID_RE.match(rid):
        raise IdentifierError("alphabet", _("a resident ID number is 17 digits and a digit or X"))
    try:
        born = dt.date(int(rid[6:10]), int(rid[10:12]), int(rid[12:14]))
    except ValueError:
        raise IdentifierError(
            "birth_date", _("positions 7-14 ({digits}) are not a real date of birth", digits=rid[6:14])
        ) from None
    if born > (today or dt.date.today()) or born.year < 1880:
        raise IdentifierError("birth_date", _("the date of birth {date} is not plausible",
                                                    date=born.isoformat()))
    expected = resident_id_check_char(rid[:17])
    if rid[17] != expected:
        raise IdentifierError(
            "check_character",
            _("the check character is {found} but the first 17 digits give {expected}; "
              "the number was probably mistyped", found=rid[17], expected=expected),
        )
    return rid


def parse_subject_key(
    raw: str, *, document_type: str | None = None, legacy_uscc: frozenset[str] = frozenset()
) -> SubjectKey:
    """Classify and validate a subject key. Other identity documents need their type stated.

    Without a stated type, a key with a letter other than a final X is a USCC. 17 digits and a
    digit or X can be either (USCCs such as 121200004013590816 are all digits, and one may end
    in X): the key is a resident ID if it passes that check, otherwise a USCC if it passes that
    one; if neither, the error is the resident-ID one, the likelier intent of such a key."""
    value = canonical(raw)
    if not value:
        raise IdentifierError("required", _("a subject key is required"))
    if document_type in OTHER_DOCUMENTS:
        if not re.fullmatch(r"[A-Za-z0-9]{5,20}", value):
            raise IdentifierError("format", _("a {type} number is 5-20 letters or digits",
                                                   type=document_type))
        return SubjectKey(value.upper(), document_type)
    if document_type not in (None, RESIDENT_ID, USCC):
        raise IdentifierError("document_type", _("unknown identity document type {type}",
                                                           type=repr(document_type)))
    upper = value.upper()
    if document_type == RESIDENT_ID:
        return SubjectKey(validate_resident_id(upper), RESIDENT_ID)
    if document_type == USCC:
        return SubjectKey(validate_uscc(upper, legacy_allow=legacy_uscc), USCC)
    if upper.isdigit() and len(upper) != 18:
        raise IdentifierError(
            "length",
            _("a resident ID number or unified social credit code has 18 characters, not {n}",
              n=len(upper)),
        )
    if _RID_RE.match(upper):
        try:
            return SubjectKey(validate_resident_id(upper), RESIDENT_ID)
        except IdentifierError as as_resident_id:
            if not upper[:17].isdigit():
                raise
            try:
                return SubjectKey(validate_uscc(upper, legacy_allow=legacy_uscc), USCC)
            except IdentifierError:
                raise as_resident_id from None
    return SubjectKey(validate_uscc(upper, legacy_allow=legacy_uscc), USCC)


def mask_resident_id(rid: str) -> str:
    """110102199101010078 -> 110102********0078: region kept, birth date and sequence hidden."""
    return rid[:6] + "*" * (len(rid) - 10) + rid[-4:]


def mask_document_number(value: str) -> str:
    """Mask any identity document number: resident IDs as above; shorter numbers keep only
    their first character and last two."""
    if len(value) >= 15:
        return mask_resident_id(value)
    if len(value) <= 4:
        return "*" * len(value)
    return value[:1] + "*" * (len(value) - 3) + value[-2:]


def looks_like_resident_id(value: str) -> bool:
    """True for an 18-character string that passes the resident ID check; used to mask ID
    numbers that appear inside free-text record data."""
    if len(value) != 18 or not _RID_RE.match(value.upper()):
        return False
    try:
        validate_resident_id(value)
    except IdentifierError:
        return False
    return True


def build_uscc(kind: str, division: str, org_body: str) -> str:
    """Compose a valid USCC from its parts (two-character registration kind, six-digit
    division, eight-character organisation code body); used for demo data and tests."""
    body17 = kind + division + org_body + org_code_check_char(org_body)
    return body17 + uscc_check_char(body17)


def build_resident_id(division: str, birth: str, sequence: str) -> str:
    """Compose a valid resident ID number (six-digit division, YYYYMMDD, three-digit sequence)."""
    body17 = division + birth + sequence
    return body17 + resident_id_check_char(body17)
