"""Fixtures of the WeChat tests: the stand-in of WeChat's HTTP API."""

from tests.support.wechat_fixtures import wechat_standin  # noqa: F401
