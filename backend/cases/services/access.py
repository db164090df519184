"""Who among the staff may see and act on a case: its squad, or the bureau."""

from __future__ import annotations

from backend.cases.models import Case
from backend.cases.workflow import BUREAU_ROLES, SQUAD_ROLES, Actor
from backend.errors import Forbidden


def require_staff_scope(case: Case, actor: Actor) -> None:
    """Forbidden unless `actor` is the bureau or belongs to the case's squad."""
    if actor.role in BUREAU_ROLES:
        return
    if actor.role in SQUAD_ROLES and actor.squad_id is not None and actor.squad_id == case.squad_id:
        return
    raise Forbidden("这不是本中队的工单")


def can_see_case(case: Case, actor: Actor) -> bool:
    """Whether `actor` may see `case` (require_staff_scope would let them through)."""
    try:
        require_staff_scope(case, actor)
    except Forbidden:
        return False
    return True
