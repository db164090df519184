"""Residents' suggestions in the console: studio editors reply, tag, forward and close them."""

from __future__ import annotations

import re
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from pydantic import Field

from backend.cases.workflow import SQUAD_ROLES, Role
from backend.clock import now
from backend.community.models import SuggestionStatus
from backend.community.suggestions import (
    ACTION_LABELS,
    BUREAU_NAME,
    NOTE_MAX,
    REPLY_MAX,
    STATUS_LABELS,
    TAG_MAX,
    SuggestionFilter,
    close_suggestion,
    forward_suggestion,
    forwarded_to,
    list_suggestions,
    reply_to_suggestion,
    suggestion_for_staff,
    suggestion_photo,
    tag_suggestion,
    tags_in_use,
)
from backend.console.blueprint import console_bp, current_actor, require
from backend.console.forms import Form, client_ip, id_arg, parse
from backend.console.refusal import NO_REFUSAL, Refusal, redisplay_when_refused
from backend.db import MAX_ROW_ID, get_session
from backend.errors import ValidationFailed
from backend.org.services import list_squads
from backend.taxonomy.services import list_categories
from backend.uploads.services import open_upload

# Editors act; the bureau reads them all; a squad's officers and leader read those forwarded to their squad.
READERS = (Role.EDITOR, Role.SUPERVISOR, Role.ADMIN, Role.OFFICER, Role.SQUAD_LEADER)
ROW = f"int(max={MAX_ROW_ID})"
_TAG_SEPARATORS = re.compile(r"[,，、;；\s]+")
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


class ReplyForm(Form):
    reply: str = Field("", max_length=REPLY_MAX)  # blank: the service says what is missing


class TagsForm(Form):
    tags: str = Field("", max_length=(TAG_MAX + 1) * 20)

    def tag_list(self) -> list[str]:
        return [t for t in _TAG_SEPARATORS.split(self.tags) if t]


class ForwardForm(Form):
    to: str = Field("", max_length=16)  # "bureau", or a squad's id
    note: str = Field("", max_length=NOTE_MAX)


class CloseForm(Form):
    note: str = Field("", max_length=NOTE_MAX)


# ------------------------------------------------------------------------------------------- the list


@console_bp.get("/suggestions")
@require(*READERS)
def suggestions() -> ResponseReturnValue:
    db = get_session()
    actor = current_actor()
    args = request.args
    forwarded = args.get("forwarded")
    filters = SuggestionFilter(
        status=args.get("status") if args.get("status") in STATUS_LABELS else None,
        category=args.get("category") or None,
        estate_id=id_arg("estate"),
        tag=(args.get("tag") or "")[:TAG_MAX] or None,
        forwarded="squad" if forwarded == "squad" else "bureau" if forwarded == "bureau" else None,
        squad_id=id_arg("squad"),
    )
    page_no = min(max(args.get("page", 1, type=int) or 1, 1), 10_000)
    page = list_suggestions(db, actor, filters, page=page_no)
    return render_template(
        "console/suggestions.html",
        page=page,
        filters=filters,
        status_labels=STATUS_LABELS,
        categories=list_categories(db),
        squads=list_squads(db),
        tags=tags_in_use(db, actor),
        forwarded_to=forwarded_to,
        is_squad=actor.role in SQUAD_ROLES,
        query={k: v for k, v in args.items() if k != "page" and v},
    )


# ------------------------------------------------------------------------------------------- one


@console_bp.get(f"/suggestions/<{ROW}:suggestion_id>")
@require(*READERS)
def suggestion_page(suggestion_id: int) -> ResponseReturnValue:
    return _suggestion_page(NO_REFUSAL, suggestion_id=suggestion_id)


def _suggestion_page(refused: Refusal, suggestion_id: int, **_: Any) -> str:
    db = get_session()
    actor = current_actor()
    suggestion = suggestion_for_staff(db, actor, suggestion_id)
    return render_template(
        "console/suggestion.html",
        refused=refused,
        s=suggestion,
        status_label=STATUS_LABELS.get(suggestion.status, suggestion.status),
        action_labels=ACTION_LABELS,
        forwarded_to=forwarded_to(suggestion),
        squads=list_squads(db),
        bureau_name=BUREAU_NAME,
        may_write=actor.role is Role.EDITOR,
        is_open=suggestion.status != SuggestionStatus.CLOSED,
    )


@console_bp.post(f"/suggestions/<{ROW}:suggestion_id>/reply")
@require(Role.EDITOR)
@redisplay_when_refused(_suggestion_page)
def suggestion_reply(suggestion_id: int) -> ResponseReturnValue:
    form = parse(ReplyForm)
    db = get_session()
    reply_to_suggestion(db, current_actor(), suggestion_id, form.reply, now=now(), ip=client_ip())
    db.commit()
    flash("已答复，并已通知居民", "ok")
    return redirect(url_for("console.suggestion_page", suggestion_id=suggestion_id))


@console_bp.post(f"/suggestions/<{ROW}:suggestion_id>/tags")
@require(Role.EDITOR)
@redisplay_when_refused(_suggestion_page)
def suggestion_tags(suggestion_id: int) -> ResponseReturnValue:
    form = parse(TagsForm)
    db = get_session()
    tag_suggestion(db, current_actor(), suggestion_id, form.tag_list(), now=now(), ip=client_ip())
    db.commit()
    flash("已保存标签", "ok")
    return redirect(url_for("console.suggestion_page", suggestion_id=suggestion_id))


@console_bp.post(f"/suggestions/<{ROW}:suggestion_id>/forward")
@require(Role.EDITOR)
@redisplay_when_refused(_suggestion_page)
def suggestion_forward(suggestion_id: int) -> ResponseReturnValue:
    form = parse(ForwardForm)
    if form.to != "bureau" and not (form.to.isdigit() and 1 <= int(form.to) <= MAX_ROW_ID):
        raise ValidationFailed.on("to", "请选择转交给哪个中队，或转交区局")
    db = get_session()
    suggestion = forward_suggestion(
        db,
        current_actor(),
        suggestion_id,
        squad_id=None if form.to == "bureau" else int(form.to),
        to_bureau=form.to == "bureau",
        note=form.note,
        now=now(),
        ip=client_ip(),
    )
    db.commit()
    flash(f"已转交{suggestion.events[-1].data.get('to_name', '')}，并已通知居民", "ok")
    return redirect(url_for("console.suggestion_page", suggestion_id=suggestion_id))


@console_bp.post(f"/suggestions/<{ROW}:suggestion_id>/close")
@require(Role.EDITOR)
@redisplay_when_refused(_suggestion_page)
def suggestion_close(suggestion_id: int) -> ResponseReturnValue:
    form = parse(CloseForm)
    db = get_session()
    close_suggestion(db, current_actor(), suggestion_id, form.note, now=now(), ip=client_ip())
    db.commit()
    flash("已办结，并已通知居民", "ok")
    return redirect(url_for("console.suggestion_page", suggestion_id=suggestion_id))


@console_bp.get(f"/suggestions/<{ROW}:suggestion_id>/photos/<upload_id>")
@require(*READERS)
def suggestion_photo_file(suggestion_id: int, upload_id: str) -> ResponseReturnValue:
    if not _UPLOAD_ID.fullmatch(upload_id):
        return render_template("console/error.html", message="照片不存在"), 404
    upload = suggestion_photo(get_session(), current_actor(), suggestion_id, upload_id)
    response = current_app.response_class(
        open_upload(current_app.extensions["storage"], upload), mimetype=upload.content_type
    )
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
