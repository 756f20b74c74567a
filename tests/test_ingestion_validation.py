"""The one validation every submission path runs (Art. 9, 11, 12): pure, no database."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from api import demo
from api.catalog import Catalog, CatalogItem, FieldDef
from api.catalog_admin.definition import DefinitionError, load_yaml, parse_item
from api.ingestion.art11 import CONSENT_ONLY, FORBIDDEN, classify
from api.ingestion.record import RecordInput, Rejection, ValidRecord
from api.ingestion.validation import Validator
from api.ingestion.values import ValueProblem, normalise
from tests.test_identifiers import _load_vectors

TODAY = dt.date(2026, 11, 27)
VECTORS = _load_vectors()


def default_items(year: int) -> list[CatalogItem]:
    doc = load_yaml(demo.DEFAULT_CATALOG.read_text(encoding="utf-8"))
    names = {p.code: p.name for p in doc.providers}
    return [
        CatalogItem(
            code=i.code, name=i.name, category=i.category, disclosure=i.disclosure,
            provider_org=i.provider_org, provider_name=names[i.provider_org], dishonest=i.dishonest,
            list_meaning=i.list_meaning, publicity_months=i.publicity_months,
            fields=tuple(FieldDef(**{**f, "codes": tuple(f.get("codes", ()))}) for f in i.fields),
            year=year, collection_scope=i.collection_scope, collection_paths=i.collection_paths,
            update_cycle=i.update_cycle, sharing_method=i.sharing_method,
            deadline_working_days=i.deadline_working_days, decision_field=i.decision_field,
        )
        for i in doc.items
    ]


CATALOG = Catalog.of({2026: default_items(2026)})


def validator(provider: str = demo.MARKET, catalog: Catalog = CATALOG, **kw) -> Validator:
    return Validator(catalog, provider, TODAY, **kw)


def penalty(**over) -> RecordInput:
    data = {
        "cf_wsh": "沧市监罚〔2026〕77号", "cf_xdr_mc": "某公司", "cf_xdr_lb": "02", "cf_wfxw": "违反食品安全法",
        "cf_cflb": "罚款", "cf_nr": "罚款2万元", "cf_nr_fk": 2, "cf_jdrq": "2026-09-28",
        "cf_cfjg": "沧州市市场监督管理局", "cf_cfjgdm": demo.MARKET,
    }
    extra = over.pop("data", {})
    data = {**data, **extra} if isinstance(extra, dict) else extra
    fields = {
        "subject_key": "91130902MA0DEM0135", "subject_type": "legal_person", "subject_name": "某公司",
        "item_code": "ADM_PENALTY", "source_ref": "CF-77", "decided_on": "2026-09-28", "data": data,
    }
    fields.update(over)
    return RecordInput(**fields)


def person_penalty(key: str, **over) -> RecordInput:
    data = {"cf_xdr_lb": "01", **over.pop("data", {})}
    return penalty(subject_key=key, subject_type="natural_person", subject_name="张三", data=data, **over)


def rejected(result) -> tuple[str, str]:
    assert isinstance(result, Rejection), result
    assert result.message
    return result.field, result.rule


# --- identifiers (Art. 12): every shared vector ---------------------------------------------


@pytest.mark.parametrize("key", VECTORS["uscc_valid"])
def test_every_valid_uscc_vector_is_accepted_as_an_organisation(key):
    result = validator().validate(penalty(subject_key=key))
    assert isinstance(result, ValidRecord), result
    assert (result.subject_key, result.key_type) == (key, "uscc")


@pytest.mark.parametrize("key", VECTORS["resident_id_valid"])
def test_every_valid_resident_id_vector_is_accepted_as_a_person(key):
    result = validator().validate(person_penalty(key))
    assert isinstance(result, ValidRecord), result
    assert (result.subject_key, result.key_type) == (key.upper(), "resident_id")


USCC_RULES = {
    "91110000600037341N": "check_character",
    "9111000060003IOZSV": "alphabet",
    "91110000600037341": "length",
    "91350100M0001TGQXM": "check_character",
}
RESIDENT_RULES = {
    "36042619910102009X": "check_character",
    "360426199113010079": "birth_date",
    "36042619910101007": "length",
}


def test_the_rule_tables_name_every_invalid_vector():
    assert set(USCC_RULES) == set(VECTORS["uscc_invalid"])
    assert set(RESIDENT_RULES) == set(VECTORS["resident_id_invalid"])


@pytest.mark.parametrize("key", sorted(VECTORS["uscc_invalid"]))
def test_every_invalid_uscc_vector_is_rejected_with_its_rule(key):
    assert rejected(validator().validate(penalty(subject_key=key))) == ("subjectKey", USCC_RULES[key])


@pytest.mark.parametrize("key", sorted(VECTORS["resident_id_invalid"]))
def test_every_invalid_resident_id_vector_is_rejected_with_its_rule(key):
    assert rejected(validator().validate(person_penalty(key))) == ("subjectKey", RESIDENT_RULES[key])


def test_a_pilot_era_code_on_the_legacy_allow_list_is_accepted():
    v = validator(legacy_uscc=frozenset({"91350100M0001TGQXM"}))
    assert isinstance(v.validate(penalty(subject_key="91350100M0001TGQXM")), ValidRecord)


def test_a_resident_id_born_after_the_decision_is_rejected():
    result = validator().validate(person_penalty("44011320141005001X", decided_on="2014-10-01",
                                                 data={"cf_jdrq": "2014-10-01"}))
    assert rejected(result) == ("decidedOn", "before_birth")


@pytest.mark.parametrize(
    "key,subject_type,rule",
    [
        ("91130902MA0DEM0135", "natural_person", "subject_type_key"),
        ("130902198503120213", "legal_person", "subject_type_key"),
        ("91130902MA0DEM0135", "individual_business", "subject_type_key"),
        ("91130902MA0DEM0135", "company", "subject_type"),
    ],
)
def test_the_subject_type_must_fit_the_key(key, subject_type, rule):
    result = validator().validate(penalty(subject_key=key, subject_type=subject_type))
    assert rejected(result) == ("subjectType", rule)


def test_another_identity_document_needs_its_type():
    ok = validator().validate(person_penalty("E12345678", document_type="passport"))
    assert isinstance(ok, ValidRecord) and ok.key_type == "passport"
    assert rejected(validator().validate(person_penalty("E12345678")))[0] == "subjectKey"


# --- Art. 11 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["religion", "宗教信仰", "bloodType", "blood_type", "xuexing", "血型", "DNA", "genetic_test",
             "基因检测结果", "fingerprint", "指纹", "medical_history", "病史", "disease", "诊断结论"],
)
def test_a_forbidden_field_refuses_the_whole_record(name):
    result = validator().validate(penalty(data={name: "x"}))
    assert rejected(result) == (f"data.{name}", "art11_forbidden")


def test_words_that_merely_contain_a_forbidden_word_are_not_taken_for_it():
    assert classify("general_note") is None
    assert classify("cf_nr_fk", "罚款金额（万元）") is None
    assert classify("insured_count", "参保人数") is None


def test_a_field_the_catalog_tags_forbidden_is_refused_whatever_its_name():
    item = replace(
        CATALOG.item_for("ADM_PENALTY", TODAY),
        fields=(*CATALOG.item_for("ADM_PENALTY", TODAY).fields,
                FieldDef("cf_bz2", "备用字段二", sensitivity="forbidden")),
    )
    catalog = Catalog.of({2026: [item]})
    assert rejected(validator(catalog=catalog).validate(penalty(data={"cf_bz2": "A型"}))) == (
        "data.cf_bz2", "art11_forbidden")
    assert isinstance(validator(catalog=catalog).validate(penalty(data={"cf_bz2": ""})), ValidRecord)


def tax(key="130902198503120213", **over) -> RecordInput:
    fields = dict(subject_key=key, subject_type="natural_person", subject_name="张伟", item_code="PERSONAL_TAX",
                  source_ref="NS-2025-1", decided_on="2026-03-31",
                  data={"nd": 2025, "tax_amount": "12850.50", "sz": "个人所得税"})
    fields.update(over)
    return RecordInput(**fields)


def test_consent_only_data_of_a_person_is_refused_without_written_consent():
    assert rejected(validator(demo.TAX).validate(tax())) == ("data.tax_amount", "art11_consent")


def test_consent_only_data_with_consent_is_stored_with_its_reference():
    result = validator(demo.TAX).validate(tax(consent_ref="SQ-2026-0042"))
    assert isinstance(result, ValidRecord)
    assert (result.consent_ref, result.subject_name) == ("SQ-2026-0042", "张伟")
    assert '"tax_amount":12850.5' in result.data_json


@pytest.mark.parametrize("name,kind", [("monthly_income", CONSENT_ONLY), ("存款余额", CONSENT_ONLY),
                                        ("房产套数", CONSENT_ONLY), ("taxAmount", CONSENT_ONLY),
                                        ("商业保险保单", CONSENT_ONLY), ("有价证券市值", CONSENT_ONLY),
                                        ("宗教", FORBIDDEN)])
def test_art11_words_in_chinese_and_english(name, kind):
    assert classify(name)[0] == kind


def test_a_catalog_field_named_like_art11_data_must_carry_the_tag():
    item = {
        "code": "X", "name": "x", "category": "other", "disclosure": "public", "provider": demo.MARKET,
        "collection_scope": "s", "collection_paths": ["provider_account"], "update_cycle": "daily",
        "sharing_method": "file", "fields": [{"name": "blood_type", "label": "血型"}, {"name": "income"}],
    }
    with pytest.raises(DefinitionError) as e:
        parse_item(item)
    assert any("第十一条禁止归集" in p for p in e.value.problems)
    assert any("consent_only" in p for p in e.value.problems)


# --- fields, types, catalog ------------------------------------------------------------------


@pytest.mark.parametrize(
    "over,field,rule",
    [
        ({"data": {"cf_wsh": ""}}, "data.cf_wsh", "required"),
        ({"data": {"cf_nr_fk": "-1"}}, "data.cf_nr_fk", "amount"),
        ({"data": {"cf_nr_fk": "1.1234567"}}, "data.cf_nr_fk", "amount"),
        ({"data": {"cf_nr_fk": True}}, "data.cf_nr_fk", "amount"),
        ({"data": {"cf_xdr_lb": "09"}}, "data.cf_xdr_lb", "code_list"),
        ({"data": {"cf_yxq": "2026-13-01"}}, "data.cf_yxq", "date"),
        ({"data": {"colour": "red"}}, "data.colour", "unknown_field"),
        ({"data": {"cf_jdrq": "2026-09-27"}}, "data.cf_jdrq", "decision_date_mismatch"),
        ({"decided_on": "2026-02-30"}, "decidedOn", "date"),
        ({"decided_on": "2027-01-04"}, "decidedOn", "future_date"),
        ({"item_code": "NO_SUCH"}, "itemCode", "catalog"),
        ({"item_code": "TAX_ARREARS"}, "itemCode", "provider_assignment"),
        ({"source_ref": " "}, "sourceRef", "required"),
        ({"subject_name": ""}, "subjectName", "required"),
        ({"data": "not an object"}, "data", "object"),
    ],
)
def test_broken_rules_are_named_by_field_and_rule(over, field, rule):
    assert rejected(validator().validate(penalty(**over))) == (field, rule)


def test_csv_text_and_json_values_store_the_same():
    from_csv = validator().validate(penalty(data={"cf_nr_fk": "2"}))
    from_json = validator().validate(penalty(data={"cf_nr_fk": 2}))
    assert from_csv.data_json == from_json.data_json


@pytest.mark.parametrize(
    "type_,value,stored",
    [("integer", "46", 46), ("integer", 46, 46), ("amount", "3820.50", 3820.5), ("amount", 0, 0),
     ("date", "2099-12-31", "2099-12-31"), ("code", 1, "1")],
)
def test_values_are_normalised_by_type(type_, value, stored):
    assert normalise(type_, ("1",), value, "x") == stored


@pytest.mark.parametrize("type_,value", [("integer", "4.5"), ("integer", True), ("string", 5),
                                         ("amount", "1e400"), ("amount", "abc")])
def test_values_of_the_wrong_type_are_refused(type_, value):
    with pytest.raises(ValueProblem):
        normalise(type_, (), value, "x")


def test_the_decision_date_can_come_from_the_items_decision_field():
    result = validator().validate(penalty(decided_on=None))
    assert isinstance(result, ValidRecord) and result.decided_on == dt.date(2026, 9, 28)


def test_the_catalog_in_force_for_the_decision_date_governs():
    items_2026 = default_items(2026)
    items_2025 = [replace(i, year=2025) for i in items_2026 if i.code != "ADM_INSPECTION"]
    catalog = Catalog.of({2025: items_2025, 2026: items_2026})
    inspection = RecordInput(
        subject_key="91130902MA0DEM0135", subject_type="legal_person", subject_name="某公司",
        item_code="ADM_INSPECTION", source_ref="JC-1", decided_on="2025-06-01",
        data={"jc_rwbh": "R1", "jc_lx": "01", "jc_jg": "1", "jc_rq": "2025-06-01", "jc_jgmc": "市场监管局"},
    )
    assert rejected(validator(catalog=catalog).validate(inspection)) == ("itemCode", "catalog_in_force")
    in_2026 = replace(inspection, decided_on="2026-06-01", data={**inspection.data, "jc_rq": "2026-06-01"})
    result = validator(catalog=catalog).validate(in_2026)
    assert isinstance(result, ValidRecord) and result.item.year == 2026
    # a decision before the first published catalog is governed by the first one
    older = validator(catalog=catalog).validate(penalty(decided_on="2019-05-05", data={"cf_jdrq": "2019-05-05"}))
    assert isinstance(older, ValidRecord) and older.item.year == 2025


def test_an_all_digit_uscc_ending_in_x_is_an_organisations_code():
    key = "91130902000000131X"  # 17 digits and X: no resident ID (no such birth date), a valid USCC
    result = validator().validate(penalty(subject_key=key))
    assert isinstance(result, ValidRecord) and result.key_type == "uscc"
    assert rejected(validator().validate(person_penalty(key))) == ("subjectType", "subject_type_key")


def test_a_double_publicity_item_cannot_allow_more_than_seven_working_days():
    item = {
        "code": "X_PENALTY", "name": "x", "category": "penalty", "disclosure": "public", "provider": demo.MARKET,
        "collection_scope": "s", "collection_paths": ["provider_account"], "update_cycle": "on_decision",
        "sharing_method": "interface", "fields": [{"name": "wsh"}],
    }
    assert parse_item(item).deadline_working_days == 7  # Art. 13 by default
    with pytest.raises(DefinitionError, match="须在 7 个工作日内报送平台"):
        parse_item({**item, "deadline_working_days": 10})
    assert parse_item({**item, "category": "reward"}).deadline_working_days is None


@pytest.mark.parametrize("over, field", [
    ({"subject_name": "某公司\x00"}, "subjectName"),
    ({"source_ref": "CF-\x0777"}, "sourceRef"),
    ({"data": {"cf_nr": "罚款\x002万元"}}, "data.cf_nr"),
    ({"data": {"a\x00b": "x"}}, "data.a\\x00b"),
    ({"data": {"cf_nr": ["x", {"y": "\x1b"}]}}, "data.cf_nr[1].y"),
])
def test_a_control_character_refuses_that_record_naming_the_field(over, field):
    """PostgreSQL cannot store NUL: left to the database it stopped the whole upload."""
    result = validator().validate(penalty(**over))
    assert rejected(result) == (field, "control_character")
    assert "U+00" in result.message
    assert not isinstance(validator().validate(penalty(data={"cf_nr": "罚款\t2万元\r\n"})), Rejection)
