"""Migration 0008 on authorizations registered before it: only the subject's own grants stay
effective; the grantees' registrations wait for the subject (README "Authorizations")."""

from __future__ import annotations

import datetime as dt
import shutil

import asyncpg

from api import demo
from api.db_migrate import migrate
from tests.test_migrations import REAL_MIGRATIONS, folder, scratch  # noqa: F401

LEGACY = """INSERT INTO authorizations (subject_key, grantee_org, purpose, scope_classes, valid_from,
    valid_until, evidence_kind, evidence_digest, evidence_ref, granted_by, granted_by_name, revoked_at)
VALUES ($1, $2, $3, ARRAY['authorized'], now(), now() + interval '1 year', $4, $5, $6, 'u', 'n', $7)
RETURNING id"""


async def test_legacy_registrations_become_pending_and_the_subjects_own_stay_effective(scratch, folder):  # noqa: F811
    for path in sorted(REAL_MIGRATIONS.glob("*.sql")):
        if path.name < "0006":  # the authorizations as they were before 0008 (0006-0007 concern the trail and records)
            shutil.copy(path, folder / path.name)
    await migrate(scratch, folder)
    conn = await asyncpg.connect(scratch)
    try:
        await conn.execute("INSERT INTO subjects (key, key_type, subject_type, name) "
                           "VALUES ($1, 'resident_id', 'natural_person', '张伟')", demo.PERSON)
        own = await conn.fetchval(LEGACY, demo.PERSON, demo.AGENCY, "loan_review", "self_service",
                                  None, None, None)
        agency = await conn.fetchval(LEGACY, demo.PERSON, demo.AGENCY, "loan_review",
                                     "signed_document", "0" * 64, "REF-1", None)
        organ = await conn.fetchval(LEGACY, demo.PERSON, demo.HOUSING, "administrative_penalty",
                                    "signed_document", "1" * 64, "REF-2", None)
        revoked = await conn.fetchval(LEGACY, demo.PERSON, demo.AGENCY, "loan_review",
                                      "self_service", None, None, dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        await conn.execute("SELECT credit_audit_partitions(current_date, current_date)")
        await conn.execute(
            "INSERT INTO query_log (entry, at, request_id, roles, kind, operation, outcome, channel, "
            "retention, mac, details) VALUES (gen_random_uuid(), now(), gen_random_uuid(), "
            "ARRAY['state_organ'], 'authorization', 'authorization.grant', 'recorded', 'graphql', "
            "'long_term', '\\x00', jsonb_build_object('authorization', $1::text))", str(organ))
        shutil.copy(REAL_MIGRATIONS / "0008_authorization_evidence.sql", folder)
        assert await migrate(scratch, folder) == ["0008_authorization_evidence.sql"]
        rows = {r["id"]: r for r in await conn.fetch("SELECT * FROM authorizations")}
    finally:
        await conn.close()
    assert (rows[own]["state"], rows[own]["effective_basis"]) == ("effective", "self_service")
    assert (rows[agency]["state"], rows[agency]["grantee_role"]) == ("pending", None)
    assert (rows[organ]["state"], rows[organ]["grantee_role"]) == ("pending", "state_organ")
    assert rows[revoked]["state"] == "revoked"
