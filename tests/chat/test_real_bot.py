"""The chat endpoint with the real bot (jieba, the trained classifier, the FAQ), loaded once for the module."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.cases.models import Case, CaseSource
from backend.config import PROJECT_ROOT
from tests.chat.fake_nlu import say

API = "/api/mp/v1/bot/messages"


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


def test_legal_question_and_emergency(bot_client: FlaskClient, resident) -> None:
    _user, token = resident
    assert "119" in say(bot_client, token, "楼道里着火了，好大的烟")["text"]
    legal = say(bot_client, token, "把阳台改成厨房违法吗？")["text"]
    assert legal and "12345" not in legal[:10]
