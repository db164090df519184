"""Time limits and supervision: the deadline sweep, extensions across holidays, urging and supervising."""

from __future__ import annotations

import datetime as dt
import itertools
import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.audit.models import AuditEntry
from backend.cases.models import Case, CaseEvent
from backend.cases.services.deadlines import refresh_due_at
from backend.cases.services.life import transition, withdraw_case
from backend.cases.services.timeline import public_text
from backend.cases.supervision import (
    SweepReport,
    decide_extension,
    due_today,
    is_overdue,
    overdue_cases,
    request_extension,
    supervise_case,
    sweep_deadlines,
    urge_case,
)
from backend.cases.supervision_cli import cases_group
from backend.cases.workflow import Actor, Role
from backend.clock import MovableClock
from backend.errors import Conflict, Forbidden, ValidationFailed
from backend.messages.models import Message
from backend.staff.models import StaffNotice, StaffUser
from backend.workcalendar import SHANGHAI, add_working_days
from tests.support.cases import NOW, estate, report, squad

HOUR = dt.timedelta(hours=1)
DUE_SOON = 4 * HOUR
ESCALATE_AFTER = 24 * HOUR
KINDS = ("due_soon", "overdue", "escalated")
# The eve of National Day 2026: 1–7 October are holidays, Saturday 10 October a make-up working day.
HOLIDAY_EVE = dt.datetime(2026, 9, 30, 15, 0, tzinfo=SHANGHAI)

_numbers = itertools.count(1)


def staff(session: Session, role: Role, squad_code: str | None = None) -> Actor:
    """A real console account (extensions refer to it) and the Actor it acts as."""
    home = squad(session, squad_code) if squad_code else None
    number = next(_numbers)
    user = StaffUser(
        username=f"supervision-{role.value}-{number}",
        display_name=f"测试{number}",
        role=role.value,
        squad=home,
        password_hash="-",
    )
    session.add(user)
    session.flush()
    where = home.name if home else "区局"
    return Actor(role, user.id, f"{where} {user.display_name}", squad_id=home.id if home else None)


def xujing_case(session: Session, user, *, sign_due_at: dt.datetime, now: dt.datetime = NOW) -> Case:
    """A dispatched case of 徐泾中队 whose signing deadline is `sign_due_at`, with its on-site clock met (the
    on-site clock has tests of its own), so that only the stage's deadline runs."""
    case = report(
        session, user, category="illegal_construction", estate_id=estate(session, "康虹花园").id, now=now
    )
    case.sign_due_at = sign_due_at
    case.onsite_at = now
    refresh_due_at(case)
    session.flush()
    return case


def sweep(session: Session, at: dt.datetime) -> SweepReport:
    return sweep_deadlines(session, at, due_soon=DUE_SOON, escalate_after=ESCALATE_AFTER)


def kinds(result: SweepReport, case: Case) -> set[str]:
    return {kind for kind in KINDS if case.id in getattr(result, kind)}


def notices(session: Session, case: Case) -> list[StaffNotice]:
    return list(
        session.scalars(select(StaffNotice).where(StaffNotice.case_id == case.id).order_by(StaffNotice.id))
    )


SUPERVISION_AUDITS = {
    "case.due_soon",
    "case.overdue",
    "case.escalated",
    "case.extension_requested",
    "case.extension_approved",
    "case.extension_rejected",
    "case.urged",
    "case.supervised",
}


def audit_actions(session: Session, case: Case) -> list[str]:
    """The audit trail this module writes for `case`, oldest first (transitions write their own)."""
    query = select(AuditEntry.action).where(AuditEntry.target_id == case.tracking_no).order_by(AuditEntry.id)
    return [action for action in session.scalars(query) if action in SUPERVISION_AUDITS]


def messages(session: Session, user) -> list[str]:
    return list(session.scalars(select(Message.body).where(Message.user_id == user.id).order_by(Message.id)))


def event(case: Case, action: str) -> CaseEvent:
    return next(e for e in reversed(case.events) if e.action == action)


# ---------------------------------------------------------------------------------------------- sweep


