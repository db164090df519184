"""Campaign events: a studio editor announces, edits and cancels them (those signed up are told); residents
see the upcoming ones near them, sign up within the capacity (two racing for the last place do not both get
it), once, not after the start, and cancel; the reminder reaches each of them once, a day before; the studio
marks who came."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import uuid

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.articles.models import ResidentEstate
from backend.audit.models import AuditEntry
from backend.cases.workflow import Actor, Role
from backend.clock import MovableClock
from backend.community.cli import community_group
from backend.community.events import (
    EVENT_KIND_LABELS,
    EVENT_KINDS,
    EventInput,
    announce_event,
    cancel_event,
    cancel_signup,
    edit_event,
    event_status,
    get_event,
    list_events,
    mark_attendance,
    places_taken,
    remind_signups,
    sign_up,
    signup_list,
    upcoming_events_near,
)
from backend.community.models import Event, EventKind, EventSignup
from backend.errors import Conflict, Forbidden, NotFound, ValidationFailed
from backend.messages.models import Message
from backend.org.models import Estate, Town
from backend.staff.services import create_staff, staff_actor
from backend.workcalendar import SHANGHAI
from tests.support.accounts import make_resident
from tests.support.cleanup import purge_users
from tests.support.concurrency import concurrently

NOW = dt.datetime(2026, 7, 10, 10, 0, tzinfo=SHANGHAI)
HOUR, MINUTE, DAY = dt.timedelta(hours=1), dt.timedelta(minutes=1), dt.timedelta(days=1)


def estate(session: Session, name: str) -> Estate:
    return session.scalars(select(Estate).where(Estate.name == name)).one()


def town(session: Session, code: str) -> Town:
    return session.scalars(select(Town).where(Town.code == code)).one()


@pytest.fixture
def editor(session: Session) -> Actor:
    staff = create_staff(
        session, username="studio_editor", display_name="工作室小林", role="editor", password="x" * 12
    )
    session.flush()
    return staff_actor(staff)


def an_event(session: Session, **overrides: object) -> EventInput:
    fields: dict[str, object] = {
        "kind": "lecture",
        "title": "装修前先登记：普法讲座",
        "description": "讲解住宅装修的禁止行为和申报登记",
        "starts_at": NOW + 3 * DAY,
        "ends_at": NOW + 3 * DAY + 2 * HOUR,
        "place": "小区党群服务站二楼",
        "capacity": 30,
        "estate_id": estate(session, "康虹花园").id,
        **overrides,
    }
    return EventInput(**fields)  # type: ignore[arg-type]


def messages_of(session: Session, user: User) -> list[Message]:
    return list(session.scalars(select(Message).where(Message.user_id == user.id).order_by(Message.id)))


def test_the_four_kinds_of_event_have_their_names() -> None:
    assert set(EVENT_KINDS) == {k.value for k in EventKind} == set(EVENT_KIND_LABELS)
    assert EVENT_KIND_LABELS["public_day"] == "7·15 城管公众日"


# ------------------------------------------------------------------------------------- announcing


def test_an_editor_announces_an_event_at_an_estate_which_puts_it_in_the_estates_town(
    session: Session, editor: Actor
) -> None:
    event = announce_event(session, editor, an_event(session), now=NOW, ip="10.0.0.8")
    assert event.town.code == "xujing" and event.estate.name == "康虹花园"
    assert event.created_by == editor.id and event.cancelled_at is None
    assert event_status(event, NOW) == "upcoming" and places_taken(session, event.id) == 0
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "event.announce")).one()
    assert entry.target_type == "event" and entry.target_id == str(event.id) and entry.ip == "10.0.0.8"

    in_town = announce_event(
        session, editor, an_event(session, estate_id=None, town_id=town(session, "zhaoxiang").id), now=NOW
    )
    assert in_town.estate is None and in_town.town.name == "赵巷镇"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"starts_at": NOW - HOUR, "ends_at": NOW + HOUR}, "starts_at", "开始时间须晚于现在"),
        ({"starts_at": NOW, "ends_at": NOW + HOUR}, "starts_at", "开始时间须晚于现在"),
        ({"ends_at": NOW + 3 * DAY}, "ends_at", "结束时间须晚于开始时间"),
        ({"ends_at": NOW + 3 * DAY - HOUR}, "ends_at", "结束时间须晚于开始时间"),
        ({"capacity": 0}, "capacity", "名额应为"),
        ({"estate_id": None}, "town_id", "请选择活动所在的街镇或小区"),
        ({"estate_id": 2_000_000_000}, "estate_id", "没有这个小区"),
        ({"town_id": "xiayang"}, "estate_id", "所选小区不在所选街镇"),
        ({"kind": "party"}, "kind", "请选择活动类型"),
        ({"title": "  "}, "title", "请填写活动名称"),
    ],
)
def test_announcing_refuses_an_event_that_breaks_a_rule(
    session: Session, editor: Actor, overrides: dict, field: str, message: str
) -> None:
    if overrides.get("town_id") == "xiayang":
        overrides = {**overrides, "town_id": town(session, "xiayang").id}
    with pytest.raises(ValidationFailed) as refused:
        announce_event(session, editor, an_event(session, **overrides), now=NOW)
    assert any(e.field == field and message in e.message for e in refused.value.errors or []), refused.value
    assert session.scalar(select(func.count(Event.id))) == 0


def test_every_broken_rule_is_said_at_once(session: Session, editor: Actor) -> None:
    data = an_event(session, starts_at=NOW - HOUR, ends_at=NOW - 2 * HOUR, capacity=0, estate_id=None)
    with pytest.raises(ValidationFailed) as refused:
        announce_event(session, editor, data, now=NOW)
    assert {e.field for e in refused.value.errors or []} == {"starts_at", "ends_at", "capacity", "town_id"}


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.ADMIN, Role.OFFICER, Role.PROPERTY_STAFF])
def test_only_a_studio_editor_announces_edits_cancels_or_marks(
    session: Session, editor: Actor, role: Role
) -> None:
    other = Actor(role, editor.id, "别人")
    with pytest.raises(Forbidden):
        announce_event(session, other, an_event(session), now=NOW)
    event = announce_event(session, editor, an_event(session), now=NOW)
    with pytest.raises(Forbidden):
        edit_event(session, other, event.id, an_event(session, title="改名"), now=NOW)
    with pytest.raises(Forbidden):
        cancel_event(session, other, event.id, "下雨", now=NOW)
    with pytest.raises(Forbidden):
        mark_attendance(session, other, event.id, [], now=NOW + 4 * DAY)
    assert event.title == "装修前先登记：普法讲座" and event.cancelled_at is None


# ------------------------------------------------------------------------------------- editing, cancelling


def test_a_new_time_is_told_to_those_signed_up_and_they_are_reminded_again(
    session: Session, editor: Actor
) -> None:
    event = announce_event(
        session, editor, an_event(session, starts_at=NOW + 20 * HOUR, ends_at=NOW + 22 * HOUR), now=NOW
    )
    stays, leaves = make_resident(session, "stays")[0], make_resident(session, "leaves")[0]
    sign_up(session, stays, event.id, now=NOW)
    sign_up(session, leaves, event.id, now=NOW)
    cancel_signup(session, leaves, event.id, now=NOW + MINUTE)
    assert remind_signups(session, NOW + MINUTE).reminded != []
    session.expire_all()
    reminded = [s for s in event.signups if s.reminded_at is not None]
    assert [s.user_id for s in reminded] == [stays.id]
    before = len(messages_of(session, stays))

    edit_event(
        session,
        editor,
        event.id,
        an_event(session, title="新的名称", starts_at=NOW + 20 * HOUR, ends_at=NOW + 22 * HOUR),
        now=NOW + HOUR,
    )
    assert len(messages_of(session, stays)) == before  # a new title is not news to them

    moved = an_event(session, starts_at=NOW + 2 * DAY, ends_at=NOW + 2 * DAY + HOUR, place="居委会会议室")
    edit_event(session, editor, event.id, moved, now=NOW + HOUR)
    told = messages_of(session, stays)[-1]
    assert (
        told.title == "活动时间或地点有变更"
        and "2026-07-12 10:00–11:00" in told.body
        and "居委会会议室" in told.body
    )
    assert messages_of(session, leaves) == []
    session.expire_all()
    assert all(s.reminded_at is None for s in event.signups)  # the old reminder was for the old time
    actions = session.scalars(select(AuditEntry.action).where(AuditEntry.target_id == str(event.id))).all()
    assert actions.count("event.edit") == 2


def test_the_capacity_cannot_fall_below_those_signed_up_and_a_started_event_is_not_edited(
    session: Session, editor: Actor
) -> None:
    event = announce_event(session, editor, an_event(session, capacity=3), now=NOW)
    for name in ("a1", "a2"):
        sign_up(session, make_resident(session, name)[0], event.id, now=NOW)
    with pytest.raises(ValidationFailed, match="已有 2 人报名，名额不能少于 2"):
        edit_event(session, editor, event.id, an_event(session, capacity=1), now=NOW)
    edit_event(session, editor, event.id, an_event(session, capacity=2), now=NOW)
    assert event.capacity == 2
    with pytest.raises(Conflict, match="活动已开始") as refused:
        edit_event(
            session,
            editor,
            event.id,
            an_event(session, capacity=5, starts_at=NOW + 5 * DAY, ends_at=NOW + 6 * DAY),
            now=NOW + 3 * DAY,
        )
    assert refused.value.code == "event_started"


def test_cancelling_tells_everyone_signed_up_why_and_closes_it(session: Session, editor: Actor) -> None:
    event = announce_event(session, editor, an_event(session), now=NOW)
    coming, gone = make_resident(session, "coming")[0], make_resident(session, "gone")[0]
    sign_up(session, coming, event.id, now=NOW)
    sign_up(session, gone, event.id, now=NOW)
    cancel_signup(session, gone, event.id, now=NOW)
    with pytest.raises(ValidationFailed, match="请填写取消原因"):
        cancel_event(session, editor, event.id, "  ", now=NOW + HOUR)

    cancel_event(session, editor, event.id, "台风预警，活动延期", now=NOW + HOUR)
    assert event.cancelled_at == NOW + HOUR and event_status(event, NOW + HOUR) == "cancelled"
    [told] = messages_of(session, coming)
    assert told.title == "活动取消" and "台风预警，活动延期" in told.body and "装修前先登记" in told.body
    assert messages_of(session, gone) == []
    with pytest.raises(Conflict, match="活动已取消"):
        cancel_event(session, editor, event.id, "再取消一次", now=NOW + HOUR)
    with pytest.raises(Conflict, match="活动已取消") as refused:
        sign_up(session, make_resident(session, "late")[0], event.id, now=NOW + HOUR)
    assert refused.value.code == "event_cancelled"
    with pytest.raises(Conflict, match="活动已取消"):
        edit_event(session, editor, event.id, an_event(session), now=NOW + HOUR)


def test_an_event_that_has_ended_is_not_cancelled(session: Session, editor: Actor) -> None:
    event = announce_event(session, editor, an_event(session), now=NOW)
    with pytest.raises(Conflict, match="活动已结束"):
        cancel_event(session, editor, event.id, "太晚了", now=event.ends_at)


# ------------------------------------------------------------------------------------- near the resident


def test_residents_see_the_upcoming_events_at_their_estates_and_in_their_towns(
    session: Session, editor: Actor
) -> None:
    def announce(title: str, **overrides: object) -> int:
        return announce_event(session, editor, an_event(session, title=title, **overrides), now=NOW).id

    at_home = announce("康虹花园的讲座")
    same_town = announce(
        "招商悦庭的咨询",
        estate_id=estate(session, "徐泾北城招商悦庭").id,
        starts_at=NOW + DAY,
        ends_at=NOW + DAY + HOUR,
    )
    whole_town = announce(
        "徐泾镇公众日", estate_id=None, town_id=town(session, "xujing").id, kind="public_day"
    )
    elsewhere = announce("赵巷的活动周", estate_id=estate(session, "新华联雅苑").id, kind="outreach_week")
    cancelled = announce("取消的讲座")
    cancel_event(session, editor, cancelled, "场地冲突", now=NOW)
    started = announce("已经开始的讲座", starts_at=NOW + HOUR, ends_at=NOW + 5 * HOUR)
    mine = {at_home, same_town, whole_town, elsewhere, cancelled, started}

    resident = make_resident(session, "kanghong")[0]
    session.add(ResidentEstate(user_id=resident.id, estate_id=estate(session, "康虹花园").id))
    session.flush()
    later = NOW + 2 * HOUR  # the started one has begun
    page, near = upcoming_events_near(session, resident.id, now=later)
    assert near is True
    assert [e.id for e in page.items if e.id in mine] == [same_town, at_home, whole_town]  # soonest first

    newcomer = make_resident(session, "newcomer")[0]  # no estate chosen: the whole district
    page, near = upcoming_events_near(session, newcomer.id, now=later, per_page=100)
    assert near is False
    assert {e.id for e in page.items} & mine == {at_home, same_town, whole_town, elsewhere}

    session.add(ResidentEstate(user_id=resident.id, estate_id=estate(session, "新华联雅苑").id))
    session.flush()
    page, _ = upcoming_events_near(session, resident.id, now=later)
    assert {e.id for e in page.items} & mine == {at_home, same_town, whole_town, elsewhere}

    xiayang = make_resident(session, "xiayang")[0]
    session.add(ResidentEstate(user_id=xiayang.id, estate_id=estate(session, "宜达新居").id))
    session.flush()
    page, near = upcoming_events_near(session, xiayang.id, now=later)
    assert near is True and {e.id for e in page.items} & mine == set()


# ------------------------------------------------------------------------------------- signing up


def test_signing_up_within_the_capacity_once_and_cancelling_frees_the_place(
    session: Session, editor: Actor
) -> None:
    event = announce_event(session, editor, an_event(session, capacity=2), now=NOW)
    first, second, third = (make_resident(session, n)[0] for n in ("first", "second", "third"))
    sign_up(session, first, event.id, now=NOW)
    with pytest.raises(Conflict, match="您已报名") as twice:
        sign_up(session, first, event.id, now=NOW + MINUTE)
    assert twice.value.code == "already_signed_up"
    sign_up(session, second, event.id, now=NOW)
    with pytest.raises(Conflict, match="名额已满") as full:
        sign_up(session, third, event.id, now=NOW)
    assert full.value.code == "event_full" and places_taken(session, event.id) == 2

    cancel_signup(session, first, event.id, now=NOW + HOUR)
    assert places_taken(session, event.id) == 1
    with pytest.raises(Conflict, match="您没有报名"):
        cancel_signup(session, first, event.id, now=NOW + HOUR)
    sign_up(session, third, event.id, now=NOW + HOUR)
    with pytest.raises(Conflict, match="名额已满"):
        sign_up(session, first, event.id, now=NOW + 2 * HOUR)  # back again, but the place went

    cancel_signup(session, second, event.id, now=NOW + 3 * HOUR)
    back = sign_up(session, first, event.id, now=NOW + 4 * HOUR)  # the same row, signed again
    assert back.cancelled_at is None and back.signed_at == NOW + 4 * HOUR
    assert session.scalar(select(func.count(EventSignup.id)).where(EventSignup.event_id == event.id)) == 3


def test_no_signing_up_or_cancelling_once_the_event_has_started(session: Session, editor: Actor) -> None:
    event = announce_event(session, editor, an_event(session), now=NOW)
    resident, late = make_resident(session, "ontime")[0], make_resident(session, "late")[0]
    sign_up(session, resident, event.id, now=event.starts_at - MINUTE)
    with pytest.raises(Conflict, match="活动已开始，不能再报名") as refused:
        sign_up(session, late, event.id, now=event.starts_at)
    assert refused.value.code == "event_started"
    with pytest.raises(Conflict, match="活动已开始，不能取消报名"):
        cancel_signup(session, resident, event.id, now=event.starts_at + MINUTE)
    with pytest.raises(NotFound):
        sign_up(session, late, 2_000_000_000, now=NOW)


def test_two_residents_racing_for_the_last_place_do_not_both_get_it(app) -> None:
    """Committed for real from two threads, each of which has read the event with one place left before
    either signs up: the event's row lock queues the second, which then finds it full."""
    engine = app.extensions["db"].engine
    tag = uuid.uuid4().hex[:8]
    with Session(engine) as session:
        users = [User(openid=f"race-{tag}-{i}", nickname=f"抢名额{i}") for i in range(3)]
        session.add_all(users)
        session.flush()
        event = Event(
            kind="consultation",
            title=f"法律咨询 {tag}",
            starts_at=NOW + 30 * DAY,
            ends_at=NOW + 30 * DAY + HOUR,
            place="活动室",
            town_id=estate(session, "康虹花园").town_id,
            estate_id=estate(session, "康虹花园").id,
            capacity=2,
        )
        session.add(event)
        session.flush()
        session.add(EventSignup(event_id=event.id, user_id=users[0].id, signed_at=NOW))
        session.commit()
        user_ids, event_id = [u.id for u in users], event.id
    # SQLite's BEGIN IMMEDIATE already queues the second transaction before its first read
    read = threading.Barrier(1 if engine.dialect.name == "sqlite" else 2)
    seen = [0, 0]

    def race(i: int) -> str:
        with Session(engine) as session:
            seen[i] = places_taken(session, event_id)  # a plain read: on MariaDB, the snapshot begins here
            read.wait()
            sign_up(session, session.get(User, user_ids[1 + i]), event_id, now=NOW)
            session.commit()
            return "signed up"

    try:
        results = concurrently(2, race)
        assert sorted(map(str, results)) == ["signed up", "名额已满"], results
        if engine.dialect.name != "sqlite":
            assert seen == [1, 1]  # both had read one place left before either signed up
        with Session(engine) as session:
            assert places_taken(session, event_id) == 2
    finally:
        with engine.begin() as conn:
            conn.execute(delete(EventSignup).where(EventSignup.event_id == event_id))
            conn.execute(delete(Event).where(Event.id == event_id))
        purge_users(engine, user_ids)


