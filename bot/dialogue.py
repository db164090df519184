"""The conversation: file a report step by step, answer progress and legal questions, route emergencies.

Pure logic over a JSON-able state dict: the caller keeps the state (Redis with a time-out, or memory),
performs the actions the dialogue asks for (filing the case, looking up progress) and sends the reply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypedDict

EMERGENCY_NUMBERS = {
    "fire": "请立即拨打 119 火警电话，并尽快离开危险区域。",
    "gas": "请立即离开现场、不要开关电器，并拨打 119 或燃气抢修电话。",
    "fight": "请立即拨打 110 报警，注意自身安全。",
    "injury": "请立即拨打 120 急救电话。",
    "danger": "请立即拨打 110 报警求助。",
}
OUT_OF_SCOPE = "这件事不属于城管住宅小区专项执法的范围，建议拨打 12345 市民服务热线反映，会有相关部门处理。"
GREETING = "您好，我是青浦城管进社区小助手。可以帮您反映小区里的违法搭建、群租、破坏房屋结构等问题，也可以解答相关法律问题。"
CONFIRM_WORDS = {"是", "是的", "对", "对的", "确认", "提交", "好", "好的", "可以", "没问题", "确定"}
CANCEL_WORDS = {"取消", "算了", "不用了", "不了", "退出", "不提交"}
SKIP_WORDS = {"跳过", "没有", "无", "不知道", "不清楚", "没有照片", "不拍了"}
YES_WORDS = {"匿名", "是", "要", "需要", "要匿名", "匿名反映"}
NO_WORDS = {"不匿名", "不用", "不需要", "实名", "否", "不要"}
# Asked once, before the photos, when the category is one where building can be going on now and the
# messages did not say (上海市拆除违法建筑若干规定 第七条: on site within 2 hours instead of 24).
IN_PROGRESS_QUESTION = "现在还在施工吗？"
IN_PROGRESS_CHOICES = {"还在施工": True, "已经停工/建好了": False, "不清楚": None}
STILL_WORDS = {
    "是", "是的", "对", "对的", "嗯", "在", "还在", "正在", "有", "在施工", "还在搭", "是啊", "对啊",
}  # fmt: skip
STOPPED_WORDS = {
    "不是", "否", "没", "没有", "不在", "没在", "停了", "已经停了", "停工了", "建好了", "搭好了", "没有了",
}  # fmt: skip


Step = Literal["what", "where", "building", "in_progress", "photos", "anonymous", "confirm"]
MENU = ("我要反映问题", "查询办理进度", "咨询法律问题")  # the quick replies of a greeting
START_REPORT_WORDS = {"我要反映问题", "我要反映", "反映问题", "投诉"}
PROGRESS_WORDS = {"查询办理进度", "查进度"}


class Understanding(Protocol):
    """What the dialogue reads of a message (bot.Understanding has these and more)."""

    intent: str
    category: str | None
    confidence: float
    emergency: str | None
    out_of_scope: bool
    estate: str | None
    street: str | None
    candidates: list[dict[str, str]]  # [{estate, street}] when a name is shared by estates of several towns
    building: str | None
    unit: str | None
    room: str | None
    tracking_no: str | None
    in_progress: bool | None


class Answer(Protocol):
    """What the dialogue reads of an answer to a question (bot.Answer has these and more)."""

    answer: str
    fallback: str | None  # None: answered; "suggest": closest questions offered; "human": handed over
    suggestions: list[str]


class Nlu(Protocol):
    """What the dialogue needs of the bot: bot.Bot, or a stand-in in tests."""

    @property
    def in_progress_categories(self) -> frozenset[str]:
        """The categories where building can be going on now (read from the taxonomy)."""
        ...

    def understand(self, text: str) -> Understanding: ...

    def answer(self, text: str) -> Answer: ...


class Report(TypedDict, total=False):
    """The fields of a report to file, as the resident gave them; a field not asked or not given is absent,
    except `in_progress`: True, False or None (not said)."""

    description: str
    category: str | None
    estate: str
    street: str
    address: str  # what the resident wrote when no estate we know was named
    building: str  # "" when skipped
    unit: str
    room: str
    photos: list[str]
    anonymous: bool
    in_progress: bool | None


class Draft(Report, total=False):
    """A report being collected: its fields so far, the step whose answer is awaited, and the estates to
    choose among when a name is shared."""

    step: Step
    candidates: list[dict[str, str]]


@dataclass
class Reply:
    text: str
    quick_replies: list[str] = field(default_factory=list)
    action: str | None = None  # "file_report" or "progress": the caller does it and may add to the text
    report: Report | None = None  # the fields of a report to file
    tracking_no: str | None = None


@dataclass(frozen=True)
class _Turn:
    """One message that answers the step a draft is at."""

    state: dict[str, Any]
    draft: Draft
    said: str
    meaning: Understanding | None
    photos: list[str]


def _clean(text: str) -> str:
    return text.strip().strip("。！!？?，,").strip()


def respond(nlu: Nlu, state: dict[str, Any], text: str, *, photos: list[str] | None = None) -> Reply:
    """The reply to `text` in a conversation whose `state` this call updates in place. The state is the
    caller's JSON-able dict; a report being collected is its "draft" (a Draft)."""
    text = text.strip()
    said = _clean(text)
    draft: Draft | None = state.get("draft")
    if draft is not None and said in CANCEL_WORDS:
        state.pop("draft", None)
        return Reply("好的，已取消这次反映。有需要随时找我。")
    meaning = nlu.understand(text) if text else None
    if meaning is not None and meaning.emergency:
        state.pop("draft", None)
        return Reply(EMERGENCY_NUMBERS.get(meaning.emergency, EMERGENCY_NUMBERS["danger"]))
    if draft is not None:
        return _continue_report(nlu, _Turn(state, draft, said, meaning, photos or []))
    if meaning is None:
        return Reply(GREETING, list(MENU))
    return _reply_outside_report(nlu, state, text, said, meaning)


