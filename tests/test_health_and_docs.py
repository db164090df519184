"""GET /healthz, the generated OpenAPI document and its page for people."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from backend import create_app


def test_healthz_reports_database_and_queue(client: FlaskClient, app) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["database"] == {"status": "ok", "detail": app.extensions["db"].engine.dialect.name}
    expected_mode = "redis" if app.config["QINGPU"].REDIS_URL else "inline"
    assert body["queue"] == {"status": "ok", "detail": expected_mode}
    assert body["calendar"]["status"] in {"ok", "stale"}


def test_healthz_is_503_when_redis_is_unreachable(tmp_path) -> None:
    broken = create_app(
        {"APP_ENV": "testing", "INSTANCE_DIR": str(tmp_path), "REDIS_URL": "redis://127.0.0.1:1/0"}
    )
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "error"
    assert body["queue"] == {"status": "error", "detail": "redis"}
    assert body["database"]["status"] == "ok"


def test_healthz_is_503_when_the_database_is_unreachable(tmp_path) -> None:
    broken = create_app(
        {
            "APP_ENV": "testing",
            "INSTANCE_DIR": str(tmp_path),
            "DATABASE_URL": "mysql+pymysql://nobody@127.0.0.1:1/none?connect_timeout=1",
        }
    )
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == {"status": "error", "detail": "mysql"}


def test_openapi_is_generated_from_the_validating_schemas(client: FlaskClient) -> None:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    for path in ("/api/mp/v1/towns", "/api/mp/v1/estates", "/api/mp/v1/categories", "/healthz"):
        assert "get" in spec["paths"][path], path
    params = {p["name"]: p for p in spec["paths"]["/api/mp/v1/estates"]["get"]["parameters"]}
    assert set(params) == {"q", "town", "page", "per_page"}
    assert params["per_page"]["schema"]["maximum"] == 100
    assert params["page"]["schema"]["minimum"] == 1
    schemas = spec["components"]["schemas"]
    assert {"EstatePage", "CategoryList", "ErrorBody"} <= set(schemas)
    assert set(schemas["ErrorBody"]["properties"]) == {"code", "message", "description", "errors"}


def test_docs_page_needs_no_external_network(client: FlaskClient) -> None:
    page = client.get("/api/swagger")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "openapi.json" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "the page loads something from outside"
    assets = re.findall(r"""(?:src|href)=["']([^"']+\.(?:js|css))""", html)
    assert assets, "the page names no script or stylesheet"
    for asset in assets:
        url = asset if asset.startswith("/") else "/api/" + asset.lstrip("./")
        assert client.get(url).status_code == 200, url
