"""The filters and globals the console's templates use: a case's source and clocks, times in Shanghai."""

from __future__ import annotations

import datetime as dt
from typing import Any

from backend.cases import supervision
from backend.cases.models import SOURCE_LABELS, Case
from backend.cases.services.deadlines import onsite_pending
from backend.console.blueprint import console_bp
from backend.workcalendar import SHANGHAI

# by the plain value a template holds (CaseSource is a StrEnum, so its members find their labels too)
_SOURCE_WORDS: dict[str, str] = {source.value: label for source, label in SOURCE_LABELS.items()}


@console_bp.app_template_filter("source")
def source_label(value: str) -> str:
    return _SOURCE_WORDS.get(value, value)


@console_bp.app_template_global("clocks")
def case_clocks(case: Case) -> dict[str, Any]:
    """The deadlines a case page or inbox row shows: the stage's, and the on-site clock of 第七条 while it
    runs (or when it was met)."""
    return {
        "stage": supervision.stage_label(case),
        "onsite_running": onsite_pending(case),
        "onsite_hours": supervision.onsite_limit_hours(case) if case.onsite_due_at else "",
    }


@console_bp.app_template_filter("local")
def local_time(value: dt.datetime | None) -> str:
    return value.astimezone(SHANGHAI).strftime("%m-%d %H:%M") if value else "—"
