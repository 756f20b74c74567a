"""The two municipal offices the articles name: the credit office (市行政审批局, receives
objections and repair reports, Art. 37-39) and the data office (市大数据办, compares, corrects,
deletes, Art. 38). The city has one of each; their organisation codes come from the
environment (CREDIT_OFFICE_ORG, CREDIT_DATA_OFFICE_ORG); in development mode they default to the
codes the demo and `credit token` use, in deployment mode they are required."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from .. import demo
from ..env_base import ConfigError, read
from ..environment import OfficesEnvironment


@dataclass(frozen=True)
class Offices:
    credit_office: str
    data_office: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Offices:
        env = os.environ if env is None else env
        return _offices(*(env.get(name) for name in VARIABLES))


VARIABLES = ("CREDIT_MODE", "CREDIT_OFFICE_ORG", "CREDIT_DATA_OFFICE_ORG")


@lru_cache(maxsize=16)  # asked per request: read and checked once per distinct value
def _offices(*values: str | None) -> Offices:
    e = read(OfficesEnvironment, {n: v for n, v in zip(VARIABLES, values, strict=True) if v is not None})
    if e.mode == "deployment" and not (e.office_org and e.data_office_org):
        raise ConfigError("deployment mode: CREDIT_OFFICE_ORG and CREDIT_DATA_OFFICE_ORG are required")
    return Offices(credit_office=e.office_org or demo.CREDIT_OFFICE,
                   data_office=e.data_office_org or demo.DATA_OFFICE)
