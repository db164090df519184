"""Residents' suggestions (人民建议征集) in the mini-program: send one, follow its replies."""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for
from flask_openapi3 import Tag
from pydantic import BaseModel

from backend.clock import now
from backend.community.models import Suggestion
from backend.community.suggestions import (
    STATUS_LABELS,
    forwarded_to,
    list_own_suggestions,
    public_record,
    public_text,
    send_suggestion,
    suggestion_for_resident,
    suggestion_photos,
)
from backend.db import get_session
from backend.errors import ErrorBody
from backend.uploads.services import sign_upload
from miniprogram_api.auth import BEARER, current_user
from miniprogram_api.blueprint import mp_api
from miniprogram_api.schemas import (
    CategoryRef,
    EstateRef,
    PageQuery,
    Pagination,
    SuggestionBody,
    SuggestionOut,
    SuggestionPage,
    SuggestionPath,
    SuggestionPhotoOut,
    SuggestionStepOut,
)

suggestions_tag = Tag(
    name="人民建议",
    description=(
        "人民建议征集：居民提交建议（可附照片、小区和类别），社区工作室答复、转交中队或区局、办结，每一步都有站内消息。"
        "建议只有本人可见，不向物业公司公开。"
    ),
)
ERRORS: dict[str | int, type[BaseModel] | dict[Any, Any] | None] = {401: ErrorBody, 404: ErrorBody}


@mp_api.post(
    "/suggestions",
    tags=[suggestions_tag],
    security=BEARER,
    responses={201: SuggestionOut, 200: SuggestionOut, 429: ErrorBody, **ERRORS},
)
def post_suggestion(body: SuggestionBody) -> tuple[dict, int]:
    """提交建议。相同 client_request_id 的重试返回第一次提交的建议（200），不会重复提交。"""
    user = current_user()
    session = get_session()
    suggestion, created = send_suggestion(session, user, body.to_input(), now=now())
    session.commit()
    return _out(suggestion), 201 if created else 200


@mp_api.get(
    "/suggestions", tags=[suggestions_tag], security=BEARER, responses={200: SuggestionPage, 401: ErrorBody}
)
def get_suggestions(query: PageQuery) -> dict:
    """我的建议（最新在前）。"""
    user = current_user()
    page = list_own_suggestions(get_session(), user.id, page=query.page, per_page=query.per_page)
    return {
        "data": [_out(s, detail=False) for s in page.items],
        "pagination": Pagination(
            page=page.page, per_page=page.per_page, total=page.total, pages=page.pages
        ).model_dump(),
    }


@mp_api.get(
    "/suggestions/<int:suggestion_id>",
    tags=[suggestions_tag],
    security=BEARER,
    responses={200: SuggestionOut, **ERRORS},
)
def get_suggestion(path: SuggestionPath) -> dict:
    """建议详情：内容、照片、公开答复和办理过程。只能查看本人的建议。"""
    user = current_user()
    return _out(suggestion_for_resident(get_session(), user.id, path.suggestion_id))


def _out(suggestion: Suggestion, *, detail: bool = True) -> dict:
    """What a resident sees of their own suggestion: everything but the studio's tags and internal notes."""
    out = SuggestionOut(
        id=suggestion.id,
        text=suggestion.text,
        status=suggestion.status,  # type: ignore[arg-type]  # a SuggestionStatus value
        status_label=STATUS_LABELS.get(suggestion.status, suggestion.status),
        estate=EstateRef(id=suggestion.estate.id, name=suggestion.estate.name) if suggestion.estate else None,
        category=CategoryRef(code=suggestion.category.code, name=suggestion.category.name)
        if suggestion.category
        else None,
        reply=suggestion.reply,
        forwarded_to=forwarded_to(suggestion),
        created_at=suggestion.created_at,
    )
    if detail:
        secret = current_app.config["SECRET_KEY"]
        out.photos = [
            SuggestionPhotoOut(
                id=u.id, url=url_for("mp.get_upload", upload_id=u.id, sig=sign_upload(u.id, secret))
            )
            for u in suggestion_photos(get_session(), suggestion)
        ]
        out.record = [
            SuggestionStepOut(action=e.action, text=public_text(e), at=e.created_at)  # type: ignore[arg-type]
            for e in public_record(suggestion)
        ]
    return out.model_dump(mode="json")