def _reply_outside_report(
    nlu: Nlu, state: dict[str, Any], text: str, said: str, meaning: Understanding
) -> Reply:
    """The reply to a message outside a report: start one, look up progress, greet, or answer."""
    if said in START_REPORT_WORDS:
        state["draft"] = Draft(step="what")
        return Reply("请描述一下您发现的问题：什么情况、持续多久了？")
    if said in PROGRESS_WORDS or meaning.intent == "progress":
        return Reply("正在为您查询……", action="progress", tracking_no=meaning.tracking_no)
    if meaning.intent == "greeting":
        return Reply(GREETING, list(MENU))
    if meaning.out_of_scope or meaning.category == "out_of_scope":
        return Reply(OUT_OF_SCOPE)
    if meaning.intent == "report":
        draft = Draft(step="what", description=text, category=meaning.category)
        _take_place(draft, meaning)
        _take_in_progress(draft, meaning)
        state["draft"] = draft
        return _next_question(nlu, draft)
    if meaning.intent == "consult" or said == "咨询法律问题":
        return _consult(nlu, text)
    return Reply("抱歉，我没有完全明白。您可以直接描述小区里发现的问题，或者问我相关的法律规定。", list(MENU))


def _consult(nlu: Nlu, text: str) -> Reply:
    answer = nlu.answer(text)
    suggestions = list(answer.suggestions or [])
    if answer.fallback == "human":
        return Reply("这个问题我还答不好，已记录下来，工作人员会在工作时间答复您。也可以拨打 12345 咨询。")
    if answer.fallback == "suggest":
        return Reply("您想问的是不是下面这些问题？", suggestions[:3])
    return Reply(answer.answer, suggestions[:3])


def _take_place(draft: Draft, meaning: Understanding) -> None:
    _take_estate(draft, meaning)
    _take_building_unit_room(draft, meaning)


def _names_estate(meaning: Understanding) -> bool:
    """The message names an estate we know, or a name that estates of several towns share."""
    return bool((meaning.estate and meaning.street) or meaning.candidates)


def _take_estate(draft: Draft, meaning: Understanding) -> None:
    if meaning.estate and meaning.street:
        draft["estate"], draft["street"] = meaning.estate, meaning.street
    elif meaning.candidates:
        draft["candidates"] = meaning.candidates[:5]


def _take_building_unit_room(draft: Draft, meaning: Understanding) -> None:
    if meaning.building:
        draft["building"] = meaning.building
    if meaning.unit:
        draft["unit"] = meaning.unit
    if meaning.room:
        draft["room"] = meaning.room


def _take_in_progress(draft: Draft, meaning: Understanding) -> None:
    """What a description says about building going on now; work going on in any message wins."""
    said = meaning.in_progress
    if said is True or (said is False and draft.get("in_progress") is not True):
        draft["in_progress"] = said


def _in_progress_answer(said: str, meaning: Understanding | None) -> bool | None:
    if said in IN_PROGRESS_CHOICES:
        return IN_PROGRESS_CHOICES[said]
    if meaning is not None and meaning.in_progress is not None:
        return meaning.in_progress
    if said in STILL_WORDS:
        return True
    return False if said in STOPPED_WORDS else None


def _add_photos(draft: Draft, photos: list[str]) -> None:
    draft["photos"] = (draft.get("photos") or []) + photos


