"""Patrols over the mini-program API: bound property staff file them with photos from the upload endpoint,
follow their findings and the cases they became, put them right or report them; nobody else may."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.cases.models import Case, PhotoKind
from backend.clock import MovableClock
from backend.property.models import PatrolFinding
from backend.workcalendar import SHANGHAI
from tests.support.accounts import make_resident
from tests.support.mp_api import API, auth, estate_id, png_bytes
from tests.support.property import bind, make_company, make_property_staff

NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=SHANGHAI)
HOUR = dt.timedelta(hours=1)
COMPANY = "青浦佳园物业服务有限公司"


@pytest.fixture
def clock(app, monkeypatch) -> MovableClock:
    clock = MovableClock(NOW)
    monkeypatch.setitem(app.extensions, "clock", clock)
    return clock


@pytest.fixture
def staff_token(session: Session) -> str:
    company = make_company(session, COMPANY, ["康虹花园"])
    _user, token = bind(session, make_property_staff(session, company, name="巡查员小王"))
    session.commit()
    return token


@pytest.fixture
def other_token(session: Session) -> str:
    company = make_company(session, "另一家物业有限公司", ["新华联雅苑"])
    _user, token = bind(session, make_property_staff(session, company))
    session.commit()
    return token


def upload(client: FlaskClient, token: str, color: str = "red") -> str:
    response = client.post(
        API + "/uploads", data={"file": (io.BytesIO(png_bytes(color)), "p.png")}, headers=auth(token)
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def patrol_body(session: Session, **overrides: object) -> dict:
    return {
        "estate_id": estate_id(session, "康虹花园"),
        "areas": ["1-12号楼楼道", "屋顶平台"],
        "findings": [
            {
                "category": "illegal_construction",
                "description": "12号楼露台有人搭建彩钢板房，劝阻无效",
                "action": "reported",
                "building": "12",
                "unit": "2",
                "room": "1502",
            },
            {
                "category": "common_area_occupation",
                "description": "3号楼楼道堆放大量杂物，已劝阻",
                "action": "dissuaded",
                "building": "3",
                "common_area": "楼道",
            },
        ],
        "client_request_id": "patrol-abcdefgh",
        **overrides,
    }


def file(client: FlaskClient, token: str, body: dict):
    return client.post(API + "/patrols", json=body, headers=auth(token))


def test_file_a_patrol_whose_reported_finding_reaches_the_squad(
    client: FlaskClient, session: Session, staff_token: str, clock: MovableClock
) -> None:
    photos = [upload(client, staff_token, "red"), upload(client, staff_token, "blue")]
    body = patrol_body(session)
    body["findings"][0]["photos"] = photos
    response = file(client, staff_token, body)
    assert response.status_code == 201, response.get_json()
    patrol = response.get_json()
    assert patrol["patrolled_at"].startswith("2026-11-26T02:00") and not patrol["late"]
    assert patrol["patroller"] == "巡查员小王" and patrol["estate"]["name"] == "康虹花园"
    reported, dissuaded = patrol["findings"]
    assert reported["state"] == "reported" and reported["case"]["status_label"] == "已派单"
    assert reported["place"] == "12号楼2单元1502室" and reported["action_label"] == "上报"
    assert [p["id"] for p in reported["photos"]] == photos
    assert client.get(reported["photos"][0]["url"]).status_code == 200  # a signed link the page can show
    assert dissuaded["state"] == "waiting" and dissuaded["can_rectify"] and dissuaded["can_report"]
    assert dissuaded["report_due_at"].startswith("2026-11-27T02:00") and dissuaded["case"] is None

    case = session.scalar(select(Case).where(Case.tracking_no == reported["case"]["tracking_no"]))
    assert (
        case.squad.name == "徐泾中队" and case.source == "property_report" and case.source_detail == COMPANY
    )
    assert case.created_at == NOW and case.onsite_due_at == NOW + 24 * HOUR
    assert [(p.upload_id, p.kind) for p in case.photos] == [(p, PhotoKind.PROPERTY) for p in photos]

    # the network dropped the answer: the retry is the same patrol, and no second case
    again = file(client, staff_token, body)
    assert again.status_code == 200 and again.get_json()["id"] == patrol["id"]
    assert len(session.scalars(select(Case).where(Case.source_detail == COMPANY)).all()) == 1

    listed = client.get(API + "/patrols", headers=auth(staff_token)).get_json()
    assert [(p["id"], p["finding_count"], p["reported_count"]) for p in listed["data"]] == [
        (patrol["id"], 2, 1)
    ]
    detail = client.get(f"{API}/patrols/{patrol['id']}", headers=auth(staff_token)).get_json()
    assert unsigned(detail) == unsigned(
        again.get_json()
    )  # a photo's signature carries the second it was made


def unsigned(patrol: dict) -> dict:
    """A patrol as the API gave it, its photos' links without their timed signatures."""
    findings = [
        {**f, "photos": [{**p, "url": p["url"].split("?")[0]} for p in f["photos"]]}
        for f in patrol["findings"]
    ]
    return {**patrol, "findings": findings}


