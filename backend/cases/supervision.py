"""Time limits and supervision of cases: the deadline sweep, extensions (延期), urging (催办) and supervising (督办)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, load_only, selectinload

from backend.audit.services import record_audit
from backend.cases.models import Case, CaseExtension, CaseStatus
from backend.cases.services.deadlines import ONSITE_STATES, STAGE_DEADLINE, onsite_pending, refresh_due_at
from backend.cases.services.life import lock_case
from backend.cases.services.timeline import record_event, tell_followers
from backend.cases.workflow import BUREAU_ROLES, SQUAD_ROLES, SYSTEM, TIMED, Actor
from backend.errors import Conflict, Forbidden, ValidationFailed
from backend.staff.models import StaffNotice
from backend.workcalendar import SHANGHAI, add_working_days

log = logging.getLogger(__name__)

MIN_EXTENSION_DAYS = 1
MAX_EXTENSION_DAYS = 30

# The states in which the squad holds the case and a deadline runs. A returned case waits for the bureau
# and a case without a squad sits in the bureau's triage queue: neither is the squad's delay.
_TIMED = [s.value for s in TIMED]
_ONSITE = [s.value for s in ONSITE_STATES]
_STAGE_LABELS = {
    CaseStatus.DISPATCHED: "签收",
    CaseStatus.SIGNED: "办结",
    CaseStatus.INVESTIGATING: "办结",
    CaseStatus.VERIFIED: "办结",
    CaseStatus.HANDLING: "办结",
    CaseStatus.TRANSFERRED: "办结",
}


@dataclass
class SweepReport:
    """The ids of the cases a sweep noticed, by kind of notice, and what it left for the next sweep."""

    due_soon: list[int] = field(default_factory=list)
    overdue: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)
    onsite_due_soon: list[int] = field(default_factory=list)
    onsite_overdue: list[int] = field(default_factory=list)
    onsite_escalated: list[int] = field(default_factory=list)
    batches: int = 0
    # held by another transaction when their batch ran (another sweep, a squad's step): not waited for
    skipped: list[int] = field(default_factory=list)
    # in a batch that failed and was rolled back, or after the sweep stopped: the next sweep's
    failed: list[int] = field(default_factory=list)
    stopped: bool = False

    def add(self, batch: SweepReport) -> None:
        """Count in a batch's notices once it is committed."""
        for name in _NOTICE_KINDS:
            getattr(self, name).extend(getattr(batch, name))
        self.skipped.extend(batch.skipped)

    def summary(self) -> str:
        text = (
            f"deadline sweep: {len(self.due_soon)} due soon, {len(self.overdue)} overdue, "
            f"{len(self.escalated)} escalated; on site: {len(self.onsite_due_soon)} due soon, "
            f"{len(self.onsite_overdue)} overdue, {len(self.onsite_escalated)} escalated"
        )
        if self.skipped:
            text += f"; {len(self.skipped)} held by another transaction, left to the next sweep"
        if self.failed:
            stop = "; stopped after repeated failures" if self.stopped else ""
            text += f"; {len(self.failed)} in batches rolled back, left to the next sweep{stop}"
        return text


_NOTICE_KINDS = ("due_soon", "overdue", "escalated", "onsite_due_soon", "onsite_overdue", "onsite_escalated")

# Cases locked and noticed in one transaction. A batch takes some tens of milliseconds, so nothing waits long
# for its rows, and the next sweep never finds more than one batch's notices half given.
SWEEP_BATCH = 100
# Batches failing one after another mean the database itself is in trouble: stop, the next run goes on.
MAX_FAILED_BATCHES = 3


# ------------------------------------------------------------------------------------------ the sweep


