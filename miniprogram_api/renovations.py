"""Renovation registrations in the mini-program: property staff file and follow them; residents ask whether a
flat has one."""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for
from flask_openapi3 import Tag
from pydantic import BaseModel

from backend.clock import now
from backend.config import get_config
from backend.db import get_session
from backend.errors import ErrorBody
from backend.property.renovations import (
    Checklist,
    ItemView,
    PermitInput,
    RenovationFilter,
    RenovationView,
    Verdict,
    ask_about_flat,
    attach_permit,
    complete_renovation,
    get_renovation,
    list_renovations,
    load_checklist,
    register_renovation,
    start_renovation,
    view_for,
)
from backend.property.staff import property_actor
from backend.uploads.services import sign_upload
from miniprogram_api.auth import BEARER, current_user
from miniprogram_api.blueprint import mp_api
from miniprogram_api.schemas import (
    BasisOut,
    ChecklistItemOut,
    ChecklistOut,
    EstateRef,
    FlatAnswerOut,
    FlatItemOut,
    FlatQuery,
    Pagination,
    PermitBody,
    RenovationBody,
    RenovationEventOut,
    RenovationItemOut,
    RenovationOut,
    RenovationPage,
    RenovationPath,
    RenovationQuery,
    RenovationStepBody,
)

renovations_tag = Tag(
    name="装修登记",
    description="物业人员申报、跟踪装修登记（须先绑定物业工作账号）；居民查询某套房屋是否已登记装修",
)
ERRORS: dict[str | int, type[BaseModel] | dict[Any, Any] | None] = {
    401: ErrorBody,
    403: ErrorBody,
    404: ErrorBody,
    409: ErrorBody,
}


def _checklist() -> Checklist:
    return load_checklist(get_config().content_dir)


@mp_api.get(
    "/renovations/checklist",
    tags=[renovations_tag],
    security=BEARER,
    responses={200: ChecklistOut, 401: ErrorBody},
)
def get_renovation_checklist() -> dict:
    """装修项目清单：每一项是禁止、须审批还是可以施工，理由和法律依据。"""
    return ChecklistOut(
        data=[
            ChecklistItemOut(
                code=item.code,
                name=item.name,
                verdict=item.verdict.value,
                verdict_label=item.verdict_label,
                reason=item.reason,
                basis=[BasisOut(law=b.law, article=b.article) for b in item.basis],
                permit=item.permit,
                authority=item.authority,
            )
            for item in _checklist().items
        ]
    ).model_dump(mode="json")


@mp_api.get(
    "/renovations/flat",
    tags=[renovations_tag],
    security=BEARER,
    responses={200: FlatAnswerOut, 401: ErrorBody, 429: ErrorBody},
)
def get_flat_renovation(query: FlatQuery) -> dict:
    """居民查询：这套房屋（须写明小区、楼号和室号）是否有已登记的装修，计划工期和登记的施工项目。不会显示业主或施工方
    的任何信息；只有已登记、施工中和已完工的登记算作已登记。每人每天最多查询 30 次。"""
    user = current_user()
    session = get_session()
    answer = ask_about_flat(
        session,
        user,
        estate_id=query.estate_id,
        building=query.building,
        unit=query.unit,
        room=query.room,
        now=now(),
    )
    session.commit()
    return FlatAnswerOut(
        registered=answer.registered,
        flat=answer.flat,
        status=answer.status,
        status_label=answer.status_label,
        planned_start=answer.planned_start,
        planned_end=answer.planned_end,
        items=[FlatItemOut(name=i.name, approved=i.approved) for i in answer.items],
    ).model_dump(mode="json")


@mp_api.post(
    "/renovations",
    tags=[renovations_tag],
    security=BEARER,
    responses={201: RenovationOut, 200: RenovationOut, **ERRORS},
)
def post_renovation(body: RenovationBody) -> tuple[dict, int]:
    """申报装修登记，按清单当即判定：有禁止的项目不予登记（refusals 给出理由），有须审批的项目待补审批文件，其余予以
    登记。相同 client_request_id 的重试返回第一次的登记（200）。"""
    session = get_session()
    actor = property_actor(session, current_user())
    renovation, created = register_renovation(session, actor, body.to_input(), _checklist(), now=now())
    session.commit()
    return renovation_out(view_for(actor, renovation)), 201 if created else 200


