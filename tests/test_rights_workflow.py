"""The rules of the rights workflows where they live, pure: who does which Art. 38/39 step, in
what order, with which working-day deadline; overdue steps; who sees a case; what counts for
joint punishment. Calendar: the official 2026 schedule (National Day 10/1-10/7 off, Saturday
10/10 worked) and the statutory fallback for 2027."""

from __future__ import annotations

import datetime as dt

import pytest

from api.auth.principal import Principal
from api.catalog import CatalogItem
from api.disclosure.rules import relation
from api.disclosure.views import RecordView, StoredRecord
from api.errors import InvalidInput
from api.env_base import ConfigError
from api.rights.auth import may_see, visibility_sql
from api.rights.deadlines import due, is_overdue, overdue_report, pauses_json, pauses_of
from api.rights.errors import OutOfOrder, WrongRole
from api.rights.offices import Offices
from api.rights.repair import usable_for_joint_punishment
from api.rights.workflow import ACTION_STAGE, STEPS, CaseFacts, advance, check_actor, first_step
from api.workdays import WorkCalendar
from api.workdays.package import package_schedules

D = dt.date.fromisoformat
CO, DO, PROV, OTHER_PROV = "11130900000003033F", "12130900000004044P", "111309000000020224", "111309000000080888"
SUBJECT = "91130903MA0DEM021E"


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar(package_schedules())


def who(role: str, org: str | None = None, **kw) -> Principal:
    orgs = {"credit_office": CO, "data_office": DO, "provider": PROV}
    return Principal(user_id=f"u-{role}", name="某人", org_code=org or orgs.get(role, "91130900MA0CRD2T0W"),
                     org_name=None, roles=(role,), **kw)


SUBJECT_P = who("subject", subject_key=SUBJECT, real_name_verified=True)


def case(stage: str, kind: str = "objection", since: str = "2026-09-29", **kw) -> CaseFacts:
    return CaseFacts(number="OBJ-2026-000001", kind=kind, stage=stage, stage_since=D(since),
                     subject_key=SUBJECT, provider_org=PROV, credit_office_org=CO, data_office_org=DO, **kw)


# --- who does each step, and when -----------------------------------------------------------------

ACTIONS = sorted(ACTION_STAGE)
ROLE_OF = {a: STEPS[ACTION_STAGE[a]].role for a in ACTIONS}
PRINCIPALS = {"subject": SUBJECT_P, "credit_office": who("credit_office"), "data_office": who("data_office"),
              "provider": who("provider"), "state_organ": who("state_organ", "11130900000001011Q"),
              "auditor": who("auditor", "111309000000050556")}


@pytest.mark.parametrize("action", ACTIONS)
def test_each_step_is_done_by_the_role_the_article_names(action):
    kind = "repair" if action == "decide_repair" else "objection"
    facts = case(ACTION_STAGE[action], kind, paused_since=D("2026-10-12") if action == "resume_verification" else None)
    assert check_actor(PRINCIPALS[ROLE_OF[action]], facts, action) == ROLE_OF[action]
    for role, p in PRINCIPALS.items():
        if role == ROLE_OF[action]:
            continue
        with pytest.raises(WrongRole) as e:
            check_actor(p, facts, action)
        assert e.value.rule == f"{'art39' if kind == 'repair' else 'art38'}_{ROLE_OF[action]}"


def test_the_right_role_of_another_organisation_is_the_wrong_actor():
    with pytest.raises(WrongRole):
        check_actor(who("provider", OTHER_PROV), case("verify"), "answer_verification")


@pytest.mark.parametrize("action", ACTIONS)
def test_a_step_out_of_order_is_refused_naming_what_is_due(action):
    stage = "compare" if ACTION_STAGE[action] != "compare" else "notify_data_office"
    kind = "repair" if action == "decide_repair" else "objection"
    with pytest.raises(OutOfOrder) as e:
        check_actor(PRINCIPALS[ROLE_OF[action]], case(stage, kind, due_on=D("2026-09-30")), action)
    assert e.value.rule.endswith("_order")
    assert "正等待" in e.value.message and "期限 2026年9月30日" in e.value.message


def test_nothing_is_done_on_a_closed_case():
    with pytest.raises(OutOfOrder) as e:
        check_actor(who("credit_office"), case("closed", outcome="upheld"), "inform_subject")
    assert e.value.rule == "case_closed"


def test_a_paused_verification_must_resume_before_the_answer():
    paused = case("verify", paused_since=D("2026-10-12"))
    with pytest.raises(OutOfOrder) as e:
        check_actor(who("provider"), paused, "answer_verification")
    assert e.value.rule == "art38_paused"
    with pytest.raises(OutOfOrder) as e:
        check_actor(who("provider"), paused, "pause_verification")
    assert e.value.rule == "art38_paused"
    with pytest.raises(OutOfOrder) as e:
        check_actor(who("provider"), case("verify"), "resume_verification")
    assert e.value.rule == "art38_not_paused"


