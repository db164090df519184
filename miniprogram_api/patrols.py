"""Patrols in the mini-program: property staff file them on the go, with photos from the upload endpoint."""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for
from flask_openapi3 import Tag
from pydantic import BaseModel

from backend.cases.services.filing import MAX_PHOTOS
from backend.cases.workflow import Actor
from backend.clock import now
from backend.db import get_session
from backend.errors import ErrorBody
from backend.property.models import Patrol
from backend.property.patrols import (
    COMMON_AREAS,
    FINDING_ACTION_LABELS,
    FINDING_CATEGORIES,
    MAX_PATROL_AGE,
    estates_for_patrol,
    file_patrol,
    get_patrol,
    list_patrols,
    patrol_of_finding,
    place_label,
    rectify_finding,
    renovations_for_patrol,
    report_finding,
    view_patrol,
)
from backend.property.staff import property_actor
from backend.taxonomy.services import list_categories
from backend.uploads.services import sign_upload
from miniprogram_api.auth import BEARER, current_user
from miniprogram_api.blueprint import mp_api
from miniprogram_api.schemas import (
    CategoryRef,
    ChoiceOut,
    EstateRef,
    FindingCaseOut,
    FindingOut,
    FindingPath,
    FindingPhotoOut,
    Pagination,
    PatrolBody,
    PatrolFormOut,
    PatrolOut,
    PatrolPage,
    PatrolPath,
    PatrolQuery,
    PatrolRenovationOut,
    PatrolSummaryOut,
)

patrols_tag = Tag(
    name="物业巡查",
    description=(
        "已绑定的物业人员提交巡查记录（照片先经上传接口上传）。上报的发现立即成为工单；劝阻、制止的发现"
        "24 小时内未标记已整改的，按《上海市住宅物业管理规定》第五十九条自动上报城管。"
    ),
)
ERRORS: dict[str | int, type[BaseModel] | dict[Any, Any] | None] = {
    401: ErrorBody,
    403: ErrorBody,
    404: ErrorBody,
    409: ErrorBody,
}


def _actor() -> Actor:
    return property_actor(get_session(), current_user())


@mp_api.post(
    "/patrols", tags=[patrols_tag], security=BEARER, responses={201: PatrolOut, 200: PatrolOut, **ERRORS}
)
def post_patrol(body: PatrolBody) -> tuple[dict, int]:
    """提交巡查记录。相同 client_request_id 的重试返回第一次提交的记录（200），不会重复上报。"""
    session = get_session()
    actor = _actor()
    instant = now()
    patrol, created = file_patrol(session, actor, body.to_input(), now=instant)
    session.commit()
    return _patrol_out(patrol, actor), 201 if created else 200


@mp_api.get("/patrols/form", tags=[patrols_tag], security=BEARER, responses={200: PatrolFormOut, **ERRORS})
def get_patrol_form() -> dict:
    """填写巡查记录所需的选项：本公司管理的小区、可上报的类别、措施、常见公共部位和在办的装修登记。"""
    session = get_session()
    actor = _actor()
    names = {c.code: c.name for c in list_categories(session)}
    return PatrolFormOut(
        estates=[EstateRef(id=e.id, name=e.name) for e in estates_for_patrol(session, actor)],
        categories=[CategoryRef(code=code, name=names.get(code, code)) for code in FINDING_CATEGORIES],
        actions=[ChoiceOut(code=a.value, label=label) for a, label in FINDING_ACTION_LABELS.items()],
        common_areas=list(COMMON_AREAS),
        renovations=[
            PatrolRenovationOut(id=r.id, estate_id=r.estate_id, flat=place_label(r.building, r.unit, r.room))
            for r in renovations_for_patrol(session, actor)
        ],
        max_photos=MAX_PHOTOS,
        max_age_days=MAX_PATROL_AGE.days,
    ).model_dump(mode="json")


