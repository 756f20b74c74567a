"""GET /audit/export: the trail for a range, streamed as CSV or NDJSON (auditors only)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from ..errors import DomainError, Forbidden
from .repository import LogFilter
from .service import export_log, parse_bound

_TEXT_PARAMS = {
    "subject": "subject_key", "org": "org_code", "user": "user_id", "role": "role",
    "purpose": "purpose", "outcome": "outcome", "authorization": "authorization_id", "kind": "kind",
}
_MEDIA = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}


def _filter(request: Request) -> LogFilter:
    values: dict = {field: request.query_params.get(p) or None for p, field in _TEXT_PARAMS.items()}
    for p in ("since", "until"):
        raw = request.query_params.get(p)
        if raw:
            values[p] = parse_bound(p, raw)
    return LogFilter(**values)


def _error(e: DomainError) -> Response:
    status = 403 if isinstance(e, Forbidden) else 400
    return JSONResponse({"error": e.code, "message": e.message, "field": e.field}, status_code=status)


class ExportEndpoint:
    def __init__(self, get_state):
        self.get_state = get_state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        state = self.get_state()
        fmt = request.query_params.get("format", "ndjson")
        try:
            lines = await export_log(
                state.pool,
                scope["state"]["principal"],
                _filter(request),
                fmt,
                request=scope["state"]["request_info"],
            )
        except DomainError as e:
            await _error(e)(scope, receive, send)
            return
        response = StreamingResponse(
            lines,
            media_type=_MEDIA[fmt],
            headers={"Content-Disposition": f'attachment; filename="credit-trail.{fmt}"'},
        )
        await response(scope, receive, send)