def sweep_deadlines(
    session: Session,
    now: dt.datetime,
    *,
    due_soon: dt.timedelta,
    escalate_after: dt.timedelta,
    batch_size: int = SWEEP_BATCH,
    commit_each_batch: bool = False,
) -> SweepReport:
    """Tell the squad of each case whose deadline is near or past, and the bureau of each case overdue for
    longer than `escalate_after`. Idempotent: each notice goes out once per deadline. Two clocks are
    watched: the stage's (`due_at`: signing, then handling) and the on-site clock of 第七条 (see
    `_sweep_onsite`).

    The cases owed a notice are found without locks, then worked through in batches of `batch_size` (see
    `sweep_batch`): each batch locks only its own rows, skipping those another transaction holds, so two
    sweeps at once share the work and neither waits. With `commit_each_batch` (the command) each batch is a
    transaction of its own, committed before the next, and a batch that fails (a deadlock, a lock wait
    timed out) is rolled back alone and left to the next sweep; without it the caller commits the lot.

    No column says which stage deadline a mark was for, so a mark counts only if it fits the current
    deadline: a due-soon notice given at most `due_soon` before it, an overdue notice given after it, an
    escalation given after that overdue notice. A deadline that moved later (the next stage, an extension)
    thus gets fresh notices; one that moved earlier keeps them (see `_due_soon_noticed`)."""
    report = SweepReport()
    ids = due_case_ids(session, now, due_soon=due_soon, escalate_after=escalate_after)
    if commit_each_batch:
        session.commit()  # end the read before the first batch locks anything
    failures = 0
    for start in range(0, len(ids), batch_size):
        chunk = ids[start : start + batch_size]
        report.batches += 1
        if not commit_each_batch:
            sweep_batch(session, chunk, now, report, due_soon=due_soon, escalate_after=escalate_after)
            continue
        batch = SweepReport()
        try:
            sweep_batch(session, chunk, now, batch, due_soon=due_soon, escalate_after=escalate_after)
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            failures += 1
            report.failed.extend(chunk)
            log.warning(
                "deadline sweep: batch of %d cases from id %d rolled back: %s",
                len(chunk),
                chunk[0],
                type(exc.orig or exc).__name__ if isinstance(exc, DBAPIError) else type(exc).__name__,
            )
            if failures >= MAX_FAILED_BATCHES:
                report.failed.extend(ids[start + batch_size :])
                report.stopped = True
                break
            continue
        failures = 0
        report.add(batch)
    return report


def due_case_ids(
    session: Session, now: dt.datetime, *, due_soon: dt.timedelta, escalate_after: dt.timedelta
) -> list[int]:
    """The cases a notice may be owed for at `now`, in id order. A plain read, which locks nothing, along
    the deadline indexes (`due_at` for the stage's clock, `next_due_at` for the on-site one): only open
    cases have deadlines, so neither range reaches the closed ones."""
    stage = select(Case.id).where(
        Case.status.in_(_TIMED),
        Case.squad_id.is_not(None),
        Case.due_at.is_not(None),
        Case.due_at <= now + due_soon,
        or_(
            Case.due_at > now,  # inside the due-soon window: few, checked exactly under the lock
            Case.overdue_noticed_at.is_(None),
            Case.overdue_noticed_at < Case.due_at,
            and_(
                Case.due_at < now - escalate_after,
                or_(Case.escalated_at.is_(None), Case.escalated_at < Case.overdue_noticed_at),
            ),
        ),
    )
    ids = set(session.scalars(stage))
    ids.update(_onsite_candidates(session, now, due_soon=due_soon, escalate_after=escalate_after))
    return sorted(ids)


