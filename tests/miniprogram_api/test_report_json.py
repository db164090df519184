"""The JSON of a resident's reports is written as a plain dict (miniprogram_api/reports.py:_report), not
through ReportOut: here it is held to what ReportOut and ReportPage write from the same case, byte for byte,
for the list, the detail and the answers of filing, withdrawing and rating, for a reporter and for a
supporter, along the branches of a case's life (no estate nor squad, anonymous, internal notes and staff
photos, a rating that reopens it, a transfer, a merge, a withdrawal, instants with and without
microseconds)."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from itsdangerous import TimestampSigner
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.cases.models import Case, CasePhoto, CaseStatus, PhotoKind
from backend.cases.services.life import add_note, rate_case, support_case, transition, withdraw_case
from backend.cases.services.reads import (
    get_case,
    list_resident_cases,
    list_resident_reports,
    read_case_for_resident,
)
from backend.cases.services.timeline import photos_for_resident, public_events, public_text
from backend.cases.workflow import STATUS_LABELS, Actor, Role, allowed_transitions
from backend.errors import NotFound
from backend.uploads.services import sign_upload, store_upload
from miniprogram_api.schemas import (
    CategoryRef,
    Deadlines,
    EstateRef,
    Pagination,
    PhotoOut,
    ReportOut,
    ReportPage,
    SquadRef,
    TimelineItem,
)
from tests.miniprogram_api.test_read_cost import one_estate_per_town
from tests.support.accounts import make_resident
from tests.support.cases import NOW, officer, report
from tests.support.mp_api import API, auth, png_bytes, valid_report


@pytest.fixture(autouse=True)
def one_signing_second(monkeypatch: pytest.MonkeyPatch) -> None:
    """A photo's URL carries the second it was signed in: the view and the reference sign in the same one, or
    a test that straddles a second compares two valid signatures that differ."""
    second = int(time.time())
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda _signer: second)


def reference(app: Flask, case: Case, user: User, *, detail: bool = True) -> ReportOut:
    """ReportOut built from a Case as the views built it before they wrote the dict themselves."""
    mine = case.reporter_id == user.id
    status = CaseStatus(case.status)
    own = {}
    if mine:
        allowed = allowed_transitions(
            status, Actor(Role.RESIDENT, user.id), reporter_id=user.id, squad_id=case.squad_id
        )
        own = {
            "address": case.address,
            "unit": case.unit,
            "room": case.room,
            "description": case.description,
            "anonymous": case.anonymous,
            "contact_phone": case.contact_phone,
            "rating": case.rating,
            "can_withdraw": "withdraw" in allowed,
            "can_rate": "rate" in allowed,
        }
    out = ReportOut(
        tracking_no=case.tracking_no,
        status=case.status,
        status_label=STATUS_LABELS[status],
        category=CategoryRef(code=case.category.code, name=case.category.name) if case.category else None,
        category_confirmed=case.category_confirmed,
        squad=SquadRef(name=case.squad.name) if case.squad else None,
        due_at=case.onsite_due_at,
        deadlines=Deadlines(
            sign_due_at=case.sign_due_at, onsite_due_at=case.onsite_due_at, handle_due_at=case.handle_due_at
        ),
        created_at=case.created_at,
        mine=mine,
        public_reply=case.public_reply,
        supporter_count=case.supporter_count,
        estate=EstateRef(id=case.estate.id, name=case.estate.name) if case.estate else None,
        building=case.building,
        **own,
    )
    if detail:
        out.timeline = [
            TimelineItem(
                action=e.action,
                status=e.to_status,
                text=public_text(case, e, for_reporter=mine),
                at=e.created_at,
            )
            for e in public_events(case)
        ]
        secret = app.config["SECRET_KEY"]
        with app.test_request_context():
            out.photos = [
                PhotoOut(
                    id=p.upload_id,
                    url=url_for("mp.get_upload", upload_id=p.upload_id, sig=sign_upload(p.upload_id, secret)),
                    kind=p.kind,
                )
                for p in photos_for_resident(case, user)
            ]
    return out


def fresh(session: Session, number: str) -> Case:
    session.expire_all()
    return get_case(session, number)


def assert_detail_as_reference(
    app: Flask, client: FlaskClient, session: Session, viewer, number: str
) -> dict:
    user, token = viewer
    answer = client.get(f"{API}/reports/{number}", headers=auth(token))
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_data() == reference(app, fresh(session, number), user).model_dump_json().encode()
    return answer.get_json()


def assert_list_as_reference(app: Flask, client: FlaskClient, session: Session, viewer, **query: int) -> dict:
    user, token = viewer
    answer = client.get(API + "/reports", query_string=query, headers=auth(token))
    assert answer.status_code == 200, answer.get_json()
    page = list_resident_cases(session, user, page=query.get("page", 1), per_page=query.get("per_page", 20))
    expected = ReportPage(
        data=[reference(app, fresh(session, c.tracking_no), user, detail=False) for c in page.items],
        pagination=Pagination(page=page.page, per_page=page.per_page, total=page.total, pages=page.pages),
    )
    assert answer.get_data() == expected.model_dump_json().encode()
    return answer.get_json()


def staff_photos(app: Flask, session: Session, case: Case) -> None:
    for kind, color in [
        (PhotoKind.NOTE, "green"),
        (PhotoKind.PROPERTY, "blue"),
        (PhotoKind.RESOLUTION, "white"),
    ]:
        stored = store_upload(session, app.extensions["storage"], None, png_bytes(color))
        case.photos.append(CasePhoto(upload_id=stored.id, kind=kind, position=len(case.photos)))


def test_the_detail_and_the_list_write_what_report_out_would(
    app, client: FlaskClient, session: Session, resident
) -> None:
    user, token = resident
    supporter = make_resident(session, "jsonsupporter")
    estates = one_estate_per_town(session, 2)
    own = store_upload(session, app.extensions["storage"], user.id, png_bytes("red"))
    odd = NOW + dt.timedelta(microseconds=123_456)  # an instant with microseconds, beside whole seconds
    handled = report(
        session,
        user,
        estate_id=estates[0],
        building="8",
        unit="2",
        room="301",
        contact_phone="13812345678",
        photo_ids=[own.id],
        client_request_id="json-0001",
        now=odd,
    )
    support_case(session, handled, supporter[0])
    worker = officer(session, handled.squad.code)
    for name in ("sign", "investigate"):
        transition(session, handled, name, worker, now=odd)
    add_note(session, handled, worker, "当事人态度恶劣，内部备注")
    staff_photos(app, session, handled)
    transition(session, handled, "verify", worker)
    transition(session, handled, "handle", worker, action="demolition")
    transition(session, handled, "resolve", worker, public_reply="违法搭建已拆除")
    rate_case(session, handled, user, "unsatisfied")  # reopened: 已退回重新处置
    # no estate, so no squad yet; anonymous, without a phone
    nowhere = report(session, user, address="外青松公路某处", anonymous=True, client_request_id="json-0002")
    transferred = report(
        session, user, estate_id=estates[1], category="garbage_sorting", client_request_id="json-0003"
    )
    support_case(session, transferred, supporter[0])
    other = officer(session, transferred.squad.code)
    transition(session, transferred, "sign", other)
    transition(session, transferred, "transfer", other, department="housing")
    transition(session, transferred, "record_transfer_reply", other, public_reply="住建部门已处理")
    merged = report(session, user, estate_id=estates[0], client_request_id="json-0004")
    transition(session, merged, "merge", worker, parent=handled)
    withdrawn = report(session, user, estate_id=estates[1], client_request_id="json-0005")
    support_case(session, withdrawn, supporter[0])
    withdraw_case(session, withdrawn, user, "已自行解决")
    session.commit()

    for case in (handled, nowhere, transferred, merged, withdrawn):
        mine = assert_detail_as_reference(app, client, session, (user, token), case.tracking_no)
        assert mine["mine"] is True and mine["timeline"]
    for case in (handled, transferred, withdrawn):
        theirs = assert_detail_as_reference(app, client, session, supporter, case.tracking_no)
        assert theirs["mine"] is False and theirs["contact_phone"] is None
    texts = [
        t["text"]
        for t in assert_detail_as_reference(app, client, session, supporter, handled.tracking_no)["timeline"]
    ]
    assert "反映人已评价，已退回重新处置" in texts and "内部备注" not in json.dumps(texts, ensure_ascii=False)

    body = assert_list_as_reference(app, client, session, (user, token))
    assert len(body["data"]) == 5
    assert any(r["squad"] is None and r["estate"] is None for r in body["data"])
    for page in (1, 2, 3):
        assert_list_as_reference(app, client, session, (user, token), page=page, per_page=2)
    assert assert_list_as_reference(app, client, session, supporter)["data"] == []  # supported, not theirs


def test_filing_withdrawing_and_rating_answer_what_report_out_would(
    app, client: FlaskClient, session: Session, resident
) -> None:
    user, token = resident
    filed = client.post(API + "/reports", json=valid_report(session), headers=auth(token))
    assert filed.status_code == 201
    number = filed.get_json()["tracking_no"]
    expected = reference(app, fresh(session, number), user).model_dump(mode="json")
    assert {**filed.get_json(), "related_articles": []} == expected

    withdrawn = client.post(
        f"{API}/reports/{number}/withdraw", json={"reason": "已解决"}, headers=auth(token)
    )
    assert withdrawn.status_code == 200
    assert withdrawn.get_json() == reference(app, fresh(session, number), user).model_dump(mode="json")

    second = client.post(
        API + "/reports", json=valid_report(session, client_request_id="req-json0002"), headers=auth(token)
    ).get_json()["tracking_no"]
    case = fresh(session, second)
    worker = officer(session, case.squad.code)
    for name in ("sign", "investigate", "verify"):
        transition(session, case, name, worker)
    transition(session, case, "resolve", worker, public_reply="已拆除")
    session.commit()
    rated = client.post(f"{API}/reports/{second}/rating", json={"score": "satisfied"}, headers=auth(token))
    assert rated.status_code == 200
    assert rated.get_json() == reference(app, fresh(session, second), user).model_dump(mode="json")
    assert rated.get_json()["rating"] == "satisfied"


def test_the_plain_reads_find_and_refuse_as_the_orm_reads_do(session: Session, resident) -> None:
    user, _token = resident
    stranger, _ = make_resident(session, "jsonstranger")
    cases = [
        report(session, user, estate_id=one_estate_per_town(session, 1)[0], client_request_id=f"json-{i:04d}")
        for i in range(4)
    ]
    for page, per_page in [(1, 5), (1, 4), (2, 4), (2, 3), (9, 2)]:
        shown = list_resident_reports(session, user, page=page, per_page=per_page)
        loaded = list_resident_cases(session, user, page=page, per_page=per_page)
        assert [c.tracking_no for c in shown.items] == [c.tracking_no for c in loaded.items]
        assert (shown.total, shown.pages) == (loaded.total, loaded.pages)
    read = read_case_for_resident(session, cases[0].tracking_no, user)
    assert read.tracking_no == cases[0].tracking_no and read.created_at == cases[0].created_at
    assert read.created_at.tzinfo is not None and [e.action for e in read.events] == ["submit", "dispatch"]
    for who, number in [(stranger, cases[0].tracking_no), (user, "QP20991231-0001"), (user, "not-a-number")]:
        with pytest.raises(NotFound) as refused:
            read_case_for_resident(session, number, who)
        assert refused.value.code == "case_not_found"
