"""The audit log, for the bureau: who did what to which case or account, page by page."""

from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue

from backend.audit.services import ACTION_LABELS, TARGET_LABELS, list_audit
from backend.console.blueprint import BUREAU, console_bp, require
from backend.db import get_session


@console_bp.get("/audit")
@require(*BUREAU)
def audit() -> ResponseReturnValue:
    db = get_session()
    page = list_audit(
        db,
        target_id=request.args.get("target") or None,
        action=request.args.get("action") or None,
        page=request.args.get("page", 1, type=int),
    )
    return render_template(
        "console/audit.html", page=page, action_labels=ACTION_LABELS, target_labels=TARGET_LABELS
    )
