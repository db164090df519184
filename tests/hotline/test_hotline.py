"""12345 work orders: clients and keys, intake and routing, idempotent imports, and the API over HTTP."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from backend.cases.models import Case, CaseEvent, CaseSource, CaseStatus, Priority
from backend.errors import Conflict, Unauthorized
from backend.hotline.models import HotlineClient
from backend.hotline.services import (
    UnreadableRow,
    authenticate_client,
    create_client,
    import_orders,
    intake_order,
)
from backend.org.models import Estate, EstateAlias, Town
from backend.queue import SESSION_KEY, JobQueue
from tests.support.hotline import (
    API,
    CALLER_NAME,
    CALLER_PHONE,
    NOW,
    cases_of,
    hotline_cases,
    order,
    valid_order,
)

# ------------------------------------------------------------------------------------- clients and keys


def test_a_client_key_is_shown_once_and_stored_as_a_hash(session: Session) -> None:
    client, key = create_client(session, "市民热线平台")
    assert len(key) >= 40
    assert key not in client.key_hash and len(client.key_hash) == 64
    assert authenticate_client(session, key) is client
    for wrong in ("", "x", key + "x", client.key_hash):
        with pytest.raises(Unauthorized) as raised:
            authenticate_client(session, wrong)
        assert raised.value.code == "invalid_api_key"
    client.active = False
    with pytest.raises(Unauthorized):
        authenticate_client(session, key)
    with pytest.raises(Conflict):
        create_client(session, " 市民热线平台 ")


# ---------------------------------------------------------------------------------- intake and routing


def test_an_order_is_filed_as_a_hotline_case_with_its_caller_for_staff_only(session: Session) -> None:
    case, created = intake_order(
        session,
        order(
            town="徐泾镇",
            address="徐泾镇某路100弄3号",
            category="illegal_construction",
            caller_name=CALLER_NAME,
            caller_phone=CALLER_PHONE,
            received_at="2024-05-06T09:30:00+08:00",
        ),
        client_name="上海12345",
        now=NOW,
    )
    assert created
    assert case.source == CaseSource.HOTLINE and case.external_ref == "GD-20240506-0001"
    assert case.source_detail == "12345（上海12345）"
    assert case.reporter is None and case.client_request_id is None
    assert case.reporter_name == CALLER_NAME and case.contact_phone == CALLER_PHONE
    assert case.category_code == "illegal_construction" and case.category_confirmed
    assert case.address == "徐泾镇某路100弄3号"
    assert case.tracking_no.startswith("QP20240506-")
    assert case.created_at == NOW
    submit = next(e for e in case.events if e.action == "submit")
    assert submit.data["received_at"] == "2024-05-06T01:30:00+00:00"


@pytest.mark.parametrize("town", ["徐泾镇", "徐泾", "xujing"])
def test_routing_by_town(session: Session, town: str) -> None:
    case, _ = intake_order(session, order(town=town), client_name="t", now=NOW)
    assert case.status == CaseStatus.DISPATCHED
    assert case.squad is not None and case.squad.name == "徐泾中队"
    assert case.estate is None
    assert case.address == "徐泾镇"  # no address given: the town at least


@pytest.mark.parametrize(
    ("estate", "town", "expected", "squad"),
    [
        ("康虹花园", None, "康虹花园", "徐泾中队"),
        ("康虹花园", "徐泾镇", "康虹花园", "徐泾中队"),
        ("招商悦庭", None, "徐泾北城招商悦庭", "徐泾中队"),  # an alias
        ("茂政滨水", "zhaoxiang", "茂政滨水雅苑", "赵巷中队"),
        ("新华联雅苑", "火星镇", "新华联雅苑", "赵巷中队"),  # a town we cannot read: the estate decides
    ],
)
def test_routing_by_estate(
    session: Session, estate: str, town: str | None, expected: str, squad: str
) -> None:
    case, _ = intake_order(session, order(estate=estate, town=town), client_name="t", now=NOW)
    assert case.estate is not None and case.estate.name == expected
    assert case.squad is not None and case.squad.name == squad
    assert case.status == CaseStatus.DISPATCHED
    assert case.priority == Priority.HIGH  # these are key estates
    assert case.address == case.estate.address


def test_an_estate_outside_the_named_town_is_not_guessed(session: Session) -> None:
    case, _ = intake_order(session, order(estate="康虹花园", town="赵巷镇"), client_name="t", now=NOW)
    assert case.estate is None
    assert case.squad is not None and case.squad.name == "赵巷中队"
    assert case.address == "康虹花园"


def test_the_same_estate_name_in_two_towns_needs_the_town(session: Session) -> None:
    towns = {t.code: t for t in session.scalars(select(Town))}
    for code in ("xiayang", "baihe"):
        session.add(Estate(name="同名花园", town=towns[code], address=f"{code}路1号"))
    other = Estate(name="别名苑", town=towns["liantang"], address="练塘路2号")
    other.aliases.append(EstateAlias(alias="同名花园"))  # an alias never beats an exact name
    session.add(other)
    session.flush()

    ambiguous, _ = intake_order(
        session, order(order_no="AMB-0001", estate="同名花园", address="3号楼"), client_name="t", now=NOW
    )
    assert ambiguous.estate is None and ambiguous.squad is None
    assert ambiguous.status == CaseStatus.SUBMITTED
    assert ambiguous.address == "同名花园 3号楼"

    decided, _ = intake_order(
        session, order(order_no="AMB-0002", estate="同名花园", town="白鹤"), client_name="t", now=NOW
    )
    assert decided.estate is not None and decided.estate.town.code == "baihe"
    assert decided.squad is not None and decided.squad.name == "白鹤中队"

    by_alias, _ = intake_order(
        session, order(order_no="AMB-0003", estate="同名花园", town="练塘镇"), client_name="t", now=NOW
    )
    assert by_alias.estate is other


@pytest.mark.parametrize(
    ("fields", "address"),
    [
        ({"town": "火星镇", "address": "某路1号"}, "火星镇 某路1号"),
        ({"town": "火星镇", "estate": "不存在小区"}, "火星镇 不存在小区"),
        ({"address": "某路1号"}, "某路1号"),
        ({}, "（工单未注明地址）"),
    ],
)
def test_an_unknown_town_goes_to_triage(session: Session, fields: dict, address: str) -> None:
    case, created = intake_order(session, order(**fields), client_name="t", now=NOW)
    assert created
    assert case.status == CaseStatus.SUBMITTED
    assert case.squad is None and case.town is None and case.estate is None
    assert case.address == address
    assert [e.action for e in case.events] == ["submit"]


def test_construction_in_progress_is_urgent(session: Session) -> None:
    case, _ = intake_order(session, order(town="徐泾", in_progress=True), client_name="t", now=NOW)
    assert case.priority == Priority.URGENT
    assert case.onsite_due_at == NOW + dt.timedelta(hours=2)


def test_without_a_category_one_is_suggested_and_left_unconfirmed(session: Session) -> None:
    case, _ = intake_order(session, order(town="徐泾"), client_name="t", now=NOW)
    assert case.category_code == "illegal_construction"
    assert case.category_confirmed is False


def test_the_same_order_twice_is_one_case(session: Session) -> None:
    first, created = intake_order(session, order(town="徐泾"), client_name="a", now=NOW)
    again, created_again = intake_order(
        session,
        order(order_no="gd-20240506-0001", content="另一段内容，但同一个工单号", town="赵巷"),
        client_name="b",
        now=NOW + dt.timedelta(hours=1),
    )
    assert created and not created_again
    assert again is first
    assert len(cases_of(session, "GD-20240506-0001")) == 1
    assert first.description == "楼顶有人搭建了阳光房，影响邻居采光"


def test_the_model_reads_blanks_as_absent_and_wants_an_aware_time() -> None:
    parsed = order(town="  ", estate="", caller_phone="", received_at="", order_no=" gd-1234 ")
    assert parsed.town is None and parsed.estate is None and parsed.caller_phone is None
    assert parsed.received_at is None and parsed.order_no == "GD-1234"
    assert order(received_at="2024-05-06T09:30:00Z").received_at == dt.datetime(
        2024, 5, 6, 9, 30, tzinfo=dt.UTC
    )


@pytest.mark.parametrize("received_at", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"])
def test_a_time_that_does_not_exist_in_utc_is_refused_as_bad_input(received_at: str) -> None:
    with pytest.raises(ValidationError, match="日期时间超出范围"):
        order(received_at=received_at)


# -------------------------------------------------------------------------------------------- imports


def test_import_orders_counts_and_explains(session: Session) -> None:
    rows = [
        (2, {"order_no": "IMP-0001", "content": "小区绿地被人占用种菜，树也被砍了", "town": "盈浦"}),
        (3, {"order_no": "IMP-0002", "content": "太短"}),
        (4, {"order_no": "IMP-0003", "content": "楼下邻居在挖地下室，声音很大", "in_progress": "是"}),
        (5, {"order_no": "IMP-0001", "content": "小区绿地被人占用种菜，树也被砍了"}),
        (6, UnreadableRow("不是有效的 JSON")),
        (7, ["not", "an", "object"]),
        (8, {"order_no": "IMP-0004", "content": "群租房隔断很多，住了二十多个人", "colour": "red"}),
        (9, {"order_no": "IMP-0005", "content": "群租房隔断很多，住了二十多个人", "in_progress": "maybe"}),
        (10, {"order_no": "IMP-0006", "content": "群租房隔断很多，住了二十多个人", "caller_phone": "123"}),
    ]
    report = import_orders(session, rows, client_name="批量", now=NOW)
    assert (report.added, report.already_known) == (2, 1)
    reasons = dict(report.skipped)
    assert sorted(reasons) == [3, 6, 7, 8, 9, 10]
    assert reasons[3] == "content: 至少 10 个字符"
    assert reasons[6] == "不是有效的 JSON"
    assert "应为一个对象" in reasons[7]
    assert reasons[8] == "colour: 不允许的字段"
    assert reasons[9] == "in_progress: 应为 true 或 false"
    assert reasons[10] == "caller_phone: 应为 11 位手机号，或带区号的固定电话，如 021-59721234"
    assert cases_of(session, "IMP-0003")[0].in_progress is True
    assert report.summary() == "added 2, already known 1, skipped 6"


CSV_TEXT = (
    "order_no,content,address,town,estate,category,caller_name,caller_phone,received_at,in_progress\n"
    "F-0001,楼顶有人在搭建阳光房，已经搭了一半,,,康虹花园,illegal_construction,王阿姨,13912345678,"
    "2024-05-06T09:30:00+08:00,true\n"
    'F-0002,"小区里有人把车库改成了棋牌室，\n晚上很吵",盈港东路1号,夏阳街道,,,,,,\n'
    "F-0003,垃圾不分类随意倾倒在楼道里很久了,某路1号,火星镇,,,,,,0\n"
)
ORDERS = [
    {
        "order_no": "F-0001",
        "content": "楼顶有人在搭建阳光房，已经搭了一半",
        "estate": "康虹花园",
        "category": "illegal_construction",
        "caller_name": "王阿姨",
        "caller_phone": "13912345678",
        "received_at": "2024-05-06T09:30:00+08:00",
        "in_progress": True,
    },
    {"order_no": "F-0002", "content": "小区里有人把车库改成了棋牌室，\n晚上很吵", "town": "夏阳街道"},
    {"order_no": "F-0003", "content": "垃圾不分类随意倾倒在楼道里很久了", "town": "火星镇", "address": None},
]


def write_orders(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"orders.{kind}"
    if kind == "csv":
        path.write_text(CSV_TEXT, encoding="utf-8")
    elif kind == "json":
        path.write_text(json.dumps(ORDERS, ensure_ascii=False, indent=2), encoding="utf-8")
    else:
        path.write_text("\n".join(json.dumps(o, ensure_ascii=False) for o in ORDERS) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", ["csv", "json", "jsonl"])
def test_importing_a_file_twice_files_its_orders_once(
    cli_runner, session: Session, tmp_path: Path, kind: str
) -> None:
    path = write_orders(tmp_path, kind)
    before = hotline_cases(session)
    first = cli_runner.invoke(args=["hotline", "import", str(path), "--client", "区热线"])
    assert first.exit_code == 0, first.output
    assert f"orders.{kind}: added 3, already known 0, skipped 0" in first.output
    second = cli_runner.invoke(args=["hotline", "import", str(path)])
    assert second.exit_code == 0, second.output
    assert f"orders.{kind}: added 0, already known 3, skipped 0" in second.output
    assert hotline_cases(session) == before + 3

    kanghong = cases_of(session, "F-0001")[0]
    assert kanghong.estate is not None and kanghong.estate.name == "康虹花园"
    assert kanghong.squad is not None and kanghong.squad.name == "徐泾中队"
    assert kanghong.in_progress is True and kanghong.contact_phone == "13912345678"
    assert kanghong.source_detail == "12345（区热线）"
    garage = cases_of(session, "F-0002")[0]
    assert garage.squad is not None and garage.squad.name == "夏阳中队"
    assert garage.description == "小区里有人把车库改成了棋牌室，\n晚上很吵"
    mars = cases_of(session, "F-0003")[0]
    assert mars.status == CaseStatus.SUBMITTED and mars.squad is None


def test_bad_rows_are_reported_with_their_line_numbers(cli_runner, tmp_path: Path) -> None:
    csv_file = tmp_path / "bad.csv"
    csv_file.write_text(
        "order_no,content,town,caller_phone\n"
        "B-0001,正常的一条工单：楼道里堆满了杂物,徐泾,\n"
        '"B 0002","内容跨了\n两行，但工单号有空格",徐泾,\n'
        "\n"
        "B-0003,短,徐泾,\n"
        "B-0004,电话号码写错了的一条工单内容,徐泾,12345\n"
        "B-0005,单元格比表头多的一条工单内容,徐泾,,extra\n",
        encoding="utf-8",
    )
    result = cli_runner.invoke(args=["hotline", "import", str(csv_file)])
    assert result.exit_code == 0, result.output
    assert "bad.csv: added 1, already known 0, skipped 4" in result.output
    assert "  line 3: skipped, order_no: 应为 12345 工单号，只含字母、数字和连字符" in result.output
    assert "  line 6: skipped, content: 至少 10 个字符" in result.output
    assert (
        "  line 7: skipped, caller_phone: 应为 11 位手机号，或带区号的固定电话，如 021-59721234"
        in result.output
    )
    assert "  line 8: skipped, 单元格多于表头的列数" in result.output

    jsonl = tmp_path / "bad.jsonl"
    jsonl.write_text(
        '{"order_no": "J-0001", "content": "正常的一条工单：楼道里堆满了杂物"}\n'
        "\n"
        '{"order_no": "J-0002", "content": \n'
        '{"order_no": "J-0003", "content": "字段名拼错了的一条工单内容", "adress": "某路"}\n',
        encoding="utf-8",
    )
    result = cli_runner.invoke(args=["hotline", "import", str(jsonl)])
    assert result.exit_code == 0, result.output
    assert "bad.jsonl: added 1, already known 0, skipped 2" in result.output
    assert "  line 3: skipped, 不是有效的 JSON" in result.output
    assert "  line 4: skipped, adress: 不允许的字段" in result.output

    listed = tmp_path / "bad.json"
    listed.write_text(json.dumps([{"order_no": "L-0001"}, "text"]), encoding="utf-8")
    result = cli_runner.invoke(args=["hotline", "import", str(listed)])
    assert result.exit_code == 0, result.output
    assert "  item 1: skipped, content: 必填" in result.output
    assert "  item 2: skipped, 应为一个对象" in result.output


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("cols.csv", "order_no,address\nA-0001,某路\n", "missing columns content"),
        ("empty.csv", "", "missing columns content, order_no"),
        ("extra.csv", "order_no,content,colour\n", "unknown columns colour"),
        ("object.json", '{"order_no": "A-0001"}', "should hold a list of objects"),
        ("broken.json", "[{", "not valid JSON"),
        ("orders.txt", "order_no,content\n", "unsupported file type .txt"),
    ],
)
def test_an_unreadable_file_is_refused(
    cli_runner, tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = cli_runner.invoke(args=["hotline", "import", str(path)])
    assert result.exit_code != 0
    assert message in result.output


def test_a_missing_file_is_refused(cli_runner, tmp_path: Path) -> None:
    result = cli_runner.invoke(args=["hotline", "import", str(tmp_path / "nowhere.csv")])
    assert result.exit_code != 0
    assert "does not exist" in result.output


def test_add_client_prints_a_working_key_once(cli_runner, session: Session) -> None:
    result = cli_runner.invoke(args=["hotline", "add-client", "青浦区12345分中心"])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert authenticate_client(session, key).name == "青浦区12345分中心"
    assert session.scalar(select(HotlineClient.id).where(HotlineClient.key_hash == key)) is None
    again = cli_runner.invoke(args=["hotline", "add-client", "青浦区12345分中心"])
    assert again.exit_code != 0 and "已有名为" in again.output


# ----------------------------------------------------------------------------------------------- HTTP


@pytest.fixture
def api_key(session: Session) -> str:
    _client, key = create_client(session, "上海12345")
    session.commit()
    return key


def test_without_a_valid_key_the_api_is_401_before_anything_else(
    client: FlaskClient, session: Session, api_key: str
) -> None:
    missing = client.post(API + "/orders", json=valid_order())
    assert missing.status_code == 401
    body = missing.get_json()
    assert body["code"] == "missing_api_key" and "密钥" in body["message"] and "description" in body
    for key in ("wrong", api_key[:-1], " "):
        wrong = client.post(API + "/orders", json={"not": "valid"}, headers={"X-Api-Key": key})
        assert wrong.status_code == 401, key
        assert wrong.get_json()["code"] in {"invalid_api_key", "missing_api_key"}
    assert client.post(API + "/orders", data=b"garbage", headers={"X-Api-Key": "x"}).status_code == 401
    session.scalar(select(HotlineClient).where(HotlineClient.name == "上海12345")).active = False
    session.commit()
    retired = client.post(API + "/orders", json=valid_order(), headers={"X-Api-Key": api_key})
    assert retired.status_code == 401 and retired.get_json()["message"] == "接口密钥无效或已停用"
    assert not cases_of(session, "H-20240506-0001")


def test_an_order_is_201_then_200(client: FlaskClient, session: Session, api_key: str) -> None:
    headers = {"X-Api-Key": api_key}
    first = client.post(API + "/orders", json=valid_order(), headers=headers)
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert set(body) == {"tracking_no", "status", "squad", "created"}
    assert body["status"] == "dispatched" and body["squad"] == {"name": "徐泾中队"}
    assert body["created"] is True
    again = client.post(
        API + "/orders", json=valid_order(content="同一工单的第二次推送，内容略有不同"), headers=headers
    )
    assert again.status_code == 200
    assert again.get_json() == {**body, "created": False}
    (case,) = cases_of(session, "H-20240506-0001")
    assert case.tracking_no == body["tracking_no"] and case.source_detail == "12345（上海12345）"
    assert case.contact_phone == CALLER_PHONE and case.reporter_name == CALLER_NAME
    for response in (first, again):
        text = response.get_data(as_text=True)
        assert CALLER_PHONE not in text and CALLER_NAME not in text and "1358弄12号" not in text


def test_an_order_nobody_can_place_waits_for_triage(client: FlaskClient, api_key: str) -> None:
    response = client.post(
        API + "/orders",
        json={"order_no": "H-0002", "content": "有人在河边违章搭建了一排棚子", "town": "火星镇"},
        headers={"X-Api-Key": api_key},
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "submitted" and body["squad"] is None


BAD_FIELDS = [
    ({"order_no": "abc"}, "order_no"),
    ({"order_no": "x" * 41}, "order_no"),
    ({"order_no": "GD 0001"}, "order_no"),
    ({"order_no": "工单0001"}, "order_no"),
    ({"order_no": 12345678}, "order_no"),
    ({"order_no": None}, "order_no"),
    ({"content": "太短了"}, "content"),
    ({"content": "长" * 2001}, "content"),
    ({"content": "\x00" * 12}, "content"),
    ({"caller_name": "张\x07三"}, "caller_name"),
    ({"content": "          短          "}, "content"),
    ({"content": ["楼顶有人在搭建阳光房，已经搭了一半"]}, "content"),
    ({"address": "路" * 256}, "address"),
    ({"address": 5}, "address"),
    ({"town": "t" * 33}, "town"),
    ({"town": ["徐泾"]}, "town"),
    ({"estate": "e" * 129}, "estate"),
    ({"category": "spaceships"}, "category"),
    ({"category": "out_of_scope"}, "category"),
    ({"category": 7}, "category"),
    ({"caller_name": "名" * 65}, "caller_name"),
    ({"caller_phone": "12345"}, "caller_phone"),
    ({"caller_phone": "+8613912345678"}, "caller_phone"),
    ({"caller_phone": 13912345678}, "caller_phone"),
    ({"received_at": "2024-05-06 09:30"}, "received_at"),
    ({"received_at": "2024-05-06"}, "received_at"),
    ({"received_at": "yesterday"}, "received_at"),
    ({"received_at": 1714960000}, "received_at"),
    ({"in_progress": "true"}, "in_progress"),
    ({"in_progress": 1}, "in_progress"),
    ({"reporter_id": 1}, "reporter_id"),
]


@pytest.mark.parametrize(("change", "field"), BAD_FIELDS)
def test_every_field_of_an_order_is_validated(
    client: FlaskClient, session: Session, api_key: str, change: dict, field: str
) -> None:
    response = client.post(API + "/orders", json=valid_order(**change), headers={"X-Api-Key": api_key})
    assert response.status_code == 400, response.get_json()
    body = response.get_json()
    assert body["code"] == "validation_error"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"])
    assert field in [e["field"] for e in body["errors"]], body
    assert CALLER_PHONE not in response.get_data(as_text=True)
    assert not cases_of(session, "H-20240506-0001")


@pytest.mark.parametrize("field", ["order_no", "content"])
def test_required_fields_are_named(client: FlaskClient, api_key: str, field: str) -> None:
    payload = valid_order()
    del payload[field]
    response = client.post(API + "/orders", json=payload, headers={"X-Api-Key": api_key})
    assert response.status_code == 400
    assert {"field": field, "message": "必填"} in response.get_json()["errors"]


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b'{"order_no": '])
def test_malformed_bodies_are_400(client: FlaskClient, api_key: str, raw: bytes) -> None:
    response = client.post(
        API + "/orders", data=raw, content_type="application/json", headers={"X-Api-Key": api_key}
    )
    assert response.status_code == 400
    assert response.get_json()["code"] == "validation_error"


def test_the_api_is_documented_with_its_key(client: FlaskClient) -> None:
    doc = client.get("/api/openapi.json").get_json()
    assert doc["components"]["securitySchemes"]["hotline_key"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
        "description": doc["components"]["securitySchemes"]["hotline_key"]["description"],
    }
    operation = doc["paths"]["/api/hotline/v1/orders"]["post"]
    assert operation["security"] == [{"hotline_key": []}]
    assert {"200", "201", "400", "401"} <= set(operation["responses"])
    assert "12345 热线" in operation["tags"]


# -------------------------------------------------------------------------------------------- racing


def test_the_same_order_pushed_concurrently_is_one_case(app) -> None:
    engine = app.extensions["db"].engine
    queue = JobQueue()
    queue.inline_runner = lambda job: None
    order_no = f"RACE-{uuid.uuid4().hex[:12]}".upper()
    threads = 8
    barrier = threading.Barrier(threads)
    results: list = [None] * threads

    def push(i: int) -> None:
        barrier.wait()
        try:
            with Session(engine, info={SESSION_KEY: queue}) as session:
                case, created = intake_order(
                    session,
                    order(order_no=order_no, content=f"并发推送第{i}次：河边有人搭棚子"),
                    client_name="并发",
                    now=dt.datetime.now(dt.UTC),
                )
                session.commit()
                results[i] = (case.tracking_no, created)
        except Exception as exc:  # reported below, with the others
            results[i] = exc

    workers = [threading.Thread(target=push, args=(i,)) for i in range(threads)]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
        errors = [r for r in results if not isinstance(r, tuple)]
        assert not errors, errors
        assert len({number for number, _ in results}) == 1
        assert sum(created for _, created in results) == 1
    finally:
        with engine.begin() as conn:
            ids = list(conn.scalars(select(Case.id).where(Case.external_ref == order_no)))
            conn.execute(delete(CaseEvent).where(CaseEvent.case_id.in_(ids)))
            conn.execute(delete(Case).where(Case.id.in_(ids)))
