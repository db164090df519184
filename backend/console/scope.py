"""The cases the signed-in staff member may open: a squad its own, the bureau all."""

from __future__ import annotations

from backend.cases.models import Case
from backend.cases.services.access import can_see_case
from backend.cases.services.reads import get_case
from backend.console.blueprint import current_actor
from backend.db import get_session
from backend.errors import Forbidden


def case_in_scope(number: str) -> Case:
    """The case numbered `number`: NotFound if there is none, Forbidden if it is not the actor's to see."""
    case = get_case(get_session(), number)
    if not can_see_case(case, current_actor()):
        raise Forbidden("这不是本中队的工单")
    return case
