"""A tiny rule-based stand-in for the bot's NLU, so the dialogue and the channels are tested on their own."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask.testing import FlaskClient

from bot.content import load_content
from bot.nlu import DEFAULT_CONTENT_DIR
from bot.rules import construction_in_progress

API = "/api/mp/v1/bot/messages"


@dataclass
class Meaning:
    intent: str = "other"
    category: str | None = None
    confidence: float = 0.9
    emergency: str | None = None
    out_of_scope: bool = False
    estate: str | None = None
    street: str | None = None
    squad: str | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    building: str | None = None
    unit: str | None = None
    room: str | None = None
    tracking_no: str | None = None
    in_progress: bool | None = None


@dataclass
class FakeAnswer:
    answer: str
    category: str | None = None
    sources: list[dict[str, str]] = field(default_factory=list)
    confidence: float = 0.9
    fallback: str | None = None
    suggestions: list[str] = field(default_factory=list)


class FakeNlu:
    # the real taxonomy's, as the bot reads it
    in_progress_categories = load_content(DEFAULT_CONTENT_DIR).in_progress_categories

    def understand(self, text: str) -> Meaning:
        m = Meaning(in_progress=construction_in_progress(text))
        if "着火" in text:
            m.emergency = "fire"
        if number := re.search(r"QP\d{8}-\d{4}", text):
            m.tracking_no = number.group(0)
        if "进度" in text or m.tracking_no:
            m.intent = "progress"
        elif "你好" in text:
            m.intent = "greeting"
        elif "违法吗" in text or "怎么办" in text or "想问" in text or "看不懂" in text:
            m.intent, m.category = "consult", "illegal_construction"
        elif "噪音" in text:
            m.intent, m.category, m.out_of_scope = "report", "out_of_scope", True
        elif "阳光房" in text or "搭" in text:
            m.intent, m.category = "report", "illegal_construction"
        elif "隔断" in text or "群租" in text:
            m.intent, m.category = "report", "group_rental"
        if "康虹花园" in text:
            m.estate, m.street, m.squad = "康虹花园", "徐泾镇", "徐泾中队"
        if "同名苑" in text:
            m.candidates = [
                {"estate": "同名苑", "street": "徐泾镇"},
                {"estate": "同名苑", "street": "华新镇"},
            ]
        if b := re.search(r"(\d+)号楼", text):
            m.building = b.group(1)
        return m

    def answer(self, text: str) -> FakeAnswer:
        if "看不懂" in text:
            return FakeAnswer("", fallback="human")
        if "大概" in text:
            return FakeAnswer(
                "", fallback="suggest", suggestions=["阳光房算违建吗", "加层要审批吗", "露台搭建怎么处罚"]
            )
        return FakeAnswer(
            "未经规划许可搭建阳光房属于违法建筑。",
            sources=[{"law": "上海市拆除违法建筑若干规定", "article": "第七条"}],
        )


def say(client: FlaskClient, token: str, text: str, session_id: str | None = None) -> dict:
    body = {"text": text, **({"session_id": session_id} if session_id else {})}
    response = client.post(API, json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_json()
    return response.get_json()