@pytest.mark.parametrize(
    ("due_in", "expected"),
    [
        (5 * HOUR, set()),
        (4 * HOUR, {"due_soon"}),
        (dt.timedelta(minutes=1), {"due_soon"}),
        (dt.timedelta(0), {"overdue"}),
        (-24 * HOUR, {"overdue"}),
        (-24 * HOUR - dt.timedelta(seconds=1), {"overdue", "escalated"}),
    ],
    ids=["5h left", "4h left", "1min left", "due now", "24h late", "over 24h late"],
)
def test_one_sweep_notices_by_how_late_a_case_is(
    session: Session, resident, due_in: dt.timedelta, expected: set[str]
) -> None:
    user, _ = resident
    case = xujing_case(session, user, sign_due_at=NOW + due_in, now=NOW - 48 * HOUR)
    assert kinds(sweep(session, NOW), case) == expected
    assert kinds(sweep(session, NOW), case) == set()  # the same instant again changes nothing
    assert {n.kind for n in notices(session, case)} == expected
    assert len(notices(session, case)) == len(expected)


@pytest.mark.parametrize("setup", ["returned", "no squad", "withdrawn", "resolved"])
def test_cases_out_of_the_squads_hands_are_not_swept(session: Session, resident, setup: str) -> None:
    user, _ = resident
    xujing = staff(session, Role.OFFICER, "xujing")
    if setup == "no squad":
        case = report(session, user, category="group_rental", address="某路123号", now=NOW - 48 * HOUR)
    else:
        case = xujing_case(session, user, sign_due_at=NOW - 30 * HOUR, now=NOW - 48 * HOUR)
    if setup == "returned":
        transition(session, case, "return", xujing, reason="不属本辖区", now=NOW - 47 * HOUR)
    elif setup == "withdrawn":
        withdraw_case(session, case, user, now=NOW - 47 * HOUR)
    elif setup == "resolved":
        for name, extra in [
            ("sign", {}),
            ("investigate", {}),
            ("verify", {}),
            ("resolve", {"public_reply": "已拆除"}),
        ]:
            transition(session, case, name, xujing, now=NOW - 47 * HOUR, **extra)
    assert case.due_at is None or case.due_at < NOW
    assert kinds(sweep(session, NOW), case) == set()
    # nothing for a squad; a case still in triage owes the bureau its on-site clock (tested below)
    assert [n for n in notices(session, case) if not n.for_bureau] == []
    assert not is_overdue(case, NOW)


# hours after NOW at which the sweep runs, and what it should notice; the case is due at NOW + 6h
WALK = [
    (0, set()),
    (2, {"due_soon"}),  # exactly four hours left
    (2, set()),
    (5.99, set()),
    (6, {"overdue"}),
    (6, set()),
    (30, set()),  # overdue exactly 24 hours: not longer yet
    (30.01, {"escalated"}),
    (30.01, set()),
    (100, set()),
]


def test_a_case_walks_from_due_soon_to_overdue_to_escalated_once_each(session: Session, resident) -> None:
    user, _ = resident
    case = xujing_case(session, user, sign_due_at=NOW + 6 * HOUR)
    told_before = messages(session, user)
    for hours, expected in WALK:
        assert kinds(sweep(session, NOW + hours * HOUR), case) == expected, f"{hours}h after NOW"

    xujing = squad(session, "xujing").id
    assert [(n.kind, n.squad_id, n.for_bureau) for n in notices(session, case)] == [
        ("due_soon", xujing, False),
        ("overdue", xujing, False),
        ("escalated", None, True),
    ]
    due_soon, overdue, escalated = notices(session, case)
    assert due_soon.text == f"工单 {case.tracking_no} 的签收时限将于 11月26日 16:00 到期"
    assert "已超过签收时限（11月26日 16:00）" in overdue.text
    assert escalated.text.startswith(f"徐泾中队工单 {case.tracking_no}") and "已逾 24 小时" in escalated.text
    assert case.due_soon_noticed_at == NOW + 2 * HOUR
    assert case.overdue_noticed_at == NOW + 6 * HOUR
    assert case.escalated_at == NOW + 30.01 * HOUR

    internal = [
        (e.action, e.public, e.actor_kind) for e in case.events if e.action in {"overdue", "escalated"}
    ]
    assert internal == [("overdue", False, "system"), ("escalated", False, "system")]
    assert audit_actions(session, case)[-3:] == ["case.due_soon", "case.overdue", "case.escalated"]
    assert messages(session, user) == told_before  # the reporter hears nothing of this


