"""Reports over plain HTTP: the download (`GET /reports/{number}.pdf`, `.json` and the JSON's
detached signature `.json.sig`), the platform's public key, and the public check page that the
report's QR code opens (Chinese, no external assets)."""

from __future__ import annotations

import base64
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, request_response

from ..disclosure.rules import CHINA_TIME
from ..errors import DomainError
from .service import ReportCheck, check_report, read_report

MEDIA = {"pdf": "application/pdf", "json": "application/json", "json.sig": "text/plain; charset=utf-8"}


def _error(e: DomainError, status: int) -> JSONResponse:
    return JSONResponse({"error": e.code, "message": e.message, "field": e.field, "rule": e.rule},
                        status_code=status)


def routes(get_state, gate) -> list[Route]:
    async def download(request: Request) -> Response:
        name = request.path_params["name"]
        number, _, form = name.partition(".")
        if form not in MEDIA:
            return PlainTextResponse("not found", status_code=404)
        state = get_state()
        try:
            row, body = await read_report(state.reports, request.scope["state"]["principal"],
                                          request.scope["state"]["request_info"], number,
                                          "pdf" if form == "pdf" else "json")
        except DomainError as e:
            return _error(e, 404 if e.code == "NOT_FOUND" else 400)
        digest = bytes(row["document_sha256"]).hex()
        headers = {"X-Report-Digest": digest, "X-Report-Key-Id": row["key_id"],
                   "Cache-Control": "no-store"}
        if form == "json.sig":
            return Response(base64.b64encode(bytes(row["signature"])) + b"\n", media_type=MEDIA[form], headers=headers)
        headers["Content-Disposition"] = f'attachment; filename="{number}.{form}"'
        return Response(body, media_type=MEDIA[form], headers=headers)

    async def signing_key(request: Request) -> Response:
        keys = get_state().reports.keys
        return Response(keys.public_pem, media_type="application/x-pem-file",
                        headers={"X-Report-Key-Id": keys.key_id})

    async def check_page(request: Request) -> Response:
        number, digest = request.query_params.get("number", ""), request.query_params.get("digest", "")
        result: ReportCheck | None = None
        problem = ""
        if number or digest:
            try:
                result = await check_report(get_state().reports, request.scope["state"]["request_info"],
                                            number, digest)
            except DomainError as e:
                problem = e.message
        return HTMLResponse(_page(number, digest, result, problem),
                            headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"})

    return [
        Route("/reports/check", gate(request_response(check_page)), methods=["GET"]),
        Route("/reports/signing-key", signing_key, methods=["GET"]),
        Route("/reports/{name}", gate(request_response(download)), methods=["GET"]),
    ]


def _page(number: str, digest: str, result: ReportCheck | None, problem: str) -> str:
    if problem:
        verdict = f'<p class="bad">{escape(problem)}</p>'
    elif result is None:
        verdict = ""
    elif not result.genuine:
        verdict = '<p class="bad">核验未通过：没有与该编号和摘要一致的报告。报告可能是伪造或被改动的。</p>'
    else:
        issued = result.issued_at.astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M")
        changed = ("信用主体的信息在报告出具后<b>已有变更</b>，请以最新查询结果为准。" if result.subject_data_changed
                   else "报告出具后信用主体的信息未发生变更。")
        verdict = f'<p class="good">核验通过：本报告由平台于 {issued} 出具，内容未被改动。</p><p>{changed}</p>'
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>信用报告核验</title><meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}}
input{{width:100%;padding:.4rem;margin:.2rem 0 .8rem;font-family:monospace}}
.good{{color:#14652f}}.bad{{color:#a11}}</style></head><body>
<h1>公共信用信息报告核验</h1>
<form method="get" action="/reports/check">
<label>报告编号<input name="number" value="{escape(number)}" maxlength="18"></label>
<label>报告摘要（SHA-256）<input name="digest" value="{escape(digest)}" maxlength="64"></label>
<button type="submit">核验</button></form>{verdict}
<p><small>核验只回答报告真伪及出具后信息是否变更，不显示报告内容。</small></p></body></html>"""
