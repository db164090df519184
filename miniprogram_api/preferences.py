"""A resident's choices in the mini-program: the estates they live in or follow, the topics pushed, pushes off."""

from __future__ import annotations

from flask_openapi3 import Tag

from backend.articles.preferences import MAX_ESTATES, Preferences, set_preferences
from backend.articles.preferences import get_preferences as read_preferences
from backend.clock import now
from backend.config import get_config
from backend.db import get_session
from backend.errors import ErrorBody
from backend.messages.services import ARTICLE
from miniprogram_api.auth import BEARER, current_user
from miniprogram_api.blueprint import mp_api
from miniprogram_api.schemas import (
    ArticleSubscriptionOut,
    FollowedEstateOut,
    PreferencesBody,
    PreferencesOut,
    TownRef,
)

preferences_tag = Tag(
    name="推送偏好", description="居住或关注的小区、想接收的普法专题、推送开关；推送按这些选择送达"
)


@mp_api.get(
    "/preferences", tags=[preferences_tag], security=BEARER, responses={200: PreferencesOut, 401: ErrorBody}
)
def get_preferences() -> dict:
    """我的推送偏好。从未设置过的居民：接收推送、全部专题、尚未选择小区。"""
    user = current_user()
    return preferences_out(read_preferences(get_session(), user.id))


@mp_api.put(
    "/preferences", tags=[preferences_tag], security=BEARER, responses={200: PreferencesOut, 401: ErrorBody}
)
def put_preferences(body: PreferencesBody) -> dict:
    """保存推送偏好（整体替换）：小区至多 max_estates 个，专题为空表示全部，pushes 为 false 则不再接收推送。"""
    user = current_user()
    session = get_session()
    chosen = set_preferences(
        session, user.id, pushes=body.pushes, topics=body.topics, estate_ids=body.estate_ids, now=now()
    )
    session.commit()
    return preferences_out(chosen)


def preferences_out(chosen: Preferences) -> dict:
    return PreferencesOut(
        pushes=chosen.pushes,
        topics=chosen.topics,
        estates=[
            FollowedEstateOut(id=e.id, name=e.name, town=TownRef(code=e.town.code, name=e.town.name))
            for e in chosen.estates
        ],
        max_estates=MAX_ESTATES,
        subscription=ArticleSubscriptionOut(
            template_id=get_config().subscribe_templates.get(ARTICLE), credits=chosen.credits
        ),
    ).model_dump()
