"""Third-party data beside the project (../shared), read by path and never copied in: a test that needs it
skips on a machine without it, and fails in CI, which has it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.services import services_required

SHARED = Path(__file__).resolve().parents[3] / "shared"


def shared_file(relative: str) -> Path:
    """The file `relative` under ../shared, or a skip (a failure in CI) when it is not there."""
    path = SHARED / relative
    if not path.exists():
        if services_required():
            pytest.fail(f"{path} is missing, and CI must have it")
        pytest.skip(f"{path} is not here (optional third-party data)")
    return path
