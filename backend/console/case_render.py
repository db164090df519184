"""The case page drawn: when it is opened, and again when one of its forms was refused."""

from __future__ import annotations

from typing import Any

from flask import render_template, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.audit.services import ACTION_LABELS
from backend.cases.models import Case, CaseExtension, CaseStatus
from backend.cases.services.life import DEPARTMENTS, HANDLING_ACTIONS, RETURN_REASONS
from backend.cases.services.reads import find_similar, merged_children
from backend.cases.workflow import (
    BUREAU_ROLES,
    SQUAD_ROLES,
    STATUS_LABELS,
    TRANSITIONS,
    Actor,
    Role,
    allowed_transitions,
)
from backend.clock import now
from backend.console.blueprint import current_actor
from backend.console.refusal import Refusal
from backend.console.scope import case_in_scope
from backend.db import get_session
from backend.org.services import list_squads
from backend.property.duty import duty_check_of
from backend.staff.services import mask_phone, squad_members
from backend.taxonomy.services import list_categories

# Reply templates per state, for the public reply and the notes (the squad edits before sending).
REPLY_TEMPLATES = {
    "resolve": [
        "经现场核查，反映的违法搭建已拆除，现场已恢复原状。感谢您的监督。",
        "经现场核查，已责令当事人限期整改，我队将跟踪复查。感谢您的监督。",
        "经现场核查，未发现反映的问题。如仍有发现，欢迎再次反映。",
    ],
    "mark_unfounded": ["经现场核查，未发现反映的违法行为。"],
}


def case_page_again(refused: Refusal, number: str, **_: Any) -> str:
    """The case page once more after one of its forms was refused (not another view of the case to audit)."""
    return show_case(case_in_scope(number), refused)


def show_case(case: Case, refused: Refusal) -> str:
    db = get_session()
    actor = current_actor()
    allowed = allowed_transitions(
        CaseStatus(case.status), actor, reporter_id=case.reporter_id, squad_id=case.squad_id
    )
    refused_action = _refused_step(case, refused)
    # The case changed meanwhile, or the refused step is no longer open: its form may be gone from the
    # page, so what was typed in it is shown on its own, to copy.
    gone = refused.status == 409 or (refused_action is not None and refused_action not in allowed)
    duty = duty_check_of(db, case)
    extensions = list(
        db.scalars(select(CaseExtension).where(CaseExtension.case_id == case.id).order_by(CaseExtension.id))
    )
    return render_template(
        "console/case.html",
        case=case,
        allowed=allowed,
        transitions=TRANSITIONS,
        labels=STATUS_LABELS,
        masked_phone=mask_phone(case.contact_phone) if not case.anonymous else "",
        categories=[c for c in list_categories(db) if c.group_code],
        squads=list_squads(db) if "dispatch" in allowed else [],
        members=squad_members(db, case.squad_id) if case.squad_id and actor.role is Role.SQUAD_LEADER else [],
        similar=_similar(case, actor),
        children=merged_children(db, case),
        extensions=extensions,
        handling_actions=HANDLING_ACTIONS,
        departments=DEPARTMENTS,
        return_reasons=RETURN_REASONS,
        reply_templates=REPLY_TEMPLATES,
        now=now(),
        is_bureau=actor.role in BUREAU_ROLES,
        is_squad=actor.role in SQUAD_ROLES,
        is_leader=actor.role is Role.SQUAD_LEADER,
        refused=refused,
        open_action=refused_action if refused_action in allowed else None,
        unsent=refused.typed_texts() if gone else [],
        event_labels=ACTION_LABELS,
        duty=duty,
        duty_case_number=_case_number(db, duty.negligence_case_id) if duty else None,
    )


def _refused_step(case: Case, refused: Refusal) -> str | None:
    """The transition whose form was refused, if it was one of the case page's step forms."""
    return next(
        (
            name
            for name in TRANSITIONS
            if refused.is_for(url_for("console.case_action", number=case.tracking_no, name=name))
        ),
        None,
    )


def _similar(case: Case, actor: Actor) -> list[Case]:
    """Other open cases about the estate: a squad sees only its own, the bureau all of them."""
    if not case.estate_id:
        return []
    squad_id = actor.squad_id if actor.role in SQUAD_ROLES else None
    found = find_similar(get_session(), estate_id=case.estate_id, category=None, squad_id=squad_id)
    return [c for c in found if c.id != case.id]


def _case_number(db: Session, case_id: int | None) -> str | None:
    return db.scalar(select(Case.tracking_no).where(Case.id == case_id)) if case_id else None
