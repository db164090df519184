"""The API documentation page renders in a real Chromium with every request outside this server blocked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.browser import served


@pytest.fixture
def docs_url(app) -> Iterator[str]:
    with served(app) as url:
        yield url


def test_the_swagger_page_renders_offline(browser, docs_url: str) -> None:
    page = browser.new_page()
    outside: list[str] = []

    def only_local(route) -> None:
        if route.request.url.startswith(docs_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(f"{docs_url}/api/swagger")
    page.wait_for_selector("text=青浦城管进社区 API", timeout=15000)
    assert page.get_by_text("/api/mp/v1/estates", exact=True).first.is_visible()
    assert outside == []