def _next_question(nlu: Nlu, draft: Draft) -> Reply:
    if len(draft.get("description", "")) < 10:
        draft["step"] = "what"
        return Reply("请再具体描述一下问题（至少 10 个字）：什么情况、在哪个位置、持续多久了？")
    if not draft.get("estate") and not draft.get("address"):
        draft["step"] = "where"
        if draft.get("candidates"):
            options = [f"{c['estate']}（{c['street']}）" for c in draft["candidates"]]
            return Reply("有几个同名的小区，请问是哪一个？", options)
        return Reply("请问是在哪个小区？（小区名称，或路名加弄号）")
    if "building" not in draft:
        draft["step"] = "building"
        return Reply("请问是几号楼？（不清楚可以回复「跳过」）", ["跳过"])
    if "in_progress" not in draft and draft.get("category") in nlu.in_progress_categories:
        draft["step"] = "in_progress"
        return Reply(IN_PROGRESS_QUESTION, list(IN_PROGRESS_CHOICES))
    if "photos" not in draft:
        draft["step"] = "photos"
        return Reply("如有现场照片，请在下方上传；没有可以回复「跳过」。", ["跳过"])
    if "anonymous" not in draft:
        draft["step"] = "anonymous"
        return Reply("是否匿名反映？匿名后办理人员也看不到您的联系方式。", ["匿名", "不匿名"])
    draft["step"] = "confirm"
    return _confirmation(draft)


def _confirmation(draft: Draft) -> Reply:
    where = draft.get("estate") or draft.get("address")
    building = f"{draft['building']}号楼" if draft.get("building") else ""
    now = "现场正在施工。" if draft.get("in_progress") else ""
    anonymous = "匿名" if draft["anonymous"] else "实名"
    summary = f"请确认：在「{where}{building}」，{draft['description'][:60]}。{now}{anonymous}反映。"
    return Reply(summary + "确认提交吗？", ["确认", "取消"])


def _continue_report(nlu: Nlu, turn: _Turn) -> Reply:
    """Take the answer to the step the draft is at, then ask the next question; an answer that does not
    fit the step is asked for again."""
    step = turn.draft.get("step")
    take = _STEPS.get(step) if step is not None else None
    asked_again = take(turn) if take is not None else None
    return asked_again if asked_again is not None else _next_question(nlu, turn.draft)


def _take_description(turn: _Turn) -> Reply | None:
    draft, meaning = turn.draft, turn.meaning
    draft["description"] = (draft.get("description", "") + " " + turn.said).strip()
    if meaning is not None:
        draft["category"] = draft.get("category") or meaning.category
        _take_place(draft, meaning)
        _take_in_progress(draft, meaning)
    return None


def _take_where(turn: _Turn) -> Reply | None:
    draft, said, meaning = turn.draft, turn.said, turn.meaning
    choice = next((c for c in draft.get("candidates", []) if said.startswith(c["estate"])), None)
    if choice is not None:
        draft["estate"], draft["street"] = choice["estate"], choice["street"]
    elif meaning is not None and _names_estate(meaning):
        _take_estate(draft, meaning)
    elif len(said) >= 4:  # no estate we know: kept as the address the resident wrote
        draft["address"] = said
        if meaning is not None and meaning.street:
            draft["street"] = meaning.street
    if meaning is not None:
        _take_building_unit_room(draft, meaning)
    return None


def _take_building(turn: _Turn) -> Reply | None:
    said, meaning = turn.said, turn.meaning
    turn.draft["building"] = (
        "" if said in SKIP_WORDS else (meaning.building if meaning and meaning.building else said)[:32]
    )
    return None


def _take_in_progress_answer(turn: _Turn) -> Reply | None:
    # asked once: an unclear answer is None
    turn.draft["in_progress"] = _in_progress_answer(turn.said, turn.meaning)
    if turn.photos:
        _add_photos(turn.draft, turn.photos)
    return None


def _take_photos(turn: _Turn) -> Reply | None:
    if turn.photos:
        _add_photos(turn.draft, turn.photos)
    elif turn.said in SKIP_WORDS or not turn.said:
        turn.draft["photos"] = turn.draft.get("photos") or []
    else:
        return Reply("请上传照片，或回复「跳过」。", ["跳过"])
    return None


def _take_anonymous(turn: _Turn) -> Reply | None:
    if turn.said in NO_WORDS or turn.said.startswith("不"):
        turn.draft["anonymous"] = False
    elif turn.said in YES_WORDS:
        turn.draft["anonymous"] = True
    else:
        return Reply("请回复「匿名」或「不匿名」。", ["匿名", "不匿名"])
    return None


def _take_confirmation(turn: _Turn) -> Reply:
    if turn.said not in CONFIRM_WORDS:
        return Reply("请回复「确认」提交，或「取消」放弃。", ["确认", "取消"])
    turn.state.pop("draft", None)
    report = turn.draft.copy()
    report.pop("step", None)
    report.pop("candidates", None)
    report["in_progress"] = turn.draft.get("in_progress")  # True, False or None: not said
    return Reply("正在提交……", action="file_report", report=report)


# What each step does with its answer: None to go on to the next question, or a Reply asking again.
_STEPS: dict[Step, Callable[[_Turn], Reply | None]] = {
    "what": _take_description,
    "where": _take_where,
    "building": _take_building,
    "in_progress": _take_in_progress_answer,
    "photos": _take_photos,
    "anonymous": _take_anonymous,
    "confirm": _take_confirmation,
}
