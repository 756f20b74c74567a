"""What lives as long as the app: pool, policy, catalog, token verifier, working-day calendar."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from .auth.policy import Policy
from .auth.tokens import TokenVerifier
from .catalog import Catalog
from .config import Settings
from .disclosure.service import Disclosure
from .reports.service import Reports
from .reports.signing import load_keys
from .workdays import WorkCalendar


@dataclass
class AppState:
    settings: Settings
    pool: asyncpg.Pool
    policy: Policy
    catalog: Catalog
    verifier: TokenVerifier
    calendar: WorkCalendar  # replaced whole when a year is loaded (workdays.service)
    # what time it is for the rights workflows' dates (api/rights); tests set a fixed clock
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)

    @property
    def disclosure(self) -> Disclosure:
        return self._disclosure

    @property
    def reports(self) -> Reports:
        return self._reports

    def __post_init__(self) -> None:
        self._disclosure = Disclosure(
            pool=self.pool,
            policy=self.policy,
            catalog=self.catalog,
            batch_max=self.settings.batch_max_subjects,
            legacy_uscc=self.settings.legacy_uscc,
        )
        s = self.settings
        self._reports = Reports(
            disclosure=self._disclosure,
            keys=load_keys(s.data_dir, signing_key_file=s.report_signing_key_file,
                           pdf_key_file=s.report_pdf_key_file, pdf_cert_file=s.report_pdf_cert_file),
            public_url=s.public_url,
        )
