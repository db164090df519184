"""Patrols and their findings (上海市住宅物业管理规定 第五十九条): a finding reported becomes a routed case at
once; one dissuaded and not put right within 24 hours of the injected clock becomes one at the sweep; one put
right in time never does; a patrol filed late keeps its time; another company sees and touches nothing."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from typing import get_args

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.audit.models import AuditEntry
from backend.cases.models import Case, CaseEvent, CasePhoto, PhotoKind, TrackingCounter
from backend.cases.services.timeline import photos_for_resident
from backend.cases.workflow import SYSTEM, Actor, Role
from backend.clock import MovableClock
from backend.errors import Conflict, Forbidden, NotFound, ValidationFailed
from backend.org.models import Estate, PropertyCompany
from backend.property.cli import property_group
from backend.property.models import (
    EstateManagement,
    FindingAction,
    Patrol,
    PatrolFinding,
    Renovation,
    RenovationStatus,
)
from backend.property.patrols import (
    FINDING_CATEGORIES,
    FindingInput,
    PatrolInput,
    file_overdue_findings,
    file_patrol,
    finding_photo,
    get_patrol,
    list_patrols,
    rectify_finding,
    report_finding,
    view_patrol,
)
from backend.staff.services import staff_actor
from backend.taxonomy.services import InScopeCategory
from backend.uploads.models import Upload
from backend.workcalendar import SHANGHAI
from tests.support.accounts import make_resident
from tests.support.cleanup import purge_users
from tests.support.property import bind, estate_named, make_company, make_property_staff

NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)  # a Thursday
HOUR, MINUTE = dt.timedelta(hours=1), dt.timedelta(minutes=1)
COMPANY = "青浦佳园物业服务有限公司"


class Company:
    """A company managing 康虹花园 (徐泾) and 宜达新居 (夏阳), a staff member bound to a WeChat user."""

    def __init__(
        self, session: Session, name: str = COMPANY, estates: tuple[str, ...] = ("康虹花园", "宜达新居")
    ):
        self.session = session
        self.company = make_company(session, name, list(estates))
        self.staff = make_property_staff(session, self.company, name="巡查员小王")
        self.user, self.token = bind(session, self.staff)
        self.actor = staff_actor(self.staff)

    def photo(self, owner: User | None = None) -> str:
        upload = Upload(
            id=uuid.uuid4().hex,
            owner_id=(owner or self.user).id,
            blob_key="k.png",
            content_type="image/png",
            size=1,
            width=1,
            height=1,
        )
        self.session.add(upload)
        self.session.flush()
        return upload.id

    def patrol(
        self, *findings: FindingInput, at: dt.datetime | None = NOW, now: dt.datetime = NOW, **kw
    ) -> Patrol:
        data = PatrolInput(
            estate_id=estate_named(self.session, kw.pop("estate", "康虹花园")).id,
            areas=kw.pop("areas", ["1-12号楼楼道", "屋顶平台"]),
            findings=list(findings),
            patrolled_at=at,
            **kw,
        )
        patrol, created = file_patrol(self.session, self.actor, data, now=now)
        assert created
        return patrol


def finding(action: str = "dissuaded", **kw) -> FindingInput:
    fields = {
        "category": "illegal_construction",
        "description": "业主在露台搭建彩钢板房，已劝阻",
        "building": "12",
        "unit": "2",
        "room": "1502",
        **kw,
    }
    return FindingInput(action=FindingAction(action), **fields)


def case_of(session: Session, f: PatrolFinding) -> Case:
    session.refresh(f)
    assert f.case_id is not None
    return session.get_one(Case, f.case_id)


def sweep(session: Session, now: dt.datetime) -> list[int]:
    filed, after = [], 0
    while True:
        batch = file_overdue_findings(session, now, after_id=after, limit=2)
        filed += batch.filed
        if batch.done:
            return filed
        after = batch.last_id


@pytest.fixture
def acme(session: Session) -> Company:
    return Company(session)


# ------------------------------------------------------------------------------- reported at once


def test_a_reported_finding_becomes_a_case_routed_by_its_estate_with_the_photos_staff_only(
    session: Session, acme: Company
) -> None:
    photos = [acme.photo(), acme.photo()]
    patrol = acme.patrol(
        finding("reported", photo_ids=photos), finding("dissuaded", building="3", unit="", room="")
    )
    reported, dissuaded = patrol.findings
    case = case_of(session, reported)

    assert case.source == "property_report" and case.source_detail == COMPANY
    assert case.squad.name == "徐泾中队" and case.status == "dispatched"  # routed by 康虹花园's town
    assert case.category_code == "illegal_construction" and case.category_confirmed
    assert case.reporter_id is None and (case.building, case.unit, case.room) == ("12", "2", "1502")
    assert case.description.startswith("【12号楼2单元1502室】业主在露台搭建彩钢板房，已劝阻")
    assert "发现并上报" in case.description
    assert case.created_at == NOW and case.onsite_due_at == NOW + 24 * HOUR  # 第七条, from the report
    assert [(p.upload_id, p.kind) for p in case.photos] == [(p, PhotoKind.PROPERTY) for p in photos]
    # no resident sees them, not even the staff member's own WeChat user who took them
    resident, _ = make_resident(session, "邻居")
    assert photos_for_resident(case, resident) == [] and photos_for_resident(case, acme.user) == []
    assert reported.reported_at == NOW and reported.found_at == NOW
    event = next(e for e in case.events if e.action == "property_report")
    assert not event.public and event.actor_id == acme.staff.id and COMPANY in event.actor_label
    audits = {a.action for a in session.scalars(select(AuditEntry).where(AuditEntry.at == NOW))}
    assert {"patrol.file", "case.property_report"} <= audits
    assert dissuaded.case_id is None and dissuaded.reported_at is None  # it has 24 hours


def test_construction_in_progress_in_the_staffs_words_gives_the_two_hour_clock(
    session: Session, acme: Company
) -> None:
    patrol = acme.patrol(finding("reported", description="12号楼楼顶正在搭建彩钢板房，工人还在施工"))
    case = case_of(session, patrol.findings[0])
    assert case.in_progress and case.onsite_due_at == NOW + 2 * HOUR


# ----------------------------------------------------------------------------- the 24-hour rule


def test_a_dissuaded_finding_not_put_right_becomes_a_case_after_24_hours_of_the_clock(
    app, cli_runner, session: Session, acme: Company, monkeypatch
) -> None:
    patrol = acme.patrol(finding("stopped", description="12号楼屋顶平台有人搭棚，已制止"))
    session.commit()
    f = patrol.findings[0]
    clock = MovableClock(NOW + 23 * HOUR + 59 * MINUTE)
    monkeypatch.setitem(app.extensions, "clock", clock)

    early = cli_runner.invoke(property_group, ["sweep"])
    assert early.exit_code == 0, early.output
    assert early.output == "property sweep: 0 findings not put right within 24 hours filed as cases\n"
    session.refresh(f)
    assert f.case_id is None

    clock.set(NOW + 24 * HOUR + MINUTE)
    due = cli_runner.invoke(property_group, ["sweep"])
    assert due.output == "property sweep: 1 findings not put right within 24 hours filed as cases\n"
    case = case_of(session, f)
    assert case.created_at == NOW + 24 * HOUR + MINUTE and f.reported_at == case.created_at
    assert case.onsite_due_at == case.created_at + 24 * HOUR  # the clock runs from the report
    assert "2026-11-26 10:00 发现并制止，超过 24 小时未整改" in case.description
    assert case.squad.name == "徐泾中队" and case.source == "property_report"
    event = next(e for e in case.events if e.action == "property_report")
    assert event.actor_kind == "system"

    again = cli_runner.invoke(property_group, ["sweep"])
    assert again.output == "property sweep: 0 findings not put right within 24 hours filed as cases\n"
    session.expire_all()
    assert session.scalar(select(Case.id).where(Case.external_ref == f"巡查发现{f.id}")) == case.id


def test_one_put_right_in_time_never_becomes_a_case(session: Session, acme: Company) -> None:
    patrol = acme.patrol(finding("dissuaded"), finding("rectified", building="5", unit="", room=""))
    dissuaded, rectified = patrol.findings
    assert rectified.rectified_at == NOW  # put right on the spot
    rectify_finding(session, acme.actor, dissuaded.id, now=NOW + 23 * HOUR)
    assert dissuaded.rectified_at == NOW + 23 * HOUR
    assert sweep(session, NOW + 48 * HOUR) == [] and sweep(session, NOW + 100 * HOUR) == []
    with pytest.raises(Conflict, match="已整改"):
        report_finding(session, acme.actor, dissuaded.id, now=NOW + 30 * HOUR)
    with pytest.raises(Conflict, match="已标记为已整改"):
        rectify_finding(session, acme.actor, dissuaded.id, now=NOW + 23 * HOUR)
    assert dissuaded.case_id is None and rectified.case_id is None


def test_past_24_hours_it_can_no_longer_be_marked_put_right_and_the_sweep_files_it(
    session: Session, acme: Company
) -> None:
    f = acme.patrol(finding("dissuaded")).findings[0]
    with pytest.raises(Conflict, match="超过 24 小时未整改") as refused:
        rectify_finding(session, acme.actor, f.id, now=NOW + 24 * HOUR + MINUTE)
    assert refused.value.code == "finding_overdue" and f.rectified_at is None
    assert sweep(session, NOW + 24 * HOUR + MINUTE) == [f.id]


def test_a_finding_that_became_a_case_cannot_be_marked_put_right(session: Session, acme: Company) -> None:
    f = acme.patrol(finding("reported")).findings[0]
    number = case_of(session, f).tracking_no
    with pytest.raises(Conflict, match=f"已上报为工单 {number}.*工单办理中跟进"):
        rectify_finding(session, acme.actor, f.id, now=NOW + HOUR)
    with pytest.raises(Conflict, match="已上报为工单"):
        report_finding(session, acme.actor, f.id, now=NOW + HOUR)


def test_the_company_reports_a_dissuaded_finding_itself_before_24_hours(
    session: Session, acme: Company
) -> None:
    f = acme.patrol(finding("dissuaded")).findings[0]
    case = report_finding(session, acme.actor, f.id, now=NOW + 2 * HOUR)
    assert case.created_at == NOW + 2 * HOUR and case.onsite_due_at == NOW + 26 * HOUR
    assert f.reported_at - f.found_at <= 24 * HOUR  # in time, as the duty cross-check reads it
    assert "劝阻无效" in case.description
    assert sweep(session, NOW + 30 * HOUR) == []


def test_a_patrol_filed_late_keeps_its_time_and_the_24_hours_run_from_it(
    session: Session, acme: Company
) -> None:
    filed_at = NOW
    old = acme.patrol(finding("dissuaded"), at=NOW - 30 * HOUR, now=filed_at)
    recent = acme.patrol(finding("dissuaded", building="7"), at=NOW - 10 * HOUR, now=filed_at)

    # dissuaded 30 hours ago and never put right: the rule ran out before it was filed, so it is filed at once
    f = old.findings[0]
    assert old.patrolled_at == NOW - 30 * HOUR and f.found_at == NOW - 30 * HOUR
    case = case_of(session, f)
    assert case.created_at == filed_at and case.onsite_due_at == filed_at + 24 * HOUR
    assert f.reported_at - f.found_at > 24 * HOUR  # late, as the duty cross-check reads it
    assert "2026-11-25 04:00 发现并劝阻，超过 24 小时未整改" in case.description
    assert view_patrol(session, acme.actor, old, filed_at).late

    # dissuaded 10 hours before it was filed: 14 more hours, not 24 from the filing
    g = recent.findings[0]
    assert sweep(session, NOW + 14 * HOUR - MINUTE) == []
    assert sweep(session, NOW + 14 * HOUR + MINUTE) == [g.id]


@pytest.mark.parametrize(
    ("at", "message"),
    [
        (NOW + 10 * MINUTE, "不能晚于现在"),
        (NOW - dt.timedelta(days=7, minutes=1), "只能补录 7 天内"),
        (dt.datetime(2026, 11, 26, 9, 0), "须注明时区"),
    ],
    ids=["future", "older-than-a-week", "no-timezone"],
)
def test_a_patrol_time_in_the_future_or_too_old_is_refused(
    session: Session, acme: Company, at: dt.datetime, message: str
) -> None:
    with pytest.raises(ValidationFailed, match=message) as refused:
        acme.patrol(finding(), at=at)
    assert refused.value.errors[0].field == "patrolled_at"


def test_a_phone_clock_a_little_ahead_is_now(session: Session, acme: Company) -> None:
    assert acme.patrol(at=NOW + 2 * MINUTE).patrolled_at == NOW


# -------------------------------------------------------------------------------------- the rules


def test_only_an_estate_the_company_managed_at_the_patrol_time(session: Session, acme: Company) -> None:
    other = Company(session, "另一家物业有限公司", ("新华联雅苑",))
    with pytest.raises(ValidationFailed, match="本公司管理的小区"):
        acme.patrol(finding(), estate="新华联雅苑")
    # 宜达新居 changed hands yesterday: a patrol of last week there is no longer this company's to file
    estate = estate_named(session, "宜达新居")
    spell = session.scalar(select(EstateManagement).where(EstateManagement.estate_id == estate.id))
    spell.ended_on = (NOW - 48 * HOUR).date()
    session.add(EstateManagement(estate=estate, company=other.company, started_on=(NOW - 24 * HOUR).date()))
    estate.property_company = other.company
    session.flush()
    assert acme.patrol(estate="宜达新居", at=NOW - 72 * HOUR).estate_id == estate.id
    with pytest.raises(ValidationFailed, match="巡查时本公司管理"):
        acme.patrol(estate="宜达新居", at=NOW - 2 * HOUR)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"category": "property_negligence"}, "findings.0.category", "可上报的问题类别"),
        ({"category": "out_of_scope"}, "findings.0.category", "可上报的问题类别"),
        ({"building": "", "unit": "", "room": ""}, "findings.0.building", "或选择公共部位"),
        ({"building": "", "room": "1502", "common_area": "楼道"}, "findings.0.building", "同时填写楼号"),
        ({"photo_ids": ["0" * 32]}, "findings.0.photos", "照片不存在"),
    ],
)
def test_a_finding_is_checked(
    session: Session, acme: Company, change: dict, field: str, message: str
) -> None:
    with pytest.raises(ValidationFailed, match=message) as refused:
        acme.patrol(finding(), finding(**change))
    assert refused.value.errors[0].field == field.replace("0", "1", 1)


def test_a_common_area_is_a_place_and_12_hao_lou_is_building_12(session: Session, acme: Company) -> None:
    patrol = acme.patrol(
        finding(
            "reported",
            building="",
            unit="",
            room="",
            common_area="屋顶平台",
            category="common_area_occupation",
        ),
        finding(building="１２号楼", unit="2单元", room="1502室"),
    )
    roof, flat = patrol.findings
    assert case_of(session, roof).description.startswith("【屋顶平台】")
    assert (flat.building, flat.unit, flat.room) == ("12", "2", "1502")


def test_photos_are_the_staff_members_own_uploads_nine_at_most(session: Session, acme: Company) -> None:
    neighbour, _ = make_resident(session, "邻居")
    with pytest.raises(ValidationFailed, match="照片不存在"):
        acme.patrol(finding(photo_ids=[acme.photo(owner=neighbour)]))
    with pytest.raises(ValidationFailed, match="最多 9 张"):
        acme.patrol(finding(photo_ids=[acme.photo() for _ in range(10)]))
    twice = acme.photo()
    with pytest.raises(ValidationFailed, match="照片重复"):
        acme.patrol(finding(photo_ids=[twice, twice]))
    acme.staff.wechat_user_id = None  # unbound: no upload is theirs any more
    with pytest.raises(ValidationFailed, match="照片不存在"):
        acme.patrol(finding(photo_ids=[acme.photo()]))


def test_a_finding_may_name_the_renovation_it_inspected_of_the_same_company_and_estate(
    session: Session, acme: Company
) -> None:
    other = Company(session, "另一家物业有限公司", ("新华联雅苑",))

    def renovation(company: PropertyCompany, estate: str) -> Renovation:
        r = Renovation(
            company_id=company.id,
            estate_id=estate_named(session, estate).id,
            building="9",
            unit="1",
            room="301",
            owner_name="业主",
            owner_phone="13800000000",
            planned_start=NOW.date(),
            planned_end=NOW.date() + dt.timedelta(days=60),
            status=RenovationStatus.IN_PROGRESS,
        )
        session.add(r)
        session.flush()
        return r

    own = renovation(acme.company, "康虹花园")
    f = acme.patrol(finding(building="", unit="", room="", renovation_id=own.id)).findings[0]
    assert f.renovation_id == own.id and (f.building, f.unit, f.room) == ("9", "1", "301")
    for wrong in (renovation(acme.company, "宜达新居"), renovation(other.company, "新华联雅苑")):
        with pytest.raises(ValidationFailed, match="本公司在该小区登记的装修"):
            acme.patrol(finding(renovation_id=wrong.id))


def test_the_same_client_request_is_one_patrol(session: Session, acme: Company) -> None:
    data = PatrolInput(
        estate_id=estate_named(session, "康虹花园").id,
        areas=["楼道"],
        findings=[finding("reported")],
        client_request_id="patrol-retry-1",
    )
    first, created = file_patrol(session, acme.actor, data, now=NOW)
    again, created_again = file_patrol(session, acme.actor, data, now=NOW + MINUTE)
    assert created and not created_again and again.id == first.id
    assert session.scalars(select(Case).where(Case.source_detail == COMPANY)).all() == [
        case_of(session, first.findings[0])
    ]


def test_the_finding_categories_are_the_campaigns_but_the_companys_own_failures() -> None:
    assert set(FINDING_CATEGORIES) == set(get_args(InScopeCategory)) - {
        "property_negligence",
        "property_duty_violation",
    }


# ----------------------------------------------------------------------------------------- who sees


def test_another_company_sees_and_touches_nothing_and_the_bureau_only_reads(
    session: Session, acme: Company
) -> None:
    photo = acme.photo()
    patrol = acme.patrol(finding("dissuaded", photo_ids=[photo]))
    f = patrol.findings[0]
    other = Company(session, "另一家物业有限公司", ("新华联雅苑",))
    other.patrol(finding(), estate="新华联雅苑")

    with pytest.raises(NotFound):
        get_patrol(session, other.actor, patrol.id)
    with pytest.raises(NotFound):
        rectify_finding(session, other.actor, f.id, now=NOW + HOUR)
    with pytest.raises(NotFound):
        report_finding(session, other.actor, f.id, now=NOW + HOUR)
    with pytest.raises(NotFound):
        finding_photo(session, other.actor, photo)
    assert [p.id for p in list_patrols(session, other.actor).items] != [] and patrol.id not in [
        p.id for p in list_patrols(session, other.actor).items
    ]
    assert [p.id for p in list_patrols(session, acme.actor).items] == [patrol.id]
    assert finding_photo(session, acme.actor, photo).id == photo
    assert f.case_id is None and f.rectified_at is None

    bureau = Actor(Role.SUPERVISOR, 1, "区局 督查")
    assert get_patrol(session, bureau, patrol.id) is patrol
    assert finding_photo(session, bureau, photo).id == photo
    assert {p.company_id for p in list_patrols(session, bureau).items} >= {acme.company.id, other.company.id}
    assert [p.id for p in list_patrols(session, bureau, company_id=acme.company.id).items] == [patrol.id]
    view = view_patrol(session, bureau, patrol, NOW)
    assert not view.findings[0].can_rectify and not view.findings[0].can_report
    for act in (rectify_finding, report_finding):
        with pytest.raises(Forbidden):
            act(session, bureau, f.id, now=NOW + HOUR)

    officer = Actor(Role.OFFICER, 2, "徐泾中队 队员", squad_id=1)
    for read in (lambda: get_patrol(session, officer, patrol.id), lambda: list_patrols(session, officer)):
        with pytest.raises(Forbidden):
            read()
    with pytest.raises(Forbidden):
        file_patrol(session, SYSTEM, PatrolInput(estate_id=1, areas=["楼道"]), now=NOW)


def test_the_company_sees_the_cases_public_status_and_reply_only(session: Session, acme: Company) -> None:
    from backend.cases.services.life import add_note, transition

    patrol = acme.patrol(finding("reported"), finding("dissuaded", building="3"))
    case = case_of(session, patrol.findings[0])
    squad = Actor(Role.OFFICER, 9000, "徐泾中队 队员", squad_id=case.squad_id)
    for step in ("sign", "investigate", "verify"):
        transition(session, case, step, squad, now=NOW + HOUR)
    add_note(session, case, squad, "内部：业主态度恶劣，联系了其亲属", now=NOW + HOUR)
    transition(session, case, "resolve", squad, public_reply="已责令拆除，现场已恢复", now=NOW + 2 * HOUR)

    view = view_patrol(session, acme.actor, patrol, NOW + 3 * HOUR)
    reported, waiting = view.findings
    assert reported.state == "reported" and reported.case is not None
    assert reported.case.tracking_no == case.tracking_no
    assert (reported.case.status_label, reported.case.public_reply) == ("已办结", "已责令拆除，现场已恢复")
    assert set(vars(reported.case)) == {"tracking_no", "status", "status_label", "public_reply"}
    assert not reported.can_rectify and not reported.can_report
    assert waiting.state == "waiting" and waiting.can_rectify and waiting.can_report
    assert waiting.report_due_at == NOW + 24 * HOUR
    late = view_patrol(session, acme.actor, patrol, NOW + 25 * HOUR).findings[1]
    assert late.state == "overdue" and not late.can_rectify and late.can_report


# --------------------------------------------------------------------------- two sweeps at once


def test_two_sweeps_at_once_file_each_finding_once(app) -> None:
    """Committed for real from two threads: each finding becomes one case, whichever sweep files it."""
    engine = app.extensions["db"].engine
    day = dt.datetime(2025, 4, 17, 9, 0, tzinfo=SHANGHAI)  # no other test files cases on this day
    tag = uuid.uuid4().hex[:8]
    with Session(engine) as session:
        estate = estate_named(session, "新华联雅苑")
        before = estate.property_company_id
        company = make_company(session, f"并发物业{tag}", ["新华联雅苑"], since=dt.date(2025, 1, 1))
        staff = make_property_staff(session, company)
        actor = staff_actor(staff)
        patrol, _ = file_patrol(
            session,
            actor,
            PatrolInput(
                estate_id=estate.id,
                areas=["楼道"],
                findings=[finding(building=str(n)) for n in range(1, 8)],
                patrolled_at=day - 30 * HOUR,
            ),
            now=day - 29 * HOUR,
        )
        session.commit()
        company_id, staff_id, patrol_id, estate_id = company.id, staff.id, patrol.id, estate.id
    barrier = threading.Barrier(2)
    results: list[object] = [None, None]

    def run(i: int) -> None:
        barrier.wait()
        try:
            with Session(engine) as session:
                filed, after = [], 0
                while True:
                    batch = file_overdue_findings(session, day, after_id=after, limit=3)
                    session.commit()
                    filed += batch.filed
                    if batch.done:
                        break
                    after = batch.last_id
                results[i] = filed
        except Exception as exc:  # returned to the test to assert on
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(isinstance(r, Exception) for r in results), results
        first, second = results
        assert isinstance(first, list) and isinstance(second, list)
        assert sorted(first + second) == sorted(set(first + second)) and len(first + second) == 7
        with Session(engine) as session:
            cases = session.scalars(select(Case).where(Case.source_detail == f"并发物业{tag}")).all()
            assert len(cases) == 7
            findings = session.scalars(
                select(PatrolFinding).where(PatrolFinding.patrol_id == patrol_id)
            ).all()
            assert sorted(f.case_id for f in findings) == sorted(c.id for c in cases)
    finally:
        _purge_patrols(engine, company_id, staff_id, estate_id, before, day)


def _purge_patrols(engine, company_id: int, staff_id: int, estate_id: int, before: int | None, day) -> None:
    with engine.begin() as conn:
        case_ids = list(
            conn.scalars(
                select(PatrolFinding.case_id).where(
                    PatrolFinding.company_id == company_id, PatrolFinding.case_id.is_not(None)
                )
            )
        )
        numbers = list(conn.scalars(select(Case.tracking_no).where(Case.id.in_(case_ids))))
        patrol_ids = list(conn.scalars(select(Patrol.id).where(Patrol.company_id == company_id)))
        conn.execute(
            delete(AuditEntry).where(
                (AuditEntry.target_id.in_(numbers) & (AuditEntry.target_type == "case"))
                | (
                    AuditEntry.target_id.in_([str(i) for i in patrol_ids])
                    & (AuditEntry.target_type == "patrol")
                )
                | ((AuditEntry.actor_kind == "staff") & (AuditEntry.actor_id == staff_id))
            )
        )
        conn.execute(delete(PatrolFinding).where(PatrolFinding.company_id == company_id))
        conn.execute(delete(Patrol).where(Patrol.company_id == company_id))
        conn.execute(delete(CasePhoto).where(CasePhoto.case_id.in_(case_ids)))
        conn.execute(delete(CaseEvent).where(CaseEvent.case_id.in_(case_ids)))
        conn.execute(delete(Case).where(Case.id.in_(case_ids)))
        conn.execute(delete(TrackingCounter).where(TrackingCounter.day == day.strftime("%Y%m%d")))
        conn.execute(delete(EstateManagement).where(EstateManagement.company_id == company_id))
        conn.execute(update(Estate).where(Estate.id == estate_id).values(property_company_id=before))
    purge_users(engine, [], [staff_id])
    with engine.begin() as conn:
        conn.execute(delete(PropertyCompany).where(PropertyCompany.id == company_id))
