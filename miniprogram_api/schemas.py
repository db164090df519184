"""Request and response schemas of the mini-program API; they also generate its OpenAPI document."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from backend.cases.services.filing import DESCRIPTION_MAX, DESCRIPTION_MIN, MAX_PHOTOS, ReportInput
from backend.cases.services.timeline import RATING_LABELS
from backend.db import RowId
from backend.errors import PlainText, explain_pattern, label_choices
from backend.messages.services import MAX_MARK_READ
from backend.pagination import MAX_PAGE
from backend.taxonomy.services import CategoryCode
from backend.text import Description

UPLOAD_ID = explain_pattern(r"^[0-9a-f]{32}$", "应为上传接口返回的照片编号（32 位）")
TRACKING_NO = explain_pattern(r"^QP\d{8}-\d{4,6}$", "应为受理编号，如 QP20240506-0001")
PHONE = explain_pattern(
    r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$", "应为 11 位手机号，或带区号的固定电话，如 021-59721234"
)
CLIENT_ID = explain_pattern(r"^[A-Za-z0-9_-]{8,64}$", "应为 8–64 位字母、数字、下划线或连字符")
Rating = Literal["satisfied", "basically_satisfied", "unsatisfied"]  # named in RATING_LABELS
label_choices(RATING_LABELS)  # "great" is answered with 满意、基本满意、不满意
UploadId = Annotated[str, StringConstraints(pattern=UPLOAD_ID)]  # an id the upload endpoint returned


class Strict(PlainText):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class StrictBody(PlainText):
    """A JSON body: no unknown fields, no silent type coercion (\"yes\" is not a boolean)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


class PageQuery(Strict):
    page: int = Field(1, ge=1, le=MAX_PAGE, description="页码，从 1 开始")
    per_page: int = Field(20, ge=1, le=100, description="每页条数")


class EstateQuery(PageQuery):
    q: str = Field("", max_length=50, description="按小区名称、地址或别名模糊搜索")
    town: str | None = Field(None, max_length=32, description="街镇代码或名称，如 xujing 或 徐泾镇")


class Pagination(BaseModel):
    page: int
    per_page: int
    total: int
    pages: int


class SquadOut(BaseModel):
    code: str
    name: str


class TownOut(BaseModel):
    code: str
    name: str
    kind: str
    squad: SquadOut | None


class TownList(BaseModel):
    data: list[TownOut]


class TownRef(BaseModel):
    code: str
    name: str


class CompanyRef(BaseModel):
    name: str


class EstateOut(BaseModel):
    id: int
    name: str
    town: TownRef
    address: str
    aliases: list[str]
    is_key: bool
    property_company: CompanyRef | None


class EstatePage(BaseModel):
    data: list[EstateOut]
    pagination: Pagination


class LegalBasisOut(BaseModel):
    regulation: str
    article: str | None
    summary: str


class GroupRef(BaseModel):
    code: str
    name: str


class TimeLimitsOut(BaseModel):
    sign_working_days: int | None = Field(description="签收时限（工作日）")
    onsite_hours: int | None = Field(description="到场时限（小时）")
    onsite_hours_in_progress: int | None = Field(description="正在搭建时的到场时限（小时）")
    handle_working_days: int | None = Field(description="办理时限（工作日）")


class CategoryOut(BaseModel):
    code: str
    name: str
    group: GroupRef | None
    description: str
    legal_basis: list[LegalBasisOut]
    time_limits: TimeLimitsOut


class CategoryList(BaseModel):
    data: list[CategoryOut]


# ------------------------------------------------------------------------------------------- auth


class LoginBody(StrictBody):
    code: str = Field(min_length=1, max_length=128, description="wx.login 返回的 code")


class DevLoginBody(StrictBody):
    nickname: str = Field(min_length=1, max_length=32, description="开发用昵称（仅嵌入式开发模式）")


class TokenOut(BaseModel):
    token: str
    expires_at: dt.datetime


# ---------------------------------------------------------------------------------------- uploads


class UploadOut(BaseModel):
    id: str


class UploadPath(BaseModel):
    upload_id: str = Field(pattern=UPLOAD_ID)


class UploadQuery(BaseModel):
    sig: str = Field("", max_length=256, description="照片链接中的签名")


# ---------------------------------------------------------------------------------------- reports


class ReportBody(StrictBody):
    category: CategoryCode | None = Field(None, description="问题类别代码；不填时由系统推荐并待中队确认")
    description: Description = Field(
        min_length=DESCRIPTION_MIN,
        max_length=DESCRIPTION_MAX,
        description=f"问题描述，{DESCRIPTION_MIN}–{DESCRIPTION_MAX} 字",
    )
    estate_id: RowId | None = Field(None, description="小区 id（与 address 二选一）")
    address: str = Field("", max_length=255, description="地址（无小区时填写）")
    town: str | None = Field(None, max_length=32, description="街镇代码或名称（配合 address）")
    building: str = Field("", max_length=32, description="楼号")
    unit: str = Field("", max_length=32, description="单元")
    room: str = Field("", max_length=32, description="室号")
    lat: float | None = Field(None, ge=-90, le=90)
    lng: float | None = Field(None, ge=-180, le=180)
    photos: list[UploadId] = Field(
        default_factory=list,
        max_length=MAX_PHOTOS,
        description=f"上传接口返回的照片 id，最多 {MAX_PHOTOS} 张",
    )
    anonymous: bool = False
    contact_phone: str | None = Field(None, pattern=PHONE, description="联系电话（仅办理人员可见）")
    client_request_id: str = Field(pattern=CLIENT_ID, description="客户端生成的请求号，重试时不变")
    in_progress: bool | None = Field(
        None, description="是否正在施工（到场时限 2 小时）；不填时由系统根据描述判断"
    )

    @model_validator(mode="after")
    def _checks(self) -> ReportBody:
        if (self.lat is None) != (self.lng is None):
            raise ValueError("经度和纬度需同时提供")
        if self.estate_id is None and not self.address:
            raise ValueError("请选择小区或填写地址")
        return self

    def to_input(self) -> ReportInput:
        """The report as the filing service takes it (the one place this body becomes a ReportInput)."""
        return ReportInput(
            description=self.description,
            category=self.category,
            estate_id=self.estate_id,
            address=self.address,
            town=self.town,
            building=self.building,
            unit=self.unit,
            room=self.room,
            lat=self.lat,
            lng=self.lng,
            photo_ids=self.photos,
            anonymous=self.anonymous,
            contact_phone=self.contact_phone,
            client_request_id=self.client_request_id,
            in_progress=self.in_progress,
        )


class TrackingPath(BaseModel):
    tracking_no: str = Field(max_length=20)


class SimilarQuery(Strict):
    estate_id: RowId
    category: CategoryCode | None = None
    building: str = Field("", max_length=32)


class WithdrawBody(StrictBody):
    reason: str = Field("", max_length=200)


class RatingBody(StrictBody):
    score: Rating
    comment: str = Field("", max_length=500)


class CategoryRef(BaseModel):
    code: str
    name: str


class SquadRef(BaseModel):
    name: str


class EstateRef(BaseModel):
    id: int
    name: str


class PhotoOut(BaseModel):
    id: str
    url: str
    kind: str = Field(description="report：您随反映上传的照片；resolution：办结时公开的照片")


class TimelineItem(BaseModel):
    action: str
    status: str | None
    text: str
    at: dt.datetime


class Deadlines(BaseModel):
    sign_due_at: dt.datetime | None
    onsite_due_at: dt.datetime | None
    handle_due_at: dt.datetime | None


class ReportOut(BaseModel):
    tracking_no: str
    status: str
    status_label: str
    category: CategoryRef | None
    category_confirmed: bool
    squad: SquadRef | None
    due_at: dt.datetime | None = Field(description="到场核查时限")
    deadlines: Deadlines
    created_at: dt.datetime
    mine: bool
    estate: EstateRef | None = None
    address: str = ""
    building: str = ""
    unit: str = ""
    room: str = ""
    description: str = ""
    anonymous: bool = False
    contact_phone: str | None = None
    photos: list[PhotoOut] = []
    timeline: list[TimelineItem] = []
    public_reply: str = ""
    rating: str | None = None
    supporter_count: int = 0
    can_withdraw: bool = False
    can_rate: bool = False


class ReportPage(BaseModel):
    data: list[ReportOut]
    pagination: Pagination


class SimilarOut(BaseModel):
    tracking_no: str
    status: str
    status_label: str
    category: CategoryRef | None
    building: str
    same_building: bool
    created_at: dt.datetime
    supporter_count: int


class SimilarList(BaseModel):
    data: list[SimilarOut]


class SupportOut(BaseModel):
    tracking_no: str
    supporter_count: int
    added: bool


# --------------------------------------------------------------------------------------- messages


class MessageOut(BaseModel):
    id: int
    title: str
    body: str
    tracking_no: str | None
    created_at: dt.datetime
    read: bool


class MessagePage(BaseModel):
    data: list[MessageOut]
    pagination: Pagination
    unread: int


class ReadBody(StrictBody):
    ids: list[RowId] | None = Field(
        None, max_length=MAX_MARK_READ, description="要标为已读的消息 id；不填则全部已读"
    )


class ReadOut(BaseModel):
    updated: int
    unread: int


class SubscriptionBody(StrictBody):
    template_id: str = Field(min_length=1, max_length=64)


class SubscriptionOut(BaseModel):
    template_id: str
    credits: int


# ---------------------------------------------------------------- property staff: binding (schemas go below)


# ---------------------------------------------------------------- renovations (schemas go below)


# ---------------------------------------------------------------- patrols (schemas go below)
