"""A resident's reports: file one, follow it, withdraw it, rate it, or support a similar one."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, cast

from flask import Response, current_app, url_for
from flask_openapi3 import Tag
from pydantic import BaseModel
from pydantic_core import to_json, to_jsonable_python

from backend.accounts.models import User
from backend.articles.services.reading import related_cards
from backend.cases.models import Case, CaseStatus
from backend.cases.services.filing import submit_report
from backend.cases.services.life import rate_case, support_case, withdraw_case
from backend.cases.services.reads import (
    ShownCase,
    find_similar,
    get_case,
    get_case_for_resident,
    list_resident_reports,
    read_case_for_resident,
)
from backend.cases.services.timeline import photos_for_resident, public_events, public_text
from backend.cases.workflow import STATUS_LABELS, Actor, Role, allowed_transitions
from backend.config import get_config
from backend.db import get_session
from backend.errors import ErrorBody
from backend.uploads.services import sign_upload
from miniprogram_api.auth import BEARER, current_user
from miniprogram_api.blueprint import mp_api
from miniprogram_api.schemas import (
    ArticleRef,
    CategoryRef,
    RatingBody,
    ReportBody,
    ReportOut,
    ReportPage,
    ReportsQuery,
    SimilarList,
    SimilarOut,
    SimilarQuery,
    SupportOut,
    TrackingPath,
    WithdrawBody,
)

reports_tag = Tag(name="反映", description="居民反映问题与跟踪办理")
# the responses every report operation documents (flask-openapi3 keys them by status, as int or str)
ERRORS: dict[str | int, type[BaseModel] | dict[Any, Any] | None] = {
    401: ErrorBody,
    403: ErrorBody,
    404: ErrorBody,
    409: ErrorBody,
}


@mp_api.post(
    "/reports",
    tags=[reports_tag],
    security=BEARER,
    responses={201: ReportOut, 200: ReportOut, 429: ErrorBody, **ERRORS},
)
def post_report(body: ReportBody) -> tuple[dict, int]:
    """提交反映。相同 client_request_id 的重试返回第一次创建的反映（200），不会重复立案。应答中的
    related_articles 是这一类别的普法文章（最多 3 篇），可在提交成功页推荐阅读。"""
    user = current_user()
    session = get_session()
    case, created = submit_report(
        session,
        user,
        body.to_input(),
        daily_limit=get_config().REPORTS_PER_DAY,
    )
    session.commit()
    out = report_out(case, user)
    out["related_articles"] = [
        ArticleRef(slug=a.slug, title=a.title, summary=a.summary).model_dump()
        for a in related_cards(session, case.category_code, limit=3)
    ]
    return out, 201 if created else 200


@mp_api.get("/reports", tags=[reports_tag], security=BEARER, responses={200: ReportPage, 401: ErrorBody})
def get_reports(query: ReportsQuery) -> Response:
    """我的反映（最新在前）。"""
    user = current_user()
    page = list_resident_reports(get_session(), user, page=query.page, per_page=query.per_page)
    return _json(
        {
            "data": [_report(c, user, detail=False) for c in page.items],
            "pagination": {
                "page": page.page,
                "per_page": page.per_page,
                "total": page.total,
                "pages": page.pages,
            },
        }
    )


@mp_api.get(
    "/reports/similar", tags=[reports_tag], security=BEARER, responses={200: SimilarList, 401: ErrorBody}
)
def get_similar(query: SimilarQuery) -> dict:
    """同一小区、同一类别的未办结反映（同楼优先），可点「我也遇到」而不必重复提交。"""
    current_user()
    cases = find_similar(
        get_session(), estate_id=query.estate_id, category=query.category, building=query.building
    )
    return SimilarList(
        data=[
            SimilarOut(
                tracking_no=c.tracking_no,
                status=c.status,
                status_label=STATUS_LABELS[CaseStatus(c.status)],
                category=CategoryRef(code=c.category.code, name=c.category.name) if c.category else None,
                building=c.building,
                same_building=bool(query.building) and c.building == query.building,
                created_at=c.created_at,
                supporter_count=c.supporter_count,
            )
            for c in cases
        ]
    ).model_dump(mode="json")


@mp_api.get(
    "/reports/<tracking_no>", tags=[reports_tag], security=BEARER, responses={200: ReportOut, **ERRORS}
)
def get_report(path: TrackingPath) -> Response:
    """反映详情：状态、公开的办理过程、照片和答复。"""
    user = current_user()
    return _json(_report(read_case_for_resident(get_session(), path.tracking_no, user), user))


@mp_api.post(
    "/reports/<tracking_no>/withdraw",
    tags=[reports_tag],
    security=BEARER,
    responses={200: ReportOut, **ERRORS},
)
def post_withdraw(path: TrackingPath, body: WithdrawBody) -> dict:
    """在中队签收前撤回反映。"""
    user = current_user()
    session = get_session()
    case = get_case_for_resident(session, path.tracking_no, user)
    withdraw_case(session, case, user, body.reason)
    session.commit()
    return report_out(case, user)


@mp_api.post(
    "/reports/<tracking_no>/rating", tags=[reports_tag], security=BEARER, responses={200: ReportOut, **ERRORS}
)
def post_rating(path: TrackingPath, body: RatingBody) -> dict:
    """办结后评价；「不满意」会退回重新处置一次。"""
    user = current_user()
    session = get_session()
    case = get_case_for_resident(session, path.tracking_no, user)
    rate_case(session, case, user, body.score, body.comment)
    session.commit()
    return report_out(case, user)


@mp_api.post(
    "/reports/<tracking_no>/support",
    tags=[reports_tag],
    security=BEARER,
    responses={200: SupportOut, **ERRORS},
)
def post_support(path: TrackingPath) -> dict:
    """「我也遇到」：关注一条相似的未办结反映，并随它收到进展消息。"""
    user = current_user()
    session = get_session()
    case = get_case(session, path.tracking_no)
    added = support_case(session, case, user)
    session.commit()
    return SupportOut(
        tracking_no=case.tracking_no, supporter_count=case.supporter_count, added=added
    ).model_dump()


def report_out(case: Case, user: User, *, detail: bool = True) -> dict:
    return to_jsonable_python(_report(case, user, detail=detail))


def _report(case: Case | ShownCase, user: User, *, detail: bool = True) -> dict[str, Any]:
    """What a resident sees of a case (a ReportOut): everything of their own (but internal notes and staff
    photos), only the public progress of a case they support, and never anything about who reported it.

    Written as the dict ReportOut would dump, in its order and with its defaults, for pydantic_core to write
    as model_dump_json does: validating a ReportOut for each report of a page cost more than reading the
    page. tests/miniprogram_api/test_report_json.py holds the two the same."""
    mine = case.reporter_id == user.id
    status = CaseStatus(case.status)
    category, squad, estate = case.category, case.squad, case.estate
    out: dict[str, Any] = {
        "tracking_no": case.tracking_no,
        "status": status.value,
        "status_label": STATUS_LABELS[status],
        "category": None if category is None else {"code": category.code, "name": category.name},
        "category_confirmed": case.category_confirmed,
        "squad": None if squad is None else {"name": squad.name},
        "due_at": case.onsite_due_at,
        "deadlines": {
            "sign_due_at": case.sign_due_at,
            "onsite_due_at": case.onsite_due_at,
            "handle_due_at": case.handle_due_at,
        },
        "created_at": case.created_at,
        "mine": mine,
        "estate": None if estate is None else {"id": estate.id, "name": estate.name},
        "address": "",
        "building": case.building,
        "unit": "",
        "room": "",
        "description": "",
        "anonymous": False,
        "contact_phone": None,
        "photos": [],
        "timeline": [],
        "public_reply": case.public_reply,
        "rating": None,
        "supporter_count": case.supporter_count,
        "can_withdraw": False,
        "can_rate": False,
        "related_articles": [],
    }
    if mine:
        out.update(_reporters_own(case, status, user))
    if detail:
        # the timeline's rules read of a ShownCase, its events and photos only what a Case has by those names
        as_case = cast(Case, case)
        out["timeline"] = [
            {
                "action": e.action,
                "status": e.to_status,
                "text": public_text(as_case, e, for_reporter=mine),
                "at": e.created_at,
            }
            for e in public_events(as_case)
        ]
        secret = current_app.config["SECRET_KEY"]
        out["photos"] = [
            {
                "id": p.upload_id,
                "url": url_for("mp.get_upload", upload_id=p.upload_id, sig=sign_upload(p.upload_id, secret)),
                "kind": p.kind,
            }
            for p in photos_for_resident(as_case, user)
        ]
    return out


def _reporters_own(case: Case | ShownCase, status: CaseStatus, user: User) -> dict[str, Any]:
    """What only the reporter sees: where exactly, their words, how to reach them, what they may do now."""
    can_withdraw, can_rate = _reporters_actions(status, user.id, case.squad_id)
    return {
        "address": case.address,
        "unit": case.unit,
        "room": case.room,
        "description": case.description,
        "anonymous": case.anonymous,
        "contact_phone": case.contact_phone,
        "rating": case.rating,
        "can_withdraw": can_withdraw,
        "can_rate": can_rate,
    }


@lru_cache(maxsize=1024)
def _reporters_actions(status: CaseStatus, user_id: int, squad_id: int | None) -> tuple[bool, bool]:
    # the workflow's rules are constants, so this is a function of its arguments: a list asks it once for
    # each of the few (status, squad) pairs among its reports, instead of once per report
    allowed = allowed_transitions(
        status, Actor(Role.RESIDENT, user_id), reporter_id=user_id, squad_id=squad_id
    )
    return "withdraw" in allowed, "rate" in allowed


def _json(out: dict[str, Any]) -> Response:
    # pydantic_core writes the JSON as model_dump_json would (UTF-8, compact, its datetimes), in one call
    return current_app.response_class(to_json(out), mimetype="application/json")