def sweep_batch(
    session: Session,
    ids: list[int],
    now: dt.datetime,
    report: SweepReport,
    *,
    due_soon: dt.timedelta,
    escalate_after: dt.timedelta,
) -> None:
    """Give the notices owed at `now` for the cases `ids` (a batch of `due_case_ids`), counted in `report`.
    The rows are locked by primary key and read afresh, so a notice another sweep gave meanwhile is seen
    and not given again; those another transaction holds are skipped (`report.skipped`), not waited for: it
    is another sweep giving their notices, or a squad's step after which the next sweep looks again. Only
    the cases are locked; the notices, events and audit entries are new rows, added as the cases are
    worked through and written together by one flush at the end of the batch (nothing needs their ids
    sooner; a timeline event joins its case without the case's timeline being read)."""
    cases = session.scalars(
        select(Case)
        .where(Case.id.in_(ids))
        .options(selectinload(Case.squad))
        .order_by(Case.id)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).all()
    found = {case.id for case in cases}
    report.skipped.extend(i for i in ids if i not in found)
    for case in sorted(cases, key=lambda c: (c.next_due_at or now, c.id)):
        _sweep_onsite(session, case, now, report, due_soon=due_soon, escalate_after=escalate_after)
        due_at = case.due_at
        if due_at is None or case.squad_id is None or CaseStatus(case.status) not in TIMED:
            continue  # changed since the first read
        if due_at > now:
            if due_at - now <= due_soon and not _due_soon_noticed(case, due_soon):
                _notice_due_soon(session, case, now)
                report.due_soon.append(case.id)
            continue
        if not _overdue_noticed(case):
            _notice_overdue(session, case, now)
            report.overdue.append(case.id)
        if now - due_at > escalate_after and not _escalation_noticed(case):
            _escalate(session, case, now, escalate_after)
            report.escalated.append(case.id)
    session.flush()


# ------------------------------------------------------------------------------------- the on-site clock
#
# 上海市拆除违法建筑若干规定 第七条: on site within 24 hours of a report, 2 for construction in progress. The
# clock runs from the report whoever holds the case, and stops at the first on-site step. Its deadline never
# moves (an extension is for handling, not for the law's hours), so each notice is given once per case. A
# short clock is warned about sooner and escalated sooner: due soon within half its length (at most
# `due_soon`), escalated once overdue by its own length (at most `escalate_after`).


def _onsite_windows(
    case: Case, due_soon: dt.timedelta, escalate_after: dt.timedelta
) -> tuple[dt.timedelta, dt.timedelta]:
    assert case.onsite_due_at is not None
    length = max(case.onsite_due_at - case.created_at, dt.timedelta(0))
    return min(due_soon, length / 2), min(escalate_after, length)


def _onsite_candidates(
    session: Session, now: dt.datetime, *, due_soon: dt.timedelta, escalate_after: dt.timedelta
) -> list[int]:
    """The cases with a running on-site clock that a notice is owed for now (read without locks). A running
    on-site clock is never later than `next_due_at`, whose index bounds the read."""
    rows = session.scalars(
        select(Case)
        .options(load_only(*_ONSITE_COLUMNS))
        .where(
            Case.next_due_at <= now + due_soon,
            Case.status.in_(_ONSITE),
            Case.onsite_at.is_(None),
            Case.onsite_due_at.is_not(None),
            Case.onsite_due_at <= now + due_soon,
            or_(
                Case.onsite_due_soon_noticed_at.is_(None),
                Case.onsite_overdue_noticed_at.is_(None),
                Case.onsite_escalated_at.is_(None),
            ),
        )
    )
    return [c.id for c in rows if _onsite_notices_owed(c, now, due_soon, escalate_after)]


# what `_onsite_notices_owed` reads
_ONSITE_COLUMNS = (
    Case.status,
    Case.created_at,
    Case.onsite_at,
    Case.onsite_due_at,
    Case.onsite_due_soon_noticed_at,
    Case.onsite_overdue_noticed_at,
    Case.onsite_escalated_at,
)


def _onsite_notices_owed(
    case: Case, now: dt.datetime, due_soon: dt.timedelta, escalate_after: dt.timedelta
) -> list[str]:
    """Which on-site notices `case` is owed at `now`: "due_soon", "overdue", "escalated"."""
    if not onsite_pending(case):
        return []
    assert case.onsite_due_at is not None
    window, escalate = _onsite_windows(case, due_soon, escalate_after)
    due = case.onsite_due_at
    if due > now:
        return ["due_soon"] if due - now <= window and case.onsite_due_soon_noticed_at is None else []
    owed = [] if case.onsite_overdue_noticed_at is not None else ["overdue"]
    if now - due > escalate and case.onsite_escalated_at is None:
        owed.append("escalated")
    return owed