def test_a_neighbour_following_the_case_sees_neither_the_companys_photos_nor_its_words(
    client: FlaskClient, session: Session, staff_token: str, clock: MovableClock
) -> None:
    photo = upload(client, staff_token)
    body = patrol_body(session)
    body["findings"][0]["photos"] = [photo]
    number = file(client, staff_token, body).get_json()["findings"][0]["case"]["tracking_no"]
    _neighbour, token = make_resident(session, "邻居")
    session.commit()
    assert client.get(f"{API}/reports/{number}", headers=auth(token)).status_code == 404
    assert client.post(f"{API}/reports/{number}/support", headers=auth(token)).status_code == 200
    seen = client.get(f"{API}/reports/{number}", headers=auth(token)).get_json()
    assert seen["photos"] == [] and seen["description"] == ""
    assert COMPANY not in str(seen) and "巡查" not in str(seen)
    assert client.get(f"{API}/uploads/{photo}", headers=auth(token)).status_code == 404


def test_rectify_and_report_a_finding(
    client: FlaskClient, session: Session, staff_token: str, clock: MovableClock
) -> None:
    body = patrol_body(session)
    body["findings"][0]["action"] = "dissuaded"
    patrol = file(client, staff_token, body).get_json()
    first, second = (f["id"] for f in patrol["findings"])

    clock.advance(3 * HOUR)
    done = client.post(f"{API}/patrols/findings/{first}/rectify", headers=auth(staff_token))
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["findings"][0]["state"] == "rectified"
    reported = client.post(f"{API}/patrols/findings/{second}/report", headers=auth(staff_token))
    assert reported.status_code == 200
    case = reported.get_json()["findings"][1]["case"]
    assert case["status"] == "dispatched" and case["public_reply"] == ""

    refused = client.post(f"{API}/patrols/findings/{second}/rectify", headers=auth(staff_token))
    assert refused.status_code == 409 and refused.get_json()["code"] == "finding_reported"
    assert case["tracking_no"] in refused.get_json()["message"]
    twice = client.post(f"{API}/patrols/findings/{first}/report", headers=auth(staff_token))
    assert twice.status_code == 409 and twice.get_json()["message"] == "该发现已整改，无需上报"


def test_a_patrol_filed_late_keeps_its_time_and_a_dissuasion_older_than_24_hours_is_reported(
    client: FlaskClient, session: Session, staff_token: str, clock: MovableClock
) -> None:
    body = patrol_body(session, patrolled_at="2026-11-25T04:00:00+08:00")
    response = file(client, staff_token, body)
    assert response.status_code == 201, response.get_json()
    patrol = response.get_json()
    assert patrol["late"] and patrol["findings"][1]["found_at"].startswith("2026-11-24T20:00")
    assert patrol["findings"][1]["state"] == "reported"
    finding = session.get(PatrolFinding, patrol["findings"][1]["id"])
    assert finding.reported_at - finding.found_at == 30 * HOUR


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"patrolled_at": "2026-11-26T09:00:00"}, "patrolled_at", "须注明时区"),
        ({"patrolled_at": "2026-11-26T11:00:00+08:00"}, "patrolled_at", "巡查时间不能晚于现在"),
        ({"patrolled_at": "2026-11-01T09:00:00+08:00"}, "patrolled_at", "只能补录 7 天内的巡查记录"),
        ({"areas": []}, "areas", "至少 1 项"),
        ({"estate_id": None}, "estate_id", "必填"),
    ],
)
def test_a_patrol_is_validated_in_chinese(
    client: FlaskClient,
    session: Session,
    staff_token: str,
    clock: MovableClock,
    change: dict,
    field: str,
    message: str,
) -> None:
    body = {k: v for k, v in {**patrol_body(session), **change}.items() if v is not None}
    response = file(client, staff_token, body)
    assert response.status_code == 400, response.get_json()
    errors = {e["field"]: e["message"] for e in response.get_json()["errors"]}
    assert errors.get(field, "").startswith(message), errors


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"action": "ignored"}, "findings.0.action", "应为以下之一：劝阻、制止、已整改、上报"),
        ({"category": "property_negligence"}, "findings.0.category", "应为以下之一：违法搭建"),
        ({"description": "太吵"}, "findings.0.description", "至少 10 个字符"),
        ({"building": "", "unit": "", "room": ""}, "findings.0.building", "请填写楼号"),
        ({"photos": ["0" * 32]}, "findings.0.photos", "照片不存在或已过期"),
    ],
)
def test_a_finding_is_validated_in_chinese(
    client: FlaskClient,
    session: Session,
    staff_token: str,
    clock: MovableClock,
    change: dict,
    field: str,
    message: str,
) -> None:
    body = patrol_body(session)
    body["findings"][0].update(change)
    response = file(client, staff_token, body)
    assert response.status_code == 400, response.get_json()
    errors = {e["field"]: e["message"] for e in response.get_json()["errors"]}
    assert errors.get(field, "").startswith(message), errors


