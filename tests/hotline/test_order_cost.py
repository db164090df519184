"""What a 12345 work order reads and writes. Before the day's tracking counter: whether the order is known, its
town and estate, the catalog's version and the guessed category, the town's squad. From the counter to the end,
writes only, each table in one statement: the case, its two events, the audit entry. Over HTTP, the client's key
besides. An upper bound on the statements, so that a read repeated or a query per anything fails here; a known
order reads one row and writes nothing."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.audit.models import AuditEntry
from backend.cases.models import Case, CaseEvent, CaseStatus
from backend.hotline.services import create_client, intake_order
from backend.taxonomy.services import category_keywords
from tests.support.hotline import API, NOW, order, valid_order
from tests.support.statements import Sent

# Whether the order is known, the town, the estate, the catalog's version, the guessed category, the town's
# squad; the savepoint a racing copy of the order rolls back to, the counter; the audit entry, the case, its
# events; the savepoint released.
ORDER_STATEMENTS = 12
# Over HTTP the client's key besides, and neither the savepoints (there the tests' own recipe too) nor the
# category's guess (the order names its category: one read by key instead of two).
HTTP_STATEMENTS = 10
# A known order: the case it made.
KNOWN_STATEMENTS = 1


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
    category_keywords(session)  # the catalog as another request left it: built, not rebuilt here
    sent.start()
    case, created = intake_order(session, work_order, client_name="热线", now=NOW)
    statements = inserts_once(sent.stop())
    assert created and case.status == CaseStatus.DISPATCHED and case.squad is not None
    assert case.category_code == "illegal_construction"
    assert len(statements) <= ORDER_STATEMENTS, statements
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
    sent.start()
    response = client.post(API + "/orders", json=body, headers={"X-Api-Key": key})
    statements = inserts_once(sent.stop())
    assert response.status_code == 201, response.get_json()
    counted = [s for s in statements if not s.startswith(("SAVEPOINT", "RELEASE"))]
    assert len(counted) <= HTTP_STATEMENTS, counted
    case = session.scalars(select(Case).where(Case.external_ref == "COST-HTTP-1")).one()
    submit = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == "submit")
    ).one()
    assert submit.data["received_at"] == "2024-05-06T01:30:00+00:00"