def test_unknown_results_are_invalid_input():
    with pytest.raises(InvalidInput):
        advance(case("compare"), "compare", D("2026-09-30"), "maybe")
    with pytest.raises(InvalidInput):
        advance(case("verify"), "answer_verification", D("2026-09-30"), "perhaps")
    with pytest.raises(InvalidInput):
        advance(case("verify"), "pause_verification", D("2026-09-30"), "lunch")


# --- the path of each branch, and its deadlines ------------------------------------------------------


def test_objection_opens_with_the_notice_due_in_one_working_day_across_national_day(cal):
    opened = first_step("objection", D("2026-09-30"))
    assert (opened.stage, opened.role, opened.days) == ("notify_data_office", "credit_office", 1)
    assert due(cal, opened.since, opened.days).due == D("2026-10-08")


def test_correction_is_counted_from_the_notice_to_compare_not_from_the_comparison(cal):
    # notified 10-08 (stage compare since 10-08); compared on 10-09: the 3 days run from 10-08
    adv = advance(case("compare", since="2026-10-08"), "compare", D("2026-10-09"), "differs")
    assert (adv.next.stage, adv.next.since, adv.next.days) == ("correct", D("2026-10-08"), 3)
    assert due(cal, adv.next.since, adv.next.days).due == D("2026-10-12")  # 10-09, Sat 10-10, 10-12


def test_the_branches_of_art38(cal):
    matches = advance(case("compare"), "compare", D("2026-09-30"), "matches")
    assert matches.next.stage == "request_verification" and matches.outcome is None
    assert due(cal, matches.next.since, matches.next.days).due == D("2026-10-08")
    asked = advance(case("request_verification"), "request_verification", D("2026-10-08"))
    assert (asked.next.stage, asked.next.role, asked.next.days) == ("verify", "provider", 15)
    assert due(cal, D("2026-10-08"), 15).due == D("2026-10-28")
    verified = advance(case("verify"), "answer_verification", D("2026-10-20"), "verified")
    assert (verified.next.stage, verified.next.days, verified.outcome, verified.effect) == (
        "inform_subject", 7, "upheld", None)
    gone = advance(case("verify"), "answer_verification", D("2026-10-20"), "unverifiable")
    assert (gone.outcome, gone.effect) == ("deleted", "delete")
    corrected = advance(case("correct"), "correct", D("2026-10-10"))
    assert (corrected.next.stage, corrected.next.days, corrected.outcome, corrected.effect) == (
        "inform_subject", 3, "corrected", "correct")
    assert due(cal, D("2026-10-10"), 3).due == D("2026-10-14")  # from the make-up Saturday
    closing = advance(case("inform_subject", outcome="upheld"), "inform_subject", D("2026-10-21"))
    assert closing.next is None and closing.outcome == "upheld" and closing.effect == "restore"


def test_repair_is_decided_within_three_working_days_ending_on_the_make_up_saturday(cal):
    opened = first_step("repair", D("2026-09-30"))
    assert (opened.stage, opened.role) == ("decide_repair", "provider")
    assert due(cal, opened.since, opened.days).due == D("2026-10-10")
    assert advance(case("decide_repair", "repair"), "decide_repair", D("2026-10-09"), "approved").effect == "repair"
    refused = advance(case("decide_repair", "repair"), "decide_repair", D("2026-10-09"), "rejected")
    assert (refused.outcome, refused.effect) == ("rejected", None)


@pytest.mark.parametrize(
    "pauses, expected",
    [
        ((), "2026-10-28"),
        (((D("2026-10-12"), D("2026-10-16")),), "2026-11-04"),  # a working week of appraisal
        (((D("2026-10-12"), D("2026-10-12")), (D("2026-10-20"), D("2026-10-21"))), "2026-11-02"),
        (((D("2026-11-02"), D("2026-11-06")),), "2026-10-28"),  # after the deadline: no help
    ],
)
def test_paused_time_does_not_count_against_the_fifteen_days(cal, pauses, expected):
    assert due(cal, D("2026-10-08"), 15, pauses).due == D(expected)


def test_pauses_round_trip_through_their_stored_form():
    pauses = ((D("2026-10-12"), D("2026-10-16")),)
    assert pauses_of(pauses_json(pauses)) == pauses
    assert pauses_of([["2026-10-12", "2026-10-16"]]) == pauses


def test_a_deadline_from_late_december_reaches_2027_provisionally(cal):
    d = due(cal, D("2026-12-29"), 15)
    assert (d.due, d.provisional) == (D("2027-01-20"), True)
    assert due(cal, D("2026-12-24"), 1).provisional is False  # 12-25 is a working day in China


# --- overdue ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "today, due_on, paused_since, overdue",
    [
        ("2026-10-08", "2026-10-08", None, False),  # the due day itself is on time
        ("2026-10-09", "2026-10-08", None, True),
        ("2026-10-09", "2026-10-08", "2026-10-05", False),  # stopped in time
        ("2026-10-12", "2026-10-08", "2026-10-09", True),  # stopped too late
    ],
)
def test_is_overdue(today, due_on, paused_since, overdue):
    assert is_overdue(D(today), D(due_on), D(paused_since) if paused_since else None) is overdue