@mp_api.get(
    "/renovations", tags=[renovations_tag], security=BEARER, responses={200: RenovationPage, **ERRORS}
)
def get_renovations(query: RenovationQuery) -> dict:
    """本公司的装修登记（最新在前），可按小区、状态、楼号、单元、室号筛选。"""
    session = get_session()
    actor = property_actor(session, current_user())
    filters = RenovationFilter(
        estate_id=query.estate_id,
        status=query.status,
        building=query.building,
        unit=query.unit,
        room=query.room,
    )
    page = list_renovations(session, actor, filters, page=query.page, per_page=query.per_page)
    return {
        "data": [renovation_out(view_for(actor, r), detail=False) for r in page.items],
        "pagination": Pagination(
            page=page.page, per_page=page.per_page, total=page.total, pages=page.pages
        ).model_dump(),
    }


@mp_api.get(
    "/renovations/<int:renovation_id>",
    tags=[renovations_tag],
    security=BEARER,
    responses={200: RenovationOut, **ERRORS},
)
def get_renovation_detail(path: RenovationPath) -> dict:
    """装修登记详情，含登记记录。"""
    session = get_session()
    actor = property_actor(session, current_user())
    return renovation_out(view_for(actor, get_renovation(session, actor, path.renovation_id)))


@mp_api.post(
    "/renovations/<int:renovation_id>/permits",
    tags=[renovations_tag],
    security=BEARER,
    responses={200: RenovationOut, **ERRORS},
)
def post_renovation_permit(path: RenovationPath, body: PermitBody) -> dict:
    """为须审批的项目附上审批文件（编号、审批部门，可附本人上传的照片）；全部附齐后予以登记。"""
    session = get_session()
    user = current_user()
    actor = property_actor(session, user)
    permit = PermitInput(
        item=body.item, number=body.number, authority=body.authority, upload_id=body.upload_id
    )
    renovation = attach_permit(session, actor, path.renovation_id, permit, uploader_id=user.id, now=now())
    session.commit()
    return renovation_out(view_for(actor, renovation))


@mp_api.post(
    "/renovations/<int:renovation_id>/start",
    tags=[renovations_tag],
    security=BEARER,
    responses={200: RenovationOut, **ERRORS},
)
def post_renovation_start(path: RenovationPath, body: RenovationStepBody) -> dict:
    """开工：已登记的装修开始施工。"""
    session = get_session()
    actor = property_actor(session, current_user())
    renovation = start_renovation(session, actor, path.renovation_id, note=body.note, now=now())
    session.commit()
    return renovation_out(view_for(actor, renovation))


@mp_api.post(
    "/renovations/<int:renovation_id>/complete",
    tags=[renovations_tag],
    security=BEARER,
    responses={200: RenovationOut, **ERRORS},
)
def post_renovation_complete(path: RenovationPath, body: RenovationStepBody) -> dict:
    """完工：施工中的装修已完成。"""
    session = get_session()
    actor = property_actor(session, current_user())
    renovation = complete_renovation(session, actor, path.renovation_id, note=body.note, now=now())
    session.commit()
    return renovation_out(view_for(actor, renovation))


def _item_out(item: ItemView) -> RenovationItemOut:
    photo = None
    if item.permit_upload_id:  # only in the company's own view
        signature = sign_upload(item.permit_upload_id, current_app.config["SECRET_KEY"])
        photo = url_for("mp.get_upload", upload_id=item.permit_upload_id, sig=signature)
    return RenovationItemOut(
        code=item.code,
        name=item.name,
        verdict=item.verdict,
        verdict_label=item.verdict_label,
        reason=item.reason,
        basis=item.basis,
        permit=item.permit,
        authority=item.authority,
        permit_number=item.permit_number,
        permit_authority=item.permit_authority,
        permit_photo_url=photo,
    )


def renovation_out(view: RenovationView, *, detail: bool = True) -> dict:
    """A registration as the company's own staff see it (the only ones this API shows it to)."""
    out = RenovationOut(
        id=view.id,
        estate=EstateRef(id=view.estate_id, name=view.estate_name),
        building=view.building,
        unit=view.unit,
        room=view.room,
        flat=view.flat,
        owner_name=view.owner_name or "",
        owner_phone=view.owner_phone or "",
        contractor=view.contractor,
        contractor_phone=view.contractor_phone or "",
        planned_start=view.planned_start,
        planned_end=view.planned_end,
        status=view.status,
        status_label=view.status_label,
        items=[_item_out(i) for i in view.items],
        refusals=[_item_out(i) for i in view.of(Verdict.FORBIDDEN)] if view.status == "refused" else [],
        missing_permits=[i.code for i in view.missing_permits],
        note=view.note or "",
        created_at=view.created_at,
        started_at=view.started_at,
        completed_at=view.completed_at,
    )
    if detail:
        out.events = [
            RenovationEventOut(
                action=e.action,
                label=e.label,
                from_status=e.from_status,
                to_status=e.to_status,
                who=e.who,
                note=e.note,
                at=e.at,
            )
            for e in view.events
        ]
    return out.model_dump(mode="json")
