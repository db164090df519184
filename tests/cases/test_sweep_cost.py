"""What a batch of the deadline sweep sends: its cases locked and read with their squads, then its notices,
timeline events, audit entries and the cases' marks written by one flush, each table in one statement. As many
statements for a batch of 3 cases as for one of 9, so that a flush or a query per case or per notice fails
here."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.cases.models import Case, CaseEvent
from backend.cases.supervision import SweepReport, sweep_batch
from backend.staff.models import StaffNotice
from tests.support.cases import NOW, estate, report
from tests.support.statements import Sent

HOUR = dt.timedelta(hours=1)
DUE_SOON, ESCALATE_AFTER = 4 * HOUR, 24 * HOUR
OWED = ("overdue", "escalated", "onsite_overdue", "onsite_escalated")
# The cases locked, their squads; the notices, the events, the audit entries, the cases' marks.
BATCH_STATEMENTS = 6


def inserts_once(statements: list[str]) -> list[str]:
    """The statements with each run of one INSERT counted once: on SQLite the ORM inserts the rows of a table
    one at a time (its RETURNING does not keep their order), on MariaDB in one statement."""
    return [
        s for i, s in enumerate(statements) if not (s.startswith("INSERT") and statements[i - 1 : i] == [s])
    ]


def late_cases(session: Session, user: Any, count: int) -> list[int]:
    """Cases of 徐泾中队 past their signing deadline and their on-site clock by over a day each."""
    home = estate(session, "康虹花园").id
    cases = [
        report(session, user, category="illegal_construction", estate_id=home, now=NOW - 60 * HOUR)
        for _ in range(count)
    ]
    for case in cases:
        case.sign_due_at = case.due_at = case.next_due_at = case.onsite_due_at = NOW - 30 * HOUR
    session.flush()
    return [case.id for case in cases]


def test_a_batch_costs_as_many_statements_whatever_its_cases(session: Session, resident, sent: Sent) -> None:
    user, _ = resident
    counts = []
    for size in (3, 9):
        ids = late_cases(session, user, size)
        session.expunge_all()
        result = SweepReport()
        sent.start()
        sweep_batch(session, ids, NOW, result, due_soon=DUE_SOON, escalate_after=ESCALATE_AFTER)
        statements = inserts_once(sent.stop())
        for kind in OWED:
            assert getattr(result, kind) == ids, kind
        counts.append(len(statements))
        assert len(statements) <= BATCH_STATEMENTS, statements
        written = [s.split()[2] for s in statements if s.startswith("INSERT")]
        assert sorted(written) == ["audit_entry", "case_event", "staff_notice"], statements
        notices = session.scalars(select(StaffNotice.kind).where(StaffNotice.case_id.in_(ids))).all()
        assert sorted(notices) == sorted(list(OWED) * size)
        events = session.scalars(
            select(CaseEvent.action).where(CaseEvent.case_id.in_(ids), CaseEvent.action.in_(OWED))
        ).all()
        assert sorted(events) == sorted(list(OWED) * size)
        marked = session.scalars(select(Case).where(Case.id.in_(ids))).all()
        assert all(c.escalated_at == c.onsite_escalated_at == NOW for c in marked)
    assert counts[0] == counts[1], counts
