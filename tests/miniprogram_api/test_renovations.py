"""Renovation registrations over the mini-program API: bound property staff file and follow their company's,
nobody else's; residents ask about a flat and learn nothing of its owner; the schemas are documented."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.property.renovations import LOOKUPS_PER_DAY
from tests.support.accounts import make_resident
from tests.support.mp_api import API, auth, estate_id, png_bytes
from tests.support.property import bind, make_company, make_property_staff
from tests.support.renovations import checklist

TODAY = dt.date.today()  # the API's clock is the system's
OWNER, OWNER_PHONE, CREW_PHONE = "王秀英", "13812345678", "13987654321"


@pytest.fixture
def tokens(session: Session) -> dict[str, str]:
    """Bearer tokens: staff of the company managing 康虹花园, staff of another company, a resident."""
    mine = make_property_staff(session, make_company(session, "安居物业", ["康虹花园"]), name="李管家")
    other = make_property_staff(session, make_company(session, "邻家物业", ["宜达新居"]), name="赵管家")
    _user, mine_token = bind(session, mine)
    _user, other_token = bind(session, other)
    _user, resident_token = make_resident(session, "neighbour")
    session.commit()
    return {"mine": mine_token, "other": other_token, "resident": resident_token}


def body(session: Session, **overrides: object) -> dict:
    return {
        "estate_id": estate_id(session),
        "building": "12",
        "unit": "2",
        "room": "1502",
        "owner_name": OWNER,
        "owner_phone": OWNER_PHONE,
        "contractor": "青浦安居装饰工程队",
        "contractor_phone": CREW_PHONE,
        "planned_start": (TODAY + dt.timedelta(days=3)).isoformat(),
        "planned_end": (TODAY + dt.timedelta(days=60)).isoformat(),
        "items": ["water_electric", "gas_pipes"],
        "client_request_id": "reno-00000001",
        **overrides,
    }


def test_staff_register_attach_a_permit_with_a_photo_start_and_complete(
    client: FlaskClient, session: Session, tokens: dict[str, str]
) -> None:
    mine = auth(tokens["mine"])
    created = client.post(API + "/renovations", json=body(session), headers=mine)
    assert created.status_code == 201, created.get_json()
    renovation = created.get_json()
    assert renovation["status"] == "waiting_permit" and renovation["status_label"] == "待补审批"
    assert renovation["missing_permits"] == ["gas_pipes"] and renovation["refusals"] == []
    assert renovation["owner_name"] == OWNER and renovation["flat"] == "12号楼2单元1502室"
    again = client.post(API + "/renovations", json=body(session), headers=mine)
    assert again.status_code == 200 and again.get_json()["id"] == renovation["id"]

    start = client.post(f"{API}/renovations/{renovation['id']}/start", json={}, headers=mine)
    assert start.status_code == 409 and "已登记" in start.get_json()["message"]

    photo = client.post(API + "/uploads", data={"file": (io.BytesIO(png_bytes()), "p.png")}, headers=mine)
    permit = {
        "item": "gas_pipes",
        "number": "RQ-2026-3",
        "authority": "上海燃气",
        "upload_id": photo.get_json()["id"],
    }
    attached = client.post(f"{API}/renovations/{renovation['id']}/permits", json=permit, headers=mine)
    assert attached.status_code == 200, attached.get_json()
    gas = next(i for i in attached.get_json()["items"] if i["code"] == "gas_pipes")
    assert attached.get_json()["status"] == "accepted" and gas["permit_number"] == "RQ-2026-3"
    assert client.get(gas["permit_photo_url"]).status_code == 200  # a signed link: an <image> tag can show it

    assert (
        client.post(
            f"{API}/renovations/{renovation['id']}/start", json={"note": "进场"}, headers=mine
        ).status_code
        == 200
    )
    done = client.post(f"{API}/renovations/{renovation['id']}/complete", json={}, headers=mine)
    assert done.status_code == 200 and done.get_json()["status"] == "completed"
    detail = client.get(f"{API}/renovations/{renovation['id']}", headers=mine).get_json()
    assert [e["action"] for e in detail["events"]] == [
        "submit",
        "wait_permit",
        "permit",
        "accept",
        "start",
        "complete",
    ]
    assert detail["events"][-2]["note"] == "进场" and detail["events"][1]["who"] == "系统"

    listed = client.get(API + "/renovations?status=completed&building=12号楼", headers=mine).get_json()
    assert [r["id"] for r in listed["data"]] == [renovation["id"]] and listed["data"][0]["events"] == []
    assert client.get(API + "/renovations?status=accepted", headers=mine).get_json()["data"] == []


def test_a_forbidden_item_is_refused_with_its_reasons(
    client: FlaskClient, session: Session, tokens: dict[str, str]
) -> None:
    response = client.post(
        API + "/renovations",
        json=body(session, items=["partition_wall", "balcony_wall"]),
        headers=auth(tokens["mine"]),
    )
    assert response.status_code == 201
    refused = response.get_json()
    item = checklist().by_code["balcony_wall"]
    assert refused["status"] == "refused" and refused["status_label"] == "不予登记"
    assert [(r["code"], r["name"], r["reason"]) for r in refused["refusals"]] == [
        ("balcony_wall", item.name, item.reason)
    ]
    assert "住宅室内装饰装修管理办法" in refused["refusals"][0]["basis"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"owner_phone": "12345"}, "owner_phone"),
        ({"contractor_phone": ""}, "contractor_phone"),
        ({"planned_start": "next monday"}, "planned_start"),
        ({"items": []}, "items"),
        ({"items": ["build_a_pool"]}, "items"),
        ({"building": ""}, "building"),
        ({"planned_end": TODAY.isoformat()}, "planned_end"),
        ({"estate_id": 2**31 - 1}, "estate_id"),
        ({"client_request_id": "x"}, "client_request_id"),
        ({"owner_id_card": "310..."}, "owner_id_card"),
    ],
)
def test_what_the_api_refuses(
    client: FlaskClient, session: Session, tokens: dict[str, str], overrides: dict, field: str
) -> None:
    response = client.post(
        API + "/renovations", json=body(session, **overrides), headers=auth(tokens["mine"])
    )
    assert response.status_code == 400, response.get_json()
    error = response.get_json()
    assert error["code"] == "validation_error" and any("\u4e00" <= c <= "\u9fff" for c in error["message"])
    assert field in {e["field"].split(".")[0] for e in error["errors"]}, error


def test_only_bound_staff_and_only_their_companys(
    client: FlaskClient, session: Session, tokens: dict[str, str]
) -> None:
    renovation = client.post(
        API + "/renovations", json=body(session), headers=auth(tokens["mine"])
    ).get_json()
    paths = [
        ("get", "/renovations", None),
        ("post", "/renovations", body(session, client_request_id="reno-resident")),
        ("get", f"/renovations/{renovation['id']}", None),
        (
            "post",
            f"/renovations/{renovation['id']}/permits",
            {"item": "gas_pipes", "number": "1", "authority": "燃气"},
        ),
        ("post", f"/renovations/{renovation['id']}/start", {}),
        ("post", f"/renovations/{renovation['id']}/complete", {}),
    ]
    for method, path, json_body in paths:
        resident = getattr(client, method)(API + path, json=json_body, headers=auth(tokens["resident"]))
        assert resident.status_code == 403 and resident.get_json()["code"] == "not_property_staff", path
        anonymous = getattr(client, method)(API + path, json=json_body)
        assert anonymous.status_code == 401, path
    for method, path, json_body in paths[2:]:
        other = getattr(client, method)(API + path, json=json_body, headers=auth(tokens["other"]))
        assert other.status_code == 404 and other.get_json()["code"] == "renovation_not_found", path
    theirs = client.get(API + "/renovations", headers=auth(tokens["other"])).get_json()
    assert theirs["data"] == [] and theirs["pagination"]["total"] == 0
    not_theirs = client.post(
        API + "/renovations",
        json=body(session, client_request_id="reno-other-01"),
        headers=auth(tokens["other"]),
    )
    assert not_theirs.status_code == 400 and not_theirs.get_json()["errors"][0]["field"] == "estate_id"


def test_a_permit_photo_must_be_the_staff_members_own(
    client: FlaskClient, session: Session, tokens: dict[str, str]
) -> None:
    renovation = client.post(
        API + "/renovations", json=body(session), headers=auth(tokens["mine"])
    ).get_json()
    photo = client.post(
        API + "/uploads", data={"file": (io.BytesIO(png_bytes()), "p.png")}, headers=auth(tokens["resident"])
    ).get_json()
    permit = {"item": "gas_pipes", "number": "RQ-1", "authority": "燃气", "upload_id": photo["id"]}
    response = client.post(
        f"{API}/renovations/{renovation['id']}/permits", json=permit, headers=auth(tokens["mine"])
    )
    assert response.status_code == 400 and response.get_json()["errors"][0]["field"] == "upload_id"


def test_a_resident_asks_about_a_flat_and_never_learns_who_lives_there(
    client: FlaskClient, session: Session, tokens: dict[str, str]
) -> None:
    renovation = client.post(
        API + "/renovations", json=body(session, items=["wall_floor_ceiling"]), headers=auth(tokens["mine"])
    ).get_json()
    waiting = client.post(
        API + "/renovations",
        json=body(session, room="801", items=["gas_pipes"], client_request_id="reno-00000002"),
        headers=auth(tokens["mine"]),
    ).get_json()
    assert renovation["status"] == "accepted" and waiting["status"] == "waiting_permit"
    neighbour = auth(tokens["resident"])
    where = f"estate_id={estate_id(session)}&building=12号楼&unit=2&room=1502"
    answer = client.get(f"{API}/renovations/flat?{where}", headers=neighbour)
    assert answer.status_code == 200
    assert answer.get_json() == {
        "registered": True,
        "flat": "12号楼2单元1502室",
        "status": "accepted",
        "status_label": "已登记",
        "planned_start": renovation["planned_start"],
        "planned_end": renovation["planned_end"],
        "items": [{"name": "墙面、地面、吊顶装饰", "approved": False}],
    }
    text = json.dumps(answer.get_json(), ensure_ascii=False)
    assert all(secret not in text for secret in (OWNER, OWNER_PHONE, CREW_PHONE, "安居装饰"))
    unregistered = client.get(
        f"{API}/renovations/flat?estate_id={estate_id(session)}&building=12&room=801", headers=neighbour
    )
    assert unregistered.get_json()["registered"] is False  # waiting for its permit: not registered
    for partial in ("building=12", "room=1502", "building=12&room="):
        refused = client.get(
            f"{API}/renovations/flat?estate_id={estate_id(session)}&{partial}", headers=neighbour
        )
        assert refused.status_code == 400, partial
    assert client.get(f"{API}/renovations/flat?{where}").status_code == 401


def test_a_resident_cannot_walk_an_estate_flat_by_flat(
    client: FlaskClient, session: Session, tokens: dict[str, str]
) -> None:
    neighbour = auth(tokens["resident"])
    for room in range(LOOKUPS_PER_DAY):
        url = f"{API}/renovations/flat?estate_id={estate_id(session)}&building=1&room={room + 101}"
        assert client.get(url, headers=neighbour).status_code == 200
    limited = client.get(
        f"{API}/renovations/flat?estate_id={estate_id(session)}&building=1&room=999", headers=neighbour
    )
    assert limited.status_code == 429 and limited.get_json()["code"] == "daily_lookup_limit"
    other = client.get(
        f"{API}/renovations/flat?estate_id={estate_id(session)}&building=1&room=999",
        headers=auth(tokens["other"]),
    )
    assert other.status_code == 200  # per person


def test_the_checklist_and_the_schemas_are_documented(client: FlaskClient, tokens: dict[str, str]) -> None:
    items = client.get(API + "/renovations/checklist", headers=auth(tokens["resident"])).get_json()["data"]
    assert [i["code"] for i in items] == [i.code for i in checklist().items]
    gas = next(i for i in items if i["code"] == "gas_pipes")
    assert (
        gas["verdict"] == "permit"
        and gas["permit"] == "燃气管道改装同意书"
        and gas["authority"] == "燃气供应企业"
    )
    assert gas["basis"] == [{"law": "住宅室内装饰装修管理办法", "article": "第六条"}]
    doc = client.get("/api/openapi.json").get_json()
    paths = doc["paths"]
    for path, methods in {
        "/renovations": {"get", "post"},
        "/renovations/{renovation_id}": {"get"},
        "/renovations/{renovation_id}/permits": {"post"},
        "/renovations/{renovation_id}/start": {"post"},
        "/renovations/{renovation_id}/complete": {"post"},
        "/renovations/flat": {"get"},
        "/renovations/checklist": {"get"},
    }.items():
        assert methods <= set(paths[API + path]), path
        for method in methods:
            assert paths[API + path][method]["tags"] == ["装修登记"], path
    schemas = doc["components"]["schemas"]
    assert {"RenovationBody", "RenovationOut", "PermitBody", "FlatAnswerOut", "ChecklistOut"} <= set(schemas)
    assert "owner_name" not in schemas["FlatAnswerOut"]["properties"]
    assert schemas["RenovationBody"]["properties"]["owner_phone"]["description"] == "业主电话（仅本公司可见）"
