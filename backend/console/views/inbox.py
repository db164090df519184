"""The inbox: a squad's and the bureau's list of cases by tab and filter, their notices and bulk actions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from flask import flash, get_template_attribute, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.cache import CATEGORIES, ESTATES, cached
from backend.cases.models import CaseSource
from backend.cases.services.life import assign_case, transition
from backend.cases.services.reads import INBOX_TABS, InboxCase, InboxFilter, list_inbox
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
    """The cases of the tab and filter, one page, read as the columns their rows show; their categories and
    estates are named, and the filter's choices (categories, estates, squads) drawn, from what the process keeps
    until the catalog or the estates change, so a page reads only what is about now: the cases, the notices
    and, for a leader, the squad's members."""
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
    categories = cached(db, CATEGORIES, _read_categories, part="console-inbox")
    places = cached(db, ESTATES, _read_places, part="console-inbox")
    selectable = actor.role in _BULK_ROLES
    return render_template(
        "console/inbox.html",
        page=page,
        drawn=_drawn_rows(page.items, categories.by_code, places.estate_by_id, now=at, selectable=selectable),
        selectable=selectable,
        filters=filters,
        tabs=INBOX_TABS,
        categories=categories.choices,
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
class Categories:
    """The categories to filter by, in the catalog's order, and each by its code (to name a row's)."""

    choices: tuple[CategoryChoice, ...]
    by_code: Mapping[str, CategoryChoice]


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
    estate_by_id: Mapping[int, Choice]  # every estate (to name a row's)

    def estate_choices(self, actor: Actor) -> tuple[Choice, ...]:
        """The estates to filter by: a squad's, those of its town; the bureau's, the key estates."""
        if actor.role in SQUAD_ROLES:
            return self.estates_of_squad.get(actor.squad_id, ()) if actor.squad_id is not None else ()
        return self.key_estates


@dataclass(frozen=True, slots=True)
class InboxRow:
    """A case as console/_case_rows.html draws it (with the attributes of a Case it reads): the columns
    list_inbox read, its category and estate named from the choices the process keeps."""

    tracking_no: str
    status: str
    source: str
    priority: int
    supervised: bool
    category: CategoryChoice | None
    category_confirmed: bool
    estate: Choice | None
    address: str
    building: str
    created_at: dt.datetime
    due_at: dt.datetime | None
    next_due_at: dt.datetime | None
    onsite_due_at: dt.datetime | None
    onsite_at: dt.datetime | None

    @classmethod
    def of(cls, case: InboxCase, category: CategoryChoice | None, estate: Choice | None) -> InboxRow:
        return cls(
            case.tracking_no,
            case.status,
            case.source,
            case.priority,
            case.supervised,
            category,
            case.category_confirmed,
            estate,
            case.address,
            case.building,
            case.created_at,
            case.due_at,
            case.next_due_at,
            case.onsite_due_at,
            case.onsite_at,
        )


# The rows the inbox has drawn, by what a row is drawn from: the case's columns, the names of its category and
# estate, which of its deadlines have passed (all a row shows of the time), whether it can be selected and the
# case page's address. A row seen before is looked up, not drawn again: drawing the rows is most of the work of
# a page. A process keeps at most _ROWS_KEPT; past them it starts again.
_drawn: dict[tuple[Any, ...], Markup] = {}
_ROWS_KEPT = 2048


def _drawn_rows(
    cases: Iterable[InboxCase],
    categories: Mapping[str, CategoryChoice],
    estates: Mapping[int, Choice],
    *,
    now: dt.datetime,
    selectable: bool,
) -> list[Markup]:
    """Each case's row as row() of console/_case_rows.html draws it (`drawn` of its rows())."""
    row = get_template_attribute("console/_case_rows.html", "row")  # a new one when the template is reloaded
    case_path = url_for("console.case_page", number="NUMBER")  # as rows() builds it
    drawn = []
    for case in cases:
        category = categories.get(case.category_code) if case.category_code else None
        estate = estates.get(case.estate_id) if case.estate_id else None
        passed = (
            case.next_due_at is not None and case.next_due_at <= now,
            case.due_at is not None and case.due_at <= now,
            case.onsite_due_at is not None and case.onsite_due_at <= now,
        )
        key = (row, case, category and category.name, estate and estate.name, passed, selectable, case_path)
        html = _drawn.get(key)
        if html is None:
            if len(_drawn) >= _ROWS_KEPT:
                _drawn.clear()
            html = _drawn[key] = row(
                InboxRow.of(case, category, estate), now, STATUS_LABELS, selectable, case_path
            )
        drawn.append(html)
    return drawn


def _read_categories(db: Session) -> Categories:
    choices = tuple(CategoryChoice(c.code, c.name) for c in list_categories(db))
    return Categories(choices, MappingProxyType({c.code: c for c in choices}))


def _read_places(db: Session) -> Places:
    squads = list_squads(db)
    by_town: dict[int, list[Choice]] = {}
    key_estates: list[Choice] = []
    by_id: dict[int, Choice] = {}
    for estate_id, name, town_id, is_key in db.execute(
        select(Estate.id, Estate.name, Estate.town_id, Estate.is_key).order_by(Estate.name, Estate.id)
    ):
        estate = by_id[estate_id] = Choice(estate_id, name)
        by_town.setdefault(town_id, []).append(estate)
        if is_key:
            key_estates.append(estate)
    return Places(
        squads=tuple(Choice(s.id, s.name) for s in squads),
        key_estates=tuple(key_estates),
        estates_of_squad=MappingProxyType({s.id: tuple(by_town.get(s.town_id, ())) for s in squads}),
        estate_by_id=MappingProxyType(by_id),
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


_BULK_ROLES = (Role.OFFICER, Role.SQUAD_LEADER)  # who signs and assigns cases of the inbox in bulk


class BulkForm(Form):
    action: str = Field(pattern="^(sign|assign)$")
    cases: list[str] = Field(min_length=1, max_length=100)
    assignee: RowId | None = None


@console_bp.post("/inbox/bulk")
@require(*_BULK_ROLES)
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
