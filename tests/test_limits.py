"""backend/limits.py: the limiter checks the views that carry a limit, and nothing else."""

from __future__ import annotations

import pytest
from flask import Flask
from flask_limiter import Limiter

from backend.limits import ViewLimiter


def test_only_the_views_with_a_limit_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    app = Flask(__name__)
    limiter = ViewLimiter(key_func=lambda: "one-client", app=app, storage_uri="memory://")
    checks: list[bool] = []
    check = Limiter._check_request_limit

    def recorded(self: Limiter, callable_name: str | None = None, in_middleware: bool = True) -> None:
        checks.append(in_middleware)
        check(self, callable_name=callable_name, in_middleware=in_middleware)

    monkeypatch.setattr(Limiter, "_check_request_limit", recorded)

    @app.get("/free")
    def free() -> str:
        return "free"

    @app.get("/limited")
    @limiter.limit("2 per minute")
    def limited() -> str:
        return "limited"

    client = app.test_client()
    assert [client.get("/free").status_code for _ in range(5)] == [200] * 5
    assert checks == []  # no limit looked up for a view without one
    assert [client.get("/limited").status_code for _ in range(3)] == [200, 200, 429]
    assert checks == [False, False, False]  # each checked once, by its view
