"""The attacks of issue 8 (bench/abuse.py) and the raw HTTP they speak: a request sent in parts,
slowly if need be, and its answer's status, code and seconds; run_attack repeats a quick one for
the window."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

from lookup_http import HttpConnection

from api import demo
from api.identifiers import build_uscc

ATTACK_TIMEOUT = 30.0


async def exchange(port: int, head: bytes, body_parts=(), *, pause: float = 0.0,
                   timeout: float = ATTACK_TIMEOUT) -> dict:
    """Send a request (body in parts, `pause` between them, stopping once answered); returns
    status, code and seconds until the answer (or what went wrong)."""
    t0 = time.monotonic()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as e:
        return {"status": None, "error": type(e).__name__, "seconds": 0.0}
    raw = bytearray()
    answered = asyncio.Event()

    async def read() -> None:
        try:
            while chunk := await reader.read(1 << 16):
                raw.extend(chunk)
                answered.set()
        except OSError:
            pass
        answered.set()

    reading = asyncio.ensure_future(read())
    try:
        writer.write(head)
        for part in body_parts:
            if answered.is_set():
                break
            writer.write(part)
            await writer.drain()
            if pause:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(answered.wait(), pause)
        await asyncio.wait_for(answered.wait(), max(0.1, timeout - (time.monotonic() - t0)))
        seconds = time.monotonic() - t0
        await asyncio.wait_for(reading, max(1.0, timeout - seconds))  # a streamed answer: to its end
        total = time.monotonic() - t0
    except (TimeoutError, OSError) as e:
        return {"status": None, "error": type(e).__name__, "seconds": round(time.monotonic() - t0, 3)}
    finally:
        writer.close()
        reading.cancel()
    head_part, _, body = bytes(raw).partition(b"\r\n\r\n")
    try:
        status = int(head_part.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return {"status": None, "error": "no answer", "seconds": round(seconds, 3)}
    return {"status": status, "code": _code(body), "seconds": round(seconds, 3), "total_s": round(total, 3)}


def _code(body: bytes) -> str | None:
    text = body.decode("utf-8", "replace")
    for marker in ('"code": "', '"code":"'):
        i = text.find(marker)
        if i >= 0:
            return text[i + len(marker):].split('"', 1)[0]
    return None


def post(path: str, body_len: int | None, ctype: str, token: str | None = None, extra: str = "") -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", f"Content-Type: {ctype}"]
    lines.append(f"Content-Length: {body_len}" if body_len is not None else "Transfer-Encoding: chunked")
    if token:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


def gql(port: int, document: str, variables: dict | None = None, token: str | None = None):
    body = json.dumps({"query": document, "variables": variables or {}}).encode()
    return exchange(port, post("/graphql", len(body), "application/json", token) + body)


def fragment_bomb(n: int) -> str:
    frags = [f"fragment F{i} on Query{{...F{i + 1} ...F{i + 1}}}" for i in range(n)]
    return "query{...F0} " + " ".join(frags) + f" fragment F{n} on Query{{__typename}}"


async def attack_fragments(ctx, n: int) -> dict:
    return await gql(ctx["port"], fragment_bomb(n))


async def attack_quadratic_csv(ctx) -> dict:
    body = b"subjectKey,itemCode,sourceRef,decidedOn\n\"" + b"\n" * 100_000
    return await exchange(ctx["port"], post("/upload/records", len(body), "text/csv", ctx["provider"]) + body)


async def attack_wide_row(ctx) -> dict:
    row = {"subjectKey": demo.COMPANY, "itemCode": "ADM_LICENSING", "sourceRef": "W-1",
           "decidedOn": "2026-11-02", "data": {f"f{i}": "x" for i in range(80_000)}}
    body = json.dumps(row).encode() + b"\n"
    return await exchange(ctx["port"], post("/upload/records", len(body), "application/x-ndjson",
                                            ctx["provider"]) + body)


async def attack_big_body(ctx) -> dict:
    size = 47 << 20
    piece = b" " * (1 << 20)
    return await exchange(ctx["port"], post("/graphql", size, "application/json"), [piece] * 47)


async def attack_big_header(ctx) -> dict:
    head = b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
    return await exchange(ctx["port"], head, [b"a" * (1 << 20)] * 10 + [b"\r\n\r\n"])


async def attack_trickle(ctx) -> dict:
    body = json.dumps({"query": "{ purposes { code } }"}).encode()
    return await exchange(ctx["port"], post("/graphql", len(body), "application/json"),
                          [bytes([b]) for b in body], pause=15.0, timeout=60.0)


async def attack_slow_exports(ctx) -> dict:
    """Ten auditors' exports read at 1 KB/s for the window; the answer is each one's status."""
    port, window = ctx["port"], ctx["window"]

    async def one() -> int | None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=4096)
        except OSError:
            return None
        try:
            writer.write((f"GET /audit/export?format=ndjson HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          f"Authorization: Bearer {ctx['auditor']}\r\n\r\n").encode())
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            deadline = time.monotonic() + window
            while time.monotonic() < deadline and await reader.read(256):
                await asyncio.sleep(0.25)  # the slow reader's pace
            return int(head.split()[1])
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            return None
        finally:
            writer.close()

    t0 = time.monotonic()
    statuses = await asyncio.gather(*(one() for _ in range(10)))
    counts: dict[str, int] = {}
    for s in statuses:
        counts[str(s)] = counts.get(str(s), 0) + 1
    return {"status": counts, "seconds": round(time.monotonic() - t0, 3)}


async def attack_aliased_batch(ctx) -> dict:
    """20 aliases of `subjects` with 100 distinct keys each: 2,000 subjects in one request."""
    keys = [build_uscc("91", "130902", f"{n:08d}") for n in range(2000)]
    variables = {f"k{i}": keys[i * 100:(i + 1) * 100] for i in range(20)}
    head = ", ".join(f"$k{i}: [ID!]!" for i in range(20))
    fields = " ".join(f"a{i}: subjects(keys: $k{i}, purpose: \"loan_review\") {{ key }}" for i in range(20))
    return await gql(ctx["port"], f"query({head}) {{ {fields} }}", variables, ctx["agency"])


async def attack_flood(ctx) -> dict:
    """64 connections as fast as they can, anonymous, for the window."""
    raw = ctx["anonymous_lookup"]
    counts: dict[str, int] = {}
    stop_at = time.monotonic() + ctx["window"]

    async def one() -> None:
        conn = HttpConnection("127.0.0.1", ctx["port"])
        try:
            while time.monotonic() < stop_at:
                try:
                    status, _ = await asyncio.wait_for(conn.request(raw), 10)
                except (OSError, TimeoutError, asyncio.IncompleteReadError):
                    conn.close()
                    status = None
                counts[str(status)] = counts.get(str(status), 0) + 1
        finally:
            conn.close()

    t0 = time.monotonic()
    await asyncio.gather(*(one() for _ in range(64)))
    return {"status": counts, "seconds": round(time.monotonic() - t0, 3)}


ATTACKS = {
    "fragments_n20": lambda ctx: attack_fragments(ctx, 20),
    "fragments_n30": lambda ctx: attack_fragments(ctx, 30),
    "quadratic_csv": attack_quadratic_csv,
    "ndjson_80k_fields": attack_wide_row,
    "body_47MB": attack_big_body,
    "header_10MB": attack_big_header,
    "trickle_body": attack_trickle,
    "ten_slow_exports": attack_slow_exports,
    "aliased_2000_subjects": attack_aliased_batch,
    "rate_flood": attack_flood,
}

REPEATED = {"fragments_n20", "fragments_n30", "quadratic_csv", "ndjson_80k_fields", "body_47MB",
            "header_10MB", "aliased_2000_subjects"}


async def run_attack(name: str, ctx: dict) -> dict:
    attack = ATTACKS[name]
    t0 = time.monotonic()
    first = await attack(ctx)
    runs, slowest = 1, first.get("total_s", first.get("seconds", 0.0))
    if name in REPEATED:  # a sustained attack: again, `attack_rate` times a second, for the window
        while time.monotonic() - t0 < ctx["window"] and runs < 1000:
            await asyncio.sleep(max(0.0, t0 + runs / ctx["attack_rate"] - time.monotonic()))  # pace
            r = await attack(ctx)
            runs += 1
            slowest = max(slowest, r.get("total_s", r.get("seconds", 0.0)))
    return {**first, "runs": runs, "slowest_s": round(slowest, 3), "ended": time.monotonic()}
