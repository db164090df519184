"""The conversation: file a report step by step, answer progress and legal questions, withdraw a report,
introduce itself, route emergencies.

Pure logic over a JSON-able state dict: the caller keeps the state (Redis with a time-out, or memory),
performs the actions the dialogue asks for (filing the case, looking up progress, withdrawing a case), lends
it a read-only view of the resident's own records (photos, the phone given before, their reports) and sends
the reply.
"""

from __future__ import annotations

import re
import unicodedata
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
INTRODUCTION = (
    "我是青浦城管进社区小助手，可以帮您：\n"
    "1. 反映小区里的违法搭建、群租、占用楼道等问题，并跟踪办理；\n"
    "2. 查询您反映过的问题的办理进度（中队签收前还可以撤回）；\n"
    "3. 解答相关的法律问题。\n"
    "反映时可以选择匿名，匿名反映不留您的姓名和联系方式。直接告诉我您发现了什么就可以。"
)
# "你是谁", "你能做什么", "帮助", "怎么用", "功能" and their close variants, as the whole message (a question
# such as 维修资金怎么用 is a question, not a request for help); polite openings and closing particles aside.
_INTRODUCTION = re.compile(
    r"(?:(?:你|您)(?:是谁|是什么|是啥|是干什么的|是做什么的|叫什么(?:名字)?)"
    r"|(?:你|您)?(?:能|会|可以)(?:帮我|帮忙|为我)?(?:做|干|办)?(?:什么|啥|些什么|哪些事|什么事)"
    r"|(?:你|您)?(?:有)?(?:什么|哪些)(?:功能|用处|用)|功能(?:介绍|说明)?"
    r"|帮助|help|使用帮助|使用说明|操作说明|菜单|(?:这个|小程序|小助手|你)?(?:怎么|如何|咋)(?:用|使用))",
    re.IGNORECASE,
)
_POLITE_OPENING = re.compile(r"^(?:请问|你好|您好|小助手|那)+[，,\s]*")
_CLOSING_PARTICLES = re.compile(r"[呀啊呢吗哦啦嘛]+$")
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


# Photos: as many as the case service takes on a report (backend.cases.services.filing.MAX_PHOTOS).
MAX_PHOTOS = 9
PHOTO_QUESTION = "如有现场照片，请在下方上传；没有可以回复「跳过」。"
PHOTOS_REFUSED = "已过期或不是您本人上传的，没有收下"
# A contact phone for a named report, so the squad can call back: the case service's rule
# (backend.text.PHONE_PATTERN); giving none is allowed, as on the mini-program's report form.
PHONE_PATTERN = r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$"
PHONE_QUESTION = "方便留个联系电话吗？办理人员可能需要向您核实情况，号码只有办理人员能看到。"
PHONE_AGAIN = "这个号码好像不对。请输入 11 位手机号，或带区号的固定电话（如 021-59721234）；不方便留电话可以回复「跳过」。"
_MOBILE = re.compile(r"(?<![\d-])(1[3-9]\d-?\d{4}-?\d{4})(?![\d-])")
_LANDLINE = re.compile(r"(?<![\d-])(0\d{2,3}-?\d{7,8})(?![\d-])")
USE_PHONE_WORDS = {
    "使用", "用这个", "就用这个", "用这个号码", "还是这个", "是", "是的", "对", "好", "好的", "可以",
}  # fmt: skip
NO_PHONE_WORDS = SKIP_WORDS | {"不方便", "不留", "不用", "不需要", "不要", "不想留", "不用了"}
# Withdrawing a report: taking back a report (撤回反映, 把我的举报撤销, 不想投诉了), or a tracking number with
# 撤回/撤销. Asked in a short message: a long letter that says 反映过 … 撤掉 is a complaint, not this.
_WITHDRAW = re.compile(
    r"(?:撤回|撤销|撤掉|收回|取消)(?:一下)?(?:我的|我|这个|这条|那个|那条|刚才的|之前的|上次的|已?提交的)*"
    r"(?:反映|投诉|举报|工单|诉求)"
    r"|(?:反映|投诉|举报|工单|诉求)[^，。,.]{0,6}(?:撤回|撤销)|不想(?:反映|投诉|举报)了"
)
_WITHDRAW_NAMED = re.compile(r"撤回|撤销")
WITHDRAW_MAX_CHARS = 40
WITHDRAW_CONFIRM_WORDS = {
    "确认撤回", "撤回", "确认", "确定", "是", "是的", "对", "好", "好的", "可以", "没问题",
}  # fmt: skip
KEEP_WORDS = CANCEL_WORDS | {"不撤回", "不撤了", "不要撤回", "不", "否", "不要", "不是"}
DRAFT_NOT_FILED = (
    "您正在填写的这条反映还没有提交，不想反映了可以回复「取消」。"
    "要撤回以前提交的反映，请在这条提交或取消之后再告诉我。"
)


