"""Residents' suggestions (人民建议征集): a resident sends one and follows its public record; studio editors reply,
tag, forward it to a squad or to the bureau, and close it, the resident told in the app at each public step.
Editors and the bureau read them all, a squad only those forwarded to it; property companies never see one."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Select, String, cast, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from backend.accounts.models import User
from backend.audit.services import record_audit
from backend.cases.services.filing import MAX_PHOTOS
from backend.cases.workflow import BUREAU_ROLES, SQUAD_ROLES, Actor, Role
from backend.community.models import Suggestion, SuggestionEvent, SuggestionStatus
from backend.errors import Conflict, Forbidden, NotFound, RateLimited, ValidationFailed
from backend.messages.services import tell_residents
from backend.org.models import Estate, Squad
from backend.pagination import Page, paginate
from backend.taxonomy.models import Category
from backend.uploads.models import Upload
from backend.workcalendar import SHANGHAI

TEXT_MIN, TEXT_MAX = 10, 2000  # characters of a suggestion (and backend.text.Description's rule)
REPLY_MAX, NOTE_MAX = 2000, 500
MAX_TAGS, TAG_MAX = 10, 16
PER_DAY = 20  # suggestions one resident may send a day: a box for ideas, not a channel to flood

STATUS_LABELS: dict[str, str] = {
    SuggestionStatus.RECEIVED.value: "已收到",
    SuggestionStatus.REPLIED.value: "已答复",
    SuggestionStatus.FORWARDED.value: "已转交",
    SuggestionStatus.CLOSED.value: "已办结",
}
# the steps on a suggestion's record, as the console names them
ACTION_LABELS: dict[str, str] = {
    "submit": "居民提交",
    "reply": "答复",
    "tag": "标签",
    "forward": "转交",
    "close": "办结",
}
BUREAU_NAME = "区局"

Forwarded = Literal["squad", "bureau"]

_WRITERS = frozenset({Role.EDITOR})
_EVERYTHING = frozenset({Role.EDITOR, *BUREAU_ROLES})  # read every suggestion


@dataclass(frozen=True)
class SuggestionInput:
    """A suggestion as validated at the boundary (its text by backend.text.Description, lengths)."""

    text: str
    photo_ids: list[str] = field(default_factory=list)  # uploads of the resident's own
    estate_id: int | None = None
    category: str | None = None
    client_request_id: str | None = None  # the mini-program's: a retry returns the first suggestion


# ------------------------------------------------------------------------------------- residents


def send_suggestion(
    session: Session, user: User, data: SuggestionInput, *, now: dt.datetime
) -> tuple[Suggestion, bool]:
    """A resident sends a suggestion; returns it and whether it is new. The same `client_request_id` from the
    same resident returns the first one, even when the two requests race."""
    if data.client_request_id:
        existing = _by_client_request(session, user.id, data.client_request_id)
        if existing is not None:
            return existing, False
    if sent_today(session, user.id, now) >= PER_DAY:
        raise RateLimited(f"每人每天最多提交 {PER_DAY} 条建议，请明天再试", code="daily_suggestion_limit")
    photos = _own_photos(session, user, data.photo_ids)
    estate, category = _about(session, data)
    suggestion = Suggestion(
        user_id=user.id,
        text=data.text,
        photo_ids=photos,
        estate=estate,
        category=category,
        status=SuggestionStatus.RECEIVED,
        client_request_id=data.client_request_id,
        created_at=now,
        updated_at=now,
    )
    suggestion.events.append(
        SuggestionEvent(action="submit", actor_id=user.id, actor_label="居民", public=True, created_at=now)
    )
    try:
        with session.begin_nested():
            session.add(suggestion)
            session.flush()
    except IntegrityError:
        if data.client_request_id:
            # a locking read sees the row the other transaction committed, past our snapshot
            existing = _by_client_request(session, user.id, data.client_request_id, latest=True)
            if existing is not None:
                return existing, False
        raise
    return suggestion, True


def sent_today(session: Session, user_id: int, now: dt.datetime) -> int:
    start = dt.datetime.combine(now.astimezone(SHANGHAI).date(), dt.time(), SHANGHAI)
    return (
        session.scalar(
            select(func.count(Suggestion.id)).where(
                Suggestion.user_id == user_id, Suggestion.created_at >= start
            )
        )
        or 0
    )


def list_own_suggestions(
    session: Session, user_id: int, *, page: int = 1, per_page: int = 20
) -> Page[Suggestion]:
    """A resident's own suggestions, the latest first."""
    query = (
        select(Suggestion)
        .where(Suggestion.user_id == user_id)
        .options(*_loaded())
        .order_by(Suggestion.created_at.desc(), Suggestion.id.desc())
    )
    return paginate(session, query, page, per_page)


