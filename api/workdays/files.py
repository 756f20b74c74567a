"""A year's official schedule as a file, for `credit calendar load`: the holidays and make-up
working days of one State Council notice, in CSV or YAML (by the file's extension).

CSV (`.csv`, UTF-8; lines starting with `#` are comments):

    year,kind,name,from,to
    2027,holiday,New Year's Day,2027-01-01,2027-01-03
    2027,make_up,Spring Festival,2027-02-20,

YAML (`.yaml` or `.yml`):

    year: 2027
    notice: 国办发明电〔2026〕N号        # optional, kept as the source
    holidays:
      - {name: New Year's Day, from: 2027-01-01, to: 2027-01-03}
    make_up_days:
      - {name: Spring Festival, date: 2027-02-20}

`kind` is `holiday` (days off, including weekend days inside the holiday) or `make_up` (a
Saturday or Sunday worked, 调休上班). `to` may be left out for a single day; in YAML `date` is
the same as `from` alone. Every problem is reported at once, each naming its line or entry and
field; nothing is loaded unless the whole file is right."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from .calendar import MAX_YEAR, MIN_YEAR, ONE_DAY, NamedDay, YearSchedule
from .statutory import statutory_holidays

CSV_COLUMNS = ("year", "kind", "name", "from", "to")
KINDS = {"holiday": "holidays", "make_up": "make_up_days"}
LONGEST_BLOCK = 31  # days: a longer holiday is a typing error, not a notice
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class ScheduleFileError(InvalidInput):
    """The file does not describe one year's schedule; `problems` names each line and field."""

    code = "CALENDAR_FILE_INVALID"

    def __init__(self, path: str, problems: list[str]):
        self.problems = problems
        listed = "\n".join(f"  {p}" for p in problems)
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"{path}: {len(problems)} {noun}, nothing loaded:\n{listed}", rule="calendar_file")


@dataclass(frozen=True)
class ScheduleFile:
    schedule: YearSchedule
    sha256: str
    warnings: list[str]


@dataclass(frozen=True)
class _Entry:
    where: str  # "line 4" or "holidays[2]"
    from_field: str
    kind: str
    name: str
    first: dt.date
    last: dt.date


class _Problems(list):
    def add(self, where: str, field: str | None, message: str) -> None:
        self.append(f"{where}, field {field}: {message}" if field else f"{where}: {message}")


