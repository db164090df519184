"""What filing a report reads and writes. Before the day's tracking counter: who already filed it and how many
reports today (one query), the versions of the catalog and of the estate list (the guessed category, the estate,
its town and its squad are rows kept per process: none is read), the photos. From the counter to the end, writes
only, each table in one statement: the case, its two events, the photos, the audit entry, the grant spent, the
message and the outbox row; no savepoint (a racing duplicate gives its number back). An upper bound on the
statements, the same whatever the number of photos, so that a query per photo, per event or a read repeated
fails here; and the job that sends the subscribe message leaves once, after the commit."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, delete, func, select
from sqlalchemy.orm import Session

import backend.cases.services.filing as filing_service
from backend.accounts.models import User
from backend.audit.models import AuditEntry
from backend.cases.models import Case, CaseEvent, CaseStatus, TrackingCounter
from backend.cases.services.filing import ReportInput, issue_tracking_no, routed_estate, submit_report
from backend.messages.models import Message, Notification, SubscriptionCredit
from backend.messages.services import SEND_NOTIFICATION_JOB, add_subscription_credit
from backend.org.models import Estate
from backend.queue import PendingJob
from backend.taxonomy.services import category_keywords
from backend.workcalendar import SHANGHAI
from tests.support.accounts import make_resident
from tests.support.cases import NOW
from tests.support.jobs import jobs_recorded
from tests.support.statements import Sent
from tests.support.uploads import stored_upload

DESCRIPTION = "楼顶有人在搭建阳光房，已经搭了一半"  # no category given: guessed from these words
# The earlier filings, the catalog's version, the estate list's version, the photos; the counter; the case, its
# events, its photos, the audit entry; the grant; the message and the outbox row. (A process reads the two
# versions at most once every CACHE_CHECK_SECONDS; this test's transaction reads them each time.)
REPORT_STATEMENTS = 12
# What filing no longer reads: rows kept per process, and the followers of a case nobody else can know yet.
NOT_READ = ("FROM category ", "FROM estate", "FROM town", "FROM squad", "FROM case_supporter", "FROM article")
# Who already filed it under this request id, then that case.
RETRY_STATEMENTS = 2


@pytest.fixture
def filing(connection: Connection) -> Iterator[tuple[Session, list[PendingJob]]]:
    """A session whose after-commit jobs are recorded instead of sent."""
    with jobs_recorded(connection, expire_on_commit=False) as recorded_jobs:  # as the app's sessions
        yield recorded_jobs


def _file(
    session: Session, sent: Sent, user_id: int, photos: list[str], request_id: str
) -> tuple[Case, list[str]]:
    """File a report as the mini-program does, in a session that holds nothing yet (the estate, the category,
    the user: all read afresh), and the statements it sent."""
    estate_id = session.scalar(select(Estate.id).where(Estate.name == "康虹花园"))
    # the catalog and the estate's route as another request left them: built, not rebuilt here
    category_keywords(session)
    assert estate_id is not None and routed_estate(session, estate_id) is not None
    session.expunge_all()
    user = session.get_one(User, user_id)
    sent.start()
    case, created = submit_report(
        session,
        user,
        ReportInput(
            description=DESCRIPTION, estate_id=estate_id, photo_ids=photos, client_request_id=request_id
        ),
        daily_limit=10,
        now=NOW,
    )
    statements = sent.stop()
    assert created
    return case, statements


def inserts_once(statements: list[str]) -> list[str]:
    """The statements with each run of one INSERT counted once: on SQLite the ORM inserts the rows of a table
    one at a time (its RETURNING does not keep their order), on MariaDB in one statement."""
    return [
        s for i, s in enumerate(statements) if not (s.startswith("INSERT") and statements[i - 1 : i] == [s])
    ]


def _writes_after_the_counter(statements: list[str]) -> list[str]:
    counter = next(i for i, s in enumerate(statements) if "tracking_counter" in s)
    return statements[counter + 1 :]


def test_a_report_costs_a_bounded_number_of_statements_whatever_its_photos(
    filing: tuple[Session, list[PendingJob]], sent: Sent
) -> None:
    session, _jobs = filing
    user, _ = make_resident(session, "filing_cost")
    add_subscription_credit(session, user.id, "case_status")
    add_subscription_credit(session, user.id, "case_status")
    uploads = [stored_upload(session, user.id) for _ in range(5)]
    session.flush()

    one, few = (
        _file(session, sent, user.id, uploads[:1], "cost-1"),
        _file(session, sent, user.id, uploads[1:], "cost-5"),
    )
    assert len(inserts_once(one[1])) == len(inserts_once(few[1])) <= REPORT_STATEMENTS, one[1]
    for case, sent_statements in (one, few):
        statements = inserts_once(sent_statements)
        assert not [s for s in statements if any(table in s for table in NOT_READ)], statements
        assert not [s for s in statements if "SAVEPOINT" in s], statements
        assert case.status == CaseStatus.DISPATCHED and case.category_code == "illegal_construction"
        # while the counter is held: no read, and one statement for each table written
        after = _writes_after_the_counter(statements)
        assert not [s for s in after if s.startswith("SELECT")], after
        tables = Counter(re.sub(r"^INSERT INTO (\S+).*|^UPDATE (\S+).*", r"\1\2", s) for s in after)
        assert all(n == 1 for n in tables.values()), tables
        assert {"case_file", "case_event", "audit_entry", "case_photo", "message", "notification"} <= set(
            tables
        )


def test_a_report_is_written_whole_and_its_message_leaves_once_after_the_commit(
    filing: tuple[Session, list[PendingJob]], sent: Sent
) -> None:
    session, jobs = filing
    user, _ = make_resident(session, "filing_whole")
    add_subscription_credit(session, user.id, "case_status")
    session.flush()
    case, _statements = _file(session, sent, user.id, [], "whole-1")
    assert jobs == []  # not before the commit
    session.commit()
    outbox = session.scalars(select(Notification).where(Notification.user_id == user.id)).all()
    assert len(outbox) == 1 and outbox[0].case_id == case.id
    assert [(j.func, j.args, j.job_id) for j in jobs] == [
        (SEND_NOTIFICATION_JOB, (outbox[0].id,), f"notification-{outbox[0].id}")
    ]
    fresh = session.scalars(
        select(Case).where(Case.id == case.id).execution_options(populate_existing=True)
    ).one()
    assert [e.action for e in fresh.events] == ["submit", "dispatch"]
    assert fresh.events[0].actor_id == user.id and fresh.tracking_no.startswith("QP20261126-")
    audited = session.scalars(select(AuditEntry.action).where(AuditEntry.target_id == case.tracking_no)).all()
    assert audited == ["case.dispatch"]
    told = session.scalars(select(Message.title).where(Message.user_id == user.id)).all()
    assert told == [f"工单 {case.tracking_no} 已派单"]


def test_a_retried_report_reads_its_case_and_writes_nothing(
    filing: tuple[Session, list[PendingJob]], sent: Sent
) -> None:
    session, jobs = filing
    user, _ = make_resident(session, "filing_retry")
    add_subscription_credit(session, user.id, "case_status")
    session.flush()
    first, _ = _file(session, sent, user.id, [], "retry-1")
    session.commit()
    jobs.clear()
    session.expunge_all()
    again = session.get_one(User, user.id)
    sent.start()
    case, created = submit_report(
        session,
        again,
        ReportInput(description=DESCRIPTION, client_request_id="retry-1"),
        daily_limit=1,
        now=NOW,
    )
    statements = sent.stop()
    assert not created and case.tracking_no == first.tracking_no
    assert len(statements) <= RETRY_STATEMENTS and all(s.startswith("SELECT") for s in statements), statements
    session.commit()
    assert jobs == []
    count = session.scalar(select(func.count(Notification.id)).where(Notification.user_id == user.id))
    assert count == 1


def test_the_counter_is_one_statement_where_the_database_returns_what_it_wrote(
    session: Session, sent: Sent, monkeypatch: pytest.MonkeyPatch
) -> None:
    day = dt.datetime(2025, 7, 3, 10, 0, tzinfo=SHANGHAI)  # a day no other test files on
    session.execute(delete(TrackingCounter).where(TrackingCounter.day == "20250703"))
    sent.start()
    numbers = [issue_tracking_no(session, day), issue_tracking_no(session, day)]
    assert len(sent.stop()) == 2
    # MySQL has no RETURNING: the upsert, then the row read back under its lock
    monkeypatch.setattr(session.get_bind().dialect, "insert_returning", False)
    sent.start()
    numbers.append(issue_tracking_no(session, day))
    assert len(sent.stop()) == 2
    assert numbers == ["QP20250703-0001", "QP20250703-0002", "QP20250703-0003"]


def test_a_racing_duplicate_writes_nothing_and_gives_its_number_back(
    filing: tuple[Session, list[PendingJob]], sent: Sent, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same request id raced in after this one looked for it: the case's unique key refuses it, the first
    row written, so nothing of it is written, its number is given back (no savepoint to roll back to), the
    answer is the case that won, and the transaction goes on numbering without a gap."""
    session, jobs = filing
    user, _ = make_resident(session, "filing_race")
    add_subscription_credit(session, user.id, "case_status")
    add_subscription_credit(session, user.id, "case_status")
    session.flush()
    first, _ = _file(session, sent, user.id, [], "race-1")
    day = first.tracking_no[2:10]

    def written() -> tuple[int | None, ...]:
        return (
            session.scalar(select(TrackingCounter.last).where(TrackingCounter.day == day)),
            session.scalar(select(func.count(Case.id)).where(Case.reporter_id == user.id)),
            session.scalar(select(func.count(CaseEvent.id)).where(CaseEvent.actor_id == user.id)),
            session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.target_id.like(f"QP{day}-%"))),
            session.scalar(select(func.count(Message.id)).where(Message.user_id == user.id)),
            session.scalar(select(func.count(Notification.id)).where(Notification.user_id == user.id)),
            session.scalar(
                select(SubscriptionCredit.credits).where(
                    SubscriptionCredit.user_id == user.id, SubscriptionCredit.kind == "case_status"
                )
            ),
        )

    before = written()
    # as a racing request sees it: nothing filed under the request id yet when it looked
    monkeypatch.setattr(filing_service, "_earlier_reports", lambda *_args, **_kw: (None, 0))
    session.expunge_all()
    racer = session.get_one(User, user.id)
    estate_id = session.scalar(select(Estate.id).where(Estate.name == "康虹花园"))
    case, created = submit_report(
        session,
        racer,
        ReportInput(description=DESCRIPTION, estate_id=estate_id, client_request_id="race-1"),
        daily_limit=10,
        now=NOW,
    )
    assert not created and case.id == first.id and case.tracking_no == first.tracking_no
    assert written() == before
    monkeypatch.undo()
    following, _ = _file(session, sent, user.id, [], "race-2")
    assert following.tracking_no == f"QP{day}-{int(first.tracking_no[-4:]) + 1:04d}"
    session.commit()
    assert len(jobs) == 2  # the subscribe messages of the two cases filed, none of the racer
