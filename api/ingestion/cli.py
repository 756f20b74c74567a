"""`credit ingest FILE`: a provider's bulk upload from the command line, through the platform's
own endpoint (POST /upload/records), so it runs the same validation, under the same token, into
the same collection log as every other path. Shows a progress bar; writes every result line. The
file's encoding (UTF-8, GBK, GB18030) is detected by the platform unless `--encoding` declares
it; the summary printed at the end names the one used."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from ..config import Settings
from .client import UploadError, file_chunks, upload


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("ingest", help="upload a provider's NDJSON or CSV file of records")
    p.add_argument("file", type=Path)
    p.add_argument("--url", default=os.environ.get("CREDIT_URL", "http://127.0.0.1:8000"),
                   help="the platform's address (default $CREDIT_URL or http://127.0.0.1:8000)")
    p.add_argument("--token", default=os.environ.get("CREDIT_TOKEN"),
                   help="the provider's bearer token (default $CREDIT_TOKEN)")
    p.add_argument("--format", choices=("ndjson", "csv"), help="default: from the file name")
    p.add_argument("--encoding", choices=("utf-8", "utf-8-sig", "gbk", "gb18030"),
                   help="the file's text encoding (default: detected — UTF-8, or GBK/GB18030 as Excel writes)")
    p.add_argument("--results", type=Path, help="write every result line here (NDJSON)")
    p.add_argument("--batch", type=int, help="rows per transaction (server default 2000)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run_ingest)


def _format(args: argparse.Namespace) -> str:
    fmt = args.format or ("csv" if args.file.suffix.lower() == ".csv" else "ndjson")
    kind = "text/csv" if fmt == "csv" else "application/x-ndjson"
    return f"{kind}; charset={args.encoding}" if args.encoding else kind


def run_ingest(settings: Settings, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    if not args.token:
        print("credit: give the provider's token with --token or CREDIT_TOKEN", file=sys.stderr)
        return 2
    size = args.file.stat().st_size
    out = args.results.open("w", encoding="utf-8") if args.results else None
    bar = tqdm(total=size, unit="B", unit_scale=True, desc="sent", disable=args.quiet)
    stored = tqdm(unit=" rows", desc="stored", disable=args.quiet)
    rejected = 0

    def on_result(obj: dict) -> None:
        nonlocal rejected
        if out:
            out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        if "status" in obj:
            stored.update(1)
            if obj["status"] == "rejected":
                rejected += 1
                if rejected <= 20:
                    tqdm.write(f"line {obj['line']}: {obj.get('field')}: {obj.get('message')}", file=sys.stderr)

    try:
        result = asyncio.run(upload(
            args.url, file_chunks(args.file), content_type=_format(args), token=args.token,
            batch=args.batch, on_result=on_result, on_sent=bar.update,
        ))
    except UploadError as e:
        print(f"credit: the platform refused the upload: {e}", file=sys.stderr)
        return 2
    except (ConnectionError, OSError) as e:
        print(f"credit: the upload broke off ({e}); every row with a result line is stored — "
              "send the file again to complete it", file=sys.stderr)
        return 3
    finally:
        bar.close()
        stored.close()
        if out:
            out.close()
    if result.error:
        print(f"credit: {result.error.get('message')}", file=sys.stderr)
        return 3
    print(json.dumps(result.summary, ensure_ascii=False))
    return 1 if rejected else 0
