"""Renovation registrations: every item of the checklist decided by its rule, with a basis that exists; a
registration refused, waiting for its permits and accepted; its life on its record; a company's own only; the
owner never shown outside it; the neighbours' question; the renovation notice."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.audit.models import AuditEntry
from backend.cases.workflow import Actor, Role
from backend.errors import Conflict, Forbidden, NotFound, RateLimited, ValidationFailed
from backend.property.models import RenovationStatus as S
from backend.property.renovations import (
    ChecklistError,
    PermitInput,
    RenovationFilter,
    Verdict,
    ask_about_flat,
    attach_permit,
    check_items,
    complete_renovation,
    decide,
    flat_part,
    get_renovation,
    list_renovations,
    parse_checklist,
    public_view,
    register_renovation,
    renovation_notice,
    start_renovation,
    view_for,
)
from backend.staff.services import staff_actor
from backend.uploads.models import Upload
from bot.content import law_index, load_content
from tests.support.accounts import make_resident
from tests.support.bot import CONTENT
from tests.support.property import make_company, make_property_staff
from tests.support.renovations import NOW, TODAY, checklist, codes_of, register, renovation_input

ITEMS = checklist().items
EXPECTED = {Verdict.FORBIDDEN: S.REFUSED, Verdict.PERMIT: S.WAITING_PERMIT, Verdict.ALLOWED: S.ACCEPTED}
BUREAU = Actor(Role.SUPERVISOR, 900, "区局 督办")


@pytest.fixture
def staff(session: Session) -> Actor:
    """A member of the company managing 康虹花园 and 新青浦花苑."""
    company = make_company(session, "安居物业", ["康虹花园", "新青浦花苑"])
    return staff_actor(make_property_staff(session, company, name="李管家"))


@pytest.fixture
def rival(session: Session) -> Actor:
    """A member of another company, managing 宜达新居."""
    company = make_company(session, "邻家物业", ["宜达新居"])
    return staff_actor(make_property_staff(session, company, name="赵管家"))


# ------------------------------------------------------------------------------------------ the checklist


def test_every_basis_of_the_checklist_is_in_the_law_index() -> None:
    """Each item cites laws of content/laws.toml by name, and only articles listed there (as the FAQ's
    citations are checked, with the bot's loader of the law index)."""
    laws = law_index(load_content(CONTENT).laws)
    for item in ITEMS:
        assert item.basis, item.code
        for basis in item.basis:
            assert basis.law in laws, (item.code, basis.law)
            if basis.article:
                assert basis.article in laws[basis.law].articles, (item.code, basis.law, basis.article)


def test_the_checklist_has_every_verdict_and_each_permit_says_which_and_from_whom() -> None:
    assert {item.verdict for item in ITEMS} == set(Verdict)
    for item in ITEMS:
        assert item.name and item.reason, item.code
        assert bool(item.permit and item.authority) == (item.verdict is Verdict.PERMIT), item.code
    the_notice = checklist()
    assert the_notice.owner_duties and the_notice.contractor_duties and the_notice.company_duties


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"items": []}, "needs items"),
        (
            {"items": [{"code": "a_b", "name": "x", "verdict": "maybe", "reason": "r", "basis": []}]},
            "verdict",
        ),
        ({"items": [{"code": "a_b", "name": "x", "verdict": "allowed", "reason": "r"}]}, "basis"),
        (
            {
                "items": [
                    {"code": "a_b", "name": "x", "verdict": "permit", "reason": "r", "basis": [{"law": "L"}]}
                ]
            },
            "permit",
        ),
        (
            {
                "items": [
                    {"code": "a_b", "name": "x", "verdict": "allowed", "reason": "r", "basis": [{"law": "L"}]}
                ]
                * 2
            },
            "own code",
        ),
        (
            {
                "items": [
                    {"code": "a_b", "name": "x", "verdict": "allowed", "reason": "r", "basis": [{"law": "L"}]}
                ]
            },
            "[notice]",
        ),
    ],
)
def test_a_checklist_that_is_not_one_is_refused_when_read(data: dict, problem: str) -> None:
    with pytest.raises(ChecklistError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        parse_checklist(data)


@pytest.mark.parametrize("item", ITEMS, ids=[item.code for item in ITEMS])
def test_each_item_of_the_checklist_is_decided_by_its_rule(session: Session, staff: Actor, item) -> None:
    renovation = register(session, staff, items=[item.code])
    assert renovation.status == EXPECTED[item.verdict]
    decision = renovation.events[-1]
    assert (decision.from_status, decision.to_status) == (S.SUBMITTED, EXPECTED[item.verdict])
    assert decision.actor_label == "系统"
    if item.verdict is Verdict.FORBIDDEN:
        assert item.name in decision.note and item.reason in decision.note
        assert all(str(basis) in decision.note for basis in item.basis)
        assert decision.data["refused"] == [item.code]
    elif item.verdict is Verdict.PERMIT:
        assert item.permit in decision.note and item.authority in decision.note
    assert renovation.verdicts[0]["verdict"] == item.verdict.value


def test_the_rules_one_forbidden_item_refuses_one_missing_permit_waits() -> None:
    allowed, permit, forbidden = codes_of("allowed")[0], codes_of("permit")[0], codes_of("forbidden")[0]
    assert decide(check_items(checklist(), [allowed]), []) is S.ACCEPTED
    assert decide(check_items(checklist(), [allowed, permit]), []) is S.WAITING_PERMIT
    assert decide(check_items(checklist(), [allowed, permit]), [{"item": permit}]) is S.ACCEPTED
    assert decide(check_items(checklist(), [permit, forbidden]), [{"item": permit}]) is S.REFUSED
    assert [v["item"] for v in check_items(checklist(), [allowed, allowed, permit])] == [allowed, permit]


@pytest.mark.parametrize("items", [[], ["knock_everything_down"], ["wall_floor_ceiling", "build_a_pool"]])
def test_unknown_or_no_items_are_refused(session: Session, staff: Actor, items: list[str]) -> None:
    with pytest.raises(ValidationFailed) as refused:
        register(session, staff, items=items)
    assert refused.value.errors[0].field == "items"
    for code in items[1:] or items:
        if code != "wall_floor_ceiling":
            assert code in refused.value.message


# ------------------------------------------------------------------------- refused, waiting, accepted


def test_a_registration_with_forbidden_items_is_refused_with_the_reasons(
    session: Session, staff: Actor
) -> None:
    forbidden = codes_of("forbidden")[:2]
    renovation = register(session, staff, items=["wall_floor_ceiling", *forbidden])
    assert renovation.status == S.REFUSED
    refusal = renovation.events[-1]
    for code in forbidden:
        item = checklist().by_code[code]
        assert item.name in refusal.note and item.reason in refusal.note
    assert "墙面、地面、吊顶装饰" not in refusal.note  # only the forbidden ones are reasons
    with pytest.raises(Conflict):
        start_renovation(session, staff, renovation.id, now=NOW)
    with pytest.raises(Conflict):
        renovation_notice(session, staff, renovation.id, checklist(), now=NOW)


def test_a_registration_waits_for_each_permit_then_is_accepted(session: Session, staff: Actor) -> None:
    gas, balcony = "gas_pipes", "balcony_enclosure"
    renovation = register(session, staff, items=["water_electric", gas, balcony])
    assert renovation.status == S.WAITING_PERMIT
    with pytest.raises(Conflict):
        start_renovation(session, staff, renovation.id, now=NOW)
    with pytest.raises(ValidationFailed) as not_needed:
        attach_permit(
            session, staff, renovation.id, PermitInput("water_electric", "X-1", "燃气公司"), now=NOW
        )
    assert not_needed.value.errors[0].field == "item"
    with pytest.raises(ValidationFailed) as not_chosen:
        attach_permit(session, staff, renovation.id, PermitInput("heating_pipes", "X-1", "供暖单位"), now=NOW)
    assert not_chosen.value.errors[0].field == "item"

    attach_permit(
        session, staff, renovation.id, PermitInput(gas, "RQ-2026-001", "上海燃气青浦分公司"), now=NOW
    )
    assert renovation.status == S.WAITING_PERMIT
    assert renovation.events[-1].note == "拆改燃气管道和设施：上海燃气青浦分公司 RQ-2026-001"
    waiting = _waiting_note(renovation)
    assert "燃气管道改装同意书" in waiting and "封闭阳台" in waiting and "区规划资源管理部门" in waiting
    later = NOW + dt.timedelta(hours=2)
    attach_permit(session, staff, renovation.id, PermitInput(balcony, "GH-88", "青浦区规划资源局"), now=later)
    assert renovation.status == S.ACCEPTED
    assert [(e.action, e.from_status, e.to_status) for e in renovation.events] == [
        ("submit", None, S.SUBMITTED),
        ("wait_permit", S.SUBMITTED, S.WAITING_PERMIT),
        ("permit", S.WAITING_PERMIT, S.WAITING_PERMIT),
        ("permit", S.WAITING_PERMIT, S.WAITING_PERMIT),
        ("accept", S.WAITING_PERMIT, S.ACCEPTED),
    ]
    assert renovation.events[3].actor_label.endswith("李管家") and renovation.events[3].created_at == later
    assert {p["item"]: p["number"] for p in renovation.permits} == {gas: "RQ-2026-001", balcony: "GH-88"}
    with pytest.raises(Conflict):  # nothing more to attach
        attach_permit(session, staff, renovation.id, PermitInput(gas, "RQ-2", "上海燃气"), now=later)


def _waiting_note(renovation) -> str:
    return next(e.note for e in renovation.events if e.action == "wait_permit")


def test_a_permit_needs_its_number_and_authority_and_its_photo_must_be_the_uploaders(
    session: Session, staff: Actor
) -> None:
    renovation = register(session, staff, items=["gas_pipes"])
    for permit, field in [
        (PermitInput("gas_pipes", "", "上海燃气"), "number"),
        (PermitInput("gas_pipes", "RQ-1", " "), "authority"),
        (PermitInput("gas_pipes", "RQ-1", "上海燃气", upload_id="0" * 32), "upload_id"),
    ]:
        with pytest.raises(ValidationFailed) as refused:
            attach_permit(session, staff, renovation.id, permit, uploader_id=7, now=NOW)
        assert refused.value.errors[0].field == field
    user, _ = make_resident(session, "someone")
    session.add(
        Upload(
            id="a" * 32, owner_id=user.id, blob_key="k", content_type="image/png", size=1, width=1, height=1
        )
    )
    session.flush()
    with pytest.raises(ValidationFailed):  # someone else's photo
        attach_permit(
            session, staff, renovation.id, PermitInput("gas_pipes", "RQ-1", "燃气", "a" * 32), now=NOW
        )
    attach_permit(
        session,
        staff,
        renovation.id,
        PermitInput("gas_pipes", "RQ-1", "燃气", "a" * 32),
        uploader_id=user.id,
        now=NOW,
    )
    assert renovation.status == S.ACCEPTED and renovation.permits[0]["upload_id"] == "a" * 32


def test_an_accepted_registration_starts_and_completes_each_step_on_its_record(
    session: Session, staff: Actor
) -> None:
    renovation = register(session, staff, items=["partition_wall", "kitchen_bathroom_in_place"])
    assert renovation.status == S.ACCEPTED
    with pytest.raises(Conflict):
        complete_renovation(session, staff, renovation.id, now=NOW)
    started, done = NOW + dt.timedelta(days=7), NOW + dt.timedelta(days=60)
    start_renovation(session, staff, renovation.id, note="进场施工", now=started)
    assert renovation.status == S.IN_PROGRESS and renovation.started_at == started
    with pytest.raises(Conflict):
        start_renovation(session, staff, renovation.id, now=started)
    complete_renovation(session, staff, renovation.id, now=done)
    assert renovation.status == S.COMPLETED and renovation.completed_at == done
    steps = [(e.action, e.from_status, e.to_status, e.note) for e in renovation.events[-2:]]
    assert steps == [
        ("start", S.ACCEPTED, S.IN_PROGRESS, "进场施工"),
        ("complete", S.IN_PROGRESS, S.COMPLETED, ""),
    ]
    audited = session.scalars(
        select(AuditEntry.action).where(
            AuditEntry.target_type == "renovation", AuditEntry.target_id == str(renovation.id)
        )
    ).all()
    assert audited == ["renovation.register", "renovation.start", "renovation.complete"]


# --------------------------------------------------------------------------------------- what is checked


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"building": " "}, "building"),
        ({"room": ""}, "room"),
        ({"owner_name": ""}, "owner_name"),
        ({"owner_phone": "12345"}, "owner_phone"),
        ({"owner_phone": ""}, "owner_phone"),
        ({"contractor": ""}, "contractor"),
        ({"contractor_phone": "110"}, "contractor_phone"),
        ({"planned_end": TODAY}, "planned_end"),  # before the start a week on
        ({"planned_start": TODAY - dt.timedelta(days=800), "planned_end": TODAY}, "planned_start"),
        (
            {"planned_start": TODAY + dt.timedelta(days=400), "planned_end": TODAY + dt.timedelta(days=500)},
            "planned_start",
        ),
        ({"planned_end": TODAY + dt.timedelta(days=1000)}, "planned_end"),
    ],
)
def test_what_a_registration_needs(session: Session, staff: Actor, overrides: dict, field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        register(session, staff, **overrides)
    assert refused.value.errors[0].field == field
    assert any("\u4e00" <= c <= "\u9fff" for c in refused.value.message)


def test_a_landline_a_late_registration_and_a_one_day_job_are_fine(session: Session, staff: Actor) -> None:
    renovation = register(
        session,
        staff,
        owner_phone="021-59721234",
        planned_start=TODAY - dt.timedelta(days=30),
        planned_end=TODAY - dt.timedelta(days=30),
    )
    assert renovation.status == S.ACCEPTED


def test_only_an_estate_the_company_manages_now(session: Session, staff: Actor, rival: Actor) -> None:
    with pytest.raises(ValidationFailed) as refused:
        register(session, staff, estate="宜达新居")
    assert refused.value.errors[0].field == "estate_id"
    with pytest.raises(ValidationFailed):
        register(session, staff, estate="民惠佳苑一期")  # managed by nobody
    assert register(session, rival, estate="宜达新居").company_id == rival.company_id


@pytest.mark.parametrize("role", [Role.OFFICER, Role.SUPERVISOR, Role.ADMIN, Role.EDITOR, Role.RESIDENT])
def test_only_property_staff_register(session: Session, staff: Actor, role: Role) -> None:
    with pytest.raises(Forbidden):
        register(session, Actor(role, 1, "someone", company_id=staff.company_id))


def test_a_flat_has_one_registered_renovation_under_way_at_a_time(session: Session, staff: Actor) -> None:
    waiting = register(session, staff, building="12", unit="2", room="1502", items=["gas_pipes"])
    assert waiting.status == S.WAITING_PERMIT  # holds nothing: the permit may never come
    first = register(session, staff, building="12号楼", unit="2单元", room="1502室")
    assert (first.building, first.unit, first.room) == ("12", "2", "1502")
    with pytest.raises(Conflict) as under_way:
        register(session, staff, building="１２", unit="2", room="1502")
    assert f"编号 {first.id}" in under_way.value.message
    start_renovation(session, staff, first.id, now=NOW)
    with pytest.raises(Conflict):
        register(session, staff, building="12", unit="2", room="1502")
    complete_renovation(session, staff, first.id, now=NOW)
    assert register(session, staff, building="12", unit="2", room="1502").status == S.ACCEPTED


def test_the_same_request_sent_again_is_one_registration(session: Session, staff: Actor) -> None:
    data = renovation_input(session, client_request_id="req-0000001")
    first, created = register_renovation(session, staff, data, checklist(), now=NOW)
    again, created_again = register_renovation(session, staff, data, checklist(), now=NOW)
    assert created and not created_again and again.id == first.id


def test_flat_parts_are_written_one_way() -> None:
    assert flat_part("building", "１２号楼") == "12" and flat_part("building", "3栋") == "3"
    assert flat_part("unit", "2单元") == "2" and flat_part("room", "1502室") == "1502"
    assert flat_part("building", "东区 3 幢") == "东区3" and flat_part("room", "号") == "号"


# ------------------------------------------------------------------------------------- who reads what


def test_a_company_reads_its_own_and_never_anothers(session: Session, staff: Actor, rival: Actor) -> None:
    mine = register(session, staff)
    theirs = register(session, rival, estate="宜达新居")
    assert get_renovation(session, staff, mine.id) is mine
    for attempt in (
        lambda: get_renovation(session, staff, theirs.id),
        lambda: attach_permit(session, staff, theirs.id, PermitInput("gas_pipes", "1", "燃气"), now=NOW),
        lambda: start_renovation(session, staff, theirs.id, now=NOW),
        lambda: complete_renovation(session, staff, theirs.id, now=NOW),
        lambda: renovation_notice(session, staff, theirs.id, checklist(), now=NOW),
        lambda: get_renovation(session, staff, 2**31 - 1),
    ):
        with pytest.raises(NotFound):  # the same answer as for a registration that does not exist
            attempt()
    listed = list_renovations(session, staff, RenovationFilter(company_id=rival.company_id))
    assert [r.id for r in listed.items] == [mine.id]


def test_the_bureau_reads_every_company_and_changes_none(
    session: Session, staff: Actor, rival: Actor
) -> None:
    mine, theirs = register(session, staff), register(session, rival, estate="宜达新居")
    assert {r.id for r in list_renovations(session, BUREAU, RenovationFilter()).items} >= {mine.id, theirs.id}
    only = list_renovations(session, BUREAU, RenovationFilter(company_id=rival.company_id))
    assert [r.id for r in only.items] == [theirs.id]
    assert get_renovation(session, BUREAU, theirs.id) is theirs
    with pytest.raises(Forbidden):
        start_renovation(session, BUREAU, theirs.id, now=NOW)
    for role in (Role.OFFICER, Role.SQUAD_LEADER, Role.EDITOR):
        with pytest.raises(Forbidden):
            get_renovation(session, Actor(role, 1, "x", squad_id=1), mine.id)


def test_the_list_filters_by_estate_status_and_flat(session: Session, staff: Actor) -> None:
    a = register(session, staff, building="12", room="1502")
    b = register(session, staff, building="12", room="801", items=["gas_pipes"])
    c = register(session, staff, estate="新青浦花苑", building="3", room="101")

    def ids(**filters: object) -> list[int]:
        return [r.id for r in list_renovations(session, staff, RenovationFilter(**filters)).items]

    assert ids() == [c.id, b.id, a.id]
    assert ids(estate_id=c.estate_id) == [c.id]
    assert ids(status=S.WAITING_PERMIT) == [b.id]
    assert ids(building="12号楼") == [b.id, a.id]
    assert ids(building="12", room="1502室") == [a.id]


def test_the_owner_is_masked_outside_the_company(session: Session, staff: Actor, rival: Actor) -> None:
    renovation = register(session, staff, items=["gas_pipes"], note="业主家里有老人")
    attach_permit(session, staff, renovation.id, PermitInput("gas_pipes", "RQ-1", "燃气"), now=NOW)
    own = view_for(staff, renovation)
    assert (own.owner_name, own.owner_phone, own.contractor_phone) == ("王秀英", "13812345678", "13987654321")
    assert own.note == "业主家里有老人" and own.full
    for view in (public_view(renovation), view_for(BUREAU, renovation), view_for(rival, renovation)):
        assert not view.full
        assert view.owner_name is None and view.owner_phone is None and view.contractor_phone is None
        assert view.note is None and view.items[0].permit_upload_id is None
        assert (
            "王秀英" not in repr(view) and "13812345678" not in repr(view) and "13987654321" not in repr(view)
        )
        assert view.contractor == "青浦安居装饰工程队" and view.items[0].permit_number == "RQ-1"


# ------------------------------------------------------------------------------- the neighbours' question


def test_a_neighbour_learns_yes_dates_and_work_but_never_the_owner(session: Session, staff: Actor) -> None:
    user, _ = make_resident(session, "neighbour")
    renovation = register(session, staff, items=["wall_floor_ceiling", "exterior_opening"])
    estate_id = renovation.estate_id

    def ask(**where: str):
        address = {"building": "12", "unit": "2", "room": "1502", **where}
        return ask_about_flat(session, user, estate_id=estate_id, now=NOW, **address)

    assert not ask().registered  # waiting for its permit: not registered yet
    attach_permit(
        session, staff, renovation.id, PermitInput("exterior_opening", "GH-1", "规划资源局"), now=NOW
    )
    answer = ask(building="１２号楼", room="1502室")
    assert answer.registered and answer.status == S.ACCEPTED and answer.status_label == "已登记"
    assert (answer.planned_start, answer.planned_end) == (renovation.planned_start, renovation.planned_end)
    assert [(i.name, i.approved) for i in answer.items] == [
        ("墙面、地面、吊顶装饰", False),
        (checklist().by_code["exterior_opening"].name, True),
    ]
    assert answer.flat == "12号楼2单元1502室"
    text = repr(answer)
    assert all(secret not in text for secret in ("王秀英", "13812345678", "13987654321", "安居装饰", "GH-1"))
    assert ask(unit="").registered  # without the unit: the room in any unit
    assert not ask(unit="3").registered and not ask(room="1501").registered
    looked = session.scalars(select(AuditEntry).where(AuditEntry.action == "renovation.lookup")).all()
    assert len(looked) == 5 and looked[0].actor_kind == "resident" and looked[0].actor_id == user.id


def test_a_refused_registration_is_no_registration(session: Session, staff: Actor) -> None:
    user, _ = make_resident(session, "neighbour")
    renovation = register(session, staff, items=["load_bearing_structure"])
    answer = ask_about_flat(
        session, user, estate_id=renovation.estate_id, building="12", unit="2", room="1502", now=NOW
    )
    assert not answer.registered and answer.items == [] and answer.planned_start is None


def test_the_question_needs_the_whole_address_and_is_limited_per_day(session: Session, staff: Actor) -> None:
    user, _ = make_resident(session, "curious")
    estate_id = register(session, staff).estate_id
    for where, field in [
        ({"building": "", "room": "1502"}, "building"),
        ({"building": "12", "room": " "}, "room"),
    ]:
        with pytest.raises(ValidationFailed) as refused:
            ask_about_flat(session, user, estate_id=estate_id, now=NOW, **where)
        assert refused.value.errors[0].field == field
    with pytest.raises(ValidationFailed):
        ask_about_flat(session, user, estate_id=2**31 - 1, building="1", room="1", now=NOW)
    for room in range(3):
        ask_about_flat(
            session, user, estate_id=estate_id, building="12", room=str(room), now=NOW, daily_limit=3
        )
    with pytest.raises(RateLimited):
        ask_about_flat(session, user, estate_id=estate_id, building="12", room="1502", now=NOW, daily_limit=3)
    tomorrow = NOW + dt.timedelta(days=1)
    assert ask_about_flat(
        session, user, estate_id=estate_id, building="12", unit="2", room="1502", now=tomorrow, daily_limit=3
    ).registered


# ------------------------------------------------------------------------------------------- the notice


def test_the_notice_has_the_work_the_forbidden_acts_the_permits_and_the_duties(
    session: Session, staff: Actor, rival: Actor
) -> None:
    renovation = register(session, staff, items=["water_electric", "gas_pipes"])
    with pytest.raises(Conflict):
        renovation_notice(session, staff, renovation.id, checklist(), now=NOW)
    attach_permit(
        session, staff, renovation.id, PermitInput("gas_pipes", "RQ-7", "上海燃气青浦分公司"), now=NOW
    )
    notice = renovation_notice(session, staff, renovation.id, checklist(), now=NOW)
    assert notice.renovation.owner_name == "王秀英"  # printed for the owner
    assert [i.code for i in notice.renovation.of(Verdict.ALLOWED)] == ["water_electric"]
    assert [(i.code, i.permit_number) for i in notice.renovation.of(Verdict.PERMIT)] == [
        ("gas_pipes", "RQ-7")
    ]
    assert [i.code for i in notice.forbidden] == codes_of("forbidden")  # all of them, not only those chosen
    assert (
        notice.owner_duties == checklist().owner_duties
        and notice.company_duties == checklist().company_duties
    )
    assert notice.company.name == "安居物业" and notice.accepted_on == TODAY
    assert session.scalar(select(AuditEntry.action).where(AuditEntry.action == "renovation.print_notice"))
    with pytest.raises(Forbidden):
        renovation_notice(session, BUREAU, renovation.id, checklist(), now=NOW)