# ------------------------------------------------------------------------------------- the reminder


def test_the_reminder_reaches_each_resident_once_between_24_and_18_hours_before(
    session: Session, editor: Actor
) -> None:
    starts = NOW + 3 * DAY
    event = announce_event(
        session, editor, an_event(session, starts_at=starts, ends_at=starts + HOUR), now=NOW
    )
    other = announce_event(
        session, editor, an_event(session, title="取消了", starts_at=starts, ends_at=starts + HOUR), now=NOW
    )
    early, quitter, latecomer = (make_resident(session, n)[0] for n in ("early", "quitter", "latecomer"))
    sign_up(session, early, event.id, now=NOW)
    sign_up(session, quitter, event.id, now=NOW)
    sign_up(session, early, other.id, now=NOW)
    cancel_signup(session, quitter, event.id, now=NOW + HOUR)
    cancel_event(session, editor, other.id, "场地冲突", now=NOW + HOUR)
    before = len(messages_of(session, early))

    assert remind_signups(session, starts - 24 * HOUR - MINUTE).reminded == []  # not yet a day before
    batch = remind_signups(session, starts - 24 * HOUR)
    assert len(batch.reminded) == 1 and batch.done
    reminder = messages_of(session, early)[-1]
    assert reminder.title == "活动提醒：装修前先登记：普法讲座"
    assert (
        "普法宣传" in reminder.body
        and "07-13 10:00" in reminder.body
        and "小区党群服务站二楼" in reminder.body
    )
    assert remind_signups(session, starts - 20 * HOUR).reminded == []  # once
    assert len(messages_of(session, early)) == before + 1
    assert messages_of(session, quitter) == []

    sign_up(session, latecomer, event.id, now=starts - 19 * HOUR)
    assert (
        len(remind_signups(session, starts - 19 * HOUR).reminded) == 1
    )  # the next run, still the day before
    assert remind_signups(session, starts - 18 * HOUR).reminded == []
    last_minute = make_resident(session, "lastminute")[0]
    sign_up(session, last_minute, event.id, now=starts - 17 * HOUR)
    assert remind_signups(session, starts - 17 * HOUR).reminded == []  # signed up after the reminders went
    session.expire_all()
    reminded = {s.user_id: s.reminded_at for s in event.signups}
    assert reminded == {
        early.id: starts - 24 * HOUR,
        quitter.id: None,
        latecomer.id: starts - 19 * HOUR,
        last_minute.id: None,
    }