@mp_api.get("/patrols", tags=[patrols_tag], security=BEARER, responses={200: PatrolPage, **ERRORS})
def get_patrols(query: PatrolQuery) -> dict:
    """本公司的巡查记录（巡查时间最新在前）。"""
    page = list_patrols(
        get_session(), _actor(), estate_id=query.estate_id, page=query.page, per_page=query.per_page
    )
    return PatrolPage(
        data=[
            PatrolSummaryOut(
                id=p.id,
                estate=EstateRef(id=p.estate.id, name=p.estate.name),
                patrolled_at=p.patrolled_at,
                patroller=p.patroller.display_name if p.patroller else "",
                areas=p.areas,
                finding_count=len(p.findings),
                reported_count=sum(1 for f in p.findings if f.case_id is not None),
            )
            for p in page.items
        ],
        pagination=Pagination(page=page.page, per_page=page.per_page, total=page.total, pages=page.pages),
    ).model_dump(mode="json")


@mp_api.get(
    "/patrols/<int:patrol_id>", tags=[patrols_tag], security=BEARER, responses={200: PatrolOut, **ERRORS}
)
def get_patrol_detail(path: PatrolPath) -> dict:
    """巡查记录详情：每条发现的状态；已上报的，工单的公开状态和中队的公开答复。"""
    actor = _actor()
    return _patrol_out(get_patrol(get_session(), actor, path.patrol_id), actor)


@mp_api.post(
    "/patrols/findings/<int:finding_id>/rectify",
    tags=[patrols_tag],
    security=BEARER,
    responses={200: PatrolOut, **ERRORS},
)
def post_rectify(path: FindingPath) -> dict:
    """标记劝阻、制止的发现已整改（须在发现后 24 小时内；已上报的请在工单中跟进）。"""
    session = get_session()
    actor = _actor()
    rectify_finding(session, actor, path.finding_id, now=now())
    session.commit()
    return _patrol_out(patrol_of_finding(session, actor, path.finding_id), actor)


@mp_api.post(
    "/patrols/findings/<int:finding_id>/report",
    tags=[patrols_tag],
    security=BEARER,
    responses={200: PatrolOut, **ERRORS},
)
def post_report_finding(path: FindingPath) -> dict:
    """劝阻、制止无效，立即上报城管：该发现成为工单。"""
    session = get_session()
    actor = _actor()
    report_finding(session, actor, path.finding_id, now=now())
    session.commit()
    return _patrol_out(patrol_of_finding(session, actor, path.finding_id), actor)


def _patrol_out(patrol: Patrol, actor: Actor) -> dict:
    """What the company's staff see of their patrol: everything of their own findings, and of a case a finding
    became only its number, public status and the squad's public reply."""
    view = view_patrol(get_session(), actor, patrol, now())
    secret = current_app.config["SECRET_KEY"]
    return PatrolOut(
        id=patrol.id,
        estate=EstateRef(id=patrol.estate.id, name=patrol.estate.name),
        patrolled_at=patrol.patrolled_at,
        filed_at=patrol.created_at,
        late=view.late,
        patroller=patrol.patroller.display_name if patrol.patroller else "",
        areas=patrol.areas,
        note=patrol.note,
        findings=[
            FindingOut(
                id=f.finding.id,
                category=CategoryRef(code=f.finding.category_code, name=f.category_name),
                place=f.place,
                building=f.finding.building,
                unit=f.finding.unit,
                room=f.finding.room,
                common_area=f.finding.common_area,
                description=f.finding.description,
                action=f.finding.action,
                action_label=f.action_label,
                found_at=f.finding.found_at,
                state=f.state,
                state_label=f.state_label,
                report_due_at=f.report_due_at,
                rectified_at=f.finding.rectified_at,
                reported_at=f.finding.reported_at,
                case=FindingCaseOut(**vars(f.case)) if f.case else None,
                renovation_id=f.finding.renovation_id,
                photos=[
                    FindingPhotoOut(
                        id=upload_id,
                        url=url_for("mp.get_upload", upload_id=upload_id, sig=sign_upload(upload_id, secret)),
                    )
                    for upload_id in f.finding.photo_ids
                ],
                can_rectify=f.can_rectify,
                can_report=f.can_report,
            )
            for f in view.findings
        ],
    ).model_dump(mode="json")
