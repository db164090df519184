"""Reading a console request: a posted form into its validated model, ids in the query string, the address."""

from __future__ import annotations

from typing import Any, TypeVar, get_origin

from flask import request
from pydantic import ConfigDict, ValidationError

from backend.db import MAX_ROW_ID
from backend.errors import PlainText, ValidationFailed, field_errors


class Form(PlainText):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


F = TypeVar("F", bound=Form)


def parse(model: type[F]) -> F:
    """The posted form as `model`; ValidationFailed, each reason named by its field, if it is not one."""
    data: dict[str, Any] = {}
    for key in request.form:
        values = [v for v in request.form.getlist(key) if v != ""]
        if not values:
            continue  # an empty input is an absent one: the field's default applies
        field = model.model_fields.get(key)
        is_list = field is not None and get_origin(field.annotation) is list
        data[key] = values if is_list else values[-1]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = field_errors(exc)
        raise ValidationFailed(
            "；".join(f"{e.field}：{e.message}" for e in errors), errors=errors, description="form"
        ) from None


def id_arg(name: str) -> int | None:
    """An id from the query string; one that names no row (not a number, 0, 2**70) is no filter."""
    value = request.args.get(name, type=int)
    return value if value is not None and 1 <= value <= MAX_ROW_ID else None


def client_ip() -> str:
    """The client's address; behind proxies, ProxyFix (PROXY_COUNT) has already put the real one here."""
    return (request.remote_addr or "")[:45]
