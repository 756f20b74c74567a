"""Writing one prepared batch, inside the transaction the Collector opened (service.py): its
records staged and classified against the stored ones, merged as new records or new versions
(Art. 16, every version kept), registrations applied (Art. 35), and its line in the collection
log (Art. 33). Raises `Conflict` when another submission got in between."""

from __future__ import annotations

import datetime as dt

import asyncpg

from ..audit.trail import record_act
from ..auth.principal import Principal, RequestInfo
from ..catalog import Catalog
from ..i18n import _
from . import repository as repo
from .batch import CREATED, REJECTED, UNCHANGED, UPDATED, Conflict, Outcome, Prepared
from .record import Rejection, ValidRecord
from .subjects import apply_registrations
from .versions import severity_dropped


class BatchWriter:
    """The writing half of `Collector` (a mixin): reads the submission's attributes below."""

    provider_org: str
    principal: Principal
    request: RequestInfo | None
    catalog: Catalog
    channel: str
    operation: str
    declared_client: str | None

    async def _write(self, conn: asyncpg.Connection, batch: Prepared) -> list[Outcome]:
        results: dict[int, Outcome] = {
            line: Outcome(line, ref, REJECTED, rejection=batch.rejected[line])
            for line, ref in batch.lines
            if line in batch.rejected
        }
        # a reference given twice in a batch: the later one is written after the earlier one
        segments: list[list[tuple[int, ValidRecord, tuple[dt.date, bool] | None]]] = [[]]
        seen: set[str] = set()
        for entry in batch.valid:
            if entry[1].source_ref in seen:
                segments.append([])
                seen = set()
            seen.add(entry[1].source_ref)
            segments[-1].append(entry)
        for n, segment in enumerate(s for s in segments if s):
            for o in await self._write_segment(conn, segment, batch.received_on, first=n == 0):
                results[o.line] = o
        return [results[line] for line, _ in batch.lines]

    async def _write_segment(self, conn, segment, received_on: dt.date, *, first: bool) -> list[Outcome]:
        rows = []
        for line, v, due in segment:
            due_on, provisional = due if due else (None, None)
            rows.append((
                line, v.subject_key, v.key_type, v.subject_type, v.subject_name, v.item.code,
                v.source_ref, v.decided_on, v.data_json, v.consent_ref, v.change_reason,
                v.item.year, due_on, provisional,
                None if due_on is None else received_on > due_on,
            ))
        await repo.stage(conn, rows, first=first)
        await repo.upsert_subjects(conn)
        by_line = {line: (v, due) for line, v, due in segment}
        out: list[Outcome] = []
        new_lines: list[int] = []
        changes: list[tuple[int, str, int]] = []
        unsure: list[tuple[int, str, int]] = []
        existing = {r["idx"]: r for r in await repo.classify(conn, self.provider_org)}
        for line, v, _due in segment:
            r = existing.get(line)
            if r is None:
                new_lines.append(line)
                continue
            reject = None
            if r["known_type"] != v.subject_type:
                reject = Rejection(
                    "subjectType", "subject_type_known",
                    _("the platform knows {key} as a {known}, not a {type}", key=v.subject_key,
                      known=r["known_type"], type=v.subject_type),
                )
            elif r["id"] is None:
                new_lines.append(line)
                continue
            elif r["status"] == "deleted":
                reject = Rejection(
                    "sourceRef", "record_deleted",
                    _("the record {ref} was deleted and is not collected again under this reference",
                      ref=v.source_ref),
                )
            elif r["identity_changed"]:
                reject = Rejection(
                    "sourceRef", "identity_change",
                    _("{ref} is stored for another subject or item; a reference stays with its "
                      "subject and item — use a new reference", ref=v.source_ref),
                )
            elif r["same"]:
                out.append(Outcome(line, v.source_ref, UNCHANGED, str(r["id"]), r["version"]))
                continue
            elif not v.change_reason:
                reject = Rejection(
                    "changeReason", "reason_required",
                    _("{ref} is stored with different content; a stored record is corrected only "
                      "with a reason (changeReason), and its earlier version is kept (Art. 16)",
                      ref=v.source_ref),
                )
            elif v.item.severity is not None:
                unsure.append((line, r["id"], r["version"]))  # may leave out its severity
                continue
            else:
                changes.append((line, r["id"], r["version"]))
                continue
            out.append(Outcome(line, v.source_ref, REJECTED, rejection=reject))
        for line, record_id, version, reject in await _severity_kept(conn, unsure, by_line):
            if reject is None:
                changes.append((line, record_id, version))
            else:
                out.append(Outcome(line, by_line[line][0].source_ref, REJECTED, rejection=reject))
        user = (self.principal.user_id, self.principal.name)
        if new_lines:
            ids = await repo.insert_new(
                conn, provider_org=self.provider_org, user_id=user[0], user_name=user[1],
                channel=self.channel, received_on=received_on,
                indexes=None if len(new_lines) == len(segment) else new_lines,
            )
            if len(ids) != len(new_lines):
                raise Conflict("a record of this batch was stored meanwhile")
            for line in new_lines:
                v, due = by_line[line]
                out.append(_stored(line, v, CREATED, ids[v.source_ref], 1, due, received_on))
        if changes:
            updated = await repo.update_changed(
                conn, user_id=user[0], user_name=user[1], channel=self.channel, changes=changes
            )
            if len(updated) != len(changes):
                raise Conflict("a record of this batch was corrected meanwhile")
            for u in updated:
                v, _due = by_line[u["idx"]]
                out.append(Outcome(
                    u["idx"], v.source_ref, UPDATED, str(u["id"]), u["version"],
                    due_on=u["due_on"], provisional=u["due_provisional"], late=u["late"],
                ))
        registrations = [
            (v, o.record_id) for o in out if o.status in (CREATED, UPDATED)
            for v in (by_line[o.line][0],) if v.item.category == "registration"
        ]
        if registrations:
            await apply_registrations(conn, self.principal, self.request, self.catalog, registrations)
        return out

    async def _log(self, conn: asyncpg.Connection, outcomes: list[Outcome], number: int) -> None:
        """Art. 33: who submitted what, when, by which path, and each record's outcome."""
        by_status: dict[str, list] = {CREATED: [], UPDATED: [], UNCHANGED: [], REJECTED: []}
        for o in outcomes:
            if o.status == REJECTED:
                by_status[REJECTED].append(
                    {"line": o.line, "ref": o.source_ref, "field": o.rejection.field, "rule": o.rejection.rule}
                )
            else:
                by_status[o.status].append(o.source_ref)
        await record_act(
            conn,
            self.principal,
            kind="collection",
            operation=self.operation,
            details={
                "provider": self.provider_org,
                "channel": self.channel,
                **({"declaredClient": self.declared_client} if self.declared_client else {}),
                "batch": number,
                "lines": [outcomes[0].line, outcomes[-1].line] if outcomes else [],
                "counts": {s: len(v) for s, v in by_status.items()},
                "outcomes": by_status,
            },
            request=self.request,
        )


def _stored(line, v: ValidRecord, status, record_id, version, due, received_on) -> Outcome:
    due_on, provisional = due if due else (None, False)
    return Outcome(
        line, v.source_ref, status, record_id, version, due_on=due_on, provisional=provisional,
        late=None if due_on is None else received_on > due_on,
    )


async def _severity_kept(conn: asyncpg.Connection, changes: list[tuple[int, str, int]],
                         by_line: dict) -> list[tuple[int, str, int, Rejection | None]]:
    """Corrections of penalties with a severity policy: each refused if it leaves out the
    severity the stored version states (api/ingestion/versions.py `severity_dropped`)."""
    if not changes:
        return []
    stored = await repo.stored_data(conn, [str(c[1]) for c in changes])
    return [(line, record_id, version,
             severity_dropped(by_line[line][0].item, stored.get(str(record_id)), by_line[line][0].data_json))
            for line, record_id, version in changes]
