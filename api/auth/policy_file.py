"""Reading policies/: model.conf and policy.csv are read once, checked whole and compiled
before anything asks them a question. Casbin alone skips a line whose type it does not know
(`P2,` for `p2,`: access widens) and accepts lines and matchers that then fail every lookup;
here any such fault refuses the policy, naming the file, the line and the reason."""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import casbin
from casbin.model import Model
from casbin.persist.adapter import _extract_tokens

from ..errors import PolicyUnavailable
from ..identifiers import IdentifierError, validate_uscc
from .principal import ROLES

# What the code asks (api/auth/policy.py): each request section with its columns, answered by
# the policy section of the same suffix. The facts' vocabulary per column; "*" means any.
REQUESTS: dict[str, tuple[str, ...]] = {
    "r": ("role", "rel", "cls", "state", "purpose", "authz"),
    "r2": ("who", "item"),
    "r3": ("role", "rel"),
}
POLICIES: dict[str, tuple[str, ...]] = {
    "p": ("role", "rel", "cls", "state", "purpose", "authz"),
    "p2": ("who", "item", "fields"),
    "p3": ("role", "rel"),
}
RELATIONS = frozenset({"self_verified", "self_unverified", "own_provider", "case_handler", "other"})
VOCABULARY: dict[str, frozenset[str]] = {
    "role": frozenset(ROLES),
    "rel": RELATIONS | {"*"},
    "cls": frozenset({"public", "shared", "authorized", "*"}),
    "state": frozenset({"live", "archived", "repaired", "deleted"}),
    "purpose": frozenset({"duty", "stated", "none", "*"}),
    "authz": frozenset({"yes", "no", "*"}),
}
_ITEM = re.compile(r"[A-Z][A-Z0-9_]{1,63}")
_FIELD = re.compile(r"[a-z][a-z0-9_]{0,63}")


class PolicyFileError(PolicyUnavailable):
    """A policy that may not be used; the message is one line: file:line: reason."""

    def __init__(self, path: Path, line: int | None, reason: str, more: int = 0):
        where = f"{path}:{line}" if line else str(path)
        tail = f"（另有 {more} 处问题）" if more else ""
        super().__init__(f"策略文件有误 {where}: {reason}{tail}")
        self.path, self.line, self.reason = path, line, reason


@dataclass(frozen=True)
class PolicySource:
    enforcer: casbin.Enforcer
    digest: str  # sha256 of model.conf and policy.csv as read


def _check_who(value: str, legacy_uscc: frozenset[str]) -> str | None:
    """A mistyped organisation code would leave that organisation unlimited: refuse it."""
    kind, _, name = value.partition(":")
    if kind == "role":
        return None if name in ROLES else f"unknown role {name!r} in {value!r}"
    if kind == "org":
        try:
            code = validate_uscc(name, legacy_allow=legacy_uscc)
        except IdentifierError as e:
            return f"{value!r} is not a valid organisation code: {e}"
        return None if code == name else f"write {value!r} as org:{code}"
    return f"{value!r} must be org:<USCC> or role:<role>"


def _check_fields(value: str) -> str | None:
    if value == "*":
        return None
    bad = [f for f in value.split("|") if not _FIELD.fullmatch(f.strip())]
    return f"malformed field names {bad} (field|field|..., or *)" if bad else None


CHECKS: dict[str, Callable[[str], str | None]] = {
    "item": lambda v: None if v == "*" or _ITEM.fullmatch(v) else f"{v!r} is not a catalog item code",
    "fields": _check_fields,
}


def _check_value(column: str, value: str, legacy_uscc: frozenset[str]) -> str | None:
    if column == "who":
        return _check_who(value, legacy_uscc)
    if column in CHECKS:
        return CHECKS[column](value)
    allowed = VOCABULARY.get(column)
    if allowed is not None and value not in allowed:
        return f"{column} {value!r} is not one of {', '.join(sorted(allowed))}"
    return None


def _model_lines(text: str) -> dict[str, int]:
    """The line where each key (r2, m3, ...) of model.conf is defined."""
    lines: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), 1):
        m = re.match(r"\s*([a-z]\d*)\s*=", line)
        if m:
            lines.setdefault(m[1], n)
    return lines


def _compile_model(path: Path, text: str) -> Model:
    where = _model_lines(text)
    model = Model()
    try:
        model.load_model_from_text(text)
    except Exception as e:
        raise PolicyFileError(path, None, f"cannot be read: {e}") from None
    for rkey, columns in REQUESTS.items():
        suffix = rkey[1:]
        for sec in ("r", "p", "e", "m"):
            if sec + suffix not in model.model.get(sec, {}):
                raise PolicyFileError(path, None, f"{sec + suffix} is missing (the code asks {rkey})")
        got = [t.split("_", 1)[1] for t in model.model["r"][rkey].tokens]
        if tuple(got) != columns:
            raise PolicyFileError(path, where.get(rkey), f"{rkey} must be {', '.join(columns)}")
        pkey = "p" + suffix
        got = [t.split("_", 1)[1] for t in model.model["p"][pkey].tokens]
        if tuple(got) != POLICIES[pkey]:
            raise PolicyFileError(path, where.get(pkey), f"{pkey} must be {', '.join(POLICIES[pkey])}")
        mkey = "m" + suffix
        names = set(model.model["r"][rkey].tokens) | set(model.model["p"][pkey].tokens) | {f"{pkey}_eft"}
        _check_matcher(path, where.get(mkey), mkey, model.model["m"][mkey].value, names)
    for sec in ("r", "p", "e", "m"):
        for key in model.model.get(sec, {}):
            if "r" + key[1:] not in REQUESTS:
                raise PolicyFileError(path, where.get(key), f"{key} is not asked by the code")
    return model