def test_a_later_deadline_of_the_next_stage_gets_its_own_notices(session: Session, resident) -> None:
    user, _ = resident
    xujing = staff(session, Role.OFFICER, "xujing")
    case = xujing_case(session, user, sign_due_at=NOW + 6 * HOUR)
    assert kinds(sweep(session, NOW + 2 * HOUR), case) == {"due_soon"}
    assert kinds(sweep(session, NOW + 6 * HOUR), case) == {"overdue"}
    transition(session, case, "sign", xujing, now=NOW + 7 * HOUR)
    # once signed, the stage is handling (being on site is a clock of its own)
    handle_due = case.handle_due_at
    assert case.due_at == handle_due == add_working_days(NOW + 7 * HOUR, 15)
    assert kinds(sweep(session, NOW + 8 * HOUR), case) == set()  # no longer overdue
    assert kinds(sweep(session, handle_due - DUE_SOON - HOUR), case) == set()
    assert kinds(sweep(session, handle_due - DUE_SOON), case) == {"due_soon"}
    assert kinds(sweep(session, handle_due), case) == {"overdue"}
    assert kinds(sweep(session, handle_due + ESCALATE_AFTER + HOUR), case) == {"escalated"}
    assert [n.kind for n in notices(session, case)] == [
        "due_soon",
        "overdue",
        "due_soon",
        "overdue",
        "escalated",
    ]
    local = handle_due.astimezone(SHANGHAI)
    assert f"办结时限将于 {local.month}月{local.day}日 {local:%H:%M} 到期" in notices(session, case)[2].text


def test_the_sweep_command_reads_the_apps_clock(
    app, cli_runner, session: Session, resident, monkeypatch
) -> None:
    user, _ = resident
    case = xujing_case(session, user, sign_due_at=NOW + 3 * HOUR)
    monkeypatch.setitem(app.extensions, "clock", MovableClock(NOW))
    result = cli_runner.invoke(cases_group, ["sweep"])
    assert result.exit_code == 0, result.output
    assert re.fullmatch(
        r"deadline sweep: [1-9]\d* due soon, \d+ overdue, \d+ escalated; "
        r"on site: \d+ due soon, \d+ overdue, \d+ escalated\n",
        result.output,
    )
    session.refresh(case)
    assert case.due_soon_noticed_at == NOW
    again = cli_runner.invoke(cases_group, ["sweep"])  # the same instant: nothing new, for any case
    assert again.output == (
        "deadline sweep: 0 due soon, 0 overdue, 0 escalated; on site: 0 due soon, 0 overdue, 0 escalated\n"
    )


# ---------------------------------------------------------------------------------------------- lists


def test_overdue_and_due_today_lists(session: Session, resident) -> None:
    user, _ = resident
    late = xujing_case(session, user, sign_due_at=NOW - 2 * HOUR, now=NOW - 30 * HOUR)
    today = xujing_case(session, user, sign_due_at=NOW + 3 * HOUR, now=NOW - 30 * HOUR)
    tomorrow = xujing_case(session, user, sign_due_at=NOW + 20 * HOUR, now=NOW - 30 * HOUR)
    elsewhere = report(
        session,
        user,
        category="garbage_sorting",
        estate_id=estate(session, "宜达新居").id,
        description="垃圾房旁边天天有人乱扔垃圾袋",
        now=NOW - 30 * HOUR,
    )
    elsewhere.sign_due_at = NOW - 5 * HOUR
    refresh_due_at(elsewhere)
    session.flush()
    mine = {late.id, today.id, tomorrow.id, elsewhere.id}
    xujing = squad(session, "xujing").id

    assert [c.id for c in overdue_cases(session, NOW, squad_id=xujing) if c.id in mine] == [late.id]
    assert [c.id for c in overdue_cases(session, NOW) if c.id in mine] == [elsewhere.id, late.id]
    assert [c.id for c in due_today(session, NOW, squad_id=xujing) if c.id in mine] == [late.id, today.id]
    assert [is_overdue(c, NOW) for c in (late, today, tomorrow, elsewhere)] == [True, False, False, True]


