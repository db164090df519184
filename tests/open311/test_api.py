"""The GeoReport v2 endpoints over HTTP: the spec's JSON and XML shapes, the filters and their defaults, the
spec's errors, and no personal data in any answer."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from backend import migrate
from backend.clock import MovableClock
from backend.workcalendar import SHANGHAI
from tests.open311.conftest import API, SECRETS, Planted
from tests.support.cases import NOW

REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "agency_responsible",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "zipcode",
]
PUBLISHED_CODES = {
    "illegal_construction",
    "structural_damage",
    "change_of_use",
    "common_area_occupation",
    "facade_damage",
    "unregistered_renovation",
    "group_rental",
    "subsidized_housing_rental",
    "agency_violation",
    "garbage_sorting",
    "green_space_damage",
}


def xml_of(response: TestResponse) -> ET.Element:
    assert response.content_type == "text/xml; charset=utf-8"
    body = response.get_data(as_text=True)
    assert body.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(response.get_data())


def numbers(client: FlaskClient, **params: str) -> list[str]:
    response = client.get(f"{API}/requests.json", query_string=params)
    assert response.status_code == 200, response.get_json()
    return [r["service_request_id"] for r in response.get_json()]


def assert_open311_error(response: TestResponse, status: int, fmt: str = "json") -> str:
    """The spec's error: a list of {code, description} with the HTTP status; returns the description."""
    assert response.status_code == status
    if fmt == "json":
        body = response.get_json()
        assert isinstance(body, list) and len(body) == 1 and set(body[0]) == {"code", "description"}
        assert body[0]["code"] == status
        description = body[0]["description"]
    else:
        root = xml_of(response)
        assert root.tag == "errors" and [e.tag for e in root] == ["error"]
        assert root.findtext("error/code") == str(status)
        description = root.findtext("error/description") or ""
    assert any("\u4e00" <= ch <= "\u9fff" for ch in description), description  # Chinese
    return description


# ------------------------------------------------------------------------------- discovery and services


def test_discovery_names_the_endpoint_its_formats_and_the_spec(client: FlaskClient) -> None:
    body = client.get(f"{API}/discovery.json").get_json()
    assert set(body) == {"changeset", "contact", "key_service", "endpoints"}
    [endpoint] = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://localhost/open311/v2"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    assert endpoint["type"] == "test"  # the suite's app is not the production one
    assert dt.datetime.fromisoformat(body["changeset"]).tzinfo is not None

    root = xml_of(client.get(f"{API}/discovery.xml"))
    assert root.tag == "discovery"
    assert root.findtext("endpoints/endpoint/url") == "http://localhost/open311/v2"
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == [
        "text/xml",
        "application/json",
    ]


