"""One pagination convention (README: Pagination): every unbounded list is a Relay connection
paged with first/after over opaque keyset cursors. Each list is paged through over GraphQL with
real tokens: every item once, in the list's order, `hasNextPage` false at the end, cursors stable
when a page is read again, and `first` above the list's cap refused."""

from __future__ import annotations

import datetime as dt
import uuid
from types import SimpleNamespace
from typing import Any

from api import demo, pagination
from api.audit import service as audit
from api.authorizations import views
from api.errors import InvalidInput
from api.lists import service as lists
from api.rights import cases
from api.audit.service import MAX_PAGE as LOG_CAP
from api.authorizations.views import MAX_PAGE as GRANTED_CAP
from api.checks.service import USES_PAGE_MAX
from api.lists.service import PAGE_MAX as LIST_CAP
from api.reports.service import ABOUT_PAGE_MAX
from api.rights.cases import MAX_PAGE as CASES_CAP
from api.rights.notifications import MAX_PAGE as NOTES_CAP
from tests.rights_helpers import FILE, as_company, penalty, step, submit
from tests.test_authorizations_api import register

PAGE = "edges { cursor node { NODE } } pageInfo { hasNextPage endCursor hasPreviousPage startCursor }"


def doc(args: str, path: str, node: str) -> str:
    """`path` is the field chain, e.g. "myCredit reportsIssuedConnection"; the last takes args."""
    *outer, field = path.split()
    given = ", ".join(a for a in (args, "first: $first, after: $after") if a)
    body = f"{field}({given}) {{ {PAGE.replace('NODE', node)} }}"
    for name in reversed(outer):
        body = f"{name} {{ {body} }}"
    return body


def dig(data: dict, path: str) -> dict:
    for name in path.split():
        data = data[name]
    return data


async def page_through(gql, query: str, path: str, first: int, variables: dict | None = None,
                       **who: Any) -> list[dict]:
    """All nodes of a connection, page by page, checking the convention on every page."""
    nodes: list[dict] = []
    cursors: list[str] = []
    after = None
    while True:
        out = await gql(query, {**(variables or {}), "first": first, "after": after}, **who)
        assert "errors" not in out, out
        conn = dig(out["data"], path)
        edges, info = conn["edges"], conn["pageInfo"]
        assert len(edges) <= first and info["hasPreviousPage"] is (after is not None)
        if edges:
            assert (info["startCursor"], info["endCursor"]) == (edges[0]["cursor"], edges[-1]["cursor"])
        if after is not None:  # a page read again is the same page, with the same cursors
            again = dig((await gql(query, {**(variables or {}), "first": first, "after": after}, **who))["data"], path)
            assert again == conn
        nodes += [e["node"] for e in edges]
        cursors += [e["cursor"] for e in edges]
        if not info["hasNextPage"]:
            break
        assert len(edges) == first and info["endCursor"]
        after = info["endCursor"]
    assert len(set(cursors)) == len(cursors)
    return nodes


async def refuses_above_cap(gql, query: str, cap: int, variables: dict | None = None, **who: Any) -> None:
    for first in (cap + 1, 0):
        out = await gql(query, {**(variables or {}), "first": first, "after": None}, **who)
        (error,) = out["errors"]
        assert (error["extensions"]["field"], error["extensions"]["rule"]) == ("first", "range"), out
        assert str(cap) in error["message"]
    out = await gql(query, {**(variables or {}), "first": 1, "after": "bm90LWEtY3Vyc29y"}, **who)
    assert out["errors"][0]["extensions"]["rule"] == "cursor"


def query(args: str, path: str, node: str, params: str = "") -> str:
    return f"query($first: Int!, $after: String{params}) {{ {doc(args, path, node)} }}"


async def lookups(gql, n: int) -> None:
    for _ in range(n):
        await gql('query($k: ID!) { subject(key: $k) { key } }', {"k": demo.COMPANY})


async def test_query_log_pages(gql, pool):
    await lookups(gql, 5)
    q = query("filter: $f", "queryLog", "id subjectKey", ", $f: QueryLogFilter")
    f = {"f": {"subjectKey": demo.COMPANY, "kind": "QUERY"}}
    nodes = await page_through(gql, q, "queryLog", 2, f, as_="auditor")
    async with pool.acquire() as conn:
        ids = [str(r["id"]) for r in await conn.fetch(
            "SELECT id FROM query_log WHERE subject_key = $1 AND kind = 'query' ORDER BY id DESC", demo.COMPANY)]
    assert [n["id"] for n in nodes] == ids and len(ids) >= 5
    await refuses_above_cap(gql, q, LOG_CAP, f, as_="auditor")