def suggestion_for_resident(session: Session, user_id: int, suggestion_id: int) -> Suggestion:
    """One of the resident's own suggestions; another resident's is not found, as one that does not exist."""
    suggestion = session.get(Suggestion, suggestion_id)
    if suggestion is None or suggestion.user_id != user_id:
        raise NotFound("没有这条建议", code="suggestion_not_found")
    return suggestion


def public_record(suggestion: Suggestion) -> list[SuggestionEvent]:
    """The steps the resident reads: received, replied, forwarded, closed (not the studio's tags)."""
    return [e for e in suggestion.events if e.public]


def public_text(event: SuggestionEvent) -> str:
    """A public step in the resident's words. A forward says where it went; what the editor wrote for the
    squad or the bureau stays inside."""
    if event.action == "submit":
        return "已收到您的建议"
    if event.action == "reply":
        return f"答复：{event.note}"
    if event.action == "forward":
        return f"已转交{event.data.get('to_name', '')}研究办理"
    if event.action == "close":
        return "已办结" + (f"：{event.note}" if event.note else "")
    return ACTION_LABELS.get(event.action, event.action)


def forwarded_to(suggestion: Suggestion) -> list[str]:
    """Where a suggestion was forwarded, by name: 徐泾中队, 区局."""
    names = [suggestion.forwarded_squad.name] if suggestion.forwarded_squad is not None else []
    return names + ([BUREAU_NAME] if suggestion.forwarded_to_bureau else [])


def suggestion_photos(session: Session, suggestion: Suggestion) -> list[Upload]:
    """The suggestion's photos that are still stored, in the order they were sent."""
    if not suggestion.photo_ids:
        return []
    uploads = {u.id: u for u in session.scalars(select(Upload).where(Upload.id.in_(suggestion.photo_ids)))}
    return [uploads[i] for i in suggestion.photo_ids if i in uploads]


def _about(session: Session, data: SuggestionInput) -> tuple[Estate | None, Category | None]:
    """The estate and the category a suggestion is about, when the resident chose them."""
    estate = session.get(Estate, data.estate_id) if data.estate_id is not None else None
    if data.estate_id is not None and estate is None:
        raise ValidationFailed.on("estate_id", "没有这个小区")
    category = session.get(Category, data.category) if data.category is not None else None
    if data.category is not None and category is None:
        raise ValidationFailed.on("category", "没有这个问题类别")
    return estate, category


def _own_photos(session: Session, user: User, photo_ids: list[str]) -> list[str]:
    if len(photo_ids) > MAX_PHOTOS:
        raise ValidationFailed.on("photos", f"最多 {MAX_PHOTOS} 张照片")
    if len(set(photo_ids)) != len(photo_ids):
        raise ValidationFailed.on("photos", "照片重复")
    if not photo_ids:
        return []
    owners = dict(session.execute(select(Upload.id, Upload.owner_id).where(Upload.id.in_(photo_ids))).all())
    if any(owners.get(photo_id, -1) != user.id for photo_id in photo_ids):
        raise ValidationFailed.on("photos", "照片不存在或已过期，请重新上传")
    return list(photo_ids)


def _by_client_request(
    session: Session, user_id: int, client_request_id: str, *, latest: bool = False
) -> Suggestion | None:
    query = select(Suggestion).where(
        Suggestion.user_id == user_id, Suggestion.client_request_id == client_request_id
    )
    if latest:
        query = query.with_for_update(read=True).execution_options(populate_existing=True)
    return session.scalar(query)


# ------------------------------------------------------------------------------------- the console reads


@dataclass(frozen=True)
class SuggestionFilter:
    status: str | None = None
    category: str | None = None
    estate_id: int | None = None
    tag: str | None = None
    forwarded: Forwarded | None = None  # forwarded to a squad (any), or to the bureau
    squad_id: int | None = None  # forwarded to this squad


def may_read_suggestions(actor: Actor) -> bool:
    """Editors and the bureau read every suggestion, a squad's officers and leader those forwarded to it;
    nobody else (property staff above all) reads any."""
    return actor.role in _EVERYTHING or (actor.role in SQUAD_ROLES and actor.squad_id is not None)


