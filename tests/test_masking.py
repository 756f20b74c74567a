"""Masks from the catalog's field tags: names of natural persons and identity numbers, also
inside free text and in any script's digits (api/disclosure/masking.py)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.catalog_admin.definition import DefinitionError, parse_item
from api.disclosure.masking import (
    MaskSpec,
    is_legacy_id,
    is_resident_id,
    mask_data,
    mask_ids_in_text,
    mask_name,
)
from api.identifiers import build_resident_id

TODAY = dt.date(2026, 11, 28)
RID = build_resident_id("130902", "19850312", "021")  # 130902198503120213
RID_X = "13090219650220052X"
LEGACY = "130902850312021"  # first-generation: 6 region, YYMMDD, 3 sequence
ALL_DIGITS = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Nd"]
SPEC = MaskSpec.of({
    "cf_xdr_mc": "subject_name", "cf_frdb": "person_name", "cf_xdr_zjhm": "id_number",
    "cf_sy": "free_text", "cf_wsh": None, "cf_nr_fk": None,
})


def variant(text: str, zero: str) -> str:
    """`text` with its ASCII digits written in the script whose zero is `zero`."""
    return "".join(chr(ord(zero) + int(c)) if c.isdigit() else c for c in text)


def valid_ids_in(text: str) -> list[str]:
    """Every 18-character window of digits (any script) that is a valid resident ID."""
    norm = "".join(
        "X" if c in "xXｘＸ" else (str(unicodedata.decimal(c)) if unicodedata.decimal(c, None) is not None else "_")
        for c in text
    )
    return [norm[i : i + 18] for i in range(len(norm) - 17) if is_resident_id(norm[i : i + 18], TODAY)]


def test_an_id_number_inside_free_text_is_masked():
    text = f"当事人张伟（身份证号{RID}）于2026年销售过期食品"
    assert mask_ids_in_text(text, today=TODAY) == "当事人张伟（身份证号130902********0213）于2026年销售过期食品"


def test_an_id_ending_in_x_lower_or_upper_is_masked():
    assert mask_ids_in_text(f"号码{RID_X.lower()}。", today=TODAY) == "号码130902********052X。"


@pytest.mark.parametrize("zero", ["０", "٠", "०", "𝟎"])
def test_an_id_in_full_width_or_other_digits_is_masked(zero):
    out = mask_ids_in_text(f"证件{variant(RID, zero)}", today=TODAY)
    assert out == "证件130902********0213"


def test_a_legacy_15_digit_number_is_masked_in_free_text_only():
    text = f"旧证{LEGACY}号"
    assert mask_ids_in_text(text, legacy=True, today=TODAY) == "旧证130902******021号"
    assert mask_ids_in_text(text, legacy=False, today=TODAY) == text


def test_numbers_that_are_not_ids_stay():
    text = "罚款5000元，决定书沧市监罚〔2026〕1102号，电话13800138000，卡号6222021234567890"
    assert mask_ids_in_text(text, legacy=True, today=TODAY) == text
    assert mask_ids_in_text(RID[:-1] + "5", today=TODAY) == RID[:-1] + "5"  # wrong check character


def test_an_id_inside_a_longer_run_of_digits_is_still_masked():
    assert mask_ids_in_text("9" + RID + "7", today=TODAY) == "9130902********02137"


def test_two_ids_back_to_back_are_both_masked():
    out = mask_ids_in_text(RID + RID_X, today=TODAY)
    assert out == "130902********0213130902********052X"


def test_mask_data_follows_the_tags_and_the_subject_type():
    data = {"cf_xdr_mc": "张伟", "cf_frdb": "王强", "cf_xdr_zjhm": RID, "cf_sy": f"身份证{LEGACY}",
            "cf_wsh": f"文号{RID}", "cf_nr_fk": 0.5, "old_field": LEGACY, "count": int(RID[:-1] + "3")}
    person = mask_data(data, SPEC, natural_person=True, today=TODAY)
    assert person == {"cf_xdr_mc": "张*", "cf_frdb": "王*", "cf_xdr_zjhm": "130902********0213",
                      "cf_sy": "身份证130902******021", "cf_wsh": "文号130902********0213",
                      "cf_nr_fk": 0.5, "old_field": "130902******021", "count": "130902********0213"}
    company = mask_data({**data, "cf_xdr_mc": "沧州某某食品有限公司"}, SPEC, natural_person=False, today=TODAY)
    assert company["cf_xdr_mc"] == "沧州某某食品有限公司"  # an organisation's name is its name
    assert company["cf_frdb"] == "王*"  # the legal representative is a natural person
    assert company["cf_wsh"] == "文号130902********0213"


def test_a_retag_never_unmasks():
    now = MaskSpec.of({"f": None})
    then = MaskSpec.of({"f": "person_name"})
    assert mask_data({"f": "张伟"}, now | then, natural_person=False) == {"f": "张*"}


def test_mask_name():
    assert mask_name("张伟") == "张*" and mask_name("欧阳娜娜") == "欧***" and mask_name("李") == "李*"


@st.composite
def resident_ids(draw) -> str:
    region = draw(st.sampled_from(["110102", "130902", "130903", "440305", "650102"]))
    born = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY))
    seq = draw(st.integers(0, 999))
    return build_resident_id(region, born.strftime("%Y%m%d"), f"{seq:03d}")


@st.composite
def texts_with_ids(draw) -> str:
    """Prose, numbers and ID numbers (ASCII, full-width, other scripts, x or X) mixed."""
    parts = draw(st.lists(st.one_of(
        st.text(alphabet=st.sampled_from("沧州市罚款元号（）：, abcXx-/ "), max_size=8),
        st.from_regex(r"[0-9]{1,20}", fullmatch=True),
        st.tuples(resident_ids(), st.sampled_from(["0", "０", "٠", "०", "𝟎"]), st.booleans()).map(
            lambda t: variant(t[0].lower() if t[2] else t[0], t[1])),
        st.sampled_from([LEGACY, "110102530101001"]),
    ), max_size=12))
    return "".join(parts)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(texts_with_ids())
def test_property_no_valid_id_survives_masking(text):
    out = mask_ids_in_text(text, legacy=True, today=TODAY)
    assert valid_ids_in(out) == []
    legacy_runs = re.findall(r"(?<![0-9])[0-9]{15}(?![0-9])", out)
    assert not [r for r in legacy_runs if is_legacy_id(r, TODAY)]


@settings(max_examples=400)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_property_text_without_ids_is_unchanged(text):
    if valid_ids_in(text):
        return  # a valid ID drawn at random is astronomically rare; the other test covers it
    legacy_free = mask_ids_in_text(text, legacy=False, today=TODAY)
    assert legacy_free == text


@settings(max_examples=300)
@given(resident_ids(), st.sampled_from(ALL_DIGITS))
def test_property_an_id_in_any_unicode_digits_is_masked(rid, digit):
    zero = chr(ord(digit) - unicodedata.decimal(digit))
    out = mask_ids_in_text("号" + variant(rid, zero) + "。", today=TODAY)
    assert out == "号" + rid[:6] + "********" + rid[-4:] + "。"


def test_masking_is_linear_in_the_text():
    import time

    text = ("1" * 17 + "Z") * 20_000  # many near-IDs, none valid
    start = time.perf_counter()
    assert mask_ids_in_text(text, legacy=True, today=TODAY) == text
    assert time.perf_counter() - start < 5


BASE_ITEM = {
    "code": "X_ITEM", "name": "测试", "category": "other", "disclosure": "public",
    "provider": "111309000000020224", "collection_scope": "s", "collection_paths": ["provider_account"],
    "update_cycle": "daily", "sharing_method": "interface",
}


@pytest.mark.parametrize(
    ("field", "rule"),
    [
        ({"name": "fr", "label": "法定代表人"}, "person_name"),
        ({"name": "cf_xdr_mc", "label": "相对人"}, "person_name"),
        ({"name": "contact", "label": "联系人姓名"}, "person_name"),
        ({"name": "zjhm", "label": "号码"}, "id_number"),
        ({"name": "num", "label": "负责人身份证号"}, "id_number"),
    ],
)
def test_the_catalog_refuses_a_name_or_id_field_without_its_masking_tag(field, rule):
    with pytest.raises(DefinitionError) as e:
        parse_item({**BASE_ITEM, "fields": [field]})
    assert f"sensitivity: {rule}" in str(e.value)
    tagged = {**field, "sensitivity": "subject_name" if rule == "person_name" else rule}
    assert parse_item({**BASE_ITEM, "fields": [tagged]}).fields[0]["sensitivity"] == tagged["sensitivity"]


def test_the_catalog_leaves_other_fields_alone():
    item = parse_item({**BASE_ITEM, "fields": [
        {"name": "fr_zjlx", "label": "法定代表人证件类型", "type": "code", "codes": ["01"]},
        {"name": "jl_mc", "label": "奖励名称"}, {"name": "bz", "label": "备注", "sensitivity": "free_text"},
    ]})
    assert [f.get("sensitivity") for f in item.fields] == [None, None, "free_text"]


def test_the_default_catalog_tags_names_ids_and_free_text():
    from pathlib import Path

    from api.catalog_admin.definition import load_yaml

    doc = load_yaml((Path(__file__).parent.parent / "api/catalog_admin/default_catalog.yaml").read_text())
    penalty = next(i for i in doc.items if i.code == "ADM_PENALTY")
    tags = {f["name"]: f.get("sensitivity") for f in penalty.fields}
    assert tags["cf_xdr_mc"] == "subject_name" and tags["cf_frdb"] == "person_name"
    assert tags["cf_sy"] == "free_text" and tags["cf_xdr_zjhm"] == "id_number"


def test_names_the_record_hides_are_masked_where_prose_repeats_them():
    data = {"cf_xdr_mc": "张伟", "cf_frdb": "王建国", "cf_sy": "张伟受王建国指使，张伟强在场", "cf_wsh": "张"}
    out = mask_data(data, SPEC, natural_person=True, subject_name="张伟", today=TODAY)
    assert out["cf_sy"] == "张*受王**指使，张*强在场"
    assert out["cf_wsh"] == "张"  # one character is not a name to hunt for
    company = mask_data({"cf_xdr_mc": "某公司", "cf_sy": "某公司销售"}, SPEC, natural_person=False,
                        subject_name="某公司", today=TODAY)
    assert company == {"cf_xdr_mc": "某公司", "cf_sy": "某公司销售"}
