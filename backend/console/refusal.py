"""A refused console form shown again: the page it came from, with what was typed and why beside each field."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, ParamSpec

from flask import request
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict

from backend.db import get_session
from backend.errors import AppError

# 400: the form itself is wrong; 409: the case (or account) changed meanwhile. Anything else (403, 404) is
# not about what was typed and goes to the blueprint's error page.
REDISPLAYED = frozenset({400, 409})
CHECK_THE_FIELDS = "未能提交，请按红字提示修改"

# The words a person typed that are worth keeping when their form is no longer on the page (say, a reply
# for a case someone else resolved meanwhile), by field, with the label they were typed under.
TYPED_TEXT_LABELS = {
    "public_reply": "公开答复",
    "reason": "原因说明",
    "note": "内部备注",
    "decision_no": "决定书文号",
    "case_no": "立案号",
    "amount": "罚款金额",
    "deadline": "整改期限",
    "parent": "并入工单号",
    "description": "描述",
    "address": "地址",
    "source_detail": "移送部门",
}


@dataclass(frozen=True)
class Refusal:
    """Which form was refused (named by its action URL, as the page's <form action> has it), what was typed
    in it, each field's reason, and what to say at the top of the page. An empty Refusal refuses nothing, so
    pages render the same with or without one."""

    form: str = ""
    values: MultiDict[str, str] = field(default_factory=MultiDict)
    errors: dict[str, str] = field(default_factory=dict)
    summary: str = ""
    status: int = 200
    photos_dropped: bool = False  # a browser cannot be given chosen files back: they must be chosen again

    @classmethod
    def of(cls, exc: AppError) -> Refusal:
        """The refusal of the current request's form by `exc`."""
        values = request.form.copy()
        submitted = set(values) | set(request.files)
        errors: dict[str, str] = {}
        for error in exc.errors or []:
            errors.setdefault(error.field, error.message)
        # A reason beside its field is enough, with a word at the top to look for it; a reason for no field
        # of the form (or for none at all: the case changed meanwhile) is said at the top.
        unplaced = [(name, message) for name, message in errors.items() if name not in submitted]
        if not errors:
            summary = exc.message
        elif unplaced:
            summary = "；".join(
                f"{TYPED_TEXT_LABELS.get(name, name)}：{message}" for name, message in unplaced
            )
        else:
            summary = CHECK_THE_FIELDS
        photos = any(file.filename for file in request.files.getlist("photos"))
        return cls(request.script_root + request.path, values, errors, summary, exc.status, photos)

    def __bool__(self) -> bool:
        return bool(self.form)

    def is_for(self, form: str) -> bool:
        return bool(self.form) and self.form == form

    def value(self, form: str, name: str, default: Any = "") -> Any:
        """What was typed in field `name` if `form` is the refused one, else `default` (the page's own)."""
        return self.values.get(name, "") if self.is_for(form) else default

    def checked(self, form: str, name: str, default: bool = False) -> bool:
        return name in self.values if self.is_for(form) else default

    def error(self, form: str, name: str) -> str:
        """Why field `name` of `form` was refused, or ""."""
        return self.errors.get(name, "") if self.is_for(form) else ""

    def typed_texts(self) -> list[tuple[str, str]]:
        """The words typed in the refused form, with their labels: for a page that no longer has that form."""
        return [
            (label, text)
            for name, label in TYPED_TEXT_LABELS.items()
            if (text := self.values.get(name, "").strip())
        ]


NO_REFUSAL = Refusal()


P = ParamSpec("P")


def redisplay_when_refused(
    render: Callable[..., str],
) -> Callable[[Callable[P, ResponseReturnValue]], Callable[P, ResponseReturnValue]]:
    """A view whose form, when refused (ValidationFailed, or a 409 Conflict), answers with its page drawn
    again by `render(refusal, **view_args)` instead of a redirect that would lose what was typed. Nothing the
    refused request changed is kept: the session is rolled back before the page is drawn."""

    def decorator(view: Callable[P, ResponseReturnValue]) -> Callable[P, ResponseReturnValue]:
        @wraps(view)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
            try:
                return view(*args, **kwargs)
            except AppError as exc:
                if exc.status not in REDISPLAYED:
                    raise
                get_session().rollback()
                return render(Refusal.of(exc), **kwargs), exc.status

        return wrapped

    return decorator
