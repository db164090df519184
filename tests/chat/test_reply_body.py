"""The bot's reply is sent as ChatOut documents it (the OpenAPI schema), though the view writes the body directly."""

from __future__ import annotations

import pytest

from backend.chat.services import ArticleLink, ChatReply
from miniprogram_api.chat import ChatArticle, ChatOut, chat_out

REPLIES = [
    ChatReply("您好"),
    ChatReply("已提交，工单号 QP20240501-0001。", ["查询办理进度"], tracking_no="QP20240501-0001"),
    ChatReply(
        "楼道不能堆放杂物。",
        ["楼道里能放鞋柜吗", "电瓶车能停楼道吗"],
        article=ArticleLink("corridor", "楼道里能不能放东西"),
        articles=[ArticleLink("bees", "楼顶放蜂箱养蜜蜂，行不行？"), ArticleLink("bins", "垃圾桶放哪里")],
        related_questions=["楼道里能放鞋柜吗", "电瓶车能停楼道吗"],
    ),
]


@pytest.mark.parametrize("reply", REPLIES)
def test_the_body_is_what_chat_out_serialises(reply: ChatReply) -> None:
    documented = ChatOut(
        session_id="abcdef0123456789",
        text=reply.text,
        quick_replies=reply.quick_replies,
        tracking_no=reply.tracking_no,
        article=ChatArticle(slug=reply.article.slug, title=reply.article.title) if reply.article else None,
        articles=[ChatArticle(slug=a.slug, title=a.title) for a in reply.articles],
        related_questions=reply.related_questions,
    ).model_dump()
    body = chat_out("abcdef0123456789", reply)
    assert body == documented and list(body) == list(documented)
    assert ChatOut.model_validate(body).model_dump() == body
