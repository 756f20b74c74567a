"""The steps of an objection (异议, Art. 37-38) and of a credit repair (信用修复, Art. 39), pure:
which role does each, in what order, and the deadline of the step each one opens. No I/O: the
service reads the case, asks `advance`, and writes what it answers.

A case has one open step at a time (its `stage`): who must act next, counted from which day,
within how many working days. Art. 38 in steps:

    file (subject) -> notify_data_office (credit office, 1 working day from receipt)
    -> compare (data office, 1 from the notice)
       differs: -> correct (data office, 3 from the notice) -> inform_subject (credit office,
                   3 from receiving the correction) -> closed: corrected
       matches: -> request_verification (credit office, 1 from the comparison result; the article
                   sets no time, see README) -> verify (provider, 15 from the request, paused
                   time not counted) -> inform_subject (credit office, 7 from the answer)
                   -> closed: upheld, or deleted when the provider confirms the truth cannot be
                   verified (the record is deleted with the answer)

Art. 39: apply (subject) -> decide_repair (provider, 3 from the application) -> closed:
repaired or rejected.

An objection to a list entry itself (Art. 25, 37): file (subject) -> answer_entry (the provider
that listed it, 15 from the filing, as ¶3 gives a provider) -> inform_subject (credit office, 7
from the answer) -> closed: entry_removed (the entry is removed with the answer) or
entry_stands."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..auth.principal import Principal
from ..errors import InvalidInput
from ..i18n import N_, _
from ..wording import wording
from .errors import OutOfOrder, WrongRole

# Art. 37: the three grounds of an objection, in the words notifications show (the catalog's
# Chinese is the statute's: 公共信用信息记载存在错误或者遗漏, ...).
GROUNDS: dict[str, str] = {
    "error_or_omission": N_("an error or omission in the record"),
    "trade_secret_or_privacy": N_("it infringes a trade secret or personal privacy"),
    "dishonesty_expired": N_("dishonesty information kept past its query period"),
}
# Art. 38 ¶3: time for these does not count against the provider's 15 working days.
PAUSE_KINDS: dict[str, str] = {
    "testing": N_("testing"),  # 检验
    "inspection": N_("inspection"),  # 检测
    "quarantine": N_("quarantine"),  # 检疫
    "appraisal": N_("appraisal"),  # 鉴定
    "expert_review": N_("expert review"),  # 专家评审
}
COMPARISON_RESULTS = ("differs", "matches")
VERIFICATION_RESULTS = ("verified", "unverifiable")
OFFICE_ROLES = ("credit_office", "data_office")
CLOSED = "closed"

ROLE_NAMES = {
    "subject": N_("the subject"),
    "credit_office": N_("the credit office"),
    "data_office": N_("the data office"),
    "provider": N_("the provider of the record"),
}


@dataclass(frozen=True)
class Step:
    """An open step: done by `role`, within `days` working days (Art. 38, 39)."""

    name: str
    role: str
    title: str
    rule: str  # names the article for refusals: art38_order, art39_provider, ...


STEPS: dict[str, Step] = {
    s.name: s
    for s in (
        Step("notify_data_office", "credit_office", N_("notify the data office to compare"), "art38"),
        Step("compare", "data_office", N_("compare the platform's data with the provider's"), "art38"),
        Step("correct", "data_office", N_("correct the record"), "art38"),
        Step("request_verification", "credit_office", N_("ask the provider to verify"), "art38"),
        Step("verify", "provider", N_("verify the record and answer"), "art38"),
        Step("inform_subject", "credit_office", N_("inform the subject of the result"), "art38"),
        Step("decide_repair", "provider", N_("decide on the repair application"), "art39"),
        Step("answer_entry", "provider", N_("answer the objection to its list entry"), "art38"),
    )
}

# What each action needs: the stage it is done at (the step it completes).
ACTION_STAGE: dict[str, str] = {
    "notify_data_office": "notify_data_office",
    "compare": "compare",
    "correct": "correct",
    "request_verification": "request_verification",
    "pause_verification": "verify",
    "resume_verification": "verify",
    "answer_verification": "verify",
    "inform_subject": "inform_subject",
    "decide_repair": "decide_repair",
    "answer_entry": "answer_entry",
}
ENTRY_ANSWERS = ("removed", "stands")


@dataclass(frozen=True)
class Opened:
    """The step a case waits for next, and how its deadline is counted."""

    stage: str
    since: dt.date
    days: int
    basis: str  # where the number of days comes from, for people reading the case

    @property
    def role(self) -> str:
        return STEPS[self.stage].role


@dataclass(frozen=True)
class CaseFacts:
    """What the rules need to know of a case (a row of rights_cases)."""

    number: str
    kind: str
    stage: str
    stage_since: dt.date | None
    subject_key: str
    provider_org: str
    credit_office_org: str
    data_office_org: str
    paused_since: dt.date | None = None
    pauses: tuple[tuple[dt.date, dt.date], ...] = ()
    outcome: str | None = None
    due_on: dt.date | None = None

    def org_of(self, role: str) -> str | None:
        return {
            "provider": self.provider_org,
            "credit_office": self.credit_office_org,
            "data_office": self.data_office_org,
        }.get(role)


@dataclass(frozen=True)
class Advance:
    """What an action does to a case."""

    next: Opened | None  # None: the case closes
    outcome: str | None = None  # set when the result is known (kept until the case closes)
    pause: tuple[str, dt.date] | None = None  # (kind, since): the open step's clock stops
    resume: tuple[dt.date, dt.date] | None = None  # a pause ended: (first, last) not counted
    effect: str | None = None  # correct | delete | repair | restore: what happens to the record
    details: dict = field(default_factory=dict)


def first_step(kind: str, received_on: dt.date) -> Opened:
    """The step a new case opens with."""
    if kind == "objection":
        return Opened("notify_data_office", received_on, 1,
                      "Art. 38 ¶1: within 1 working day of receiving the objection")
    if kind == "entry_objection":
        return Opened("answer_entry", received_on, 15,
                      "Art. 38 ¶3 for the provider's answer: within 15 working days of receiving "
                      "the objection to its list entry")
    return Opened("decide_repair", received_on, 3,
                  "Art. 39: the provider decides within 3 working days of the application")


def check_actor(principal: Principal, case: CaseFacts, action: str) -> str:
    """The role the principal acts in for this action, or a refusal: the wrong role first (it
    can never do this step), then the wrong moment (the case is elsewhere)."""
    stage = ACTION_STAGE.get(action)
    if stage is None:
        raise InvalidInput(_("unknown step {action}", action=repr(action)), field="step", rule="step")
    step = STEPS[stage]
    article = _("Art. 39") if step.rule == "art39" else _("Art. 38")
    if not (principal.has(step.role) and principal.org_code == case.org_of(step.role)):
        raise WrongRole(
            _("{article}: {role} must {step} for case {case}; you act as {roles}",
              article=article, role=_(ROLE_NAMES[step.role]), step=_(step.title),
              case=case.number, roles=", ".join(principal.roles)) if case.number else
            _("{article}: {role} must {step}; you act as {roles}", article=article,
              role=_(ROLE_NAMES[step.role]), step=_(step.title), roles=", ".join(principal.roles)),
            field="caseId",
            rule=f"{step.rule}_{step.role}",
        )
    if case.stage == CLOSED:
        raise OutOfOrder(
            _("case {number} is closed ({outcome}); nothing more can be done on it", number=case.number, outcome=case.outcome),
            field="caseId",
            rule="case_closed",
        )
    if case.stage != stage:
        waiting = STEPS[case.stage]
        role, title = _(ROLE_NAMES[waiting.role]), _(waiting.title)
        raise OutOfOrder(
            _("case {number} is waiting for {role} to {step}, due {due}; '{action}' cannot be done "
              "now", number=case.number, role=role, step=title, due=case.due_on, action=action)
            if case.due_on else
            _("case {number} is waiting for {role} to {step}; '{action}' cannot be done now",
              number=case.number, role=role, step=title, action=action),
            field="caseId",
            rule=f"{step.rule}_order",
        )
    if action in ("pause_verification", "answer_verification") and case.paused_since is not None:
        raise OutOfOrder(
            _("verification of case {number} is paused since {paused_since}; end the pause first", number=case.number, paused_since=case.paused_since.isoformat()),
            field="caseId",
            rule="art38_paused",
        )
    if action == "resume_verification" and case.paused_since is None:
        raise OutOfOrder(
            _("verification of case {number} is not paused", number=case.number), field="caseId", rule="art38_not_paused"
        )
    return step.role


def advance(case: CaseFacts, action: str, today: dt.date, result: str | None = None) -> Advance:
    """The effect of a permitted action (check_actor first) done on `today`."""
    if action == "notify_data_office":
        return Advance(Opened("compare", today, 1,
                              "Art. 38 ¶1: within 1 working day of the notice to compare"))
    if action == "compare":
        if result == "differs":
            # Art. 38 ¶2 counts the correction from the notice to compare, not from the comparison.
            return Advance(
                Opened("correct", case.stage_since or today, 3,
                       "Art. 38 ¶2: within 3 working days of receiving the notice to compare"),
                details={"result": result},
            )
        if result == "matches":
            return Advance(
                Opened("request_verification", today, 1,
                       "platform rule (Art. 38 ¶3 sets no time): within 1 working day of the "
                       "comparison result, as for the notice of ¶1"),
                details={"result": result},
            )
        raise InvalidInput(_("the comparison result is DIFFERS or MATCHES"), field="result", rule="result")
    if action == "correct":
        return Advance(
            Opened("inform_subject", today, 3,
                   "Art. 38 ¶2: within 3 working days of receiving the correction"),
            outcome="corrected",
            effect="correct",
        )
    if action == "request_verification":
        return Advance(Opened("verify", today, 15,
                              "Art. 38 ¶3: within 15 working days of the request, time for testing, "
                              "inspection, quarantine, appraisal or expert review not counted"))
    if action == "pause_verification":
        if result not in PAUSE_KINDS:
            raise InvalidInput(
                _("a pause is for one of {kinds}", kinds=", ".join(PAUSE_KINDS)), field="kind",
                rule="art38_pause_kind",
            )
        return Advance(None, pause=(result, today))
    if action == "resume_verification":
        assert case.paused_since is not None
        return Advance(None, resume=(case.paused_since, today))
    if action == "answer_verification":
        if result not in VERIFICATION_RESULTS:
            raise InvalidInput(
                _("the answer is VERIFIED or UNVERIFIABLE"), field="result", rule="result"
            )
        return Advance(
            Opened("inform_subject", today, 7,
                   "Art. 38 ¶3: within 7 working days of receiving the provider's answer"),
            outcome="upheld" if result == "verified" else "deleted",
            effect="delete" if result == "unverifiable" else None,
            details={"result": result},
        )
    if action == "answer_entry":
        if result not in ENTRY_ANSWERS:
            raise InvalidInput(_("the answer is REMOVED or STANDS"), field="removeEntry", rule="result")
        return Advance(
            Opened("inform_subject", today, 7,
                   "Art. 38 ¶3: within 7 working days of receiving the provider's answer"),
            outcome="entry_removed" if result == "removed" else "entry_stands",
            effect="remove_entry" if result == "removed" else None,
            details={"result": result},
        )
    if action == "inform_subject":
        return Advance(None, outcome=case.outcome, effect="restore")
    if action == "decide_repair":
        if result not in ("approved", "rejected"):
            raise InvalidInput(_("the decision is APPROVED or REJECTED"), field="approved", rule="result")
        return Advance(
            None,
            outcome="repaired" if result == "approved" else "rejected",
            effect="repair" if result == "approved" else None,
            details={"result": result},
        )
    raise InvalidInput(_("unknown step {action}", action=repr(action)), field="step", rule="step")


def closes(action: str, adv: Advance) -> bool:
    """Whether the case closes with this action (pauses keep the step open)."""
    return adv.next is None and adv.pause is None and adv.resume is None


COURT_NOTICE = wording(N_(
    " If you disagree with the result you may bring an administrative lawsuit before the "
    "people's court (Art. 38: 信用主体对处理结果有异议的,可以向人民法院提起行政诉讼)."
))