async def test_queried_by_pages(gql, pool):
    await lookups(gql, 4)
    async with pool.acquire() as conn:
        before = await conn.fetchval(
            "SELECT count(*) FROM query_log WHERE subject_key = $1 AND kind = 'query'", demo.COMPANY)
    who = {"as_": "subject", "subject_key": demo.COMPANY}
    q = query("", "myCredit queriedBy", "at outcome")
    nodes = await page_through(gql, q, "myCredit queriedBy", 2, **who)
    async with pool.acquire() as conn:
        ats = [r["at"] for r in await conn.fetch(
            "SELECT at FROM query_log WHERE subject_key = $1 AND kind = 'query' ORDER BY id DESC", demo.COMPANY)]
    # each myCredit request is itself a lookup of the subject, newest first: the first page saw
    # its own; later ones add rows above the cursor, never inside the pages still to come
    assert len(nodes) == before + 1
    assert [dt.datetime.fromisoformat(n["at"]) for n in nodes] == ats[-len(nodes):]
    await refuses_above_cap(gql, q, LOG_CAP, **who)


async def test_granted_authorizations_pages(gql, client, settings):
    made = [(await register(gql, client, settings))["id"] for _ in range(3)]
    who = {"as_": "credit_service", "org": demo.AGENCY2}
    q = query("state: null", "grantedAuthorizations", "id")
    nodes = await page_through(gql, q, "grantedAuthorizations", 2, **who)
    assert [n["id"] for n in nodes] == list(reversed(made))  # newest first
    await refuses_above_cap(gql, q, GRANTED_CAP, **who)


async def test_list_entries_pages(gql, pool):
    q = query("kind: null", "listEntries", "id subjectKey")
    nodes = await page_through(gql, q, "listEntries", 1)
    whole = (await gql(query("kind: null", "listEntries", "id subjectKey"), {"first": LIST_CAP, "after": None}))
    assert [n["id"] for n in nodes] == [e["node"]["id"] for e in whole["data"]["listEntries"]["edges"]]
    assert len(nodes) >= 2
    await refuses_above_cap(gql, q, LIST_CAP)


async def test_first_above_the_cap_is_refused_in_the_request_language_with_the_same_code(gql):
    q = query("kind: null", "listEntries", "id")
    said = {}
    for language in (None, "en"):
        out = await gql(q, {"first": LIST_CAP + 1, "after": None}, language=language)
        (error,) = out["errors"]
        assert error["extensions"] == {"code": "INVALID_INPUT", "field": "first", "rule": "range"}, out
        said[language] = error["message"]
    assert said == {None: f"first 须在 1 至 {LIST_CAP} 之间", "en": f"first must be between 1 and {LIST_CAP}"}
    out = await gql(q, {"first": 1, "after": "bm90LWEtY3Vyc29y"}, language="en")
    assert out["errors"][0]["message"] == "after is not a cursor this API gave out"


async def objections(gql, n: int) -> list[dict]:
    rids = await submit(gql, *(penalty(f"CF-2026-P{i:02d}") for i in range(n)))
    return [await step(gql, FILE, {"input": {"recordId": rid, "ground": "ERROR_OR_OMISSION",
                                             "evidenceRefs": ["证据"]}}, **as_company()) for rid in rids]


async def test_rights_cases_pages(gql, pool, clock):
    filed = await objections(gql, 3)  # at one instant (the fixed clock): a page ends inside the tie
    q = query("kind: null", "rightsCasesConnection", "id number")
    nodes = await page_through(gql, q, "rightsCasesConnection", 2, as_="credit_office")
    async with pool.acquire() as conn:
        at = dict(await conn.fetch("SELECT id::text, filed_at FROM rights_cases"))
    assert len(set(at.values())) == 1
    newest_first = sorted((c["id"] for c in filed), key=lambda i: (at[i], i), reverse=True)
    assert [n["id"] for n in nodes] == newest_first
    await refuses_above_cap(gql, q, CASES_CAP, as_="credit_office")


async def test_notifications_pages_and_counts(gql, clock):
    await objections(gql, 3)
    q = query("unreadOnly: false", "notificationsConnection", "id topic")
    nodes = await page_through(gql, q, "notificationsConnection", 2, as_="credit_office")
    ids = [int(n["id"]) for n in nodes]
    assert ids == sorted(ids, reverse=True) and len(ids) >= 3
    total = await gql("{ notificationsConnection(first: 1) { totalCount } }", as_="credit_office")
    assert total["data"]["notificationsConnection"]["totalCount"] == len(ids)
    await refuses_above_cap(gql, q, NOTES_CAP, as_="credit_office")


async def test_reports_issued_pages_and_counts(gql):
    who = {"as_": "subject", "subject_key": demo.COMPANY, "name": "王建国"}
    issued = []
    for _ in range(3):
        r = await gql("mutation($s: ID!) { creditReport(subject: $s) { number } }", {"s": demo.COMPANY}, **who)
        issued.append(r["data"]["creditReport"]["number"])
    path = "myCredit reportsIssuedConnection"
    q = query("", path, "number")
    nodes = await page_through(gql, q, path, 2, **who)
    assert [n["number"] for n in nodes] == list(reversed(issued))
    total = await gql("{ myCredit { reportsIssuedConnection(first: 1) { totalCount } } }", **who)
    assert total["data"]["myCredit"]["reportsIssuedConnection"]["totalCount"] == 3
    await refuses_above_cap(gql, q, ABOUT_PAGE_MAX, **who)


