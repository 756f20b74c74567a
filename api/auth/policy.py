"""The Casbin enforcer, wrapped. policies/ is the only place who-sees-what is written; this
module asks it questions with facts the code computed, and caches the answers (the policy is a
pure function of those facts, and the set of distinct facts is small)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import casbin

from ..errors import PolicyUnavailable
from ..i18n import _
from .policy_file import read_policy

logging.getLogger("casbin").setLevel(logging.ERROR)  # denials are normal; the query log has them


class RecordFacts(NamedTuple):
    """The facts about one record the policy decides on. A tuple: a lookup builds one per
    record and the decision cache hashes it, so it must be cheap to make and to hash."""

    role: str
    rel: str  # self_verified | self_unverified | own_provider | case_handler | other
    cls: str  # public | shared | authorized
    state: str  # live | archived | repaired | deleted
    purpose: str  # duty | stated | none
    authz: str  # yes | no


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rule: tuple[str, ...]  # the policy line that allowed it, for the log and the `basis`

    @property
    def used_authorization(self) -> bool:
        return self.allowed and self.rule[5] == "yes"


ALL_FIELDS = None  # an entitlement that does not limit fields


@dataclass(frozen=True)
class Entitlement:
    item_allowed: bool
    fields: frozenset[str] | None  # None: every field


UNLIMITED = Entitlement(True, ALL_FIELDS)


class _Loaded:
    """One policy as read: the enforcer and the answers it gave (dropped with it)."""

    def __init__(self, enforcer: casbin.Enforcer, digest: str):
        self.enforcer = enforcer
        self.digest = digest
        self.ctx2 = enforcer.new_enforce_context("2")
        self.ctx3 = enforcer.new_enforce_context("3")
        self.limited_who = frozenset(rule[0] for rule in enforcer.get_named_policy("p2"))
        self.decisions: dict[RecordFacts, Decision] = {}
        self.entitlements: dict[tuple[str, str], Entitlement] = {}
        self.unmask: dict[tuple[str, str], bool] = {}


class Policy:
    """The policy in force. `replace_with` swaps it whole (api/auth/policy_reload.py): every
    holder of this object sees the new rules at once, and the cached decisions of the old
    ones go with them. A swap happens on the event loop, between two synchronous decisions
    (rules.disclose asks everything about one subject without awaiting), so one subject's view
    is decided by one policy."""

    def __init__(self, enforcer: casbin.Enforcer, digest: str = ""):
        self._loaded = _Loaded(enforcer, digest)
        self._lock = threading.Lock()

    @classmethod
    def load(cls, directory: Path, legacy_uscc: frozenset[str] = frozenset()) -> Policy:
        """Read, check and compile policies/ (PolicyFileError names file, line and reason);
        legacy_uscc: pilot-era organisation codes accepted in p2 lines (CREDIT_LEGACY_USCC)."""
        source = read_policy(directory, legacy_uscc)
        return cls(source.enforcer, source.digest)

    @property
    def digest(self) -> str:
        """sha256 of model.conf and policy.csv: which policy decided."""
        return self._loaded.digest

    @property
    def _enforcer(self) -> casbin.Enforcer:
        return self._loaded.enforcer

    def replace_with(self, other: Policy) -> None:
        self._loaded = other._loaded

    def rule_counts(self) -> dict[str, int]:
        return {
            ptype: len(self._enforcer.get_named_policy(ptype)) for ptype in ("p", "p2", "p3")
        }

    def _enforce(self, loaded: _Loaded, *rvals):
        # Fail closed: an enforcer that was switched off answers "allow" to everything.
        if not loaded.enforcer.enabled:
            raise PolicyUnavailable(_("the policy engine is disabled"))
        try:
            return loaded.enforcer.enforce_ex(*rvals)
        except Exception as e:  # any fault in evaluation refuses the request
            raise PolicyUnavailable(_("policy evaluation failed: {e}", e=e)) from e

    def decide(self, facts: RecordFacts) -> Decision:
        loaded = self._loaded
        cached = loaded.decisions.get(facts)
        if cached is not None:
            return cached
        allowed, rule = self._enforce(loaded, *facts)
        decision = Decision(bool(allowed), tuple(rule))
        with self._lock:
            loaded.decisions[facts] = decision
        return decision

    def entitlement(self, org_code: str | None, role: str, item: str) -> Entitlement:
        """Field entitlement: organisation lines first, then role lines, else unlimited."""
        loaded = self._loaded
        limited = loaded.limited_who
        who = f"org:{org_code}" if org_code and f"org:{org_code}" in limited else None
        if who is None:
            who = f"role:{role}" if f"role:{role}" in limited else None
        if who is None:
            return UNLIMITED
        key = (who, item)
        cached = loaded.entitlements.get(key)
        if cached is not None:
            return cached
        allowed, rule = self._enforce(loaded, loaded.ctx2, who, item)
        if not allowed:
            result = Entitlement(False, frozenset())
        elif rule[2] == "*":
            result = UNLIMITED
        else:
            result = Entitlement(True, frozenset(f.strip() for f in rule[2].split("|") if f.strip()))
        with self._lock:
            loaded.entitlements[key] = result
        return result

    def may_unmask(self, role: str, rel: str) -> bool:
        loaded = self._loaded
        key = (role, rel)
        cached = loaded.unmask.get(key)
        if cached is None:
            cached = bool(self._enforce(loaded, loaded.ctx3, role, rel)[0])
            with self._lock:
                loaded.unmask[key] = cached
        return cached
