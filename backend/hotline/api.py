"""The 12345 hotline's JSON API under /api/hotline/v1: a client pushes work orders with its API key."""

from __future__ import annotations

from flask import g, request
from flask.blueprints import BlueprintSetupState
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel

from backend.cases.models import Case
from backend.clock import now
from backend.db import get_session
from backend.errors import ErrorBody, Unauthorized
from backend.hotline.models import HotlineClient
from backend.hotline.services import HotlineOrder, authenticate_client, intake_order

API_KEY_HEADER = "X-Api-Key"
SECURITY_SCHEME = "hotline_key"
HOTLINE_KEY: list[dict[str, list[str]]] = [{SECURITY_SCHEME: []}]

hotline_api = APIBlueprint(
    "hotline",
    __name__,
    url_prefix="/api/hotline/v1",
    abp_responses={400: ErrorBody, 401: ErrorBody, 413: ErrorBody, 500: ErrorBody, 503: ErrorBody},
)
hotline_tag = Tag(
    name="12345 热线",
    description="市民热线系统推送工单：每个接入方一把 API 密钥（X-Api-Key 请求头），同一工单号只立一个案。",
)


@hotline_api.record_once
def _declare_security_scheme(state: BlueprintSetupState) -> None:
    # the scheme belongs with the routes that use it; the app's spec is generated on first request
    schemes = dict(getattr(state.app, "security_schemes", None) or {})
    schemes[SECURITY_SCHEME] = {
        "type": "apiKey",
        "in": "header",
        "name": API_KEY_HEADER,
        "description": "热线接入方的 API 密钥（flask hotline add-client 生成，只显示一次）",
    }
    state.app.security_schemes = schemes  # type: ignore[attr-defined]


class SquadRef(BaseModel):
    name: str


class OrderOut(BaseModel):
    tracking_no: str
    status: str
    squad: SquadRef | None
    created: bool


def current_client() -> HotlineClient:
    """The client of the request's API key; 401 in the error shape without a valid one."""
    if "hotline_client" not in g:
        key = request.headers.get(API_KEY_HEADER, "").strip()
        if not key:
            raise Unauthorized(f"缺少接口密钥（{API_KEY_HEADER} 请求头）", code="missing_api_key")
        g.hotline_client = authenticate_client(get_session(), key)
    return g.hotline_client


@hotline_api.before_request
def _require_api_key() -> None:
    # before the body is validated, so that a stranger learns nothing about the API's rules
    current_client()


@hotline_api.post(
    "/orders",
    tags=[hotline_tag],
    security=HOTLINE_KEY,
    responses={201: OrderOut, 200: OrderOut},
)
def post_order(body: HotlineOrder) -> tuple[dict, int]:
    """推送一张 12345 工单。新工单立案并按小区或街镇派单（201）；已收到过的工单号返回原来的案件（200）。"""
    client = current_client()
    session = get_session()
    case, created = intake_order(session, body, client_name=client.name, now=now())
    session.commit()
    return order_out(case, created), 201 if created else 200


def order_out(case: Case, created: bool) -> dict:
    """What the hotline learns back: the number to follow and where the case went; nothing of the caller."""
    squad = SquadRef(name=case.squad.name) if case.squad is not None else None
    return OrderOut(
        tracking_no=case.tracking_no, status=case.status, squad=squad, created=created
    ).model_dump()
