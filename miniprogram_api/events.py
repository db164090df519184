"""Campaign events in the mini-program: upcoming ones near the resident, signing up and cancelling."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_openapi3 import Tag
from pydantic import BaseModel

from backend.accounts.models import User
from backend.clock import now
from backend.community.events import (
    EVENT_KIND_LABELS,
    EVENT_STATUS_LABELS,
    cancel_signup,
    event_status,
    events_signed_up_for,
    get_event,
    places_taken_by_event,
    resident_places,
    sign_up,
    signed_up_events,
    upcoming_events_near,
)
from backend.community.models import Event
from backend.db import get_session
from backend.errors import ErrorBody
from miniprogram_api.auth import BEARER, current_user
from miniprogram_api.blueprint import mp_api
from miniprogram_api.schemas import EstateRef, EventOut, EventPage, EventPath, PageQuery, Pagination, TownRef

events_tag = Tag(
    name="社区活动",
    description=(
        "社区工作室发布的 7·15 城管公众日、进社区活动周、普法宣传和法律咨询活动：按居民选择的小区及其街镇列出"
        "（未选择小区时列出全区的活动），报名、取消报名；活动前一天收到站内提醒。"
    ),
)
ERRORS: dict[str | int, type[BaseModel] | dict[Any, Any] | None] = {
    401: ErrorBody,
    404: ErrorBody,
    409: ErrorBody,
}


@mp_api.get("/events", tags=[events_tag], security=BEARER, responses={200: EventPage, 401: ErrorBody})
def get_events(query: PageQuery) -> dict:
    """我附近即将举行的活动（开始时间最早在前）：我所选小区及其所在街镇的活动；未选择小区时为全区的活动。"""
    user = current_user()
    session = get_session()
    instant = now()
    page, near = upcoming_events_near(session, user.id, now=instant, page=query.page, per_page=query.per_page)
    return EventPage(
        data=_events_out(page.items, user, instant),
        pagination=Pagination(page=page.page, per_page=page.per_page, total=page.total, pages=page.pages),
        near=near,
    ).model_dump(mode="json")


@mp_api.get("/events/signups", tags=[events_tag], security=BEARER, responses={200: EventPage, 401: ErrorBody})
def get_my_events(query: PageQuery) -> dict:
    """我报名的活动（开始时间最新在前），含已结束和已取消的活动。"""
    user = current_user()
    session = get_session()
    page = signed_up_events(session, user.id, page=query.page, per_page=query.per_page)
    return EventPage(
        data=_events_out(page.items, user, now()),
        pagination=Pagination(page=page.page, per_page=page.per_page, total=page.total, pages=page.pages),
        near=False,
    ).model_dump(mode="json")


@mp_api.get("/events/<int:event_id>", tags=[events_tag], security=BEARER, responses={200: EventOut, **ERRORS})
def get_event_detail(path: EventPath) -> dict:
    """活动详情：时间、地点、剩余名额，以及我是否已报名。"""
    user = current_user()
    return _event_out(get_event(get_session(), path.event_id), user, now())


@mp_api.post(
    "/events/<int:event_id>/signup", tags=[events_tag], security=BEARER, responses={201: EventOut, **ERRORS}
)
def post_signup(path: EventPath) -> tuple[dict, int]:
    """报名。名额已满、活动已开始或已取消、已经报名的，返回 409。"""
    user = current_user()
    session = get_session()
    instant = now()
    signup = sign_up(session, user, path.event_id, now=instant)
    session.commit()
    return _event_out(signup.event, user, instant), 201


@mp_api.delete(
    "/events/<int:event_id>/signup", tags=[events_tag], security=BEARER, responses={200: EventOut, **ERRORS}
)
def delete_signup(path: EventPath) -> dict:
    """取消报名（活动开始前），名额随即释放。"""
    user = current_user()
    session = get_session()
    instant = now()
    signup = cancel_signup(session, user, path.event_id, now=instant)
    session.commit()
    return _event_out(signup.event, user, instant)


def _events_out(events: list[Event], user: User, instant: dt.datetime) -> list[EventOut]:
    """What a resident sees of these events: places left, and whether they signed up (a few queries for
    the whole page)."""
    session = get_session()
    ids = [e.id for e in events]
    taken = places_taken_by_event(session, ids)
    mine = events_signed_up_for(session, user.id, ids)
    estates, _towns = resident_places(session, user.id)
    return [_out(e, instant, taken[e.id], e.id in mine, estates) for e in events]


def _event_out(event: Event, user: User, instant: dt.datetime) -> dict:
    [out] = _events_out([event], user, instant)
    return out.model_dump(mode="json")


def _out(event: Event, instant: dt.datetime, taken: int, signed_up: bool, my_estates: set[int]) -> EventOut:
    status = event_status(event, instant)
    places_left = max(event.capacity - taken, 0)
    return EventOut(
        id=event.id,
        kind=event.kind,
        kind_label=EVENT_KIND_LABELS.get(event.kind, event.kind),
        title=event.title,
        description=event.description,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        place=event.place,
        town=TownRef(code=event.town.code, name=event.town.name),
        estate=EstateRef(id=event.estate.id, name=event.estate.name) if event.estate is not None else None,
        capacity=event.capacity,
        places_left=places_left,
        status=status,
        status_label=EVENT_STATUS_LABELS[status],
        at_my_estate=event.estate_id in my_estates,
        signed_up=signed_up,
        can_sign_up=status == "upcoming" and not signed_up and places_left > 0,
        can_cancel=status == "upcoming" and signed_up,
    )
