"""Who may write articles (the studio's editors) and who may read the studio's side (editors and the bureau)."""

from __future__ import annotations

from backend.cases.workflow import BUREAU_ROLES, Actor, Role
from backend.errors import Forbidden


def require_editor(actor: Actor) -> None:
    if actor.role is not Role.EDITOR:
        raise Forbidden("只有社区工作室的编辑可以编写、发布和撤回文章", code="not_editor")


def require_reader(actor: Actor) -> None:
    if actor.role is not Role.EDITOR and actor.role not in BUREAU_ROLES:
        raise Forbidden("只有社区工作室和区局可以查看文章的后台", code="not_studio")


def may_write(actor: Actor) -> bool:
    return actor.role is Role.EDITOR
