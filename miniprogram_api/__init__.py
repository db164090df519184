"""The mini-program's JSON API under /api/mp/v1: HTTP only, every decision is a backend service's."""

from miniprogram_api import (  # noqa: F401  (registers the routes)
    articles,
    auth,
    catalog,
    chat,
    events,
    messages,
    patrols,
    preferences,
    renovations,
    reports,
    staff,
    suggestions,
    uploads,
)
from miniprogram_api.auth import dev_api
from miniprogram_api.blueprint import mp_api

__all__ = ["dev_api", "mp_api"]
