"""The conversation: file a report step by step, answer progress and legal questions, route emergencies.

Pure logic over a JSON-able state dict: the caller keeps the state (Redis with a time-out, or memory),
performs the actions the dialogue asks for (filing the case, looking up progress) and sends the reply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

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


class Understanding(Protocol):
    intent: str
    category: str | None
    confidence: float
    emergency: str | None
    out_of_scope: bool
    estate: str | None
    street: str | None
    candidates: list[dict[str, Any]]
    building: str | None
    unit: str | None
    room: str | None
    tracking_no: str | None
    in_progress: bool | None


class Nlu(Protocol):
    # the categories where building can be going on now (read from the taxonomy)
    in_progress_categories: frozenset[str]

    def understand(self, text: str) -> Understanding: ...

    def answer(self, text: str) -> Any: ...


@dataclass
class Reply:
    text: str
    quick_replies: list[str] = field(default_factory=list)
    action: str | None = None  # "file_report" or "progress": the caller does it and may add to the text
    report: dict[str, Any] | None = None  # the fields of a report to file
    tracking_no: str | None = None


def _clean(text: str) -> str:
    return text.strip().strip("。！!？?，,").strip()


def respond(nlu: Nlu, state: dict[str, Any], text: str, *, photos: list[str] | None = None) -> Reply:
    """The reply to `text` in a conversation whose `state` this call updates in place."""
    text = text.strip()
    said = _clean(text)
    draft = state.get("draft")
    if draft is not None and said in CANCEL_WORDS:
        state.pop("draft", None)
        return Reply("好的，已取消这次反映。有需要随时找我。")
    meaning = nlu.understand(text) if text else None
    if meaning is not None and meaning.emergency:
        state.pop("draft", None)
        return Reply(EMERGENCY_NUMBERS.get(meaning.emergency, EMERGENCY_NUMBERS["danger"]))
    if draft is not None:
        return _continue_report(nlu, state, draft, said, meaning, photos or [])
    if meaning is None:
        return Reply(GREETING, ["我要反映问题", "查询办理进度", "咨询法律问题"])
    if said in {"我要反映问题", "我要反映", "反映问题", "投诉"}:
        state["draft"] = {"step": "what"}
        return Reply("请描述一下您发现的问题：什么情况、持续多久了？")
    if said in {"查询办理进度", "查进度"} or meaning.intent == "progress":
        return Reply("正在为您查询……", action="progress", tracking_no=meaning.tracking_no)
    if meaning.intent == "greeting":
        return Reply(GREETING, ["我要反映问题", "查询办理进度", "咨询法律问题"])
    if meaning.out_of_scope or meaning.category == "out_of_scope":
        return Reply(OUT_OF_SCOPE)
    if meaning.intent == "report":
        draft = {"step": "what", "description": text, "category": meaning.category}
        _take_place(draft, meaning)
        _take_in_progress(draft, meaning)
        state["draft"] = draft
        return _next_question(nlu, draft)
    if meaning.intent == "consult" or said == "咨询法律问题":
        answer = nlu.answer(text)
        suggestions = list(getattr(answer, "suggestions", []) or [])
        if getattr(answer, "fallback", None) == "human":
            return Reply(
                "这个问题我还答不好，已记录下来，工作人员会在工作时间答复您。也可以拨打 12345 咨询。"
            )
        if getattr(answer, "fallback", None) == "suggest":
            return Reply("您想问的是不是下面这些问题？", suggestions[:3])
        return Reply(answer.answer, suggestions[:3])
    return Reply(
        "抱歉，我没有完全明白。您可以直接描述小区里发现的问题，或者问我相关的法律规定。",
        ["我要反映问题", "查询办理进度", "咨询法律问题"],
    )


def _take_place(draft: dict[str, Any], meaning: Understanding) -> None:
    if meaning.estate and meaning.street:
        draft["estate"], draft["street"] = meaning.estate, meaning.street
    elif meaning.candidates:
        draft["candidates"] = meaning.candidates[:5]
    for key in ("building", "unit", "room"):
        if getattr(meaning, key, None):
            draft[key] = getattr(meaning, key)


def _take_in_progress(draft: dict[str, Any], meaning: Understanding) -> None:
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


def _next_question(nlu: Nlu, draft: dict[str, Any]) -> Reply:
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
    where = draft.get("estate") or draft.get("address")
    building = f"{draft['building']}号楼" if draft.get("building") else ""
    now = "现场正在施工。" if draft.get("in_progress") else ""
    anonymous = "匿名" if draft["anonymous"] else "实名"
    summary = f"请确认：在「{where}{building}」，{draft['description'][:60]}。{now}{anonymous}反映。"
    return Reply(summary + "确认提交吗？", ["确认", "取消"])


def _continue_report(
    nlu: Nlu,
    state: dict[str, Any],
    draft: dict[str, Any],
    said: str,
    meaning: Understanding | None,
    photos: list[str],
) -> Reply:
    step = draft.get("step")
    if step == "what":
        draft["description"] = (draft.get("description", "") + " " + said).strip()
        if meaning is not None:
            draft["category"] = draft.get("category") or meaning.category
            _take_place(draft, meaning)
            _take_in_progress(draft, meaning)
    elif step == "where":
        choice = next((c for c in draft.get("candidates", []) if said.startswith(c["estate"])), None)
        if choice is not None:
            draft["estate"], draft["street"] = choice["estate"], choice["street"]
        elif meaning is not None and meaning.estate and meaning.street:
            draft["estate"], draft["street"] = meaning.estate, meaning.street
        elif meaning is not None and meaning.candidates:
            draft["candidates"] = meaning.candidates[:5]
        elif len(said) >= 4:
            draft["address"] = said
            if meaning is not None and meaning.street:
                draft["street"] = meaning.street
        if meaning is not None:
            for key in ("building", "unit", "room"):
                if getattr(meaning, key, None):
                    draft[key] = getattr(meaning, key)
    elif step == "building":
        draft["building"] = (
            "" if said in SKIP_WORDS else (meaning.building if meaning and meaning.building else said)[:32]
        )
    elif step == "in_progress":
        draft["in_progress"] = _in_progress_answer(said, meaning)  # asked once: an unclear answer is None
        if photos:
            draft["photos"] = (draft.get("photos") or []) + photos
    elif step == "photos":
        if photos:
            draft["photos"] = (draft.get("photos") or []) + photos
        elif said in SKIP_WORDS or not said:
            draft["photos"] = draft.get("photos") or []
        else:
            return Reply("请上传照片，或回复「跳过」。", ["跳过"])
    elif step == "anonymous":
        if said in NO_WORDS or said.startswith("不"):
            draft["anonymous"] = False
        elif said in YES_WORDS:
            draft["anonymous"] = True
        else:
            return Reply("请回复「匿名」或「不匿名」。", ["匿名", "不匿名"])
    elif step == "confirm":
        if said in CONFIRM_WORDS:
            state.pop("draft", None)
            report = {k: v for k, v in draft.items() if k not in {"step", "candidates"}}
            report["in_progress"] = draft.get("in_progress")  # True, False or None: not said
            return Reply("正在提交……", action="file_report", report=report)
        return Reply("请回复「确认」提交，或「取消」放弃。", ["确认", "取消"])
    return _next_question(nlu, draft)
