"""The conversation's newer steps, turn by turn with the rule-based NLU and a stand-in for the resident's
records: the introduction, withdrawing a report, photos checked at the photo step, the contact phone of a
named report, and the questions related to a direct answer."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import pytest

from backend.cases.services.filing import MAX_PHOTOS as FILING_MAX_PHOTOS
from backend.text import PHONE_PATTERN as CASE_PHONE_PATTERN
from bot.dialogue import (
    DRAFT_NOT_FILED,
    FIRST_QUESTION,
    INTRODUCTION,
    MAX_PHOTOS,
    MENU,
    PHONE_AGAIN,
    PHONE_PATTERN,
    CaseBrief,
    Reply,
    asks_for_introduction,
    asks_to_withdraw,
    phone_in,
    respond,
)
from tests.chat.stand_ins import RelatingNlu
from tests.support.fake_nlu import FakeNlu

NLU = FakeNlu()
MINE, MINE_TOO, SIGNED = "QP20261126-0001", "QP20261126-0002", "QP20261125-0007"
SOMEONE_ELSES = "QP20261126-0099"
GOOD, GOOD_TOO, OTHERS, GONE = "a" * 32, "b" * 32, "c" * 32, "d" * 32


@dataclass
class Resident:
    """The resident's records as the backend lends them, and which of them the dialogue read."""

    own_photos: set[str] = field(default_factory=lambda: {GOOD, GOOD_TOO})
    phone: str | None = None
    cases: list[CaseBrief] = field(default_factory=list)
    read: list[str] = field(default_factory=list)

    def refused_photos(self, photo_ids: list[str]) -> list[str]:
        self.read.append("photos")
        return [p for p in photo_ids if p not in self.own_photos]

    def contact_phone(self) -> str | None:
        self.read.append("phone")
        return self.phone

    def reports(self) -> list[CaseBrief]:
        self.read.append("reports")
        return list(self.cases)


def brief(number: str, withdrawable: bool = True, status: str = "已派单") -> CaseBrief:
    return CaseBrief(
        tracking_no=number, about="违法搭建，康虹花园8号楼", status=status, withdrawable=withdrawable
    )


def talk(*turns: str, state: dict, resident: Resident | None = None) -> list[Reply]:
    return [respond(NLU, state, turn, records=resident) for turn in turns]


# ------------------------------------------------------------------------------------ introduction


@pytest.mark.parametrize(
    "text",
    [
        "你是谁",
        "你是谁？",
        "您是谁呀",
        "你好，你是谁",
        "你能做什么",
        "你能做什么？",
        "请问你能干什么",
        "你可以帮我做什么呢",
        "你会什么",
        "帮助",
        "help",
        "HELP",
        "怎么用",
        "这个怎么用",
        "小程序怎么使用",
        "功能",
        "有什么功能",
        "你有哪些功能？",
        "使用说明",
        "?",
    ],
)
def test_who_are_you_and_help_get_the_introduction_with_the_menu(text: str) -> None:
    state: dict = {}
    reply = respond(NLU, state, text)
    assert (reply.text, reply.quick_replies) == (INTRODUCTION, list(MENU))
    assert reply.action is None and state == {}


def test_the_introduction_says_what_the_bot_does() -> None:
    for does in ("违法搭建", "群租", "楼道", "办理进度", "法律问题", "匿名", "撤回"):
        assert does in INTRODUCTION


@pytest.mark.parametrize(
    "text",
    [
        "你好",
        "公共维修资金怎么用",
        "露台搭阳光房违法吗",
        "楼顶的功能用房被物业改成了仓库",
        "你能不能帮我看看隔壁是不是群租",
    ],
)
def test_questions_that_only_contain_those_words_are_not_asking_for_help(text: str) -> None:
    assert not asks_for_introduction(text)
    assert respond(NLU, {}, text).text != INTRODUCTION


# Turns that bring a report to each step, and the step they bring it to.
TO_STEP = [
    (["我要反映问题"], "what"),
    (["我家楼上在搭阳光房，已经搭了好几天了"], "where"),
    (["我家楼上在搭阳光房，已经搭了好几天了", "康虹花园"], "building"),
    (["康虹花园8号楼楼顶有人搭了一个阳光房"], "in_progress"),
    (["康虹花园8号楼有人在搭阳光房，搭了一半"], "photos"),
    (["康虹花园8号楼有人在搭阳光房，搭了一半", "跳过"], "anonymous"),
    (["康虹花园8号楼有人在搭阳光房，搭了一半", "跳过", "不匿名"], "phone"),
    (["康虹花园8号楼有人在搭阳光房，搭了一半", "跳过", "匿名"], "confirm"),
]