Step = Literal["what", "where", "building", "in_progress", "photos", "anonymous", "phone", "confirm"]
MENU = ("我要反映问题", "查询办理进度", "咨询法律问题")  # the quick replies of a greeting
START_REPORT_WORDS = {"我要反映问题", "我要反映", "反映问题", "投诉"}
FIRST_QUESTION = "请描述一下您发现的问题：什么情况、持续多久了？"
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
    evidence: str  # the part of a long message that decided its category


class Answer(Protocol):
    """What the dialogue reads of an answer to a question (bot.Answer has these and more)."""

    answer: str
    fallback: str | None  # None: answered; "suggest": closest questions offered; "human": handed over
    suggestions: list[str]
    related: list[str]  # with a direct answer: up to three other questions closest to the one asked


class Nlu(Protocol):
    """What the dialogue needs of the bot: bot.Bot, or a stand-in in tests."""

    @property
    def in_progress_categories(self) -> frozenset[str]:
        """The categories where building can be going on now (read from the taxonomy)."""
        ...

    def understand(self, text: str) -> Understanding: ...

    def answer(self, text: str) -> Answer: ...


class CaseBrief(TypedDict):
    """One of the resident's own reports as the dialogue shows it to them."""

    tracking_no: str
    about: str  # what and where, as its reporter knows it: "违法搭建，康虹花园8号楼"
    status: str  # the status's label: 已派单
    withdrawable: bool  # the reporter may withdraw it now (the case workflow decides)


class Records(Protocol):
    """What the dialogue may read of the resident's own records: the backend's, or a stand-in in tests.
    Read only: what changes a record is an action of the reply, which the caller performs."""

    def refused_photos(self, photo_ids: list[str]) -> list[str]:
        """The photos a report could not take: not the resident's own upload, or expired (gone)."""
        ...

    def contact_phone(self) -> str | None:
        """The phone the resident gave on an earlier named report, if any."""
        ...

    def reports(self) -> list[CaseBrief]:
        """The resident's own reports, newest first."""
        ...


class NoRecords:
    """A resident with no records to read: every photo is taken (the case service checks them again when
    filing), no phone given before, no reports."""

    def refused_photos(self, photo_ids: list[str]) -> list[str]:
        return []

    def contact_phone(self) -> str | None:
        return None

    def reports(self) -> list[CaseBrief]:
        return []


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
    contact_phone: str  # named reports only, when the resident gave one
    in_progress: bool | None


class Draft(Report, total=False):
    """A report being collected: its fields so far, the step whose answer is awaited, the estates to
    choose among when a name is shared, and the phone the resident gave before (offered, not asked again)."""

    step: Step
    candidates: list[dict[str, str]]
    phone_on_file: str
    evidence: str  # the part of the description that decided its category, for the confirmation


@dataclass
class Reply:
    text: str
    quick_replies: list[str] = field(default_factory=list)
    # "file_report", "progress" or "withdraw" (of `tracking_no`, confirmed): the caller does it and may add
    # to the text or replace it
    action: str | None = None
    report: Report | None = None  # the fields of a report to file
    tracking_no: str | None = None


@dataclass(frozen=True)
class _Turn:
    """One message that answers the step a draft is at."""

    state: dict[str, Any]
    draft: Draft
    text: str
    said: str
    meaning: Understanding | None
    photos: list[str]
    records: Records


