"""The floor for bench/load.py: what a resident's own list costs at least in this stack. A one-route Flask app,
served by gunicorn with the same settings as the service, that answers GET /reports by sending MariaDB the very
statements the service sends for it (the bearer token's user, then the page, then the ROLLBACK that ends the
request), straight through PyMySQL: no SQLAlchemy session, no rules, no serialiser, the rows dumped as they come.

The statements are the service's own, compiled here from backend/, so the two cannot drift apart. The service's
share of the ceiling can be read against this one's: what is left between them is what the service does beyond
its round trips. It reads DATABASE_URL, as the service does; every worker opens its connection on first use,
after the fork."""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any, cast

import pymysql
from flask import Flask, Response, request
from sqlalchemy.dialects.mysql import pymysql as pymysql_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from backend.accounts.services import _USER_OF_VALID_TOKEN, _hash
from backend.cases.services.reads import _SHOWN_PAGE

PER_PAGE = 20  # the mini-program's page, read with one more as the service does


def _compiled(statement: ClauseElement) -> tuple[str, tuple[str, ...]]:
    """The statement's SQL as PyMySQL takes it, and the order of its parameters."""
    compiled = cast(SQLCompiler, statement.compile(dialect=pymysql_dialect.dialect()))
    return str(compiled), tuple(compiled.positiontup or ())


TOKEN_SQL, TOKEN_PARAMS = _compiled(_USER_OF_VALID_TOKEN)
PAGE_SQL, PAGE_PARAMS = _compiled(_SHOWN_PAGE)

app = Flask(__name__)
_connection: pymysql.connections.Connection[Any] | None = None


def connection() -> pymysql.connections.Connection[Any]:
    global _connection
    if _connection is None:
        url = make_url(os.environ["DATABASE_URL"])
        _connection = pymysql.connect(**url.translate_connect_args(username="user"), charset="utf8mb4")
    return _connection


@app.get("/healthz")
def healthz() -> dict[str, bool]:
    return {"ok": True}


@app.get("/reports")
def reports() -> Response:
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    values: dict[str, Any] = {"token_hash": _hash(token), "now": now}
    db = connection()
    try:
        with db.cursor() as cursor:
            cursor.execute(TOKEN_SQL, [values[name] for name in TOKEN_PARAMS])
            user = cursor.fetchone()
            if user is None:
                return Response('{"error":"invalid_token"}', 401, mimetype="application/json")
            values.update(user_id=user[0], limit=PER_PAGE + 1, offset=0)
            cursor.execute(PAGE_SQL, [values[name] for name in PAGE_PARAMS])
            rows = cursor.fetchall()
    finally:
        db.rollback()
    items = [list(row) for row in rows[:PER_PAGE]]
    return Response(json.dumps({"data": items}, ensure_ascii=False, default=str), mimetype="application/json")