@pytest.mark.parametrize(("turns", "step"), TO_STEP)
@pytest.mark.parametrize("asked", ["你能做什么", "帮助"])
def test_inside_a_report_the_introduction_is_given_and_the_step_asked_again(
    turns: list[str], step: str, asked: str
) -> None:
    state: dict = {}
    pending = talk(*turns, state=state)[-1]
    assert state["draft"]["step"] == step
    draft = copy.deepcopy(state["draft"])
    reply = respond(NLU, state, asked)
    assert reply.text == f"{INTRODUCTION}\n\n{pending.text}"
    assert reply.quick_replies == pending.quick_replies and reply.action is None
    assert state["draft"] == draft


def test_a_report_goes_on_after_the_introduction() -> None:
    state: dict = {}
    talk("我家楼上在搭阳光房，已经搭了好几天了", "你是谁", "康虹花园", state=state)
    assert state["draft"]["estate"] == "康虹花园" and state["draft"]["step"] == "building"
    assert (
        state["draft"]["description"] == "我家楼上在搭阳光房，已经搭了好几天了"
    )  # the aside is no part of it
    assert respond(NLU, {}, "我要反映问题").text == FIRST_QUESTION


# ------------------------------------------------------------------------------------ withdrawing


@pytest.mark.parametrize(
    "text", ["我要撤回反映", "撤回工单", "撤销我的举报", "取消我的投诉", "我想把刚才的反映撤回", "不想投诉了"]
)
def test_ways_of_asking_to_withdraw(text: str) -> None:
    assert asks_to_withdraw(text, NLU.understand(text))


@pytest.mark.parametrize(
    "text",
    [
        "撤回后还能再反映吗",
        "楼顶违建撤掉了吗",
        "我之前反映过楼顶违建，城管来过一次让他撤掉，结果现在又搭起来了，而且越搭越大，物业也根本不管",
        "取消",
        "QP20261126-0001 进度怎么样",
    ],
)
def test_what_is_not_a_withdrawal(text: str) -> None:
    assert not asks_to_withdraw(text, NLU.understand(text))


def test_several_reports_the_resident_chooses_then_confirms() -> None:
    state: dict = {}
    resident = Resident(
        cases=[brief(MINE_TOO), brief(SIGNED, withdrawable=False, status="已签收"), brief(MINE)]
    )
    ask = respond(NLU, state, "我要撤回反映", records=resident)
    assert "撤回哪一件" in ask.text and MINE in ask.text and MINE_TOO in ask.text and SIGNED not in ask.text
    assert ask.quick_replies == [MINE_TOO, MINE, "取消"]
    assert ask.action is None
    confirm = respond(NLU, state, MINE, records=resident)
    assert confirm.text == f"确认撤回工单 {MINE}（违法搭建，康虹花园8号楼）吗？撤回后将不再办理。"
    assert confirm.quick_replies == ["确认撤回", "取消"] and confirm.action is None
    done = respond(NLU, state, "确认撤回", records=resident)
    assert (done.action, done.tracking_no) == ("withdraw", MINE)
    assert "withdrawal" not in state


def test_a_report_can_be_chosen_by_its_place_in_the_list() -> None:
    state: dict = {}
    resident = Resident(cases=[brief(MINE_TOO), brief(MINE)])
    talk("撤销我的举报", state=state, resident=resident)
    assert MINE in talk("2", state=state, resident=resident)[0].text


def test_one_withdrawable_report_goes_straight_to_the_confirmation() -> None:
    state: dict = {}
    resident = Resident(cases=[brief(SIGNED, withdrawable=False, status="已签收"), brief(MINE)])
    reply = respond(NLU, state, "我要撤回反映", records=resident)
    assert reply.text.startswith(f"确认撤回工单 {MINE}") and reply.quick_replies == ["确认撤回", "取消"]


def test_a_named_report_of_ones_own_goes_straight_to_the_confirmation() -> None:
    state: dict = {}
    resident = Resident(cases=[brief(MINE_TOO), brief(MINE)])
    reply = respond(NLU, state, f"撤回工单 {MINE}", records=resident)
    assert reply.text.startswith(f"确认撤回工单 {MINE}（") and reply.action is None
    assert respond(NLU, state, "确认撤回", records=resident).tracking_no == MINE


def test_cancelling_keeps_the_report() -> None:
    state: dict = {}
    resident = Resident(cases=[brief(MINE)])
    talk("我要撤回反映", state=state, resident=resident)
    kept = respond(NLU, state, "取消", records=resident)
    assert kept.action is None and "不撤回" in kept.text and MINE in kept.text
    assert "withdrawal" not in state
    assert respond(NLU, state, "确认撤回", records=resident).action is None  # nothing pending any more


