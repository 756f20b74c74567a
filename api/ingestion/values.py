"""Field values by catalog type, normalised so that the same content always stores the same way
(a CSV cell "2.5" and a JSON 2.5 are the same amount). Pure."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from ..i18n import _

MAX_TEXT = 4000
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INT = re.compile(r"^[+-]?\d{1,15}$")
MAX_AMOUNT_DIGITS = 15  # stored as a JSON number without loss
MAX_AMOUNT_DECIMALS = 6  # decimal(18,6) in the national data standard


def _shown(value: Any) -> str:
    """A value as a message quotes it, cut short; a list or an object is named, not printed."""
    if isinstance(value, dict | list):
        return "an object" if isinstance(value, dict) else "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "…"


class ValueProblem(ValueError):
    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule


def parse_date(value: Any, label: str) -> dt.date:
    if value.__class__ is str and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return dt.date.fromisoformat(value)  # the common case
        except ValueError:
            pass
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not _DATE.match(value):
        raise ValueProblem("date", _("{label} must be a date written YYYY-MM-DD, not {value}", label=label, value=_shown(value)))
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueProblem("date", _("{label}: {value} is not a real date", label=label, value=value)) from None


def normalise(type_: str, codes: tuple[str, ...], value: Any, label: str) -> Any:
    """The stored form of one value, or ValueProblem naming the rule it breaks."""
    cls = value.__class__
    # the common cases first, without Decimal or regular expressions
    if type_ == "code" and cls is str and value in codes:
        return value
    if type_ == "amount" and (cls is int or cls is float) and 0 <= value < 1e9 and round(value, 6) == value:
        return value
    if type_ == "date" and cls is str and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            dt.date.fromisoformat(value)
            return value
        except ValueError:
            pass
    if cls is str and len(value) > MAX_TEXT:  # no type reads more than this of a value
        raise ValueProblem("length", _("{label} is longer than {max} characters", label=label, max=MAX_TEXT))
    if type_ == "string":
        if not isinstance(value, str):
            raise ValueProblem("text", _("{label} must be text, not {value}", label=label, value=_shown(value)))
        if len(value) > MAX_TEXT:
            raise ValueProblem("length", _("{label} is longer than {max} characters", label=label, max=MAX_TEXT))
        return value
    if type_ == "date":
        return parse_date(value, label).isoformat()
    if type_ == "code":
        code = value if isinstance(value, str) else str(value) if isinstance(value, int) and not isinstance(value, bool) else None
        if code not in codes:
            raise ValueProblem("code_list", _("{label} must be one of {codes}, not {value}", label=label,
                                           codes=", ".join(codes), value=_shown(value)))
        return code
    if type_ == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and _INT.match(value.strip()):
            return int(value)
        raise ValueProblem("integer", _("{label} must be a whole number, not {value}", label=label, value=_shown(value)))
    if type_ == "amount":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueProblem("amount", _("{label} must be a number, not {value}", label=label, value=_shown(value)))
        try:
            amount = Decimal(value.strip() if isinstance(value, str) else str(value))
        except InvalidOperation:
            raise ValueProblem("amount", _("{label} must be a number, not {value}", label=label, value=_shown(value))) from None
        if not amount.is_finite() or amount < 0:
            raise ValueProblem("amount", _("{label} must be a non-negative amount, not {value}", label=label,
                                         value=_shown(value)))
        sign, digits, exponent = amount.normalize().as_tuple()
        decimals = max(0, -exponent)
        if decimals > MAX_AMOUNT_DECIMALS:
            raise ValueProblem("amount", _("{label} has more than {max} decimal places", label=label, max=MAX_AMOUNT_DECIMALS))
        if max(len(digits), decimals) > MAX_AMOUNT_DIGITS or amount >= 10 ** (MAX_AMOUNT_DIGITS - MAX_AMOUNT_DECIMALS):
            raise ValueProblem("amount", _("{label} is too large", label=label))
        if isinstance(value, int | float):
            return value
        return int(amount) if amount == amount.to_integral_value() else float(amount)
    raise ValueProblem("type", _("{label} has an unknown type {type}", label=label, type=type_))


def canonical_json(data: dict[str, Any]) -> str:
    """The stored text of a record's data (jsonb orders keys itself and compares by value)."""
    return orjson.dumps(data).decode()
