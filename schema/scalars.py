"""Date and DateTime as the API takes them: one clear rule each, or INVALID_INPUT naming the field.

- `Date` is `YYYY-MM-DD` and means that whole day in Beijing time (every Date argument is a
  day: a decision date, `since`/`until` of a report, a deadline's start).
- `DateTime` is an ISO 8601 date and time with its UTC offset (`2026-11-30T23:59:59+08:00`,
  `...Z`). Without an offset, or as a bare date, it is refused: whether `2026-11-30` meant the
  start or the end of that day, or which clock a time was read on, is not guessed.
- Years from 1900 to 2999 (no credit record or authorization lies outside; a year 0001 or 9999
  with an offset would overflow when converted).

A value sent in a variable fails while the variables are coerced; a value written in the query
fails in validation (TemporalLiteralRule), which knows the argument and input field. Both come
back with `extensions: {code: INVALID_INPUT, field, rule}`."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import strawberry
from graphql import GraphQLError, ValidationRule, get_named_type
from graphql.language import (
    ArgumentNode,
    NullValueNode,
    ObjectFieldNode,
    StringValueNode,
    VariableDefinitionNode,
    VariableNode,
)
from graphql.utilities import value_from_ast_untyped
from strawberry.types import ExecutionContext

from api.i18n import _

MIN_YEAR, MAX_YEAR = 1900, 2999
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<time>\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)(?P<offset>[Zz]|[+-]\d{2}:\d{2})?"
)
_EXAMPLE_DT = "2026-11-30T23:59:59+08:00"


class TemporalInputError(GraphQLError):
    def __init__(self, message: str, rule: str, field: str | None = None):
        extensions: dict[str, Any] = {"code": "INVALID_INPUT", "rule": rule}
        if field:
            extensions["field"] = field
        super().__init__(message, extensions=extensions)
        self.rule = rule


def _in_range(shown: str) -> None:
    if not MIN_YEAR <= int(shown[:4]) <= MAX_YEAR:
        raise TemporalInputError(
            _("the date {value} is out of range: the year is {min_year} to {max_year}",
              value=shown, min_year=MIN_YEAR, max_year=MAX_YEAR), "date_range",
        )


def parse_date(value: object) -> dt.date:
    """A day, YYYY-MM-DD (Beijing time; the day as a whole)."""
    if not isinstance(value, str) or len(value) > 40:
        raise TemporalInputError(_("a date is a string YYYY-MM-DD; got {value}", value=f"{value!r:.60}"),
                                 "date_format")
    if not _DATE.fullmatch(value):
        raise TemporalInputError(_("a date is YYYY-MM-DD (without a time); got {value}", value=repr(value)),
                                 "date_format")
    _in_range(value)
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise TemporalInputError(_("not a valid date: {value}", value=repr(value)), "date_format") from None


def parse_datetime(value: object) -> dt.datetime:
    """An instant: ISO 8601 date and time with a UTC offset."""
    if not isinstance(value, str) or len(value) > 40:
        raise TemporalInputError(
            _("a date-time is an ISO 8601 string with its offset (e.g. {example}); got {value}",
              example=_EXAMPLE_DT, value=f"{value!r:.60}"), "datetime_format",
        )
    if _DATE.fullmatch(value):
        raise TemporalInputError(
            _("only a date was given ({value}); a date-time with its offset is needed here: the "
              "start of that day is {day}T00:00:00+08:00, its end {day}T23:59:59+08:00 (Beijing time)",
              value=repr(value), day=value), "datetime_offset_required",
        )
    m = _DATETIME.fullmatch(value)
    if m is None:
        raise TemporalInputError(
            _("a date-time is an ISO 8601 string with its offset (e.g. {example}); got {value}",
              example=_EXAMPLE_DT, value=repr(value)), "datetime_format",
        )
    if m["offset"] is None:
        raise TemporalInputError(
            _("the date-time {value} lacks its offset (e.g. +08:00 or Z)", value=repr(value)),
            "datetime_offset_required",
        )
    _in_range(value)
    try:
        parsed = dt.datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    except ValueError:
        raise TemporalInputError(_("not a valid date-time: {value}", value=repr(value)), "datetime_format") from None
    if not dt.timedelta(hours=-18) < parsed.utcoffset() < dt.timedelta(hours=18):  # type: ignore[operator]
        raise TemporalInputError(_("the offset is out of range: {value}", value=repr(value)), "datetime_format")
    return parsed


class InvalidLiteral:
    """What a malformed literal parses to: TemporalLiteralRule refuses the document before it
    runs, and should one ever reach a resolver, any comparison with it fails."""

    def __init__(self, error: TemporalInputError):
        self.error = error

    def _refuse(self, *_: object) -> bool:
        raise self.error

    __lt__ = __le__ = __gt__ = __ge__ = _refuse


def _literal_parser(parse):
    def parse_literal(node, variables=None):
        if isinstance(node, StringValueNode):
            try:
                return parse(node.value)
            except TemporalInputError as e:
                return InvalidLiteral(e)
        if isinstance(node, VariableNode):  # graphql-core resolves these itself; just in case
            value = value_from_ast_untyped(node, variables)
            return value if isinstance(value, dt.date) else parse(value)
        return InvalidLiteral(TemporalInputError(_("a date is written as a string"), "date_format"))

    return parse_literal


Date = strawberry.scalar(
    name="Date",
    description="A day, YYYY-MM-DD: that whole day in Beijing time.",
    serialize=lambda v: v.isoformat(),
    parse_value=parse_date,
    parse_literal=_literal_parser(parse_date),
)
DateTime = strawberry.scalar(
    name="DateTime",
    description=f"An instant, ISO 8601 with its UTC offset, e.g. {_EXAMPLE_DT}.",
    serialize=lambda v: v.isoformat(),
    parse_value=parse_datetime,
    parse_literal=_literal_parser(parse_datetime),
)
SCALAR_OVERRIDES: dict[object, Any] = {dt.date: Date, dt.datetime: DateTime}
_PARSERS = {"Date": parse_date, "DateTime": parse_datetime}


class TemporalLiteralRule(ValidationRule):
    """Dates written in the query itself: refused in validation, naming argument and field."""

    def __init__(self, context):
        super().__init__(context)
        self._path: list[str] = []

    def enter_variable_definition(self, node: VariableDefinitionNode, *_):
        self._path.append(node.variable.name.value)  # a default value

    def leave_variable_definition(self, *_):
        self._path.pop()

    def enter_argument(self, node: ArgumentNode, *_):
        self._path.append(node.name.value)

    def leave_argument(self, *_):
        self._path.pop()

    def enter_object_field(self, node: ObjectFieldNode, *_):
        self._path.append(node.name.value)

    def leave_object_field(self, *_):
        self._path.pop()

    def _check(self, node, *_):
        named = get_named_type(self.context.get_input_type())
        parse = _PARSERS.get(getattr(named, "name", ""))
        if parse is None or isinstance(node, NullValueNode | VariableNode):
            return
        field = ".".join(self._path) or None
        try:
            parse(node.value if isinstance(node, StringValueNode) else object())
        except TemporalInputError as e:
            self.report_error(
                GraphQLError(f"{field}: {e.message}", node, extensions={**e.extensions, "field": field})
            )

    enter_string_value = enter_int_value = enter_float_value = enter_boolean_value = _check
    enter_enum_value = _check


_VARIABLE = re.compile(r"Variable '\$(?P<name>\w+)' has invalid value(?: at (?P<path>[\w.\[\]]+))?:")


def name_temporal_fields(ctx: ExecutionContext) -> None:
    """After execution (schema/extension.py): a date in a variable fails while variables are
    coerced, where only the message carries the path: name the field in `extensions.field` too."""
    result = ctx.result
    for error in (result.errors or []) if result else []:
        original = error.original_error
        if not isinstance(original, TemporalInputError) or "field" in (error.extensions or {}):
            continue
        m = _VARIABLE.match(error.message)
        field = (m["name"] + (m["path"] or "")) if m else None
        error.extensions = {**(error.extensions or {}), "field": field}
