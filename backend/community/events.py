"""Campaign events (7·15 城管公众日, 进社区活动周, 普法宣传, 法律咨询): a studio announces, edits and cancels them;
residents see the upcoming ones near them, sign up within the capacity, cancel, and are reminded the day
before; the studio reads its sign-up list (nicknames only) and marks who came."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal, get_args

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from backend.accounts.models import User
from backend.articles.models import ResidentEstate
from backend.audit.services import record_audit
from backend.cases.workflow import BUREAU_ROLES, Actor, Role
from backend.community.models import Event, EventKind, EventSignup
from backend.db import rows_changed
from backend.errors import Conflict, FieldError, Forbidden, NotFound, ValidationFailed, label_choices
from backend.messages.services import tell_residents
from backend.org.models import Estate, Town
from backend.pagination import Page, paginate
from backend.workcalendar import SHANGHAI

EventKindCode = Literal["public_day", "outreach_week", "lecture", "consultation"]
EVENT_KINDS: tuple[str, ...] = get_args(EventKindCode)
EVENT_KIND_LABELS: dict[str, str] = {
    EventKind.PUBLIC_DAY.value: "7·15 城管公众日",
    EventKind.OUTREACH_WEEK.value: "进社区活动周",
    EventKind.LECTURE.value: "普法宣传",
    EventKind.CONSULTATION.value: "法律咨询",
}
label_choices(EVENT_KIND_LABELS)  # a refused kind is answered with the four names

TITLE_MAX, PLACE_MAX, DESCRIPTION_MAX, REASON_MAX = 128, 255, 2000, 200  # characters
CAPACITY_MAX = 10_000
LONGEST = dt.timedelta(days=31)  # an activity week is a week; a month is the most an announcement may span
FURTHEST = dt.timedelta(days=366)  # announced at most a year ahead
# The reminder "the day before": the command, run from cron (hourly or more often), reminds each sign-up of an
# event starting between 24 and 18 hours later, once. A sign-up made later than that needs no reminder.
REMIND_FROM, REMIND_UNTIL = dt.timedelta(hours=24), dt.timedelta(hours=18)
REMIND_BATCH = 200

EventStatus = Literal["upcoming", "ongoing", "ended", "cancelled"]
EVENT_STATUS_LABELS: dict[str, str] = {
    "upcoming": "报名中",
    "ongoing": "进行中",
    "ended": "已结束",
    "cancelled": "已取消",
}
EventsShown = Literal["upcoming", "past", "cancelled", "all"]

_WRITERS = frozenset({Role.EDITOR})
_READERS = frozenset({Role.EDITOR, *BUREAU_ROLES})


@dataclass(frozen=True)
class EventInput:
    """An event as validated at the boundary (lengths, a kind of the four); the service checks the rest."""

    kind: str
    title: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    place: str
    capacity: int
    description: str = ""
    town_id: int | None = None
    estate_id: int | None = None  # an estate implies its town


# ------------------------------------------------------------------------------------- the studio writes


def announce_event(
    session: Session, actor: Actor, data: EventInput, *, now: dt.datetime, ip: str = ""
) -> Event:
    """A studio editor announces an event: starting in the future, ending after it starts, at an estate (and
    so in its town) or in a town, for at least one person."""
    _require(actor, _WRITERS)
    town, estate = _checked(session, data, now)
    event = Event(
        kind=data.kind,
        title=data.title,
        description=data.description,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        place=data.place,
        town=town,
        estate=estate,
        capacity=data.capacity,
        created_by=actor.id,
        created_at=now,
    )
    session.add(event)
    session.flush()
    detail = {"kind": data.kind, "starts_at": data.starts_at.isoformat(), "capacity": data.capacity}
    record_audit(session, actor, "event.announce", "event", event.id, detail=detail, ip=ip, now=now)
    return event


def edit_event(
    session: Session, actor: Actor, event_id: int, data: EventInput, *, now: dt.datetime, ip: str = ""
) -> Event:
    """Change an event that has not started and is not cancelled. The capacity cannot fall below those
    already signed up; a new time or place is told to them, and a new start time reminds them again."""
    _require(actor, _WRITERS)
    event = _locked(session, event_id)
    if event.cancelled_at is not None:
        raise Conflict("活动已取消，不能修改", code="event_cancelled")
    if event.starts_at <= now:
        raise Conflict("活动已开始，不能修改", code="event_started")
    town, estate = _checked(session, data, now)
    taken = _taken_now(session, event.id)
    if data.capacity < taken:
        raise ValidationFailed.on("capacity", f"已有 {taken} 人报名，名额不能少于 {taken}")
    before = _facts(event)
    event.kind, event.title, event.description = data.kind, data.title, data.description
    event.starts_at, event.ends_at, event.place = data.starts_at, data.ends_at, data.place
    event.town, event.estate = town, estate
    event.capacity = data.capacity
    session.flush()
    after = _facts(event)
    changed = [name for name in after if after[name] != before[name]]
    if not changed:
        return event
    record_audit(session, actor, "event.edit", "event", event.id, detail={"changed": changed}, ip=ip, now=now)
    if "starts_at" in changed:  # the reminder of the old time was for the old time
        session.execute(
            update(EventSignup)
            .where(EventSignup.event_id == event.id, EventSignup.cancelled_at.is_(None))
            .values(reminded_at=None)
            .execution_options(synchronize_session=False)
        )
    if {"starts_at", "ends_at", "place", "town_id", "estate_id"} & set(changed):
        tell_residents(
            session,
            _signed_up(session, event.id),
            case_id=None,
            title="活动时间或地点有变更",
            body=f"您报名的「{event.title}」有变更：现定于 {when(event)}，地点：{where(event)}。"
            "如不能参加，请在小程序中取消报名。",
            now=now,
        )
    return event


def cancel_event(
    session: Session, actor: Actor, event_id: int, reason: str, *, now: dt.datetime, ip: str = ""
) -> Event:
    """Cancel an event that has not ended; everyone signed up is told why."""
    _require(actor, _WRITERS)
    reason = reason.strip()
    if not reason:
        raise ValidationFailed.on("reason", "请填写取消原因（将告知已报名的居民）")
    event = _locked(session, event_id)
    if event.cancelled_at is not None:
        raise Conflict("活动已取消", code="event_cancelled")
    if event.ends_at <= now:
        raise Conflict("活动已结束，不能取消", code="event_ended")
    event.cancelled_at = now
    told = _signed_up(session, event.id)
    tell_residents(
        session,
        told,
        case_id=None,
        title="活动取消",
        body=f"很抱歉，您报名的「{event.title}」（{when(event)}，{where(event)}）已取消：{reason}",
        now=now,
    )
    detail = {"reason": reason, "told": len(told)}
    record_audit(session, actor, "event.cancel", "event", event.id, detail=detail, ip=ip, now=now)
    return event


def mark_attendance(
    session: Session,
    actor: Actor,
    event_id: int,
    attended: Collection[int],
    *,
    now: dt.datetime,
    ip: str = "",
) -> tuple[int, int]:
    """Once an event has started (at the door, or afterwards), record who of those signed up came: the
    sign-ups in `attended` came, the others did not. Returns (came, did not come)."""
    _require(actor, _WRITERS)
    event = _locked(session, event_id)
    if event.cancelled_at is not None:
        raise Conflict("活动已取消", code="event_cancelled")
    if event.starts_at > now:
        raise Conflict("活动开始后才能登记到场情况", code="event_not_started")
    signups = [s for s in _signups(session, event.id) if s.cancelled_at is None]
    unknown = set(attended) - {s.id for s in signups}
    if unknown:
        raise ValidationFailed.on("attended", "名单中没有这位报名者，请刷新后重试")
    for signup in signups:
        signup.attended = signup.id in attended
    session.flush()
    came = sum(1 for s in signups if s.attended)
    detail = {"came": came, "absent": len(signups) - came}
    record_audit(session, actor, "event.attendance", "event", event.id, detail=detail, ip=ip, now=now)
    return came, len(signups) - came


def _checked(session: Session, data: EventInput, now: dt.datetime) -> tuple[Town, Estate | None]:
    """The event's town and estate, once every rule of its fields holds; every broken rule at once."""
    errors = _field_errors(data, now)
    town, estate, place_error = _place(session, data)
    if place_error is not None:
        errors.append(place_error)
    if errors or town is None:
        message = errors[0].message if len(errors) == 1 else "活动信息有误，请按提示修改"
        raise ValidationFailed(
            message, errors=errors, description="; ".join(f"{e.field}: {e.message}" for e in errors)
        )
    return town, estate