# ---------------------------------------------------------------------------------------- extensions


def handling_case(session: Session, user, handle_due_at: dt.datetime) -> tuple[Case, Actor]:
    """A case 徐泾中队 is investigating, due to be handled at `handle_due_at`."""
    monday = dt.datetime(2026, 9, 14, 9, 0, tzinfo=SHANGHAI)
    officer = staff(session, Role.OFFICER, "xujing")
    case = report(
        session, user, category="illegal_construction", estate_id=estate(session, "康虹花园").id, now=monday
    )
    transition(session, case, "sign", officer, now=monday + HOUR)
    transition(session, case, "investigate", officer, now=monday + 2 * HOUR)
    case.handle_due_at = handle_due_at
    refresh_due_at(case)
    session.flush()
    return case, officer


def test_an_approved_extension_moves_the_deadline_across_national_day(session: Session, resident) -> None:
    user, _ = resident
    case, officer = handling_case(session, user, HOLIDAY_EVE)
    bureau = staff(session, Role.SUPERVISOR)
    assert kinds(sweep(session, HOLIDAY_EVE + HOUR), case) == {"overdue"}

    extension = request_extension(
        session, case, officer, 3, "当事人出国，国庆后回沪配合调查", HOLIDAY_EVE + 1.5 * HOUR
    )
    assert (extension.status, extension.requested_by, extension.working_days) == ("pending", officer.id, 3)
    requested = event(case, "extension_requested")
    assert not requested.public and requested.note == "当事人出国，国庆后回沪配合调查"
    to_bureau = notices(session, case)[-1]
    assert (to_bureau.kind, to_bureau.for_bureau, to_bureau.squad_id) == ("extension_requested", True, None)
    assert "延期 3 个工作日" in to_bureau.text
    told_before = messages(session, user)

    decide_extension(session, extension, bureau, True, HOLIDAY_EVE + 2 * HOUR, note="同意")
    # 8, 9 October and the make-up Saturday 10 October are the three working days
    assert case.handle_due_at == case.due_at == dt.datetime(2026, 10, 10, 15, 0, tzinfo=SHANGHAI)
    assert (case.due_soon_noticed_at, case.overdue_noticed_at, case.escalated_at) == (None, None, None)
    assert (extension.status, extension.decided_by) == ("approved", bureau.id)
    approved = event(case, "extension_approved")
    assert approved.public and approved.actor_id == bureau.id
    assert "出国" not in approved.note
    new_messages = messages(session, user)[len(told_before) :]
    assert new_messages == [public_text(case, approved)]  # the reporter learns only that the deadline moved
    assert "出国" not in new_messages[0]
    to_squad = notices(session, case)[-1]
    assert (to_squad.kind, to_squad.squad_id) == ("extension_approved", squad(session, "xujing").id)
    assert "延至 10月10日 15:00" in to_squad.text

    assert kinds(sweep(session, dt.datetime(2026, 10, 10, 11, 0, tzinfo=SHANGHAI)), case) == {"due_soon"}
    assert kinds(sweep(session, dt.datetime(2026, 10, 10, 15, 0, tzinfo=SHANGHAI)), case) == {"overdue"}
    assert audit_actions(session, case)[-5:] == [
        "case.overdue",
        "case.extension_requested",
        "case.extension_approved",
        "case.due_soon",
        "case.overdue",
    ]


