"""Case services: filing, routing, numbering, deadlines, the life of a case and who may move it."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.cases.models import CaseStatus, Priority
from backend.cases.services.filing import ReportInput, submit_report
from backend.cases.services.life import add_note, rate_case, support_case, transition, withdraw_case
from backend.cases.services.reads import find_similar, open_case_for_triage
from backend.cases.workflow import Actor, IllegalTransition, Role
from backend.errors import Forbidden, RateLimited, ValidationFailed
from backend.messages.models import Message
from backend.workcalendar import SHANGHAI
from tests.support.accounts import make_resident
from tests.support.cases import NOW, estate, officer, report, squad


def test_a_report_on_an_estate_is_routed_to_its_squad_and_dispatched(session: Session, resident) -> None:
    user, _ = resident
    case = report(session, user, category="illegal_construction", estate_id=estate(session, "康虹花园").id)
    assert case.tracking_no == f"QP{NOW:%Y%m%d}-{int(case.tracking_no[-4:]):04d}"
    assert case.squad.name == "徐泾中队" and case.town.name == "徐泾镇"
    assert case.status == CaseStatus.DISPATCHED
    assert [(e.action, e.to_status) for e in case.events] == [
        ("submit", "submitted"),
        ("dispatch", "dispatched"),
    ]
    assert case.priority == Priority.HIGH  # a key estate
    assert case.address == "沪青平公路1358弄"
    assert case.category_confirmed


def test_deadlines_use_clock_hours_on_site_and_working_days_otherwise(session: Session, resident) -> None:
    user, _ = resident
    friday = dt.datetime(2026, 9, 30, 15, 0, tzinfo=SHANGHAI)  # the eve of National Day
    case = report(
        session,
        user,
        category="illegal_construction",
        estate_id=estate(session, "宜达新居").id,
        in_progress=True,
        now=friday,
    )
    assert case.priority == Priority.URGENT
    assert case.onsite_due_at == friday + dt.timedelta(hours=2)
    assert case.sign_due_at == dt.datetime(2026, 10, 8, 15, 0, tzinfo=SHANGHAI)
    assert case.handle_due_at == dt.datetime(
        2026, 10, 28, 15, 0, tzinfo=SHANGHAI
    )  # 1 + 15 working days, 10 Oct included
    calm = report(
        session,
        user,
        category="garbage_sorting",
        estate_id=estate(session, "宜达新居").id,
        description="垃圾房旁边天天有人乱扔垃圾袋",
        now=friday,
    )
    assert calm.onsite_due_at == friday + dt.timedelta(hours=24)
    assert calm.priority == Priority.HIGH


def test_no_town_goes_to_the_bureau_triage_queue(session: Session, resident) -> None:
    user, _ = resident
    case = report(
        session,
        user,
        category="group_rental",
        address="某路123号 3楼",
        description="隔壁房子隔成了十几间出租",
    )
    assert case.status == CaseStatus.SUBMITTED and case.squad is None
    assert case in open_case_for_triage(session)
    bureau = Actor(Role.SUPERVISOR, 1, "区局")
    transition(session, case, "dispatch", bureau, squad=squad(session, "zhaoxiang"))
    assert (case.status, case.squad.name, case.town.name) == (CaseStatus.DISPATCHED, "赵巷中队", "赵巷镇")


def test_address_with_a_town_is_routed_by_the_town(session: Session, resident) -> None:
    user, _ = resident
    case = report(
        session,
        user,
        category="garbage_sorting",
        address="华新镇某村",
        town="华新",
        description="村口垃圾桶旁边堆满了垃圾",
    )
    assert case.squad.name == "华新中队"


def test_missing_category_is_suggested_and_flagged(session: Session, resident) -> None:
    user, _ = resident
    case = report(
        session,
        user,
        estate_id=estate(session, "宜达新居").id,
        description="楼下邻居把承重墙拆掉了，楼上都裂缝了",
    )
    assert case.category.code == "structural_damage"
    assert not case.category_confirmed
    assert case in open_case_for_triage(session)
    unknown = report(
        session, user, estate_id=estate(session, "宜达新居").id, description="有个情况想反映一下请来看看"
    )
    assert unknown.category is None and not unknown.category_confirmed


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"category": "out_of_scope"}, "category"),
        ({"category": "no_such_code"}, "category"),
        ({"estate_id": 999999}, "estate_id"),
        ({"estate_id": None, "address": ""}, "address"),
        ({"estate_id": None, "address": "某路1号", "town": "火星镇"}, "town"),
        ({"photo_ids": ["0" * 32]}, "photos"),
    ],
)
def test_invalid_reports_name_the_field(session: Session, resident, fields: dict, field: str) -> None:
    user, _ = resident
    data = {"description": "楼顶有人在搭建阳光房", "estate_id": estate(session, "宜达新居").id, **fields}
    with pytest.raises(ValidationFailed) as err:
        submit_report(session, user, ReportInput(**data), now=NOW)
    assert err.value.errors[0].field == field


def test_the_same_client_request_id_returns_the_first_case(session: Session, resident) -> None:
    user, _ = resident
    data = ReportInput(
        description="楼顶有人在搭建阳光房",
        estate_id=estate(session, "宜达新居").id,
        client_request_id="req-0001",
    )
    first, created = submit_report(session, user, data, now=NOW)
    again, created_again = submit_report(session, user, data, now=NOW)
    assert created and not created_again and again.id == first.id
    other, _ = make_resident(session, "other")
    theirs, created_theirs = submit_report(session, other, data, now=NOW)
    assert created_theirs and theirs.id != first.id


def test_daily_limit(session: Session, resident) -> None:
    user, _ = resident
    home = estate(session, "宜达新居").id
    for i in range(3):
        submit_report(
            session,
            user,
            ReportInput(
                description=f"第{i}次反映楼顶搭建问题", estate_id=home, client_request_id=f"r-{i:06d}"
            ),
            daily_limit=3,
            now=NOW,
        )
    _replay, created = submit_report(
        session,
        user,
        ReportInput(description="第0次反映楼顶搭建问题", estate_id=home, client_request_id="r-000000"),
        daily_limit=3,
        now=NOW,
    )
    assert not created
    with pytest.raises(RateLimited):
        submit_report(
            session,
            user,
            ReportInput(description="第4次反映楼顶搭建问题", estate_id=home),
            daily_limit=3,
            now=NOW,
        )
    tomorrow = NOW + dt.timedelta(days=1)
    submit_report(
        session,
        user,
        ReportInput(description="第二天再反映一次问题", estate_id=home),
        daily_limit=3,
        now=tomorrow,
    )


def test_tracking_numbers_count_per_shanghai_day(session: Session, resident) -> None:
    user, _ = resident
    home = estate(session, "宜达新居").id
    day = dt.datetime(2031, 5, 6, 23, 30, tzinfo=SHANGHAI)
    a = report(session, user, estate_id=home, now=day)
    b = report(session, user, estate_id=home, now=day + dt.timedelta(minutes=20))
    c = report(session, user, estate_id=home, now=day + dt.timedelta(minutes=40))  # 00:10 next day
    assert [a.tracking_no, b.tracking_no, c.tracking_no] == [
        "QP20310506-0001",
        "QP20310506-0002",
        "QP20310507-0001",
    ]


def test_the_whole_life_of_a_case(session: Session, resident) -> None:
    user, _ = resident
    case = report(session, user, category="illegal_construction", estate_id=estate(session, "康虹花园").id)
    xujing = officer(session, "xujing")
    transition(session, case, "sign", xujing, now=NOW + dt.timedelta(hours=1))
    assert case.signed_at is not None
    assert case.handle_due_at == dt.datetime(
        2026, 12, 17, 11, 0, tzinfo=SHANGHAI
    )  # 15 working days from signing
    transition(session, case, "investigate", xujing)
    add_note(session, case, xujing, "现场拍照取证，业主不在家")
    transition(session, case, "verify", xujing)
    transition(
        session,
        case,
        "handle",
        xujing,
        action="order_rectification",
        deadline="2026-12-05",
        now=NOW + dt.timedelta(hours=2),
    )
    transition(session, case, "resolve", xujing, public_reply="违法搭建的阳光房已于今日拆除。")
    assert case.status == CaseStatus.RESOLVED and case.public_reply == "违法搭建的阳光房已于今日拆除。"
    rate_case(session, case, user, "satisfied")
    assert case.status == CaseStatus.CLOSED and case.closed_at is not None
    actions = [e.action for e in case.events]
    assert actions == [
        "submit",
        "dispatch",
        "sign",
        "investigate",
        "note",
        "verify",
        "duty_check",  # the estate's company checked once the case proved true
        "handle",
        "resolve",
        "rate",
    ]
    note = next(e for e in case.events if e.action == "note")
    assert not note.public
    messages = session.scalars(select(Message).where(Message.user_id == user.id)).all()
    assert all("现场拍照" not in m.body for m in messages)
    assert any("已于今日拆除" in m.body for m in messages)


def test_unsatisfied_reopens_once(session: Session, resident) -> None:
    user, _ = resident
    case = report(
        session,
        user,
        category="garbage_sorting",
        estate_id=estate(session, "宜达新居").id,
        description="垃圾房旁边天天有人乱扔垃圾袋",
    )
    xiayang = officer(session, "xiayang")
    for name, extra in [
        ("sign", {}),
        ("investigate", {}),
        ("verify", {}),
        ("resolve", {"public_reply": "已督促整改"}),
    ]:
        transition(session, case, name, xiayang, **extra)
    rate_case(session, case, user, "unsatisfied", "还是有人乱扔")
    assert case.status == CaseStatus.HANDLING and case.reopen_count == 1
    transition(session, case, "resolve", xiayang, public_reply="已安排专人值守垃圾房")
    rate_case(session, case, user, "unsatisfied")
    assert case.status == CaseStatus.CLOSED


def test_illegal_transitions_and_wrong_actors_are_refused(session: Session, resident) -> None:
    user, _ = resident
    case = report(session, user, category="illegal_construction", estate_id=estate(session, "康虹花园").id)
    with pytest.raises(IllegalTransition):
        transition(session, case, "resolve", officer(session, "xujing"), public_reply="x")
    with pytest.raises(Forbidden):
        transition(session, case, "sign", officer(session, "xiayang"))  # another squad
    with pytest.raises(Forbidden):
        transition(session, case, "sign", Actor(Role.RESIDENT, user.id))
    with pytest.raises(Forbidden):
        transition(session, case, "sign", Actor(Role.SUPERVISOR, 1))
    transition(session, case, "sign", officer(session, "xujing", Role.SQUAD_LEADER))
    with pytest.raises(IllegalTransition):
        withdraw_case(session, case, user)  # too late once signed
    transition(session, case, "investigate", officer(session, "xujing"))
    with pytest.raises(ValidationFailed):
        transition(session, case, "mark_unfounded", officer(session, "xujing"))  # needs a reason
    assert case.status == CaseStatus.INVESTIGATING


def test_withdraw_before_signing(session: Session, resident) -> None:
    user, _ = resident
    case = report(session, user, category="illegal_construction", estate_id=estate(session, "康虹花园").id)
    other, _ = make_resident(session, "stranger")
    with pytest.raises(Forbidden):
        withdraw_case(session, case, other)
    withdraw_case(session, case, user, "问题已解决")
    assert case.status == CaseStatus.WITHDRAWN


def test_similar_cases_same_building_first_and_supporters_follow(session: Session, resident) -> None:
    user, _ = resident
    home = estate(session, "新华联雅苑").id
    a = report(
        session,
        user,
        category="group_rental",
        estate_id=home,
        building="5",
        description="5号楼有一套房子隔成了很多间出租",
    )
    b = report(
        session,
        user,
        category="group_rental",
        estate_id=home,
        building="7",
        description="7号楼也有群租，人进进出出很多",
    )
    report(
        session,
        user,
        category="garbage_sorting",
        estate_id=home,
        building="5",
        description="5号楼下垃圾乱扔没人管理",
    )
    similar = find_similar(session, estate_id=home, category="group_rental", building="7")
    assert [c.id for c in similar][:2] == [b.id, a.id]
    neighbour, _ = make_resident(session, "neighbour")
    assert support_case(session, a, neighbour) is True
    assert support_case(session, a, neighbour) is False
    assert a.supporter_count == 1
    transition(session, a, "sign", officer(session, "zhaoxiang"))
    bodies = session.scalars(select(Message.body).where(Message.user_id == neighbour.id)).all()
    assert bodies == ["已签收"]


def test_a_redispatched_case_gets_a_fresh_signing_deadline(session: Session, resident) -> None:
    user, _ = resident
    case = report(session, user, category="illegal_construction", estate_id=estate(session, "康虹花园").id)
    transition(
        session,
        case,
        "return",
        officer(session, "xujing"),
        reason="不属本辖区",
        now=NOW + dt.timedelta(hours=1),
    )
    later = NOW + dt.timedelta(days=4)  # Monday 30 November
    transition(
        session,
        case,
        "dispatch",
        Actor(Role.SUPERVISOR, 1, "区局"),
        squad=squad(session, "huaxin"),
        now=later,
    )
    assert case.sign_due_at == dt.datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI)
    assert case.due_at == case.sign_due_at


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"action": "order_rectification", "deadline": "abc"}, "deadline", "整改期限应为日期，如 2026-12-31"),
        ({"action": "order_rectification", "deadline": "2026-11-01"}, "deadline", "整改期限不能早于今天"),
        (
            {"action": "penalty", "decision_no": "青城管罚〔2026〕3号", "amount": "nan"},
            "amount",
            "处罚需填写罚款金额",
        ),
        (
            {"action": "penalty", "decision_no": "青城管罚〔2026〕3号", "amount": "inf"},
            "amount",
            "处罚需填写罚款金额",
        ),
        (
            {"action": "penalty", "decision_no": "青城管罚〔2026〕3号", "amount": "-5"},
            "amount",
            "处罚需填写罚款金额",
        ),
    ],
)
def test_handling_refuses_dates_and_amounts_that_are_not_real(
    session: Session, resident, fields: dict, field: str, message: str
) -> None:
    user, _ = resident
    case = report(session, user, category="illegal_construction", estate_id=estate(session, "康虹花园").id)
    xujing = officer(session, "xujing")
    for name in ("sign", "investigate", "verify"):
        transition(session, case, name, xujing, now=NOW)
    with pytest.raises(ValidationFailed) as refused:
        transition(session, case, "handle", xujing, now=NOW, **fields)
    assert refused.value.message == message and refused.value.errors[0].field == field
    assert case.status == CaseStatus.VERIFIED
