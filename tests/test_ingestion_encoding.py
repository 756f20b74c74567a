"""Uploads in GBK, GB18030 and UTF-8 with or without a byte-order mark, declared or detected;
the template a provider fills in (`credit catalog template`) uploads back as it is."""

from __future__ import annotations

import asyncio
import json

import pytest

from api.catalog import china_today
from api.cli import main
from api.i18n import use_locale
from api.ingestion.client import upload as upload_client
from api.ingestion.columns import field_names
from api.ingestion.encoding import DETECT_BYTES, FormatError, TextEncoding
from api.ingestion.formats import CsvReader, NdjsonReader
from api.ingestion.record import Rejection
from api.ingestion.template import template_csv
from api.ingestion.validation import Validator
from tests.conftest import token
from tests.test_ingestion_bulk import as_csv, licence_row, ndjson
from tests.test_ingestion_crash import Server
from tests.test_ingestion_formats import read

URL = "/upload/records"
RARE = "𠮷"  # U+20BB7: in GB18030 (four bytes), not in GBK


def chinese_rows(n: int, prefix: str = "ENC") -> list[dict]:
    return [licence_row(i, sourceRef=f"{prefix}-{i}", subjectName=f"沧州编码测试{i}号商贸有限公司",
                        data={"xk_xdr_mc": f"沧州编码测试{i}号商贸有限公司", "xk_nr": "预包装食品销售，含“引号”"})
            for i in range(n)]


def csv_text(rows: list[dict]) -> str:
    return as_csv(rows).decode("utf-8")


def names(rows) -> list[tuple[str, str]]:
    return [(r.subject_name, r.data["xk_nr"]) for _, r in rows]


@pytest.mark.parametrize("cut", [1, 2, 3, 7, 4096])
def test_a_gbk_file_is_detected_and_reads_as_the_utf8_one_however_cut(cut):
    text = csv_text(chinese_rows(5))
    as_utf8, as_gbk = CsvReader(), CsvReader()
    expected = names(read(as_utf8, text.encode("utf-8"), cut))
    assert names(read(as_gbk, text.encode("gbk"), cut)) == expected
    assert expected[0] == ("沧州编码测试0号商贸有限公司", "预包装食品销售，含“引号”")
    assert (as_utf8.encoding.name, as_gbk.encoding.name) == ("utf-8", "gb18030")


@pytest.mark.parametrize("cut", [1, 5, 4096])
def test_a_character_only_gb18030_has_and_a_byte_order_mark(cut):
    text = csv_text(chinese_rows(2)).replace("沧州编码测试1号", f"{RARE}编码测试1号")
    rare = CsvReader()
    rows = read(rare, text.encode("gb18030"), cut)
    assert rows[1][1].subject_name.startswith(RARE) and rare.encoding.name == "gb18030"
    bom = CsvReader()
    assert names(read(bom, ("\ufeff" + text).encode("utf-8"), cut)) == names(rows)
    assert bom.encoding.name == "utf-8-sig"


