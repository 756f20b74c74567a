"""Art. 12 identifiers: every shared test vector, the rule each invalid one breaks, the subject
key classifier, the builders, masking and the organisation-code check inside a USCC."""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.identifiers import (
    RESIDENT_ID,
    USCC,
    IdentifierError,
    SubjectKey,
    build_resident_id,
    build_uscc,
    canonical,
    looks_like_resident_id,
    mask_document_number,
    mask_resident_id,
    org_code_check_char,
    parse_subject_key,
    uscc_check_char,
    validate_resident_id,
    validate_uscc,
)

VECTORS_FILE = Path(__file__).resolve().parents[2] / "shared/domain/identifiers.json"

# A copy of shared/domain/identifiers.json, used when the shared folder is not checked out next
# to the repository; when it is, test_embedded_vectors_match_the_shared_file keeps them in step.
EMBEDDED_VECTORS = json.loads(
    """
{
  "uscc_valid": ["91110000600037341L", "121200004013590816", "91310115MA1K3BTP2B",
                  "9144030071526726XG", "91340600MA2PBM9HXD", "913101145852519045"],
  "uscc_invalid": {
    "91110000600037341N": "bad check character",
    "9111000060003IOZSV": "forbidden characters",
    "91110000600037341": "too short",
    "91350100M0001TGQXM": "pilot-era code failing the standard check (legacy allow-list case)"
  },
  "resident_id_valid": ["360426199101010071", "44011320141005001X", "110102199101010078",
                         "11010519491231002X", "44011320141005001x"],
  "resident_id_invalid": {
    "36042619910102009X": "bad check character",
    "360426199113010079": "check character fits but month 13 is no date",
    "36042619910101007": "too short"
  }
}
"""
)


def _load_vectors() -> dict:
    if VECTORS_FILE.exists():
        return json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
    return EMBEDDED_VECTORS


VECTORS = _load_vectors()

# The rule each invalid vector must be refused under (IdentifierError.rule).
EXPECTED_RULE = {
    "91110000600037341N": "check_character",
    "9111000060003IOZSV": "alphabet",
    "91110000600037341": "length",
    "91350100M0001TGQXM": "check_character",
    "36042619910102009X": "check_character",
    "360426199113010079": "birth_date",
    "36042619910101007": "length",
}
PILOT_ERA_CODE = "91350100M0001TGQXM"


def _all_digits(code: str) -> bool:
    return code.isdigit()


# --- the vectors file ---------------------------------------------------------------------


def test_embedded_vectors_match_the_shared_file():
    if not VECTORS_FILE.exists():
        pytest.skip(f"{VECTORS_FILE} is not present; the embedded copy is used")
    assert json.loads(VECTORS_FILE.read_text(encoding="utf-8")) == EMBEDDED_VECTORS


def test_every_invalid_vector_has_an_expected_rule():
    invalid = set(VECTORS["uscc_invalid"]) | set(VECTORS["resident_id_invalid"])
    assert invalid == set(EXPECTED_RULE)


# --- USCC vectors ----------------------------------------------------------------------------


@pytest.mark.parametrize("code", VECTORS["uscc_valid"])
def test_valid_uscc_vector_validates_unchanged(code):
    assert validate_uscc(code) == code


@pytest.mark.parametrize("code", VECTORS["uscc_valid"])
def test_valid_uscc_vector_validates_from_lower_case_and_padding(code):
    assert validate_uscc(f"  {code.lower()} ") == code


@pytest.mark.parametrize("code", list(VECTORS["uscc_invalid"]))
def test_invalid_uscc_vector_fails_with_its_rule(code):
    with pytest.raises(IdentifierError) as e:
        validate_uscc(code)
    assert e.value.rule == EXPECTED_RULE[code], str(e.value)
    assert str(e.value)  # a reason in words


def test_forbidden_uscc_characters_are_all_named():
    with pytest.raises(IdentifierError) as e:
        validate_uscc("9111000060003IOZSV")
    for c in "IOZSV":
        assert c in str(e.value).split("(")[0]


def test_uscc_check_character_error_names_the_expected_character():
    with pytest.raises(IdentifierError) as e:
        validate_uscc("91110000600037341N")
    assert "N" in str(e.value) and "L" in str(e.value)


def test_pilot_era_code_fails_by_default():
    with pytest.raises(IdentifierError) as e:
        validate_uscc(PILOT_ERA_CODE)
    assert e.value.rule == "check_character"


def test_pilot_era_code_passes_with_legacy_allow_list():
    assert validate_uscc(PILOT_ERA_CODE, legacy_allow=frozenset({PILOT_ERA_CODE})) == PILOT_ERA_CODE
    assert (
        validate_uscc(PILOT_ERA_CODE.lower(), legacy_allow=frozenset({PILOT_ERA_CODE}))
        == PILOT_ERA_CODE
    )


