"""Objections to a list entry itself over GraphQL (Art. 25, 37-38; api/rights/entry_objections.py).
The case is a RightsCase of kind ENTRY_OBJECTION: read with rightsCase/rightsCases, closed with
informSubject like any objection."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.errors import DomainError
from api.rights import entry_objections

from .context import Context
from .mutations import UserError
from .rights import _env, _step
from .rights_types import ObjectionGround, RightsCase, RightsCaseResult


@strawberry.input
class EntryObjectionInput:
    entry_id: strawberry.ID
    ground: ObjectionGround
    evidence_refs: list[str] = strawberry.field(description="References of the supporting evidence.")
    statement: str | None = None


@strawberry.type
class EntryObjectionMutation:
    @strawberry.mutation(description="Art. 37 for a list entry: the subject (real-name verified) objects "
                         "to one of its red or black list entries; the entry is shown disputed while the "
                         "case is open and the provider that listed it answers (15 working days).")
    async def file_entry_objection(self, info: Info[Context, None], input: EntryObjectionInput) -> RightsCaseResult:
        ctx, env = info.context, _env(info)
        try:
            case = await entry_objections.file_entry_objection(
                env, ctx.principal, ctx.request, entry_id=str(input.entry_id),
                ground=input.ground.value, evidence_refs=list(input.evidence_refs),
                statement=input.statement,
            )
        except DomainError as e:
            return UserError.of(e)
        return RightsCase.of(case, env.today())

    @strawberry.mutation(description="Art. 38 ¶3, the provider that listed the entry: answer within 15 "
                         "working days. removeEntry true removes the entry (state removed, with the "
                         "reason); false keeps it. The credit office then informs the subject (7 days).")
    async def answer_entry_objection(
        self, info: Info[Context, None], case_id: strawberry.ID, remove_entry: bool, reason: str,
        note: str | None = None,
    ) -> RightsCaseResult:
        return await _step(info, case_id, "answer_entry",
                           result="removed" if remove_entry else "stands", reason=reason, note=note)