def _field_errors(data: EventInput, now: dt.datetime) -> list[FieldError]:
    rules = [
        ("kind", data.kind in EVENT_KINDS, "请选择活动类型"),
        ("title", bool(data.title.strip()), "请填写活动名称"),
        ("place", bool(data.place.strip()), "请填写活动地点"),
        ("capacity", 1 <= data.capacity <= CAPACITY_MAX, f"名额应为 1–{CAPACITY_MAX} 人"),
        ("starts_at", data.starts_at > now, "开始时间须晚于现在"),
        ("ends_at", data.ends_at > data.starts_at, "结束时间须晚于开始时间"),
    ]
    errors = [FieldError(field=name, message=message) for name, holds, message in rules if not holds]
    if data.starts_at > now + FURTHEST:
        errors.append(FieldError(field="starts_at", message="只能发布一年以内的活动"))
    if data.ends_at - data.starts_at > LONGEST:
        errors.append(FieldError(field="ends_at", message=f"一次活动最长 {LONGEST.days} 天"))
    return errors


def _place(session: Session, data: EventInput) -> tuple[Town | None, Estate | None, FieldError | None]:
    """The town and estate an event is at: an estate's own town, or a town."""
    if data.estate_id is not None:
        estate = session.get(Estate, data.estate_id)
        if estate is None:
            return None, None, FieldError(field="estate_id", message="没有这个小区")
        if data.town_id is not None and data.town_id != estate.town_id:
            return None, None, FieldError(field="estate_id", message="所选小区不在所选街镇")
        return estate.town, estate, None
    if data.town_id is not None:
        town = session.get(Town, data.town_id)
        if town is None:
            return None, None, FieldError(field="town_id", message="没有这个街镇")
        return town, None, None
    return None, None, FieldError(field="town_id", message="请选择活动所在的街镇或小区")


