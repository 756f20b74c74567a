"""A changed policy applies in every running process within seconds, is checked before it takes
effect, and each version is an act in the trail. Two app instances share one database."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import subprocess
import sys
from contextlib import AsyncExitStack
from pathlib import Path

import asyncpg
import httpx
import pytest

from api import demo
from api.app import create_app
from api.auth.policy_file import file_digest
from api.config import ROOT, Settings
from tests.conftest import TEST_AUDIT_KEY, TEST_SECRET, token

POLICY_CSV = (ROOT / "policies" / "policy.csv").read_text()
PENALTY_LIMIT = "p2, org:91130900MA0CRD1T4K, ADM_PENALTY,"
UNMASK_STATE_ORGANS = "p3, state_organ, *"


def without(line_start: str, text: str = POLICY_CSV) -> str:
    kept = [line for line in text.splitlines() if not line.startswith(line_start)]
    assert len(kept) < len(text.splitlines())
    return "\n".join(kept) + "\n"


@pytest.fixture
async def apps(settings: Settings, tmp_path: Path, request):
    """Two running apps on one database following a policy folder of their own."""
    folder = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", folder)
    poll = getattr(request, "param", 0.2)
    s = dataclasses.replace(settings, policy_dir=folder, policy_poll_seconds=poll)
    async with AsyncExitStack() as stack:
        started = []
        for _ in range(2):
            app = create_app(s)
            await stack.enter_async_context(app.router.lifespan_context(app))
            started.append(app)
        yield folder, started


def followers(apps):
    return [app.state.policy_follower for app in apps]


async def policy_acts(dsn: str, operation: str) -> list[dict]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT user_name, details FROM query_log WHERE kind = 'policy' AND operation = $1 ORDER BY id",
            operation,
        )
    finally:
        await conn.close()
    return [{"user_name": r["user_name"], **json.loads(r["details"])} for r in rows]


def credit_cli(settings: Settings, folder: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DATABASE_URL": settings.database_url,
        "CREDIT_POLICY_DIR": str(folder), "CREDIT_DATA_DIR": str(settings.data_dir),
        "CREDIT_JWT_SECRET": TEST_SECRET, "CREDIT_AUDIT_KEY": TEST_AUDIT_KEY,
    }
    return subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


async def test_a_changed_file_applies_in_every_process_and_is_recorded_once(apps, dsn):
    folder, (a, b) = apps
    for app in (a, b):  # answers cached under the old policy
        assert app.state.credit.policy.may_unmask("state_organ", "other")
    (folder / "policy.csv").write_text(without(UNMASK_STATE_ORGANS))
    new = file_digest(folder)
    for f in followers((a, b)):
        await f.wait_for(new, timeout=10)
    for app in (a, b):
        assert not app.state.credit.policy.may_unmask("state_organ", "other")  # cache dropped
        assert app.state.credit.disclosure.policy.digest == new
    acts = [act for act in await policy_acts(dsn, "policy.reload") if act["digest"] == new]
    assert len(acts) == 1 and acts[0]["trigger"] == "file" and acts[0]["rules"]["p3"] == 1


async def test_an_invalid_file_keeps_the_policy_in_force_and_is_reported(apps, dsn, caplog):
    folder, (a, b) = apps
    before = a.state.credit.policy.digest
    typo = POLICY_CSV.replace(PENALTY_LIMIT, PENALTY_LIMIT.replace("p2", "P2"))
    caplog.set_level(logging.ERROR, logger="credit.policy")
    (folder / "policy.csv").write_text(typo)
    bad = file_digest(folder)
    for f in followers((a, b)):
        await f.wait_until(lambda f: f.rejected == bad, timeout=10)
    for app in (a, b):
        policy = app.state.credit.policy
        assert policy.digest == before
        # not widened: the agency still may not see the fine amounts
        assert "cf_nr_fk" not in policy.entitlement(demo.AGENCY, "credit_service", "ADM_PENALTY").fields
    assert any("POLICY NOT RELOADED" in r.getMessage() and "unknown line type 'P2'" in r.getMessage()
               for r in caplog.records)
    acts = [act for act in await policy_acts(dsn, "policy.rejected") if act["rejected"] == bad]
    assert len(acts) == 1 and acts[0]["digest"] == before and "policy.csv:" in acts[0]["error"]
    # the operator's command says so too, and changes nothing
    done = credit_cli(a.state.credit.settings, folder, "policy", "reload", "--operator-name", "李明")
    assert done.returncode == 2 and "unknown line type 'P2'" in done.stderr and "Traceback" not in done.stderr
    assert a.state.credit.policy.digest == b.state.credit.policy.digest == before


async def penalty_fields_withheld(app, settings: Settings) -> list[int]:
    """What the demo agency's lookup of the company leaves out of each penalty record."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        r = await client.post(
            "/graphql",
            json={"query": f'query {{ subject(key: "{demo.COMPANY}", purpose: "loan_review") '
                           "{ records { item { code } fieldsWithheld } } }"},
            headers={"Authorization": f"Bearer {token(settings, 'credit_service')}"},
        )
    records = r.json()["data"]["subject"]["records"]
    return [x["fieldsWithheld"] for x in records if x["item"]["code"] == "ADM_PENALTY"]


@pytest.mark.parametrize("apps", [3600.0], indirect=True)  # no file polling: NOTIFY alone
async def test_credit_policy_reload_reaches_every_process_through_notify(apps, dsn, settings, app):
    folder, (a, b) = apps
    before = await penalty_fields_withheld(b, settings)
    assert len(before) == 2 and all(n > 0 for n in before)
    whole = PENALTY_LIMIT + " *"  # the agency may see every field of a penalty
    (folder / "policy.csv").write_text(without(PENALTY_LIMIT) + whole + "\n")
    new = file_digest(folder)
    done = credit_cli(settings, folder, "policy", "reload", "--operator-name", "李明")
    assert done.returncode == 0, done.stderr
    assert new in done.stdout
    for f in followers((a, b)):
        await f.wait_for(new, timeout=10)
    (act,) = [act for act in await policy_acts(dsn, "policy.reload") if act["digest"] == new]
    assert act["user_name"] == "李明" and act["trigger"] == "cli"
    # over HTTP: the agency now gets the penalty records whole
    assert await penalty_fields_withheld(b, settings) == [0, 0]
    # the session's app follows the shipped folder, which did not change
    assert app.state.credit.policy.digest == file_digest(ROOT / "policies")


@pytest.mark.parametrize("apps", [3600.0], indirect=True)
async def test_the_follower_listens_again_after_its_connection_is_cut(apps, dsn, settings):
    folder, (a, b) = apps
    f = a.state.policy_follower
    owner = await asyncpg.connect(dsn)
    try:  # what a database restart does to the follower's session
        assert await owner.fetchval("SELECT pg_terminate_backend($1)", f.backend_pid)
    finally:
        await owner.close()
    await f.wait_until(lambda f: f.connections >= 2, timeout=15)
    (folder / "policy.csv").write_text(without(UNMASK_STATE_ORGANS))
    new = file_digest(folder)
    assert credit_cli(settings, folder, "policy", "reload", "--operator-name", "李明").returncode == 0
    await f.wait_for(new, timeout=10)
    assert not a.state.credit.policy.may_unmask("state_organ", "other")
