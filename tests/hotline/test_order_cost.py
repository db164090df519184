"""What a 12345 work order reads and writes. Before the day's tracking counter: whether the order is known (its
id only), the versions of the catalog and of the estate list (the town and the estate, found in the estate
index, the category, guessed or named, and the town's squad are kept per process: none is read). From the counter to the end, writes only, each table in
one statement: the case, its two events, the audit entry; no savepoint (a racing copy of the order gives its
number back). Over HTTP, the client's key besides. An upper bound on the statements, so that a read repeated
or a query per anything fails here; a known order reads one row and writes nothing."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import backend.hotline.services as hotline_service
from backend.audit.models import AuditEntry
from backend.cases.models import Case, CaseEvent, CaseStatus, TrackingCounter
from backend.cases.services.filing import routed_estate
from backend.hotline.services import create_client, intake_order
from backend.org.models import Estate
from backend.org.services import estate_index
from backend.taxonomy.services import category_keywords
from tests.support.hotline import API, NOW, order, valid_order
from tests.support.statements import Sent

# Whether the order is known; the estate list's version (for the index the town and the estate are found in),
# the catalog's version, the estate list's version again (for the estate's route); the counter; the case, its
# events, the audit entry. (A process reads the versions at most once every CACHE_CHECK_SECONDS; this test's
# transaction reads them at every use.)
ORDER_STATEMENTS = 8
# Over HTTP the client's key besides (and not the tests' own savepoints).
HTTP_STATEMENTS = 9
# What an order no longer reads: rows kept per process.
NOT_READ = ("FROM category ", "FROM squad", "FROM article", "FROM town", "FROM estate")
# A known order: its id, then the case it made.
KNOWN_STATEMENTS = 2


def inserts_once(statements: list[str]) -> list[str]:
    """The statements with each run of one INSERT counted once: on SQLite the ORM inserts the rows of a table
    one at a time (its RETURNING does not keep their order), on MariaDB in one statement."""
    return [
        s for i, s in enumerate(statements) if not (s.startswith("INSERT") and statements[i - 1 : i] == [s])
    ]


def test_an_order_costs_a_bounded_number_of_statements_and_reads_nothing_while_numbered(
    session: Session, sent: Sent
) -> None:
    work_order = order(order_no="COST-0001", town="徐泾镇", estate="康虹花园")
    _as_another_request_left_them(session)
    sent.start()
    case, created = intake_order(session, work_order, client_name="热线", now=NOW)
    statements = inserts_once(sent.stop())
    assert created and case.status == CaseStatus.DISPATCHED and case.squad is not None
    assert case.category_code == "illegal_construction"
    assert len(statements) <= ORDER_STATEMENTS, statements
    assert not [s for s in statements if any(table in s for table in NOT_READ)], statements
    assert not [s for s in statements if "SAVEPOINT" in s], statements
    counter = next(i for i, s in enumerate(statements) if "tracking_counter" in s)
    after = statements[counter + 1 :]
    assert not [s for s in after if s.startswith("SELECT")], after
    written = [s.split()[2] for s in after if s.startswith("INSERT")]
    assert sorted(written) == ["audit_entry", "case_event", "case_file"], after

    session.expunge_all()
    sent.start()
    again, created = intake_order(session, work_order, client_name="热线", now=NOW)
    statements = sent.stop()
    assert not created and again.tracking_no == case.tracking_no
    assert len(statements) <= KNOWN_STATEMENTS, statements
    events = session.scalars(select(CaseEvent.action).where(CaseEvent.case_id == case.id)).all()
    assert events == ["submit", "dispatch"]
    audited = session.scalar(
        select(func.count(AuditEntry.id)).where(AuditEntry.target_id == case.tracking_no)
    )
    assert audited == 1


def test_an_order_over_http_costs_a_bounded_number_of_statements(
    client: FlaskClient, session: Session, sent: Sent
) -> None:
    _client, key = create_client(session, "成本测试热线")
    session.commit()
    body = valid_order(order_no="COST-HTTP-1", received_at="2024-05-06T09:30:00+08:00")
    _as_another_request_left_them(session)
    sent.start()
    response = client.post(API + "/orders", json=body, headers={"X-Api-Key": key})
    statements = inserts_once(sent.stop())
    assert response.status_code == 201, response.get_json()
    counted = [s for s in statements if not s.startswith(("SAVEPOINT", "RELEASE"))]
    assert len(counted) <= HTTP_STATEMENTS, counted
    assert not [s for s in counted if any(table in s for table in NOT_READ)], counted
    case = session.scalars(select(Case).where(Case.external_ref == "COST-HTTP-1")).one()
    submit = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == "submit")
    ).one()
    assert submit.data["received_at"] == "2024-05-06T01:30:00+00:00"


def _as_another_request_left_them(session: Session) -> None:
    """The catalog, the estate index and the estate's route kept as another request left them: built, not
    rebuilt here."""
    category_keywords(session)
    estate_index(session)
    estate_id = session.scalar(select(Estate.id).where(Estate.name == "康虹花园"))
    assert estate_id is not None and routed_estate(session, estate_id) is not None
    session.expunge_all()


def test_a_racing_copy_of_an_order_writes_nothing_and_gives_its_number_back(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same order raced in after this one looked for it: the case's unique key refuses it, the first row
    written, so nothing of it is written and its number is given back; the answer is the case that won."""
    work_order = order(order_no="RACE-COST-1", town="徐泾镇", estate="康虹花园")
    first, created = intake_order(session, work_order, client_name="热线", now=NOW)
    assert created
    day = first.tracking_no[2:10]

    def written() -> tuple[int | None, ...]:
        return (
            session.scalar(select(TrackingCounter.last).where(TrackingCounter.day == day)),
            session.scalar(select(func.count(Case.id)).where(Case.external_ref == "RACE-COST-1")),
            session.scalar(select(func.count(CaseEvent.id)).where(CaseEvent.case_id == first.id)),
            session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.target_id.like(f"QP{day}-%"))),
        )

    before = written()
    looked_for = hotline_service._case_of_order

    def not_yet_filed(session: Session, order_no: str, *, latest: bool = False) -> Case | None:
        # as a racing request sees it: the order not filed yet when it looked
        return looked_for(session, order_no, latest=True) if latest else None

    monkeypatch.setattr(hotline_service, "_case_of_order", not_yet_filed)
    again, created = intake_order(session, work_order, client_name="热线", now=NOW)
    assert not created and again.id == first.id
    assert written() == before
    monkeypatch.undo()
    following, created = intake_order(session, order(order_no="RACE-COST-2"), client_name="热线", now=NOW)
    assert created and following.tracking_no == f"QP{day}-{int(first.tracking_no[-4:]) + 1:04d}"
