"""The open-data rules without HTTP: which statuses and categories are published, the masking of public
replies, and how GET requests' parameters are read."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from backend.cases.models import CaseStatus
from backend.cases.workflow import OPEN
from backend.errors import NotFound, ValidationFailed
from backend.open311.services import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    UNPUBLISHED_STATUSES,
    RequestQuery,
    find_requests,
    get_request,
    get_service,
    list_services,
    mask_reply,
    parse_request_query,
)
from backend.workcalendar import SHANGHAI
from tests.open311.conftest import Planted
from tests.support.cases import NOW


def test_every_status_is_open_closed_or_unpublished_and_open_is_the_workflows() -> None:
    kinds = (OPEN_STATUSES, CLOSED_STATUSES, UNPUBLISHED_STATUSES)
    for status in CaseStatus:
        assert sum(status in kind for kind in kinds) == 1, status
    assert OPEN_STATUSES == OPEN
    assert {CaseStatus.WITHDRAWN, CaseStatus.MERGED} == UNPUBLISHED_STATUSES


def test_the_company_group_and_out_of_scope_are_not_services(session: Session) -> None:
    services = list_services(session)
    codes = [s.service_code for s in services]
    assert len(codes) == 11
    assert not {"property_negligence", "property_duty_violation", "out_of_scope"} & set(codes)
    assert {s.group for s in services} == {"破坏房屋使用安全", "房屋违规租赁", "破坏小区环境秩序"}
    for code in ("property_negligence", "out_of_scope"):
        with pytest.raises(NotFound):
            get_service(session, code)


@pytest.mark.parametrize(
    ("reply", "masked"),
    [
        ("请拨打 13912345678 联系", "请拨打 ** 联系"),
        ("中队电话021-59721234，或 02159721234", "中队电话**，或 **"),
        ("12号楼3单元502室的隔断已拆除", "******的隔断已拆除"),
        ("8幢 1201室 阳台恢复原状", "** ** 阳台恢复原状"),
        ("王小明您好，已处理", "**您好，已处理"),
        # dates, counts and order numbers are not phones or flats
        ("已于2026年11月26日拆除3处违建，罚款5000元", "已于2026年11月26日拆除3处违建，罚款5000元"),
        ("工单QP20261126-0001已办结", "工单QP20261126-0001已办结"),
    ],
)
def test_a_public_reply_loses_phones_flats_and_the_callers_name(reply: str, masked: str) -> None:
    assert mask_reply(reply, "王小明") == masked


def test_a_one_character_name_is_not_masked_everywhere() -> None:
    assert mask_reply("王某搭建的棚已拆除", "王") == "王某搭建的棚已拆除"


def test_without_dates_the_search_is_the_90_days_before_now() -> None:
    query = parse_request_query({}, now=NOW)
    assert (query.start, query.end) == (NOW - dt.timedelta(days=90), NOW)
    assert (query.page, query.page_size, query.service_codes, query.statuses) == (1, 1000, (), ())


def test_dates_are_w3c_with_shanghai_for_a_missing_offset() -> None:
    query = parse_request_query(
        {"start_date": "2026-11-01T00:00:00Z", "end_date": "2026-11-02T08:00:00"}, now=NOW
    )
    assert query.start == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert query.end == dt.datetime(2026, 11, 2, 8, tzinfo=SHANGHAI)
    by_day = parse_request_query({"start_date": "2026-11-01", "end_date": "2026-11-02"}, now=NOW)
    assert by_day.start == dt.datetime(2026, 11, 1, tzinfo=SHANGHAI)
    assert by_day.end == dt.datetime(2026, 11, 3, tzinfo=SHANGHAI) - dt.timedelta(microseconds=1)


def test_lists_are_comma_separated_and_repeats_collapse() -> None:
    query = parse_request_query(
        {"service_code": " illegal_construction,,group_rental,illegal_construction", "status": "closed"},
        now=NOW,
    )
    assert query.service_codes == ("illegal_construction", "group_rental")
    assert query.statuses == ("closed",)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"start_date": "11/01/2026"}, "start_date"),
        ({"end_date": "2026-11-01 08:00"}, "end_date"),
        ({"start_date": "2026-11-02", "end_date": "2026-11-01"}, "start_date"),
        ({"start_date": "2026-08-01T00:00:00Z", "end_date": "2026-10-30T00:00:01Z"}, "end_date"),
        ({"status": "open,pending"}, "status"),
        ({"page": "-1"}, "page"),
        ({"page_size": "１０"}, "page_size"),  # full-width digits
    ],
)
def test_what_cannot_be_read_is_refused_in_chinese(args: dict, field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_request_query(args, now=NOW)
    assert refused.value.errors is not None
    assert [e.field for e in refused.value.errors] == [field]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in refused.value.errors[0].message)


def test_find_and_get_publish_only_what_may_be_published(session: Session, planted: Planted) -> None:
    window = RequestQuery(start=NOW - dt.timedelta(days=200), end=NOW)
    found = find_requests(session, window)
    assert {r.service_request_id for r in found} == planted.published()
    assert [r.requested_datetime for r in found] == sorted(
        (r.requested_datetime for r in found), reverse=True
    )
    one = get_request(session, planted.open_case.tracking_no)
    assert (one.status, one.agency_responsible, one.address) == ("open", "徐泾中队", "徐泾镇 康虹花园")
    for number in planted.unpublished():
        with pytest.raises(NotFound):
            get_request(session, number)


def test_a_case_without_a_squad_is_the_bureaus(session: Session, planted: Planted) -> None:
    planted.open_case.squad = None
    planted.open_case.estate = None
    planted.open_case.town = None
    session.flush()
    one = get_request(session, planted.open_case.tracking_no)
    assert one.agency_responsible == "青浦区城市管理行政执法局"
    assert one.address is None
