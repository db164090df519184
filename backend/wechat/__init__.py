"""The only code that talks to WeChat's servers: login, the shared access token, subscribe and customer messages."""

from backend.wechat.errors import WeChatError, WeChatInvalidCode, to_app_error
from backend.wechat.gateway import WeChatGateway, WeChatSession
from backend.wechat.subscribe import truncate_subscribe_data

__all__ = [
    "WeChatError",
    "WeChatGateway",
    "WeChatInvalidCode",
    "WeChatSession",
    "to_app_error",
    "truncate_subscribe_data",
]
