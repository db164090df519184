"""The mini-program's chat with the bot."""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app
from flask_openapi3 import Tag
from pydantic import BaseModel, Field

from backend.chat.loader import current_nlu
from backend.chat.services import ChatReply, converse
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
    photos: list[UploadId] = Field(
        default_factory=list,
        max_length=9,
        description="上传接口返回的照片 id。须是本人上传且未过期的照片，否则在上传照片这一步就会被拒收"
        "（已填写的内容保留，可重新上传或回复「跳过」）；一条反映最多 9 张",
    )


class ChatArticle(BaseModel):
    slug: str = Field(description="普法文章的标识，用于打开文章详情")
    title: str


class ChatOut(BaseModel):
    session_id: str
    text: str = Field(description="小助手的回复；直接回答问题时，末尾列出相关问题和相关普法文章")
    quick_replies: list[str] = Field(description="快捷回复按钮，点击即把按钮文字作为下一条消息发送")
    tracking_no: str | None = Field(description="刚提交成功的反映的工单号；其他回复为空")
    article: ChatArticle | None = Field(None, description="回答摘自的普法文章")
    articles: list[ChatArticle] = Field(
        default_factory=list, description="回答问题后推荐的相关普法文章（同一类别）"
    )
    related_questions: list[str] = Field(
        default_factory=list,
        description="直接回答问题后推荐的相关问题（最多 3 个），与 quick_replies 相同，点击即可提问",
    )


@mp_api.post("/bot/messages", tags=[chat_tag], security=BEARER, responses={200: ChatOut, 401: ErrorBody})
def post_bot_message(body: ChatBody) -> dict:
    """和小助手对话：可一步步提交反映（实名反映会请居民留联系电话，匿名反映不留），查询自己反映的办理进度
    （列出全部正在办理的反映），在中队签收前撤回自己的反映（须确认），或咨询法律问题；发「你能做什么」「帮助」
    可看小助手的功能介绍。"""
    user = current_user()
    session = get_session()
    conversation = body.session_id or uuid.uuid4().hex
    reply = converse(
        session,
        current_nlu(session),
        current_app.extensions["chat_store"],
        user,
        conversation,
        body.text,
        photos=body.photos,
        daily_limit=get_config().REPORTS_PER_DAY,
        now=now(),
        new=body.session_id is None,
    )
    session.commit()
    return chat_out(conversation, reply)


def chat_out(conversation: str, reply: ChatReply) -> dict[str, Any]:
    """The reply as ChatOut serialises it, made directly: its fields are plain strings and lists of them."""
    article = reply.article
    return {
        "session_id": conversation,
        "text": reply.text,
        "quick_replies": reply.quick_replies,
        "tracking_no": reply.tracking_no,
        "article": {"slug": article.slug, "title": article.title} if article else None,
        "articles": [{"slug": a.slug, "title": a.title} for a in reply.articles],
        "related_questions": reply.related_questions,
    }
