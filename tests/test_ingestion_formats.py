"""Bulk file formats read as a stream: rows come out whole however the bytes are cut."""

from __future__ import annotations

import pytest

from api.ingestion.formats import MAX_LINE_BYTES, CsvReader, FormatError, NdjsonReader
from api.ingestion.record import RecordInput, Rejection

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


H = b"subjectKey,subjectType,subjectName,itemCode,sourceRef\n"
GOOD = b"k,t,n,i,GOOD\n"


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_an_unclosed_quote_over_many_lines_costs_linear_time(newline):
    import time

    data = H + b'a,b,c,d,"' + newline * 400_000
    started = time.perf_counter()
    rows = read(CsvReader(), data, 1 << 16)
    # quadratic re-scanning took 23 s for 100,000 lines; linear work is well under a second
    assert time.perf_counter() - started < 3
    assert [(line, r.rule) for line, r in rows] == [(2, "syntax")]


def test_a_quoted_value_over_many_lines_is_capped_like_a_line_and_the_next_row_read():
    data = H + b'a,b,c,d,"' + b"y" * 1000 + b"\n" + (b"z" * 999 + b"\n") * (MAX_LINE_BYTES // 1000) + b'"\n' + GOOD
    rows = read(CsvReader(), data, 4096)
    assert (rows[0][0], rows[0][1].rule) == (2, "line_too_long")
    assert rows[-1][1].source_ref == "GOOD"


def test_invalid_utf8_inside_a_quoted_value_refuses_the_whole_row_not_a_line_of_it():
    data = H + b'a,b,c,d,"one\n\xff\xfe two\nthree"\n' + GOOD
    rows = read(CsvReader(), data, 3)
    assert [(line, getattr(r, "rule", None) or r.source_ref) for line, r in rows] == [(2, "encoding"), (5, "GOOD")]


def test_a_quote_inside_an_unquoted_value_is_a_syntax_error_of_that_row():
    rows = read(CsvReader(), H + b'a,x"y,"z,d,e\n' + GOOD, 5)
    assert [(line, getattr(r, "rule", None) or r.source_ref) for line, r in rows] == [(2, "syntax"), (3, "GOOD")]
    # an odd one opens a quoted value as far as rows go (RFC 4180 allows no quote in an unquoted
    # value): the lines up to the next quote are that one refused row
    rows = read(CsvReader(), H + b'a,b"c,d,e,f\n' + GOOD + b'k,t,n,i,"Q\n' + GOOD, 5)
    assert [(line, getattr(r, "rule", None) or r.source_ref) for line, r in rows] == [(2, "syntax"), (5, "GOOD")]


def test_a_header_of_thousands_of_columns_is_refused_as_a_file():
    header = H.rstrip(b"\n") + b"".join(b",c%d" % i for i in range(5000)) + b"\n"
    with pytest.raises(FormatError, match="CSV 列过多：表头有 5005 列，上限 1000 列"):
        read(CsvReader(), header, 1 << 16)


def test_a_partial_line_in_one_byte_chunks_is_not_copied_again_for_each_byte():
    import time

    data = b'{"sourceRef": "' + b"x" * (MAX_LINE_BYTES - 100) + b'"}\n'
    started = time.perf_counter()
    rows = read(NdjsonReader(), data, 1)
    assert time.perf_counter() - started < 10  # re-joining the buffer per byte: ~10^12 byte copies
    assert rows[0][1].source_ref.startswith("xxx")
