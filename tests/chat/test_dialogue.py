"""The dialogue, turn by turn, with a rule-based NLU."""

from __future__ import annotations

import pytest

from bot.dialogue import IN_PROGRESS_QUESTION, OUT_OF_SCOPE, respond
from tests.support.fake_nlu import FakeNlu

NLU = FakeNlu()


def talk(*turns: str, state: dict | None = None) -> list:
    state = {} if state is None else state
    return [respond(NLU, state, turn) for turn in turns]


def test_a_report_step_by_step_to_confirmation() -> None:
    state: dict = {}
    replies = talk(
        "我家楼上在搭阳光房，已经搭了好几天了",
        "康虹花园",
        "8号楼",
        "跳过",
        "不匿名",
        "13812345678",
        "确认",
        state=state,
    )
    assert "哪个小区" in replies[0].text
    assert "几号楼" in replies[1].text
    assert "照片" in replies[2].text
    assert "匿名" in replies[3].text
    assert "联系电话" in replies[4].text
    assert "确认提交" in replies[5].text and "康虹花园8号楼" in replies[5].text
    assert "138****5678" in replies[5].text and "13812345678" not in replies[5].text
    final = replies[6]
    assert final.action == "file_report"
    assert final.report == {
        "description": "我家楼上在搭阳光房，已经搭了好几天了",
        "category": "illegal_construction",
        "estate": "康虹花园",
        "street": "徐泾镇",
        "building": "8",
        "photos": [],
        "anonymous": False,
        "contact_phone": "13812345678",
        "in_progress": True,  # 在搭
    }
    assert "draft" not in state


def test_place_and_building_given_at_once_skip_their_questions() -> None:
    replies = talk("康虹花园12号楼楼顶有人在搭阳光房，天天敲敲打打")
    assert "照片" in replies[0].text


def test_ambiguous_estate_offers_candidates() -> None:
    replies = talk("同名苑有人在搭阳光房好几天了", "同名苑（华新镇）")
    assert replies[0].quick_replies == ["同名苑（徐泾镇）", "同名苑（华新镇）"]
    assert "几号楼" in replies[1].text


def test_photos_are_collected() -> None:
    state: dict = {}
    talk("康虹花园8号楼有人在搭阳光房，搭了一半", state=state)
    reply = respond(NLU, state, "", photos=["a" * 32])
    assert "匿名" in reply.text
    assert state["draft"]["photos"] == ["a" * 32]


def test_cancel_anywhere() -> None:
    state: dict = {}
    talk("我家楼上在搭阳光房，已经搭了好几天了", state=state)
    assert "已取消" in respond(NLU, state, "取消").text
    assert "draft" not in state


def test_short_description_asks_for_more() -> None:
    replies = talk("我要反映问题", "搭阳光房", "楼顶露台上在搭，好几天了很吵")
    assert "描述" in replies[0].text
    assert "具体" in replies[1].text
    assert "哪个小区" in replies[2].text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("楼道里着火了", "119"),
        ("你好", "小助手"),
        ("隔壁装修噪音太大了", OUT_OF_SCOPE),
        ("露台搭阳光房违法吗", "违法建筑"),
        ("我大概想问搭建的事", "是不是下面这些问题"),
        ("这个我看不懂", "工作人员"),
    ],
)
def test_single_turns(text: str, expected: str) -> None:
    assert expected in talk(text)[0].text


def test_an_emergency_interrupts_a_report() -> None:
    state: dict = {}
    talk("我家楼上在搭阳光房，已经搭了好几天了", state=state)
    assert "119" in respond(NLU, state, "等等楼下着火了").text
    assert "draft" not in state


def test_progress_with_and_without_a_number() -> None:
    assert talk("QP20261126-0003 进度怎么样")[0].tracking_no == "QP20261126-0003"
    reply = talk("我反映的问题进度如何")[0]
    assert reply.action == "progress" and reply.tracking_no is None


def test_unsure_whether_building_goes_on_asks_once_before_the_photos() -> None:
    state: dict = {}
    first, building, answer = talk("康虹花园8号楼楼顶有人搭了一个阳光房", "8号楼", "还在施工", state=state)
    assert first.text == IN_PROGRESS_QUESTION  # estate and building given: the first thing asked
    assert first.quick_replies == ["还在施工", "已经停工/建好了", "不清楚"]
    assert "照片" in building.text  # "8号楼" is no answer to it, and it is asked once
    assert state["draft"]["in_progress"] is None
    assert answer.text == "请上传照片，或回复「跳过」。"


@pytest.mark.parametrize(
    ("answer", "in_progress", "summary_says_building"),
    [
        ("还在施工", True, True),
        ("已经停工/建好了", False, False),
        ("不清楚", None, False),
        ("是的", True, True),
        ("早就搭好了", False, False),
        ("工人现在还在砌墙", True, True),
        ("随便", None, False),
    ],
)
def test_the_answer_about_building_is_recorded(
    answer: str, in_progress: bool | None, summary_says_building: bool
):
    state: dict = {}
    replies = talk("康虹花园8号楼楼顶有人搭了一个阳光房", answer, "跳过", "匿名", state=state)
    assert replies[0].text == IN_PROGRESS_QUESTION
    assert "照片" in replies[1].text
    assert ("正在施工" in replies[3].text) is summary_says_building
    final = respond(NLU, state, "确认")
    assert final.action == "file_report" and final.report["in_progress"] is in_progress


@pytest.mark.parametrize(
    ("text", "in_progress"),
    [
        ("康虹花园8号楼楼顶有人正在搭阳光房，工人现在还在施工", True),
        ("康虹花园8号楼楼顶的阳光房已经建好了，去年搭的", False),
    ],
)
def test_a_description_that_says_it_is_not_asked(text: str, in_progress: bool) -> None:
    state: dict = {}
    replies = talk(text, "跳过", "匿名", state=state)
    assert "照片" in replies[0].text
    assert ("正在施工" in replies[2].text) is in_progress
    assert respond(NLU, state, "确认").report["in_progress"] is in_progress


def test_a_later_message_of_the_description_can_say_it() -> None:
    state: dict = {}
    replies = talk("我要反映问题", "搭阳光房", "康虹花园8号楼楼顶，工人还在施工", state=state)
    assert "照片" in replies[2].text
    assert state["draft"]["in_progress"] is True


def test_it_is_not_asked_where_building_cannot_be_going_on() -> None:
    state: dict = {}
    replies = talk("康虹花园8号楼有户人家打了好多隔断，群租", "跳过", "匿名", state=state)
    assert "照片" in replies[0].text
    assert all(r.text != IN_PROGRESS_QUESTION for r in replies)
    final = respond(NLU, state, "确认")
    assert final.report["category"] == "group_rental" and final.report["in_progress"] is None


def test_the_categories_asked_about_come_from_the_taxonomy() -> None:
    from bot.content import load_content
    from bot.nlu import DEFAULT_CONTENT_DIR

    categories = load_content(DEFAULT_CONTENT_DIR).in_progress_categories
    assert {
        "illegal_construction",
        "structural_damage",
        "common_area_occupation",
        "facade_damage",
    } <= categories
    assert "group_rental" not in categories and "garbage_sorting" not in categories
