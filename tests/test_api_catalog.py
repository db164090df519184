"""The mini-program's catalogue over HTTP: towns, estates, categories, and the error shape."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

DOMAIN_CODES = {
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
    "property_negligence",
    "property_duty_violation",
    "out_of_scope",
}


def assert_error_shape(body: dict, code: str) -> None:
    assert body["code"] == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"]), body["message"]  # Chinese text
    assert "description" in body


def test_towns(client: FlaskClient) -> None:
    response = client.get("/api/mp/v1/towns")
    assert response.status_code == 200
    towns = response.get_json()["data"]
    assert len(towns) == 11
    xujing = next(t for t in towns if t["code"] == "xujing")
    assert xujing == {
        "code": "xujing",
        "name": "徐泾镇",
        "kind": "镇",
        "squad": {"code": "xujing", "name": "徐泾中队"},
    }


def test_categories_list_the_fourteen_codes_of_the_domain(client: FlaskClient) -> None:
    response = client.get("/api/mp/v1/categories")
    assert response.status_code == 200
    categories = response.get_json()["data"]
    assert {c["code"] for c in categories} == DOMAIN_CODES
    assert len(categories) == 14
    construction = next(c for c in categories if c["code"] == "illegal_construction")
    assert construction["name"] == "违法搭建"
    assert construction["group"] == {"code": "housing_safety", "name": "破坏房屋使用安全"}
    assert construction["legal_basis"][0]["regulation"] == "上海市拆除违法建筑若干规定"
    assert construction["legal_basis"][0]["article"] == "第七条"
    assert construction["time_limits"]["onsite_hours"] == 24
    assert construction["time_limits"]["onsite_hours_in_progress"] == 2
    out = next(c for c in categories if c["code"] == "out_of_scope")
    assert out["group"] is None and out["legal_basis"] == []
    for c in categories:
        if c["code"] != "out_of_scope":
            assert c["group"] and c["legal_basis"], c["code"]


def test_estates_search_is_paginated(client: FlaskClient) -> None:
    response = client.get("/api/mp/v1/estates", query_string={"q": "招商悦庭", "per_page": 5})
    assert response.status_code == 200
    body = response.get_json()
    assert body["pagination"] == {"page": 1, "per_page": 5, "total": 1, "pages": 1}
    estate = body["data"][0]
    assert estate["name"] == "徐泾北城招商悦庭"
    assert estate["town"] == {"code": "xujing", "name": "徐泾镇"}
    assert estate["aliases"] == ["招商悦庭"]
    assert estate["is_key"] is True
    assert estate["property_company"] is None


def test_estates_filter_by_town_code_or_name(client: FlaskClient) -> None:
    by_code = client.get("/api/mp/v1/estates", query_string={"town": "zhaoxiang"}).get_json()
    by_name = client.get("/api/mp/v1/estates", query_string={"town": "赵巷镇"}).get_json()
    assert by_code == by_name
    assert {e["town"]["code"] for e in by_code["data"]} == {"zhaoxiang"}
    assert by_code["pagination"]["total"] == 2


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": "abc"}, "page"),
        ({"page": "0"}, "page"),
        ({"page": "-3"}, "page"),
        ({"per_page": "1000"}, "per_page"),
        ({"per_page": "0"}, "per_page"),
        ({"q": "长" * 51}, "q"),
        ({"town": "浦东新区"}, "town"),
        ({"town": "x" * 40}, "town"),
    ],
)
def test_estates_bad_input_is_a_400_in_the_error_shape(client: FlaskClient, params: dict, field: str) -> None:
    response = client.get("/api/mp/v1/estates", query_string=params)
    assert response.status_code == 400
    body = response.get_json()
    assert_error_shape(body, "validation_error")
    assert [e["field"] for e in body["errors"]] == [field]
    assert body["errors"][0]["message"]


def test_unknown_path_and_method_use_the_error_shape(client: FlaskClient) -> None:
    missing = client.get("/api/mp/v1/nothing-here")
    assert missing.status_code == 404
    assert_error_shape(missing.get_json(), "not_found")
    wrong_method = client.post("/api/mp/v1/towns")
    assert wrong_method.status_code == 405
    assert_error_shape(wrong_method.get_json(), "method_not_allowed")
    assert "GET" in wrong_method.headers["Allow"]