def _clean(text: str) -> str:
    return text.strip().strip("。！!？?，,").strip()


def respond(
    nlu: Nlu,
    state: dict[str, Any],
    text: str,
    *,
    photos: list[str] | None = None,
    records: Records | None = None,
) -> Reply:
    """The reply to `text` in a conversation whose `state` this call updates in place. The state is the
    caller's JSON-able dict; a report being collected is its "draft" (a Draft), a withdrawal awaiting the
    resident's choice or confirmation its "withdrawal", a phone the resident gave in it its "phone".
    `records` reads the resident's own photos, phone and reports (none: a resident without records)."""
    records = records if records is not None else NoRecords()
    text = text.strip()
    said = _clean(text)
    draft: Draft | None = state.get("draft")
    if draft is not None and said in CANCEL_WORDS:
        state.pop("draft", None)
        return Reply("好的，已取消这次反映。有需要随时找我。")
    meaning = nlu.understand(text) if text else None
    if meaning is not None and meaning.emergency:
        state.pop("draft", None)
        state.pop("withdrawal", None)
        return Reply(EMERGENCY_NUMBERS.get(meaning.emergency, EMERGENCY_NUMBERS["danger"]))
    if draft is not None:
        return _continue_report(nlu, _Turn(state, draft, text, said, meaning, photos or [], records))
    if "withdrawal" in state:
        answered = _continue_withdrawal(state, said, meaning)
        if answered is not None:
            return answered
    if meaning is None:
        return Reply(GREETING, list(MENU))
    return _reply_outside_report(nlu, state, text, said, meaning, records)


def asks_for_introduction(text: str) -> bool:
    """The whole message asks who the bot is, what it can do, or for help."""
    if text.strip() in {"?", "？"}:
        return True
    bare = _CLOSING_PARTICLES.sub("", _POLITE_OPENING.sub("", _clean(text)))
    return bool(bare) and _INTRODUCTION.fullmatch(bare) is not None


def asks_to_withdraw(said: str, meaning: Understanding | None) -> bool:
    """The message asks to take back a report: 我要撤回反映, 撤回工单 QP…, 撤销我的举报."""
    if len(said) > WITHDRAW_MAX_CHARS:
        return False
    if meaning is not None and meaning.tracking_no and _WITHDRAW_NAMED.search(said):
        return True
    return _WITHDRAW.search(said) is not None


def _reply_outside_report(
    nlu: Nlu, state: dict[str, Any], text: str, said: str, meaning: Understanding, records: Records
) -> Reply:
    """The reply to a message outside a report: introduce the bot, withdraw a report, start one, look up
    progress, greet, or answer."""
    if asks_for_introduction(text):
        return Reply(INTRODUCTION, list(MENU))
    if asks_to_withdraw(said, meaning):
        return _start_withdrawal(state, records, meaning.tracking_no)
    if said in START_REPORT_WORDS:
        state["draft"] = Draft(step="what")
        return Reply(FIRST_QUESTION)
    if said in PROGRESS_WORDS or meaning.intent == "progress":
        return Reply("正在为您查询……", action="progress", tracking_no=meaning.tracking_no)
    if meaning.intent == "greeting":
        return Reply(GREETING, list(MENU))
    if meaning.out_of_scope or meaning.category == "out_of_scope":
        # a civil dispute or another matter the FAQ answers (where to go instead) gets that answer
        answer = nlu.answer(text)
        if answer.fallback is None:
            return Reply(answer.answer, list(answer.related or [])[:3])
        return Reply(OUT_OF_SCOPE)
    if meaning.intent == "report":
        draft = Draft(step="what", description=text, category=meaning.category, evidence=meaning.evidence)
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
    # a direct answer offers the questions closest to the one asked
    return Reply(answer.answer, (list(answer.related or []) or suggestions)[:3])


# ------------------------------------------------------------------------------------ withdrawing