def _facts(event: Event) -> dict[str, object]:
    return {
        "kind": event.kind,
        "title": event.title,
        "description": event.description,
        "starts_at": event.starts_at,
        "ends_at": event.ends_at,
        "place": event.place,
        "town_id": event.town_id,
        "estate_id": event.estate_id,
        "capacity": event.capacity,
    }


# ------------------------------------------------------------------------------------- residents


def upcoming_events_near(
    session: Session, user_id: int, *, now: dt.datetime, page: int = 1, per_page: int = 20
) -> tuple[Page[Event], bool]:
    """The events not yet started and not cancelled at the estates the resident lives in or follows, or in
    their towns, soonest first; with no estate chosen, those of the whole district. Also whether the list
    was narrowed to their estates."""
    estate_ids, town_ids = resident_places(session, user_id)
    query = (
        select(Event)
        .where(Event.cancelled_at.is_(None), Event.starts_at > now)
        .options(selectinload(Event.town), selectinload(Event.estate))
        .order_by(Event.starts_at, Event.id)
    )
    if estate_ids:
        query = query.where(or_(Event.estate_id.in_(estate_ids), Event.town_id.in_(town_ids)))
    return paginate(session, query, page, per_page), bool(estate_ids)


def resident_places(session: Session, user_id: int) -> tuple[set[int], set[int]]:
    """The estates a resident lives in or follows (their ResidentEstate rows), and the towns of those."""
    rows = session.execute(
        select(Estate.id, Estate.town_id)
        .join(ResidentEstate, ResidentEstate.estate_id == Estate.id)
        .where(ResidentEstate.user_id == user_id)
    ).all()
    return {estate_id for estate_id, _ in rows}, {town_id for _, town_id in rows}