def _check_matcher(path: Path, line: int | None, key: str, value: str, names: set[str]) -> None:
    # casbin's own rewriting (CoreEnforcer._get_expression), without evaluating anything
    expr = re.sub(r"!(?!=)", "not ", value.replace("&&", "and").replace("||", "or"))
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as e:
        raise PolicyFileError(path, line, f"matcher {key} does not compile: {e.msg}") from None
    unknown = sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - names)
    if unknown:
        shown = [n.replace("_", ".", 1) for n in unknown]
        raise PolicyFileError(path, line, f"matcher {key} names unknown {', '.join(shown)}")


def _balanced(line: str) -> bool:
    depth = 0
    for c in line:
        depth += (c in "([") - (c in ")]")
        if depth < 0:
            return False
    return depth == 0


def _parse_rules(path: Path, text: str, legacy_uscc: frozenset[str]) -> dict[str, list[list[str]]]:
    rules: dict[str, list[list[str]]] = {key: [] for key in POLICIES}
    problems: list[tuple[int, str]] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line.startswith("#") and not _balanced(line):
            problems.append((n, "unbalanced brackets"))
            continue
        tokens = _extract_tokens(line)
        if tokens is None:
            continue
        ptype, values = tokens[0], tokens[1:]
        if ptype not in POLICIES:
            problems.append((n, f"unknown line type {ptype!r} (model.conf defines {', '.join(POLICIES)})"))
            continue
        columns = POLICIES[ptype]
        if len(values) != len(columns):
            problems.append(
                (n, f"{ptype} takes {len(columns)} columns ({', '.join(columns)}); this line has {len(values)}")
            )
            continue
        bad = next(
            (m for c, v in zip(columns, values, strict=True)
             if (m := (f"empty {c}" if not v else _check_value(c, v, legacy_uscc)))),
            None,
        )
        if bad:
            problems.append((n, bad))
            continue
        rules[ptype].append(values)
    if problems:
        line, reason = problems[0]
        raise PolicyFileError(path, line, reason, more=len(problems) - 1)
    if not rules["p"]:
        raise PolicyFileError(path, None, "no disclosure rules (p lines); refusing to use it")
    return rules


def _trial(model_path: Path, enforcer: casbin.Enforcer, where: dict[str, int]) -> None:
    """Each question asked once with placeholder facts: a matcher that cannot be evaluated
    fails here, not on the first lookup."""
    for rkey, columns in REQUESTS.items():
        suffix = rkey[1:]
        args = [enforcer.new_enforce_context(suffix)] if suffix else []
        try:
            enforcer.enforce_ex(*args, *([""] * len(columns)))
        except Exception as e:
            raise PolicyFileError(model_path, where.get("m" + suffix), f"matcher m{suffix} fails: {e}") from None


def read_policy(directory: Path, legacy_uscc: frozenset[str] = frozenset()) -> PolicySource:
    """Read, check and compile the policy in `directory`; PolicyFileError names what is wrong."""
    model_path, rules_path = directory / "model.conf", directory / "policy.csv"
    raw: dict[Path, bytes] = {}
    for path in (model_path, rules_path):
        try:
            raw[path] = path.read_bytes()
        except FileNotFoundError:
            raise PolicyFileError(path, None, "the file is missing; refusing to start") from None
        except OSError as e:
            raise PolicyFileError(path, None, f"cannot be read: {e.strerror}") from None
    text: dict[Path, str] = {}
    for path, data in raw.items():
        try:
            text[path] = data.decode("utf-8")
        except UnicodeDecodeError as e:
            line = data[: e.start].count(b"\n") + 1
            raise PolicyFileError(path, line, "not UTF-8") from None
    model = _compile_model(model_path, text[model_path])
    rules = _parse_rules(rules_path, text[rules_path], legacy_uscc)
    enforcer = casbin.Enforcer(model)
    for ptype, lines in rules.items():
        if lines:
            enforcer.get_model().add_policies("p", ptype, lines)
    _trial(model_path, enforcer, _model_lines(text[model_path]))
    digest = hashlib.sha256(raw[model_path] + b"\0" + raw[rules_path]).hexdigest()
    return PolicySource(enforcer, digest)


def file_digest(directory: Path) -> str | None:
    """The digest read_policy would give, without checking (None: a file cannot be read)."""
    try:
        return hashlib.sha256(
            (directory / "model.conf").read_bytes() + b"\0" + (directory / "policy.csv").read_bytes()
        ).hexdigest()
    except OSError:
        return None
