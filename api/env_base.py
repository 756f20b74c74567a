"""How a group of environment variables is declared and read: a pydantic-settings model per
group (`CREDIT_` + the field name upper-cased, unless the field names its variable), read from
the process environment or from a mapping given for tests, and a bad value turned into one line
naming the variable, what is wrong and the form expected (README "Configuration")."""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Annotated, Any, TypeVar

from pydantic import BeforeValidator, Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings.sources import EnvSettingsSource
from pydantic_settings.sources.utils import parse_env_vars

PREFIX = "CREDIT_"
_ENV: ContextVar[Mapping[str, str] | None] = ContextVar("credit_env", default=None)
M = TypeVar("M", bound="EnvModel")


class ConfigError(Exception):
    """The environment does not describe a platform that can start safely."""


def _split(raw: object) -> object:
    """Comma-separated in the environment, blanks dropped."""
    if isinstance(raw, str):
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


# a list given as `a,b,c` (not JSON, pydantic-settings' default for lists)
CommaList = Annotated[list[str], NoDecode, BeforeValidator(_split)]


def var(default: Any, form: str, doc: str, *, secret: bool = False, env: str | None = None,
        **constraints: Any) -> Any:
    """A variable: its default, the form a value must have (said in errors and the README
    table), what it means. `secret`: its value is never echoed."""
    return Field(default, description=doc, validation_alias=env,
                 json_schema_extra={"form": form, "secret": secret}, **constraints)


class _MappingSource(EnvSettingsSource):
    """The environment source, reading the mapping `read` was given (else os.environ)."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        env = _ENV.get()
        return parse_env_vars(os.environ if env is None else env, self.case_sensitive,
                              self.env_ignore_empty, self.env_parse_none_str)


class EnvModel(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, env_ignore_empty=True, extra="ignore",
                                      frozen=True, populate_by_name=False)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                   dotenv_settings, file_secret_settings):
        return (init_settings, _MappingSource(settings_cls))


def variable(name: str, info: FieldInfo) -> str:
    alias = info.validation_alias
    return alias if isinstance(alias, str) else PREFIX + name.upper()


def variables(model: type[EnvModel]) -> dict[str, FieldInfo]:
    """Variable name -> its field, in declaration order."""
    return {variable(name, info): info for name, info in model.model_fields.items()}


def read(model: type[M], env: Mapping[str, str] | None = None) -> M:
    """The model's variables from `env` (default: the process environment); a bad value is a
    ConfigError of one line."""
    token = _ENV.set(env)
    try:
        return model()
    except ValidationError as e:
        raise ConfigError(one_line(model, e)) from None
    finally:
        _ENV.reset(token)


def one_line(model: type[EnvModel], error: ValidationError) -> str:
    """The first problem: `VAR='value': what is wrong; expected <form>` (secrets not echoed)."""
    first = error.errors()[0]
    loc = str(first["loc"][0]) if first["loc"] else ""
    # a field's errors are located by its variable when it names one, else by the field name
    by_loc = {n: (variable(n, i), i) for n, i in model.model_fields.items()}
    by_loc.update({name: (name, i) for name, i in variables(model).items()})
    if loc not in by_loc:
        return f"configuration: {first['msg']}"
    name, info = by_loc[loc]
    extra = info.json_schema_extra or {}
    shown = "(hidden)" if extra.get("secret") else repr(first.get("input"))
    message = first["msg"].removeprefix("Value error, ")
    more = f" (and {error.error_count() - 1} more problem(s))" if error.error_count() > 1 else ""
    return f"{name}={shown}: {message}; expected {extra.get('form')}{more}"
