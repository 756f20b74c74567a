"""The default matrix of RULES.md, asked of policies/ through the real Casbin enforcer."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from api.auth.policy import Policy, RecordFacts
from api.config import ROOT
from api.errors import PolicyUnavailable


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy.load(ROOT / "policies")


def allowed(policy: Policy, role, rel, cls, state, purpose="none", authz="no") -> bool:
    return policy.decide(RecordFacts(role, rel, cls, state, purpose, authz)).allowed


CLASSES = ("public", "shared", "authorized")

# (role, relation, purpose, authz) -> which classes are disclosed for a live record
LIVE_MATRIX = [
    ("public", "other", "none", "no", {"public"}),
    ("public", "other", "duty", "yes", {"public"}),
    ("state_organ", "other", "duty", "no", {"public", "shared"}),
    ("state_organ", "other", "duty", "yes", {"public", "shared", "authorized"}),
    ("state_organ", "other", "stated", "no", {"public"}),
    ("state_organ", "other", "stated", "yes", {"public"}),
    ("credit_service", "other", "stated", "no", {"public"}),
    ("credit_service", "other", "stated", "yes", {"public", "authorized"}),
    ("credit_service", "other", "duty", "no", {"public"}),
    ("subject", "self_verified", "none", "no", {"public", "shared", "authorized"}),
    ("subject", "self_unverified", "none", "no", {"public"}),
    ("subject", "other", "none", "no", {"public"}),
    ("provider", "own_provider", "none", "no", {"public", "shared", "authorized"}),
    ("provider", "other", "none", "no", {"public"}),
    ("credit_office", "case_handler", "none", "no", {"public", "shared", "authorized"}),
    ("credit_office", "other", "none", "no", set()),
    ("data_office", "case_handler", "none", "no", {"public", "shared", "authorized"}),
    ("data_office", "other", "duty", "yes", set()),
    ("auditor", "other", "none", "no", set()),
    ("auditor", "other", "duty", "yes", set()),
]


@pytest.mark.parametrize("role,rel,purpose,authz,classes", LIVE_MATRIX)
def test_live_records_follow_the_default_matrix(policy, role, rel, purpose, authz, classes):
    seen = {c for c in CLASSES if allowed(policy, role, rel, c, "live", purpose, authz)}
    assert seen == classes


# Art. 20 archived dishonesty and Art. 39 repaired records: only with authorization, the subject
# itself, the provider of the record or a case handler.
NOT_PUBLIC_ANY_MORE = [
    ("public", "other", "none", "yes", False),
    ("state_organ", "other", "duty", "no", False),
    ("state_organ", "other", "duty", "yes", True),
    ("credit_service", "other", "stated", "no", False),
    ("credit_service", "other", "stated", "yes", True),
    ("subject", "self_verified", "none", "no", True),
    ("subject", "self_unverified", "none", "no", False),
    ("subject", "other", "none", "no", False),
    ("provider", "own_provider", "none", "no", True),
    ("provider", "other", "none", "no", False),
    ("auditor", "other", "duty", "yes", False),
]


@pytest.mark.parametrize("record_state", ["archived", "repaired"])
@pytest.mark.parametrize("role,rel,purpose,authz,expected", NOT_PUBLIC_ANY_MORE)
def test_archived_and_repaired_records_need_authorization(
    policy, record_state, role, rel, purpose, authz, expected
):
    assert allowed(policy, role, rel, "public", record_state, purpose, authz) is expected


@pytest.mark.parametrize("role,rel", [(r, rel) for r, rel, *_ in LIVE_MATRIX])
def test_deleted_records_are_disclosed_to_nobody(policy, role, rel):
    for cls in CLASSES:
        assert not allowed(policy, role, rel, cls, "deleted", "duty", "yes")


def test_decision_names_the_rule_and_whether_an_authorization_was_used(policy):
    d = policy.decide(RecordFacts("credit_service", "other", "authorized", "live", "stated", "yes"))
    assert d.allowed and d.used_authorization
    d = policy.decide(RecordFacts("state_organ", "other", "shared", "live", "duty", "yes"))
    assert d.allowed and not d.used_authorization  # shared needs no authorization


@pytest.mark.parametrize(
    "role,rel,unmasked",
    [
        ("subject", "self_verified", True),
        ("subject", "self_unverified", False),
        ("state_organ", "other", True),
        ("credit_service", "other", False),
        ("public", "other", False),
        ("provider", "own_provider", False),
    ],
)
def test_identity_numbers_are_unmasked_only_for_the_subject_and_state_organs(policy, role, rel, unmasked):
    assert policy.may_unmask(role, rel) is unmasked


def test_field_entitlement_limits_a_listed_organisation_and_nobody_else(policy):
    agency = "91130900MA0CRD1T4K"
    penalty = policy.entitlement(agency, "credit_service", "ADM_PENALTY")
    assert penalty.item_allowed and "cf_wsh" in penalty.fields and "cf_nr_fk" not in penalty.fields
    assert policy.entitlement(agency, "credit_service", "ADM_LICENSING").fields is None
    assert not policy.entitlement(agency, "credit_service", "REGISTRATION").item_allowed
    other = policy.entitlement("91130900MA0CRD2T0W", "credit_service", "REGISTRATION")
    assert other.item_allowed and other.fields is None


def _policy_copy(tmp_path: Path, extra: str) -> Path:
    shutil.copy(ROOT / "policies" / "model.conf", tmp_path / "model.conf")
    (tmp_path / "policy.csv").write_text((ROOT / "policies" / "policy.csv").read_text() + extra)
    return tmp_path


def test_a_role_entitlement_limits_every_organisation_of_that_role(tmp_path):
    policy = Policy.load(_policy_copy(tmp_path, "p2, role:credit_service, ADM_LICENSING, xk_wsh\n"))
    assert policy.entitlement("91130900MA0CRD2T0W", "credit_service", "ADM_LICENSING").fields == {"xk_wsh"}
    assert not policy.entitlement("91130900MA0CRD2T0W", "credit_service", "ADM_PENALTY").item_allowed
    # an organisation's own lines take precedence over its role's
    assert policy.entitlement("91130900MA0CRD1T4K", "credit_service", "ADM_LICENSING").fields is None


def test_missing_policy_refuses_to_start(tmp_path):
    shutil.copy(ROOT / "policies" / "model.conf", tmp_path / "model.conf")
    with pytest.raises(PolicyUnavailable, match="missing"):
        Policy.load(tmp_path)


def test_empty_policy_refuses_to_start(tmp_path):
    shutil.copy(ROOT / "policies" / "model.conf", tmp_path / "model.conf")
    (tmp_path / "policy.csv").write_text("# nothing\n")
    with pytest.raises(PolicyUnavailable, match="no disclosure rules"):
        Policy.load(tmp_path)


def test_a_disabled_enforcer_fails_closed(tmp_path):
    policy = Policy.load(ROOT / "policies")
    policy._enforcer.enable_enforce(False)  # Casbin then answers "allow" to everything
    with pytest.raises(PolicyUnavailable):
        policy.decide(RecordFacts("public", "other", "authorized", "live", "none", "no"))