def test_services_are_the_published_categories_in_json_and_xml(client: FlaskClient) -> None:
    response = client.get(f"{API}/services.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    services = response.get_json()
    assert {s["service_code"] for s in services} == PUBLISHED_CODES
    assert services[0]["service_code"] == "illegal_construction"  # the taxonomy's order
    construction = services[0]
    assert set(construction) == {
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "keywords",
        "group",
    }
    assert construction["service_name"] == "违法搭建"
    assert construction["group"] == "破坏房屋使用安全"
    assert construction["metadata"] is False and construction["type"] == "realtime"
    assert "阳光房" in construction["keywords"].split(",")
    assert construction["description"].startswith("在小区内未经规划许可")

    root = xml_of(client.get(f"{API}/services.xml"))
    assert root.tag == "services" and {e.tag for e in root} == {"service"}
    first = root.find("service")
    assert first is not None
    assert [child.tag for child in first] == list(construction)
    assert first.findtext("service_code") == "illegal_construction"
    assert first.findtext("metadata") == "false"
    assert first.findtext("group") == "破坏房屋使用安全"
    assert {s.findtext("service_code") for s in root} == PUBLISHED_CODES


def test_a_service_definition_has_no_attributes(client: FlaskClient) -> None:
    body = client.get(f"{API}/services/green_space_damage.json").get_json()
    assert body == {"service_code": "green_space_damage", "attributes": []}
    root = xml_of(client.get(f"{API}/services/green_space_damage.xml"))
    assert root.tag == "service_definition"
    assert root.findtext("service_code") == "green_space_damage"
    attributes = root.find("attributes")
    assert attributes is not None and list(attributes) == []


@pytest.mark.parametrize(
    "code", ["property_negligence", "property_duty_violation", "out_of_scope", "nothing"]
)
def test_unpublished_and_unknown_services_are_not_found(client: FlaskClient, code: str) -> None:
    assert_open311_error(client.get(f"{API}/services/{code}.json"), 404)
    assert_open311_error(client.get(f"{API}/services/{code}.xml"), 404, "xml")


# ------------------------------------------------------------------------------------------ requests


def test_a_request_in_json_carries_exactly_the_public_fields(
    client: FlaskClient, planted: Planted, at_now: MovableClock
) -> None:
    response = client.get(f"{API}/requests/{planted.open_case.tracking_no}.json")
    assert response.status_code == 200
    [found] = response.get_json()
    assert list(found) == REQUEST_FIELDS
    expected = dt.datetime.fromisoformat(found.pop("expected_datetime"))
    assert expected == planted.open_case.handle_due_at
    updated = dt.datetime.fromisoformat(found.pop("updated_datetime"))
    assert updated.utcoffset() == dt.timedelta(hours=8)
    assert found == {
        "service_request_id": planted.open_case.tracking_no,
        "status": "open",
        "status_notes": None,
        "service_name": "违法搭建",
        "service_code": "illegal_construction",
        "agency_responsible": "徐泾中队",
        "requested_datetime": "2026-11-16T10:00:00+08:00",  # ten days before NOW, in Shanghai time
        "address": "徐泾镇 康虹花园",
        "zipcode": None,
    }


def test_a_closed_request_gives_the_public_reply_masked_and_no_expected_date(
    client: FlaskClient, planted: Planted, at_now: MovableClock
) -> None:
    [found] = client.get(f"{API}/requests/{planted.resolved.tracking_no}.json").get_json()
    assert found["status"] == "closed"
    assert found["expected_datetime"] is None
    assert found["service_code"] == "green_space_damage" and found["service_name"] == "占绿毁绿"
    assert found["status_notes"] == "**您好，****门前被占的绿地已恢复原状，如有疑问请拨 ** 或 **。"


def test_a_request_in_xml_has_the_spec_elements(
    client: FlaskClient, planted: Planted, at_now: MovableClock
) -> None:
    root = xml_of(client.get(f"{API}/requests/{planted.resolved.tracking_no}.xml"))
    assert root.tag == "service_requests" and [e.tag for e in root] == ["request"]
    request = root[0]
    assert [child.tag for child in request] == REQUEST_FIELDS
    assert request.findtext("service_request_id") == planted.resolved.tracking_no
    assert request.findtext("status") == "closed"
    assert request.findtext("agency_responsible") == "徐泾中队"
    assert request.findtext("requested_datetime") == "2026-11-06T10:00:00+08:00"
    assert request.findtext("zipcode") == "" and request.findtext("expected_datetime") == ""


def test_the_list_leaves_out_withdrawn_merged_uncategorised_and_company_cases(
    client: FlaskClient, planted: Planted, at_now: MovableClock
) -> None:
    everything = numbers(client, start_date="2026-11-01T00:00:00+08:00", end_date="2026-11-30")
    assert set(everything) == planted.published() - {planted.old.tracking_no}
    assert not planted.unpublished() & set(everything)
    for number in planted.unpublished():
        assert_open311_error(client.get(f"{API}/requests/{number}.json"), 404)


def test_without_dates_the_list_is_the_last_90_days_newest_first(
    client: FlaskClient, planted: Planted, at_now: MovableClock
) -> None:
    assert numbers(client) == [planted.open_case.tracking_no, planted.resolved.tracking_no]
    at_now.set(NOW + dt.timedelta(days=85))  # the open case was reported 95 days before
    assert numbers(client) == []


def test_dates_select_by_the_time_reported(
    client: FlaskClient, planted: Planted, at_now: MovableClock
) -> None:
    old_day = (NOW - dt.timedelta(days=100)).astimezone(SHANGHAI).date()
    assert numbers(client, start_date=f"{old_day}T00:00:00Z", end_date=f"{old_day}T23:00:00Z") == [
        planted.old.tracking_no
    ]
    # a bare date is the whole day; only one end: 90 days from it, or up to it
    assert numbers(client, start_date="2026-11-16", end_date="2026-11-16") == [planted.open_case.tracking_no]
    assert numbers(client, end_date="2026-11-15") == [planted.resolved.tracking_no, planted.old.tracking_no]
    assert numbers(client, start_date="2026-11-07") == [planted.open_case.tracking_no]
    # an instant without an offset is Shanghai time: 10:00 is the moment the open case was reported
    assert numbers(client, start_date="2026-11-16T10:00:01", end_date="2026-11-17T00:00:00") == []
    assert numbers(client, start_date="2026-11-16T10:00:00", end_date="2026-11-17T00:00:00") == [
        planted.open_case.tracking_no
    ]


def test_service_code_and_status_filter_the_list(
    client: FlaskClient, planted: Planted, at_now: MovableClock
) -> None:
    opened, resolved = planted.open_case.tracking_no, planted.resolved.tracking_no
    assert numbers(client, service_code="green_space_damage") == [resolved]
    assert numbers(client, service_code="illegal_construction, green_space_damage") == [opened, resolved]
    assert numbers(client, service_code="garbage_sorting") == []
    assert numbers(client, status="open") == [opened]
    assert numbers(client, status="closed") == [resolved]
    assert numbers(client, status="open,closed") == [opened, resolved]
    assert numbers(client, status="closed", service_code="illegal_construction") == []


def test_service_request_id_lists_those_requests_whatever_the_dates(
    client: FlaskClient, planted: Planted, at_now: MovableClock
) -> None:
    wanted = [planted.old, planted.withdrawn, planted.open_case]
    found = numbers(client, service_request_id=",".join(c.tracking_no for c in wanted), status="closed")
    assert found == [planted.open_case.tracking_no, planted.old.tracking_no]


def test_pages_of_the_list(client: FlaskClient, planted: Planted, at_now: MovableClock) -> None:
    assert numbers(client, page_size="1") == [planted.open_case.tracking_no]
    assert numbers(client, page_size="1", page="2") == [planted.resolved.tracking_no]
    assert numbers(client, page_size="1", page="3") == []


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"start_date": "2026/11/01"}, "W3C"),
        ({"end_date": "yesterday"}, "W3C"),
        ({"start_date": "2026-02-30"}, "W3C"),
        ({"start_date": "2026-11-20", "end_date": "2026-11-01"}, "不能晚于"),
        ({"end_date": "2026-11-01", "start_date": "2026-01-01"}, "90 天"),
        ({"status": "pending"}, "open"),
        ({"service_code": "property_negligence"}, "没有这项服务"),
        ({"page": "0"}, "整数"),
        ({"page_size": "1001"}, "整数"),
        ({"page_size": "ten"}, "整数"),
    ],
)
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_bad_parameters_are_a_400_in_the_spec_error_format(
    client: FlaskClient, params: dict, words: str, fmt: str
) -> None:
    response = client.get(f"{API}/requests.{fmt}", query_string=params)
    description = assert_open311_error(response, 400, fmt)
    assert words in description
    assert next(iter(params)) in description  # it names the parameter


