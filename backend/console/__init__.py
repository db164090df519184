"""The web console for squads, studios and the bureau: server-rendered pages in Chinese."""

from __future__ import annotations

from flask import Flask

from backend.console.blueprint import console_bp, csrf, limiter

__all__ = ["csrf", "init_app", "limiter"]


def init_app(app: Flask) -> None:
    config = app.config["QINGPU"]
    app.config.update(
        WTF_CSRF_CHECK_DEFAULT=False,  # only the console's forms carry a CSRF token; the JSON APIs use bearer tokens
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the console session
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.is_production,
    )
    csrf.init_app(app)
    limiter.init_app(app)
    # Importing these registers their routes, filters and globals on console_bp.
    from backend.console import template_helpers  # noqa: F401
    from backend.console.views import (  # noqa: F401
        accounts,
        articles,
        audit_log,
        bureau,
        case_actions,
        case_page,
        companies,
        company_staff,
        events,
        exports,
        inbox,
        intake,
        login,
        patrols,
        property_duty,
        pushes,
        renovations,
        stats,
        stats_api,
        suggestions,
    )

    app.register_blueprint(console_bp)
