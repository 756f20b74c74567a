"""The pieces of watching it run, each where it lives: who may read /metrics, the GraphQL label
of a document, the log lines' shape, the quiet embedded database."""

from __future__ import annotations

import io
import json
import logging

import pytest
from graphql import GraphQLError, parse

from api.observe.access import Current, _current
from api.observe.logs import RequestIdFilter, TextFormatter, configure, json_formatter
from api.observe.scrape import MetricsAccess
from schema.observe import outcome_of, root_field


def scope(peer: str, headers: dict[str, str] | None = None) -> dict:
    return {"type": "http", "client": (peer, 40000),
            "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]}


@pytest.mark.parametrize(("peer", "allowed"), [
    ("127.0.0.1", True), ("::1", True), ("10.2.3.4", True), ("192.168.1.9", True),
    ("203.0.113.7", False), ("8.8.8.8", False),
])
def test_metrics_are_for_the_internal_network_by_default(peer, allowed):
    assert MetricsAccess.from_env({}).allows(scope(peer), frozenset()) is allowed


def test_a_request_relayed_by_a_trusted_proxy_is_judged_by_the_client_address():
    access = MetricsAccess.from_env({})
    relayed = scope("10.0.0.1", {"X-Forwarded-For": "203.0.113.7"})
    assert not access.allows(relayed, frozenset({"10.0.0.1"}))
    assert access.allows(scope("10.0.0.1", {"X-Forwarded-For": "10.9.9.9"}), frozenset({"10.0.0.1"}))


def test_a_configured_token_is_required_as_well():
    access = MetricsAccess.from_env({"CREDIT_METRICS_TOKEN": "scrape-" + "s" * 30})
    assert not access.allows(scope("127.0.0.1"), frozenset())
    assert not access.allows(scope("127.0.0.1", {"Authorization": "Bearer wrong"}), frozenset())
    assert access.allows(scope("127.0.0.1", {"Authorization": "Bearer scrape-" + "s" * 30}), frozenset())


def test_metrics_can_be_turned_off_or_narrowed():
    assert MetricsAccess.from_env({"CREDIT_METRICS_ALLOW": "none"}).networks == ()
    narrow = MetricsAccess.from_env({"CREDIT_METRICS_ALLOW": "10.1.0.0/16"})
    assert narrow.allows(scope("10.1.2.3"), frozenset())
    assert not narrow.allows(scope("127.0.0.1"), frozenset())


async def test_metrics_refuse_a_public_address(client):
    r = await client.get("/metrics")  # the test client's address is 203.0.113.7
    assert r.status_code == 403 and r.headers["x-request-id"]


@pytest.mark.parametrize(("document", "name", "label"), [
    ("{ purposes }", None, "purposes"),
    ("query A { subject(key: \"x\") { key } }", None, "subject"),
    ("{ a: subject(key: \"x\") { key } b: subject(key: \"y\") { key } }", None, "subject"),
    ("{ purposes subject(key: \"x\") { key } }", None, "multiple"),
    ("query A { purposes } query B { queryLog { total } }", "B", "queryLog"),
    ("{ ...F } fragment F on Query { purposes }", None, "fragment"),
])
def test_the_operation_label_is_the_root_field(document, name, label):
    assert root_field(parse(document), name) == label


def test_the_outcome_is_the_first_error_code_in_lower_case():
    assert outcome_of([]) == "ok"
    assert outcome_of([GraphQLError("x", extensions={"code": "FORBIDDEN"})]) == "forbidden"
    assert outcome_of([GraphQLError("x", original_error=ValueError("boom"),
                                    extensions={"code": "free text, not a code"})]) == "error"
    assert outcome_of([GraphQLError("Cannot query field 'x' on type 'Query'.")]) == "invalid"


def _record(msg: str, **extra) -> logging.LogRecord:
    record = logging.LogRecord("credit.access", logging.INFO, __file__, 1, msg, None, None)
    record.__dict__.update(extra)
    return record


def test_a_json_line_carries_the_request_being_served():
    record = _record("access", route="/graphql", status=200)
    token = _current.set(Current("rid-1"))
    try:
        RequestIdFilter().filter(record)
    finally:
        _current.reset(token)
    line = json_formatter().format(record)
    assert "\n" not in line
    out = json.loads(line)
    assert (out["request_id"], out["route"], out["status"], out["level"]) == ("rid-1", "/graphql", 200, "INFO")


def test_a_text_line_is_readable_with_the_access_fields():
    line = TextFormatter().format(_record("access", request_id="rid-2", route="/graphql", status=200))
    assert line.endswith("access request_id=rid-2 route=/graphql status=200")


def test_the_embedded_database_chatter_is_quiet(monkeypatch):
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure(logging.INFO, "text")
        stream = io.StringIO()
        root.handlers[-1].setStream(stream)
        logging.getLogger("pgserver").info("PG_VERSION file found, skipping initdb")
        logging.getLogger("credit.db").info("applied migration 0001_core.sql")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    assert "PG_VERSION" not in stream.getvalue()
    assert "applied migration" in stream.getvalue()


@pytest.mark.parametrize("header", ["X-Forwarded-For", "Forwarded", "X-Real-IP"])
def test_metrics_refuse_a_request_relayed_by_a_proxy_nobody_configured(header):
    # a reverse proxy on the same host with CREDIT_TRUSTED_PROXIES unset: the peer is loopback
    # for every internet caller; the forwarding header shows it was relayed
    access = MetricsAccess.from_env({})
    assert not access.allows(scope("127.0.0.1", {header: "203.0.113.7"}), frozenset())
    assert not access.allows(scope("127.0.0.1", {header: "127.0.0.1"}), frozenset())  # spoofed
    assert not access.allows(scope("10.0.0.2", {header: "10.9.9.9"}), frozenset({"10.0.0.1"}))
    assert access.allows(scope("127.0.0.1"), frozenset())
