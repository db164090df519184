"""A case's life as one table: each transition, the states it leaves from, where it goes, and who may make it.

Every module that changes a case's status (the mini-program, the squad console, the 12345 intake, the bot)
goes through `backend.cases.services.life.transition`, which checks the table (`check_transition`), makes
the transition's effect, writes the timeline event and the audit entry, and tells the followers. An illegal
transition raises `IllegalTransition`; a party that may not make it, `Forbidden`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from backend.cases.models import CaseStatus as S
from backend.errors import Conflict, Forbidden, label_choices


class Role(enum.StrEnum):
    RESIDENT = "resident"
    OFFICER = "officer"
    SQUAD_LEADER = "squad_leader"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    EDITOR = "editor"
    PROPERTY_STAFF = "property_staff"
    SYSTEM = "system"


SQUAD_ROLES = frozenset({Role.OFFICER, Role.SQUAD_LEADER})
BUREAU_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})


@dataclass(frozen=True)
class Actor:
    """Who makes a change: passed into services, never read from the request by them."""

    role: Role
    id: int | None = None
    label: str = ""
    squad_id: int | None = None
    company_id: int | None = None  # property staff: the company whose records they see and file

    @property
    def kind(self) -> str:
        if self.role is Role.RESIDENT:
            return "resident"
        return "system" if self.role is Role.SYSTEM else "staff"


SYSTEM = Actor(Role.SYSTEM, label="系统")


class Party(enum.Enum):
    REPORTER = "the reporter"
    SQUAD = "the case's squad"
    BUREAU = "the bureau"
    SYSTEM = "the system"


@dataclass(frozen=True)
class Transition:
    name: str
    sources: frozenset[S]
    target: S | None  # None: decided by the service (e.g. a rating closes or reopens)
    parties: frozenset[Party]
    label: str  # the timeline's words, shown to the reporter when public
    verb: str  # what a person does: the console's button (签收, not 已签收) and the audit log's name
    public: bool = True
    notify: bool = True  # tell the reporter (and supporters)
    requires: tuple[str, ...] = field(default=())  # keys of `data` that must be non-empty


def _t(
    name: str, sources: set[S], target: S | None, parties: set[Party], label: str, verb: str, **kw: Any
) -> Transition:
    return Transition(name, frozenset(sources), target, frozenset(parties), label, verb, **kw)


OPEN = {
    S.SUBMITTED,
    S.DISPATCHED,
    S.SIGNED,
    S.INVESTIGATING,
    S.VERIFIED,
    S.HANDLING,
    S.RETURNED,
    S.TRANSFERRED,
}
# The open states a squad holds, so a deadline runs against it (submitted and returned cases wait on the bureau).
TIMED = frozenset({S.DISPATCHED, S.SIGNED, S.INVESTIGATING, S.VERIFIED, S.HANDLING, S.TRANSFERRED})

TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in (
        _t(
            "submit",
            set(),
            S.SUBMITTED,
            {Party.REPORTER, Party.SYSTEM, Party.SQUAD, Party.BUREAU},
            "已提交",
            "提交",
            notify=False,
        ),
        _t(
            "dispatch",
            {S.SUBMITTED, S.RETURNED},
            S.DISPATCHED,
            {Party.SYSTEM, Party.BUREAU},
            "已派单",
            "派单",
        ),
        _t("sign", {S.DISPATCHED}, S.SIGNED, {Party.SQUAD}, "已签收", "签收"),
        _t("investigate", {S.SIGNED}, S.INVESTIGATING, {Party.SQUAD}, "核查中", "开始核查"),
        _t("verify", {S.INVESTIGATING}, S.VERIFIED, {Party.SQUAD}, "经核查，反映情况属实", "核实属实"),
        _t(
            "mark_unfounded",
            {S.INVESTIGATING},
            S.UNFOUNDED,
            {Party.SQUAD},
            "经核查，反映情况不属实",
            "核实不属实",
            requires=("reason",),
        ),
        _t(
            "handle",
            {S.VERIFIED, S.HANDLING},
            S.HANDLING,
            {Party.SQUAD},
            "处置中",
            "处置",
            requires=("action",),
        ),
        _t(
            "resolve",
            {S.VERIFIED, S.HANDLING, S.UNFOUNDED},
            S.RESOLVED,
            {Party.SQUAD},
            "已办结",
            "办结",
            requires=("public_reply",),
        ),
        _t(
            "return",
            {S.DISPATCHED, S.SIGNED, S.INVESTIGATING},
            S.RETURNED,
            {Party.SQUAD},
            "退回区局重新派单",
            "退单",
            requires=("reason",),
        ),
        _t(
            "transfer",
            {S.SIGNED, S.INVESTIGATING, S.VERIFIED},
            S.TRANSFERRED,
            {Party.SQUAD, Party.BUREAU},
            "已转交相关部门办理",
            "转办",
            requires=("department",),
        ),
        _t(
            "record_transfer_reply",
            {S.TRANSFERRED},
            S.RESOLVED,
            {Party.SQUAD, Party.BUREAU},
            "相关部门已答复",
            "录入答复",
            requires=("public_reply",),
        ),
        _t(
            "merge",
            OPEN,
            S.MERGED,
            {Party.SQUAD, Party.BUREAU},
            "与同一问题的工单合并办理",
            "并单",
            requires=("parent",),
        ),
        _t(
            "withdraw",
            {S.SUBMITTED, S.DISPATCHED},
            S.WITHDRAWN,
            {Party.REPORTER},
            "您已撤回",
            "撤回",
            notify=False,
        ),
        _t("rate", {S.RESOLVED}, None, {Party.REPORTER}, "您已评价", "评价", notify=False),
        _t("close", {S.RESOLVED}, S.CLOSED, {Party.SYSTEM, Party.BUREAU}, "已归档", "归档"),
    )
}
label_choices({name: transition.verb for name, transition in TRANSITIONS.items()})

STATUS_LABELS = {
    S.SUBMITTED: "已提交",
    S.DISPATCHED: "已派单",
    S.SIGNED: "已签收",
    S.INVESTIGATING: "核查中",
    S.VERIFIED: "属实",
    S.UNFOUNDED: "不属实",
    S.HANDLING: "处置中",
    S.RESOLVED: "已办结",
    S.CLOSED: "已归档",
    S.RETURNED: "重新派单中",
    S.TRANSFERRED: "已转办",
    S.MERGED: "已并单",
    S.WITHDRAWN: "已撤回",
}


class IllegalTransition(Conflict):
    code = "illegal_transition"


def check_transition(
    name: str, status: S | None, actor: Actor, *, reporter_id: int | None, squad_id: int | None
) -> Transition:
    """The transition `name`, if `actor` may make it from `status`; IllegalTransition or Forbidden if not."""
    transition = TRANSITIONS.get(name)
    if transition is None:
        raise IllegalTransition("不支持的操作", description=f"unknown transition {name!r}")
    if status is not None and status not in transition.sources:
        raise IllegalTransition(
            f"当前状态为「{STATUS_LABELS[status]}」，不能进行此操作",
            description=f"{name} is not allowed from {status.value}",
        )
    if not _may(transition, actor, reporter_id=reporter_id, squad_id=squad_id):
        raise Forbidden(description=f"{actor.role.value} may not {name} this case")
    return transition


def allowed_transitions(
    status: S, actor: Actor, *, reporter_id: int | None, squad_id: int | None
) -> list[str]:
    """The transitions `actor` may make now from `status` (what check_transition would let through)."""
    return [
        name
        for name, transition in TRANSITIONS.items()
        if status in transition.sources
        and _may(transition, actor, reporter_id=reporter_id, squad_id=squad_id)
    ]


def _may(transition: Transition, actor: Actor, *, reporter_id: int | None, squad_id: int | None) -> bool:
    parties = transition.parties
    if actor.role is Role.SYSTEM:
        return Party.SYSTEM in parties
    if actor.role is Role.RESIDENT:
        return Party.REPORTER in parties and actor.id is not None and actor.id == reporter_id
    if actor.role in BUREAU_ROLES:
        return Party.BUREAU in parties
    if actor.role in SQUAD_ROLES:
        return Party.SQUAD in parties and actor.squad_id is not None and actor.squad_id == squad_id
    return False