def signed_up_events(session: Session, user_id: int, *, page: int = 1, per_page: int = 20) -> Page[Event]:
    """The events a resident is signed up for (not cancelled by them), latest start first."""
    query = (
        select(Event)
        .join(EventSignup, EventSignup.event_id == Event.id)
        .where(EventSignup.user_id == user_id, EventSignup.cancelled_at.is_(None))
        .options(selectinload(Event.town), selectinload(Event.estate))
        .order_by(Event.starts_at.desc(), Event.id.desc())
    )
    return paginate(session, query, page, per_page)


def sign_up(session: Session, user: User, event_id: int, *, now: dt.datetime) -> EventSignup:
    """Sign a resident up for an event not cancelled, not started and not full, once. The event's row is
    locked first, so two residents racing for its last place queue on it and the second finds it full."""
    event = _locked(session, event_id)
    if event.cancelled_at is not None:
        raise Conflict("活动已取消", code="event_cancelled")
    if event.starts_at <= now:
        raise Conflict("活动已开始，不能再报名", code="event_started")
    signup = signup_of(session, user.id, event.id, lock=True)
    if signup is not None and signup.cancelled_at is None:
        raise Conflict("您已报名这个活动", code="already_signed_up")
    if _taken_now(session, event.id) >= event.capacity:
        raise Conflict("名额已满", code="event_full")
    if signup is not None:  # signed up, cancelled, and back again: the same row
        signup.cancelled_at, signup.reminded_at, signup.attended = None, None, None
        signup.signed_at = now
        session.flush()
        return signup
    signup = EventSignup(event_id=event.id, user_id=user.id, signed_at=now)
    try:
        with session.begin_nested():
            session.add(signup)
            session.flush()
    except IntegrityError:
        # a database that does not lock the event row (none we run on) let the same resident in twice
        raise Conflict("您已报名这个活动", code="already_signed_up") from None
    return signup


def cancel_signup(session: Session, user: User, event_id: int, *, now: dt.datetime) -> EventSignup:
    """A resident cancels their sign-up before the event starts; their place is free at once."""
    event = _locked(session, event_id)
    signup = signup_of(session, user.id, event.id, lock=True)
    if signup is None or signup.cancelled_at is not None:
        raise Conflict("您没有报名这个活动", code="not_signed_up")
    if event.starts_at <= now:
        raise Conflict("活动已开始，不能取消报名", code="event_started")
    signup.cancelled_at = now
    session.flush()
    return signup


def signup_of(session: Session, user_id: int, event_id: int, *, lock: bool = False) -> EventSignup | None:
    """The resident's sign-up for an event, if any (`lock`: read afresh and locked, past the snapshot)."""
    query = select(EventSignup).where(EventSignup.event_id == event_id, EventSignup.user_id == user_id)
    if lock:
        query = query.with_for_update()
    return session.scalar(query.execution_options(populate_existing=True))


# ------------------------------------------------------------------------------------- reading


def get_event(session: Session, event_id: int) -> Event:
    event = session.get(Event, event_id)
    if event is None:
        raise NotFound("没有这个活动", code="event_not_found")
    return event


def places_taken(session: Session, event_id: int) -> int:
    return (
        session.scalar(
            select(func.count(EventSignup.id)).where(
                EventSignup.event_id == event_id, EventSignup.cancelled_at.is_(None)
            )
        )
        or 0
    )


def places_taken_by_event(session: Session, event_ids: Collection[int]) -> dict[int, int]:
    """How many are signed up for each event (one query for a page of them)."""
    if not event_ids:
        return {}
    rows = session.execute(
        select(EventSignup.event_id, func.count(EventSignup.id))
        .where(EventSignup.event_id.in_(list(event_ids)), EventSignup.cancelled_at.is_(None))
        .group_by(EventSignup.event_id)
    ).all()
    counts = {event_id: int(count) for event_id, count in rows}
    return {event_id: counts.get(event_id, 0) for event_id in event_ids}


def events_signed_up_for(session: Session, user_id: int, event_ids: Collection[int]) -> set[int]:
    """Which of these events the resident is signed up for (and has not cancelled)."""
    if not event_ids:
        return set()
    return set(
        session.scalars(
            select(EventSignup.event_id).where(
                EventSignup.user_id == user_id,
                EventSignup.event_id.in_(list(event_ids)),
                EventSignup.cancelled_at.is_(None),
            )
        )
    )


