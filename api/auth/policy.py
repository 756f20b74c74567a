"""The Casbin enforcer, wrapped. policies/ is the only place who-sees-what is written; this
module asks it questions with facts the code computed, and caches the answers (the policy is a
pure function of those facts, and the set of distinct facts is small)."""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import casbin

from ..errors import PolicyUnavailable

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


class Policy:
    def __init__(self, enforcer: casbin.Enforcer, digest: str = ""):
        self._enforcer = enforcer
        self.digest = digest  # sha256 of model.conf and policy.csv: which policy decided
        self._ctx2 = enforcer.new_enforce_context("2")
        self._ctx3 = enforcer.new_enforce_context("3")
        self._limited_who = frozenset(rule[0] for rule in enforcer.get_named_policy("p2"))
        self._decisions: dict[RecordFacts, Decision] = {}
        self._entitlements: dict[tuple[str, str], Entitlement] = {}
        self._unmask: dict[tuple[str, str], bool] = {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, directory: Path) -> Policy:
        model, rules = directory / "model.conf", directory / "policy.csv"
        for path in (model, rules):
            if not path.is_file():
                raise PolicyUnavailable(f"policy file {path} is missing; refusing to start")
        enforcer = casbin.Enforcer(str(model), str(rules))
        if not enforcer.get_policy():
            raise PolicyUnavailable(f"{rules} has no disclosure rules; refusing to start")
        digest = hashlib.sha256(model.read_bytes() + b"\0" + rules.read_bytes()).hexdigest()
        return cls(enforcer, digest)

    def rule_counts(self) -> dict[str, int]:
        return {
            ptype: len(self._enforcer.get_named_policy(ptype)) for ptype in ("p", "p2", "p3")
        }

    def _enforce(self, *rvals):
        # Fail closed: an enforcer that was switched off answers "allow" to everything.
        if not self._enforcer.enabled:
            raise PolicyUnavailable("the policy engine is disabled")
        try:
            return self._enforcer.enforce_ex(*rvals)
        except Exception as e:  # any fault in evaluation refuses the request
            raise PolicyUnavailable(f"policy evaluation failed: {e}") from e

    def decide(self, facts: RecordFacts) -> Decision:
        cached = self._decisions.get(facts)
        if cached is not None:
            return cached
        allowed, rule = self._enforce(*facts)
        decision = Decision(bool(allowed), tuple(rule))
        with self._lock:
            self._decisions[facts] = decision
        return decision

    def entitlement(self, org_code: str | None, role: str, item: str) -> Entitlement:
        """Field entitlement: organisation lines first, then role lines, else unlimited."""
        who = f"org:{org_code}" if org_code and f"org:{org_code}" in self._limited_who else None
        if who is None:
            who = f"role:{role}" if f"role:{role}" in self._limited_who else None
        if who is None:
            return UNLIMITED
        key = (who, item)
        cached = self._entitlements.get(key)
        if cached is not None:
            return cached
        allowed, rule = self._enforce(self._ctx2, who, item)
        if not allowed:
            result = Entitlement(False, frozenset())
        elif rule[2] == "*":
            result = UNLIMITED
        else:
            result = Entitlement(True, frozenset(f.strip() for f in rule[2].split("|") if f.strip()))
        with self._lock:
            self._entitlements[key] = result
        return result

    def may_unmask(self, role: str, rel: str) -> bool:
        key = (role, rel)
        cached = self._unmask.get(key)
        if cached is None:
            cached = bool(self._enforce(self._ctx3, role, rel)[0])
            with self._lock:
                self._unmask[key] = cached
        return cached