def test_legacy_allow_list_admits_only_the_codes_listed():
    other_bad = "91110000600037341N"
    with pytest.raises(IdentifierError):
        validate_uscc(other_bad, legacy_allow=frozenset({PILOT_ERA_CODE}))


def test_pilot_era_subject_key_passes_with_legacy_allow_list():
    with pytest.raises(IdentifierError):
        parse_subject_key(PILOT_ERA_CODE)
    key = parse_subject_key(PILOT_ERA_CODE, legacy_uscc=frozenset({PILOT_ERA_CODE}))
    assert key.value == PILOT_ERA_CODE and key.kind == USCC


# --- resident ID vectors -------------------------------------------------------------------


@pytest.mark.parametrize("rid", VECTORS["resident_id_valid"])
def test_valid_resident_id_vector_validates_with_upper_case_x(rid):
    assert validate_resident_id(rid) == rid.upper()
    assert looks_like_resident_id(rid)


def test_lower_case_x_is_normalised_to_upper_case():
    assert validate_resident_id("44011320141005001x") == "44011320141005001X"
    assert parse_subject_key("44011320141005001x").value == "44011320141005001X"


@pytest.mark.parametrize("rid", list(VECTORS["resident_id_invalid"]))
def test_invalid_resident_id_vector_fails_with_its_rule(rid):
    with pytest.raises(IdentifierError) as e:
        validate_resident_id(rid)
    assert e.value.rule == EXPECTED_RULE[rid], str(e.value)
    assert not looks_like_resident_id(rid)


def test_resident_id_with_a_letter_other_than_x_fails_the_alphabet_rule():
    with pytest.raises(IdentifierError) as e:
        validate_resident_id("36042619910101007A")
    assert e.value.rule == "alphabet"


# --- birth dates ------------------------------------------------------------------------------


def test_future_birth_date_is_rejected():
    rid = build_resident_id("110102", "20300101", "001")
    with pytest.raises(IdentifierError) as e:
        validate_resident_id(rid, today=dt.date(2029, 12, 31))
    assert e.value.rule == "birth_date"
    assert validate_resident_id(rid, today=dt.date(2030, 1, 1)) == rid  # born today is fine


def test_birth_date_after_the_real_today_is_rejected():
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    rid = build_resident_id("110102", tomorrow.strftime("%Y%m%d"), "001")
    with pytest.raises(IdentifierError) as e:
        validate_resident_id(rid)
    assert e.value.rule == "birth_date"
    with pytest.raises(IdentifierError) as e:
        parse_subject_key(rid)
    assert e.value.rule == "birth_date"


def test_implausibly_old_birth_date_is_rejected():
    rid = build_resident_id("110102", "18791231", "001")
    with pytest.raises(IdentifierError) as e:
        validate_resident_id(rid)
    assert e.value.rule == "birth_date"


def test_february_29_in_a_non_leap_year_is_not_a_date():
    rid = build_resident_id("110102", "19990229", "001")
    with pytest.raises(IdentifierError) as e:
        validate_resident_id(rid)
    assert e.value.rule == "birth_date"
    leap = build_resident_id("110102", "20000229", "001")
    assert validate_resident_id(leap) == leap


# --- organisation code check inside the USCC -------------------------------------------------


def test_org_code_check_rule_catches_a_wrong_17th_character_with_a_right_18th():
    valid = "91110000600037341L"
    right17 = org_code_check_char(valid[8:16])
    assert right17 == valid[16]
    wrong17 = "2" if right17 != "2" else "3"
    body17 = valid[:16] + wrong17
    code = body17 + uscc_check_char(body17)  # 18th character fits the (wrong) body
    with pytest.raises(IdentifierError) as e:
        validate_uscc(code)
    assert e.value.rule == "org_code_check_character"
    assert wrong17 in str(e.value) and right17 in str(e.value)


@pytest.mark.parametrize("org_body, check", [("60003734", "1"), ("71526726", "X"), ("MA0DEM01", "3")])
def test_org_code_check_char_follows_gb_11714(org_body, check):
    assert org_code_check_char(org_body) == check


def test_org_code_check_value_eleven_is_written_zero():
    # find a body whose weighted sum is 0 mod 11 -> check 11 -> "0"
    body = "00000000"
    assert org_code_check_char(body) == "0"


# --- classification ---------------------------------------------------------------------------

_LETTERED_USCC = [c for c in VECTORS["uscc_valid"] if not _all_digits(c)]
_ALL_DIGIT_USCC = [c for c in VECTORS["uscc_valid"] if _all_digits(c)]



