"""Filing reads the category, the estate, its town and the town's squad from rows kept per process
(backend/cache.py) and writes the case through Core: a change to any of those rows is seen by the next filing,
the session holds what filing used and wrote as if it had read it, and reading the filed case back (its
category, estate, town, squad, timeline and photos) sends no statement."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.cases.models import Case, CaseStatus, Priority
from backend.cases.services.filing import ReportInput, submit_report, suggest_category
from backend.org.models import Estate, Squad, Town
from backend.taxonomy.models import Category
from tests.support.accounts import make_resident
from tests.support.cases import NOW, report
from tests.support.statements import Sent
from tests.support.uploads import stored_upload


def _estate(session: Session, name: str) -> Estate:
    estate = session.scalar(select(Estate).where(Estate.name == name))
    assert estate is not None
    return estate


def test_a_change_to_a_category_is_seen_by_the_next_filing(session: Session) -> None:
    user, _ = make_resident(session, "kept_category")
    estate = _estate(session, "康虹花园")
    before = report(session, user, estate_id=estate.id, category="illegal_construction")
    assert before.onsite_due_at == NOW + dt.timedelta(hours=24)
    category = session.get_one(Category, "illegal_construction")
    category.onsite_hours = 48
    category.name = "违法搭建（改）"
    session.flush()
    after = report(session, user, estate_id=estate.id, category="illegal_construction")
    assert after.onsite_due_at == NOW + dt.timedelta(hours=48)
    assert after.category is not None and after.category.name == "违法搭建（改）"
    guessed = report(session, user, estate_id=estate.id)  # the keyword guess: the same kept rows
    assert guessed.category is category and guessed.onsite_due_at == NOW + dt.timedelta(hours=48)


def test_a_change_to_an_estate_its_town_or_squad_is_seen_by_the_next_filing(session: Session) -> None:
    user, _ = make_resident(session, "kept_estate")
    estate = _estate(session, "康虹花园")
    first = report(session, user, estate_id=estate.id)
    assert first.priority == Priority.HIGH and first.squad is not None and first.squad.name == "徐泾中队"
    estate.is_key = False
    zhaoxiang = session.scalar(select(Town).where(Town.code == "zhaoxiang"))
    assert zhaoxiang is not None and zhaoxiang.squad is not None
    zhaoxiang.squad.name = "赵巷中队（改）"
    estate.town = zhaoxiang
    session.flush()
    session.expunge_all()  # as the next request: a session that holds nothing yet
    moved = report(session, session.get_one(type(user), user.id), estate_id=estate.id)
    assert moved.priority == Priority.NORMAL
    assert moved.town is not None and moved.town.code == "zhaoxiang"
    assert moved.squad is not None and moved.squad.name == "赵巷中队（改）"
    assert [e.note for e in moved.events if e.action == "dispatch"] == ["按小区所属街镇派至赵巷中队（改）"]


def test_a_report_by_town_is_dispatched_to_the_squad_kept_for_it(session: Session) -> None:
    user, _ = make_resident(session, "kept_town")
    case = report(session, user, address="徐泾镇某路1号", town="徐泾")
    assert case.status == CaseStatus.DISPATCHED and case.squad is not None and case.squad.name == "徐泾中队"
    squad = session.scalar(select(Squad).where(Squad.name == "徐泾中队"))
    assert squad is not None
    squad.name = "徐泾中队（改）"
    session.flush()
    session.expunge_all()
    again = report(session, session.get_one(type(user), user.id), address="徐泾镇某路2号", town="xujing")
    assert again.squad is not None and again.squad.name == "徐泾中队（改）"


def test_filing_uses_the_rows_the_session_holds(session: Session) -> None:
    user, _ = make_resident(session, "kept_held")
    estate = _estate(session, "康虹花园")
    category = session.get_one(Category, "illegal_construction")
    case = report(session, user, estate_id=estate.id, category="illegal_construction")
    assert case.estate is estate and case.category is category and case.town is estate.town
    assert suggest_category(session, "楼顶有人在搭建阳光房") is category
    assert session.get(Case, case.id) is case


def test_the_filed_case_reads_back_without_a_statement(session: Session, sent: Sent) -> None:
    user, _ = make_resident(session, "kept_read_back")
    upload = stored_upload(session, user.id)
    estate_id = _estate(session, "康虹花园").id
    session.flush()
    session.expunge_all()
    resident = session.get_one(type(user), user.id)
    case, created = submit_report(
        session,
        resident,
        ReportInput(
            description="楼顶有人在搭建阳光房，已经搭了一半", estate_id=estate_id, photo_ids=[upload]
        ),
        now=NOW,
    )
    assert created
    sent.start()
    read = (
        case.id,
        case.tracking_no,
        case.category.name if case.category else None,
        case.estate.name if case.estate else None,
        case.town.name if case.town else None,
        case.squad.name if case.squad else None,
        case.reporter.id if case.reporter else None,
        [(e.id, e.action, e.to_status, e.data, e.case is case) for e in case.events],
        [(p.id, p.upload_id, p.upload.owner_id, p.case is case) for p in case.photos],
        case.assignee,
        case.parent,
        case.public_reply,
        case.supporter_count,
        case.rating,
        case.onsite_at,
    )
    session.flush()  # nothing held is changed: nothing to write
    assert sent.stop() == [], read
    assert [e[1] for e in read[7]] == ["submit", "dispatch"] and all(e[0] for e in read[7])
    assert read[8][0][1:] == (upload, user.id, True) and read[8][0][0]
    assert (read[11], read[12], read[13], read[14]) == ("", 0, None, None)
    # and it is what the database holds
    fresh = session.scalars(
        select(Case).where(Case.id == case.id).execution_options(populate_existing=True)
    ).one()
    assert fresh is case and [e.action for e in fresh.events] == ["submit", "dispatch"]