def test_someone_elses_number_is_not_found_and_reveals_nothing() -> None:
    state: dict = {}
    reply = respond(NLU, state, f"撤回工单 {SOMEONE_ELSES}", records=Resident(cases=[]))
    assert "没有找到" in reply.text and reply.action is None and "withdrawal" not in state
    # with reports of one's own to withdraw, they are offered instead, and the number stays unknown
    offered = respond(NLU, state, f"撤回工单 {SOMEONE_ELSES}", records=Resident(cases=[brief(MINE)]))
    assert "没有找到" in offered.text and offered.quick_replies == [MINE, "取消"]
    assert respond(NLU, state, SOMEONE_ELSES, records=Resident(cases=[brief(MINE)])).action is None


def test_a_report_being_handled_cannot_be_withdrawn() -> None:
    state: dict = {}
    resident = Resident(cases=[brief(SIGNED, withdrawable=False, status="已签收")])
    named = respond(NLU, state, f"撤回工单 {SIGNED}", records=resident)
    assert "已签收" in named.text and "不能撤回" in named.text and "withdrawal" not in state
    unnamed = respond(NLU, state, "我要撤回反映", records=resident)
    assert "没有可以撤回的反映" in unnamed.text and "withdrawal" not in state


def test_another_matter_drops_the_pending_withdrawal() -> None:
    state: dict = {}
    resident = Resident(cases=[brief(MINE)])
    talk("我要撤回反映", state=state, resident=resident)
    answer = respond(NLU, state, "露台搭阳光房违法吗", records=resident)
    assert "违法建筑" in answer.text and "withdrawal" not in state


def test_an_emergency_drops_the_pending_withdrawal() -> None:
    state: dict = {}
    talk("我要撤回反映", state=state, resident=Resident(cases=[brief(MINE)]))
    assert "119" in respond(NLU, state, "楼道里着火了").text and "withdrawal" not in state


def test_asking_to_withdraw_inside_a_report_keeps_the_draft() -> None:
    state: dict = {}
    pending = talk("我家楼上在搭阳光房，已经搭了好几天了", state=state)[-1]
    draft = copy.deepcopy(state["draft"])
    reply = respond(NLU, state, "我要撤回反映", records=Resident(cases=[brief(MINE)]))
    assert reply.text == f"{DRAFT_NOT_FILED}\n\n{pending.text}" and reply.action is None
    assert state["draft"] == draft and "withdrawal" not in state


# ------------------------------------------------------------------------------------ photos


def to_photos(state: dict, resident: Resident) -> None:
    assert "照片" in talk("康虹花园8号楼有人在搭阳光房，搭了一半", state=state, resident=resident)[0].text


def test_a_photo_not_ones_own_or_expired_is_refused_at_the_photo_step_keeping_the_draft() -> None:
    state: dict = {}
    resident = Resident()
    to_photos(state, resident)
    draft = copy.deepcopy(state["draft"])
    for bad in (OTHERS, GONE):
        refused = respond(NLU, state, "照片", photos=[bad], records=resident)
        assert "已过期或不是您本人上传的" in refused.text and "重新上传" in refused.text
        assert refused.quick_replies == ["跳过"]
        assert state["draft"]["step"] == "photos" and state["draft"]["photos"] == []
        assert {k: v for k, v in state["draft"].items() if k != "photos"} == draft
    assert "匿名" in respond(NLU, state, "照片", photos=[GOOD], records=resident).text
    assert state["draft"]["photos"] == [GOOD]
    final = talk("匿名", "确认", state=state, resident=resident)[-1]
    assert final.report is not None and final.report["photos"] == [GOOD]


def test_of_several_photos_the_good_ones_are_kept_and_the_resident_may_go_on() -> None:
    state: dict = {}
    resident = Resident()
    to_photos(state, resident)
    reply = respond(NLU, state, "照片", photos=[GOOD, OTHERS, GOOD_TOO], records=resident)
    assert "已收到 2 张照片" in reply.text and "有 1 张照片已过期或不是您本人上传的" in reply.text
    assert state["draft"]["photos"] == [GOOD, GOOD_TOO] and state["draft"]["step"] == "photos"
    assert "匿名" in respond(NLU, state, "跳过", records=resident).text
    assert state["draft"]["photos"] == [GOOD, GOOD_TOO]