def list_suggestions(
    session: Session, actor: Actor, filters: SuggestionFilter, *, page: int = 1, per_page: int = 30
) -> Page[Suggestion]:
    """The suggestions the actor may read, filtered, the latest first."""
    query = _in_scope(select(Suggestion), actor).options(*_loaded())
    if filters.status:
        query = query.where(Suggestion.status == filters.status)
    if filters.category:
        query = query.where(Suggestion.category_code == filters.category)
    if filters.estate_id is not None:
        query = query.where(Suggestion.estate_id == filters.estate_id)
    if filters.tag:
        # tags are kept as a JSON list: a tag's JSON form, quotes included, matches only that tag
        query = query.where(cast(Suggestion.tags, String).contains(json.dumps(filters.tag), autoescape=True))
    if filters.forwarded == "squad":
        query = query.where(Suggestion.forwarded_squad_id.is_not(None))
    elif filters.forwarded == "bureau":
        query = query.where(Suggestion.forwarded_to_bureau.is_(True))
    if filters.squad_id is not None:
        query = query.where(Suggestion.forwarded_squad_id == filters.squad_id)
    return paginate(
        session, query.order_by(Suggestion.created_at.desc(), Suggestion.id.desc()), page, per_page
    )


def suggestion_for_staff(session: Session, actor: Actor, suggestion_id: int) -> Suggestion:
    """A suggestion the actor may read; one outside a squad's sight is not found."""
    suggestion = session.scalar(_in_scope(select(Suggestion), actor).where(Suggestion.id == suggestion_id))
    if suggestion is None:
        raise NotFound("没有这条建议", code="suggestion_not_found")
    return suggestion


def suggestion_photo(session: Session, actor: Actor, suggestion_id: int, upload_id: str) -> Upload:
    """A photo of a suggestion the actor may read."""
    suggestion = suggestion_for_staff(session, actor, suggestion_id)
    upload = session.get(Upload, upload_id) if upload_id in suggestion.photo_ids else None
    if upload is None:
        raise NotFound(code="upload_not_found")
    return upload


def tags_in_use(session: Session, actor: Actor) -> list[str]:
    """Every tag on the suggestions the actor may read, for the filter and the editor's suggestions."""
    seen: dict[str, None] = {}
    for tags in session.scalars(_in_scope(select(Suggestion.tags), actor)):
        seen.update(dict.fromkeys(tags or []))
    return sorted(seen)


def _in_scope(query: Select[Any], actor: Actor) -> Select[Any]:
    if actor.role in _EVERYTHING:
        return query
    if actor.role in SQUAD_ROLES and actor.squad_id is not None:
        return query.where(Suggestion.forwarded_squad_id == actor.squad_id)
    raise Forbidden("没有权限查看居民建议", code="not_allowed")


def _loaded() -> tuple[Any, ...]:
    return (
        selectinload(Suggestion.estate),
        selectinload(Suggestion.category),
        selectinload(Suggestion.forwarded_squad),
    )


# ------------------------------------------------------------------------------------- the studio acts


def reply_to_suggestion(
    session: Session, actor: Actor, suggestion_id: int, reply: str, *, now: dt.datetime, ip: str = ""
) -> Suggestion:
    """The studio's public reply (a later one replaces it); the resident is told."""
    suggestion = _open_for_writing(session, actor, suggestion_id)
    reply = reply.strip()
    if not reply:
        raise ValidationFailed.on("reply", "请填写答复内容")
    suggestion.reply = reply
    suggestion.status = SuggestionStatus.REPLIED
    _step(suggestion, actor, "reply", now, note=reply)
    _tell(session, suggestion, "您的建议有了答复", f"答复：{reply}", now)
    record_audit(session, actor, "suggestion.reply", "suggestion", suggestion.id, ip=ip, now=now)
    return suggestion


def tag_suggestion(
    session: Session, actor: Actor, suggestion_id: int, tags: list[str], *, now: dt.datetime, ip: str = ""
) -> Suggestion:
    """Set the studio's tags (internal: not on the resident's record, and they are not told)."""
    _require_writer(actor)
    suggestion = _locked(session, suggestion_id)
    cleaned = list(dict.fromkeys(t.strip() for t in tags if t.strip()))
    if len(cleaned) > MAX_TAGS:
        raise ValidationFailed.on("tags", f"最多 {MAX_TAGS} 个标签")
    if any(len(t) > TAG_MAX for t in cleaned):
        raise ValidationFailed.on("tags", f"每个标签最多 {TAG_MAX} 个字")
    if cleaned == list(suggestion.tags or []):
        return suggestion
    suggestion.tags = cleaned
    _step(suggestion, actor, "tag", now, public=False, data={"tags": cleaned})
    detail = {"tags": cleaned}
    record_audit(session, actor, "suggestion.tag", "suggestion", suggestion.id, detail=detail, ip=ip, now=now)
    return suggestion


