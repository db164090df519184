"""The inbox: a squad's and the bureau's list of cases by tab and filter, their notices and bulk actions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.cache import CATEGORIES, ESTATES, cached
from backend.cases.models import CaseSource
from backend.cases.services.life import assign_case, transition
from backend.cases.services.reads import INBOX_TABS, InboxFilter, list_inbox
from backend.cases.workflow import BUREAU_ROLES, SQUAD_ROLES, STATUS_LABELS, Actor, Role
from backend.clock import now
from backend.console.blueprint import ALL_STAFF, console_bp, current_actor, current_staff, require
from backend.console.forms import Form, id_arg, parse
from backend.console.scope import case_in_scope
from backend.db import RowId, get_session
from backend.errors import ValidationFailed
from backend.org.models import Estate
from backend.org.services import list_squads
from backend.staff.services import get_staff, list_notices, mark_notices_read, squad_members
from backend.taxonomy.services import list_categories

_SOURCES = tuple(s.value for s in CaseSource)


@console_bp.get("/")
@require()
def home() -> ResponseReturnValue:
    role = Role(current_staff().role)
    if role is Role.PROPERTY_STAFF:
        return redirect(url_for("console.company_home"))
    if role is Role.EDITOR:
        return redirect(url_for("console.articles"))
    return redirect(url_for("console.inbox"))


@console_bp.get("/inbox")
@require(*ALL_STAFF)
def inbox() -> ResponseReturnValue:
    """The cases of the tab and filter, one page, with what their rows show loaded with them; the filter's
    choices (categories, estates, squads) are kept per process until the catalog or the estates change, so a
    page reads only what is about now: the cases, the notices and, for a leader, the squad's members."""
    actor = current_actor()
    args = request.args
    filters = InboxFilter(
        tab=args.get("tab", "to_sign"),
        category=args.get("category") or None,
        estate_id=id_arg("estate"),
        source=args.get("source") or None,
        key_only=args.get("key") == "1",
    )
    db = get_session()
    at = now()
    page = list_inbox(
        db,
        actor,
        filters,
        now=at,
        squad_id=id_arg("squad"),
        page=args.get("page", 1, type=int),
    )
    members = squad_members(db, actor.squad_id) if actor.role is Role.SQUAD_LEADER and actor.squad_id else []
    places = cached(db, ESTATES, _read_places, part="console-inbox")
    return render_template(
        "console/inbox.html",
        page=page,
        filters=filters,
        tabs=INBOX_TABS,
        categories=cached(db, CATEGORIES, _read_category_choices, part="console-inbox"),
        sources=_SOURCES,
        squads=places.squads if actor.role in BUREAU_ROLES else (),
        members=members,
        estates=places.estate_choices(actor),
        notices=list_notices(db, actor),
        now=at,
        labels=STATUS_LABELS,
    )


@dataclass(frozen=True, slots=True)
class CategoryChoice:
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Choice:
    """An estate or a squad to filter by."""

    id: int
    name: str


@dataclass(frozen=True, slots=True)
class Places:
    """The estates and squads the inbox filters by, read once per change of the estates (backend/cache.py)."""

    squads: tuple[Choice, ...]  # every town's squad, in the towns' order
    key_estates: tuple[Choice, ...]  # by name
    estates_of_squad: Mapping[int, tuple[Choice, ...]]  # a squad's id → the estates of its town, by name

    def estate_choices(self, actor: Actor) -> tuple[Choice, ...]:
        """The estates to filter by: a squad's, those of its town; the bureau's, the key estates."""
        if actor.role in SQUAD_ROLES:
            return self.estates_of_squad.get(actor.squad_id, ()) if actor.squad_id is not None else ()
        return self.key_estates


def _read_category_choices(db: Session) -> tuple[CategoryChoice, ...]:
    return tuple(CategoryChoice(c.code, c.name) for c in list_categories(db))


def _read_places(db: Session) -> Places:
    squads = list_squads(db)
    by_town: dict[int, list[Choice]] = {}
    key_estates: list[Choice] = []
    for estate_id, name, town_id, is_key in db.execute(
        select(Estate.id, Estate.name, Estate.town_id, Estate.is_key).order_by(Estate.name, Estate.id)
    ):
        by_town.setdefault(town_id, []).append(Choice(estate_id, name))
        if is_key:
            key_estates.append(Choice(estate_id, name))
    return Places(
        squads=tuple(Choice(s.id, s.name) for s in squads),
        key_estates=tuple(key_estates),
        estates_of_squad=MappingProxyType({s.id: tuple(by_town.get(s.town_id, ())) for s in squads}),
    )


class NoticesForm(Form):
    ids: list[RowId] = Field(min_length=1, max_length=1000)


@console_bp.post("/notices/read")
@require(*ALL_STAFF)
def notices_read() -> ResponseReturnValue:
    form = parse(NoticesForm)
    db = get_session()
    mark_notices_read(db, current_actor(), form.ids, now=now())
    db.commit()
    return redirect(url_for("console.inbox"))


class BulkForm(Form):
    action: str = Field(pattern="^(sign|assign)$")
    cases: list[str] = Field(min_length=1, max_length=100)
    assignee: RowId | None = None


@console_bp.post("/inbox/bulk")
@require(Role.OFFICER, Role.SQUAD_LEADER)
def inbox_bulk() -> ResponseReturnValue:
    form = parse(BulkForm)
    db = get_session()
    actor = current_actor()
    assignee = get_staff(db, form.assignee) if form.assignee else None
    done = 0
    # one order for every locker of many cases: no deadlock between them
    for number in sorted(set(form.cases)):
        case = case_in_scope(number)
        if form.action == "sign":
            transition(db, case, "sign", actor, now=now())
        else:
            if assignee is None:
                raise ValidationFailed.on("assignee", "请选择要分派的队员")
            assign_case(db, case, actor, assignee, now=now())
        done += 1
    db.commit()
    flash(f"已处理 {done} 件工单", "ok")
    return redirect(request.referrer or url_for("console.inbox"))
