"""The mini-program's chat with the bot."""

from __future__ import annotations

import uuid

from flask import current_app
from flask_openapi3 import Tag
from pydantic import BaseModel, Field

from backend.chat.loader import current_nlu
from backend.chat.services import converse
from backend.clock import now
from backend.config import get_config
from backend.db import get_session
from backend.errors import ErrorBody
from miniprogram_api.auth import BEARER, current_user
from miniprogram_api.blueprint import mp_api
from miniprogram_api.schemas import StrictBody, UploadId

chat_tag = Tag(name="智能客服", description="反映问题、查询进度、法律咨询")


class ChatBody(StrictBody):
    text: str = Field(min_length=1, max_length=1000)
    session_id: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_-]{8,64}$", description="同一会话沿用上次返回的值"
    )
    photos: list[UploadId] = Field(default_factory=list, max_length=9, description="上传接口返回的照片 id")


class ChatArticle(BaseModel):
    slug: str = Field(description="普法文章的标识，用于打开文章详情")
    title: str


class ChatOut(BaseModel):
    session_id: str
    text: str
    quick_replies: list[str]
    tracking_no: str | None
    article: ChatArticle | None = Field(None, description="回答摘自的普法文章")
    articles: list[ChatArticle] = Field(
        default_factory=list, description="回答问题后推荐的相关普法文章（同一类别）"
    )


@mp_api.post("/bot/messages", tags=[chat_tag], security=BEARER, responses={200: ChatOut, 401: ErrorBody})
def post_bot_message(body: ChatBody) -> dict:
    """和小助手对话：可一步步提交反映，查询自己反映的办理进度，或咨询法律问题。"""
    user = current_user()
    session = get_session()
    conversation = body.session_id or uuid.uuid4().hex
    reply = converse(
        session,
        current_nlu(),
        current_app.extensions["chat_store"],
        user,
        conversation,
        body.text,
        photos=body.photos,
        daily_limit=get_config().REPORTS_PER_DAY,
        now=now(),
    )
    session.commit()
    return ChatOut(
        session_id=conversation,
        text=reply.text,
        quick_replies=reply.quick_replies,
        tracking_no=reply.tracking_no,
        article=ChatArticle(slug=reply.article.slug, title=reply.article.title) if reply.article else None,
        articles=[ChatArticle(slug=a.slug, title=a.title) for a in reply.articles],
    ).model_dump()