def test_the_reminder_works_in_batches(session: Session, editor: Actor) -> None:
    starts = NOW + 3 * DAY
    event = announce_event(
        session, editor, an_event(session, starts_at=starts, ends_at=starts + HOUR), now=NOW
    )
    residents = [make_resident(session, f"batch{i}")[0] for i in range(5)]
    for r in residents:
        sign_up(session, r, event.id, now=NOW)
    first = remind_signups(session, starts - 20 * HOUR, limit=3)
    assert len(first.reminded) == 3 and not first.done
    rest = remind_signups(session, starts - 20 * HOUR, after_id=first.last_id, limit=3)
    assert len(rest.reminded) == 2 and rest.done
    assert all(len(messages_of(session, r)) == 1 for r in residents)


def test_the_remind_command_run_twice_reminds_once(
    app, cli_runner, session: Session, editor: Actor, monkeypatch
) -> None:
    starts = NOW + 3 * DAY
    event = announce_event(
        session, editor, an_event(session, starts_at=starts, ends_at=starts + HOUR), now=NOW
    )
    resident = make_resident(session, "cli")[0]
    sign_up(session, resident, event.id, now=NOW)
    session.commit()
    clock = MovableClock(starts - 21 * HOUR)
    monkeypatch.setitem(app.extensions, "clock", clock)

    first = cli_runner.invoke(community_group, ["remind"])
    assert first.exit_code == 0, first.output
    assert first.output == "community remind: 1 residents reminded of tomorrow's events\n"
    clock.advance(HOUR)
    again = cli_runner.invoke(community_group, ["remind"])
    assert again.output == "community remind: 0 residents reminded of tomorrow's events\n"
    session.expire_all()
    assert [m.title for m in messages_of(session, resident)] == ["活动提醒：装修前先登记：普法讲座"]


