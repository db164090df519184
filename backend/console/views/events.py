"""Campaign events in the console: a studio announces them, sees who signed up and marks who came."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from pydantic import AfterValidator, Field

from backend.cases.workflow import Role
from backend.clock import now
from backend.community.events import (
    CAPACITY_MAX,
    DESCRIPTION_MAX,
    EVENT_KIND_LABELS,
    EVENT_STATUS_LABELS,
    PLACE_MAX,
    REASON_MAX,
    TITLE_MAX,
    EventInput,
    EventKindCode,
    EventsShown,
    announce_event,
    cancel_event,
    edit_event,
    event_for_studio,
    event_status,
    list_events,
    mark_attendance,
    place_choices,
    places_taken,
    places_taken_by_event,
    signup_list,
)
from backend.community.models import Event
from backend.console.blueprint import console_bp, current_actor, require
from backend.console.forms import Form, client_ip, parse
from backend.console.refusal import NO_REFUSAL, Refusal, redisplay_when_refused
from backend.db import MAX_ROW_ID, RowId, get_session
from backend.workcalendar import SHANGHAI

READERS = (Role.EDITOR, Role.SUPERVISOR, Role.ADMIN)  # the bureau reads the studio's events, and acts on none
ROW = f"int(max={MAX_ROW_ID})"
SHOWN: dict[EventsShown, str] = {"upcoming": "未结束", "past": "已结束", "cancelled": "已取消", "all": "全部"}
_LOCAL = "%Y-%m-%dT%H:%M"  # what a datetime-local input holds


def _in_shanghai(value: dt.datetime) -> dt.datetime:
    # a datetime-local input has no zone: it is the time on the wall in Shanghai
    return value.replace(tzinfo=SHANGHAI) if value.tzinfo is None else value


LocalTime = Annotated[dt.datetime, AfterValidator(_in_shanghai)]


class EventForm(Form):
    kind: EventKindCode
    title: str = Field("", max_length=TITLE_MAX)  # blank: the service says what is missing
    description: str = Field("", max_length=DESCRIPTION_MAX)
    starts_at: LocalTime
    ends_at: LocalTime
    place: str = Field("", max_length=PLACE_MAX)
    town_id: RowId | None = None
    estate_id: RowId | None = None
    capacity: int = Field(ge=1, le=CAPACITY_MAX)

    def to_input(self) -> EventInput:
        return EventInput(
            kind=self.kind,
            title=self.title,
            description=self.description,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            place=self.place,
            town_id=self.town_id,
            estate_id=self.estate_id,
            capacity=self.capacity,
        )


class CancelForm(Form):
    reason: str = Field("", max_length=REASON_MAX)


class AttendanceForm(Form):
    attended: list[RowId] = Field([], max_length=CAPACITY_MAX)


# ------------------------------------------------------------------------------------------- the list


@console_bp.get("/events")
@require(*READERS)
def events() -> ResponseReturnValue:
    db = get_session()
    shown: EventsShown = next((s for s in SHOWN if s == request.args.get("shown")), "upcoming")
    page_no = min(max(request.args.get("page", 1, type=int) or 1, 1), 10_000)
    instant = now()
    page = list_events(db, current_actor(), shown=shown, now=instant, page=page_no)
    return render_template(
        "console/events.html",
        page=page,
        shown=shown,
        tabs=SHOWN,
        taken=places_taken_by_event(db, [e.id for e in page.items]),
        statuses={e.id: event_status(e, instant) for e in page.items},
        status_labels=EVENT_STATUS_LABELS,
        kind_labels=EVENT_KIND_LABELS,
        may_write=current_actor().role is Role.EDITOR,
    )


# ------------------------------------------------------------------------------------------- announcing


@console_bp.get("/events/new")
@require(Role.EDITOR)
def event_new() -> ResponseReturnValue:
    return _form_page(NO_REFUSAL)


def _form_page(refused: Refusal, event_id: int | None = None, **_: Any) -> str:
    db = get_session()
    event = event_for_studio(db, current_actor(), event_id) if event_id is not None else None
    return render_template(
        "console/event_form.html",
        refused=refused,
        event=event,
        values=_values(event),
        places=place_choices(db),
        kind_labels=EVENT_KIND_LABELS,
        capacity_max=CAPACITY_MAX,
        taken=places_taken(db, event.id) if event is not None else 0,
    )


def _values(event: Event | None) -> dict[str, str]:
    """The form's fields as the event has them (a new event: none)."""
    if event is None:
        return {}
    return {
        "kind": event.kind,
        "title": event.title,
        "description": event.description,
        "starts_at": event.starts_at.astimezone(SHANGHAI).strftime(_LOCAL),
        "ends_at": event.ends_at.astimezone(SHANGHAI).strftime(_LOCAL),
        "place": event.place,
        "town_id": str(event.town_id),
        "estate_id": str(event.estate_id or ""),
        "capacity": str(event.capacity),
    }


