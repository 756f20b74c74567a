"""GET /audit/export: the trail for a range, streamed as CSV or NDJSON (auditors only).

`bom=1` starts a CSV export with a UTF-8 byte-order mark: Excel on Chinese Windows reads a CSV
without one as GBK and garbles every Chinese cell. Off by default, so scripts reading the
header as before are unaffected."""

from __future__ import annotations

import asyncio
import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from ..config import Limits
from ..errors import DomainError, Forbidden, InvalidInput
from ..guard.context import current
from ..guard.errors import Busy
from ..guard.streaming import send_stream
from ..i18n import _
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


def _bom(request: Request) -> bool:
    raw = request.query_params.get("bom", "0").lower()
    if raw not in ("0", "1", "true", "false"):
        raise InvalidInput(_("bom is 1 (start the CSV with a byte-order mark, for Excel) or 0"),
                           field="bom", rule="bom")
    return raw in ("1", "true")


async def _with_bom(lines):
    first = True
    async for line in lines:
        yield "\ufeff" + line if first else line
        first = False


def _error(e: DomainError, retry_after: int) -> Response:
    status = 403 if isinstance(e, Forbidden) else 503 if isinstance(e, Busy) else 400
    headers = {"Retry-After": str(retry_after)} if isinstance(e, Busy) else None
    return JSONResponse({"error": e.code, "message": e.message, "field": e.field},
                        status_code=status, headers=headers)


def _error_line(fmt: str):
    def line(reason: str, lines: int) -> str:
        rows = max(lines - 1, 0) if fmt == "csv" else lines  # CSV: the header is a line too
        if fmt == "csv":
            return f"# export failed after {rows} rows: {reason}; run it again\n"
        return json.dumps({"error": f"{reason}; run it again", "rows": rows}, ensure_ascii=False) + "\n"

    return line


class ExportEndpoint:
    """Exports read through their own small pool (`get_pool`), never the one lookups and the
    sealer use, and are sent under a minimum read rate and a time limit (api/guard/streaming)."""

    def __init__(self, get_state, get_pool=None, stop: asyncio.Event | None = None):
        self.get_state = get_state
        self.get_pool = get_pool or (lambda: self.get_state().pool)
        self.stop = stop or asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        state = self.get_state()
        fmt = request.query_params.get("format", "ndjson")
        limits: Limits = state.settings.limits
        try:
            bom = _bom(request)
            lines = await export_log(
                self.get_pool(),
                scope["state"]["principal"],
                _filter(request),
                fmt,
                request=scope["state"]["request_info"],
            )
        except DomainError as e:
            await _error(e, limits.retry_after_seconds)(scope, receive, send)
            return
        if bom and fmt == "csv":
            lines = _with_bom(lines)
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", _MEDIA[fmt].encode()),
            (b"content-disposition", f'attachment; filename="credit-trail.{fmt}"'.encode()),
        ]})
        await send_stream(
            send, lines, min_rate=limits.export_min_rate, window=limits.export_rate_window,
            time_limit=limits.export_max_seconds, stop=self.stop, gone=current().gone if current() else None, error_line=_error_line(fmt),
        )
