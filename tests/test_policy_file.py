"""policies/ is checked whole before use: a fault refuses the policy naming file, line, reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from api.auth.policy import Policy, RecordFacts
from api.auth.policy_file import POLICIES, PolicyFileError
from api.config import ROOT

POLICY_CSV = (ROOT / "policies" / "policy.csv").read_text()
MODEL_CONF = (ROOT / "policies" / "model.conf").read_text()


def write(tmp_path: Path, *, csv: str = POLICY_CSV, model: str = MODEL_CONF) -> Path:
    (tmp_path / "model.conf").write_text(model)
    (tmp_path / "policy.csv").write_text(csv)
    return tmp_path


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def refused(tmp_path: Path, **files) -> PolicyFileError:
    with pytest.raises(PolicyFileError) as e:
        Policy.load(write(tmp_path, **files))
    assert "\n" not in str(e.value)  # one line
    return e.value


def test_the_shipped_policy_passes():
    assert Policy.load(ROOT / "policies").rule_counts()["p"] > 0


def test_a_mistyped_line_type_is_refused_not_skipped(tmp_path):
    # P2 for p2: Casbin alone drops the line and the agency sees every field of the item
    csv = POLICY_CSV.replace("p2, org:91130900MA0CRD1T4K, ADM_PENALTY", "P2, org:91130900MA0CRD1T4K, ADM_PENALTY")
    e = refused(tmp_path, csv=csv)
    assert e.path == tmp_path / "policy.csv"
    assert e.line == line_of(csv, "P2, org:")
    assert "unknown line type 'P2'" in str(e) and f"policy.csv:{e.line}" in str(e)


@pytest.mark.parametrize(
    "line,reason",
    [
        ("p, public, *, public, live, *", "p takes 6 columns"),
        ("p2, role:credit_service, ADM_PENALTY", "p2 takes 3 columns"),
        ("p3, subject, self_verified, extra", "p3 takes 2 columns"),
        ("g, alice, state_organ", "unknown line type 'g'"),
        ("p, publik, *, public, live, *, *", "role 'publik'"),
        ("p, public, *, secret, live, *, *", "cls 'secret'"),
        ("p, public, *, public, alive, *, *", "state 'alive'"),
        ("p, public, *, public, live, sometimes, *", "purpose 'sometimes'"),
        ("p, public, *, public, live, *, maybe", "authz 'maybe'"),
        ("p, public, stranger, public, live, *, *", "rel 'stranger'"),
        ("p, public, , public, live, *, *", "empty rel"),
        ("p3, auditor, self", "rel 'self'"),
        ("p2, org:91130900MA0CRD1T4X, ADM_PENALTY, *", "not a valid organisation code"),
        ("p2, org:91130900ma0crd1t4k, ADM_PENALTY, *", "as org:91130900MA0CRD1T4K"),
        ("p2, role:judge, ADM_PENALTY, *", "unknown role 'judge'"),
        ("p2, agency, ADM_PENALTY, *", "must be org:<USCC> or role:<role>"),
        ("p2, role:credit_service, adm_penalty, *", "not a catalog item code"),
        ("p2, role:credit_service, ADM_PENALTY, cf_wsh|CF JDRQ", "malformed field names"),
        ("p, public, keyMatch(a, *, public, live, *, *", "unbalanced brackets"),
    ],
)
def test_a_malformed_line_is_refused_with_its_line_and_reason(tmp_path, line, reason):
    csv = POLICY_CSV + line + "\n"
    e = refused(tmp_path, csv=csv)
    assert e.line == len(csv.splitlines()), str(e)
    assert reason in str(e)


def test_a_pilot_era_organisation_code_passes_only_when_configured(tmp_path):
    csv = POLICY_CSV + "p2, org:91130900MA0CRD1T4X, ADM_PENALTY, *\n"
    assert "not a valid organisation code" in str(refused(tmp_path, csv=csv))
    policy = Policy.load(tmp_path, legacy_uscc=frozenset({"91130900MA0CRD1T4X"}))
    assert policy.entitlement("91130900MA0CRD1T4X", "credit_service", "ADM_PENALTY").fields is None


def test_every_fault_is_counted_the_first_is_named(tmp_path):
    csv = POLICY_CSV + "P2, role:credit_service, ADM_PENALTY, *\nP3, public, other\n"
    e = refused(tmp_path, csv=csv)
    assert e.line == len(csv.splitlines()) - 1 and "另有 1 处问题" in str(e)


@pytest.mark.parametrize(
    "old,new,key,reason",
    [
        ("m2 = r2.who == p2.who &&", "m2 = r2.who == p2.who && &&", "m2", "does not compile"),
        ("m3 = r3.role == p3.role", "m3 = r3.role === p3.role", "m3", "does not compile"),
        ("m = r.role == p.role", "m = r.rol == p.role", "m", "names unknown r.rol"),
        ("m3 = r3.role == p3.role", "m3 = r3.role == p3.role && nosuch(r3.rel)", "m3", "names unknown nosuch"),
        ("r2 = who, item", "r2 = who, item, extra", "r2", "r2 must be who, item"),
        ("p2 = who, item, fields", "p2 = who, item", "p2", "p2 must be who, item, fields"),
    ],
)
def test_a_faulty_model_is_refused_with_its_line(tmp_path, old, new, key, reason):
    assert old in MODEL_CONF
    model = MODEL_CONF.replace(old, new)
    e = refused(tmp_path, model=model)
    assert e.path == tmp_path / "model.conf"
    assert e.line == line_of(model, f"{key} =") and reason in str(e), str(e)


def test_a_matcher_that_compiles_but_cannot_evaluate_is_refused(tmp_path):
    # r3.rel > 1: compares a string with a number, which fails for every lookup
    model = MODEL_CONF.replace("m3 = r3.role == p3.role", "m3 = r3.rel > 1 and r3.role == p3.role")
    e = refused(tmp_path, model=model)
    assert e.line == line_of(model, "m3 =") and "matcher m3 fails" in str(e)


def test_a_missing_section_is_refused(tmp_path):
    model = "\n".join(line for line in MODEL_CONF.splitlines() if not line.startswith("e3 ="))
    assert "e3 is missing" in str(refused(tmp_path, model=model))


def test_a_policy_file_that_is_not_utf8_is_refused(tmp_path):
    write(tmp_path)
    (tmp_path / "policy.csv").write_bytes(POLICY_CSV.encode() + b"p, public, *, \xff, live, *, *\n")
    with pytest.raises(PolicyFileError, match="not UTF-8"):
        Policy.load(tmp_path)


def test_every_line_type_in_the_file_is_read_by_the_model_and_asked_by_the_code(tmp_path):
    """Each line type of policy.csv is a section of model.conf, and removing its lines changes
    what the Policy answers: none is read into a section nobody asks."""
    shipped = Policy.load(ROOT / "policies")
    types = {line.split(",")[0].strip() for line in POLICY_CSV.splitlines() if line.strip() and not line.startswith("#")}
    assert types == set(POLICIES) == {"p", "p2", "p3"}
    for ptype in types:
        assert f"\n{ptype} = " in MODEL_CONF and f"\nm{ptype[1:]} = " in MODEL_CONF
        assert shipped._enforcer.get_named_policy(ptype)  # loaded into the model

    def answers(policy: Policy) -> tuple:
        return (
            policy.decide(RecordFacts("public", "other", "public", "live", "none", "no")).allowed,
            policy.entitlement("91130900MA0CRD1T4K", "credit_service", "ADM_PENALTY").fields,
            policy.may_unmask("state_organ", "other"),
        )

    baseline = answers(shipped)
    assert baseline[0] and baseline[1] is not None and baseline[2]
    for index, ptype in enumerate(["p", "p2", "p3"]):
        kept = [line for line in POLICY_CSV.splitlines() if line.split(",")[0].strip() != ptype]
        if ptype == "p":  # a policy without p lines is refused; keep one that is not asked here
            kept.append("p, auditor, case_handler, shared, deleted, duty, yes")
        folder = tmp_path / ptype
        folder.mkdir()
        without = Policy.load(write(folder, csv="\n".join(kept) + "\n"))
        changed = answers(without)
        assert changed[index] != baseline[index], ptype
        assert changed[:index] + changed[index + 1:] == baseline[:index] + baseline[index + 1:]


def test_serve_refuses_a_faulty_policy_in_one_line(tmp_path):
    folder = write(tmp_path, csv=POLICY_CSV.replace("p3, state_organ, *", "P3, state_organ, *"))
    env = {"PATH": "/usr/bin:/bin", "CREDIT_POLICY_DIR": str(folder), "CREDIT_DATA_DIR": str(tmp_path),
           "CREDIT_JWT_SECRET": "s" * 40, "CREDIT_AUDIT_KEY": "k" * 40}
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "serve", "--port", "18601"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    err = done.stderr.strip()
    assert "\n" not in err and "Traceback" not in err
    assert err.startswith("credit: 策略文件有误") and f"policy.csv:{line_of(POLICY_CSV, 'p3, state_organ')}" in err