@pytest.mark.parametrize("cut", [1, 3, 1000, 1 << 16])
def test_detection_on_a_sample_cut_inside_a_character(cut):
    # well over the sample: the sample ends where a chunk ends, mostly inside a character
    rows = chinese_rows(DETECT_BYTES // 250 + 40)
    text = csv_text(rows)
    for codec, name in (("gbk", "gb18030"), ("utf-8", "utf-8")):
        reader = CsvReader()
        out = read(reader, text.encode(codec), cut)
        assert reader.encoding.name == name
        assert [r.source_ref for _, r in out] == [r["sourceRef"] for r in rows]
        assert names(out)[-1] == (rows[-1]["subjectName"], rows[-1]["data"]["xk_nr"])


@pytest.mark.parametrize("cut", [1, 4096])
def test_a_declared_charset_that_the_file_is_not_refuses_it_whole(cut):
    gbk = csv_text(chinese_rows(3)).encode("gbk")
    # the header is ASCII: the first byte that is not UTF-8 is in the first name, on line 2
    first = next(i for i, b in enumerate(gbk) if b >= 0x80)
    with pytest.raises(FormatError, match=r"声明为 charset=utf-8，实为 gb18030 编码") as e:
        read(CsvReader(TextEncoding("utf-8")), gbk, cut)
    assert f"第 2 行，文件第 {first} 字节" in str(e.value)  # outside a request: the default, zh_CN
    with use_locale("en"):
        with pytest.raises(FormatError, match=r"declares charset=utf-8 but is gb18030 text") as e:
            read(CsvReader(TextEncoding("utf-8")), gbk, cut)
        assert f"line 2, byte offset {first}" in str(e.value)
        with pytest.raises(FormatError, match="byte-order mark but declares charset=gbk"):
            read(CsvReader(TextEncoding("gbk")), b"\xef\xbb\xbf" + gbk, 4096)
        with pytest.raises(FormatError, match="unsupported charset 'latin-9'"):
            TextEncoding("latin-9")
    declared = CsvReader(TextEncoding("GBK"))  # declared, not detected: reported as declared
    assert len(read(declared, gbk, 4096)) == 3 and declared.encoding.name == "gbk"


def test_a_gbk_row_after_a_utf8_start_is_refused_with_its_line_and_offset():
    # the UTF-8 start is longer than the sample the encoding is chosen on
    head = csv_text([licence_row(i, sourceRef=f"A-{i}") for i in range(DETECT_BYTES // 250 + 10)])
    assert len(head.encode()) > DETECT_BYTES + 4096 and not head.isascii()
    tail = csv_text(chinese_rows(1, prefix="LATE")).split("\r\n", 1)[1]
    data = head.encode() + tail.encode("gbk")
    rows = read(CsvReader(), data, 4096)
    line, refused = rows[-1]
    assert isinstance(refused, Rejection) and refused.rule == "encoding"
    assert line == head.count("\n") + 1
    offset = len(head.encode()) + tail.encode("gbk").index("沧".encode("gbk"))
    assert refused.message.startswith(f"第 {line} 行，文件第 {offset} 字节：不是 utf-8 文本")
    assert not any(isinstance(r, Rejection) for _, r in rows[:-1])


def test_ndjson_in_gb18030_is_read_too():
    rows = chinese_rows(2)
    reader = NdjsonReader()
    out = read(reader, ndjson(rows).decode().encode("gb18030"), 3)
    assert reader.encoding.name == "gb18030" and names(out) == names(read(NdjsonReader(), ndjson(rows), 3))


async def upload(client, settings, body: bytes, content_type: str = "text/csv", language: str | None = None):
    r = await client.post(URL, content=body, headers={
        "Content-Type": content_type, "Authorization": f"Bearer {token(settings, 'provider')}",
        **({"Accept-Language": language} if language else {})})
    return r.status_code, [json.loads(x) for x in r.text.splitlines() if x.strip()]


async def test_a_gbk_csv_uploads_and_reads_back_as_written(client, settings, pool):
    rows = chinese_rows(DETECT_BYTES // 250 + 40)  # past the sample, read in slices cut inside characters
    body = csv_text(rows).encode("gbk")
    assert len(body) > DETECT_BYTES + 4096
    status, lines = await upload(client, settings, body)
    assert status == 200 and lines[-1]["summary"]["created"] == len(rows)
    assert lines[-1]["summary"]["encoding"] == "gb18030"
    async with pool.acquire() as conn:
        stored = await conn.fetch("SELECT subject_name, data->>'xk_nr' AS nr FROM records "
                                  "WHERE source_ref LIKE 'ENC-%' ORDER BY source_ref")
    assert sorted(tuple(s) for s in stored) == sorted((r["subjectName"], r["data"]["xk_nr"]) for r in rows)


async def test_a_declared_mismatch_stores_nothing_and_an_unknown_charset_is_refused(client, settings, pool):
    body = csv_text(chinese_rows(3)).encode("gbk")
    status, lines = await upload(client, settings, body, "text/csv; charset=utf-8")
    assert status == 200 and lines == [{"error": "format", "message": lines[0]["message"]}]
    assert lines[0]["message"].startswith("文件声明为 charset=utf-8，实为 gb18030 编码（第 2 行")
    status, lines = await upload(client, settings, body, "text/csv; charset=utf-8", language="en")
    assert lines == [{"error": "format", "message": lines[0]["message"]}]
    assert lines[0]["message"].startswith("the file declares charset=utf-8 but is gb18030 text (line 2,")
    status, lines = await upload(client, settings, body, "text/csv; charset=koi8-r")
    assert status == 415 and lines[0] == {"error": "unsupported_charset",
                                          "reason": "不支持的字符集 'koi8-r'：请使用 UTF-8、GBK 或 GB18030"}
    status, lines = await upload(client, settings, body, "text/csv; charset=koi8-r", language="en")
    assert status == 415 and lines[0] == {"error": "unsupported_charset",
                                          "reason": "unsupported charset 'koi8-r'; use utf-8, gbk or gb18030"}
    status, lines = await upload(client, settings, body, 'text/csv; charset="gbk"')
    assert lines[-1]["summary"]["created"] == 3 and lines[-1]["summary"]["encoding"] == "gbk"
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM records WHERE source_ref LIKE 'ENC-%'") == 3


async def test_every_items_template_passes_its_validation(state):
    today = china_today()
    items = state.catalog.items()
    assert len(items) > 10
    for item in items:
        reader = CsvReader(field_names=lambda code: field_names(state.catalog.current(code)))
        [(line, record)] = read(reader, template_csv(item, today).encode("utf-8"), 4096)
        checked = Validator(state.catalog, item.provider_org, today).validate(record)
        assert not isinstance(checked, Rejection), (item.code, checked)
        assert line == 2 and checked.item.code == item.code


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
async def test_the_template_uploads_back_as_it_is(client, settings, pool, tmp_path, cli_env, encoding):
    out = tmp_path / f"template-{encoding}.csv"
    code = await asyncio.to_thread(main, ["catalog", "template", "ADM_LICENSING", "--encoding", encoding,
                                          "--out", str(out)])
    assert code == 0
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
    header = data.decode(encoding).splitlines()[0].split(",")
    assert header[:3] == ["主体标识码", "主体类型", "主体名称"] and "行政许可决定文书号" in header
    status, lines = await upload(client, settings, data)
    assert lines[0]["status"] == "created", lines[0]
    assert lines[-1]["summary"]["encoding"] == {"utf-8-sig": "utf-8-sig", "gbk": "gb18030"}[encoding]
    async with pool.acquire() as conn:
        stored = await conn.fetchrow("SELECT subject_name, data FROM records WHERE item_code = 'ADM_LICENSING' "
                                     "AND source_ref = 'ADM_LICENSING-示例-0001'")
    assert stored["subject_name"] == "沧州示例商贸有限公司"
    assert stored["data"]["xk_wsh"] == "示例行政许可决定文书号"


async def test_credit_ingest_reports_the_encoding_detected_or_declared(dsn, settings, pool, tmp_path, capsys):
    file = tmp_path / "gbk.csv"
    file.write_bytes(csv_text(chinese_rows(3, prefix="CLI-GBK")).encode("gbk"))
    bearer = token(settings, "provider")
    server = Server(dsn, tmp_path)
    try:
        await server.ready()
        base = ["ingest", str(file), "--url", server.url, "--token", bearer, "--quiet"]
        detected = await asyncio.to_thread(main, base)
        first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        declared = await asyncio.to_thread(main, [*base, "--encoding", "gbk"])
        second = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        wrong = await asyncio.to_thread(main, [*base, "--encoding", "utf-8"])
        err = capsys.readouterr().err
    finally:
        server.kill()
    assert (detected, declared, wrong) == (0, 0, 3)
    assert (first["created"], first["encoding"]) == (3, "gb18030")
    assert (second["unchanged"], second["encoding"]) == (3, "gbk")
    assert "charset=utf-8" in err and "gb18030" in err  # the server's message, in its default language
    async with pool.acquire() as conn:
        names = await conn.fetch("SELECT subject_name FROM records WHERE source_ref LIKE 'CLI-GBK-%' ORDER BY 1")
    assert [n[0] for n in names] == [f"沧州编码测试{i}号商贸有限公司" for i in range(3)]


async def test_a_slow_gbk_stream_is_answered_before_its_encoding_sample_fills(dsn, settings, pool, tmp_path):
    """A system pushing GBK rows as they happen: the encoding is chosen on what arrived once it
    has been held a second, so rows are acknowledged long before 64 KiB came."""
    rows = chinese_rows(4, prefix="SLOW")
    head, *lines = csv_text(rows).encode("gbk").splitlines(keepends=True)
    acked: list[str] = []
    first_two = asyncio.Event()

    def on_result(obj: dict) -> None:
        if "status" in obj:
            acked.append(obj["sourceRef"])
            if len(acked) == 2:
                first_two.set()

    async def trickle():
        yield head + lines[0] + lines[1]
        await asyncio.wait_for(first_two.wait(), 30)  # the condition, bounded
        yield lines[2] + lines[3]

    server = Server(dsn, tmp_path)
    try:
        await server.ready()
        result = await upload_client(server.url, trickle(), content_type="text/csv",
                                     token=token(settings, "provider"), on_result=on_result)
    finally:
        server.kill()
    assert acked == [f"SLOW-{n}" for n in range(4)]
    assert result.summary["created"] == 4 and result.summary["encoding"] == "gb18030"


def test_a_fields_label_and_its_code_both_given_refuse_the_row_not_pick_one():
    known = {"许可内容": "xk_nr", "xk_nr": "xk_nr"}
    header = "subjectKey,subjectType,subjectName,itemCode,sourceRef,许可内容,xk_nr\n"
    row = "91130902MA0DEM0135,legal_person,某公司,ADM_LICENSE,R-1,食品销售,餐饮服务\n"
    out = read(CsvReader(field_names=lambda code: known), (header + row).encode("utf-8"), 4096)
    (line, rejection), = out
    assert isinstance(rejection, Rejection) and rejection.rule == "columns"
    assert "许可内容" in rejection.message and "xk_nr" in rejection.message
