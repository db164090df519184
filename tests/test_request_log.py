"""One log line per request, tracebacks for errors, and no personal data or secrets in any line."""

from __future__ import annotations

import logging
import sqlite3

import pymysql
import pytest
from flask.testing import FlaskClient
from sqlalchemy.exc import OperationalError

from backend import create_app
from backend.request_log import RedactingFormatter, redact


def test_one_line_per_request_with_id_method_path_status_duration(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="backend.access")
    response = client.get("/api/mp/v1/estates?q=13812345678", headers={"X-Request-ID": "req-abcdef12"})
    assert response.headers["X-Request-ID"] == "req-abcdef12"
    lines = [r for r in caplog.records if r.name == "backend.access"]
    assert len(lines) == 1
    message = lines[0].getMessage()
    assert "method=GET path=/api/mp/v1/estates status=200 duration_ms=" in message
    assert "13812345678" not in message  # the query string is never logged
    assert lines[0].request_id == "req-abcdef12"


def test_a_request_id_is_made_when_the_client_sends_none_or_a_bad_one(client: FlaskClient) -> None:
    made = client.get("/healthz").headers["X-Request-ID"]
    assert len(made) == 32
    assert (
        client.get("/healthz", headers={"X-Request-ID": "bad id; drop"}).headers["X-Request-ID"]
        != "bad id; drop"
    )


@pytest.mark.parametrize(
    ("raw", "secret"),
    [
        ("reporter phone 13812345678 called", "13812345678"),
        ("phone: +86 138-1234-5678", "1234-5678"),
        ("user oAbCdEfGhIjKlMnOpQrStUvWxYz0 logged in", "oAbCdEfGhIjKlMnOpQrStUvWxYz0"),
        ("Authorization: Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi"),
        ("GET /sns/jscode2session?appid=wx1&secret=s3cr3t&js_code=081abc", "s3cr3t"),
        ('{"access_token": "ACCESS123", "expires_in": 7200}', "ACCESS123"),
        ("token=tok_9f8e7d", "tok_9f8e7d"),
        ('{"contactPhone": "021-55551234"}', "55551234"),
        ("refreshToken=rt_4b5c6d&x=1", "rt_4b5c6d"),
        ("GET /api?js_code=081abc", "081abc"),
    ],
)
def test_redaction(raw: str, secret: str) -> None:
    assert secret not in redact(raw)


def test_formatter_redacts_tracebacks_too() -> None:
    try:
        raise ValueError("bad phone 13912345678")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "failed for %s", ("13912345678",), sys.exc_info()
        )
    text = RedactingFormatter("%(message)s").format(record)
    assert "Traceback" in text
    assert "13912345678" not in text


def test_unhandled_error_is_a_500_in_the_error_shape_with_a_logged_traceback(
    tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app({"APP_ENV": "testing", "INSTANCE_DIR": str(tmp_path)})

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("kaboom")

    caplog.set_level(logging.INFO)
    response = app.test_client().get("/boom")
    assert response.status_code == 500
    body = response.get_json()
    assert body["code"] == "internal_error"
    assert body["message"] == "服务器开小差了，请稍后再试"
    assert "kaboom" not in response.get_data(as_text=True)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and errors[0].exc_info and "kaboom" in str(errors[0].exc_info[1])
    assert any("status=500" in r.getMessage() for r in caplog.records if r.name == "backend.access")


@pytest.mark.parametrize(
    ("orig", "status"),
    [
        (pymysql.err.OperationalError(1213, "Deadlock found when trying to get lock"), 503),
        (pymysql.err.OperationalError(1205, "Lock wait timeout exceeded"), 503),
        (pymysql.err.OperationalError(1020, "Record has changed since last read in table 'case_file'"), 503),
        (sqlite3.OperationalError("database is locked"), 503),
        (pymysql.err.OperationalError(2003, "Can't connect to MySQL server"), 503),  # gone for now: retry
        (pymysql.err.OperationalError(1045, "Access denied for user 'qingpu'@'10.0.0.7'"), 500),  # a setting
    ],
)
def test_a_rolled_back_deadlock_victim_is_a_503_to_retry_but_other_database_faults_are_500s(
    tmp_path, orig: Exception, status: int
) -> None:
    app = create_app({"APP_ENV": "testing", "INSTANCE_DIR": str(tmp_path)})

    @app.post("/contended")
    def contended() -> str:
        raise OperationalError("UPDATE tracking_counter ...", {}, orig)

    response = app.test_client().post("/contended")
    assert response.status_code == status
    if status == 503:
        assert response.get_json()["code"] == "busy" and response.headers["Retry-After"] == "1"
    else:
        assert response.get_json()["code"] == "internal_error" and "Retry-After" not in response.headers


def test_stored_secrets_in_a_logged_statement_are_redacted_but_ordinary_words_are_not() -> None:
    statement = (
        "[parameters: {'username': 'race2', 'password_hash': '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA', "
        "'key_hash': '9f86d081884c7d65', 'token_hash': 'e3b0c44298fc1c14'}] monkey=banana"
    )
    redacted = redact(statement)
    for secret in ("argon2", "m=65536", "c2FsdA", "aGFzaA", "9f86d081884c7d65", "e3b0c44298fc1c14"):
        assert secret not in redacted, secret
    assert "'username': 'race2'" in redacted and "monkey=banana" in redacted


def test_a_deadlock_inside_a_savepoint_is_a_503_though_the_rollback_to_it_failed_too(tmp_path) -> None:
    """MariaDB's deadlock rollback takes the savepoint with it: what reaches the handler is the failed
    ROLLBACK TO SAVEPOINT (1305), raised while the deadlock (1213) was being handled."""
    app = create_app({"APP_ENV": "testing", "INSTANCE_DIR": str(tmp_path)})

    @app.post("/savepoint")
    def savepoint() -> str:
        try:
            raise OperationalError("INSERT ...", {}, pymysql.err.OperationalError(1213, "Deadlock found"))
        except OperationalError:
            raise OperationalError(
                "ROLLBACK TO SAVEPOINT sa_savepoint_1",
                {},
                pymysql.err.OperationalError(1305, "does not exist"),
            ) from None

    response = app.test_client().post("/savepoint")
    assert response.status_code == 503 and response.get_json()["code"] == "busy"
