"""Fuzzing the API from its own OpenAPI document (schemathesis): no generated request, valid or invalid,
gets a 5xx, and every response has a documented status code and matches its documented schema."""

from __future__ import annotations

import io
import os
import tempfile

import pytest
import schemathesis
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from PIL import Image
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import create_app
from backend.hotline.api import API_KEY_HEADER
from backend.hotline.services import create_client
from backend.org.models import Estate
from tests.support.accounts import make_resident

API = "/api/mp/v1"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
CONFIG = {
    "generation": {
        "mode": "all",  # valid requests and invalid ones
        "max-examples": 25,  # per operation, besides the coverage phase's boundary cases
        "deterministic": True,
        "database": "none",  # no example database: a failure found once is not replayed, every run is alike
    },
}


def documented_app():
    """An app configured as the suite's `app` fixture is (the database kind decides whether the development
    login exists), never connected: only its OpenAPI document is read, at collection, for one test per
    operation. The requests go to the suite's migrated and seeded `app`, inside the test's transaction.
    (schemathesis.pytest.from_fixture would read it from `app` itself, but fails on pytest 9.2: "'Function'
    object has no attribute '_nodeid'".)"""
    return create_app(
        {
            "APP_ENV": "testing",
            "DATABASE_URL": os.environ.get("TEST_DATABASE_URL") or "sqlite://",
            "REDIS_URL": os.environ.get("TEST_REDIS_URL", ""),
            "INSTANCE_DIR": tempfile.gettempdir(),
        }
    )


schema = schemathesis.openapi.from_wsgi(
    "/api/openapi.json", documented_app(), config=schemathesis.Config.from_dict(CONFIG)
).exclude(
    # exchanges a wx.login code with WeChat's code2session: here WeChat is not configured, so it could only
    # ever answer 503 (tests/miniprogram_api/test_auth.py covers it against a local WeChat stand-in)
    method="POST",
    path=f"{API}/auth/login",
)


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def credentials(client: FlaskClient, session: Session) -> dict[str, str]:
    """A resident with a report (and its photo) on file, so lists have something to show, and a hotline key."""
    assert client.get("/api/openapi.json").get_json() == schema.raw_schema, "the app documents another API"
    _user, token = make_resident(session, "fuzz")
    _client, key = create_client(session, "fuzz")
    session.commit()
    bearer = {"Authorization": f"Bearer {token}"}
    photo = client.post(API + "/uploads", data={"file": (io.BytesIO(png_bytes()), "x.png")}, headers=bearer)
    assert photo.status_code == 201, photo.get_json()
    report = {
        "category": "illegal_construction",
        "description": "楼顶有人在搭建阳光房，已经搭了一半",
        "estate_id": session.scalar(select(Estate.id).where(Estate.name == "康虹花园")),
        "building": "12",
        "photos": [photo.get_json()["id"]],
        "contact_phone": "13812345678",
        "client_request_id": "fuzz-seed-report",
    }
    filed = client.post(API + "/reports", json=report, headers=bearer)
    assert filed.status_code == 201, filed.get_json()
    return {"bearer": token, "hotline": key}


@schema.parametrize()
@settings(
    derandomize=True,
    database=None,
    deadline=None,
    # the fixtures (one transaction, one resident) serve all the examples of an operation, as intended;
    # "too slow" measures wall time, which a busy machine would turn into a flaky failure
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_request_gets_a_server_error_or_an_undocumented_response(
    case, app, session: Session, credentials
) -> None:
    token = credentials["bearer"]
    if case.path == f"{API}/auth/logout":
        # logging out revokes the token: each call logs out a token of its own
        _user, token = make_resident(session, "fuzz")
        session.commit()
    if case.path.startswith("/api/hotline/"):
        headers = {API_KEY_HEADER: credentials["hotline"]}
    else:
        headers = {"Authorization": f"Bearer {token}"}
    case.call_and_validate(app=app, headers=headers, checks=CHECKS)