def test_the_photo_step_is_asked_again_after_an_aside_even_with_photos_kept() -> None:
    state: dict = {}
    resident = Resident()
    to_photos(state, resident)
    respond(NLU, state, "照片", photos=[GOOD, OTHERS], records=resident)
    again = respond(NLU, state, "帮助", records=resident)
    assert again.text.startswith(INTRODUCTION) and "上传" in again.text and state["draft"]["step"] == "photos"


def test_photos_sent_with_the_answer_about_building_are_checked_too() -> None:
    state: dict = {}
    resident = Resident()
    first = talk("康虹花园8号楼楼顶有人搭了一个阳光房", state=state, resident=resident)[0]
    assert state["draft"]["step"] == "in_progress", first.text
    reply = respond(NLU, state, "还在施工", photos=[GONE], records=resident)
    assert "已过期或不是您本人上传的" in reply.text
    assert state["draft"]["in_progress"] is True and state["draft"]["step"] == "photos"


def test_photos_are_checked_only_at_the_photo_steps() -> None:
    resident = Resident()
    respond(NLU, {}, "康虹花园8号楼有人在搭阳光房，搭了一半", records=resident)
    assert "photos" not in resident.read


def test_no_more_photos_than_a_report_holds_and_none_twice() -> None:
    state: dict = {}
    resident = Resident(own_photos={f"{n:032x}" for n in range(12)})
    to_photos(state, resident)
    first = [f"{n:032x}" for n in range(6)]
    respond(NLU, state, "照片", photos=first + first[:2], records=resident)
    assert state["draft"]["photos"] == first
    state["draft"]["step"] = "photos"  # the resident sends more before answering the next question
    more = respond(NLU, state, "照片", photos=[f"{n:032x}" for n in range(4, 12)], records=resident)
    assert len(state["draft"]["photos"]) == MAX_PHOTOS == FILING_MAX_PHOTOS
    assert f"最多 {MAX_PHOTOS} 张" in more.text and "多出的 3 张" in more.text


# ------------------------------------------------------------------------------------ contact phone


def to_phone(state: dict, resident: Resident | None = None) -> Reply:
    return talk("康虹花园8号楼有人在搭阳光房，搭了一半", "跳过", "不匿名", state=state, resident=resident)[-1]


def test_a_named_report_asks_for_a_phone_and_checks_it() -> None:
    state: dict = {}
    asked = to_phone(state)
    assert "联系电话" in asked.text and "核实" in asked.text and asked.quick_replies == ["跳过"]
    draft = copy.deepcopy(state["draft"])
    for wrong in ("12345", "1381234567", "23812345678", "好的"):
        again = respond(NLU, state, wrong)
        assert again.text == PHONE_AGAIN and state["draft"] == draft
    confirm = respond(NLU, state, "021-59721234")
    assert "确认提交" in confirm.text and "021*****1234" in confirm.text
    final = respond(NLU, state, "确认")
    assert final.report is not None and final.report["contact_phone"] == "021-59721234"
    assert state["phone"] == "021-59721234"


@pytest.mark.parametrize(
    ("typed", "phone"),
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("我的电话是13812345678，白天都在", "13812345678"),
        ("１３８１２３４５６７８", "13812345678"),
        ("02159721234", "02159721234"),
        ("座机 021-59721234", "021-59721234"),
        ("1381234567", None),
        ("138123456789", None),
        ("12812345678", None),
        ("QP20261126-0001", None),
    ],
)
def test_phones_as_people_type_them(typed: str, phone: str | None) -> None:
    assert phone_in(typed) == phone


def test_the_phone_rule_is_the_case_services() -> None:
    assert PHONE_PATTERN == CASE_PHONE_PATTERN


def test_a_phone_may_be_skipped_as_on_the_report_form() -> None:
    state: dict = {}
    to_phone(state)
    confirm = respond(NLU, state, "跳过")
    assert "实名反映，未留联系电话" in confirm.text
    final = respond(NLU, state, "确认")
    assert final.report is not None and "contact_phone" not in final.report
    assert final.report["anonymous"] is False


def test_the_phone_of_an_earlier_report_is_offered_not_asked_again() -> None:
    state: dict = {}
    resident = Resident(phone="13912340000")
    asked = to_phone(state, resident)
    assert asked.quick_replies == ["使用 139****0000", "跳过"] and "13912340000" not in asked.text
    confirm = respond(NLU, state, "使用 139****0000", records=resident)
    assert "联系电话 139****0000" in confirm.text
    final = respond(NLU, state, "确认", records=resident)
    assert final.report is not None and final.report["contact_phone"] == "13912340000"
    assert "phone_on_file" not in final.report


