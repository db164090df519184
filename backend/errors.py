"""The AppError family and the one JSON error shape: {"code", "message", "description", "errors"?}."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

import pymysql
from flask import Flask, Response, jsonify, request
from pydantic import BaseModel, ValidationError, ValidationInfo, field_validator
from sqlalchemy.exc import DBAPIError, DisconnectionError
from werkzeug.exceptions import HTTPException

from backend.text import PHONE_MESSAGE, PHONE_PATTERN, Verbatim, normalise_text

log = logging.getLogger(__name__)

# Chinese text a resident can read, by HTTP status, for errors raised by the framework itself.
STATUS_MESSAGES = {
    400: "请求有误，请检查后重试",
    401: "请先登录",
    403: "没有权限进行此操作",
    404: "您访问的内容不存在",
    405: "不支持该请求方式",
    409: "操作与当前状态冲突",
    413: "上传的内容太大",
    415: "不支持的内容类型",
    422: "提交的内容未通过校验",
    429: "操作过于频繁，请稍后再试",
    500: "服务器开小差了，请稍后再试",
    503: "服务暂时不可用，请稍后再试",
}


class FieldError(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    """The body of every non-2xx JSON response."""

    code: str
    message: str
    description: str
    errors: list[FieldError] | None = None


class AppError(Exception):
    status = 400
    code = "bad_request"
    message = STATUS_MESSAGES[400]

    def __init__(
        self,
        message: str | None = None,
        *,
        description: str = "",
        errors: list[FieldError] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.description = description
        self.errors = errors
        if code:
            self.code = code

    def body(self) -> ErrorBody:
        return ErrorBody(
            code=self.code, message=self.message, description=self.description, errors=self.errors
        )


class ValidationFailed(AppError):
    status = 400
    code = "validation_error"
    message = "提交的内容有误，请按提示修改"

    @classmethod
    def on(cls, field: str, message: str, *, description: str = "") -> ValidationFailed:
        """One field is wrong: `message` (shown to the user) says why, the field error says where."""
        return cls(
            message,
            description=description or f"{field}: {message}",
            errors=[FieldError(field=field, message=message)],
        )


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"
    message = STATUS_MESSAGES[401]


class Forbidden(AppError):
    status = 403
    code = "forbidden"
    message = STATUS_MESSAGES[403]


class NotFound(AppError):
    status = 404
    code = "not_found"
    message = STATUS_MESSAGES[404]


class Conflict(AppError):
    status = 409
    code = "conflict"
    message = STATUS_MESSAGES[409]


class RateLimited(AppError):
    status = 429
    code = "rate_limited"
    message = STATUS_MESSAGES[429]


class ServiceUnavailable(AppError):
    status = 503
    code = "service_unavailable"
    message = STATUS_MESSAGES[503]


def error_response(body: ErrorBody, status: int) -> Response:
    response = jsonify(body.model_dump(exclude_none=True))
    response.status_code = status
    return response


# pydantic's error types, in words a resident can read; {placeholders} come from the error's context.
_PYDANTIC_MESSAGES = {
    "missing": "必填",
    "string_type": "应为文本",
    "string_too_short": "至少 {min_length} 个字符",
    "string_too_long": "最多 {max_length} 个字符",
    "string_pattern_mismatch": "格式不正确",
    "string_unicode": "应为文本",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false",
    "greater_than": "应大于 {gt}",
    "greater_than_equal": "应不小于 {ge}",
    "less_than": "应小于 {lt}",
    "less_than_equal": "应不大于 {le}",
    "literal_error": "不是可选的值",  # named with their Chinese labels when every choice has one
    "enum": "不是可选的值",
    "list_type": "应为列表",
    "too_long": "最多 {max_length} 项",
    "too_short": "至少 {min_length} 项",
    "dict_type": "应为对象",
    "none_required": "应为空",
    "string_sub_type": "应为文本",
    "finite_number": "应为有限的数字",
    "datetime_type": "应为日期时间",
    "date_type": "应为日期",
    "timezone_aware": "须注明时区",
    "url_parsing": "应为有效的网址",
    "uuid_type": "格式不正确",
    "model_type": "应为对象",
    "model_attributes_type": "应为对象",
    "extra_forbidden": "不允许的字段",
    "json_invalid": "不是有效的 JSON",
    "uuid_parsing": "格式不正确",
    "datetime_parsing": "应为日期时间",
    "datetime_from_date_parsing": "应为日期时间",
    "date_parsing": "应为日期",
    "value_error": "{error}",
}


# The Chinese names of values a person chooses among (a rating, a category, a case's source, a console
# button), by value: a refused choice names the allowed ones in these words. The module that defines the
# choices adds their names with label_choices(); names kept in content are added at start-up.
CHOICE_LABELS: dict[str, str] = {"yes": "是", "no": "否"}

# What a pattern asks for, in words, by the pattern itself: the module that defines a pattern explains it
# where it defines it, with explain_pattern().
PATTERN_MESSAGES: dict[str, str] = {PHONE_PATTERN: PHONE_MESSAGE}

_HAN = re.compile(r"[\u3400-\u9fff]")
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")  # the values in pydantic's "'a', 'b' or 'c'"
_ALTERNATIVES = re.compile(r"^\^\(?([\w|]+?)\)?\$$")  # a pattern that is a list of words: ^(sign|assign)$


def label_choices(labels: Mapping[str, str]) -> None:
    """Give choices their Chinese names, for the message that refuses a value outside them."""
    CHOICE_LABELS.update({str(value): label for value, label in labels.items()})


def explain_pattern(pattern: str, message: str) -> str:
    """Say in Chinese what `pattern` asks for (应为 8–64 位字母、数字、下划线或连字符). Returns the pattern, so
    that it is explained where it is defined: `CLIENT_REQUEST_ID = explain_pattern(r"^…$", "应为…")`."""
    PATTERN_MESSAGES[pattern] = message
    return pattern


def _one_of(values: list[str]) -> str | None:
    labels = [CHOICE_LABELS.get(v) for v in values]
    if not values or None in labels:
        return None  # never a list of raw codes: the generic message instead
    names = list(dict.fromkeys(label for label in labels if label))
    # a category's name may itself be a list ("破坏房屋外貌，破墙开店、开门、开窗"): then the names are set apart
    separator = "；" if any("、" in name or "，" in name for name in names) else "、"
    return "应为以下之一：" + separator.join(names)


def _message(err: Any) -> str:
    kind, ctx = err["type"], dict(err.get("ctx") or {})
    if kind in ("literal_error", "enum"):
        return _one_of(_QUOTED.findall(str(ctx.get("expected", "")))) or _PYDANTIC_MESSAGES[kind]
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        if pattern in PATTERN_MESSAGES:
            return PATTERN_MESSAGES[pattern]
        if words := _ALTERNATIVES.match(pattern):  # a choice spelt as a pattern
            return _one_of(words.group(1).split("|")) or _PYDANTIC_MESSAGES["literal_error"]
        return _PYDANTIC_MESSAGES[kind]
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return "不能为空"
    if "error" in ctx:
        ctx["error"] = str(ctx["error"]).removeprefix("Value error, ")
    try:
        message = _PYDANTIC_MESSAGES.get(kind, "取值不正确").format(**ctx)
    except (KeyError, IndexError):
        return "取值不正确"
    # a ValueError raised in English by a library is not shown to a resident
    return message if _HAN.search(message) else "取值不正确"


# all but tab, line breaks, and the vertical tab and form feed that Word and Excel put in pasted text
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")


class PlainText(BaseModel):
    """A request model whose text fields are what a person meant to say. Before validation, so that length
    limits count what remains, every text (and every text in a list) loses its invisible format characters
    (zero-width spaces, bidirectional overrides), is put in NFC and trimmed: twenty zero-width spaces are an
    empty description, and "8\\u202e号楼" is building 8. Then, before any other rule of the field, control
    characters are refused: a NUL or an escape sequence is never what a resident or a hotline operator meant
    (and ten NULs are not a description too short, but no description at all)."""

    @field_validator("*", mode="before")
    @classmethod
    def _normalised(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        verbatim = field is not None and any(isinstance(m, Verbatim) for m in field.metadata)
        texts = value if isinstance(value, list) else [value]
        if not verbatim:
            texts = [normalise_text(t) if isinstance(t, str) else t for t in texts]
        if any(isinstance(t, str) and _CONTROL_CHARACTERS.search(t) for t in texts):
            raise ValueError("不能包含控制字符")
        return texts if isinstance(value, list) else texts[0]


def field_errors(exc: ValidationError) -> list[FieldError]:
    """Each pydantic error as a field path and a Chinese message: a refused choice is answered with the
    Chinese names of the allowed ones, a refused pattern with what it asks for, never with pydantic's English."""
    return [
        FieldError(field=".".join(str(part) for part in err["loc"]) or "body", message=_message(err))
        for err in exc.errors(include_url=False)
    ]


