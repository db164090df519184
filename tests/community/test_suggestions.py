"""Residents' suggestions (人民建议征集): sent once however often it is retried, with the resident's own photos;
replied to, tagged, forwarded to a squad and to the bureau, and closed by a studio editor, the resident told
in the app at each public step and never of the studio's tags or notes; read by the studio and the bureau,
by a squad only once forwarded to it, never by property staff, and by no other resident."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.audit.models import AuditEntry
from backend.cases.workflow import Actor, Role
from backend.community.models import Suggestion, SuggestionEvent
from backend.community.suggestions import (
    PER_DAY,
    SuggestionFilter,
    SuggestionInput,
    close_suggestion,
    forward_suggestion,
    forwarded_to,
    list_own_suggestions,
    list_suggestions,
    public_record,
    public_text,
    reply_to_suggestion,
    send_suggestion,
    suggestion_for_resident,
    suggestion_for_staff,
    suggestion_photo,
    tag_suggestion,
    tags_in_use,
)
from backend.errors import Conflict, Forbidden, NotFound, RateLimited, ValidationFailed
from backend.messages.models import Message
from backend.org.models import Estate, Squad
from backend.staff.services import create_staff, staff_actor
from backend.workcalendar import SHANGHAI
from tests.support.accounts import make_resident
from tests.support.cleanup import purge_users
from tests.support.concurrency import concurrently
from tests.support.uploads import stored_upload

NOW = dt.datetime(2026, 8, 3, 9, 0, tzinfo=SHANGHAI)
HOUR = dt.timedelta(hours=1)
TEXT = "建议在小区门口增设装修垃圾临时堆放点，避免楼道堆放"


def squad(session: Session, code: str) -> Squad:
    return session.scalars(select(Squad).where(Squad.code == code)).one()


@pytest.fixture
def editor(session: Session) -> Actor:
    staff = create_staff(
        session, username="studio_editor", display_name="工作室小林", role="editor", password="x" * 12
    )
    session.flush()
    return staff_actor(staff)


def a_photo(session: Session, owner: User) -> str:
    return stored_upload(session, owner.id, "image/png")


def send(session: Session, user: User, **overrides: object) -> Suggestion:
    fields: dict[str, object] = {"text": TEXT, "client_request_id": uuid.uuid4().hex, **overrides}
    suggestion, _created = send_suggestion(session, user, SuggestionInput(**fields), now=NOW)  # type: ignore[arg-type]
    return suggestion


def messages_of(session: Session, user: User) -> list[Message]:
    return list(session.scalars(select(Message).where(Message.user_id == user.id).order_by(Message.id)))


def test_a_suggestions_whole_life_with_the_resident_told_at_each_public_step(
    session: Session, editor: Actor
) -> None:
    resident = make_resident(session, "jianyi")[0]
    photo = a_photo(session, resident)
    estate_id = session.scalar(select(Estate.id).where(Estate.name == "康虹花园"))
    data = SuggestionInput(
        text=TEXT,
        photo_ids=[photo],
        estate_id=estate_id,
        category="garbage_sorting",
        client_request_id="sugg-0001",
    )
    suggestion, created = send_suggestion(session, resident, data, now=NOW)
    assert created and suggestion.status == "received" and suggestion.photo_ids == [photo]
    assert suggestion.estate.name == "康虹花园" and suggestion.category.name.startswith("生活垃圾")
    again, created = send_suggestion(session, resident, data, now=NOW + HOUR)  # the app retried
    assert again.id == suggestion.id and not created
    assert session.scalar(select(func.count(Suggestion.id)).where(Suggestion.user_id == resident.id)) == 1
    assert messages_of(session, resident) == []  # their own act is not news to them

    reply_to_suggestion(session, editor, suggestion.id, "感谢建议，已联系物业研究设置堆放点", now=NOW + HOUR)
    assert suggestion.status == "replied" and suggestion.reply == "感谢建议，已联系物业研究设置堆放点"
    tag_suggestion(session, editor, suggestion.id, ["装修垃圾", "康虹花园", "装修垃圾", " "], now=NOW + HOUR)
    assert suggestion.tags == ["装修垃圾", "康虹花园"]
    forward_suggestion(
        session,
        editor,
        suggestion.id,
        squad_id=squad(session, "xujing").id,
        note="请核实楼道堆放",
        now=NOW + 2 * HOUR,
    )
    assert suggestion.status == "forwarded" and forwarded_to(suggestion) == ["徐泾中队"]
    forward_suggestion(
        session, editor, suggestion.id, to_bureau=True, note="涉及全区推广", now=NOW + 2 * HOUR
    )
    assert forwarded_to(suggestion) == ["徐泾中队", "区局"]
    close_suggestion(session, editor, suggestion.id, "物业已在东门设置临时堆放点", now=NOW + 3 * HOUR)
    assert suggestion.status == "closed"

    told = messages_of(session, resident)
    assert [m.title for m in told] == [
        "您的建议有了答复",
        "您的建议已转交",
        "您的建议已转交",
        "您的建议已办结",
    ]
    assert (
        "已联系物业研究设置堆放点" in told[0].body and "徐泾中队" in told[1].body and "区局" in told[2].body
    )
    assert "东门设置临时堆放点" in told[3].body
    assert all(f"您的建议「{TEXT[:20]}…」" in m.body for m in told)  # which suggestion it is about
    assert not any("请核实楼道堆放" in m.body or "全区推广" in m.body or "标签" in m.body for m in told)

    record = public_record(suggestion)
    assert [e.action for e in record] == ["submit", "reply", "forward", "forward", "close"]
    texts = [public_text(e) for e in record]
    assert texts == [
        "已收到您的建议",
        "答复：感谢建议，已联系物业研究设置堆放点",
        "已转交徐泾中队研究办理",
        "已转交区局研究办理",
        "已办结：物业已在东门设置临时堆放点",
    ]
    assert not any("请核实" in t or "全区推广" in t for t in texts)  # the notes for the squad stay inside
    internal = [e for e in suggestion.events if not e.public]
    assert [e.action for e in internal] == ["tag"]

    with pytest.raises(Conflict, match="已办结") as closed:
        reply_to_suggestion(session, editor, suggestion.id, "再答复", now=NOW + 4 * HOUR)
    assert closed.value.code == "suggestion_closed"
    with pytest.raises(Conflict, match="已办结"):
        forward_suggestion(session, editor, suggestion.id, to_bureau=True, now=NOW + 4 * HOUR)
    tag_suggestion(
        session, editor, suggestion.id, ["已落实"], now=NOW + 4 * HOUR
    )  # the studio still files it
    assert len(messages_of(session, resident)) == 4
    audited = session.scalars(
        select(AuditEntry.action).where(
            AuditEntry.target_type == "suggestion", AuditEntry.target_id == str(suggestion.id)
        )
    ).all()
    assert audited == [
        "suggestion.reply",
        "suggestion.tag",
        "suggestion.forward",
        "suggestion.forward",
        "suggestion.close",
        "suggestion.tag",
    ]


def test_forwarding_twice_to_the_same_place_is_refused_and_to_another_squad_moves_it(
    session: Session, editor: Actor
) -> None:
    suggestion = send(session, make_resident(session, "move")[0])
    with pytest.raises(ValidationFailed, match="请选择转交"):
        forward_suggestion(session, editor, suggestion.id, now=NOW)
    with pytest.raises(ValidationFailed, match="请选择转交"):
        forward_suggestion(
            session, editor, suggestion.id, squad_id=squad(session, "xujing").id, to_bureau=True, now=NOW
        )
    with pytest.raises(ValidationFailed, match="没有这个中队"):
        forward_suggestion(session, editor, suggestion.id, squad_id=2_000_000_000, now=NOW)
    forward_suggestion(session, editor, suggestion.id, squad_id=squad(session, "xujing").id, now=NOW)
    with pytest.raises(Conflict, match="已转交过徐泾中队"):
        forward_suggestion(session, editor, suggestion.id, squad_id=squad(session, "xujing").id, now=NOW)
    forward_suggestion(session, editor, suggestion.id, squad_id=squad(session, "xiayang").id, now=NOW)
    assert forwarded_to(suggestion) == ["夏阳中队"]
    forward_suggestion(session, editor, suggestion.id, to_bureau=True, now=NOW)
    with pytest.raises(Conflict, match="已转交过区局"):
        forward_suggestion(session, editor, suggestion.id, to_bureau=True, now=NOW)


def test_tags_are_checked(session: Session, editor: Actor) -> None:
    suggestion = send(session, make_resident(session, "tags")[0])
    with pytest.raises(ValidationFailed, match="最多 10 个标签"):
        tag_suggestion(session, editor, suggestion.id, [f"标签{i}" for i in range(11)], now=NOW)
    with pytest.raises(ValidationFailed, match="每个标签最多 16 个字"):
        tag_suggestion(session, editor, suggestion.id, ["很" * 17], now=NOW)
    with pytest.raises(ValidationFailed, match="请填写答复内容"):
        reply_to_suggestion(session, editor, suggestion.id, "   ", now=NOW)
    tag_suggestion(session, editor, suggestion.id, ["停车", "绿化"], now=NOW)
    tag_suggestion(session, editor, suggestion.id, ["停车", "绿化"], now=NOW)  # unchanged: not another step
    assert [e.action for e in suggestion.events] == ["submit", "tag"]
    assert {"停车", "绿化"} <= set(tags_in_use(session, editor))
    page = list_suggestions(session, editor, SuggestionFilter(tag="绿化"))
    assert [s.id for s in page.items] == [suggestion.id]
    assert (
        list_suggestions(session, editor, SuggestionFilter(tag="绿")).items == []
    )  # a whole tag, not a part


@pytest.mark.parametrize(
    "role", [Role.SUPERVISOR, Role.ADMIN, Role.OFFICER, Role.SQUAD_LEADER, Role.PROPERTY_STAFF]
)
def test_only_a_studio_editor_acts_on_a_suggestion(session: Session, editor: Actor, role: Role) -> None:
    suggestion = send(session, make_resident(session, "acts")[0])
    other = Actor(role, editor.id, "别人", squad_id=squad(session, "xujing").id)
    for act in (
        lambda: reply_to_suggestion(session, other, suggestion.id, "答复", now=NOW),
        lambda: tag_suggestion(session, other, suggestion.id, ["x"], now=NOW),
        lambda: forward_suggestion(session, other, suggestion.id, to_bureau=True, now=NOW),
        lambda: close_suggestion(session, other, suggestion.id, now=NOW),
    ):
        with pytest.raises(Forbidden):
            act()
    assert suggestion.status == "received" and [e.action for e in suggestion.events] == ["submit"]


def test_who_reads_which_suggestions(session: Session, editor: Actor) -> None:
    resident = make_resident(session, "reads")[0]
    photo = a_photo(session, resident)
    forwarded, kept = send(session, resident, photo_ids=[photo]), send(session, resident)
    forward_suggestion(session, editor, forwarded.id, squad_id=squad(session, "xujing").id, now=NOW)
    xujing = Actor(Role.OFFICER, None, "徐泾队员", squad_id=squad(session, "xujing").id)
    leader = Actor(Role.SQUAD_LEADER, None, "徐泾队长", squad_id=squad(session, "xujing").id)
    xiayang = Actor(Role.OFFICER, None, "夏阳队员", squad_id=squad(session, "xiayang").id)
    supervisor = Actor(Role.SUPERVISOR, None, "区局")
    mine = {forwarded.id, kept.id}

    def listed(actor: Actor, **filters: object) -> set[int]:
        page = list_suggestions(session, actor, SuggestionFilter(**filters), per_page=100)  # type: ignore[arg-type]
        return {s.id for s in page.items} & mine

    assert listed(editor) == listed(supervisor) == mine
    assert listed(xujing) == listed(leader) == {forwarded.id}
    assert listed(xiayang) == set()
    assert listed(editor, forwarded="squad") == {forwarded.id} and listed(editor, forwarded="bureau") == set()
    assert listed(editor, status="received") == {kept.id}
    assert suggestion_for_staff(session, xujing, forwarded.id) is forwarded
    assert suggestion_photo(session, xujing, forwarded.id, photo).id == photo
    with pytest.raises(NotFound):
        suggestion_for_staff(session, xujing, kept.id)
    with pytest.raises(NotFound):
        suggestion_for_staff(session, xiayang, forwarded.id)
    with pytest.raises(NotFound):
        suggestion_photo(session, xiayang, forwarded.id, photo)
    with pytest.raises(NotFound):
        suggestion_photo(session, editor, kept.id, photo)  # not a photo of that suggestion
    for outsider in (
        Actor(Role.PROPERTY_STAFF, None, "物业", company_id=1),
        Actor(Role.OFFICER, None, "无中队"),
        Actor(Role.RESIDENT, resident.id, "居民"),
    ):
        with pytest.raises(Forbidden):
            list_suggestions(session, outsider, SuggestionFilter())
        with pytest.raises(Forbidden):
            suggestion_for_staff(session, outsider, forwarded.id)


def test_a_resident_reads_only_their_own(session: Session) -> None:
    author, neighbour = make_resident(session, "author")[0], make_resident(session, "neighbour")[0]
    suggestion = send(session, author)
    assert suggestion_for_resident(session, author.id, suggestion.id) is suggestion
    with pytest.raises(NotFound, match="没有这条建议") as hidden:
        suggestion_for_resident(session, neighbour.id, suggestion.id)
    assert hidden.value.code == "suggestion_not_found"
    assert [s.id for s in list_own_suggestions(session, author.id).items] == [suggestion.id]
    assert list_own_suggestions(session, neighbour.id).items == []


def test_photos_must_be_the_residents_own_and_at_most_nine(session: Session) -> None:
    resident, other = make_resident(session, "photos")[0], make_resident(session, "other")[0]
    theirs = a_photo(session, other)
    with pytest.raises(ValidationFailed, match="照片不存在或已过期"):
        send(session, resident, photo_ids=[theirs])
    with pytest.raises(ValidationFailed, match="照片不存在或已过期"):
        send(session, resident, photo_ids=["0" * 32])
    own = a_photo(session, resident)
    with pytest.raises(ValidationFailed, match="照片重复"):
        send(session, resident, photo_ids=[own, own])
    with pytest.raises(ValidationFailed, match="最多 9 张照片"):
        send(session, resident, photo_ids=[a_photo(session, resident) for _ in range(10)])
    with pytest.raises(ValidationFailed, match="没有这个小区"):
        send(session, resident, estate_id=2_000_000_000)
    assert session.scalar(select(func.count(Suggestion.id)).where(Suggestion.user_id == resident.id)) == 0


def test_a_resident_sends_at_most_so_many_a_day(session: Session) -> None:
    resident = make_resident(session, "many")[0]
    for _ in range(PER_DAY):
        send(session, resident)
    with pytest.raises(RateLimited, match=f"每人每天最多提交 {PER_DAY} 条建议"):
        send(session, resident)
    _next_day, created = send_suggestion(
        session,
        resident,
        SuggestionInput(text=TEXT, client_request_id="first-of-the-day"),
        now=NOW + 20 * HOUR,
    )
    assert created  # the next day (in Shanghai) counts afresh


def test_a_retry_storm_of_one_suggestion_is_one_suggestion(app) -> None:
    """Committed for real from four threads with the same client_request_id."""
    engine = app.extensions["db"].engine
    with Session(engine) as session:
        user = User(openid=f"storm-{uuid.uuid4().hex[:8]}", nickname="重试")
        session.add(user)
        session.commit()
        user_id = user.id

    def send_once(i: int) -> tuple[int, bool]:
        with Session(engine) as session:
            suggestion, created = send_suggestion(
                session,
                session.get(User, user_id),
                SuggestionInput(text=TEXT, client_request_id="storm-request-1"),
                now=NOW,
            )
            session.commit()
            return suggestion.id, created

    try:
        results = concurrently(4, send_once)
        assert not [r for r in results if isinstance(r, Exception)], results
        assert len({sid for sid, _ in results}) == 1 and sum(created for _, created in results) == 1
    finally:
        with engine.begin() as conn:
            ids = select(Suggestion.id).where(Suggestion.user_id == user_id)
            conn.execute(delete(SuggestionEvent).where(SuggestionEvent.suggestion_id.in_(ids)))
            conn.execute(delete(Suggestion).where(Suggestion.user_id == user_id))
        purge_users(engine, [user_id])
