"""Whether the services a test needs (MariaDB, Redis, Chromium, ../shared) must be there: in CI they must."""

from __future__ import annotations

import os


def services_required() -> bool:
    """In CI every service a test needs must be there: a missing one fails the test instead of skipping it."""
    return os.environ.get("CI", "").lower() in {"1", "true"} or bool(
        os.environ.get("QINGPU_REQUIRE_SERVICES")
    )