def test_unknown_requests_formats_and_addresses_are_a_404(client: FlaskClient) -> None:
    assert_open311_error(client.get(f"{API}/requests/QP20261126-9999.json"), 404)
    assert_open311_error(client.get(f"{API}/requests/QP20261126-9999.xml"), 404, "xml")
    for path in ("services.csv", "requests.html", "discovery", "services/illegal_construction.yaml"):
        assert_open311_error(client.get(f"{API}/{path}"), 404)
    assert_open311_error(client.get(f"{API}/some/where/else.xml"), 404, "xml")


def test_no_answer_carries_personal_data(client: FlaskClient, planted: Planted, at_now: MovableClock) -> None:
    paths = ["discovery", "services", "services/illegal_construction", "requests"]
    paths += [f"requests/{c}" for c in planted.published() | planted.unpublished()]
    windows = [
        {"start_date": "2026-08-01", "end_date": "2026-10-29"},
        {"start_date": "2026-10-29", "end_date": "2026-11-26"},
    ]
    bodies = []
    for fmt in ("json", "xml"):
        bodies += [client.get(f"{API}/{path}.{fmt}").get_data(as_text=True) for path in paths]
        bodies += [
            client.get(f"{API}/requests.{fmt}", query_string=w).get_data(as_text=True) for w in windows
        ]
    everything = "\n".join(bodies)
    for number in planted.published():  # the answers are about the planted cases
        assert number in everything
    assert "门前被占的绿地已恢复原状" in everything
    leaked = [secret for secret in SECRETS if secret in everything]
    assert leaked == []


def test_reads_go_to_the_replica_when_one_is_set(client: FlaskClient, make_app, tmp_path) -> None:
    replica_url = f"sqlite:///{tmp_path / 'replica.sqlite3'}"
    migrate.upgrade(replica_url)  # the replica's tables, with no categories in them
    replicated = make_app(DATABASE_REPLICA_URL=replica_url)
    try:
        assert len(client.get(f"{API}/services.json").get_json()) == len(PUBLISHED_CODES)  # the primary's
        assert replicated.test_client().get(f"{API}/services.json").get_json() == []
    finally:
        replicated.extensions["db_replica"].engine.dispose()
