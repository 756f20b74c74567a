"""Log output: JSON lines (default) or readable text (`CREDIT_LOG_FORMAT=text`; `credit serve
--demo`, hence `python3 dev.py run`, chooses text unless the variable is set). Every line made
while a request is served carries its request id; the access log (`credit.access`, one line per
request) is on unless `CREDIT_ACCESS_LOG=off`. The embedded database's own INFO chatter (the
`pgserver` logger) is kept to warnings."""

from __future__ import annotations

import logging
import os
import sys

from .access import current

FORMAT_ENV, ACCESS_ENV = "CREDIT_LOG_FORMAT", "CREDIT_ACCESS_LOG"
ACCESS_FIELDS = ("request_id", "method", "route", "operation", "outcome", "status", "duration_ms",
                 "role", "org")
QUIET = {"pgserver": logging.WARNING, "uvicorn.access": logging.WARNING}
_MARK = "_credit_handler"


class RequestIdFilter(logging.Filter):
    """Stamp the request being served on every record made while serving it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "request_id" not in record.__dict__ and "fields" not in record.__dict__:
            rec = current()
            if rec is not None:
                record.request_id = rec.request_id
        return True


class TextFormatter(logging.Formatter):
    """One readable line; an access line's fields as `key=value` after the message."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = record.__dict__.get("fields") or record.__dict__
        extra = " ".join(f"{k}={fields[k]}" for k in ACCESS_FIELDS if fields.get(k) is not None)
        return f"{line} {extra}" if extra else line


def json_formatter() -> logging.Formatter:
    import datetime as dt

    import orjson
    from pythonjsonlogger.core import RESERVED_ATTRS
    from pythonjsonlogger.orjson import OrjsonFormatter

    class JsonFormatter(OrjsonFormatter):
        """python-json-logger for every record; an access line (its `fields` known in advance)
        takes a short way: one dict, one orjson call."""

        def format(self, record: logging.LogRecord) -> str:
            fields = record.__dict__.get("fields")
            if fields is None or record.exc_info:
                return super().format(record)
            return orjson.dumps({
                "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
                "level": record.levelname, "logger": record.name, "message": record.msg, **fields,
            }).decode()

    return JsonFormatter("%(levelname)s %(name)s %(message)s", timestamp="time",
                         rename_fields={"levelname": "level", "name": "logger"},
                         reserved_attrs=[*RESERVED_ATTRS, "color_message"])


def log_format(env: dict[str, str] | None = None) -> str:
    value = (os.environ if env is None else env).get(FORMAT_ENV, "json").strip().lower()
    return "text" if value == "text" else "json"


def access_log_on(env: dict[str, str] | None = None) -> bool:
    return (os.environ if env is None else env).get(ACCESS_ENV, "on").strip().lower() not in ("off", "0", "false")


def configure(level: int = logging.INFO, fmt: str | None = None) -> None:
    """One handler on the root logger (stderr), uvicorn's loggers sent to it; idempotent, so the
    CLI, `credit serve` and each uvicorn worker may all call it."""
    # what no line shows, not worked out for every record (the logging docs' "Optimization")
    logging.logMultiprocessing = logging.logThreads = False
    logging._srcfile = None  # noqa: SLF001 no caller's file and line: none is printed
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, _MARK, False):
            root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    setattr(handler, _MARK, True)
    handler.setFormatter(TextFormatter() if (fmt or log_format()) == "text" else json_formatter())
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    for name, lvl in QUIET.items():
        logging.getLogger(name).setLevel(lvl)
