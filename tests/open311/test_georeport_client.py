"""A third-party app reads our open data with the `georeport` client from PyPI, over real HTTP, in both the
formats it speaks."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from georeport import GeoReport
from sqlalchemy.orm import Session

from backend import create_app
from backend.clock import MovableClock
from tests.open311.conftest import API, SECRETS, plant_cases
from tests.support.browser import served
from tests.support.cases import NOW
from tests.support.cleanup import purge_users


@dataclass
class LiveOpenData:
    root: str  # the endpoint's root address, as a city would publish it
    open_number: str
    resolved_number: str
    unpublished: set[str]


@pytest.fixture
def live_open_data(app, database_url: str, tmp_path) -> Iterator[LiveOpenData]:
    """A real server on 127.0.0.1 over the suite's database, its clock at NOW, with the planted cases
    committed for real (another thread serves them) and removed afterwards."""
    live = create_app(
        {
            "APP_ENV": "testing",
            "DATABASE_URL": database_url,
            "INSTANCE_DIR": str(tmp_path),
            "REDIS_URL": os.environ.get("TEST_REDIS_URL", ""),
        }
    )
    live.extensions["clock"] = MovableClock(NOW)
    engine = live.extensions["db"].engine
    with Session(engine, info=app.extensions["db"].info) as session:
        planted = plant_cases(session, NOW, tag=uuid.uuid4().hex[:8])
        session.commit()
        info = LiveOpenData(
            "", planted.open_case.tracking_no, planted.resolved.tracking_no, planted.unpublished()
        )
        resident_id = planted.resident.id
    try:
        with served(live) as url:
            info.root = f"{url}{API}"
            yield info
    finally:
        purge_users(engine, [resident_id])
        engine.dispose()


def test_a_third_party_app_lists_our_services_and_reads_a_request(live_open_data: LiveOpenData) -> None:
    city = GeoReport(live_open_data.root)

    services = city.get_service_list()
    by_code = {s["service_code"]: s for s in services}
    assert by_code["illegal_construction"]["service_name"] == "违法搭建"
    assert by_code["green_space_damage"]["group"] == "破坏小区环境秩序"
    assert "property_negligence" not in by_code
    assert city.get_service_definition("illegal_construction") == {
        "service_code": "illegal_construction",
        "attributes": [],
    }

    opened = city.get_service_requests(service_code="illegal_construction", status="open")
    assert [r["service_request_id"] for r in opened] == [live_open_data.open_number]
    listed = city.get_service_requests(
        start_date="2026-11-01T00:00:00+08:00", end_date="2026-11-26T23:59:59+08:00"
    )
    numbers = {r["service_request_id"] for r in listed}
    assert {live_open_data.open_number, live_open_data.resolved_number} <= numbers
    assert not numbers & live_open_data.unpublished

    one = city.get_service_request(live_open_data.resolved_number)
    assert one["status"] == "closed"
    assert one["service_code"] == "green_space_damage"
    assert one["agency_responsible"] == "徐泾中队"
    assert one["address"] == "徐泾镇 康虹花园"
    assert "绿地已恢复原状" in one["status_notes"]
    assert not [secret for secret in SECRETS if secret in str([services, listed, one])]


def test_the_same_app_reads_the_xml(live_open_data: LiveOpenData) -> None:
    city = GeoReport(live_open_data.root, output_format="xml")

    services = city.get_service_list()
    assert "违法搭建" in {s["service_name"] for s in services}
    assert {s["metadata"] for s in services} == {"false"}

    one = city.get_service_request(live_open_data.open_number)
    assert one["service_request_id"] == live_open_data.open_number
    assert (one["status"], one["service_name"]) == ("open", "违法搭建")
    assert one["requested_datetime"] == "2026-11-16T10:00:00+08:00"
    assert one["zipcode"] is None  # an empty element