def _sweep_onsite(
    session: Session,
    case: Case,
    now: dt.datetime,
    report: SweepReport,
    *,
    due_soon: dt.timedelta,
    escalate_after: dt.timedelta,
) -> None:
    owed = _onsite_notices_owed(case, now, due_soon, escalate_after)
    if not owed:
        return
    due = _local(case.onsite_due_at)
    squad = case.squad.name if case.squad is not None else "未派单"
    limit = f"{onsite_limit_hours(case)}小时内到场"
    notify = _notify_squad if _held_by_squad(case) else _notify_bureau
    no = case.tracking_no
    if "due_soon" in owed:
        _onsite_notice(
            session, case, report, "due_soon", notify, f"工单 {no} 须于 {due} 前到场核查（{limit}）", "", now
        )
    if "overdue" in owed:
        text = f"工单 {no} 已超过到场时限（{due}），请立即到场核查"
        _onsite_notice(
            session, case, report, "overdue", notify, text, f"已超过到场时限（{due}，{limit}）", now
        )
    if "escalated" in owed:
        late = _hours(now - case.onsite_due_at) if case.onsite_due_at else ""
        text = f"{squad}工单 {no} 超过到场时限（{due}）已逾 {late} 小时仍未到场，请区局督办"
        note = f"超过到场时限逾 {late} 小时，已报区局"
        _onsite_notice(session, case, report, "escalated", _notify_bureau, text, note, now)


# the mark each on-site notice leaves on the case, so that it is given once
_ONSITE_MARKS = {
    "due_soon": "onsite_due_soon_noticed_at",
    "overdue": "onsite_overdue_noticed_at",
    "escalated": "onsite_escalated_at",
}


def _onsite_notice(
    session: Session,
    case: Case,
    report: SweepReport,
    kind: str,
    notify: Callable[[Session, Case, str, str, dt.datetime], None],
    text: str,
    note: str,
    now: dt.datetime,
) -> None:
    """One on-site notice: told (`text`) to whoever `notify` tells, on the timeline as an internal event when
    there is a `note`, marked on the case, audited and counted in the report."""
    action = f"onsite_{kind}"
    notify(session, case, action, text, now)
    if note:
        data = {"due_at": _iso(case.onsite_due_at)}
        record_event(session, case, action, None, None, SYSTEM, note=note, public=False, data=data, now=now)
    setattr(case, _ONSITE_MARKS[kind], now)
    case.updated_at = now
    _audit(session, SYSTEM, case, action, now, due_at=case.onsite_due_at)
    getattr(report, action).append(case.id)


def _held_by_squad(case: Case) -> bool:
    """Whether a squad holds the case (dispatched and not returned); otherwise the bureau must act."""
    return case.squad_id is not None and CaseStatus(case.status) in TIMED


def onsite_limit_hours(case: Case) -> str:
    """The on-site limit of the case in hours, as text ("2", "24")."""
    assert case.onsite_due_at is not None
    return _hours(case.onsite_due_at - case.created_at)


def _hours(span: dt.timedelta) -> str:
    return f"{span.total_seconds() / 3600:.1f}".removesuffix(".0")


def _due_soon_noticed(case: Case, due_soon: dt.timedelta) -> bool:
    # A deadline that moved earlier still counts as noticed (the squad was told, if of a later time);
    # one that moved later by more than the window does not.
    mark, due_at = case.due_soon_noticed_at, case.due_at
    return mark is not None and due_at is not None and mark >= due_at - due_soon


def _overdue_noticed(case: Case) -> bool:
    # Told after the current deadline had passed: the same overdue spell, whatever the stage.
    mark, due_at = case.overdue_noticed_at, case.due_at
    return mark is not None and due_at is not None and mark >= due_at


def _escalation_noticed(case: Case) -> bool:
    mark, overdue = case.escalated_at, case.overdue_noticed_at
    return _overdue_noticed(case) and mark is not None and overdue is not None and mark >= overdue


def _notice_due_soon(session: Session, case: Case, now: dt.datetime) -> None:
    stage, due = stage_label(case), _local(case.due_at)
    _notify_squad(session, case, "due_soon", f"工单 {case.tracking_no} 的{stage}时限将于 {due} 到期", now)
    case.due_soon_noticed_at = now
    case.updated_at = now  # by the injected clock, as every timeline event sets it
    _audit(session, SYSTEM, case, "due_soon", now, due_at=case.due_at)