async def test_credit_uses_pages_and_counts(gql):
    made = []
    for _ in range(3):
        r = await gql('query($s: ID!) { creditCheck(subject: $s, scenario: "government_procurement") { id } }',
                      {"s": demo.COMPANY}, as_="state_organ")
        made.append(r["data"]["creditCheck"]["id"])
    who = {"as_": "subject", "subject_key": demo.COMPANY}
    path = "myCredit creditUsesConnection"
    q = query("", path, "check")
    nodes = await page_through(gql, q, path, 2, **who)
    assert [n["check"] for n in nodes] == list(reversed(made))
    total = await gql("{ myCredit { creditUsesConnection(first: 1) { totalCount } } }", **who)
    assert total["data"]["myCredit"]["creditUsesConnection"]["totalCount"] == 3
    await refuses_above_cap(gql, q, USES_PAGE_MAX, **who)


async def logged(pool, operation: str, since: int) -> list[list[dict]]:
    async with pool.acquire() as conn:
        return [r["disclosed"] for r in await conn.fetch(
            "SELECT disclosed FROM query_log WHERE kind = 'query' AND operation = $1 AND id > $2 ORDER BY id",
            operation, since)]


async def last_log_id(pool) -> int:
    async with pool.acquire() as conn:
        return await conn.fetchval("SELECT coalesce(max(id), 0) FROM query_log")


async def test_each_page_of_cases_and_notifications_logs_what_it_shows_and_no_more(gql, pool, clock):
    await objections(gql, 3)
    for path, node, key, operation in (
        ("rightsCasesConnection", "id", "case", "rightsCases"),
        ("notificationsConnection", "id", "notification", "notifications"),
    ):
        q = query("", path, node)
        after, shown, pages = None, [], []
        while True:
            since = await last_log_id(pool)
            conn = (await gql(q, {"first": 2, "after": after}, as_="credit_office"))["data"][path]
            page = [e["node"]["id"] for e in conn["edges"]]
            # one row for the one subject named, listing exactly the page (not the look-ahead row)
            (disclosed,) = await logged(pool, operation, since)
            assert [str(d[key]) for d in disclosed] == page
            shown += page
            pages.append(len(page))
            if not conn["pageInfo"]["hasNextPage"]:
                break
            after = conn["pageInfo"]["endCursor"]
        assert pages[0] == 2 and len(shown) == len(set(shown)) >= 3


async def test_the_deprecated_shapes_still_answer_for_one_release(gql, clock):
    await objections(gql, 3)
    new = (await gql("{ rightsCasesConnection(first: 3) { edges { node { id } } } }",
                     as_="credit_office"))["data"]["rightsCasesConnection"]["edges"]
    old = (await gql("{ rightsCases(first: 3) { id } }", as_="credit_office"))["data"]["rightsCases"]
    assert old == [e["node"] for e in new]
    notes = (await gql("{ notifications(first: 2) { id } }", as_="credit_office"))["data"]["notifications"]
    older = (await gql("query($b: ID) { notifications(first: 50, before: $b) { id } }", {"b": notes[-1]["id"]},
                       as_="credit_office"))["data"]["notifications"]
    assert older and all(int(n["id"]) < int(notes[-1]["id"]) for n in older)
    lists = (await gql("{ listEntries(first: 2) { nodes { id } edges { node { id } } } }"))["data"]["listEntries"]
    assert lists["nodes"] == [e["node"] for e in lists["edges"]]


def test_a_cursor_of_one_list_is_refused_by_every_other():
    """Cursors are opaque but not interchangeable: each list reads only its own."""
    at, some = dt.datetime(2026, 9, 28, 2, tzinfo=dt.timezone.utc), uuid.uuid4()
    encoded = {
        "queryLog": audit.encode_cursor(42),
        "rightsCases": cases.encode_cursor(SimpleNamespace(filed_at=at, id=str(some))),
        "grantedAuthorizations": views._cursor({"granted_at": at, "id": some}),
        "listEntries": lists._cursor(SimpleNamespace(listed_from=at.date(), id=str(some))),
        "notifications": pagination.encode_cursor("notification", 42),
        "reportsIssued": pagination.time_key_cursor("report", at, "XY2026092800000001"),
        "creditUses": pagination.time_key_cursor("check", at, some),
    }
    decoders = {
        "queryLog": audit.decode_cursor,
        "rightsCases": cases._decode_cursor,
        "grantedAuthorizations": views._after,
        "listEntries": lists._after,
        "notifications": lambda c: pagination.decode_cursor(c, "notification", 1),
        "reportsIssued": lambda c: pagination.time_key_after(c, "report"),
        "creditUses": lambda c: pagination.time_key_after(c, "check", uuid.UUID),
    }
    for name, decode in decoders.items():
        assert decode(encoded[name])  # its own is read
        for other, cursor in encoded.items():
            if other != name:
                try:
                    decode(cursor)
                except InvalidInput as e:
                    assert (e.field, e.rule) == ("after", "cursor")
                else:
                    raise AssertionError(f"{name} read a cursor of {other}")