def read_schedule_file(path: Path) -> ScheduleFile:
    """Parse and check a schedule file; raise ScheduleFileError listing every problem."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ScheduleFileError(str(path), [f"cannot read the file: {e.strerror or e}"]) from e
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ScheduleFileError(str(path), [f"the file is not UTF-8 text (byte {e.start})"]) from e
    suffix = path.suffix.lower()
    problems = _Problems()
    if suffix == ".csv":
        year, notice, entries = _read_csv(text, problems)
    elif suffix in (".yaml", ".yml"):
        year, notice, entries = _read_yaml(text, problems)
    else:
        raise ScheduleFileError(str(path), ["the file name must end in .csv, .yaml or .yml"])
    if year is not None:
        _check(year, entries, problems)
    if problems:
        raise ScheduleFileError(str(path), problems)
    assert year is not None
    digest = hashlib.sha256(raw).hexdigest()
    source = f"file {path.name} sha256:{digest[:16]}" + (f" ({notice})" if notice else "")
    days = {kind: [] for kind in KINDS.values()}
    for e in entries:
        day = e.first
        while day <= e.last:
            days[KINDS[e.kind]].append(NamedDay(day, e.name))
            day += ONE_DAY
    schedule = YearSchedule(
        year=year,
        holidays=tuple(days["holidays"]),
        make_up_days=tuple(days["make_up_days"]),
        official=True,
        source=source,
    )
    return ScheduleFile(schedule, digest, _missing_statutory(schedule))


def _read_csv(text: str, problems: _Problems) -> tuple[int | None, str | None, list[_Entry]]:
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1)
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        problems.add("the file", None, "it is empty")
        return None, None, []
    header_no, header = lines[0]
    columns = [c.strip().lower() for c in next(csv.reader([header]))]
    missing = [c for c in CSV_COLUMNS if c not in columns]
    if missing:
        problems.add(f"line {header_no}", None,
                     f"the header must name the columns {','.join(CSV_COLUMNS)}; missing {', '.join(missing)}")
        return None, None, []
    year: int | None = None
    entries = []
    for n, line in lines[1:]:
        values = next(csv.reader([line]))
        if len(values) > len(columns):
            problems.add(f"line {n}", None, f"{len(values)} values for {len(columns)} columns")
            continue
        row = dict(zip(columns, (v.strip() for v in values), strict=False))
        where = f"line {n}"
        row_year = _int(row.get("year", ""), where, "year", problems)
        if row_year is None:
            continue
        if year is None:
            year = row_year
        elif row_year != year:
            problems.add(where, "year", f"{row_year}, but the file is for {year} (one year per file)")
            continue
        entry = _entry(where, row.get("kind", ""), row.get("name", ""), row.get("from", ""),
                       row.get("to", ""), problems, kind_field="kind", from_field="from")
        if entry:
            entries.append(entry)
    if year is None and not problems:
        problems.add("the file", None, "it has a header but no holidays")
    return year, None, entries


def _read_yaml(text: str, problems: _Problems) -> tuple[int | None, str | None, list[_Entry]]:
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "the file"
        problems.add(where, None, f"not valid YAML: {getattr(e, 'problem', None) or e}")
        return None, None, []
    if not isinstance(doc, dict):
        problems.add("the file", None, "expected a mapping with year, holidays and make_up_days")
        return None, None, []
    unknown = sorted(set(map(str, doc)) - {"year", "notice", "holidays", "make_up_days"})
    if unknown:
        problems.add("the file", None, f"unknown keys {', '.join(unknown)} (allowed: year, notice, holidays, make_up_days)")
    year = _int(doc.get("year"), "the file", "year", problems)
    notice = doc.get("notice")
    if notice is not None and not isinstance(notice, str):
        problems.add("the file", "notice", "must be text")
        notice = None
    entries = []
    for key, kind in (("holidays", "holiday"), ("make_up_days", "make_up")):
        items = doc.get(key) or []
        if not isinstance(items, list):
            problems.add("the file", key, "must be a list of entries")
            continue
        for i, item in enumerate(items):
            where = f"{key}[{i}]"
            if not isinstance(item, dict):
                problems.add(where, None, "must be a mapping with name and from/to or date")
                continue
            extra = sorted(set(map(str, item)) - {"name", "from", "to", "date"})
            if extra:
                problems.add(where, None, f"unknown keys {', '.join(extra)} (allowed: name, from, to, date)")
            if "date" in item and ("from" in item or "to" in item):
                problems.add(where, "date", "give either date or from/to, not both")
                continue
            first = item.get("date", item.get("from"))
            entry = _entry(where, kind, item.get("name"), first, item.get("to"), problems,
                           kind_field=None, from_field="date" if "date" in item else "from")
            if entry:
                entries.append(entry)
    return year, notice, entries


def _int(value: Any, where: str, field: str, problems: _Problems) -> int | None:
    if isinstance(value, bool) or value in (None, ""):
        problems.add(where, field, "missing")
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        problems.add(where, field, f"{value!r} is not a year")
        return None
    if not MIN_YEAR <= number <= MAX_YEAR:
        problems.add(where, field, f"{number} is outside {MIN_YEAR}-{MAX_YEAR}")
        return None
    return number


def _date(value: Any, where: str, field: str, problems: _Problems) -> dt.date | None:
    if isinstance(value, dt.datetime):
        problems.add(where, field, f"{value} has a time; give a date YYYY-MM-DD")
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        problems.add(where, field, f"{value!r} is not a date YYYY-MM-DD")
        return None


def _entry(where: str, kind: Any, name: Any, first: Any, last: Any, problems: _Problems, *,
           kind_field: str | None, from_field: str) -> _Entry | None:
    ok = True
    if kind not in KINDS:
        problems.add(where, kind_field, f"{kind!r} is not a kind: use holiday or make_up")
        ok = False
    if not isinstance(name, str) or not name.strip():
        problems.add(where, "name", "missing: name the holiday (for a make-up day, the holiday it serves)")
        ok = False
    if first in (None, ""):
        problems.add(where, from_field, "missing")
        return None
    start = _date(first, where, from_field, problems)
    end = start if last in (None, "") else _date(last, where, "to", problems)
    if not (ok and start and end):
        return None
    if end < start:
        problems.add(where, "to", f"{end} is before {from_field} {start}")
        return None
    if (end - start).days + 1 > LONGEST_BLOCK:
        problems.add(where, "to", f"{(end - start).days + 1} days from {start} to {end} is longer than {LONGEST_BLOCK}; check the dates")
        return None
    return _Entry(where, from_field, kind, name.strip(), start, end)


def _check(year: int, entries: list[_Entry], problems: _Problems) -> None:
    """One year, no day listed twice, make-up days at weekends, at least one holiday."""
    seen: dict[dt.date, _Entry] = {}
    for e in entries:
        outside = [(d, f) for d, f in ((e.first, e.from_field), (e.last, "to")) if d.year != year]
        if outside:
            day, field = outside[0]
            problems.add(e.where, field, f"{day} is not in {year}")
            continue
        day = e.first
        while day <= e.last:
            if e.kind == "make_up" and day.weekday() < 5:
                problems.add(e.where, None, f"{day} is a {WEEKDAYS[day.weekday()]}: a make-up working day is a Saturday or Sunday")
            other = seen.get(day)
            if other is not None:
                what = "both a holiday and a make-up day" if other.kind != e.kind else "listed twice"
                problems.add(e.where, None, f"{day} is {what} (also {other.where})")
            else:
                seen[day] = e
            day += ONE_DAY
    if not any(e.kind == "holiday" for e in entries) and not problems:
        problems.add("the file", None, f"no holidays for {year}")


def _missing_statutory(schedule: YearSchedule) -> list[str]:
    """Statutory holidays the file leaves as working days: allowed (the notice rules), but
    worth a second look, e.g. a file typed with the wrong year's dates."""
    off = {h.day for h in schedule.holidays}
    return [
        f"{h.day} ({h.name}) is a statutory holiday but the file does not list it as a day off"
        for h in statutory_holidays(schedule.year)
        if h.day not in off
    ]
