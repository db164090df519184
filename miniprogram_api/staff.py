"""Property staff in the mini-program: binding a WeChat account to a console account with a one-time code."""

from __future__ import annotations

from flask import Flask, Response
from flask.blueprints import BlueprintSetupState
from flask_limiter import RequestLimit
from flask_openapi3 import Tag

from backend.clock import now
from backend.db import get_session
from backend.errors import ErrorBody, RateLimited
from backend.limits import ViewLimiter
from backend.property.binding import BINDING_ATTEMPTS, bind_wechat, bound_account, unbind_wechat
from backend.staff.models import StaffUser
from miniprogram_api.auth import BEARER, current_user
from miniprogram_api.blueprint import mp_api
from miniprogram_api.schemas import StaffBindingBody, StaffCompanyOut, StaffMeOut

staff_tag = Tag(
    name="物业人员",
    description="物业人员用物业管理后台显示的一次性绑定码，把微信绑定到自己的物业工作账号；绑定后本令牌以其公司的身份操作",
)


def _user_key() -> str:
    # runs inside the view, after the blueprint checked the token: every attempt is some user's
    return f"mp-user:{current_user().id}"


# Only refused codes count, per mini-program user (not per address: a company's staff share one office
# network). Unbound until the app registers the blueprint, as the console's login throttle is.
binding_limiter = ViewLimiter(
    key_func=_user_key, default_limits=[], strategy="fixed-window", headers_enabled=True
)


@mp_api.record_once
def _bind_limiter(state: BlueprintSetupState) -> None:
    # its storage (Redis when there is one) is the app's RATELIMIT_* settings, set by the factory
    app = state.app
    assert isinstance(app, Flask)
    binding_limiter.init_app(app)


def _refused_code(response: Response) -> bool:
    return response.status_code == 400


def _too_many_attempts(limit: RequestLimit) -> None:
    # raised, not returned: the app's handler of HTTP errors would put its own words on a returned response
    raise RateLimited(
        "绑定码输错次数过多，请 10 分钟后再试",
        code="too_many_binding_attempts",
        description=f"limit: {limit.limit}",
    )


def _me(staff: StaffUser) -> dict:
    assert staff.company is not None  # a bound account is a property-staff one, of a company
    return StaffMeOut(
        name=staff.display_name,
        company=StaffCompanyOut(id=staff.company.id, name=staff.company.name),
        manager=staff.company_manager,
    ).model_dump()


@mp_api.post(
    "/staff/binding",
    tags=[staff_tag],
    security=BEARER,
    responses={200: StaffMeOut, 401: ErrorBody, 409: ErrorBody, 429: ErrorBody},
)
@binding_limiter.limit(BINDING_ATTEMPTS, deduct_when=_refused_code, on_breach=_too_many_attempts)
def post_staff_binding(body: StaffBindingBody) -> dict:
    """用绑定码把当前微信绑定到物业工作账号。绑定码错误、过期或已用过时答复相同；10 分钟内最多输错 5 次。"""
    session = get_session()
    staff = bind_wechat(session, current_user(), body.code, now=now())
    session.commit()
    return _me(staff)


@mp_api.delete("/staff/binding", tags=[staff_tag], security=BEARER, responses={204: None, 401: ErrorBody})
def delete_staff_binding() -> tuple[str, int]:
    """解除当前微信与物业工作账号的绑定（未绑定时也答复 204）。"""
    session = get_session()
    unbind_wechat(session, current_user(), via="miniprogram", now=now())
    session.commit()
    return "", 204


@mp_api.get(
    "/staff/me",
    tags=[staff_tag],
    security=BEARER,
    responses={200: StaffMeOut, 401: ErrorBody, 403: ErrorBody},
)
def get_staff_me() -> dict:
    """当前微信绑定的物业工作账号：姓名、公司、是否管理员。未绑定、已解绑或账号已停用时答复 403。"""
    return _me(bound_account(get_session(), current_user()))
