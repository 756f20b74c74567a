"""Persisted operations at the GraphQL edge (api/operations.py has the rules): before parsing,
a request naming a document by hash gets its document; a refusal without a document is answered
here, one with a document is left to check_request (schema/validation.py), which logs it for every
subject the document names before answering (as every refusal of a request naming subjects is)."""

from __future__ import annotations

from strawberry.types import ExecutionContext

from .errors import to_graphql_error


def resolve_persisted(ec: ExecutionContext) -> None:
    """First thing of an operation (schema/extension.py)."""
    ctx = ec.context
    operations = getattr(ctx, "operations", None)
    if operations is not None:
        query, refusal = operations.resolve(ec.query, ec.operation_extensions)
        if refusal is not None and query is None:
            raise to_graphql_error(refusal)
        ec.query = query
        ctx.operation_refusal = refusal


def with_persisted_id(data: object) -> dict | None:
    """`{"id": "<sha256>"}` (the manifest's id) as the APQ extension it stands for."""
    if isinstance(data, dict) and isinstance(data.get("id"), str) and "persistedQuery" not in (
        data.get("extensions") or {}
    ):
        return {**(data.get("extensions") or {}),
                "persistedQuery": {"version": 1, "sha256Hash": data["id"]}}
    return None
