"""Writing and reading the audit trail."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.audit.models import AuditEntry
from backend.cases.workflow import Actor
from backend.db import utcnow
from backend.org.services import Page, paginate


def record_audit(
    session: Session,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: str | int,
    *,
    detail: dict[str, Any] | None = None,
    ip: str = "",
    now: dt.datetime | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        at=now or utcnow(),
        actor_kind=actor.kind,
        actor_id=actor.id,
        actor_label=actor.label,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        detail=detail or {},
        ip=ip,
    )
    session.add(entry)
    session.flush()
    return entry


def list_audit(
    session: Session,
    *,
    target_id: str | None = None,
    action: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[AuditEntry]:
    query = select(AuditEntry)
    if target_id:
        query = query.where(AuditEntry.target_id == target_id)
    if action:
        query = query.where(AuditEntry.action == action)
    return paginate(session, query.order_by(AuditEntry.id.desc()), page, per_page)
