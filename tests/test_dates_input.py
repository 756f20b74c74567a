"""Every Date and DateTime in GraphQL input parses by one rule or is INVALID_INPUT naming the
field: never an internal error (schema/scalars.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from graphql import get_named_type, is_input_object_type, is_object_type

from api import demo
from schema import schema
from schema.scalars import TemporalInputError, parse_date, parse_datetime

GRANT = """mutation($input: GrantAuthorizationInput!) { grantAuthorization(input: $input) {
  __typename ... on Authorization { validFrom validUntil } ... on UserError { code field rule } } }"""
GRANT_LITERAL = """mutation { grantAuthorization(input: {subjectKey: "%s", granteeOrg: "%s",
  purpose: "loan_review", scope: {classes: [AUTHORIZED]}, validUntil: %s}) { __typename } }"""
LOG = "query($f: QueryLogFilter) { queryLog(filter: $f, first: 5) { edges { node { id } } } }"
TIMELINESS = "query($s: Date!, $u: Date!) { collectionTimeliness(since: $s, until: $u) { __typename } }"


def grant_input(**over) -> dict:
    return {"subjectKey": demo.PERSON, "granteeOrg": demo.AGENCY2, "purpose": "loan_review",
            "scope": {"classes": ["AUTHORIZED"]}, "validUntil": "2026-12-31T23:59:59+08:00", **over}


def refused(out: dict, field: str, rule: str) -> str:
    assert out.get("data") is None, out
    (error,) = out["errors"]
    ext = error.get("extensions") or {}
    assert (ext.get("code"), ext.get("field"), ext.get("rule")) == ("INVALID_INPUT", field, rule), error
    assert "内部错误" not in error["message"] and "Internal error" not in error["message"]
    return error["message"]


@pytest.mark.parametrize(
    "value,rule",
    [
        ("2026-11-30", "datetime_offset_required"),  # a bare day: start or end? not guessed
        ("2026-11-30T23:59:59", "datetime_offset_required"),
        ("2026-11-31T10:00:00+08:00", "datetime_format"),
        ("2026-11-30T24:00:00+08:00", "datetime_format"),
        ("2026-11-30T10:00:00+25:00", "datetime_format"),
        ("tomorrow", "datetime_format"),
        ("20261130T100000+0800", "datetime_format"),
        ("0001-01-01T00:00:00+05:00", "date_range"),
        ("9999-12-31T23:59:59-05:00", "date_range"),
        ("10000-01-01T00:00:00+08:00", "datetime_format"),
    ],
)
async def test_a_malformed_valid_until_is_invalid_input_in_a_variable_and_a_literal(gql, value, rule):
    out = await gql(GRANT, {"input": grant_input(validUntil=value)}, as_="subject")
    message = refused(out, "input.validUntil", rule)
    assert value in message
    literal = GRANT_LITERAL % (demo.PERSON, demo.AGENCY2, f'"{value}"')
    refused(await gql(literal, as_="subject"), "input.validUntil", rule)


async def test_a_datetime_written_as_a_number_is_invalid_input(gql):
    literal = GRANT_LITERAL % (demo.PERSON, demo.AGENCY2, "20261130")
    refused(await gql(literal, as_="subject"), "input.validUntil", "datetime_format")


async def test_a_datetime_with_an_offset_is_accepted_and_kept_as_the_instant(gql):
    out = await gql(GRANT, {"input": grant_input(validUntil="2026-12-31T15:59:59Z")}, as_="subject")
    g = out["data"]["grantAuthorization"]
    assert g["__typename"] == "Authorization", out
    assert dt.datetime.fromisoformat(g["validUntil"]) == dt.datetime(2026, 12, 31, 23, 59, 59, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@pytest.mark.parametrize(
    "since,rule",
    [("0001-01-01T00:00:00+05:00", "date_range"), ("2026-11-01", "datetime_offset_required")],
)
async def test_a_malformed_log_filter_is_invalid_input(gql, since, rule):
    refused(await gql(LOG, {"f": {"since": since}}, as_="auditor"), "f.since", rule)
    literal = 'query { queryLog(filter: {until: "SINCE"}) { edges { node { id } } } }'.replace("SINCE", since)
    refused(await gql(literal, as_="auditor"), "filter.until", rule)


@pytest.mark.parametrize(
    "value,rule",
    [
        ("2026-02-30", "date_format"),
        ("2026-11-30T00:00:00+08:00", "date_format"),  # a Date is a day, not an instant
        ("30/11/2026", "date_format"),
        ("0000-01-01", "date_range"),
        ("9999-12-31", "date_range"),
    ],
)
async def test_a_malformed_date_is_invalid_input(gql, value, rule):
    refused(await gql(TIMELINESS, {"s": value, "u": "2026-11-30"}, as_="data_office"), "s", rule)
    literal = 'query { deadline(start: "VALUE", workingDays: 3) { due } }'.replace("VALUE", value)
    refused(await gql(literal), "start", rule)


async def test_a_date_means_that_whole_day(gql):
    out = await gql('query { deadline(start: "2026-11-27", workingDays: 1) { start due } }')
    assert out["data"]["deadline"] == {"start": "2026-11-27", "due": "2026-11-30"}


@pytest.mark.parametrize(
    "value,expected",
    [
        ("2026-11-30T23:59:59+08:00", dt.datetime(2026, 11, 30, 15, 59, 59, tzinfo=dt.UTC)),
        ("2026-11-30t15:59:59.5z", dt.datetime(2026, 11, 30, 15, 59, 59, 500000, tzinfo=dt.UTC)),
        ("2026-11-30 10:00+05:30", dt.datetime(2026, 11, 30, 4, 30, tzinfo=dt.UTC)),
    ],
)
def test_parse_datetime_accepts_iso_with_an_offset(value, expected):
    assert parse_datetime(value) == expected


@pytest.mark.parametrize("value", [None, 5, "", "x" * 41, "2026-11-30T10:00:00+08:00" + " " * 20])
def test_parsers_refuse_anything_else_cleanly(value):
    with pytest.raises(TemporalInputError):
        parse_datetime(value)
    with pytest.raises(TemporalInputError):
        parse_date(value)


def _temporal_inputs() -> set[str]:
    """Every argument and input field of the schema whose type is Date or DateTime."""
    found: set[str] = set()
    gql_schema = schema._schema
    for type_ in gql_schema.type_map.values():
        if type_.name.startswith("__"):
            continue
        if is_object_type(type_):
            for fname, f in type_.fields.items():
                for aname, arg in f.args.items():
                    if get_named_type(arg.type).name in ("Date", "DateTime"):
                        found.add(f"{type_.name}.{fname}({aname})")
        if is_input_object_type(type_):
            for fname, f in type_.fields.items():
                if get_named_type(f.type).name in ("Date", "DateTime"):
                    found.add(f"{type_.name}.{fname}")
    return found


def test_every_date_input_of_the_schema_goes_through_these_scalars():
    gql_schema = schema._schema
    assert gql_schema.type_map["Date"].parse_value is parse_date
    assert gql_schema.type_map["DateTime"].parse_value is parse_datetime
    # no other scalar carries a date or time past these rules
    scalars = {t.name for t in gql_schema.type_map.values() if type(t).__name__ == "GraphQLScalarType"}
    assert not {s for s in scalars if "date" in s.lower() or "time" in s.lower()} - {"Date", "DateTime"}
    # the inputs they cover (a new one is reviewed here and tested above when it is special)
    assert _temporal_inputs() == {
        "Query.collectionTimeliness(since)", "Query.collectionTimeliness(until)",
        "Query.overdueSteps(asOf)", "Query.deadline(start)", "Query.calendarDays(from)",
        "Query.calendarDays(to)", "GrantAuthorizationInput.validFrom",
        "GrantAuthorizationInput.validUntil", "QueryLogFilter.since", "QueryLogFilter.until",
        "RecordInput.decidedOn", "Query.authorizationAnomalies(since)",
        # the use chapter (Art. 24-32): lists, measures, the checks' figures
        "ListEntryInput.decidedOn", "ListEntryInput.listedFrom", "ListEntryInput.listedUntil",
        "MeasureInput.validFrom", "MeasureInput.validUntil", "Query.measures(on)",
        "Query.creditCheckStatistics(since)", "Query.creditCheckStatistics(until)",
        "Query.overdueCheckFeedback(asOf)",
    }


async def test_a_variable_inside_an_input_literal_and_a_default_value_follow_the_same_rule(gql):
    literal = GRANT_LITERAL % (demo.PERSON, demo.AGENCY2, "$v")
    literal = literal.replace("mutation {", "mutation($v: DateTime!) {", 1)
    refused(await gql(literal, {"v": "2026-11-30"}, as_="subject"), "v", "datetime_offset_required")
    ok = await gql(literal, {"v": "2026-12-31T23:59:59+08:00"}, as_="subject")
    assert ok["data"]["grantAuthorization"]["__typename"] == "Authorization", ok
    default = 'query($d: Date = "2026-02-30") { deadline(start: $d, workingDays: 1) { due } }'
    refused(await gql(default), "d", "date_format")