@pytest.mark.parametrize(
    "code",
    _LETTERED_USCC + _ALL_DIGIT_USCC,
)
def test_parse_subject_key_classifies_every_valid_uscc_vector_as_uscc(code):
    key = parse_subject_key(code)
    assert key.kind == USCC and key.value == code


@pytest.mark.parametrize("code", VECTORS["uscc_valid"])
def test_parse_subject_key_with_stated_uscc_type_accepts_every_valid_vector(code):
    assert parse_subject_key(code, document_type=USCC) == parse_subject_key(code, document_type="uscc")
    assert parse_subject_key(code, document_type=USCC).kind == USCC


@pytest.mark.parametrize("rid", VECTORS["resident_id_valid"])
def test_parse_subject_key_classifies_resident_ids(rid):
    key = parse_subject_key(rid)
    assert key.kind == RESIDENT_ID and key.value == rid.upper()


@pytest.mark.parametrize("code", list(VECTORS["uscc_invalid"]) + list(VECTORS["resident_id_invalid"]))
def test_parse_subject_key_refuses_every_invalid_vector(code):
    with pytest.raises(IdentifierError) as e:
        parse_subject_key(code)
    assert e.value.rule == EXPECTED_RULE[code]


def test_parse_subject_key_requires_a_key():
    for raw in ("", "   ", None):
        with pytest.raises(IdentifierError) as e:
            parse_subject_key(raw)  # type: ignore[arg-type]
        assert e.value.rule == "required"


@pytest.mark.parametrize(
    "doc_type", ["passport", "hk_macao_permit", "taiwan_permit", "foreign_permanent_residence"]
)
def test_other_documents_keep_their_type_and_are_upper_cased(doc_type):
    key = parse_subject_key(" e12345678 ", document_type=doc_type)
    assert key.kind == doc_type and key.value == "E12345678"


@pytest.mark.parametrize("value", ["E123", "E" * 21, "E1234-5678"])
def test_other_document_number_outside_the_format_is_refused(value):
    with pytest.raises(IdentifierError) as e:
        parse_subject_key(value, document_type="passport")
    assert e.value.rule == "format"


def test_unknown_document_type_is_refused():
    with pytest.raises(IdentifierError) as e:
        parse_subject_key("E12345678", document_type="driving_licence")
    assert e.value.rule == "document_type"


def test_stated_resident_id_type_validates_as_resident_id():
    with pytest.raises(IdentifierError) as e:
        parse_subject_key("91110000600037341L", document_type=RESIDENT_ID)
    assert e.value.rule == "alphabet"


# --- builders ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, division, org_body",
    [("91", "130902", "MA0DEM01"), ("11", "130900", "00000001"), ("N2", "130921", "MA0ABCDE"),
     ("Y1", "130900", "12345678"), ("91", "130903", "MA0DEM04")],
)
def test_build_uscc_round_trips_through_validation(kind, division, org_body):
    code = build_uscc(kind, division, org_body)
    assert len(code) == 18 and code.startswith(kind + division + org_body)
    assert validate_uscc(code) == code
    assert validate_uscc(code.lower()) == code


def test_build_uscc_reproduces_the_demo_company_code():
    assert build_uscc("91", "130902", "MA0DEM01") == "91130902MA0DEM0135"


def test_build_uscc_with_letters_round_trips_through_parse_subject_key():
    code = build_uscc("91", "130902", "MA0DEM01")
    assert parse_subject_key(code) == parse_subject_key(code.lower())
    assert parse_subject_key(code).kind == USCC


@pytest.mark.parametrize(
    "division, birth, sequence",
    [("110102", "19910101", "007"), ("440113", "20141005", "001"), ("110105", "19491231", "002"),
     ("130902", "19800229", "123")],
)
def test_build_resident_id_round_trips_through_validation(division, birth, sequence):
    rid = build_resident_id(division, birth, sequence)
    assert rid[:17] == division + birth + sequence
    assert validate_resident_id(rid) == rid
    key = parse_subject_key(rid.lower())
    assert key.kind == RESIDENT_ID and key.value == rid


def test_build_resident_id_reproduces_the_vectors():
    assert build_resident_id("110102", "19910101", "007") == "110102199101010078"
    assert build_resident_id("440113", "20141005", "001") == "44011320141005001X"


# --- masking ----------------------------------------------------------------------------------


def test_mask_resident_id_keeps_region_and_last_four():
    assert mask_resident_id("110102199101010078") == "110102********0078"


def test_mask_document_number_masks_resident_ids_like_mask_resident_id():
    assert mask_document_number("110102199101010078") == "110102********0078"
    assert mask_document_number("44011320141005001X") == "440113********001X"


@pytest.mark.parametrize(
    "value, masked",
    [("", ""), ("A", "*"), ("AB12", "****"), ("E1234", "E**34"), ("E12345678", "E******78"),
     ("H1234567890123", "H***********23")],
)
def test_mask_document_number_on_short_numbers(value, masked):
    assert mask_document_number(value) == masked


