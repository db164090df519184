"""The console's case exports over HTTP: streamed CSV and Excel, what each role gets, the audit, bad filters."""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

import openpyxl
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.audit.models import AuditEntry
from backend.cases.models import Case
from backend.db import get_read_session
from backend.org.models import Squad
from backend.stats.exports import COLUMNS, PERSONAL_COLUMNS
from tests.support.console import a_case, login

BOM = "\ufeff".encode()
PHONE = "13912345678"


@pytest.fixture
def towns(session: Session) -> dict[str, Case]:
    """A case in 徐泾 and one in 夏阳, each with the reporter's phone and room."""
    return {
        "xujing": a_case(session, "康虹花园", contact_phone=PHONE, room="甲301"),
        "xiayang": a_case(session, "新青浦花苑", contact_phone=PHONE, room="甲302"),
    }


def squad(session: Session, code: str) -> Squad:
    return session.scalar(select(Squad).where(Squad.code == code))


def csv_of(client: FlaskClient, query: str = "") -> list[dict[str, str]]:
    response = client.get(f"/console/stats/export.csv{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    data = response.get_data()
    assert data.startswith(BOM)
    return list(csv.DictReader(io.StringIO(data[len(BOM) :].decode("utf-8"))))


def exports_audited(session: Session) -> list[AuditEntry]:
    session.expire_all()
    return list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action.in_(["case.export", "case.export_personal"]))
            .order_by(AuditEntry.id)
        )
    )


def test_the_csv_is_streamed_with_a_bom_and_a_chinese_file_name(
    client: FlaskClient, session: Session, accounts, towns
) -> None:
    login(client, "t_supervisor")
    response = client.get("/console/stats/export.csv")
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="cases-') and disposition.endswith(".csv")
    assert f"filename*=UTF-8''{quote('工单导出-')}" in disposition
    data = response.get_data()
    assert data.startswith(BOM + "工单号,来源".encode())
    rows = list(csv.DictReader(io.StringIO(data[len(BOM) :].decode("utf-8"))))
    assert {row["工单号"] for row in rows} >= {case.tracking_no for case in towns.values()}
    assert PHONE.encode() not in data and "联系电话".encode() not in data


def test_the_bureau_gets_personal_data_when_it_asks_and_it_is_audited(
    client: FlaskClient, session: Session, accounts, towns
) -> None:
    login(client, "t_admin")
    town = towns["xiayang"].town_id
    plain = csv_of(client, f"?town={town}")
    assert [row["工单号"] for row in plain] == [towns["xiayang"].tracking_no]
    assert tuple(plain[0]) == COLUMNS

    personal = csv_of(client, f"?town={town}&personal=1")
    assert tuple(personal[0]) == COLUMNS + PERSONAL_COLUMNS
    assert (personal[0]["联系电话"], personal[0]["室号"]) == (PHONE, "甲302")

    first, second = exports_audited(session)
    assert (first.action, first.target_type, first.target_id) == (
        "case.export",
        "case_export",
        f"town={town}",
    )
    assert first.detail == {"format": "csv", "filter": {"town": str(town)}, "personal": False}
    assert first.actor_id == accounts["admin"].id
    assert (second.action, second.detail["personal"]) == ("case.export_personal", True)


def test_a_squad_leader_exports_only_their_squads_cases_without_personal_data(
    client: FlaskClient, session: Session, accounts, towns
) -> None:
    login(client, "t_leader")  # 徐泾中队
    rows = csv_of(client, "?personal=1")
    assert [row["工单号"] for row in rows] == [towns["xujing"].tracking_no]
    assert tuple(rows[0]) == COLUMNS
    own = csv_of(client, f"?squad={squad(session, 'xujing').id}")
    assert [row["工单号"] for row in own] == [towns["xujing"].tracking_no]

    (entry, _) = exports_audited(session)
    xujing_town = squad(session, "xujing").town_id
    assert entry.action == "case.export" and entry.detail["filter"] == {"town": str(xujing_town)}

    xiayang = squad(session, "xiayang")
    for query in (f"?town={xiayang.town_id}", f"?squad={xiayang.id}"):
        for kind in ("csv", "xlsx"):
            response = client.get(f"/console/stats/export.{kind}{query}")
            assert response.status_code == 403, (query, kind)
            assert "只能导出本中队的工单" in response.get_data(as_text=True)
    assert len(exports_audited(session)) == 2  # the refused ones took nothing


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?start=2026-13-01", ""),
        ("?start=not-a-date", ""),
        ("?start=2026-05-01&end=2026-04-01", "开始日期不能晚于结束日期"),
        ("?phase=winter", "未知的阶段"),
        ("?town=99999999999999999999", ""),
    ],
)
def test_a_bad_filter_is_a_400_page_in_chinese(
    client: FlaskClient, session: Session, accounts, query: str, message: str
) -> None:
    login(client, "t_supervisor")
    for kind in ("csv", "xlsx"):
        response = client.get(f"/console/stats/export.{kind}{query}")
        assert response.status_code == 400, (query, kind)
        page = response.get_data(as_text=True)
        assert message in page and "<html" in page.lower()
    assert exports_audited(session) == []


def test_the_excel_export_opens_with_the_rows_and_its_count_is_audited(
    client: FlaskClient, session: Session, accounts, towns
) -> None:
    login(client, "t_supervisor")
    town = towns["xujing"].town_id
    response = client.get(f"/console/stats/export.xlsx?town={town}&personal=1")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert f"filename*=UTF-8''{quote('工单导出-')}" in response.headers["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.get_data()), read_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert rows[0] == COLUMNS + PERSONAL_COLUMNS
    assert [row[0] for row in rows[1:]] == [towns["xujing"].tracking_no]
    assert dict(zip(rows[0], rows[1], strict=True))["联系电话"] == PHONE

    (entry,) = exports_audited(session)
    assert entry.action == "case.export_personal"
    assert entry.detail == {"format": "xlsx", "filter": {"town": str(town)}, "personal": True, "rows": 1}


@pytest.fixture
def read_sessions(monkeypatch: pytest.MonkeyPatch) -> list[Session]:
    """The read sessions the export views take, to see that none is left open when a download ends."""
    import backend.console.views.exports as views

    taken: list[Session] = []

    def spy() -> Session:
        taken.append(get_read_session())
        return taken[-1]

    monkeypatch.setattr(views, "get_read_session", spy)
    return taken


def test_no_read_session_is_left_open_after_a_download(
    client: FlaskClient, session: Session, accounts, towns, read_sessions: list[Session]
) -> None:
    login(client, "t_supervisor")
    response = client.get("/console/stats/export.csv")
    assert len(list(csv.reader(io.StringIO(response.get_data(as_text=True))))) >= 3
    response.close()
    assert len(read_sessions) == 2  # the scope check's, and the stream's, taken as it began
    assert not any(s.in_transaction() for s in read_sessions)


def test_a_download_stopped_halfway_closes_its_session(
    client: FlaskClient,
    session: Session,
    accounts,
    towns,
    read_sessions: list[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("backend.stats.exports.CHUNK_ROWS", 1)
    login(client, "t_supervisor")
    response = client.get("/console/stats/export.csv")
    chunks = iter(response.response)
    assert next(chunks).startswith(BOM) and len(read_sessions) == 1  # the header, sent before the query
    assert next(chunks)  # the first row
    assert len(read_sessions) == 2 and read_sessions[-1].in_transaction()  # reading
    response.close()  # the client went away
    assert not any(s.in_transaction() for s in read_sessions)
    assert len(csv_of(client)) >= 2  # the next request reads as usual
    assert len(exports_audited(session)) == 2