@console_bp.post("/events")
@require(Role.EDITOR)
@redisplay_when_refused(_form_page)
def event_announce() -> ResponseReturnValue:
    form = parse(EventForm)
    db = get_session()
    event = announce_event(db, current_actor(), form.to_input(), now=now(), ip=client_ip())
    db.commit()
    flash(f"已发布活动：{event.title}", "ok")
    return redirect(url_for("console.event_page", event_id=event.id))


@console_bp.get(f"/events/<{ROW}:event_id>/edit")
@require(Role.EDITOR)
def event_edit(event_id: int) -> ResponseReturnValue:
    return _form_page(NO_REFUSAL, event_id=event_id)


@console_bp.post(f"/events/<{ROW}:event_id>")
@require(Role.EDITOR)
@redisplay_when_refused(_form_page)
def event_save(event_id: int) -> ResponseReturnValue:
    form = parse(EventForm)
    db = get_session()
    event = edit_event(db, current_actor(), event_id, form.to_input(), now=now(), ip=client_ip())
    db.commit()
    flash("已保存活动；时间或地点有变更的，已通知报名的居民", "ok")
    return redirect(url_for("console.event_page", event_id=event.id))


# ------------------------------------------------------------------------------------------- one event


@console_bp.get(f"/events/<{ROW}:event_id>")
@require(*READERS)
def event_page(event_id: int) -> ResponseReturnValue:
    return _event_page(NO_REFUSAL, event_id=event_id)


def _event_page(refused: Refusal, event_id: int, **_: Any) -> str:
    db = get_session()
    actor = current_actor()
    event = event_for_studio(db, actor, event_id)
    instant = now()
    status = event_status(event, instant)
    return render_template(
        "console/event.html",
        refused=refused,
        event=event,
        status=status,
        status_label=EVENT_STATUS_LABELS[status],
        kind_label=EVENT_KIND_LABELS.get(event.kind, event.kind),
        signups=signup_list(db, actor, event.id),
        taken=places_taken(db, event.id),
        may_write=actor.role is Role.EDITOR,
    )


@console_bp.post(f"/events/<{ROW}:event_id>/cancel")
@require(Role.EDITOR)
@redisplay_when_refused(_event_page)
def event_cancel(event_id: int) -> ResponseReturnValue:
    form = parse(CancelForm)
    db = get_session()
    event = cancel_event(db, current_actor(), event_id, form.reason, now=now(), ip=client_ip())
    db.commit()
    flash(f"已取消活动：{event.title}，并已通知报名的居民", "ok")
    return redirect(url_for("console.event_page", event_id=event_id))


@console_bp.post(f"/events/<{ROW}:event_id>/attendance")
@require(Role.EDITOR)
@redisplay_when_refused(_event_page)
def event_attendance(event_id: int) -> ResponseReturnValue:
    form = parse(AttendanceForm)
    db = get_session()
    came, absent = mark_attendance(
        db, current_actor(), event_id, set(form.attended), now=now(), ip=client_ip()
    )
    db.commit()
    flash(f"已登记到场情况：到场 {came} 人，未到 {absent} 人", "ok")
    return redirect(url_for("console.event_page", event_id=event_id))
