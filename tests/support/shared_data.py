"""Third-party data beside the project (../shared), read by path and never copied in: a test that needs it
skips on a machine without it, and fails in CI, which has it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[3] / "shared"


def shared_file(relative: str) -> Path:
    """The file `relative` under ../shared, or a skip (a failure in CI) when it is not there."""
    path = SHARED / relative
    if not path.exists():
        required = os.environ.get("CI", "").lower() in {"1", "true"} or os.environ.get(
            "QINGPU_REQUIRE_SERVICES"
        )
        if required:
            pytest.fail(f"{path} is missing, and CI must have it")
        pytest.skip(f"{path} is not here (optional third-party data)")
    return path
