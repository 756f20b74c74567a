"""Generated upload bodies against the app over HTTP (issue 8, item 7): CSV and NDJSON with odd
quoting, huge fields, invalid UTF-8, byte-order marks, many columns and many newlines inside
quotes, cut into batches of every size. Whatever the body: never a 500 nor a stream that ends
in a failure, an answer within a bounded time, every row accounted for, and no stored row
without the collection-log line of the batch that stored it (a batch is stored whole or not)."""

from __future__ import annotations

import csv
import io
import json
import time

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.conftest import token
from tests.test_ingestion_bulk import URL, licence_row

USER = "user-fuzz"
BASE = ["subjectKey", "subjectType", "subjectName", "itemCode", "sourceRef", "decidedOn"]
BOUND_SECONDS = 10  # per upload; a few hundred rows take well under one

nasty_text = st.one_of(
    st.text(max_size=20),
    st.sampled_from(['"', '""', '"a"b', "\n", "\r\n", '"\n"', ",", "\ufeff", "=1+1", "\x00"]),
    st.builds(lambda c, n: c * n, st.sampled_from(["x", "长", '"', "\n", ","]), st.integers(0, 6000)),
)
field_names = st.one_of(
    st.sampled_from(["xk_nr", "xk_jdrq", "血型", "religion", "cf_sy", "x" * 70, ""]),
    st.text(min_size=1, max_size=12),
)


@st.composite
def records(draw) -> dict:
    """A licence row with some of its parts broken, sometimes none."""
    n = draw(st.integers(0, 30))
    row = licence_row(n, sourceRef=f"FZ-{n}")
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from([*BASE, "data", "changeReason", "consentRef", "documentType", "extra"]))
        row[key] = draw(st.one_of(nasty_text, st.none(), st.integers(), st.lists(st.integers(), max_size=3)))
    if draw(st.booleans()) and isinstance(row.get("data"), dict):
        extra = draw(st.dictionaries(field_names, nasty_text, max_size=draw(st.sampled_from([3, 40]))))
        row["data"] = {**row["data"], **extra}
    if draw(st.booleans()) and draw(st.booleans()):
        row["changeReason"] = "复核更正"
    return row


def ndjson_line(draw, rec: dict) -> bytes:
    line = json.dumps(rec, ensure_ascii=draw(st.booleans())).encode()
    return draw(st.sampled_from([line, line + b"\r", line[: len(line) // 2], b"\xff\xfe" + line, b"", b"[]"]))


@st.composite
def ndjson_bodies(draw) -> bytes:
    lines = [ndjson_line(draw, draw(records())) for _ in range(draw(st.integers(0, 12)))]
    body = b"\n".join(lines) + draw(st.sampled_from([b"\n", b""]))
    return (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + body


@st.composite
def csv_bodies(draw) -> bytes:
    rows = [draw(records()) for _ in range(draw(st.integers(0, 12)))]
    data_cols = sorted({k for r in rows if isinstance(r.get("data"), dict) for k in r["data"] if k})
    header = BASE + [c for c in data_cols if c not in BASE]
    if draw(st.booleans()):
        header += [f"col{i}" for i in range(draw(st.sampled_from([5, 1200])))]  # many columns
    out = io.StringIO()
    w = csv.writer(out, quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])))
    w.writerow(draw(st.permutations(header)) if draw(st.booleans()) else header)
    for r in rows:
        data = r.get("data") if isinstance(r.get("data"), dict) else {}
        cells = [str(r.get(k) if k in BASE else data.get(k, "")) for k in header]
        w.writerow(cells[: len(cells) - draw(st.integers(0, 1))])  # sometimes a cell short
    body = out.getvalue().encode()
    tweak = draw(st.sampled_from(["none", "bom", "open_quote", "newlines_in_quote", "bad_utf8", "cut"]))
    if tweak == "bom":
        body = b"\xef\xbb\xbf" + body
    elif tweak == "open_quote":
        body += b'a,b,c,d,"e' + b"\n" * draw(st.integers(1, 20_000))
    elif tweak == "newlines_in_quote":
        body = body.replace(b",", b',"' + b"\n" * draw(st.integers(1, 50)) + b'",', 1)
    elif tweak == "bad_utf8":
        at = draw(st.integers(0, len(body)))
        body = body[:at] + b"\xc3\x28\xa0" + body[at:]
    elif tweak == "cut":
        body = body[: draw(st.integers(0, len(body)))]
    return body


bodies = st.one_of(
    st.tuples(st.just("application/x-ndjson"), ndjson_bodies()),
    st.tuples(st.just("text/csv"), csv_bodies()),
    st.tuples(st.sampled_from(["text/csv", "application/x-ndjson"]), st.binary(max_size=300)),
)


async def check_upload(client, settings, pool, content_type: str, body: bytes, batch: int) -> None:
    started = time.perf_counter()
    r = await client.post(URL, content=body, params={"batch": batch}, headers={
        "Content-Type": content_type, "Authorization": f"Bearer {token(settings, 'provider', sub=USER)}"})
    assert time.perf_counter() - started < BOUND_SECONDS
    assert r.status_code == 200, r.text
    lines = [json.loads(x) for x in r.text.splitlines() if x.strip()]
    assert lines, "an upload is always answered"
    last = lines[-1]
    if "error" in last:  # only a file that cannot be read at all as CSV ends so
        assert last["error"] == "format" and content_type == "text/csv", last
    else:
        assert "summary" in last, last
    results = [x for x in lines if "status" in x]
    assert all(x["status"] in ("created", "updated", "unchanged", "rejected") for x in results)
    assert all(x.get("rule") and x.get("message") for x in results if x["status"] == "rejected")
    assert len({x["line"] for x in results}) == len(results), "one result per row"
    stored = {x["sourceRef"] for x in results if x["status"] in ("created", "updated")}
    async with pool.acquire() as conn:
        acts = await conn.fetch(
            "SELECT details FROM query_log WHERE kind = 'collection' AND request_id = $1",
            r.headers["x-request-id"])
        orphans = await conn.fetch(
            """SELECT r.source_ref FROM records r WHERE r.submitted_by = $1 AND NOT EXISTS (
                 SELECT 1 FROM query_log q WHERE q.kind = 'collection' AND q.user_id = $1
                   AND (q.details->'outcomes'->'created' ? r.source_ref
                        OR q.details->'outcomes'->'updated' ? r.source_ref))""", USER)
        missing = await conn.fetch(
            "SELECT ref FROM unnest($1::text[]) AS ref WHERE NOT EXISTS "
            "(SELECT 1 FROM records WHERE source_ref = ref AND submitted_by = $2)", list(stored), USER)
    assert not orphans, f"stored without a collection log: {orphans}"
    assert not missing, f"acknowledged but not stored: {missing}"
    details = [json.loads(a["details"]) if isinstance(a["details"], str) else a["details"] for a in acts]
    logged = {ref for d in details for s in ("created", "updated") for ref in d["outcomes"][s]}
    assert logged == stored  # each batch's line names exactly what it stored
    if "summary" in last:
        total = {s: sum(d["counts"][s] for d in details) for s in ("created", "updated", "unchanged", "rejected")}
        assert total == {s: last["summary"][s] for s in total}


@hsettings(max_examples=150, deadline=None, derandomize=True,
           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                  HealthCheck.data_too_large])
@given(upload=bodies, batch=st.sampled_from([1, 2, 5, 2000]))
async def test_generated_upload_bodies_never_break_the_upload(client, settings, pool, upload, batch):
    await check_upload(client, settings, pool, *upload, batch)