def test_an_extension_to_sign_moves_the_signing_and_the_handling_deadlines(
    session: Session, resident
) -> None:
    user, _ = resident
    case = xujing_case(session, user, sign_due_at=HOLIDAY_EVE, now=HOLIDAY_EVE - 24 * HOUR)
    handle_before = case.handle_due_at
    leader = staff(session, Role.SQUAD_LEADER, "xujing")
    extension = request_extension(session, case, leader, 1, "中队全员参加防汛保障", HOLIDAY_EVE - HOUR)
    decide_extension(session, extension, staff(session, Role.ADMIN), True, HOLIDAY_EVE - HOUR)
    assert case.sign_due_at == case.due_at == dt.datetime(2026, 10, 8, 15, 0, tzinfo=SHANGHAI)
    assert case.handle_due_at == add_working_days(handle_before, 1)


def test_a_rejected_extension_changes_no_deadline_and_tells_only_the_squad(
    session: Session, resident
) -> None:
    user, _ = resident
    case, officer = handling_case(session, user, HOLIDAY_EVE)
    bureau = staff(session, Role.SUPERVISOR)
    extension = request_extension(session, case, officer, 5, "需要补充材料", HOLIDAY_EVE - 3 * HOUR)
    with pytest.raises(Conflict):
        request_extension(session, case, officer, 2, "再申请一次", HOLIDAY_EVE - 2 * HOUR)
    told_before = messages(session, user)

    decide_extension(session, extension, bureau, False, HOLIDAY_EVE - HOUR, note="材料已齐，请按期办结")
    assert extension.status == "rejected"
    assert case.due_at == HOLIDAY_EVE
    rejected = event(case, "extension_rejected")
    assert not rejected.public and rejected.note == "材料已齐，请按期办结"
    assert messages(session, user) == told_before
    assert notices(session, case)[-1].kind == "extension_rejected"
    assert "case.extension_rejected" in audit_actions(session, case)
    with pytest.raises(Conflict):
        decide_extension(session, extension, bureau, True, HOLIDAY_EVE)
    again = request_extension(session, case, officer, 2, "当事人拒不配合，需申请强制措施", HOLIDAY_EVE)
    assert again.status == "pending"


@pytest.mark.parametrize(
    "who",
    ["officer of another squad", "leader of another squad", "reporter", "supervisor", "admin", "editor"],
)
def test_only_the_cases_squad_may_ask_for_an_extension(session: Session, resident, who: str) -> None:
    user, _ = resident
    case, _officer = handling_case(session, user, HOLIDAY_EVE)
    actor = {
        "officer of another squad": lambda: staff(session, Role.OFFICER, "xiayang"),
        "leader of another squad": lambda: staff(session, Role.SQUAD_LEADER, "zhaoxiang"),
        "reporter": lambda: Actor(Role.RESIDENT, user.id, "居民"),
        "supervisor": lambda: staff(session, Role.SUPERVISOR),
        "admin": lambda: staff(session, Role.ADMIN),
        "editor": lambda: staff(session, Role.EDITOR),
    }[who]()
    with pytest.raises(Forbidden):
        request_extension(session, case, actor, 3, "理由", HOLIDAY_EVE)
    assert notices(session, case) == []


@pytest.mark.parametrize("role", [Role.OFFICER, Role.SQUAD_LEADER, Role.RESIDENT])
def test_only_the_bureau_decides_an_extension(session: Session, resident, role: Role) -> None:
    user, _ = resident
    case, officer = handling_case(session, user, HOLIDAY_EVE)
    extension = request_extension(session, case, officer, 3, "理由", HOLIDAY_EVE - HOUR)
    actor = Actor(role, user.id, "居民") if role is Role.RESIDENT else staff(session, role, "xujing")
    with pytest.raises(Forbidden):
        decide_extension(session, extension, actor, True, HOLIDAY_EVE)
    assert extension.status == "pending" and case.due_at == HOLIDAY_EVE


@pytest.mark.parametrize(
    ("working_days", "reason", "field"),
    [
        (0, "理由", "working_days"),
        (31, "理由", "working_days"),
        (True, "理由", "working_days"),
        (3, "  ", "reason"),
    ],
)
def test_an_extension_needs_1_to_30_working_days_and_a_reason(
    session: Session, resident, working_days: int, reason: str, field: str
) -> None:
    user, _ = resident
    case, officer = handling_case(session, user, HOLIDAY_EVE)
    with pytest.raises(ValidationFailed) as err:
        request_extension(session, case, officer, working_days, reason, HOLIDAY_EVE)
    assert err.value.errors[0].field == field


