"""The two municipal offices the articles name: the credit office (市行政审批局, receives
objections and repair reports, Art. 37-39) and the data office (市大数据办, compares, corrects,
deletes, Art. 38). The city has one of each; their organisation codes come from the
environment, by default the codes the demo and `credit token` use."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from .. import demo
from ..identifiers import validate_uscc


@dataclass(frozen=True)
class Offices:
    credit_office: str
    data_office: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Offices:
        env = os.environ if env is None else env
        offices = cls(
            credit_office=env.get("CREDIT_OFFICE_ORG") or demo.CREDIT_OFFICE,
            data_office=env.get("CREDIT_DATA_OFFICE_ORG") or demo.DATA_OFFICE,
        )
        for code in (offices.credit_office, offices.data_office):
            validate_uscc(code)
        return offices