def _notice_overdue(session: Session, case: Case, now: dt.datetime) -> None:
    stage, due = stage_label(case), _local(case.due_at)
    _notify_squad(
        session, case, "overdue", f"工单 {case.tracking_no} 已超过{stage}时限（{due}），请尽快办理", now
    )
    record_event(
        session,
        case,
        "overdue",
        None,
        None,
        SYSTEM,
        note=f"已超过{stage}时限（{due}）",
        public=False,
        data={"due_at": _iso(case.due_at)},
        now=now,
    )
    case.overdue_noticed_at = now
    _audit(session, SYSTEM, case, "overdue", now, due_at=case.due_at)


def _escalate(session: Session, case: Case, now: dt.datetime, escalate_after: dt.timedelta) -> None:
    stage, due = stage_label(case), _local(case.due_at)
    hours = f"{escalate_after.total_seconds() / 3600:g}"
    squad = case.squad.name if case.squad is not None else ""
    _notify_bureau(
        session,
        case,
        "escalated",
        f"{squad}工单 {case.tracking_no} 超过{stage}时限（{due}）已逾 {hours} 小时，请区局督办",
        now,
    )
    record_event(
        session,
        case,
        "escalated",
        None,
        None,
        SYSTEM,
        note=f"超过{stage}时限逾 {hours} 小时，已报区局",
        public=False,
        data={"due_at": _iso(case.due_at)},
        now=now,
    )
    case.escalated_at = now
    _audit(session, SYSTEM, case, "escalated", now, due_at=case.due_at)


# ------------------------------------------------------------------------------------------- the lists


def is_overdue(case: Case, now: dt.datetime) -> bool:
    """Whether the squad holds `case` and a deadline still running (the stage's or the on-site clock's)
    has passed."""
    return CaseStatus(case.status) in TIMED and case.next_due_at is not None and case.next_due_at <= now


def overdue_cases(session: Session, now: dt.datetime, *, squad_id: int | None = None) -> list[Case]:
    """The overdue cases of a squad (or of the district), the longest overdue first."""
    return _timed_cases(session, Case.next_due_at <= now, squad_id)


def due_today(session: Session, now: dt.datetime, *, squad_id: int | None = None) -> list[Case]:
    """The cases with a deadline before the end of today in Shanghai, overdue ones included,
    the earliest first: what the squad must finish today."""
    tomorrow = now.astimezone(SHANGHAI).date() + dt.timedelta(days=1)
    end_of_day = dt.datetime.combine(tomorrow, dt.time(), SHANGHAI)
    return _timed_cases(session, Case.next_due_at < end_of_day, squad_id)


def _timed_cases(session: Session, condition: ColumnElement[bool], squad_id: int | None) -> list[Case]:
    query = select(Case).where(Case.status.in_(_TIMED), Case.next_due_at.is_not(None), condition)
    if squad_id is not None:
        query = query.where(Case.squad_id == squad_id)
    return list(
        session.scalars(
            query.options(
                selectinload(Case.category), selectinload(Case.estate), selectinload(Case.squad)
            ).order_by(Case.next_due_at, Case.id)
        )
    )


# ------------------------------------------------------------------------------------------ extensions


