"""The floors for bench/load.py: what a resident's own list and a squad member's inbox cost at least in this stack.
A bare Flask app, served by gunicorn with the same settings as the service, that sends MariaDB the very statements
the service sends for each, straight through PyMySQL: no SQLAlchemy session, no rules, no serialiser or template,
the rows dumped as JSON as they come.

- GET /reports, with the resident's bearer token: the token's user, then the page, then the ROLLBACK that ends
  the request.
- GET /inbox, with the console's session cookie (signed with the service's SECRET_KEY): the staff member's row
  (active, and the session's version current, as the console checks), the tab's count, its page of 50 in
  deadline order (and past those with a deadline, the others), the squad's unread notices, then the ROLLBACK.
  The default tab (待签收) of an officer or squad leader, as bench/load.py's officer opens it.

The statements are the service's own, compiled here from backend/, so the two cannot drift apart. The service's
share of the ceiling can be read against these: what is left between them is what the service does beyond its
round trips. It reads DATABASE_URL and SECRET_KEY, as the service does; every worker opens its connection on first
use, after the fork."""

from __future__ import annotations

import datetime as dt
import inspect
import json
import os
from typing import Any, NamedTuple, cast

import pymysql
from flask import Flask, Response, request, session
from sqlalchemy.dialects.mysql import pymysql as pymysql_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from backend.accounts.services import _USER_OF_VALID_TOKEN, _hash
from backend.cases.services.reads import _SHOWN_PAGE, _inbox_reads, list_inbox
from backend.cases.workflow import SQUAD_ROLES, Role
from backend.staff.services import _STAFF, _notice_lines, list_notices

PER_PAGE = 20  # the mini-program's page, read with one more as the service does
# the console's page and the unread notices the inbox lists: the services' own defaults, which the inbox uses
INBOX_PER_PAGE = inspect.signature(list_inbox).parameters["per_page"].default
NOTICES = inspect.signature(list_notices).parameters["limit"].default


class Compiled(NamedTuple):
    sql: str
    params: tuple[str, ...]  # the order of its parameters
    literals: dict[str, Any]  # the values the statement carries itself (a tab's status, say)

    def values(self, given: dict[str, Any]) -> list[Any]:
        merged = {**self.literals, **given}
        return [merged[name] for name in self.params]


def _compiled(statement: ClauseElement) -> Compiled:
    """The statement's SQL as PyMySQL takes it, with its parameters' order and own values."""
    compiled = cast(SQLCompiler, statement.compile(dialect=pymysql_dialect.dialect()))
    literals = {name: str(v) if isinstance(v, str) else v for name, v in compiled.params.items()}
    return Compiled(str(compiled), tuple(compiled.positiontup or ()), literals)


TOKEN = _compiled(_USER_OF_VALID_TOKEN)
PAGE = _compiled(_SHOWN_PAGE)
STAFF = _compiled(_STAFF)
_TO_SIGN = _inbox_reads("one", "to_sign", False, False, False, False)
INBOX_COUNT, INBOX_TIMED, INBOX_UNTIMED = (
    _compiled(_TO_SIGN.count), _compiled(_TO_SIGN.timed), _compiled(_TO_SIGN.untimed)
)  # fmt: skip
_notices: dict[int, Compiled] = {}  # the notices' statement of each squad, compiled on first use

app = Flask(__name__)
app.secret_key = os.environ.get("SECRET_KEY")  # the console's session cookie, as the service signs it
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
            cursor.execute(TOKEN.sql, TOKEN.values(values))
            user = cursor.fetchone()
            if user is None:
                return Response('{"error":"invalid_token"}', 401, mimetype="application/json")
            values.update(user_id=user[0], limit=PER_PAGE + 1, offset=0)
            cursor.execute(PAGE.sql, PAGE.values(values))
            rows = cursor.fetchall()
    finally:
        db.rollback()
    items = [list(row) for row in rows[:PER_PAGE]]
    return Response(json.dumps({"data": items}, ensure_ascii=False, default=str), mimetype="application/json")


@app.get("/inbox")
def inbox() -> Response:
    staff_id, version = session.get("staff_id"), session.get("staff_sv")
    if staff_id is None:
        return Response('{"error":"login"}', 401, mimetype="application/json")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    db = connection()
    try:
        with db.cursor() as cursor:
            cursor.execute(STAFF.sql, STAFF.values({"staff_id": staff_id}))
            row = cursor.fetchone()
            staff = dict(zip([d[0] for d in cursor.description], row, strict=True)) if row else None
            if staff is None or not staff["active"] or staff["session_version"] != version:
                return Response('{"error":"login"}', 401, mimetype="application/json")
            if Role(staff["role"]) not in SQUAD_ROLES or staff["squad_id"] is None:
                return Response('{"error":"squad members only"}', 403, mimetype="application/json")
            values: dict[str, Any] = {"squad_id": staff["squad_id"], "now": now}
            cursor.execute(INBOX_COUNT.sql, INBOX_COUNT.values(values))
            total, timed = cursor.fetchone()
            rows: list[Any] = []
            if timed:
                page = {**values, "limit": INBOX_PER_PAGE, "offset": 0}
                cursor.execute(INBOX_TIMED.sql, INBOX_TIMED.values(page))
                rows.extend(cursor.fetchall())
            if len(rows) < INBOX_PER_PAGE and total > timed:
                left = {**values, "limit": INBOX_PER_PAGE - len(rows), "offset": 0}
                cursor.execute(INBOX_UNTIMED.sql, INBOX_UNTIMED.values(left))
                rows.extend(cursor.fetchall())
            squad = staff["squad_id"]
            if squad not in _notices:
                statement = _notice_lines(Role(staff["role"]), squad)
                assert statement is not None, "a squad member has the squad's notices"
                _notices[squad] = _compiled(statement)
            cursor.execute(_notices[squad].sql, _notices[squad].values({"limit": NOTICES}))
            notices = cursor.fetchall()
    finally:
        db.rollback()
    body = {"total": total, "data": [list(r) for r in rows], "notices": [list(n) for n in notices]}
    return Response(json.dumps(body, ensure_ascii=False, default=str), mimetype="application/json")