def test_no_extension_once_a_case_is_resolved(session: Session, resident) -> None:
    user, _ = resident
    case, officer = handling_case(session, user, HOLIDAY_EVE)
    pending = request_extension(session, case, officer, 3, "理由", HOLIDAY_EVE - 3 * HOUR)
    transition(session, case, "verify", officer, now=HOLIDAY_EVE - 2 * HOUR)
    transition(session, case, "resolve", officer, public_reply="已拆除", now=HOLIDAY_EVE - HOUR)
    with pytest.raises(Conflict):
        request_extension(session, case, officer, 3, "理由", HOLIDAY_EVE)
    with pytest.raises(Conflict):
        decide_extension(session, pending, staff(session, Role.SUPERVISOR), True, HOLIDAY_EVE)
    decide_extension(session, pending, staff(session, Role.SUPERVISOR), False, HOLIDAY_EVE, note="已办结")
    assert pending.status == "rejected"


# ------------------------------------------------------------------------------- urging and supervising


def test_the_bureau_urges_and_supervises_and_the_squad_is_told(session: Session, resident) -> None:
    user, _ = resident
    case, _officer = handling_case(session, user, HOLIDAY_EVE)
    bureau = staff(session, Role.SUPERVISOR)
    told_before = messages(session, user)

    urge_case(session, case, bureau, "请于今日反馈进展", HOLIDAY_EVE - 3 * HOUR)
    urge_case(session, case, bureau, "", HOLIDAY_EVE - 2 * HOUR)
    supervise_case(session, case, bureau, "重点小区，区局挂牌督办", HOLIDAY_EVE - HOUR)
    with pytest.raises(Conflict):
        supervise_case(session, case, bureau, "", HOLIDAY_EVE)

    assert case.urge_count == 2 and case.supervised
    xujing = squad(session, "xujing").id
    assert [(n.kind, n.squad_id, n.for_bureau) for n in notices(session, case)] == [
        ("urged", xujing, False),
        ("urged", xujing, False),
        ("supervised", xujing, False),
    ]
    assert notices(session, case)[0].text == f"区局催办工单 {case.tracking_no}（第 1 次）：请于今日反馈进展"
    assert notices(session, case)[1].text == f"区局催办工单 {case.tracking_no}（第 2 次）"
    events = [(e.action, e.public, e.actor_id) for e in case.events if e.action in {"urged", "supervised"}]
    assert events == [
        ("urged", False, bureau.id),
        ("urged", False, bureau.id),
        ("supervised", False, bureau.id),
    ]
    assert audit_actions(session, case)[-3:] == ["case.urged", "case.urged", "case.supervised"]
    assert messages(session, user) == told_before


@pytest.mark.parametrize("role", [Role.OFFICER, Role.SQUAD_LEADER, Role.RESIDENT, Role.EDITOR])
@pytest.mark.parametrize("act", [urge_case, supervise_case], ids=["urge", "supervise"])
def test_only_the_bureau_urges_or_supervises(session: Session, resident, role: Role, act) -> None:
    user, _ = resident
    case, _officer = handling_case(session, user, HOLIDAY_EVE)
    if role is Role.RESIDENT:
        actor = Actor(role, user.id, "居民")
    else:
        actor = staff(session, role, "xujing" if role in {Role.OFFICER, Role.SQUAD_LEADER} else None)
    with pytest.raises(Forbidden):
        act(session, case, actor, "快点", HOLIDAY_EVE)
    assert (case.urge_count, case.supervised, notices(session, case)) == (0, False, [])


def test_no_urging_a_closed_case(session: Session, resident) -> None:
    user, _ = resident
    case = xujing_case(session, user, sign_due_at=NOW + HOUR)
    withdraw_case(session, case, user, now=NOW)
    with pytest.raises(Conflict):
        urge_case(session, case, staff(session, Role.SUPERVISOR), "", NOW)