def _start_withdrawal(state: dict[str, Any], records: Records, named: str | None) -> Reply:
    """Ask which report to withdraw, or to confirm the one named; nothing is withdrawn before the resident
    confirms. A number that is not one of the resident's own reports is not found, whoever's it is."""
    state.pop("withdrawal", None)
    reports = records.reports()
    withdrawable = [r for r in reports if r["withdrawable"]]
    if named is not None:
        own = next((r for r in reports if r["tracking_no"] == named), None)
        if own is None:
            not_found = f"没有找到您反映的工单 {named}，请核对工单号。"
            if not withdrawable:
                return Reply(not_found, ["查询办理进度"])
            return _choose_withdrawal(state, withdrawable, not_found)
        if not own["withdrawable"]:
            return Reply(
                f"工单 {named} 当前状态为「{own['status']}」，不能撤回了：只有中队签收前的反映可以撤回。",
                ["查询办理进度"],
            )
        return _ask_to_confirm_withdrawal(state, own)
    if not withdrawable:
        return Reply(
            "您目前没有可以撤回的反映：只有中队签收前的反映可以撤回。已在办理的，可以问我办理进度。",
            ["查询办理进度"],
        )
    if len(withdrawable) == 1:
        return _ask_to_confirm_withdrawal(state, withdrawable[0])
    return _choose_withdrawal(state, withdrawable)


def _choose_withdrawal(state: dict[str, Any], options: list[CaseBrief], before: str = "") -> Reply:
    state["withdrawal"] = {"options": options}
    lines = "\n".join(f"{i}. {r['tracking_no']}（{r['about']}）" for i, r in enumerate(options, 1))
    text = f"您有以下反映可以撤回，请问撤回哪一件？\n{lines}\n不撤回请回复「取消」。"
    return Reply(f"{before}\n{text}" if before else text, [*(r["tracking_no"] for r in options[:8]), "取消"])


def _ask_to_confirm_withdrawal(state: dict[str, Any], case: CaseBrief) -> Reply:
    state["withdrawal"] = {"case": case}
    return Reply(
        f"确认撤回工单 {case['tracking_no']}（{case['about']}）吗？撤回后将不再办理。", ["确认撤回", "取消"]
    )


def _continue_withdrawal(state: dict[str, Any], said: str, meaning: Understanding | None) -> Reply | None:
    """The answer to a pending withdrawal: the report chosen, the confirmation, or 取消. Anything else is
    another matter: the withdrawal is dropped (None) and the message answered as it stands."""
    pending = state["withdrawal"]
    case: CaseBrief | None = pending.get("case")
    if said in KEEP_WORDS:
        state.pop("withdrawal")
        if case is None:
            return Reply("好的，不撤回。")
        return Reply(f"好的，工单 {case['tracking_no']} 不撤回，会继续办理。", ["查询办理进度"])
    if case is not None:
        state.pop("withdrawal")
        if said in WITHDRAW_CONFIRM_WORDS:
            return Reply("正在撤回……", action="withdraw", tracking_no=case["tracking_no"])
        return None
    options: list[CaseBrief] = pending.get("options", [])
    named = meaning.tracking_no if meaning is not None and meaning.tracking_no else said
    chosen = next((r for r in options if r["tracking_no"] == named), None)
    if chosen is None and said.isdigit() and 1 <= int(said) <= len(options):
        chosen = options[int(said) - 1]
    if chosen is not None:
        return _ask_to_confirm_withdrawal(state, chosen)
    if meaning is not None and meaning.tracking_no:
        return _choose_withdrawal(state, options, f"工单 {meaning.tracking_no} 不在可以撤回的反映中。")
    state.pop("withdrawal")
    return None


# ------------------------------------------------------------------------------------ a report


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