@pytest.mark.parametrize("length", range(0, 15))
def test_mask_document_number_short_numbers_keep_length_and_show_at_most_three(length):
    value = "ABCDEFGHJKLMNPQ"[:length]
    masked = mask_document_number(value)
    assert len(masked) == length
    shown = [c for c in masked if c != "*"]
    assert len(shown) <= 3
    assert len(shown) < length or length == 0  # something is always hidden


def test_an_all_digit_uscc_ending_in_x_is_a_uscc():
    code = "12130900100000219X"  # valid USCC: digits, organisation check 9, final check X
    assert validate_uscc(code) == code
    assert parse_subject_key(code) == SubjectKey(code, USCC)
    # a resident ID with a final X is still read as one
    assert parse_subject_key("44011320141005001x").kind == RESIDENT_ID


# Canonical keys: NFKC, then ASCII (issue 9: a full-width key made a second subject)

PERSON_KEY = "130902198503120213"
COMPANY_KEY = "91130902MA0DEM0135"
UNICODE_DIGITS = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Nd"]


def test_full_width_keys_reach_the_same_subject():
    assert parse_subject_key("１30902198503120213").value == PERSON_KEY
    assert parse_subject_key("１３０９０２１９８５０３１２０２１３").value == PERSON_KEY
    assert parse_subject_key("９１１３０９０２ＭＡ０ＤＥＭ０１３５").value == COMPANY_KEY
    assert parse_subject_key("13090219650220052ｘ").value == "13090219650220052X"
    assert validate_uscc("９1130902MA0DEM0135") == COMPANY_KEY


@pytest.mark.parametrize(
    "raw", ["١30902198503120213", "1309021985031202\u0663", "13090219850312021\u0000",
            "130902198503120213\u200b", "Ε12345678"]
)
def test_keys_that_are_not_ascii_after_nfkc_are_refused(raw):
    with pytest.raises(IdentifierError) as e:
        parse_subject_key(raw)
    assert e.value.rule == "ascii"
    assert "主体标识只能由半角字母和数字组成" in str(e.value)


def test_canonical_keeps_ascii_and_trims():
    assert canonical(" 91130902MA0DEM0135 ") == COMPANY_KEY
    with pytest.raises(IdentifierError):
        canonical("E1234\u20285678")


@settings(max_examples=500)
@given(st.sampled_from(UNICODE_DIGITS), st.sets(st.integers(0, 17), min_size=1, max_size=18),
       st.sampled_from([PERSON_KEY, COMPANY_KEY, "13090219650220052X"]))
def test_property_every_unicode_digit_variant_reaches_the_same_key_or_is_refused(digit, where, key):
    zero = ord(digit) - unicodedata.decimal(digit)
    raw = "".join(chr(zero + int(c)) if i in where and c.isdigit() else c for i, c in enumerate(key))
    try:
        got = parse_subject_key(raw).value
    except IdentifierError as e:
        assert e.rule in ("ascii",) or raw == key
        return
    assert got == key


async def test_check_keys_finds_stored_keys_that_are_not_canonical(state, owner, settings, capsys, monkeypatch):
    import asyncio

    from api.cli import main as credit
    from api.subjects_cli import check_keys

    assert await check_keys(owner) == []
    async with state.pool.acquire() as conn:  # subjects are written only by signing sessions (0007)
        await conn.execute(
        "INSERT INTO subjects (key, key_type, subject_type, name) VALUES ($1, 'resident_id', 'natural_person', '张伟'),"
        " ($2, 'resident_id', 'natural_person', '某'), ($3, 'uscc', 'legal_person', '某公司')",
        "１30902198503120213", "13090219850312021١", "91130902ma0dem0135",
    )
    found = {f.key: f for f in await check_keys(owner)}
    assert set(found) == {"１30902198503120213", "13090219850312021١", "91130902ma0dem0135"}
    assert found["１30902198503120213"].canonical == PERSON_KEY and found["１30902198503120213"].duplicate
    assert found["13090219850312021١"].canonical is None and "ascii" in found["13090219850312021١"].problem
    assert found["91130902ma0dem0135"].canonical == COMPANY_KEY
    for name, value in (("DATABASE_URL", settings.database_url), ("CREDIT_DATA_DIR", str(settings.data_dir)),
                        ("CREDIT_JWT_SECRET", "s" * 40), ("CREDIT_AUDIT_KEY", "k" * 40)):
        monkeypatch.setenv(name, value)
    assert await asyncio.to_thread(credit, ["subjects", "check-keys"]) == 1
    out = capsys.readouterr().out
    assert "subjects: \\uff1130902198503120213 -> 130902198503120213" in out and "merge them" in out