def test_overdue_report_counts_per_role_and_organisation(cal):
    def row(n, role, org, due_on, paused=None):
        return {"id": n, "number": f"OBJ-{n}", "kind": "objection", "stage": "verify", "stage_role": role,
                "stage_org": org, "org_name": org and f"org {org}", "stage_since": D("2026-09-01"),
                "due_on": D(due_on), "due_provisional": False, "paused_since": D(paused) if paused else None}

    rows = [row(1, "provider", PROV, "2026-10-09"), row(2, "provider", OTHER_PROV, "2026-10-08"),
            row(3, "provider", PROV, "2026-10-12"), row(4, "credit_office", CO, "2026-10-09"),
            row(5, "provider", PROV, "2026-10-09", paused="2026-10-01")]
    r = overdue_report(cal, D("2026-10-13"), rows)
    assert [s.number for s in r.steps] == ["OBJ-2", "OBJ-1", "OBJ-4", "OBJ-3"]
    assert [s.working_days_late for s in r.steps] == [4, 3, 3, 1]  # 10-09, Sat 10-10, 10-12, 10-13
    assert [(c.role, c.count) for c in r.by_role] == [("credit_office", 1), ("provider", 3)]
    assert [(c.role, c.org_code, c.count) for c in r.by_organisation] == [
        ("credit_office", CO, 1), ("provider", PROV, 2), ("provider", OTHER_PROV, 1)]


# --- who sees a case --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "principal, kind, sees",
    [
        (SUBJECT_P, "objection", True),
        (who("subject", subject_key=SUBJECT, real_name_verified=False), "objection", False),
        (who("subject", subject_key="130902198503120213", real_name_verified=True), "objection", False),
        (who("provider"), "objection", True),
        (who("provider", OTHER_PROV), "objection", False),
        (who("credit_office"), "objection", True),
        (who("credit_office"), "repair", True),
        (who("credit_office", DO), "objection", False),
        (who("data_office"), "objection", True),
        (who("data_office"), "repair", False),
        (who("state_organ", "11130900000001011Q"), "objection", False),
        (who("auditor", "111309000000050556"), "objection", False),
    ],
)
def test_who_sees_a_case(principal, kind, sees):
    row = {"subject_key": SUBJECT, "provider_org": PROV, "credit_office_org": CO, "data_office_org": DO,
           "kind": kind}
    assert may_see(principal, row) is sees
    where, _ = visibility_sql(principal)
    assert (where != "false") is (principal.roles[0] in ("subject", "provider", "credit_office", "data_office")
                                  and (principal.real_name_verified or principal.roles[0] != "subject"))


# --- joint punishment, offices ------------------------------------------------------------------------


def item(dishonest: bool) -> CatalogItem:
    return CatalogItem(code="ADM_PENALTY", name="行政处罚信息", category="penalty", disclosure="public",
                       provider_org=PROV, provider_name="p", dishonest=dishonest, list_meaning="none",
                       publicity_months=None, fields=())


@pytest.mark.parametrize(
    "dishonest, status, record_state, usable",
    [
        (True, "active", "live", True),
        (True, "disputed", "live", True),
        (True, "repaired", "repaired", False),
        (True, "active", "archived", False),
        (False, "active", "live", False),
    ],
)
def test_only_live_dishonesty_records_count_for_joint_punishment(dishonest, status, record_state, usable):
    view = RecordView(id="r", item=item(dishonest), decided_on=D("2026-09-01"), data={}, status=status,
                      state=record_state, basis="public", fields_withheld=0)
    assert usable_for_joint_punishment(view) is usable


def test_offices_default_to_the_demo_codes_and_must_be_valid():
    assert Offices.from_env({}) == Offices(CO, DO)
    assert Offices.from_env({"CREDIT_OFFICE_ORG": "91130900MA0CRD2T0W"}).credit_office == "91130900MA0CRD2T0W"
    with pytest.raises(ConfigError, match="CREDIT_DATA_OFFICE_ORG"):
        Offices.from_env({"CREDIT_DATA_OFFICE_ORG": "91130900MA0CRD2T0X"})


@pytest.mark.parametrize(
    "role, org, handlers, rel",
    [
        ("credit_office", CO, {f"credit_office:{CO}", f"data_office:{DO}"}, "case_handler"),
        ("data_office", DO, {f"credit_office:{CO}", f"data_office:{DO}"}, "case_handler"),
        ("credit_office", DO, {f"credit_office:{CO}", f"data_office:{DO}"}, "other"),  # role and org go together
        ("credit_office", CO, set(), "other"),  # no open objection on the record
        ("state_organ", CO, {f"credit_office:{CO}"}, "other"),
        ("provider", PROV, {f"credit_office:{CO}"}, "own_provider"),
    ],
)
def test_the_case_handler_relation_is_the_office_handling_an_open_objection(role, org, handlers, rel):
    record = StoredRecord(id="r", item=item(True), provider_org=PROV, decided_on=D("2026-09-01"), data={},
                          status="disputed", case_handlers=frozenset(handlers))
    assert relation(role, who(role, org), SUBJECT, record) == rel