def validation_error_response(exc: ValidationError) -> Response:
    """flask-openapi3's hook for request validation: our shape, status 400."""
    errors = field_errors(exc)
    failed = ValidationFailed(description="; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)
    return error_response(failed.body(), failed.status)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(AppError)
    def _app_error(exc: AppError) -> Response:
        return error_response(exc.body(), exc.status)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        if status < 400:
            return exc
        body = ErrorBody(
            code=(exc.name or "error").lower().replace(" ", "_"),
            message=STATUS_MESSAGES.get(status, STATUS_MESSAGES[400 if status < 500 else 500]),
            description=exc.description or "",
        )
        response = error_response(body, status)
        original = exc.get_response().headers
        for header in ("Allow", "Retry-After"):
            if original.get(header):
                response.headers[header] = original[header]
        return response

    @app.errorhandler(DBAPIError)
    @app.errorhandler(DisconnectionError)
    def _database_busy(exc: DBAPIError | DisconnectionError) -> Response:
        # A deadlock or lock-wait victim was rolled back whole and nothing of it was kept; a database that
        # cannot be reached kept nothing either. The same request again (the mini-program resends with the
        # same client_request_id) succeeds. One line, no traceback: hundreds of them come at once while
        # MariaDB is away. Anything else is a fault.
        if not is_transient(exc):
            return _unexpected(exc)
        log.warning("database busy on %s %s: %s", request.method, request.path, getattr(exc, "orig", exc))
        body = ErrorBody(code="busy", message="系统繁忙，请稍后重试", description="")
        response = error_response(body, 503)
        response.headers["Retry-After"] = "1"
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        body = ErrorBody(code="internal_error", message=STATUS_MESSAGES[500], description="")
        return error_response(body, 500)


# MySQL/MariaDB error codes that mean "not now": record changed since read (snapshot isolation), lock wait
# timeout, deadlock; too many connections, server shutting down, connection killed; statement time exceeded
# (MariaDB's max_statement_time, MySQL's max_execution_time); and the client's own: can't connect (socket,
# TCP), server gone away, lost connection during a query or at its start.
_TRANSIENT_MYSQL_CODES = {1020, 1205, 1213, 1040, 1053, 1927, 1969, 3024, 2002, 2003, 2006, 2013, 2055}


def is_transient(exc: BaseException) -> bool:
    """Whether the database refused only for now: the transaction was rolled back (or never began) and may
    be retried. A lost connection may have lost a COMMIT that the server applied: a retry must be
    idempotent (a report's client_request_id). A deadlock inside a savepoint surfaces as "SAVEPOINT does
    not exist" (the rollback took the savepoint with it), so the errors it was raised during are looked at
    too."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, DisconnectionError) or getattr(seen, "connection_invalidated", False):
            return True  # SQLAlchemy saw the connection die and threw it away
        orig = getattr(seen, "orig", seen)
        args = getattr(orig, "args", ())
        if args and args[0] in _TRANSIENT_MYSQL_CODES:
            return True
        if isinstance(orig, pymysql.err.InterfaceError) and args == (0, ""):
            return True  # PyMySQL's error for a socket it closed itself after losing the server
        if "database is locked" in str(orig):
            return True
        seen = seen.__context__
    return False
