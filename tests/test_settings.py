"""Configuration as `credit` reads it (api/environment.py, api/deployment.py): each bad value is
one line naming the variable and the expected form with exit code 2 and no traceback; unknown
`CREDIT_*` names are warned about with the nearest known one; deployment mode refuses each
development convenience on its own line; the README's table is the model's."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from api.config import ConfigError, Settings
from api.deployment import DeploymentRefused
from api.environment import known_names, markdown_table, unknown_variables
from tests.conftest import TEST_AUDIT_KEY, TEST_SECRET

ROOT = Path(__file__).resolve().parent.parent
from api import demo

CO, DO = demo.HOUSING, demo.MARKET  # valid codes other than the demo offices


def credit(*args: str, env: dict[str, str], data_dir: Path) -> subprocess.CompletedProcess:
    """`credit ...` as a process, with only the given CREDIT_* variables."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_") and k != "DATABASE_URL"}
    full.update(CREDIT_DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=ROOT, env=full,
                          capture_output=True, text=True, timeout=120)


def deployment_env(dsn: str, manifest: Path) -> dict[str, str]:
    from api.db_login import app_login_dsn

    return {"CREDIT_MODE": "deployment", "DATABASE_URL": dsn, "CREDIT_APP_DATABASE_URL": app_login_dsn(dsn),
            "CREDIT_JWT_SECRET": TEST_SECRET, "CREDIT_AUDIT_KEY": TEST_AUDIT_KEY,
            "CREDIT_OFFICE_ORG": CO, "CREDIT_DATA_OFFICE_ORG": DO,
            "CREDIT_PUBLIC_URL": "https://credit.example.cn", "CREDIT_PERSISTED_OPERATIONS": str(manifest)}


MANIFEST = ROOT / "operations" / "manifest.json"


@pytest.mark.parametrize("name, value, expected", [
    ("CREDIT_POOL_MAX_SIZE", "ten", "whole number from 2 to 500"),
    ("CREDIT_POOL_MAX_SIZE", "0", "whole number from 2 to 500"),
    ("CREDIT_MAX_IN_FLIGHT", "1.5", "whole number >= 1"),
    ("CREDIT_MODE", "production", "development or deployment"),
    ("CREDIT_GRAPHQL_INTROSPECTION", "maybe", "on or off"),
    ("CREDIT_CORS_ORIGINS", "https://portal.example.cn/app", "origins"),
    ("CREDIT_OFFICE_ORG", "91130900MA0CRD2T0X", "unified social credit code"),
    ("CREDIT_TRUSTED_PROXIES", "10.0.0.1,proxy", "addresses or networks"),
    ("DATABASE_URL", "mysql://db/credit", "postgresql://"),
])
def test_a_bad_value_is_one_line_naming_variable_and_form_with_exit_2(tmp_path, name, value, expected):
    r = credit("migrate", env={name: value}, data_dir=tmp_path)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert lines[0].startswith(f"credit: {name}=")
    assert expected in lines[0]


def test_a_secret_value_is_named_but_never_echoed(tmp_path):
    r = credit("migrate", env={"CREDIT_JWT_SECRET": "tooshort-but-secret"}, data_dir=tmp_path)
    assert r.returncode == 2
    assert "CREDIT_JWT_SECRET" in r.stderr and "tooshort-but-secret" not in r.stderr


def test_every_cli_command_reads_the_configuration_the_same_way(tmp_path):
    for args in (["token", "--role", "auditor"], ["audit", "verify"], ["policy", "check"],
                 ["config", "check"], ["operations", "check"]):
        r = credit(*args, env={"CREDIT_POOL_MAX_SIZE": "lots"}, data_dir=tmp_path)
        assert r.returncode == 2 and "Traceback" not in r.stderr, (args, r.stderr)
        assert r.stderr.strip().splitlines() == [r.stderr.strip()], (args, r.stderr)
        assert "CREDIT_POOL_MAX_SIZE='lots'" in r.stderr


