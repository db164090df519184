"""The chat endpoint with the real bot (jieba, the trained classifier, the FAQ), loaded once for the module."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.cases.models import Case, CaseSource, CaseStatus
from backend.chat.services import RELATED_QUESTIONS_LINE
from backend.config import PROJECT_ROOT
from bot.dialogue import INTRODUCTION, MENU
from tests.support.chat import say


@pytest.fixture(scope="module")
def real_bot():
    from bot import Bot

    return Bot.load(PROJECT_ROOT / "content")


@pytest.fixture
def bot_client(app, client: FlaskClient, real_bot):
    app.extensions["nlu"] = real_bot
    yield client
    del app.extensions["nlu"]


def test_a_resident_files_a_report_in_chat(bot_client: FlaskClient, session: Session, resident) -> None:
    _user, token = resident
    first = say(bot_client, token, "康虹花园8号楼楼顶有人在搭阳光房，敲敲打打好几天了")
    sid = first["session_id"]
    turns = [first]
    for answer in ("跳过", "匿名", "确认"):
        if turns[-1]["tracking_no"]:
            break
        turns.append(say(bot_client, token, answer, sid))
    number = turns[-1]["tracking_no"]
    assert number, [t["text"] for t in turns]
    case = session.scalar(select(Case).where(Case.tracking_no == number))
    assert case.source == CaseSource.BOT and case.squad.name == "徐泾中队"
    assert case.category.code == "illegal_construction"


def _file(client: FlaskClient, token: str, first: str, *answers: str) -> tuple[list[dict], str]:
    """Say `first`, then each answer until a case is filed; the turns and the tracking number."""
    turns = [say(client, token, first)]
    for answer in answers:
        if turns[-1]["tracking_no"]:
            break
        turns.append(say(client, token, answer, turns[0]["session_id"]))
    assert turns[-1]["tracking_no"], [t["text"] for t in turns]
    return turns, turns[-1]["tracking_no"]


def test_construction_in_progress_said_in_chat_gets_two_hours_on_site(
    bot_client: FlaskClient, session: Session, resident
) -> None:
    """上海市拆除违法建筑若干规定 第七条: on site within 2 hours when the building is going on now."""
    _user, token = resident
    turns, number = _file(
        bot_client, token, "康虹花园8号楼有人正在楼顶加盖房子，工人现在还在施工", "跳过", "匿名", "确认"
    )
    assert "现在还在施工吗" not in " ".join(t["text"] for t in turns)  # the message said so: not asked
    assert "正在施工" in turns[-2]["text"]  # the confirmation says it
    case = session.scalar(select(Case).where(Case.tracking_no == number))
    assert case.category.code == "illegal_construction" and case.in_progress is True
    assert case.onsite_due_at - case.created_at == dt.timedelta(hours=2)


@pytest.mark.parametrize(("answer", "in_progress"), [("还在施工", True), ("已经停工/建好了", False)])
def test_the_bot_asks_whether_building_goes_on_when_the_message_does_not_say(
    bot_client: FlaskClient, session: Session, resident, answer: str, in_progress: bool
) -> None:
    _user, token = resident
    turns, number = _file(
        bot_client, token, "康虹花园8号楼楼顶有人搭了个阳光房", answer, "跳过", "匿名", "确认"
    )
    assert turns[0]["text"] == "现在还在施工吗？"
    assert turns[0]["quick_replies"] == ["还在施工", "已经停工/建好了", "不清楚"]
    case = session.scalar(select(Case).where(Case.tracking_no == number))
    assert case.in_progress is in_progress
    hours = 2 if in_progress else 24
    assert case.onsite_due_at - case.created_at == dt.timedelta(hours=hours)


def test_an_unclear_answer_files_the_case_all_the_same(bot_client: FlaskClient, session: Session, resident):
    _user, token = resident
    _turns, number = _file(
        bot_client, token, "康虹花园8号楼楼顶有人搭了个阳光房", "不清楚", "跳过", "匿名", "确认"
    )
    case = session.scalar(select(Case).where(Case.tracking_no == number))
    assert case.in_progress is False  # not said: the case service judged the description, which does not say


def test_legal_question_and_emergency(bot_client: FlaskClient, resident) -> None:
    _user, token = resident
    assert "119" in say(bot_client, token, "楼道里着火了，好大的烟")["text"]
    legal = say(bot_client, token, "把阳台改成厨房违法吗？")["text"]
    assert legal and "12345" not in legal[:10]


@pytest.mark.parametrize("text", ["你是谁", "你能做什么？", "帮助", "help", "怎么用"])
def test_the_bot_introduces_itself(bot_client: FlaskClient, resident, text: str) -> None:
    _user, token = resident
    reply = say(bot_client, token, text)
    assert (reply["text"], reply["quick_replies"]) == (INTRODUCTION, list(MENU))


def test_a_named_report_with_a_phone_then_withdrawn_in_chat(
    bot_client: FlaskClient, session: Session, resident
) -> None:
    _user, token = resident
    turns, number = _file(
        bot_client,
        token,
        "康虹花园8号楼楼顶有人在搭阳光房，敲敲打打好几天了",
        "跳过",
        "不匿名",
        "13812345678",
        "确认",
    )
    assert "138****5678" in turns[-2]["text"]
    case = session.scalar(select(Case).where(Case.tracking_no == number))
    assert (case.anonymous, case.contact_phone) == (False, "13812345678")
    ask = say(bot_client, token, f"撤回工单 {number}")
    assert ask["text"].startswith(f"确认撤回工单 {number}（违法搭建，康虹花园8号楼）")
    assert "已撤回" in say(bot_client, token, "确认撤回", ask["session_id"])["text"]
    session.refresh(case)
    assert case.status == CaseStatus.WITHDRAWN


@pytest.mark.parametrize("question", ["装修要不要向物业登记", "把阳台改成厨房违法吗？"])
def test_a_question_answered_directly_shows_related_questions(
    bot_client: FlaskClient, resident, question: str
) -> None:
    _user, token = resident
    reply = say(bot_client, token, question)
    related = reply["related_questions"]
    assert 1 <= len(related) <= 3 and reply["quick_replies"] == related
    assert question not in related
    assert RELATED_QUESTIONS_LINE + "、".join(f"「{q}」" for q in related) in reply["text"]


@pytest.mark.parametrize("question", ["房东不退押金怎么办", "楼上漏水把我家地板泡坏了，能让他赔吗"])
def test_a_civil_dispute_is_answered_with_where_to_go(
    bot_client: FlaskClient, resident, question: str
) -> None:
    _user, token = resident
    reply = say(bot_client, token, question)
    assert "不属于" in reply["text"] and "调解" in reply["text"] and "法院" in reply["text"]
    assert "哪个小区" not in reply["text"]  # no report started
