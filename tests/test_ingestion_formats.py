"""Bulk file formats read as a stream: rows come out whole however the bytes are cut."""

from __future__ import annotations

import pytest

from api.ingestion.formats import MAX_LINE_BYTES, CsvReader, FormatError, NdjsonReader
from api.ingestion.validation import RecordInput, Rejection

CSV = (
    "\ufeffsubjectKey,subjectType,subjectName,itemCode,sourceRef,decidedOn,cf_sy,cf_nr_fk\r\n"
    '91130902MA0DEM0135,LEGAL_PERSON,"沧州运河示范商贸有限公司",ADM_PENALTY,CF-1,2026-09-28,"第一行\n第二行, 含逗号",2\r\n'
    '91130902MA0DEM0135,LEGAL_PERSON,某公司,ADM_PENALTY,CF-2,2026-09-28,"引号""内""",\r\n'
).encode()


def read(reader, data: bytes, cut: int) -> list:
    rows = []
    for i in range(0, len(data), cut):
        rows += reader.feed(data[i : i + cut])
    return rows + reader.finish()


@pytest.mark.parametrize("cut", [1, 7, 64, 1 << 16])
def test_csv_rows_survive_any_cut_with_quoted_newlines_and_a_byte_order_mark(cut):
    rows = read(CsvReader(), CSV, cut)
    assert [line for line, _ in rows] == [2, 4]  # the line each row starts on
    first, second = (r for _, r in rows)
    assert isinstance(first, RecordInput) and first.subject_key == "91130902MA0DEM0135"
    assert first.data == {"cf_sy": "第一行\n第二行, 含逗号", "cf_nr_fk": "2"}
    assert second.data == {"cf_sy": '引号"内"'}  # an empty cell is an absent value


def test_a_csv_row_with_the_wrong_number_of_cells_is_refused_alone():
    data = b"subjectKey,subjectType,subjectName,itemCode,sourceRef\na,b,c,d\na,b,c,d,e\n"
    rows = read(CsvReader(), data, 1 << 16)
    assert isinstance(rows[0][1], Rejection) and rows[0][1].rule == "columns"
    assert isinstance(rows[1][1], RecordInput)


def test_a_csv_without_its_key_columns_is_refused_as_a_file():
    with pytest.raises(FormatError):
        read(CsvReader(), b"a,b\n1,2\n", 4)


@pytest.mark.parametrize("cut", [1, 5, 1 << 16])
def test_ndjson_lines_come_out_numbered_and_bad_ones_are_refused_alone(cut):
    data = (b'\xef\xbb\xbf{"sourceRef": "A", "data": {}}\n\n{oops\n[1]\n{"sourceRef": 5}\n'
            b'{"sourceRef": "B", "extra": 1}\n{"sourceRef": "C"}')
    rows = read(NdjsonReader(), data, cut)
    got = [(line, r.rule if isinstance(r, Rejection) else r.source_ref) for line, r in rows]
    assert got == [(1, "A"), (3, "syntax"), (4, "syntax"), (5, "text"), (6, "unknown_field"), (7, "C")]


def test_an_overlong_line_is_refused_and_the_next_one_read():
    data = b'{"sourceRef": "' + b"x" * (MAX_LINE_BYTES + 10) + b'"}\n{"sourceRef": "B"}\n'
    rows = read(NdjsonReader(), data, 1 << 16)
    assert [(line, getattr(r, "rule", None) or r.source_ref) for line, r in rows] == [
        (1, "line_too_long"), (2, "B")]
