"""Writing and reading the audit trail."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.audit.models import AuditEntry
from backend.cases.workflow import TRANSITIONS, Actor
from backend.db import utcnow
from backend.pagination import Page, paginate

# The Chinese name of every action on the audit trail, for the bureau reading it. Each string a caller passes
# to record_audit (directly, or as "case." + the kind in backend/cases/supervision) needs one here; a test
# finds them in the code. A case's transitions are named by their verbs (case.sign: 签收).
ACTION_LABELS: dict[str, str] = {
    "staff.login": "登录",
    "staff.login_failed": "登录失败",
    "staff.logout": "退出登录",
    "staff.create": "创建账号",
    "staff.password_change": "修改密码",
    "staff.password_change_failed": "修改密码失败（当前密码错误）",
    "staff.password_reset": "重置密码",
    "staff.disable": "停用账号",
    "staff.enable": "启用账号",
    "staff.end_sessions": "强制下线",
    "staff.make_manager": "设为物业公司管理员",
    "staff.unmake_manager": "取消物业公司管理员",
    "staff.binding_code": "获取微信绑定码",
    "staff.wechat_bind": "绑定微信",
    "staff.wechat_unbind": "解除微信绑定",
    "company.create": "新建物业公司",
    "company.update": "修改物业公司",
    "estate.assign": "指定小区的物业公司",
    "estate.end_management": "结束小区的物业管理",
    "estate.watch": "将小区列入重点关注",
    "estate.unwatch": "将小区移出重点关注",
    "case.view": "查看工单",
    "case.reveal_phone": "查看反映人电话",
    "case.export": "导出工单",
    "case.export_personal": "导出工单（含个人信息）",
    "case.intake": "录入案件",
    **{f"case.{name}": transition.verb for name, transition in TRANSITIONS.items()},
    "case.note": "添加内部备注",
    "case.photos": "上传照片",
    "case.assign": "分派",
    "case.confirm_category": "确认类别",
    "case.due_soon": "即将到期提醒",
    "case.overdue": "超期",
    "case.escalated": "超期上报区局",
    "case.onsite_due_soon": "到场即将到期提醒",
    "case.onsite_overdue": "到场超期",
    "case.onsite_escalated": "到场超期上报区局",
    "case.duty_check": "物业履职检查",
    "case.negligence_case": "对物业立案",
    "case.negligence_of": "履职检查立案",
    "case.extension_requested": "申请延期",
    "case.extension_approved": "批准延期",
    "case.extension_rejected": "驳回延期",
    "case.urged": "催办",
    "case.supervised": "督办",
    "renovation.register": "装修申报登记",
    "renovation.attach_permit": "附上装修审批文件",
    "renovation.start": "装修开工",
    "renovation.complete": "装修完工",
    "renovation.print_notice": "打印装修告知书",
    "renovation.lookup": "居民查询房屋装修登记",
    "case.property_report": "物业发现上报",
    "patrol.file": "提交巡查记录",
    "patrol.rectify": "标记发现已整改",
    "article.create": "新建普法文章",
    "article.save": "保存普法文章",
    "article.restore": "恢复普法文章的旧版本",
    "article.publish": "发布普法文章",
    "article.withdraw": "撤回普法文章",
    "article.seed": "载入种子文件中的普法文章",
    "article.push": "推送普法文章",
    "event.announce": "发布活动",
    "event.edit": "修改活动",
    "event.cancel": "取消活动",
    "event.attendance": "登记活动到场情况",
    "suggestion.reply": "答复居民建议",
    "suggestion.tag": "标记居民建议",
    "suggestion.forward": "转交居民建议",
    "suggestion.close": "办结居民建议",
}


# The kinds of thing an entry is about, as the audit page names them.
TARGET_LABELS: dict[str, str] = {
    "case": "工单",
    "case_export": "工单导出",
    "staff": "账号",
    "estate": "小区",
    "property_company": "物业公司",
    "renovation": "装修登记",
    "patrol": "巡查记录",
    "patrol_finding": "巡查发现",
    "article": "普法文章",
    "push": "文章推送",
    "event": "活动",
    "suggestion": "居民建议",
}


def action_label(action: str) -> str:
    """The action's Chinese name; one without a name (recorded by newer code) shows as its code."""
    return ACTION_LABELS.get(action, action)


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
    """Add an entry to the audit trail. It is written by the session's next flush (a query's, or the
    commit's), in the caller's transaction like the change it records: a step that records several entries
    writes them together, and none is written without its change. `detail` is copied, so that a change the
    caller makes to its dict afterwards is not recorded as if it had been done."""
    entry = AuditEntry(
        at=now or utcnow(),
        actor_kind=actor.kind,
        actor_id=actor.id,
        actor_label=actor.label,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        detail=dict(detail) if detail else {},
        ip=ip,
    )
    session.add(entry)
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