def _take_checked_photos(turn: _Turn) -> Reply | None:
    """Add the photos sent that the report can take; if some cannot (not the resident's own, expired, more
    than a report holds), say so and stay at the photo step: what was collected is kept, and the resident
    can upload again or 跳过."""
    draft = turn.draft
    kept = draft.get("photos") or []
    new = [p for p in dict.fromkeys(turn.photos) if p not in kept]
    refused = set(turn.records.refused_photos(new)) if new else set()
    accepted = [p for p in new if p not in refused]
    room = max(MAX_PHOTOS - len(kept), 0)
    too_many = accepted[room:]
    _add_photos(draft, accepted[:room])
    if not refused and not too_many:
        return None
    draft["step"] = "photos"
    problems = []
    if refused:
        problems.append(f"{'这张' if len(new) == 1 else f'有 {len(refused)} 张'}照片{PHOTOS_REFUSED}")
    if too_many:
        problems.append(f"一条反映最多 {MAX_PHOTOS} 张照片，多出的 {len(too_many)} 张没有收下")
    taken = f"已收到 {len(draft['photos'])} 张照片；" if draft["photos"] else ""
    more = "可以重新上传，或回复「跳过」继续。" if refused else "回复「跳过」继续。"
    return Reply(f"{taken}{'；'.join(problems)}。{more}", ["跳过"])


def _masked(phone: str) -> str:
    """138****5678: enough for the resident to recognise their number on the screen."""
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:] if len(phone) > 7 else "*" * len(phone)


def phone_in(said: str) -> str | None:
    """A mainland mobile or a landline with its area code in what the resident typed (spaces, dashes inside
    a mobile number, full-width digits and +86 allowed), as the case service takes it; None if none."""
    compact = re.sub(r"\s", "", unicodedata.normalize("NFKC", said)).replace("+86", "")
    found = _MOBILE.search(compact)
    phone = found.group(1).replace("-", "") if found else None
    if phone is None and (landline := _LANDLINE.search(compact)) is not None:
        phone = landline.group(1)
    return phone if phone is not None and re.fullmatch(PHONE_PATTERN, phone) else None


def _phone_question(draft: Draft) -> Reply:
    on_file = draft.get("phone_on_file")
    if on_file:
        return Reply(
            f"{PHONE_QUESTION}还用 {_masked(on_file)} 吗？也可以回复新的号码。",
            [f"使用 {_masked(on_file)}", "跳过"],
        )
    return Reply(f"{PHONE_QUESTION}（不方便可以回复「跳过」）", ["跳过"])


def _ask_again(nlu: Nlu, draft: Draft) -> Reply:
    """The question of the step the draft is at, asked again after an aside."""
    if draft.get("step") == "photos":
        return Reply(PHOTO_QUESTION, ["跳过"])
    return _next_question(nlu, draft)


def _next_question(nlu: Nlu, draft: Draft) -> Reply:
    if not draft.get("description"):
        draft["step"] = "what"
        return Reply(FIRST_QUESTION)
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
        return Reply(PHOTO_QUESTION, ["跳过"])
    if "anonymous" not in draft:
        draft["step"] = "anonymous"
        return Reply(
            "是否匿名反映？匿名反映不留您的姓名和联系方式；实名反映时，办理人员可以联系您核实情况。",
            ["匿名", "不匿名"],
        )
    if not draft["anonymous"] and "contact_phone" not in draft:
        draft["step"] = "phone"
        return _phone_question(draft)
    draft["step"] = "confirm"
    return _confirmation(draft)


def _confirmation(draft: Draft) -> Reply:
    where = draft.get("estate") or draft.get("address")
    building = f"{draft['building']}号楼" if draft.get("building") else ""
    now = "现场正在施工。" if draft.get("in_progress") else ""
    if draft["anonymous"]:
        who = "匿名反映。"
    elif draft.get("contact_phone"):
        who = f"实名反映，联系电话 {_masked(draft['contact_phone'])}。"
    else:
        who = "实名反映，未留联系电话。"
    summary = f"请确认：在「{where}{building}」，{_gist(draft)}{now}{who}"
    return Reply(summary + "确认提交吗？", ["确认", "取消"])


def _gist(draft: Draft) -> str:
    """What the report is about, in a line: the part of a long description that decided its category
    (not its greeting), else the description, cut with an ellipsis."""
    description = draft.get("description", "")
    text = draft.get("evidence") or description if len(description) > GIST_CHARS else description
    text = text.strip().rstrip("。！!，,；;")
    return (text[:GIST_CHARS] + "……" if len(text) > GIST_CHARS else text) + "。"