def request_extension(
    session: Session, case: Case, actor: Actor, working_days: int, reason: str, now: dt.datetime
) -> CaseExtension:
    """The case's squad asks the bureau for `working_days` more working days on the current deadline."""
    if actor.role not in SQUAD_ROLES or actor.squad_id is None or actor.squad_id != case.squad_id:
        raise Forbidden("只有本中队可以为工单申请延期", description=f"{actor.role.value} may not request")
    lock_case(session, case)
    _require_timed(case, "当前状态下没有办理时限，无需延期")
    if isinstance(working_days, bool) or not MIN_EXTENSION_DAYS <= working_days <= MAX_EXTENSION_DAYS:
        raise ValidationFailed.on(
            "working_days", f"延期天数应为 {MIN_EXTENSION_DAYS}–{MAX_EXTENSION_DAYS} 个工作日"
        )
    reason = reason.strip()
    if not reason:
        raise ValidationFailed.on("reason", "请填写延期理由")
    pending = session.scalar(
        select(CaseExtension.id)
        .where(CaseExtension.case_id == case.id, CaseExtension.status == "pending")
        .with_for_update()
    )
    if pending is not None:
        raise Conflict("该工单已有待审批的延期申请", code="extension_pending")
    extension = CaseExtension(
        case_id=case.id, requested_by=actor.id, requested_at=now, working_days=working_days, reason=reason
    )
    session.add(extension)
    session.flush()
    record_event(
        session,
        case,
        "extension_requested",
        None,
        None,
        actor,
        note=reason,
        public=False,
        data={"extension_id": extension.id, "working_days": working_days},
        now=now,
    )
    squad = case.squad.name if case.squad is not None else ""
    _notify_bureau(
        session,
        case,
        "extension_requested",
        f"{squad}申请工单 {case.tracking_no} 的{stage_label(case)}时限延期 {working_days} 个工作日：{reason}",
        now,
    )
    _audit(
        session, actor, case, "extension_requested", now, extension_id=extension.id, working_days=working_days
    )
    return extension