def event_status(event: Event, now: dt.datetime) -> EventStatus:
    if event.cancelled_at is not None:
        return "cancelled"
    if now < event.starts_at:
        return "upcoming"
    return "ongoing" if now < event.ends_at else "ended"


def list_events(
    session: Session,
    actor: Actor,
    *,
    shown: EventsShown = "upcoming",
    now: dt.datetime,
    page: int = 1,
    per_page: int = 30,
) -> Page[Event]:
    """The studio's events: upcoming (not ended; soonest first), past (ended; latest first), cancelled, or
    all of them (latest first)."""
    _require(actor, _READERS)
    query = select(Event).options(selectinload(Event.town), selectinload(Event.estate))
    live = Event.cancelled_at.is_(None)
    if shown == "upcoming":
        query = query.where(live, Event.ends_at > now).order_by(Event.starts_at, Event.id)
    elif shown == "past":
        query = query.where(live, Event.ends_at <= now).order_by(Event.starts_at.desc(), Event.id.desc())
    elif shown == "cancelled":
        query = query.where(Event.cancelled_at.is_not(None)).order_by(Event.starts_at.desc(), Event.id.desc())
    else:
        query = query.order_by(Event.starts_at.desc(), Event.id.desc())
    return paginate(session, query, page, per_page)


def event_for_studio(session: Session, actor: Actor, event_id: int) -> Event:
    _require(actor, _READERS)
    return get_event(session, event_id)


def place_choices(session: Session) -> list[tuple[Town, list[Estate]]]:
    """Every town, in its order, with its estates by name: where an event may be."""
    towns = list(session.scalars(select(Town).order_by(Town.position, Town.id)))
    estates: dict[int, list[Estate]] = {town.id: [] for town in towns}
    for estate in session.scalars(select(Estate).order_by(Estate.name, Estate.id)):
        estates.setdefault(estate.town_id, []).append(estate)
    return [(town, estates[town.id]) for town in towns]


@dataclass(frozen=True)
class SignupRow:
    """One line of the studio's sign-up list: the resident's nickname, never their WeChat identity."""

    id: int
    nickname: str
    signed_at: dt.datetime
    cancelled_at: dt.datetime | None
    reminded_at: dt.datetime | None
    attended: bool | None


def signup_list(session: Session, actor: Actor, event_id: int) -> list[SignupRow]:
    """Who signed up for an event (those who cancelled last), by nickname only."""
    _require(actor, _READERS)
    rows = session.execute(
        select(EventSignup, User.nickname)
        .join(User, User.id == EventSignup.user_id)
        .where(EventSignup.event_id == event_id)
        .order_by(EventSignup.cancelled_at.is_not(None), EventSignup.signed_at, EventSignup.id)
    ).all()
    return [
        SignupRow(
            id=signup.id,
            nickname=nickname or f"居民{signup.id}",
            signed_at=signup.signed_at,
            cancelled_at=signup.cancelled_at,
            reminded_at=signup.reminded_at,
            attended=signup.attended,
        )
        for signup, nickname in rows
    ]


def when(event: Event) -> str:
    """The event's time in Shanghai, in words: 2026-07-15 09:30–11:30 (or to another day)."""
    start, end = event.starts_at.astimezone(SHANGHAI), event.ends_at.astimezone(SHANGHAI)
    tail = end.strftime("%H:%M") if end.date() == start.date() else end.strftime("%Y-%m-%d %H:%M")
    return f"{start:%Y-%m-%d %H:%M}–{tail}"


def where(event: Event) -> str:
    """The event's place with its estate or town: 康虹花园 · 社区活动室."""
    area = event.estate.name if event.estate is not None else event.town.name
    return f"{area} · {event.place}"


# ------------------------------------------------------------------------------------- the reminder


@dataclass(frozen=True)
class ReminderBatch:
    """One batch of the reminder: the sign-ups it reminded, and where the next batch starts."""

    reminded: list[int]
    last_id: int
    done: bool


