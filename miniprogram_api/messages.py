"""A resident's in-app messages and their subscribe-message grants."""

from __future__ import annotations

from flask_openapi3 import Tag

from backend.config import get_config
from backend.db import get_session
from backend.errors import ErrorBody, ValidationFailed
from backend.messages.services import add_subscription_credit, list_messages, mark_read, unread_count
from miniprogram_api.auth import BEARER, current_user
from miniprogram_api.blueprint import mp_api
from miniprogram_api.schemas import (
    MessageOut,
    MessagePage,
    PageQuery,
    Pagination,
    ReadBody,
    ReadOut,
    SubscriptionBody,
    SubscriptionOut,
)

messages_tag = Tag(name="消息", description="站内消息与订阅消息授权")


@mp_api.get("/messages", tags=[messages_tag], security=BEARER, responses={200: MessagePage, 401: ErrorBody})
def get_messages(query: PageQuery) -> dict:
    """我的消息（最新在前），含未读数。"""
    user = current_user()
    session = get_session()
    page, unread = list_messages(session, user.id, page=query.page, per_page=query.per_page)
    return MessagePage(
        data=[
            MessageOut(
                id=m.id,
                title=m.title,
                body=m.body,
                tracking_no=m.case.tracking_no if m.case else None,
                created_at=m.created_at,
                read=m.read_at is not None,
            )
            for m in page.items
        ],
        pagination=Pagination(page=page.page, per_page=page.per_page, total=page.total, pages=page.pages),
        unread=unread,
    ).model_dump(mode="json")


@mp_api.post("/messages/read", tags=[messages_tag], security=BEARER, responses={200: ReadOut, 401: ErrorBody})
def post_messages_read(body: ReadBody) -> dict:
    """把消息标为已读（不传 ids 则全部已读）。"""
    user = current_user()
    session = get_session()
    updated = mark_read(session, user.id, body.ids)
    session.commit()
    return ReadOut(updated=updated, unread=unread_count(session, user.id)).model_dump()


@mp_api.post(
    "/subscriptions", tags=[messages_tag], security=BEARER, responses={201: SubscriptionOut, 401: ErrorBody}
)
def post_subscription(body: SubscriptionBody) -> tuple[dict, int]:
    """记录一次 wx.requestSubscribeMessage 的授权（一次授权可发送一条订阅消息）。"""
    user = current_user()
    kinds = {template: kind for kind, template in get_config().subscribe_templates.items()}
    kind = kinds.get(body.template_id)
    if kind is None:
        raise ValidationFailed.on(
            "template_id", "未知的订阅消息模板", description="template_id: not one of ours"
        )
    session = get_session()
    credits = add_subscription_credit(session, user.id, kind)
    session.commit()
    return SubscriptionOut(template_id=body.template_id, credits=credits).model_dump(), 201
