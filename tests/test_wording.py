"""Notifications are written once and read in each reader's language (api/wording.py): the
parts survive the JSON round trip, dates are written as the reader's language writes them,
typed text is never translated, and a stored part this version does not know is refused
rather than used as a format string."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from api.i18n import N_, use_locale
from api.rights.notice_words import RESULT_WORDS, coded, due_words, record_of
from api.rights.notifications import _message
from api.wording import MAX_DEPTH, Wording, wording


class Case:
    due_on = dt.date(2026, 10, 9)
    due_provisional = False


def told() -> Wording:
    return wording(N_("Objection {n} about record {record}: compare the platform's data with the "
                      "provider's{due} and report the result (Art. 38 ¶1)."),
                   n="YY-2026-0001", record=record_of("行政处罚信息", "91130902MA0DEM0135"),
                   due=due_words(Case))


def test_a_wording_reads_in_each_language_and_survives_storage():
    stored = Wording.load(json.loads(json.dumps(told().dump(), ensure_ascii=False)))
    assert stored == told()
    with use_locale("zh_CN"):
        assert stored.render() == ("关于91130902MA0DEM0135的行政处罚信息的异议 YY-2026-0001：请比对平台数据"
                                   "与提供单位数据（2026年10月9日前）并报告结果（第三十八条第一款）。")
    assert stored.english() == (
        "Objection YY-2026-0001 about record 行政处罚信息 of 91130902MA0DEM0135: compare the "
        "platform's data with the provider's by October 9, 2026 and report the result (Art. 38 ¶1).")


def test_typed_text_is_shown_as_typed_and_braces_in_it_are_not_formats():
    note = wording(N_(" {note}"), note="{n} 经核查 {0.__class__}")
    with use_locale("zh_CN"):
        assert note.render() == "处理说明：{n} 经核查 {0.__class__}"


def test_a_stored_part_this_version_does_not_know_is_refused():
    forged = Wording.load([["{n.__class__.__mro__}", {"n": "x"}]])
    with pytest.raises(ValueError, match="not a message of this version"):
        forged.render()


def test_parameters_are_plain_values_days_or_wordings():
    with pytest.raises(TypeError):
        wording(N_(" {note}"), note=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    with pytest.raises(TypeError):
        wording(N_(" {note}"), note=["a list"])


def nested(depth: int) -> list:
    parts: list = [["{item} of {subject}", {"item": "x", "subject": "y"}]]
    for _ in range(depth):
        parts = [["{item} of {subject}", {"item": {"wording": parts}, "subject": "y"}]]
    return parts


@pytest.mark.parametrize("parts", [
    [["x", "y"]], [{"a": 1}], "not a list", [["{item} of {subject}"]], [[1, {}]],
    [["{n.__class__.__mro__}", {"n": "x"}]],  # not a message of this version
    [["{item} of {subject}", {"item": "x"}]],  # a parameter missing
    nested(MAX_DEPTH + 1), nested(100), [["testing", {}]] * 17,
])
def test_a_stored_wording_that_cannot_be_rendered_shows_the_stored_english(parts):
    """One row's parts never break a listing: the English text stored beside them is shown."""
    row = {"id": 7, "message": "the stored English", "message_parts": json.dumps(parts)}
    assert _message(row) == "the stored English"
    assert _message({**row, "message_parts": None}) == "the stored English"


def test_json_nested_past_the_parsers_limit_shows_the_stored_english():
    deep = '[["{item} of {subject}", {"subject": "y", "item": {"wording": ' * 5000 + "[]" + "}}]]" * 5000
    assert _message({"id": 8, "message": "the stored English", "message_parts": deep}) == \
        "the stored English"


def test_nesting_as_deep_as_code_nests_is_rendered():
    with use_locale("zh_CN"):
        assert _message({"id": 1, "message": "-", "message_parts": json.dumps(nested(MAX_DEPTH))}) \
            .endswith("x")


def test_recorded_codes_are_read_as_words():
    with use_locale("zh_CN"):
        assert coded(RESULT_WORDS, "verified").render() == "经核实，记录属实"
    assert coded(RESULT_WORDS, "something new") == "something new"  # shown as recorded