# ------------------------------------------------------------------------------------- attendance


def test_the_studio_marks_who_came_once_the_event_has_started(session: Session, editor: Actor) -> None:
    event = announce_event(session, editor, an_event(session), now=NOW)
    came, absent, gone = (make_resident(session, n)[0] for n in ("came", "absent", "gone"))
    signups = {u.id: sign_up(session, u, event.id, now=NOW) for u in (came, absent, gone)}
    cancel_signup(session, gone, event.id, now=NOW + HOUR)
    with pytest.raises(Conflict, match="活动开始后才能登记") as early:
        mark_attendance(session, editor, event.id, [signups[came.id].id], now=event.starts_at - MINUTE)
    assert early.value.code == "event_not_started"
    with pytest.raises(ValidationFailed, match="名单中没有这位报名者"):
        mark_attendance(session, editor, event.id, [signups[gone.id].id], now=event.ends_at)

    assert mark_attendance(session, editor, event.id, [signups[came.id].id], now=event.ends_at + HOUR) == (
        1,
        1,
    )
    assert signups[came.id].attended is True and signups[absent.id].attended is False
    assert signups[gone.id].attended is None
    # corrected the next day: both came
    both = [signups[came.id].id, signups[absent.id].id]
    assert mark_attendance(session, editor, event.id, both, now=event.ends_at + DAY) == (2, 0)
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "event.attendance").order_by(AuditEntry.id.desc())
    ).first()
    assert entry is not None and entry.detail == {"came": 2, "absent": 0}


