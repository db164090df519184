"""A tiny rule-based stand-in for the bot's NLU, so the dialogue and the channels are tested on their own."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.content import load_content
from bot.nlu import DEFAULT_CONTENT_DIR
from bot.rules import construction_in_progress

# (words, intent, category) in order: the first whose words a message contains says what it is about
TOPICS: list[tuple[tuple[str, ...], str, str]] = [
    (("违法吗", "怎么办", "想问", "看不懂"), "consult", "illegal_construction"),
    (("噪音", "押金"), "report", "out_of_scope"),
    (("阳光房", "搭"), "report", "illegal_construction"),
    (("隔断", "群租"), "report", "group_rental"),
]
TRACKING_NO = re.compile(r"QP\d{8}-\d{4}")
BUILDING = re.compile(r"(\d+)号楼")


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
    candidates: list[dict[str, str]] = field(default_factory=list)
    building: str | None = None
    unit: str | None = None
    room: str | None = None
    tracking_no: str | None = None
    in_progress: bool | None = None
    evidence: str = ""


@dataclass
class FakeAnswer:
    answer: str
    category: str | None = None
    sources: list[dict[str, str]] = field(default_factory=list)
    confidence: float = 0.9
    fallback: str | None = None
    suggestions: list[str] = field(default_factory=list)
    related: list[str] = field(default_factory=list)


class FakeNlu:
    # the real taxonomy's, as the bot reads it
    in_progress_categories = load_content(DEFAULT_CONTENT_DIR).in_progress_categories

    def understand(self, text: str) -> Meaning:
        number = TRACKING_NO.search(text)
        m = Meaning(
            emergency="fire" if "着火" in text else None,
            tracking_no=number.group(0) if number else None,
            in_progress=construction_in_progress(text),
        )
        m.intent, m.category = _intent_and_category(text, m.tracking_no)
        m.out_of_scope = m.category == "out_of_scope"
        _find_place(text, m)
        return m

    def answer(self, text: str) -> FakeAnswer:
        if "看不懂" in text or "噪音" in text:  # nothing in the FAQ: noise is the police's
            return FakeAnswer("", fallback="human")
        if "押金" in text:
            return FakeAnswer(
                "押金纠纷不属于城管执法的范围，可以找人民调解委员会调解，或向人民法院起诉。",
                category="out_of_scope",
                related=["房东不退房租怎么办"],
            )
        if "大概" in text:
            return FakeAnswer(
                "", fallback="suggest", suggestions=["阳光房算违建吗", "加层要审批吗", "露台搭建怎么处罚"]
            )
        return FakeAnswer(
            "未经规划许可搭建阳光房属于违法建筑。",
            sources=[{"law": "上海市拆除违法建筑若干规定", "article": "第七条"}],
        )


def _intent_and_category(text: str, tracking_no: str | None) -> tuple[str, str | None]:
    if "进度" in text or tracking_no:
        return "progress", None
    if "你好" in text:
        return "greeting", None
    for words, intent, category in TOPICS:
        if any(word in text for word in words):
            return intent, category
    return "other", None


def _find_place(text: str, m: Meaning) -> None:
    if "康虹花园" in text:
        m.estate, m.street, m.squad = "康虹花园", "徐泾镇", "徐泾中队"
    if "同名苑" in text:
        m.candidates = [
            {"estate": "同名苑", "street": "徐泾镇"},
            {"estate": "同名苑", "street": "华新镇"},
        ]
    if b := BUILDING.search(text):
        m.building = b.group(1)
