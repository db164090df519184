"""The bot's backend: keep the conversation, lend the dialogue the resident's own records, file the report it
collected, withdraw the report it confirmed, answer progress for the user's cases, and link the articles and
questions an answer cites or offers."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.cases.models import Case, CaseSource, CaseStatus
from backend.cases.services.filing import ReportInput, submit_report, unusable_photos
from backend.cases.services.life import withdraw_case
from backend.cases.services.reads import get_case_for_resident, list_resident_cases
from backend.cases.workflow import OPEN, STATUS_LABELS, Actor, Role, allowed_transitions
from backend.chat.store import ConversationStore
from backend.errors import AppError
from backend.org.services import find_estate, find_town
from backend.text import normalise_text
from bot.dialogue import Answer, CaseBrief, Nlu, Reply, Report, Understanding, respond

RELATED_ARTICLES_LINE = "相关普法文章："
RELATED_QUESTIONS_LINE = "相关问题："
WITHDRAWN_IN_CHAT = "通过小助手撤回"  # the note on the case's timeline (staff see it, followers never)
REPORTS_PER_READ = 100  # a resident's reports are read a page at a time, each page in a few queries
FINISHED_LISTED = 3  # finished reports listed, newest first, when none is open
REPLY_IN_LIST = 40  # characters of a public reply shown in a list of reports (one line each)


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
    related_questions: list[str] = field(default_factory=list)  # offered after a direct answer


class _ResidentRecords:
    """The resident's own records as the dialogue may read them (bot.dialogue.Records). Their reports are
    read at most once per message, and only when the dialogue asks."""

    def __init__(self, session: Session, user: User) -> None:
        self._session = session
        self._user = user
        self._cases: list[Case] | None = None

    def cases(self) -> list[Case]:
        """Every report of the resident, newest first, with its category, estate and squad."""
        if self._cases is None:
            self._cases = _all_reports(self._session, self._user)
        return self._cases

    def refused_photos(self, photo_ids: list[str]) -> list[str]:
        return unusable_photos(self._session, self._user, photo_ids)

    def contact_phone(self) -> str | None:
        return next((c.contact_phone for c in self.cases() if c.contact_phone and not c.anonymous), None)

    def reports(self) -> list[CaseBrief]:
        resident = Actor(Role.RESIDENT, self._user.id)
        return [
            CaseBrief(
                tracking_no=case.tracking_no,
                about=_about(case),
                status=STATUS_LABELS[CaseStatus(case.status)],
                withdrawable="withdraw"
                in allowed_transitions(
                    CaseStatus(case.status), resident, reporter_id=case.reporter_id, squad_id=case.squad_id
                ),
            )
            for case in self.cases()
        ]


def _all_reports(session: Session, user: User) -> list[Case]:
    cases: list[Case] = []
    page = 1
    while True:
        read = list_resident_cases(session, user, page=page, per_page=REPORTS_PER_READ)
        cases += read.items
        if page >= read.pages:
            return cases
        page += 1


def _about(case: Case) -> str:
    """What and where, as its reporter knows the case: 违法搭建，康虹花园8号楼."""
    what = case.category.name.split("，")[0] if case.category else "类别待确认"
    where = case.estate.name if case.estate else case.address[:20]
    building = f"{case.building}号楼" if case.building.isdigit() else case.building
    return "，".join(part for part in (what, where + building) if part)


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
    new: bool = False,
) -> ChatReply:
    """One turn of `user`'s conversation `conversation`: the dialogue decides, this does what it asks. The
    text is normalised as every request's text is (WeChat's push reaches here without a request model).

    The conversation's state is read unless it is `new` (a name the caller has just made up, which no earlier
    message can have used), and written when there is one to keep: a state that was and stays empty (a
    question answered outside any report or withdrawal) is neither read nor written."""
    text = normalise_text(text)
    key = f"{user.id}:{conversation}"
    state = {} if new else store.load(key)
    kept = bool(state)
    listening = _Listening(nlu)
    records = _ResidentRecords(session, user)
    reply = respond(listening, state, text, photos=photos, records=records)
    if state or kept:  # a state now emptied is written too, so that the next message does not resume it
        store.save(key, state)
    if reply.action == "file_report" and reply.report is not None:
        return _file(session, user, conversation, reply.report, daily_limit=daily_limit, now=now)
    if reply.action == "progress":
        return _progress(session, user, reply, records)
    if reply.action == "withdraw" and reply.tracking_no:
        return _withdraw(session, user, reply.tracking_no, now=now)
    answer = listening.answer_given
    if answer is not None and answer.fallback is None and reply.text == answer.answer:
        return _with_articles(_with_related_questions(reply), answer)
    return ChatReply(reply.text, reply.quick_replies)


def _with_related_questions(reply: Reply) -> ChatReply:
    """A direct answer lists the questions it offers (the dialogue's quick replies) beneath it."""
    direct = ChatReply(reply.text, reply.quick_replies, related_questions=list(reply.quick_replies))
    if direct.related_questions:
        direct.text += (
            "\n\n" + RELATED_QUESTIONS_LINE + "、".join(f"「{q}」" for q in direct.related_questions)
        )
    return direct


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
        # a named report's phone, for the squad to call back; an anonymous report never carries one
        contact_phone=None if report.get("anonymous") else (report.get("contact_phone") or None),
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


def _withdraw(session: Session, user: User, tracking_no: str, *, now: dt.datetime | None) -> ChatReply:
    """Withdraw the report the resident confirmed, as the mini-program's withdraw does: the case service
    decides whether it may be withdrawn now (its status may have changed since the question was asked),
    writes the timeline event and the audit entry, and tells whoever else follows it."""
    try:
        case = get_case_for_resident(session, tracking_no, user)
        withdraw_case(session, case, user, WITHDRAWN_IN_CHAT, now=now)
    except AppError as exc:
        return ChatReply(f"撤回没有成功：{exc.message}", ["查询办理进度"])
    return ChatReply(
        f"已撤回工单 {case.tracking_no}，不再办理。如问题仍然存在，可以随时重新反映。", ["我要反映问题"]
    )


def _progress(session: Session, user: User, reply: Reply, records: _ResidentRecords) -> ChatReply:
    """One case in full when a number is named; otherwise every open report of the resident, one line each,
    and the finished ones counted (listed briefly when none is open)."""
    if reply.tracking_no:
        try:
            case = get_case_for_resident(session, reply.tracking_no, user)
        except AppError:
            return ChatReply(f"没有找到您反映的工单 {reply.tracking_no}，请核对工单号。")
        return ChatReply(_progress_line(case))
    cases = records.cases()
    if not cases:
        return ChatReply("您还没有反映过问题。需要反映的话，直接告诉我发现了什么。", ["我要反映问题"])
    open_cases = [c for c in cases if CaseStatus(c.status) in OPEN]
    finished = [c for c in cases if CaseStatus(c.status) not in OPEN]
    if open_cases:
        heading = [f"您有 {len(open_cases)} 件反映正在办理："] if len(open_cases) > 1 else []
        lines = heading + [_progress_line(c, reply_chars=REPLY_IN_LIST) for c in open_cases]
        if finished:
            lines.append(f"另有 {len(finished)} 件已结束（{_count_by_status(finished)}）。")
        return ChatReply("\n".join(lines))
    lines = ["您目前没有正在办理的反映。"]
    lines += [_progress_line(c, reply_chars=REPLY_IN_LIST) for c in finished[:FINISHED_LISTED]]
    if len(finished) > FINISHED_LISTED:
        rest = finished[FINISHED_LISTED:]
        lines.append(f"另有 {len(rest)} 件更早的已结束（{_count_by_status(rest)}）。")
    return ChatReply("\n".join(lines))


def _progress_line(case: Case, *, reply_chars: int | None = None) -> str:
    label = STATUS_LABELS[CaseStatus(case.status)]
    squad = f"（{case.squad.name}）" if case.squad else ""
    text = case.public_reply or ""
    if reply_chars is not None and len(text) > reply_chars:
        text = text[:reply_chars] + "…"
    answered = f"，答复：{text}" if text else ""
    return f"工单 {case.tracking_no}（{_about(case)}）：{label}{squad}{answered}"


def _count_by_status(cases: list[Case]) -> str:
    counts: dict[str, int] = {}
    for case in cases:
        label = STATUS_LABELS[CaseStatus(case.status)]
        counts[label] = counts.get(label, 0) + 1
    return "、".join(f"{label} {n} 件" for label, n in counts.items())