def test_the_sign_up_list_names_residents_by_nickname_only(session: Session, editor: Actor) -> None:
    event = announce_event(session, editor, an_event(session), now=NOW)
    resident = make_resident(session, "王阿姨")[0]
    sign_up(session, resident, event.id, now=NOW)
    [row] = signup_list(session, editor, event.id)
    assert row.nickname == "王阿姨"
    assert resident.openid not in repr(row) and not any(
        f.name in {"openid", "user_id", "unionid"} for f in dataclasses.fields(row)
    )
    with pytest.raises(Forbidden):
        signup_list(session, Actor(Role.PROPERTY_STAFF, 1, "物业"), event.id)
    with pytest.raises(Forbidden):
        list_events(session, Actor(Role.OFFICER, 1, "队员", squad_id=1), now=NOW)


def test_the_studio_lists_upcoming_past_and_cancelled_events(session: Session, editor: Actor) -> None:
    soon = announce_event(session, editor, an_event(session, title="很快"), now=NOW)
    later = announce_event(
        session,
        editor,
        an_event(session, title="稍后", starts_at=NOW + 9 * DAY, ends_at=NOW + 9 * DAY + HOUR),
        now=NOW,
    )
    off = announce_event(session, editor, an_event(session, title="取消"), now=NOW)
    cancel_event(session, editor, off.id, "场地冲突", now=NOW)
    when = NOW + 5 * DAY  # the first has ended

    def shown(which: str) -> list[int]:
        page = list_events(session, editor, shown=which, now=when, per_page=100)  # type: ignore[arg-type]
        return [e.id for e in page.items if e.id in {soon.id, later.id, off.id}]

    assert shown("upcoming") == [later.id]
    assert shown("past") == [soon.id]
    assert shown("cancelled") == [off.id]
    assert set(shown("all")) == {soon.id, later.id, off.id}
    supervisor = Actor(Role.SUPERVISOR, None, "区局")
    assert get_event(session, soon.id).id in [
        e.id for e in list_events(session, supervisor, shown="past", now=when).items
    ]
