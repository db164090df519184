"""Whose figures a staff member may read: the bureau the district's, a squad leader their own squad's."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.cases.workflow import BUREAU_ROLES, Actor, Role
from backend.errors import Forbidden
from backend.org.models import Squad
from backend.stats.filters import StatFilter


def is_bureau(actor: Actor) -> bool:
    return actor.role in BUREAU_ROLES


def scoped_filter(session: Session, actor: Actor, flt: StatFilter) -> StatFilter:
    """`flt` as the actor may read it: unchanged for the bureau; narrowed to their squad's town for a squad
    leader (Forbidden when they ask for another town or squad: refused rather than quietly replaced, so that a
    shared link never shows other figures than it says); Forbidden for anyone else."""
    if is_bureau(actor):
        return flt
    if actor.role is not Role.SQUAD_LEADER or actor.squad_id is None:
        raise Forbidden("您没有权限查看统计")
    town_id = session.scalar(select(Squad.town_id).where(Squad.id == actor.squad_id))
    if flt.town_id not in (None, town_id) or flt.squad_id not in (None, actor.squad_id):
        raise Forbidden("只能查看本中队的统计")
    return replace(flt, town_id=town_id, squad_id=None)
