"""The `wechat_standin` fixture: a started WeChat stand-in per test, stopped after it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.wechat_standin import WeChatStandIn


@pytest.fixture
def wechat_standin() -> Iterator[WeChatStandIn]:
    with WeChatStandIn() as standin:
        yield standin
