"""Bearer tokens at the gate: every way a token can be wrong is a 401 naming the problem, never
an anonymous request; no header at all is the public role. Plus the verifier in an RS256
set-up, including the HS256 key-confusion attack."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from api import demo
from api.auth.principal import ROLES
from api.auth.tokens import TokenError, TokenVerifier, mint_token
from api.cli import TOKEN_PRESETS
from api.config import Settings
from tests.conftest import log_rows, token

PURPOSES_Q = "{ purposes { code } }"
# A query that would be logged if the request ran at all (as anyone, anonymous included).
LOGGED_Q = f'{{ purposes {{ code }} subject(key: "{demo.COMPANY}") {{ key }} }}'
ROLE = "credit_service"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(role: str = ROLE, **overrides: Any) -> dict[str, Any]:
    """A complete, valid claim set for the test settings; overrides of None drop a claim."""
    now = int(time.time())
    body = {
        "iss": "credit-platform",
        "aud": "credit-platform",
        "sub": f"user-{role}",
        "iat": now,
        "exp": now + 3600,
        **TOKEN_PRESETS[role],
        "roles": [role],
        **overrides,
    }
    return {k: v for k, v in body.items() if v is not None}


def _sign(settings: Settings, claims: dict[str, Any], *, alg: str = "HS256", key: Any = None) -> str:
    return jwt.encode(claims, settings.jwt_secret if key is None else key, algorithm=alg)


def _hand_made(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    h = _b64(json.dumps(header).encode())
    p = _b64(json.dumps(claims).encode())
    return f"{h}.{p}.{_b64(signature)}"


def _hs256_by_hand(secret: bytes, claims: dict[str, Any]) -> str:
    h = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    p = _b64(json.dumps(claims).encode())
    sig = hmac.new(secret, f"{h}.{p}".encode(), hashlib.sha256).digest()
    return f"{h}.{p}.{_b64(sig)}"


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


async def _refused(client, pool, authorization: str, *reason_parts: str) -> str:
    r = await client.post("/graphql", json={"query": LOGGED_Q},
                          headers={"Authorization": authorization, "Accept-Language": "en"})
    assert r.status_code == 401, r.text
    body = r.json()
    assert set(body) == {"error", "reason"}
    assert body["error"] == "invalid_token"
    reason = body["reason"]
    for part in reason_parts:
        assert part.lower() in reason.lower(), reason
    assert r.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    # never treated as anonymous: the query did not run, so nothing was logged
    assert await log_rows(pool) == []
    return reason


# --- valid and absent tokens ------------------------------------------------------------------


async def test_valid_token_passes(client, settings):
    r = await client.post(
        "/graphql", json={"query": PURPOSES_Q}, headers={"Authorization": f"Bearer {_sign(settings, _claims())}"}
    )
    assert r.status_code == 200, r.text
    assert "errors" not in r.json()
    assert r.json()["data"]["purposes"]


@pytest.mark.parametrize("role", sorted(TOKEN_PRESETS))
async def test_valid_minted_token_for_each_role_passes(client, settings, role):
    r = await client.post(
        "/graphql", json={"query": PURPOSES_Q}, headers={"Authorization": f"Bearer {token(settings, role)}"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"]["purposes"]


async def test_bearer_scheme_is_case_insensitive(client, settings):
    r = await client.post(
        "/graphql", json={"query": PURPOSES_Q}, headers={"Authorization": f"bearer {_sign(settings, _claims())}"}
    )
    assert r.status_code == 200, r.text


async def test_valid_token_queries_are_logged_as_its_user(client, settings, pool):
    r = await client.post(
        "/graphql", json={"query": LOGGED_Q}, headers={"Authorization": f"Bearer {_sign(settings, _claims())}"}
    )
    assert r.status_code == 200, r.text
    rows = await log_rows(pool, demo.COMPANY)
    assert len(rows) == 1
    assert rows[0]["user_id"] == f"user-{ROLE}"
    assert rows[0]["roles"] == [ROLE]
    assert rows[0]["org_code"] == TOKEN_PRESETS[ROLE]["org"]


async def test_no_authorization_header_is_the_public_role(client, pool):
    r = await client.post("/graphql", json={"query": f'{{ subject(key: "{demo.COMPANY}") {{ key }} }}'})
    assert r.status_code == 200, r.text
    assert "errors" not in r.json(), r.json()
    assert r.json()["data"]["subject"]["key"] == demo.COMPANY
    rows = await log_rows(pool, demo.COMPANY)
    assert len(rows) == 1
    assert rows[0]["roles"] == ["public"]
    assert rows[0]["user_id"] is None
    assert rows[0]["org_code"] is None


# --- refused tokens ---------------------------------------------------------------------------


async def test_expired_token_is_refused(client, settings, pool):
    now = int(time.time())
    tok = _sign(settings, _claims(iat=now - 7200, exp=now - 3600))
    await _refused(client, pool, f"Bearer {tok}", "expired")


async def test_token_minted_already_expired_is_refused(client, settings, pool):
    tok = mint_token(settings, {k: v for k, v in _claims().items() if k not in ("iat", "exp")},
                     ttl_seconds=-120)
    await _refused(client, pool, f"Bearer {tok}", "expired")


async def test_wrong_issuer_is_refused(client, settings, pool):
    tok = _sign(settings, _claims(iss="someone-else"))
    await _refused(client, pool, f"Bearer {tok}", "issuer")


async def test_wrong_audience_is_refused(client, settings, pool):
    tok = _sign(settings, _claims(aud="another-platform"))
    await _refused(client, pool, f"Bearer {tok}", "audience")


async def test_alg_none_token_is_refused(client, pool):
    tok = _hand_made({"alg": "none", "typ": "JWT"}, _claims())
    reason = await _refused(client, pool, f"Bearer {tok}", "algorithm", "'none'")
    assert "not accepted" in reason


@pytest.mark.parametrize("alg_spelling", ["None", "NONE", "nOnE"])
async def test_alg_none_in_any_spelling_is_refused(client, pool, alg_spelling):
    tok = _hand_made({"alg": alg_spelling, "typ": "JWT"}, _claims())
    await _refused(client, pool, f"Bearer {tok}", "algorithm", alg_spelling)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_hs512_with_the_right_secret_is_refused(client, settings, pool):
    tok = _sign(settings, _claims(), alg="HS512")
    await _refused(client, pool, f"Bearer {tok}", "algorithm", "'HS512'", "not accepted")


async def test_rs256_token_is_refused_by_an_hs256_platform(client, pool):
    tok = jwt.encode(_claims(), _rsa_key(), algorithm="RS256")
    await _refused(client, pool, f"Bearer {tok}", "algorithm", "'RS256'", "not accepted")


async def test_token_signed_with_another_secret_is_refused(client, settings, pool):
    tok = _sign(settings, _claims(), key="another-secret-" + "y" * 40)
    await _refused(client, pool, f"Bearer {tok}", "signature")


async def test_token_with_tampered_payload_is_refused(client, settings, pool):
    good = _sign(settings, _claims())
    h, _, s = good.split(".")
    forged_payload = _b64(json.dumps(_claims(roles=["auditor"])).encode())
    await _refused(client, pool, f"Bearer {h}.{forged_payload}.{s}", "signature")


async def test_token_with_empty_signature_is_refused(client, settings, pool):
    h, p, _ = _sign(settings, _claims()).split(".")
    await _refused(client, pool, f"Bearer {h}.{p}.", "signature")


@pytest.mark.parametrize("claim", ["iss", "aud", "sub", "exp", "iat", "name", "org", "org_name", "roles"])
async def test_token_missing_a_required_claim_is_refused(client, settings, pool, claim):
    tok = _sign(settings, _claims(**{claim: None}))
    await _refused(client, pool, f"Bearer {tok}", f"'{claim}'")


@pytest.mark.parametrize("claim", ["sub", "name", "org", "org_name"])
async def test_token_with_a_blank_text_claim_is_refused(client, settings, pool, claim):
    tok = _sign(settings, _claims(**{claim: "  "}))
    await _refused(client, pool, f"Bearer {tok}", f"'{claim}'")


@pytest.mark.parametrize("claim", ["subject_key", "real_name_verified"])
async def test_subject_token_missing_a_subject_claim_is_refused(client, settings, pool, claim):
    tok = _sign(settings, _claims("subject", **{claim: None}))
    await _refused(client, pool, f"Bearer {tok}", f"'{claim}'")


async def test_subject_token_passes_with_its_subject_claims(client, settings):
    tok = _sign(settings, _claims("subject"))
    r = await client.post("/graphql", json={"query": PURPOSES_Q}, headers={"Authorization": f"Bearer {tok}"})
    assert r.status_code == 200, r.text


async def test_subject_token_with_non_boolean_real_name_verified_is_refused(client, settings, pool):
    tok = _sign(settings, _claims("subject", real_name_verified="true"))
    await _refused(client, pool, f"Bearer {tok}", "'real_name_verified'")


async def test_subject_token_with_invalid_subject_key_is_refused(client, settings, pool):
    tok = _sign(settings, _claims("subject", subject_key="36042619910102009X"))
    await _refused(client, pool, f"Bearer {tok}", "'subject_key'", "check character")


async def test_unknown_role_is_refused(client, settings, pool):
    tok = _sign(settings, _claims(roles=["superuser"]))
    await _refused(client, pool, f"Bearer {tok}", "unknown role", "superuser")


async def test_unknown_role_next_to_a_known_one_is_refused(client, settings, pool):
    tok = _sign(settings, _claims(roles=[ROLE, "admin"]))
    await _refused(client, pool, f"Bearer {tok}", "unknown role", "admin")


@pytest.mark.parametrize("roles", [[], "credit_service", [1], None])
async def test_roles_that_are_not_a_list_of_names_are_refused(client, settings, pool, roles):
    claims = _claims(roles=roles) if roles is not None else _claims(roles=None)
    tok = _sign(settings, claims)
    await _refused(client, pool, f"Bearer {tok}", "'roles'")


@pytest.mark.parametrize("org", ["91110000600037341N", "not-a-code", "91350100M0001TGQXM"])
async def test_org_claim_that_is_not_a_valid_uscc_is_refused(client, settings, pool, org):
    tok = _sign(settings, _claims(org=org))
    await _refused(client, pool, f"Bearer {tok}", "'org'", "unified social credit code")


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Bearer ", "Bearer    ", "Token abc", "abc", ""])
async def test_malformed_authorization_header_is_refused(client, pool, header):
    await _refused(client, pool, header, "Bearer <token>")


@pytest.mark.parametrize("garbage", ["abc", "abc.def.ghi", "a.b", "...."])
async def test_garbage_bearer_token_is_refused(client, pool, garbage):
    await _refused(client, pool, f"Bearer {garbage}", "malformed")


async def test_token_issued_in_the_future_is_refused(client, settings, pool):
    now = int(time.time())
    tok = _sign(settings, _claims(iat=now + 3600, exp=now + 7200))
    await _refused(client, pool, f"Bearer {tok}", "not valid yet")


async def test_token_with_not_before_in_the_future_is_refused(client, settings, pool):
    now = int(time.time())
    tok = _sign(settings, _claims(nbf=now + 3600))
    await _refused(client, pool, f"Bearer {tok}", "not valid yet")


async def test_refused_token_is_refused_on_get_too(client, settings):
    tok = _sign(settings, _claims(aud="another-platform"))
    r = await client.get("/graphql", params={"query": PURPOSES_Q}, headers={"Authorization": f"Bearer {tok}"})
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_token"


def test_every_preset_role_is_a_known_role():
    assert set(TOKEN_PRESETS) <= set(ROLES)


# --- RS256 set-up -----------------------------------------------------------------------------


@pytest.fixture
def rsa_setup(tmp_path: Path):
    key = _rsa_key()
    pem = tmp_path / "jwt-public.pem"
    pem.write_bytes(_public_pem(key))
    settings = Settings(
        database_url=None,
        data_dir=tmp_path,
        jwt_algorithms=("RS256",),
        jwt_secret=None,
        jwt_public_key_file=pem,
        jwt_jwks_url=None,
        jwt_issuer="credit-platform",
        jwt_audience="credit-platform",
    )
    settings.check()
    return settings, key, pem


def test_rs256_token_signed_by_the_matching_key_verifies(rsa_setup):
    settings, key, _ = rsa_setup
    tok = jwt.encode(_claims(), key, algorithm="RS256")
    principal = TokenVerifier(settings).verify(tok)
    assert principal.user_id == f"user-{ROLE}"
    assert principal.roles == (ROLE,)
    assert principal.org_code == TOKEN_PRESETS[ROLE]["org"]
    assert not principal.anonymous


def test_rs256_token_from_the_header_verifies(rsa_setup):
    settings, key, _ = rsa_setup
    tok = jwt.encode(_claims("subject"), key, algorithm="RS256")
    principal = TokenVerifier(settings).principal_from_header(f"Bearer {tok}")
    assert principal.subject_key == TOKEN_PRESETS["subject"]["subject_key"]
    assert principal.real_name_verified is True


def test_rs256_token_signed_by_another_key_is_refused(rsa_setup):
    settings, _, _ = rsa_setup
    tok = jwt.encode(_claims(), _rsa_key(), algorithm="RS256")
    with pytest.raises(TokenError, match="signature"):
        TokenVerifier(settings).verify(tok)


def test_hs256_token_signed_with_the_public_key_pem_is_refused(rsa_setup):
    """Key confusion: the attacker knows the public key and uses its PEM as an HMAC secret."""
    settings, _, pem = rsa_setup
    forged = _hs256_by_hand(pem.read_bytes(), _claims(roles=["auditor"], **TOKEN_PRESETS["auditor"]))
    # the forgery really is a correct HMAC over the public key PEM
    h, p, s = forged.split(".")
    expected = hmac.new(pem.read_bytes(), f"{h}.{p}".encode(), hashlib.sha256).digest()
    assert _b64(expected) == s
    with pytest.raises(TokenError, match="'HS256' is not accepted"):
        TokenVerifier(settings).verify(forged)
    with pytest.raises(TokenError):
        TokenVerifier(settings).principal_from_header(f"Bearer {forged}")


def test_hs256_token_signed_with_the_public_key_pem_text_is_refused(rsa_setup):
    settings, _, pem = rsa_setup
    forged = _hs256_by_hand(pem.read_text().strip().encode(), _claims())
    with pytest.raises(TokenError, match="not accepted"):
        TokenVerifier(settings).verify(forged)


def test_alg_none_is_refused_in_an_rs256_setup(rsa_setup):
    settings, _, _ = rsa_setup
    with pytest.raises(TokenError, match="'none'"):
        TokenVerifier(settings).verify(_hand_made({"alg": "none", "typ": "JWT"}, _claims()))


def test_mint_token_refuses_an_rs256_setup(rsa_setup):
    settings, _, _ = rsa_setup
    with pytest.raises(TokenError, match="HS"):
        mint_token(settings, {"sub": "x"})


def test_verifier_without_header_returns_the_public_role(rsa_setup):
    settings, _, _ = rsa_setup
    principal = TokenVerifier(settings).principal_from_header(None)
    assert principal.anonymous and principal.roles == ("public",)


async def test_refusal_reason_with_non_ascii_text_is_still_a_clean_401(client, settings, pool):
    tok = _sign(settings, _claims(roles=["管理员"]))
    reason = await _refused(client, pool, f"Bearer {tok}", "unknown role")
    assert "管理员" in reason


async def test_a_refused_token_is_explained_in_the_callers_language(client, settings, pool):
    """The 401 body's reason in the request's language (Chinese by default); the
    WWW-Authenticate header keeps the English reason (a header is ASCII)."""
    tok = _sign(settings, _claims(aud="another-platform"))
    r = await client.post("/graphql", json={"query": LOGGED_Q},
                          headers={"Authorization": f"Bearer {tok}"})
    assert r.status_code == 401
    assert r.json() == {"error": "invalid_token", "reason": "该令牌不是签发给本平台的（audience 不符）"}
    assert r.headers["www-authenticate"] == (
        'Bearer error="invalid_token", '
        'error_description="token is not meant for this platform (audience)"'
    )
    r = await client.post("/graphql", json={"query": LOGGED_Q},
                          headers={"Authorization": "Basic x", "Accept-Language": "zh-CN"})
    assert r.json()["reason"] == "Authorization 请求头须为“Bearer <令牌>”格式"
    assert await log_rows(pool) == []