def test_another_companys_staff_and_residents_can_neither_see_nor_act(
    client: FlaskClient, session: Session, staff_token: str, other_token: str, resident, clock: MovableClock
) -> None:
    photo = upload(client, staff_token)
    body = patrol_body(session)
    body["findings"][1]["photos"] = [photo]
    patrol = file(client, staff_token, body).get_json()
    finding = patrol["findings"][1]["id"]

    assert client.get(f"{API}/patrols/{patrol['id']}", headers=auth(other_token)).status_code == 404
    assert client.get(API + "/patrols", headers=auth(other_token)).get_json()["data"] == []
    for act in ("rectify", "report"):
        response = client.post(f"{API}/patrols/findings/{finding}/{act}", headers=auth(other_token))
        assert response.status_code == 404 and response.get_json()["code"] == "finding_not_found"
    assert client.get(f"{API}/uploads/{photo}", headers=auth(other_token)).status_code == 404
    # nor may they file a patrol of an estate they do not manage, or with someone else's photo
    theirs = file(client, other_token, patrol_body(session, client_request_id="other-abcdefgh"))
    assert theirs.status_code == 400 and theirs.get_json()["errors"][0]["field"] == "estate_id"
    stolen = patrol_body(
        session, estate_id=estate_id(session, "新华联雅苑"), client_request_id="steal-abcdefgh"
    )
    stolen["findings"][0]["photos"] = [photo]
    assert file(client, other_token, stolen).get_json()["errors"][0]["field"] == "findings.0.photos"

    _user, token = resident
    for method, path in (
        ("post", "/patrols"),
        ("get", "/patrols"),
        ("get", f"/patrols/{patrol['id']}"),
        ("post", f"/patrols/findings/{finding}/rectify"),
        ("post", f"/patrols/findings/{finding}/report"),
    ):
        kwargs = {"json": patrol_body(session)} if path == "/patrols" and method == "post" else {}
        response = getattr(client, method)(API + path, headers=auth(token), **kwargs)
        assert response.status_code == 403 and response.get_json()["code"] == "not_property_staff", path
        assert client.open(API + path, method=method.upper()).status_code == 401
    session.expire_all()
    assert session.get(PatrolFinding, finding).case_id is None


def test_the_patrol_endpoints_are_documented(client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").get_json()
    paths = spec["paths"]
    assert {"post", "get"} <= set(paths[API + "/patrols"])
    assert "get" in paths[API + "/patrols/{patrol_id}"]
    for act in ("rectify", "report"):
        operation = paths[f"{API}/patrols/findings/{{finding_id}}/{act}"]["post"]
        assert {"200", "401", "403", "404", "409"} <= set(operation["responses"])
    body = spec["components"]["schemas"]["PatrolBody"]
    assert {"estate_id", "areas", "client_request_id"} <= set(body["required"])
    assert body["properties"]["findings"]["maxItems"] == 20


def test_the_form_offers_the_companys_estates_and_the_categories_it_may_report(
    client: FlaskClient, staff_token: str, resident
) -> None:
    form = client.get(API + "/patrols/form", headers=auth(staff_token)).get_json()
    assert [e["name"] for e in form["estates"]] == ["康虹花园"]
    codes = {c["code"] for c in form["categories"]}
    assert "illegal_construction" in codes and "property_negligence" not in codes
    assert form["actions"] == [
        {"code": "dissuaded", "label": "劝阻"},
        {"code": "stopped", "label": "制止"},
        {"code": "rectified", "label": "已整改"},
        {"code": "reported", "label": "上报"},
    ]
    assert "屋顶平台" in form["common_areas"] and form["max_photos"] == 9 and form["max_age_days"] == 7
    _user, token = resident
    assert client.get(API + "/patrols/form", headers=auth(token)).status_code == 403
