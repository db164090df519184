"""Removing what a test committed for real (tests that need other processes or threads to see their rows)."""

from __future__ import annotations

from sqlalchemy import Engine, and_, delete, or_, select, update

from backend.accounts.models import AuthToken, User
from backend.audit.models import AuditEntry
from backend.cases.models import Case, CaseEvent, CaseExtension, CasePhoto, CaseSupporter
from backend.messages.models import Message, Notification, SubscriptionCredit
from backend.staff.models import StaffNotice, StaffUser
from backend.uploads.models import Upload


def purge_users(engine: Engine, user_ids: list[int], staff_ids: list[int] | None = None) -> None:
    """Delete the users (and staff) and everything that hangs off them, their cases' and their own audit
    entries included, children first (no reliance on cascades)."""
    staff_ids = staff_ids or []
    if not user_ids and not staff_ids:
        return
    with engine.begin() as conn:
        case_ids = list(conn.scalars(select(Case.id).where(Case.reporter_id.in_(user_ids))))
        numbers = list(conn.scalars(select(Case.tracking_no).where(Case.id.in_(case_ids))))
        if case_ids:  # MariaDB checks the merged cases' parent_id row by row within one DELETE
            conn.execute(update(Case).where(Case.id.in_(case_ids)).values(parent_id=None))
        for table, condition in (
            (
                AuditEntry,
                or_(
                    and_(AuditEntry.target_type == "case", AuditEntry.target_id.in_(numbers)),
                    and_(
                        AuditEntry.target_type == "staff",
                        AuditEntry.target_id.in_([str(i) for i in staff_ids]),
                    ),
                    and_(AuditEntry.actor_kind == "staff", AuditEntry.actor_id.in_(staff_ids)),
                ),
            ),
            (StaffNotice, StaffNotice.case_id.in_(case_ids)),
            (CaseExtension, CaseExtension.case_id.in_(case_ids)),
            (Notification, or_(Notification.user_id.in_(user_ids), Notification.case_id.in_(case_ids))),
            (Message, or_(Message.user_id.in_(user_ids), Message.case_id.in_(case_ids))),
            (SubscriptionCredit, SubscriptionCredit.user_id.in_(user_ids)),
            (CaseSupporter, or_(CaseSupporter.user_id.in_(user_ids), CaseSupporter.case_id.in_(case_ids))),
            (CasePhoto, CasePhoto.case_id.in_(case_ids)),
            (CaseEvent, CaseEvent.case_id.in_(case_ids)),
            (Case, Case.id.in_(case_ids)),
            (Upload, Upload.owner_id.in_(user_ids)),
            (AuthToken, AuthToken.user_id.in_(user_ids)),
            (User, User.id.in_(user_ids)),
            (StaffUser, StaffUser.id.in_(staff_ids)),
        ):
            conn.execute(delete(table).where(condition))
