"""The deadline sweep in batches: each a short transaction locking only its own cases, skipping those another
transaction holds, so that two sweeps at once share the work, and a failing batch is rolled back alone."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.cases import supervision
from backend.cases.models import Case, CaseStatus
from backend.cases.supervision import SWEEP_BATCH, SweepReport, due_case_ids, sweep_deadlines
from backend.cases.supervision_cli import cases_group
from backend.clock import MovableClock
from backend.staff.models import StaffNotice
from tests.support.cases import NOW, estate, report, squad
from tests.support.cleanup import purge_users
from tests.support.concurrency import concurrently

HOUR = dt.timedelta(hours=1)
DUE_SOON, ESCALATE_AFTER = 4 * HOUR, 24 * HOUR
# Each case below is owed four notices: its signing deadline and its on-site clock, each overdue by more
# than the time after which the bureau is told.
OWED = ("overdue", "escalated", "onsite_overdue", "onsite_escalated")
# Committed for real: a day no other test sweeps or files on
DAY = dt.datetime(2025, 5, 21, 10, 0, tzinfo=dt.UTC)


def sweep(session: Session, at: dt.datetime = NOW, *, batch_size: int = SWEEP_BATCH) -> SweepReport:
    """A sweep as the command runs it: each batch committed on its own."""
    return sweep_deadlines(
        session,
        at,
        due_soon=DUE_SOON,
        escalate_after=ESCALATE_AFTER,
        batch_size=batch_size,
        commit_each_batch=True,
    )


def late_case(session: Session, user) -> Case:
    """A case of 徐泾中队 past its signing deadline and its on-site clock by over a day each."""
    case = report(
        session,
        user,
        category="illegal_construction",
        estate_id=estate(session, "康虹花园").id,
        now=NOW - 60 * HOUR,
    )
    case.sign_due_at = case.due_at = case.next_due_at = NOW - 30 * HOUR
    case.onsite_due_at = NOW - 30 * HOUR
    session.flush()
    return case


def told(session: Session, case_ids: list[int]) -> Counter[tuple[int | None, str]]:
    """How many times each notice was given for each case."""
    rows = session.execute(
        select(StaffNotice.case_id, StaffNotice.kind).where(StaffNotice.case_id.in_(case_ids))
    )
    return Counter((case_id, kind) for case_id, kind in rows)


def noticed(result: SweepReport) -> list[int]:
    return result.overdue + result.escalated + result.onsite_overdue + result.onsite_escalated


# ------------------------------------------------------------------------------ batches, in one session


def test_a_sweep_over_more_cases_than_one_batch_handles_them_all_once(session: Session, resident) -> None:
    user, _ = resident
    ids = [late_case(session, user).id for _ in range(7)]
    candidates = due_case_ids(session, NOW, due_soon=DUE_SOON, escalate_after=ESCALATE_AFTER)
    assert set(ids) <= set(candidates)
    result = sweep(session, batch_size=3)
    assert result.batches == -(-len(candidates) // 3) >= 3
    assert not result.failed and not result.skipped and not result.stopped
    for kind in OWED:
        assert set(ids) <= set(getattr(result, kind)), kind
    assert told(session, ids) == Counter({(i, kind): 1 for i in ids for kind in OWED})
    again = sweep(session, batch_size=3)
    assert not set(noticed(again)) & set(ids)
    assert due_case_ids(session, NOW, due_soon=DUE_SOON, escalate_after=ESCALATE_AFTER) == []


def test_a_failing_batch_is_rolled_back_alone_and_the_next_sweep_gives_its_notices(
    session: Session, resident, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, _ = resident
    ids = [late_case(session, user).id for _ in range(7)]
    doomed = ids[3]
    real = supervision._notice_overdue

    def deadlocked(session: Session, case: Case, now: dt.datetime) -> None:
        if case.id == doomed:
            raise OperationalError("UPDATE case_file …", {}, Exception(1213, "Deadlock found"))
        real(session, case, now)

    monkeypatch.setattr(supervision, "_notice_overdue", deadlocked)
    result = sweep(session, batch_size=3)
    assert doomed in result.failed and len(result.failed) <= 3 and not result.stopped
    assert doomed not in noticed(result)
    # the failed batch left nothing behind, not even the notices given before the failure; the others stand
    assert told(session, result.failed) == Counter()
    others = [i for i in ids if i not in result.failed]
    assert len(others) >= 4
    assert told(session, others) == Counter({(i, kind): 1 for i in others for kind in OWED})
    assert "rolled back, left to the next sweep" in result.summary()

    monkeypatch.setattr(supervision, "_notice_overdue", real)
    later = sweep(session, batch_size=3)
    assert set(later.overdue) >= set(result.failed) and not later.failed
    assert told(session, ids) == Counter({(i, kind): 1 for i in ids for kind in OWED})


def test_the_command_stops_after_repeated_failures_and_says_so(
    app, cli_runner, session: Session, resident, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, _ = resident
    ids = [late_case(session, user).id for _ in range(10)]
    session.commit()
    candidates = due_case_ids(session, NOW, due_soon=DUE_SOON, escalate_after=ESCALATE_AFTER)

    def lost(session: Session, case: Case, now: dt.datetime) -> None:
        raise OperationalError("SELECT 1", {}, Exception(2013, "Lost connection to server during query"))

    monkeypatch.setattr(supervision, "_notice_overdue", lost)
    monkeypatch.setitem(app.extensions, "clock", MovableClock(NOW))
    result = cli_runner.invoke(cases_group, ["sweep", "--batch", "2"])
    assert result.exit_code == 1, result.output
    assert "stopped after repeated failures" in result.output
    assert f"; {len(candidates)} in batches rolled back, left to the next sweep;" in result.output
    assert told(session, ids) == Counter()  # three batches tried and rolled back, the rest left alone


# -------------------------------------------------------------------------- committed for real, in threads


def _fill(engine: Engine, count: int) -> tuple[int, list[int]]:
    """`count` cases of 徐泾中队 each owed the four notices of OWED at DAY, inserted in one statement, and
    the resident who reported them (purge_users removes both)."""
    tag = uuid.uuid4().hex[:8]
    with Session(engine) as session:
        user = User(openid=f"sweep-{tag}", nickname="批量")
        session.add(user)
        session.flush()
        squad_id = squad(session, "xujing").id
        created, late = DAY - 60 * HOUR, DAY - 30 * HOUR
        rows = [
            {
                "tracking_no": f"SW{tag}{n:05d}",
                "status": CaseStatus.DISPATCHED.value,
                "description": "批量测试：到期未签收的工单",
                "squad_id": squad_id,
                "reporter_id": user.id,
                "created_at": created,
                "updated_at": created,
                "sign_due_at": late,
                "handle_due_at": DAY + 300 * HOUR,
                "onsite_due_at": late,
                "due_at": late,
                "next_due_at": late,
            }
            for n in range(count)
        ]
        session.execute(insert(Case), rows)
        session.commit()
        ids = list(session.scalars(select(Case.id).where(Case.reporter_id == user.id).order_by(Case.id)))
        return user.id, ids


def test_two_sweeps_at_once_give_each_notice_once_and_both_finish(mariadb_app) -> None:
    # row locks need MariaDB: SQLite locks the whole database, so no row can be skipped or shared there
    engine = mariadb_app.extensions["db"].engine
    user_id, ids = _fill(engine, 300)
    try:

        def run(_: int) -> SweepReport:
            with Session(engine) as session:
                return sweep(session, DAY, batch_size=25)

        results = concurrently(2, run)
        assert not any(isinstance(r, Exception) for r in results), results
        first, second = results
        assert not first.failed and not second.failed and not first.stopped and not second.stopped
        for kind in OWED:  # every notice given by one sweep or the other, never by both
            mine = [i for i in getattr(first, kind) + getattr(second, kind) if i in set(ids)]
            assert sorted(mine) == ids, kind
        with Session(engine) as session:
            assert told(session, ids) == Counter({(i, kind): 1 for i in ids for kind in OWED})
            assert sweep(session, DAY).batches == 0  # nothing left to do
    finally:
        purge_users(engine, [user_id])


def test_a_case_another_transaction_holds_is_skipped_and_the_next_sweep_gives_its_notices(
    mariadb_app,
) -> None:
    # row locks need MariaDB: SQLite locks the whole database, so no row can be skipped or shared there
    engine = mariadb_app.extensions["db"].engine
    user_id, ids = _fill(engine, 30)
    held = ids[12]
    try:
        with engine.connect() as holder:
            holder.begin()
            # a squad's step under way on one case: its row locked, not yet committed
            holder.execute(select(Case.id).where(Case.id == held).with_for_update())
            with Session(engine) as session:
                started = dt.datetime.now(dt.UTC)
                result = sweep(session, DAY, batch_size=10)
                waited = dt.datetime.now(dt.UTC) - started
            assert result.skipped == [held] and not result.failed
            assert waited < dt.timedelta(seconds=5)  # not the lock wait timeout: never waited at all
            with Session(engine) as session:
                others = [i for i in ids if i != held]
                assert told(session, others) == Counter({(i, kind): 1 for i in others for kind in OWED})
                assert told(session, [held]) == Counter()
            holder.rollback()
        with Session(engine) as session:
            later = sweep(session, DAY)
            assert held in later.overdue and not later.skipped
            assert told(session, ids) == Counter({(i, kind): 1 for i in ids for kind in OWED})
            count = session.scalar(
                select(func.count()).select_from(StaffNotice).where(StaffNotice.case_id.in_(ids))
            )
            assert count == len(ids) * len(OWED)
    finally:
        purge_users(engine, [user_id])