GIST_CHARS = 60


def _continue_report(nlu: Nlu, turn: _Turn) -> Reply:
    """Take the answer to the step the draft is at, then ask the next question; an answer that does not
    fit the step is asked for again. An aside (who the bot is, withdrawing a report, a question that does not
    answer the step) is answered, and the step's question asked again, the draft kept."""
    if asks_for_introduction(turn.text):
        return _aside(INTRODUCTION, _ask_again(nlu, turn.draft))
    if asks_to_withdraw(turn.said, turn.meaning):
        return _aside(DRAFT_NOT_FILED, _ask_again(nlu, turn.draft))
    step = turn.draft.get("step")
    take = _STEPS.get(step) if step is not None else None
    asked_again = take(turn) if take is not None else None
    if asked_again is not None and turn.meaning is not None and turn.meaning.intent == "consult":
        # not an answer to the step but a question (群租怎么处罚 at the anonymity step): answered aside
        return _aside(_consult(nlu, turn.text).text, asked_again)
    return asked_again if asked_again is not None else _next_question(nlu, turn.draft)


def _aside(text: str, pending: Reply) -> Reply:
    return Reply(f"{text}\n\n{pending.text}", pending.quick_replies)


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


# "3号", "3栋", "3号楼": the number, since the confirmation says 号楼 itself
_BUILDING_WORD = re.compile(r"\s*(?:号楼|号|栋|幢|座)$")


def _take_building(turn: _Turn) -> Reply | None:
    said, meaning = turn.said, turn.meaning
    given = meaning.building if meaning and meaning.building else _BUILDING_WORD.sub("", said)
    turn.draft["building"] = "" if said in SKIP_WORDS else given[:32]
    return None


def _take_in_progress_answer(turn: _Turn) -> Reply | None:
    # asked once: an unclear answer is None
    turn.draft["in_progress"] = _in_progress_answer(turn.said, turn.meaning)
    return _take_checked_photos(turn) if turn.photos else None


def _take_photos(turn: _Turn) -> Reply | None:
    if turn.photos:
        return _take_checked_photos(turn)
    if turn.said in SKIP_WORDS or not turn.said:
        turn.draft["photos"] = turn.draft.get("photos") or []
    else:
        return Reply("请上传照片，或回复「跳过」。", ["跳过"])
    return None


def _take_anonymous(turn: _Turn) -> Reply | None:
    draft = turn.draft
    if turn.said in NO_WORDS or turn.said.startswith("不"):
        draft["anonymous"] = False
        # offered rather than asked again: a phone given earlier in this conversation, or on a named report
        on_file = turn.state.get("phone") or turn.records.contact_phone()
        if on_file:
            draft["phone_on_file"] = on_file
    elif turn.said in YES_WORDS:
        draft["anonymous"] = True
    else:
        return Reply("请回复「匿名」或「不匿名」。", ["匿名", "不匿名"])
    return None


def _take_phone(turn: _Turn) -> Reply | None:
    draft, said = turn.draft, turn.said
    on_file = draft.get("phone_on_file")
    phone = phone_in(said)
    if phone is not None:
        draft["contact_phone"] = turn.state["phone"] = phone
    elif on_file and (said in USE_PHONE_WORDS or said.startswith("使用")):
        draft["contact_phone"] = on_file
    elif said in NO_PHONE_WORDS:
        draft["contact_phone"] = ""
    else:
        return Reply(PHONE_AGAIN, _phone_question(draft).quick_replies)
    return None


def _take_confirmation(turn: _Turn) -> Reply:
    if turn.said not in CONFIRM_WORDS:
        return Reply("请回复「确认」提交，或「取消」放弃。", ["确认", "取消"])
    turn.state.pop("draft", None)
    report = turn.draft.copy()
    report.pop("step", None)
    report.pop("candidates", None)
    report.pop("evidence", None)
    report.pop("phone_on_file", None)
    if report.get("anonymous") or not report.get("contact_phone"):
        report.pop("contact_phone", None)  # an anonymous report never carries a phone
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
    "phone": _take_phone,
    "confirm": _take_confirmation,
}
