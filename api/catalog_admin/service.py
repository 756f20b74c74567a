"""Art. 9: the credit office drafts next year's catalog and publishes it once a year; a change
asked for during a year lands in the next year's catalog. Every act is in the audit trail."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg

from ..audit.trail import record_act
from ..auth.principal import Principal, RequestInfo
from ..catalog import Catalog, CatalogItem, CatalogYear, china_today
from ..db import transaction
from ..errors import Forbidden, InvalidInput, NotFound
from ..i18n import _
from . import repository as repo
from .definition import CatalogDocument, DefinitionError, Provider, parse_item
from .export import dump_yaml

EDITORS = ("credit_office",)
DRAFT_READERS = ("credit_office", "data_office")


def _require_editor(principal: Principal) -> None:
    """Art. 9: the credit office, that is the role and the organisation configured as the
    credit office (a credit_office role held elsewhere does not publish the city's catalog)."""
    from ..rights.offices import Offices

    if not any(principal.has(r) for r in EDITORS):
        raise Forbidden(
            _("the catalog is drafted and published by the credit office (Art. 9)"), rule="credit_office_role"
        )
    if principal.org_code != Offices.from_env().credit_office:
        raise Forbidden(
            _("the catalog is drafted and published by the credit office (Art. 9); your organisation "
            "is not the one configured as the credit office (CREDIT_OFFICE_ORG)"),
            rule="credit_office_org",
        )


def check_editable_year(year: int, existing: CatalogYear | None, today: dt.date) -> None:
    """Art. 9: the catalog in force is not changed during its year. A draft is for a later year;
    the current year only while no catalog of it has been published (the platform's first)."""
    if existing is not None and existing.status == "published":
        raise InvalidInput(
            _("the {year} catalog is published and is not changed during its year; put the change into the {year2} catalog", year=year, year2=max(year, today.year) + 1),
            field="year",
            rule="catalog_published",
        )
    if year < today.year:
        raise InvalidInput(
            _("{year} is past; a change takes effect in the {year2} catalog", year=year, year2=today.year + 1),
            field="year",
            rule="catalog_year_past",
        )
    if year > 2999:  # the catalogs table holds 2000-2999 (found by fuzzing: was an internal error)
        raise InvalidInput(_("{year} is not a catalog year", year=year), field="year", rule="catalog_year_range")


def _definition_error(e: DefinitionError) -> InvalidInput:
    return InvalidInput("; ".join(e.problems), field="item", rule="catalog_definition")


async def _draft_for_edit(conn: asyncpg.Connection, year: int, today: dt.date) -> CatalogYear:
    existing = await repo.get_year(conn, year, lock=True)
    check_editable_year(year, existing, today)
    if existing is None:
        raise NotFound(_("there is no draft {year} catalog; start one with draftCatalog", year=year), field="year", rule="no_draft")
    return existing


async def draft_catalog(
    pool: asyncpg.Pool,
    catalog: Catalog,
    principal: Principal,
    year: int,
    *,
    note: str | None = None,
    request: RequestInfo | None = None,
    today: dt.date | None = None,
) -> CatalogYear:
    """Start the draft of `year`, as a copy of the newest published catalog (or empty)."""
    _require_editor(principal)
    today = today or china_today()
    async with transaction(pool) as conn:
        existing = await repo.get_year(conn, year, lock=True)
        check_editable_year(year, existing, today)
        if existing is not None:
            return existing
        await repo.create_draft(conn, year, note, principal.user_id)
        base = max((y for y in catalog.published_years if y < year), default=None)
        if base is not None:
            await repo.copy_entries(conn, base, year)
        await record_act(
            conn, principal, kind="catalog", operation="draftCatalog",
            details={"year": year, "copied_from": base, "note": note}, request=request,
        )
        return await repo.get_year(conn, year)


async def put_item(
    pool: asyncpg.Pool,
    principal: Principal,
    year: int,
    definition: dict[str, Any],
    *,
    reason: str,
    request: RequestInfo | None = None,
    today: dt.date | None = None,
) -> CatalogItem:
    """Add or change an item of a draft. Art. 9: a department asking for inclusion states why."""
    _require_editor(principal)
    if not (reason or "").strip():
        raise InvalidInput(_("state the reason for the change (Art. 9)"), field="reason", rule="required")
    try:
        item = parse_item(definition)
    except DefinitionError as e:
        raise _definition_error(e) from None
    async with transaction(pool) as conn:
        await _draft_for_edit(conn, year, today or china_today())
        if await repo.missing_organisations(conn, [item.provider_org]):
            raise InvalidInput(
                _("provider unit {provider_org} is not a known organisation; import it with a catalog file", provider_org=item.provider_org),
                field="item.provider", rule="unknown_provider",
            )
        await repo.put_entry(conn, year, item)
        await record_act(
            conn, principal, kind="catalog", operation="putCatalogItem",
            details={"year": year, "code": item.code, "reason": reason.strip()}, request=request,
        )
        return next(i for i in await repo.entries(conn, year) if i.code == item.code)


async def remove_item(
    pool: asyncpg.Pool,
    principal: Principal,
    year: int,
    code: str,
    *,
    reason: str,
    request: RequestInfo | None = None,
    today: dt.date | None = None,
) -> None:
    """Withdraw an item from a draft (Art. 9: with the reason)."""
    _require_editor(principal)
    if not (reason or "").strip():
        raise InvalidInput(_("state the reason for the withdrawal (Art. 9)"), field="reason", rule="required")
    async with transaction(pool) as conn:
        await _draft_for_edit(conn, year, today or china_today())
        if not await repo.delete_entry(conn, year, code):
            raise NotFound(_("the draft {year} catalog has no item {code}", year=year, code=code), field="code", rule="no_item")
        await record_act(
            conn, principal, kind="catalog", operation="removeCatalogItem",
            details={"year": year, "code": code, "reason": reason.strip()}, request=request,
        )


async def import_catalog(
    pool: asyncpg.Pool,
    principal: Principal,
    year: int,
    document: CatalogDocument,
    *,
    note: str | None = None,
    request: RequestInfo | None = None,
    today: dt.date | None = None,
) -> CatalogYear:
    """Replace the draft of `year` (made if missing) with the file's items and providers."""
    _require_editor(principal)
    async with transaction(pool) as conn:
        existing = await repo.get_year(conn, year, lock=True)
        check_editable_year(year, existing, today or china_today())
        await repo.upsert_providers(conn, document.providers)
        missing = await repo.missing_organisations(conn, sorted({i.provider_org for i in document.items}))
        if missing:
            raise InvalidInput(
                _("provider units {missing} are neither known nor listed under providers", missing=', '.join(missing)),
                field="providers", rule="unknown_provider",
            )
        if existing is None:
            await repo.create_draft(conn, year, note, principal.user_id)
        await repo.replace_entries(conn, year, document.items)
        await record_act(
            conn, principal, kind="catalog", operation="importCatalog",
            details={"year": year, "items": [i.code for i in document.items], "note": note},
            request=request,
        )
        return await repo.get_year(conn, year)


async def publish_catalog(
    pool: asyncpg.Pool,
    catalog: Catalog,
    principal: Principal,
    year: int,
    *,
    request: RequestInfo | None = None,
    today: dt.date | None = None,
) -> CatalogYear:
    """Publish a draft (Art. 9: published once a year). From then on it cannot change."""
    _require_editor(principal)
    async with transaction(pool) as conn:
        await _draft_for_edit(conn, year, today or china_today())
        items = await repo.entries(conn, year)
        if not items:
            raise InvalidInput(_("the draft {year} catalog has no items", year=year), field="year", rule="empty_catalog")
        await repo.publish(conn, year, principal.user_id)
        await record_act(
            conn, principal, kind="catalog", operation="publishCatalog",
            details={"year": year, "items": [i.code for i in items]}, request=request,
        )
        published = await repo.get_year(conn, year)
    await catalog.reload()
    return published


async def read_catalog(
    pool: asyncpg.Pool, catalog: Catalog, principal: Principal, year: int | None
) -> tuple[CatalogYear, list[CatalogItem]] | None:
    """A published catalog for anyone (default: the one in force); a draft for the offices."""
    if year is None:
        year = catalog.year_in_force()
        if year is None:
            return None
    async with pool.acquire() as conn:
        found = await repo.get_year(conn, year)
        if found is None:
            return None
        if found.status != "published" and not any(principal.has(r) for r in DRAFT_READERS):
            return None
        return found, await repo.entries(conn, year)


async def catalog_years(pool: asyncpg.Pool, principal: Principal) -> list[CatalogYear]:
    from ..catalog import read_years

    async with pool.acquire() as conn:
        years = await read_years(conn)
    show_drafts = any(principal.has(r) for r in DRAFT_READERS)
    return [y for y in years if y.status == "published" or show_drafts]


async def export_catalog(pool: asyncpg.Pool, year: int) -> str:
    async with pool.acquire() as conn:
        if await repo.get_year(conn, year) is None:
            raise NotFound(_("there is no {year} catalog", year=year), field="year", rule="no_catalog")
        items = await repo.entries(conn, year)
        providers: list[Provider] = await repo.providers_of(conn, year)
    return dump_yaml(year, items, providers)