def remind_signups(
    session: Session, now: dt.datetime, *, after_id: int = 0, limit: int = REMIND_BATCH
) -> ReminderBatch:
    """One batch of the day-before reminder: each sign-up after `after_id`, not cancelled, of an event not
    cancelled that starts between 18 and 24 hours after `now`, gets one in-app message. The event's row is
    locked first (as signing up, editing and cancelling lock it: one order of locks, no deadlock) and read
    afresh, so an event cancelled or moved meanwhile is not reminded of; each sign-up is then claimed by one
    UPDATE of its `reminded_at` before it is told, so running the command twice, even at once, reminds nobody
    twice. The caller commits each batch and asks for the next until `done`."""
    rows = session.execute(
        select(EventSignup.id, EventSignup.user_id, EventSignup.event_id)
        .join(Event, Event.id == EventSignup.event_id)
        .where(
            EventSignup.id > after_id,
            EventSignup.cancelled_at.is_(None),
            EventSignup.reminded_at.is_(None),
            Event.cancelled_at.is_(None),
            Event.starts_at >= now + REMIND_UNTIL,
            Event.starts_at <= now + REMIND_FROM,
        )
        .order_by(EventSignup.id)
        .limit(limit)
    ).all()
    reminded = []
    for signup_id, user_id, event_id in rows:
        event = _locked(session, event_id)
        if event.cancelled_at is not None or not now + REMIND_UNTIL <= event.starts_at <= now + REMIND_FROM:
            continue
        claimed = rows_changed(
            session,
            update(EventSignup)
            .where(
                EventSignup.id == signup_id,
                EventSignup.reminded_at.is_(None),
                EventSignup.cancelled_at.is_(None),
            )
            .values(reminded_at=now)
            .execution_options(synchronize_session=False),
        )
        if claimed != 1:
            continue  # another run reminded them meanwhile, or they cancelled
        tell_residents(
            session,
            [user_id],
            case_id=None,
            title=f"活动提醒：{event.title}",
            body=f"您报名的{EVENT_KIND_LABELS.get(event.kind, '')}活动「{event.title}」将于 {when(event)} 举行，"
            f"地点：{where(event)}。请准时参加；如不能参加，请在小程序中取消报名，把名额留给其他居民。",
            now=now,
        )
        reminded.append(signup_id)
    return ReminderBatch(reminded, rows[-1][0] if rows else after_id, len(rows) < limit)


# ------------------------------------------------------------------------------------- helpers


def _require(actor: Actor, roles: frozenset[Role]) -> None:
    if actor.role not in roles:
        message = "只有社区工作室的编辑可以管理活动" if roles is _WRITERS else "没有权限查看活动"
        raise Forbidden(message, code="not_studio")


def _locked(session: Session, event_id: int) -> Event:
    """The event, its row locked for the rest of the transaction and read afresh."""
    event = session.scalar(
        select(Event).where(Event.id == event_id).with_for_update().execution_options(populate_existing=True)
    )
    if event is None:
        raise NotFound("没有这个活动", code="event_not_found")
    return event


def _taken_now(session: Session, event_id: int) -> int:
    """The places taken as committed now, read under the event's lock. A plain count would read the
    transaction's snapshot (on MariaDB, taken at the request's first read, before the lock was waited for),
    and a resident who waited behind another for the last place would not see that it went: a locking
    read sees every sign-up committed meanwhile."""
    return len(
        session.scalars(
            select(EventSignup.id)
            .where(EventSignup.event_id == event_id, EventSignup.cancelled_at.is_(None))
            .with_for_update()
        ).all()
    )


def _signups(session: Session, event_id: int) -> list[EventSignup]:
    return list(
        session.scalars(
            select(EventSignup)
            .where(EventSignup.event_id == event_id)
            .order_by(EventSignup.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def _signed_up(session: Session, event_id: int) -> list[int]:
    """The residents signed up (and not cancelled) for an event."""
    return list(
        session.scalars(
            select(EventSignup.user_id)
            .where(EventSignup.event_id == event_id, EventSignup.cancelled_at.is_(None))
            .order_by(EventSignup.id)
            .with_for_update()  # as committed now (see _taken_now)
        )
    )