def test_a_new_number_may_replace_the_one_offered() -> None:
    state: dict = {}
    to_phone(state, Resident(phone="13912340000"))
    respond(NLU, state, "13812345678")
    assert respond(NLU, state, "确认").report["contact_phone"] == "13812345678"  # type: ignore[index]


def test_a_phone_given_earlier_in_the_conversation_is_offered_for_the_next_report() -> None:
    state: dict = {}
    to_phone(state)
    talk("13812345678", "确认", state=state)
    asked = to_phone(state)
    assert asked.quick_replies == ["使用 138****5678", "跳过"]
    respond(NLU, state, "使用 138****5678")
    assert respond(NLU, state, "确认").report["contact_phone"] == "13812345678"  # type: ignore[index]


def test_an_anonymous_report_never_asks_for_nor_carries_a_phone() -> None:
    state: dict = {"phone": "13812345678"}  # given for an earlier named report in this conversation
    resident = Resident(phone="13912340000")
    replies = talk("康虹花园8号楼有人在搭阳光房，搭了一半", "跳过", "匿名", state=state, resident=resident)
    assert all("电话" not in r.text for r in replies) and "匿名反映。" in replies[-1].text
    assert "phone" not in resident.read
    final = respond(NLU, state, "确认", records=resident)
    assert final.report is not None and final.report["anonymous"] is True
    assert "contact_phone" not in final.report


# ------------------------------------------------------------------------------------ related questions


def test_a_direct_answer_offers_its_related_questions() -> None:
    related = ["阳光房算不算违建", "楼顶加个阳光房要审批吗", "顶楼加盖一层违法吗"]
    reply = respond(RelatingNlu([*related, "第四个"], ["别的"]), {}, "露台搭阳光房违法吗")
    assert "违法建筑" in reply.text and reply.quick_replies == related


def test_without_related_questions_the_suggestions_are_offered() -> None:
    reply = respond(RelatingNlu([], ["阳光房算不算违建"]), {}, "露台搭阳光房违法吗")
    assert reply.quick_replies == ["阳光房算不算违建"]


def test_did_you_mean_still_offers_the_suggestions() -> None:
    reply = respond(RelatingNlu(["不该出现"]), {}, "我大概想问搭建的事")
    assert "是不是" in reply.text and "不该出现" not in reply.quick_replies


def test_a_civil_dispute_gets_the_answer_that_says_where_to_go() -> None:
    reply = respond(NLU, {}, "房东不退押金怎么办")
    assert "人民调解" in reply.text and "法院" in reply.text
    assert reply.quick_replies == ["房东不退房租怎么办"]  # the related questions
    assert "不属于城管住宅小区专项执法的范围" in respond(NLU, {}, "隔壁装修噪音太大了").text  # nothing fits


def test_the_building_is_its_number_however_it_is_said() -> None:
    for said in ("3号", "3栋", "3号楼", "3 幢"):
        state: dict = {}
        replies = talk("康虹花园有人在搭阳光房，已经搭好了", said, state=state)
        assert state["draft"]["building"] == "3", (said, replies[-1].text)


def test_the_confirmation_shows_what_decided_not_the_greeting() -> None:
    letter = (
        "尊敬的领导您好！我是老住户，今天想反映一件事情，拖了很久了，请您一定看一看。" * 2
        + "康虹花园8号楼有人在楼顶搭阳光房。"
    )
    state: dict = {
        "draft": {
            "step": "anonymous",
            "description": letter,
            "estate": "康虹花园",
            "street": "徐泾镇",
            "building": "8",
            "photos": [],
            "in_progress": False,
            "category": "illegal_construction",
            "evidence": "康虹花园8号楼有人在楼顶搭阳光房",
        }
    }
    confirm = respond(NLU, state, "匿名")
    assert "康虹花园8号楼有人在楼顶搭阳光房。" in confirm.text and "尊敬的领导" not in confirm.text
    short = {
        "draft": {
            **state["draft"],
            "step": "anonymous",
            "description": "康虹花园8号楼有人搭阳光房",
            "evidence": "",
        }
    }
    assert "康虹花园8号楼有人搭阳光房。" in respond(NLU, short, "匿名").text


def test_a_question_in_the_middle_of_a_report_is_answered_and_the_step_asked_again() -> None:
    state: dict = {}
    talk("康虹花园8号楼有人在搭阳光房，已经搭好了", state=state)
    assert state["draft"]["step"] == "photos"
    reply = respond(NLU, state, "阳光房违法吗")
    assert "违法建筑" in reply.text and "上传" in reply.text  # the answer, then the photo step again
    assert state["draft"]["step"] == "photos" and state["draft"]["description"].startswith("康虹花园")
    assert respond(NLU, state, "跳过").text.startswith("是否匿名")
