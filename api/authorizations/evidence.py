"""The signed document itself (Art. 19): the grantee uploads it, the platform keeps it in
PostgreSQL with the SHA-256 it computes, and the subject, the grantee, the credit office and
auditors read it, each read a query-log row naming the subject.

    POST /authorizations/documents          body: the file (PDF, JPEG or PNG), any content type
        -> 201 {"id", "sha256", "mediaType", "size"}
    GET  /authorizations/{id}/document      -> the file, with its media type

The type is taken from the file's first bytes, never from the client's Content-Type; the body
is read as it arrives and refused (413) as soon as it passes the cap."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Callable

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from ..audit.repository import trail_row, write_rows
from ..auth.principal import Principal, RequestInfo
from ..db import transaction
from ..http_body import drain
from ..i18n import _
from ..rights.offices import Offices
from .common import is_grantee, is_self, write_act

MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


def media_type_of(head: bytes) -> str | None:
    return next((t for magic, t in MAGIC if head.startswith(magic)), None)


def _may_upload(p: Principal) -> bool:
    return bool(p.org_code) and (p.has("credit_service") or p.has("state_organ"))


def may_read(p: Principal, row: asyncpg.Record) -> bool:
    """The subject (verified), the grantee, the credit office, auditors."""
    return (
        is_self(p, row["subject_key"]) or is_grantee(p, row["grantee_org"]) or p.has("auditor")
        or (p.has("credit_office") and p.org_code == Offices.from_env().credit_office)
    )


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


class DocumentUpload:
    def __init__(self, get_state: Callable):
        self.get_state = get_state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.get_state()
        principal: Principal = scope["state"]["principal"]
        info: RequestInfo = scope["state"]["request_info"]
        cap = state.settings.authorizations.document_max_bytes
        if not _may_upload(principal):
            await drain(receive)
            await _error(403, "FORBIDDEN", _("only grantee organisations (credit agencies, state organs) upload authorization documents"))(scope, receive, send)
            return
        body = bytearray()
        digest = hashlib.sha256()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunk = message.get("body", b"")
            if len(body) + len(chunk) > cap:
                await drain(receive)
                await _error(413, "TOO_LARGE", _("file too large: an authorization document is at most {cap} bytes", cap=cap))(scope, receive, send)
                return
            body += chunk
            digest.update(chunk)
            if not message.get("more_body", False):
                break
        media_type = media_type_of(bytes(body[:8]))
        if not body or media_type is None:
            await _error(415, "UNSUPPORTED_TYPE", _("an authorization document is a PDF, JPEG or PNG file (judged by its content)"))(
                scope, receive, send)
            return
        sha = digest.hexdigest()
        async with transaction(state.pool) as conn:
            doc_id = await conn.fetchval(
                "INSERT INTO authorization_documents (sha256, media_type, size, content, "
                "uploaded_org, uploaded_by, uploaded_by_name) VALUES ($1,$2,$3,$4,$5,$6,$7) "
                "RETURNING id", sha, media_type, len(body), bytes(body), principal.org_code,
                principal.user_id, principal.name)
            await write_act(conn, principal, _upload_info(info), operation="authorization.document_upload",
                            subject_key=None, details={"document": str(doc_id), "sha256": sha,
                                                       "media_type": media_type, "size": len(body)})
        await JSONResponse({"id": str(doc_id), "sha256": sha, "mediaType": media_type,
                            "size": len(body)}, status_code=201)(scope, receive, send)


def _upload_info(info: RequestInfo) -> RequestInfo:
    return RequestInfo(info.request_id, info.client_addr, "authorization_upload")


async def read_document(pool: asyncpg.Pool, principal: Principal, request: RequestInfo,
                        authorization_id: str) -> tuple[bytes, str] | None:
    """The document of an authorization, or None (not there, or not for this reader: the same
    answer). Every answer about an existing authorization is a log row naming its subject."""
    try:
        aid = uuid.UUID(authorization_id)
    except ValueError:
        return None
    async with transaction(pool) as conn:
        row = await conn.fetchrow(
            "SELECT a.id, a.subject_key, a.grantee_org, a.document_id, d.content, d.media_type, "
            "d.sha256 FROM authorizations a LEFT JOIN authorization_documents d "
            "ON d.id = a.document_id WHERE a.id = $1", aid)
        if row is None:
            return None
        allowed = may_read(principal, row) and row["content"] is not None
        at = dt.datetime.now(dt.UTC)
        await write_rows(conn, [trail_row(
            principal, request, at, kind="query", operation="authorization.document",
            subject_key=row["subject_key"], outcome="disclosed" if allowed else "refused",
            reason=None if allowed else "not a reader of this authorization's document",
            authorization_ids=[str(row["id"])],
            details={"authorization": str(row["id"]), "document": str(row["document_id"]),
                     "sha256": row["sha256"]},
        )])
    return (bytes(row["content"]), row["media_type"]) if allowed else None


class DocumentRead:
    def __init__(self, get_state: Callable):
        self.get_state = get_state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.get_state()
        request = Request(scope, receive)
        found = await read_document(state.pool, scope["state"]["principal"],
                                    scope["state"]["request_info"], request.path_params["id"])
        if found is None:
            response: Response = _error(404, "NOT_FOUND", _("no authorization document you may read has this id"))
        else:
            content, media_type = found
            response = Response(content, media_type=media_type,
                                headers={"Cache-Control": "no-store",
                                         "X-Content-Type-Options": "nosniff"})
        await response(scope, receive, send)
