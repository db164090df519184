"""The mini-program's JSON API under /api/mp/v1: HTTP only, every decision is a backend service's."""

from miniprogram_api import (  # noqa: F401  (registers the routes)
    auth,
    catalog,
    chat,
    messages,
    patrols,
    renovations,
    reports,
    staff,
    uploads,
)
from miniprogram_api.auth import dev_api
from miniprogram_api.blueprint import mp_api

__all__ = ["dev_api", "mp_api"]