def decide_extension(
    session: Session,
    extension: CaseExtension,
    actor: Actor,
    approve: bool,
    now: dt.datetime,
    note: str = "",
) -> CaseExtension:
    """The bureau approves or rejects a pending extension. Approval moves the current stage's deadline and
    the handling deadline by the requested working days, each from its present value; the reporter is told
    that the deadline moved, never the squad's reason."""
    if actor.role not in BUREAU_ROLES:
        raise Forbidden("只有区局可以审批延期申请", description=f"{actor.role.value} may not decide")
    case = session.get(Case, extension.case_id)
    assert case is not None
    lock_case(session, case)
    session.execute(
        select(CaseExtension)
        .where(CaseExtension.id == extension.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if extension.status != "pending":
        raise Conflict("该延期申请已审批", code="extension_decided")
    note = note.strip()
    if approve:
        _require_timed(case, "工单已不在办理时限内，无法批准延期")
        _approve(session, case, extension, actor, note, now)
    else:
        _reject(session, case, extension, actor, note, now)
    extension.decided_by = actor.id
    extension.decided_at = now
    session.flush()
    return extension


def _approve(
    session: Session, case: Case, extension: CaseExtension, actor: Actor, note: str, now: dt.datetime
) -> None:
    days = extension.working_days
    before = case.due_at
    status = CaseStatus(case.status)
    # the handling deadline always moves, and the running one with it (signing, or being on site)
    moved = {"handle_due_at"} | ({STAGE_DEADLINE[status]} if status in TIMED else set())
    for name in sorted(moved):
        value = getattr(case, name)
        if value is not None:
            setattr(case, name, add_working_days(value, days))
    refresh_due_at(case)
    # A new deadline deserves its own notices.
    case.due_soon_noticed_at = case.overdue_noticed_at = case.escalated_at = None
    extension.status = "approved"
    stage, due = stage_label(case), _local(case.due_at)
    event = record_event(
        session,
        case,
        "extension_approved",
        None,
        None,
        actor,
        note=f"延期 {days} 个工作日，{stage}时限延至 {due}" + (f"。{note}" if note else ""),
        public=True,
        data={"extension_id": extension.id, "working_days": days, "due_at": _iso(case.due_at)},
        now=now,
    )
    tell_followers(session, case, event, now)
    _notify_squad(
        session,
        case,
        "extension_approved",
        f"工单 {case.tracking_no} 的延期申请已批准，{stage}时限延至 {due}" + (f"：{note}" if note else ""),
        now,
    )
    _audit(
        session,
        actor,
        case,
        "extension_approved",
        now,
        extension_id=extension.id,
        working_days=days,
        previous_due_at=before,
        due_at=case.due_at,
    )


def _reject(
    session: Session, case: Case, extension: CaseExtension, actor: Actor, note: str, now: dt.datetime
) -> None:
    extension.status = "rejected"
    _squad_step(
        session,
        case,
        actor,
        "extension_rejected",
        note or "不予延期",
        f"工单 {case.tracking_no} 的延期申请未获批准" + (f"：{note}" if note else ""),
        now,
        extension_id=extension.id,
    )


# ------------------------------------------------------------------------------- urging and supervising


def urge_case(session: Session, case: Case, actor: Actor, note: str, now: dt.datetime) -> None:
    """催办: the bureau presses the squad to move on a case; each time counts."""
    _require_bureau(actor, "只有区局可以催办工单")
    lock_case(session, case)
    _require_timed(case, "工单已不在办理中，无需催办")
    case.urge_count += 1
    note = note.strip()
    text = f"区局催办工单 {case.tracking_no}（第 {case.urge_count} 次）" + (f"：{note}" if note else "")
    _squad_step(session, case, actor, "urged", note, text, now, count=case.urge_count)


def supervise_case(session: Session, case: Case, actor: Actor, note: str, now: dt.datetime) -> None:
    """督办: the bureau puts a case under its own watch until it is done."""
    _require_bureau(actor, "只有区局可以督办工单")
    lock_case(session, case)
    _require_timed(case, "工单已不在办理中，无需督办")
    if case.supervised:
        raise Conflict("该工单已在督办中", code="already_supervised")
    case.supervised = True
    note = note.strip()
    text = f"区局对工单 {case.tracking_no} 进行督办" + (f"：{note}" if note else "")
    _squad_step(session, case, actor, "supervised", note, text, now)


# ------------------------------------------------------------------------------------------- helpers


def _require_bureau(actor: Actor, message: str) -> None:
    if actor.role not in BUREAU_ROLES:
        raise Forbidden(message, description=f"{actor.role.value} is not the bureau")


def _require_timed(case: Case, message: str) -> None:
    if CaseStatus(case.status) not in TIMED or case.due_at is None:
        raise Conflict(message, code="no_deadline", description=f"case is {case.status}")


def _squad_step(
    session: Session,
    case: Case,
    actor: Actor,
    action: str,
    note: str,
    text: str,
    now: dt.datetime,
    **data: object,
) -> None:
    """An internal step of the bureau's on the case: on the timeline (staff only), told to the squad as
    `text`, and audited, with the same `data` in the event and the audit entry."""
    record_event(session, case, action, None, None, actor, note=note, public=False, data=data, now=now)
    _notify_squad(session, case, action, text, now)
    _audit(session, actor, case, action, now, **data)


# Both kinds of notice give every column, so that a flush writes the notices of a sweep's batch, the squads'
# and the bureau's in turn, in one INSERT (the ORM batches only rows giving the same columns one after another).


def _notify_squad(session: Session, case: Case, kind: str, text: str, now: dt.datetime) -> None:
    notice = StaffNotice(
        squad_id=case.squad_id, for_bureau=False, case_id=case.id, kind=kind, text=text, created_at=now
    )
    session.add(notice)


def _notify_bureau(session: Session, case: Case, kind: str, text: str, now: dt.datetime) -> None:
    notice = StaffNotice(
        squad_id=None, for_bureau=True, case_id=case.id, kind=kind, text=text, created_at=now
    )
    session.add(notice)


def _audit(
    session: Session, actor: Actor, case: Case, action: str, now: dt.datetime, **detail: object
) -> None:
    values = {k: _iso(v) if isinstance(v, dt.datetime) else v for k, v in detail.items()}
    record_audit(session, actor, f"case.{action}", "case", case.tracking_no, detail=values, now=now)


def stage_label(case: Case) -> str:
    """What the current stage's deadline is for: 签收 or 办结."""
    return _STAGE_LABELS.get(CaseStatus(case.status), "办理")


def _local(instant: dt.datetime | None) -> str:
    """11月27日 14:00, in Shanghai time."""
    if instant is None:
        return ""
    local = instant.astimezone(SHANGHAI)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def _iso(instant: dt.datetime | None) -> str | None:
    return None if instant is None else instant.astimezone(dt.UTC).isoformat()
