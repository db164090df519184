"""The bot's backend: keep the conversation, file the report it collected, answer progress for the user's cases,
and link the articles an answer cites or offers."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.cases.models import CaseSource, CaseStatus
from backend.cases.services.filing import ReportInput, submit_report
from backend.cases.services.reads import get_case_for_resident, list_resident_cases
from backend.cases.workflow import STATUS_LABELS
from backend.chat.store import ConversationStore
from backend.errors import AppError
from backend.org.services import find_estate, find_town
from backend.text import normalise_text
from bot.dialogue import Answer, Nlu, Reply, Report, Understanding, respond

RELATED_ARTICLES_LINE = "相关普法文章："


@dataclass(frozen=True)
class ArticleLink:
    """A published article a reply names, for the mini-program to open."""

    slug: str
    title: str


@dataclass
class ChatReply:
    text: str
    quick_replies: list[str] = field(default_factory=list)
    tracking_no: str | None = None
    article: ArticleLink | None = None  # the article the answer is from
    articles: list[ArticleLink] = field(default_factory=list)  # offered after an FAQ's answer, on its topic


class _Listening:
    """The bot as the dialogue sees it, keeping the answer it gave to a question: the reply then links the
    article cited and the related ones (the dialogue passes on only the answer's text)."""

    def __init__(self, nlu: Nlu) -> None:
        self._nlu = nlu
        self.answer_given: Answer | None = None

    @property
    def in_progress_categories(self) -> frozenset[str]:
        return self._nlu.in_progress_categories

    def understand(self, text: str) -> Understanding:
        return self._nlu.understand(text)

    def answer(self, text: str) -> Answer:
        self.answer_given = self._nlu.answer(text)
        return self.answer_given


def converse(
    session: Session,
    nlu: Nlu,
    store: ConversationStore,
    user: User,
    conversation: str,
    text: str,
    *,
    photos: list[str] | None = None,
    daily_limit: int | None = None,
    now: dt.datetime | None = None,
) -> ChatReply:
    """One turn of `user`'s conversation `conversation`: the dialogue decides, this does what it asks. The
    text is normalised as every request's text is (WeChat's push reaches here without a request model)."""
    text = normalise_text(text)
    key = f"{user.id}:{conversation}"
    state = store.load(key)
    listening = _Listening(nlu)
    reply = respond(listening, state, text, photos=photos)
    store.save(key, state)
    if reply.action == "file_report" and reply.report is not None:
        return _file(session, user, conversation, reply.report, daily_limit=daily_limit, now=now)
    if reply.action == "progress":
        return _progress(session, user, reply)
    answer = listening.answer_given
    if answer is not None and answer.fallback is None and reply.text == answer.answer:
        return _with_articles(ChatReply(reply.text, reply.quick_replies), answer)
    return ChatReply(reply.text, reply.quick_replies)


def _with_articles(reply: ChatReply, answer: Any) -> ChatReply:
    """An answer from an article links it; an FAQ's answer offers the published articles on its topic."""
    slug, title = getattr(answer, "article_slug", None), getattr(answer, "article_title", None)
    if slug and title:
        reply.article = ArticleLink(slug, title)
    related = [
        ArticleLink(a["slug"], a["title"])
        for a in getattr(answer, "related_articles", None) or []
        if a.get("slug") and a.get("title")
    ]
    if related:
        reply.articles = related
        reply.text += "\n\n" + RELATED_ARTICLES_LINE + "、".join(f"《{a.title}》" for a in related)
    return reply


def _file(
    session: Session,
    user: User,
    conversation: str,
    report: Report,
    *,
    daily_limit: int | None,
    now: dt.datetime | None,
) -> ChatReply:
    description = str(report.get("description", ""))[:1000]
    street = report.get("street")
    town = find_town(session, street) if street else None
    estate = find_estate(session, report["estate"], town) if report.get("estate") else None
    category = report.get("category")
    data = ReportInput(
        description=description,
        category=category if category and category != "out_of_scope" else None,
        estate_id=estate.id if estate else None,
        address="" if estate else str(report.get("address") or report.get("estate") or "")[:255],
        town=None if estate else report.get("street"),
        building=str(report.get("building") or "")[:32],
        unit=str(report.get("unit") or "")[:32],
        room=str(report.get("room") or "")[:32],
        photo_ids=list(report.get("photos") or []),
        anonymous=bool(report.get("anonymous")),
        # True or False as the resident said; None: not said, the service judges from the description
        in_progress=None if report.get("in_progress") is None else bool(report["in_progress"]),
        client_request_id="bot-" + hashlib.sha256(f"{conversation}|{description}".encode()).hexdigest()[:40],
        source=CaseSource.BOT,
    )
    try:
        case, _created = submit_report(session, user, data, daily_limit=daily_limit, now=now)
    except AppError as exc:
        return ChatReply(f"提交没有成功：{exc.message}", ["我要反映问题"])
    squad = f"，已派至{case.squad.name}" if case.squad else "，区局将尽快分派"
    return ChatReply(
        f"已提交，工单号 {case.tracking_no}{squad}。可以随时问我办理进度。",
        ["查询办理进度"],
        tracking_no=case.tracking_no,
    )


def _progress(session: Session, user: User, reply: Reply) -> ChatReply:
    if reply.tracking_no:
        try:
            case = get_case_for_resident(session, reply.tracking_no, user)
        except AppError:
            return ChatReply(f"没有找到您反映的工单 {reply.tracking_no}，请核对工单号。")
        cases = [case]
    else:
        cases = list_resident_cases(session, user, page=1, per_page=3).items
    if not cases:
        return ChatReply("您还没有反映过问题。需要反映的话，直接告诉我发现了什么。", ["我要反映问题"])
    lines = []
    for case in cases:
        label = STATUS_LABELS[CaseStatus(case.status)]
        where = f"（{case.squad.name}）" if case.squad else ""
        reply_text = f"，答复：{case.public_reply}" if case.public_reply else ""
        lines.append(f"工单 {case.tracking_no}：{label}{where}{reply_text}")
    return ChatReply("\n".join(lines))
