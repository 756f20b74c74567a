"""Settings.from_env: token set-ups that could be confused or bypassed are refused at start-up;
with nothing configured a local HS256 secret is made once and then reused."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from api.config import ConfigError, Settings

SECRET = "s" * 40


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "public.pem"
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def env(data_dir: Path, **values: str) -> dict[str, str]:
    return {"CREDIT_DATA_DIR": str(data_dir), **values}


# --- algorithm families -----------------------------------------------------------------------


@pytest.mark.parametrize("algs", ["HS256,RS256", "RS256,HS256", "HS512, ES256", "HS256,RS256,ES256"])
def test_mixing_hmac_and_public_key_algorithms_is_refused(data_dir, key_file, algs):
    with pytest.raises(ConfigError, match="mixes HMAC and public-key"):
        Settings.from_env(
            env(data_dir, CREDIT_JWT_SECRET=SECRET, CREDIT_JWT_PUBLIC_KEY_FILE=str(key_file),
                CREDIT_JWT_ALGORITHMS=algs)
        )


def test_mixing_is_refused_even_with_only_a_secret_configured(data_dir):
    with pytest.raises(ConfigError, match="mixes"):
        Settings.from_env(env(data_dir, CREDIT_JWT_SECRET=SECRET, CREDIT_JWT_ALGORITHMS="HS256,RS256"))


@pytest.mark.parametrize("algs", ["none", "HS256,none", "FOO", "hs256", "RS256,EdDSA"])
def test_unknown_algorithms_are_refused_and_named(data_dir, key_file, algs):
    with pytest.raises(ConfigError, match="CREDIT_JWT_ALGORITHMS") as e:
        Settings.from_env(
            env(data_dir, CREDIT_JWT_SECRET=SECRET, CREDIT_JWT_PUBLIC_KEY_FILE=str(key_file),
                CREDIT_JWT_ALGORITHMS=algs)
        )
    known = {"HS256", "RS256"}
    for name in (a.strip() for a in algs.split(",")):
        if name not in known:
            assert repr(name) in str(e.value) or name in str(e.value)


@pytest.mark.parametrize("algs", ["", " , ,"])
def test_an_empty_algorithm_list_is_refused(data_dir, algs):
    with pytest.raises(ConfigError, match="none"):
        Settings.from_env(env(data_dir, CREDIT_JWT_SECRET=SECRET, CREDIT_JWT_ALGORITHMS=algs))


# --- HMAC secret --------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", ["short", "x" * 31])
def test_short_secret_is_refused(data_dir, secret):
    with pytest.raises(ConfigError, match="at least 32 characters"):
        Settings.from_env(env(data_dir, CREDIT_JWT_SECRET=secret))


def test_secret_of_32_characters_is_accepted(data_dir):
    s = Settings.from_env(env(data_dir, CREDIT_JWT_SECRET="x" * 32))
    assert s.jwt_secret == "x" * 32 and s.jwt_algorithms == ("HS256",)


def test_short_secret_is_refused_for_every_hs_algorithm(data_dir):
    for alg in ("HS256", "HS384", "HS512"):
        with pytest.raises(ConfigError, match="at least 32"):
            Settings.from_env(env(data_dir, CREDIT_JWT_SECRET="x" * 20, CREDIT_JWT_ALGORITHMS=alg))


def test_hs_algorithms_with_only_a_public_key_are_refused(data_dir, key_file):
    with pytest.raises(ConfigError, match="CREDIT_JWT_SECRET"):
        Settings.from_env(
            env(data_dir, CREDIT_JWT_PUBLIC_KEY_FILE=str(key_file), CREDIT_JWT_ALGORITHMS="HS256")
        )


# --- public-key set-ups -------------------------------------------------------------------------


@pytest.mark.parametrize("algs", ["RS256", "ES256", "RS256,ES256"])
def test_public_key_algorithms_without_key_file_or_jwks_are_refused(data_dir, algs):
    with pytest.raises(ConfigError, match="CREDIT_JWT_PUBLIC_KEY_FILE or CREDIT_JWT_JWKS_URL"):
        Settings.from_env(env(data_dir, CREDIT_JWT_ALGORITHMS=algs))


def test_rs256_with_only_a_secret_is_refused(data_dir):
    with pytest.raises(ConfigError, match="CREDIT_JWT_PUBLIC_KEY_FILE"):
        Settings.from_env(env(data_dir, CREDIT_JWT_SECRET=SECRET, CREDIT_JWT_ALGORITHMS="RS256"))


def test_rs256_with_a_key_file_is_accepted_and_makes_no_local_secret(data_dir, key_file):
    s = Settings.from_env(
        env(data_dir, CREDIT_JWT_PUBLIC_KEY_FILE=str(key_file), CREDIT_JWT_ALGORITHMS="RS256")
    )
    assert s.jwt_algorithms == ("RS256",)
    assert s.jwt_public_key_file == key_file
    assert s.jwt_secret is None
    assert not (data_dir / "jwt-secret").exists()


def test_key_file_alone_defaults_to_public_key_algorithms(data_dir, key_file):
    s = Settings.from_env(env(data_dir, CREDIT_JWT_PUBLIC_KEY_FILE=str(key_file)))
    assert set(s.jwt_algorithms) == {"RS256", "ES256"}
    assert s.jwt_secret is None


def test_jwks_url_alone_is_accepted_for_public_key_algorithms(data_dir):
    s = Settings.from_env(env(data_dir, CREDIT_JWT_JWKS_URL="https://idp.example/jwks.json"))
    assert s.jwt_jwks_url == "https://idp.example/jwks.json"
    assert "HS256" not in s.jwt_algorithms
    assert not (data_dir / "jwt-secret").exists()


# --- local secret -------------------------------------------------------------------------------


def test_local_secret_is_created_under_the_data_dir_when_nothing_is_configured(data_dir):
    assert not data_dir.exists()
    s = Settings.from_env(env(data_dir))
    path = data_dir / "jwt-secret"
    assert path.is_file()
    assert s.jwt_secret == path.read_text().strip()
    assert len(s.jwt_secret) >= 32
    assert s.jwt_algorithms == ("HS256",)
    assert s.data_dir == data_dir


def test_local_secret_file_is_private_to_its_owner(data_dir):
    Settings.from_env(env(data_dir))
    mode = stat.S_IMODE((data_dir / "jwt-secret").stat().st_mode)
    assert mode & 0o077 == 0, oct(mode)


def test_local_secret_is_reused_on_the_next_start(data_dir):
    first = Settings.from_env(env(data_dir))
    second = Settings.from_env(env(data_dir))
    assert first.jwt_secret == second.jwt_secret
    assert first.audit_key == second.audit_key
    assert sorted(p.name for p in data_dir.iterdir()) == ["audit-key", "jwt-secret"]


def test_audit_key_from_the_environment_wins_and_must_be_long(data_dir):
    s = Settings.from_env({**env(data_dir), "CREDIT_AUDIT_KEY": "a" * 40})
    assert s.audit_key == b"a" * 40
    assert not (data_dir / "audit-key").exists()
    with pytest.raises(ConfigError, match="CREDIT_AUDIT_KEY"):
        Settings.from_env({**env(data_dir), "CREDIT_AUDIT_KEY": "short"})


def test_local_secrets_differ_between_data_dirs(tmp_path):
    a = Settings.from_env(env(tmp_path / "a"))
    b = Settings.from_env(env(tmp_path / "b"))
    assert a.jwt_secret != b.jwt_secret


def test_an_explicit_secret_wins_over_and_does_not_create_the_local_one(data_dir):
    s = Settings.from_env(env(data_dir, CREDIT_JWT_SECRET=SECRET))
    assert s.jwt_secret == SECRET
    assert not (data_dir / "jwt-secret").exists()


def test_an_empty_secret_variable_counts_as_unset(data_dir):
    s = Settings.from_env(env(data_dir, CREDIT_JWT_SECRET=""))
    assert s.jwt_secret == (data_dir / "jwt-secret").read_text().strip()


# --- other values -------------------------------------------------------------------------------


def test_issuer_audience_and_database_url_come_from_the_environment(data_dir):
    s = Settings.from_env(
        env(data_dir, CREDIT_JWT_SECRET=SECRET, CREDIT_JWT_ISSUER="idp", CREDIT_JWT_AUDIENCE="credit",
            DATABASE_URL="postgresql://db/credit", CREDIT_TRUSTED_PROXIES=" 10.0.0.1, ,10.0.0.2 ")
    )
    assert (s.jwt_issuer, s.jwt_audience) == ("idp", "credit")
    assert s.database_url == "postgresql://db/credit"
    assert s.trusted_proxies == frozenset({"10.0.0.1", "10.0.0.2"})


def test_defaults_when_only_a_secret_is_given(data_dir):
    s = Settings.from_env(env(data_dir, CREDIT_JWT_SECRET=SECRET, DATABASE_URL=""))
    assert s.database_url is None
    assert (s.jwt_issuer, s.jwt_audience) == ("credit-platform", "credit-platform")
    assert s.trusted_proxies == frozenset()


def test_check_refuses_a_settings_object_built_by_hand_with_mixed_algorithms(tmp_path, key_file):
    s = Settings(
        database_url=None, data_dir=tmp_path, jwt_algorithms=("HS256", "RS256"), jwt_secret=SECRET,
        jwt_public_key_file=key_file, jwt_jwks_url=None, jwt_issuer="i", jwt_audience="a",
    )
    with pytest.raises(ConfigError, match="mixes"):
        s.check()




def test_an_empty_local_secret_file_is_regenerated_or_reported_as_such(data_dir):
    data_dir.mkdir(parents=True)
    (data_dir / "jwt-secret").write_text("")
    try:
        s = Settings.from_env(env(data_dir))
    except ConfigError as e:
        assert "jwt-secret" in str(e) or "CREDIT_JWT_SECRET" in str(e), str(e)
    else:
        assert s.jwt_algorithms == ("HS256",) and s.jwt_secret and len(s.jwt_secret) >= 32
