"""The chat's side of the resident's own records, over the mini-program's endpoint with the stand-in NLU:
withdrawing a report, photos checked at the photo step, the contact phone, progress of every open report,
and the questions related to an answer."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from backend.audit.models import AuditEntry
from backend.cases.models import Case, CaseStatus
from backend.cases.services.life import transition, withdraw_case
from backend.chat.services import RELATED_QUESTIONS_LINE, WITHDRAWN_IN_CHAT
from tests.chat.stand_ins import RelatingNlu
from tests.support.accounts import make_resident
from tests.support.cases import estate, officer, report
from tests.support.chat import CHAT_API, say
from tests.support.uploads import stored_upload

SUNROOM = "康虹花园8号楼有人在搭阳光房，搭了一半"


def filed(session: Session, user, building: str = "8", **kw: Any) -> Case:
    """A report of `user` about 康虹花园, dispatched to 徐泾中队."""
    case = report(session, user, estate_id=estate(session, "康虹花园").id, building=building, **kw)
    assert case.status == CaseStatus.DISPATCHED
    return case


def with_photos(client: FlaskClient, token: str, sid: str, photos: list[str]) -> dict[str, Any]:
    body = {"text": "照片", "session_id": sid, "photos": photos}
    response = client.post(CHAT_API, json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# ------------------------------------------------------------------------------------ withdrawing


def test_a_report_is_withdrawn_only_once_confirmed_on_the_record(
    chat_client: FlaskClient, session: Session, resident
) -> None:
    user, token = resident
    case = filed(session, user)
    ask = say(chat_client, token, "我要撤回反映")
    assert ask["text"] == f"确认撤回工单 {case.tracking_no}（违法搭建，康虹花园8号楼）吗？撤回后将不再办理。"
    assert ask["quick_replies"] == ["确认撤回", "取消"]
    session.refresh(case)
    assert case.status == CaseStatus.DISPATCHED  # asked, not done
    done = say(chat_client, token, "确认撤回", ask["session_id"])
    assert f"已撤回工单 {case.tracking_no}" in done["text"] and done["tracking_no"] is None
    session.refresh(case)
    assert case.status == CaseStatus.WITHDRAWN
    last = case.events[-1]
    assert (last.action, last.note, last.actor_id) == ("withdraw", WITHDRAWN_IN_CHAT, user.id)
    audit = session.scalars(select(AuditEntry).where(AuditEntry.target_id == case.tracking_no)).all()
    assert [(a.action, a.actor_kind, a.actor_id) for a in audit if a.action == "case.withdraw"] == [
        ("case.withdraw", "resident", user.id)
    ]


def test_cancelling_keeps_the_report(chat_client: FlaskClient, session: Session, resident) -> None:
    user, token = resident
    case = filed(session, user)
    sid = say(chat_client, token, "撤销我的举报")["session_id"]
    kept = say(chat_client, token, "取消", sid)
    assert "不撤回" in kept["text"]
    say(chat_client, token, "确认撤回", sid)  # nothing is pending any more
    session.refresh(case)
    assert case.status == CaseStatus.DISPATCHED
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "case.withdraw")) is None


def test_only_reports_not_yet_signed_for_are_offered(chat_client: FlaskClient, session: Session, resident):
    user, token = resident
    older, signed, newer = filed(session, user, "1"), filed(session, user, "2"), filed(session, user, "3")
    transition(session, signed, "sign", officer(session, "xujing"))
    session.flush()
    ask = say(chat_client, token, "我要撤回反映")
    assert ask["quick_replies"] == [newer.tracking_no, older.tracking_no, "取消"]
    assert signed.tracking_no not in ask["text"]
    confirm = say(chat_client, token, "2", ask["session_id"])
    assert confirm["text"].startswith(f"确认撤回工单 {older.tracking_no}（违法搭建，康虹花园1号楼）")
    refused = say(chat_client, token, f"撤回工单 {signed.tracking_no}")
    assert "已签收" in refused["text"] and "不能撤回" in refused["text"]


def test_someone_elses_report_is_not_found(chat_client: FlaskClient, session: Session, resident) -> None:
    _user, token = resident
    neighbour, _ = make_resident(session, "neighbour")
    theirs = filed(session, neighbour)
    reply = say(chat_client, token, f"撤回工单 {theirs.tracking_no}")
    assert "没有找到" in reply["text"]
    assert "康虹花园" not in reply["text"] and "已派单" not in reply["text"]
    say(chat_client, token, "确认撤回", reply["session_id"])
    session.refresh(theirs)
    assert theirs.status == CaseStatus.DISPATCHED


def test_a_report_signed_for_after_the_question_is_not_withdrawn(
    chat_client: FlaskClient, session: Session, resident
) -> None:
    user, token = resident
    case = filed(session, user)
    sid = say(chat_client, token, "我要撤回反映")["session_id"]
    transition(session, case, "sign", officer(session, "xujing"))  # the squad was quicker
    session.flush()
    reply = say(chat_client, token, "确认撤回", sid)
    assert reply["text"].startswith("撤回没有成功") and "已签收" in reply["text"]
    session.refresh(case)
    assert case.status == CaseStatus.SIGNED


# ------------------------------------------------------------------------------------ photos


def test_a_bad_photo_is_refused_at_the_photo_step_and_the_report_goes_on(
    chat_client: FlaskClient, session: Session, resident
) -> None:
    user, token = resident
    neighbour, _ = make_resident(session, "neighbour")
    mine, theirs, expired = (
        stored_upload(session, user.id),
        stored_upload(session, neighbour.id),
        uuid.uuid4().hex,
    )
    first = say(chat_client, token, SUNROOM)
    sid = first["session_id"]
    assert "照片" in first["text"]
    for bad in (theirs, expired):
        refused = with_photos(chat_client, token, sid, [bad])
        assert "已过期或不是您本人上传的" in refused["text"] and refused["quick_replies"] == ["跳过"]
    assert "匿名" in with_photos(chat_client, token, sid, [mine])["text"]
    say(chat_client, token, "匿名", sid)
    done = say(chat_client, token, "确认", sid)
    case = session.scalar(select(Case).where(Case.tracking_no == done["tracking_no"]))
    assert [p.upload_id for p in case.photos] == [mine]
    assert (case.estate.name, case.building) == ("康虹花园", "8")  # the draft was kept throughout


# ------------------------------------------------------------------------------------ contact phone


def test_a_named_report_carries_the_phone_and_the_next_one_offers_it(
    chat_client: FlaskClient, session: Session, resident
) -> None:
    _user, token = resident
    sid = say(chat_client, token, SUNROOM)["session_id"]
    say(chat_client, token, "跳过", sid)
    asked = say(chat_client, token, "不匿名", sid)
    assert "联系电话" in asked["text"] and asked["quick_replies"] == ["跳过"]
    assert "138****5678" in say(chat_client, token, "138 1234 5678", sid)["text"]
    first = say(chat_client, token, "确认", sid)["tracking_no"]
    assert session.scalar(select(Case.contact_phone).where(Case.tracking_no == first)) == "13812345678"

    again = say(chat_client, token, "康虹花园9号楼有人在搭阳光房，搭了一半")[
        "session_id"
    ]  # a new conversation
    say(chat_client, token, "跳过", again)
    offered = say(chat_client, token, "不匿名", again)
    assert offered["quick_replies"] == ["使用 138****5678", "跳过"] and "13812345678" not in offered["text"]
    say(chat_client, token, "使用 138****5678", again)
    second = say(chat_client, token, "确认", again)["tracking_no"]
    assert session.scalar(select(Case.contact_phone).where(Case.tracking_no == second)) == "13812345678"


def test_an_anonymous_report_has_no_phone(chat_client: FlaskClient, session: Session, resident) -> None:
    user, token = resident
    filed(session, user, contact_phone="13912340000")  # a phone given before is not asked for either
    sid = say(chat_client, token, SUNROOM)["session_id"]
    turns = [say(chat_client, token, answer, sid) for answer in ("跳过", "匿名", "确认")]
    assert all("电话" not in t["text"] for t in turns)
    case = session.scalar(select(Case).where(Case.tracking_no == turns[-1]["tracking_no"]))
    assert case.anonymous is True and case.contact_phone is None


# ------------------------------------------------------------------------------------ progress


@contextmanager
def statements(session: Session) -> Iterator[list[str]]:
    engine = session.get_bind()
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_progress_lists_every_open_report_and_counts_the_finished(
    chat_client: FlaskClient, session: Session, resident
) -> None:
    user, token = resident
    xujing = officer(session, "xujing")
    open_cases = [filed(session, user, str(n)) for n in range(1, 7)]
    transition(session, open_cases[0], "sign", xujing)
    for n in (7, 8):
        withdraw_case(session, filed(session, user, str(n)), user)
    session.flush()
    reply = say(chat_client, token, "我反映的问题进度怎么样了")
    lines = reply["text"].split("\n")
    assert lines[0] == "您有 6 件反映正在办理："
    assert len(lines) == 1 + 6 + 1  # one line each, then the finished ones counted
    for case in open_cases:
        line = next(line for line in lines if case.tracking_no in line)
        assert "徐泾中队" in line and f"康虹花园{case.building}号楼" in line
        assert ("已签收" if case is open_cases[0] else "已派单") in line
    assert lines[-1] == "另有 2 件已结束（已撤回 2 件）。"


def test_progress_shows_the_public_reply_and_lists_finished_ones_when_none_is_open(
    chat_client: FlaskClient, session: Session, resident
) -> None:
    user, token = resident
    xujing = officer(session, "xujing")
    case = filed(session, user)
    for step in ("sign", "investigate", "verify"):
        transition(session, case, step, xujing)
    answer = (
        "违法搭建的阳光房已于今日由中队依法拆除，现场已清理完毕，感谢您的反映和对城管执法工作的支持与理解。"
    )
    transition(session, case, "resolve", xujing, public_reply=answer)
    session.flush()
    listed = say(chat_client, token, "我反映的问题进度怎么样了")["text"]
    assert listed.startswith("您目前没有正在办理的反映。") and case.tracking_no in listed
    assert "已办结" in listed and answer[:40] + "…" in listed and answer not in listed  # one line each
    named = say(chat_client, token, f"{case.tracking_no} 进度")["text"]
    assert answer in named  # a report asked for by its number: the whole reply


def test_progress_reads_a_few_queries_however_many_reports(
    chat_client: FlaskClient, session: Session, resident
) -> None:
    user, token = resident
    for n in range(3):
        filed(session, user, str(n))
    with statements(session) as few:
        say(chat_client, token, "我反映的问题进度怎么样了")
    for n in range(3, 15):
        filed(session, user, str(n))
    with statements(session) as many:
        reply = say(chat_client, token, "我反映的问题进度怎么样了")
    assert reply["text"].startswith("您有 15 件反映正在办理")
    assert few and len(many) == len(few), many


def test_no_reports_yet(chat_client: FlaskClient, resident) -> None:
    _user, token = resident
    assert "还没有反映过" in say(chat_client, token, "我反映的问题进度怎么样了")["text"]


# ------------------------------------------------------------------------------------ related questions


def test_a_direct_answer_lists_its_related_questions(app, client: FlaskClient, resident) -> None:
    _user, token = resident
    related = ["阳光房算不算违建", "楼顶加个阳光房要审批吗"]
    app.extensions["nlu"] = RelatingNlu(related)
    try:
        reply = say(client, token, "露台搭阳光房违法吗")
        other = say(client, token, "我大概想问搭建的事")
    finally:
        del app.extensions["nlu"]
    assert reply["related_questions"] == related and reply["quick_replies"] == related
    assert reply["text"].endswith(
        "\n\n" + RELATED_QUESTIONS_LINE + "「阳光房算不算违建」、「楼顶加个阳光房要审批吗」"
    )
    assert other["related_questions"] == [] and RELATED_QUESTIONS_LINE not in other["text"]


def test_the_api_documents_the_related_questions(client: FlaskClient) -> None:
    schema = client.get("/api/openapi.json").get_json()
    fields = next(s for name, s in schema["components"]["schemas"].items() if name.startswith("ChatOut"))
    assert "相关问题" in fields["properties"]["related_questions"]["description"]