def forward_suggestion(
    session: Session,
    actor: Actor,
    suggestion_id: int,
    *,
    squad_id: int | None = None,
    to_bureau: bool = False,
    note: str = "",
    now: dt.datetime,
    ip: str = "",
) -> Suggestion:
    """Forward a suggestion to a squad (which then reads it; forwarding to another squad moves it there) or
    to the bureau. The note is for them; the resident is told only where it went."""
    if (squad_id is None) == (not to_bureau):
        raise ValidationFailed.on("to", "请选择转交给哪个中队，或转交区局")
    suggestion = _open_for_writing(session, actor, suggestion_id)
    if squad_id is not None:
        squad = session.get(Squad, squad_id)
        if squad is None:
            raise ValidationFailed.on("to", "没有这个中队")
        if suggestion.forwarded_squad_id == squad.id:
            raise Conflict(f"已转交过{squad.name}", code="already_forwarded")
        suggestion.forwarded_squad = squad
        target = {"to": "squad", "squad_id": squad.id, "to_name": squad.name}
    else:
        if suggestion.forwarded_to_bureau:
            raise Conflict(f"已转交过{BUREAU_NAME}", code="already_forwarded")
        suggestion.forwarded_to_bureau = True
        target = {"to": "bureau", "to_name": BUREAU_NAME}
    suggestion.status = SuggestionStatus.FORWARDED
    _step(suggestion, actor, "forward", now, note=note.strip(), data=target)
    _tell(session, suggestion, "您的建议已转交", f"您的建议已转交{target['to_name']}研究办理。", now)
    record_audit(
        session, actor, "suggestion.forward", "suggestion", suggestion.id, detail=target, ip=ip, now=now
    )
    return suggestion


def close_suggestion(
    session: Session, actor: Actor, suggestion_id: int, note: str = "", *, now: dt.datetime, ip: str = ""
) -> Suggestion:
    """Close a suggestion, with a closing word for the resident if there is one; the resident is told."""
    suggestion = _open_for_writing(session, actor, suggestion_id)
    note = note.strip()
    suggestion.status = SuggestionStatus.CLOSED
    _step(suggestion, actor, "close", now, note=note)
    _tell(
        session, suggestion, "您的建议已办结", "感谢您的建议，已办结" + (f"：{note}" if note else "。"), now
    )
    record_audit(session, actor, "suggestion.close", "suggestion", suggestion.id, ip=ip, now=now)
    return suggestion


def _require_writer(actor: Actor) -> None:
    if actor.role not in _WRITERS:
        raise Forbidden("只有社区工作室的编辑可以处理居民建议", code="not_studio")


def _locked(session: Session, suggestion_id: int) -> Suggestion:
    suggestion = session.scalar(
        select(Suggestion)
        .where(Suggestion.id == suggestion_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if suggestion is None:
        raise NotFound("没有这条建议", code="suggestion_not_found")
    return suggestion


def _open_for_writing(session: Session, actor: Actor, suggestion_id: int) -> Suggestion:
    _require_writer(actor)
    suggestion = _locked(session, suggestion_id)
    if suggestion.status == SuggestionStatus.CLOSED:
        raise Conflict("这条建议已办结", code="suggestion_closed")
    return suggestion


def _step(
    suggestion: Suggestion,
    actor: Actor,
    action: str,
    now: dt.datetime,
    *,
    note: str = "",
    public: bool = True,
    data: dict[str, object] | None = None,
) -> None:
    suggestion.events.append(
        SuggestionEvent(
            action=action,
            actor_id=actor.id,
            actor_label=actor.label,
            public=public,
            note=note,
            data=data or {},
            created_at=now,
        )
    )
    suggestion.updated_at = now


def _tell(session: Session, suggestion: Suggestion, title: str, body: str, now: dt.datetime) -> None:
    excerpt = suggestion.text if len(suggestion.text) <= 20 else suggestion.text[:20] + "…"
    tell_residents(
        session,
        [suggestion.user_id],
        case_id=None,
        title=title,
        body=f"您的建议「{excerpt}」：{body}",
        now=now,
    )