def test_an_unreachable_database_is_one_line_with_the_password_hidden(tmp_path):
    r = credit("migrate", env={"DATABASE_URL": "postgresql://owner:hunter2@127.0.0.1:18399/credit"},
               data_dir=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    [line] = r.stderr.strip().splitlines()
    assert line.startswith("credit: DATABASE_URL=postgresql://owner:***@127.0.0.1:18399/credit: cannot connect")
    assert "hunter2" not in r.stderr


def test_an_unknown_credit_variable_is_warned_about_with_the_nearest_known_name(tmp_path):
    r = credit("config", "check", env={"CREDIT_POOL_MAX_SIZ": "20", "CREDIT_OFICE_ORG": CO},
               data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    assert ("credit: warning: CREDIT_OFICE_ORG is not a known variable and is ignored; "
            "did you mean CREDIT_OFFICE_ORG?") in r.stderr
    assert "CREDIT_POOL_MAX_SIZ is not a known variable" in r.stderr
    assert "did you mean CREDIT_POOL_MAX_SIZE?" in r.stderr


def test_the_asgi_entry_point_warns_about_an_unknown_variable_too(tmp_path):
    """`uvicorn api.asgi:app` started by hand (no CLI) logs the same warning."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_")}
    env.update(CREDIT_DATA_DIR=str(tmp_path), PYTHONPATH=str(ROOT), CREDIT_JWT_SECRET=TEST_SECRET,
               CREDIT_AUDIT_KEY=TEST_AUDIT_KEY, CREDIT_LOG_FORMAT="text",
               DATABASE_URL="postgresql://nobody@127.0.0.1:1/none", CREDIT_POOL_MAX_SIZ="20")
    r = subprocess.run([sys.executable, "-c", "import api.asgi"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert ("CREDIT_POOL_MAX_SIZ is not a known variable and is ignored; "
            "did you mean CREDIT_POOL_MAX_SIZE?") in r.stderr
    assert "WARNING" in r.stderr or "warning" in r.stderr


def test_known_variables_raise_no_warning_and_nothing_near_gets_no_guess():
    assert unknown_variables({n: "x" for n in known_names()} | {"PATH": "/bin"}) == []
    [warning] = unknown_variables({"CREDIT_QQQQ": "1"})
    assert "did you mean" not in warning


def test_the_readme_table_is_the_settings_model():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- configuration table: credit config table -->\n(.*?)<!-- end -->", readme, re.S)
    assert block is not None, "README has no generated configuration table"
    assert block.group(1) == markdown_table()
    rows = [line.split("|")[1].strip(" `") for line in markdown_table().splitlines()[2:]]
    assert rows == known_names() or sorted(rows) == sorted(known_names())
    assert "CREDIT_POOL_MAX_SIZE" in rows and "CREDIT_CORS_ORIGINS" in rows


# --- deployment mode ----------------------------------------------------------------------------


def test_deployment_mode_refuses_each_development_convenience_on_its_own_line(tmp_path):
    r = credit("serve", env={"CREDIT_MODE": "deployment", "CREDIT_GRAPHQL_INTROSPECTION": "on",
                             "CREDIT_PERSISTED_OPERATIONS": str(tmp_path / "none.json")},
               data_dir=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert all(line.startswith("credit: deployment mode: ") for line in lines), lines
    for needed in ("CREDIT_JWT_JWKS_URL", "CREDIT_AUDIT_KEY", "DATABASE_URL", "CREDIT_APP_DATABASE_URL",
                   "CREDIT_OFFICE_ORG", "CREDIT_DATA_OFFICE_ORG", "CREDIT_GRAPHQL_INTROSPECTION",
                   "CREDIT_PUBLIC_URL", "CREDIT_PERSISTED_OPERATIONS"):
        assert any(re.search(rf"\b{needed}\b", line) for line in lines), (needed, lines)
    assert len(lines) == 9
    assert not (tmp_path / "jwt-secret").exists() and not (tmp_path / "audit-key").exists()


def test_deployment_mode_refuses_demo_data_and_local_tokens(tmp_path, dsn):
    env = deployment_env(dsn, MANIFEST)
    for args, what in ((["serve", "--demo"], "--demo"), (["seed-demo"], "seed-demo"),
                       (["token", "--role", "auditor"], "credit token")):
        r = credit(*args, env=env, data_dir=tmp_path)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.strip().splitlines() == [
            f"credit: deployment mode: {r.stderr.split(': ', 2)[2].strip()}"]
        assert what in r.stderr and "development" in r.stderr


def test_a_complete_deployment_configuration_is_accepted_and_says_its_mode(tmp_path, dsn):
    r = credit("config", "check", env=deployment_env(dsn, MANIFEST), data_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "configuration ok (deployment mode)"
    s = Settings.from_env({**deployment_env(dsn, MANIFEST), "CREDIT_DATA_DIR": str(tmp_path)})
    assert s.mode == "deployment" and not s.graphql_introspection


def test_deployment_refusals_are_collected_not_stopped_at_the_first(tmp_path):
    with pytest.raises(DeploymentRefused) as e:
        Settings.from_env({"CREDIT_MODE": "deployment", "CREDIT_DATA_DIR": str(tmp_path),
                           "CREDIT_CORS_ORIGINS": "*"})
    assert any("not *" in p for p in e.value.problems) and len(e.value.problems) >= 8


def test_offices_are_required_in_deployment_mode_and_default_to_the_demo_in_development():
    from api.rights.offices import Offices

    assert Offices.from_env({}).credit_office == demo.CREDIT_OFFICE
    assert Offices.from_env({"CREDIT_MODE": "deployment", "CREDIT_OFFICE_ORG": CO,
                             "CREDIT_DATA_OFFICE_ORG": DO}) == Offices(CO, DO)
    with pytest.raises(ConfigError, match="CREDIT_OFFICE_ORG"):
        Offices.from_env({"CREDIT_MODE": "deployment", "CREDIT_DATA_OFFICE_ORG": DO})


def test_development_mode_is_the_default(tmp_path):
    s = Settings.from_env({"CREDIT_DATA_DIR": str(tmp_path)})
    assert s.mode == "development" and s.cors_origins == ()


def test_cors_origins_are_compared_as_browsers_send_them(tmp_path):
    s = Settings.from_env({"CREDIT_DATA_DIR": str(tmp_path), "CREDIT_CORS_ORIGINS": "HTTPS://Portal.Example.CN"})
    assert s.cors_origins == ("https://portal.example.cn",)
