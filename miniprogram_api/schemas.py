"""Request and response schemas of the mini-program API; they also generate its OpenAPI document."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from backend.articles.preferences import MAX_ESTATES, TOPIC_CODES
from backend.articles.services.checks import SLUG_PATTERN as ARTICLE_SLUG
from backend.cases.services.filing import DESCRIPTION_MAX, DESCRIPTION_MIN, MAX_PHOTOS, ReportInput
from backend.cases.services.timeline import RATING_LABELS
from backend.community.events import EventStatus
from backend.community.suggestions import TEXT_MAX as SUGGESTION_MAX
from backend.community.suggestions import TEXT_MIN as SUGGESTION_MIN
from backend.community.suggestions import SuggestionInput
from backend.db import RowId
from backend.errors import PlainText, explain_pattern, label_choices
from backend.messages.services import MAX_MARK_READ
from backend.pagination import MAX_PAGE
from backend.property.models import FindingAction
from backend.property.patrols import (
    AREA_MAX,
    COMMON_AREA_MAX,
    COMMON_AREAS,
    MAX_AREAS,
    MAX_FINDINGS,
    MAX_PATROL_AGE,
    FindingActionCode,
    FindingCategory,
    FindingInput,
    PatrolInput,
)
from backend.property.renovations import RenovationInput
from backend.taxonomy.services import CategoryCode, InScopeCategory
from backend.text import PHONE_PATTERN, Description

UPLOAD_ID = explain_pattern(r"^[0-9a-f]{32}$", "应为上传接口返回的照片编号（32 位）")
TRACKING_NO = explain_pattern(r"^QP\d{8}-\d{4,6}$", "应为受理编号，如 QP20240506-0001")
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


class SchemaOnce(BaseModel):
    """A query model whose JSON schema is made once per class: flask-openapi3 asks for it on every request (to
    tell list parameters from single ones), and making it costs more than the rest of a catalog read."""

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if args or kwargs:  # the OpenAPI document's own calls, made once
            return super().model_json_schema(*args, **kwargs)
        schema = _SCHEMAS.get(cls)
        if schema is None:
            schema = _SCHEMAS[cls] = super().model_json_schema()
        return schema  # shared: flask-openapi3's request parsers, the only callers without arguments, only read it


_SCHEMAS: dict[type[BaseModel], dict[str, Any]] = {}


class EstateQuery(SchemaOnce, PageQuery):
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
    contact_phone: str | None = Field(None, pattern=PHONE_PATTERN, description="联系电话（仅办理人员可见）")
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


# The views write a ReportOut as a plain dict, in its order and with its defaults (miniprogram_api/reports.py:
# _report); tests/miniprogram_api/test_report_json.py holds the two the same.
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
    related_articles: list[ArticleRef] = Field(
        default_factory=list,
        description="与这一类别相关的普法文章（最多 3 篇，{slug, title, summary}）：只在提交反映的应答中给出",
    )


class ReportPage(BaseModel):
    data: list[ReportOut]
    pagination: Pagination


class ReportsQuery(SchemaOnce, PageQuery):
    """A page of a resident's own reports (its schema made once: every visit to the mini-program asks)."""


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


class StaffBindingBody(StrictBody):
    code: str = Field(
        min_length=1, max_length=32, description="物业管理后台显示的绑定码（8 位，10 分钟内有效，只能用一次）"
    )


class StaffCompanyOut(BaseModel):
    id: int
    name: str


class StaffMeOut(BaseModel):
    name: str = Field(description="物业人员姓名")
    company: StaffCompanyOut
    manager: bool = Field(description="是否为本公司管理员")


# ---------------------------------------------------------------- renovations (schemas go below)


RenovationStatusName = Literal[
    "submitted", "refused", "waiting_permit", "accepted", "in_progress", "completed"
]
ItemCode = Annotated[str, StringConstraints(min_length=1, max_length=48)]
# A date as the mini-program sends it, "2026-03-09" (a JSON body has no date type of its own).
JsonDate = Annotated[dt.date, Field(strict=False)]


class RenovationBody(StrictBody):
    estate_id: RowId = Field(description="小区 id：本公司当前管理的小区")
    building: str = Field(min_length=1, max_length=32, description="楼号")
    unit: str = Field("", max_length=32, description="单元（没有单元的小区不填）")
    room: str = Field(min_length=1, max_length=32, description="室号")
    owner_name: str = Field(min_length=1, max_length=64, description="业主姓名（仅本公司可见）")
    owner_phone: str = Field(pattern=PHONE_PATTERN, description="业主电话（仅本公司可见）")
    contractor: str = Field(min_length=1, max_length=128, description="施工单位或施工人")
    contractor_phone: str = Field(pattern=PHONE_PATTERN, description="施工方电话（仅本公司可见）")
    planned_start: JsonDate = Field(description="计划开工日期，如 2026-03-09")
    planned_end: JsonDate = Field(description="计划完工日期，不早于开工日期")
    items: list[ItemCode] = Field(
        min_length=1, max_length=60, description="装修项目代码，见 GET /renovations/checklist"
    )
    note: str = Field("", max_length=1000, description="备注（仅本公司可见）")
    client_request_id: str = Field(pattern=CLIENT_ID, description="客户端生成的请求号，重试时不变")

    def to_input(self) -> RenovationInput:
        """The registration as the service takes it (the one place this body becomes a RenovationInput)."""
        return RenovationInput(
            estate_id=self.estate_id,
            building=self.building,
            unit=self.unit,
            room=self.room,
            owner_name=self.owner_name,
            owner_phone=self.owner_phone,
            contractor=self.contractor,
            contractor_phone=self.contractor_phone,
            planned_start=self.planned_start,
            planned_end=self.planned_end,
            items=self.items,
            note=self.note,
            client_request_id=self.client_request_id,
        )


class RenovationQuery(PageQuery):
    estate_id: RowId | None = Field(None, description="小区 id")
    status: RenovationStatusName | None = Field(None, description="状态")
    building: str = Field("", max_length=32, description="楼号")
    unit: str = Field("", max_length=32, description="单元")
    room: str = Field("", max_length=32, description="室号")


class RenovationPath(BaseModel):
    renovation_id: RowId


class PermitBody(StrictBody):
    item: ItemCode = Field(description="须审批的装修项目代码")
    number: str = Field(min_length=1, max_length=64, description="审批文件编号")
    authority: str = Field(min_length=1, max_length=64, description="审批部门")
    upload_id: Annotated[str, StringConstraints(pattern=UPLOAD_ID)] | None = Field(
        None, description="审批文件的照片或扫描件：本人通过上传接口上传后返回的 id"
    )


class RenovationStepBody(StrictBody):
    note: str = Field("", max_length=500, description="备注")


class BasisOut(BaseModel):
    law: str
    article: str | None


class ChecklistItemOut(BaseModel):
    code: str
    name: str
    verdict: str = Field(description="forbidden：禁止；permit：须审批；allowed：可以施工")
    verdict_label: str
    reason: str
    basis: list[BasisOut]
    permit: str = Field(description="须取得的审批文件（仅 permit）")
    authority: str = Field(description="审批部门（仅 permit）")


class ChecklistOut(BaseModel):
    data: list[ChecklistItemOut]


class RenovationItemOut(BaseModel):
    code: str
    name: str
    verdict: str
    verdict_label: str
    reason: str
    basis: str = Field(description="法律依据")
    permit: str = ""
    authority: str = ""
    permit_number: str | None = Field(None, description="已附审批文件的编号")
    permit_authority: str | None = None
    permit_photo_url: str | None = Field(None, description="审批文件照片的临时链接")


class RenovationEventOut(BaseModel):
    action: str
    label: str
    from_status: str | None
    to_status: str | None
    who: str
    note: str
    at: dt.datetime


class RenovationOut(BaseModel):
    id: int
    estate: EstateRef
    building: str
    unit: str
    room: str
    flat: str = Field(description="房屋，如 12号楼2单元1502室")
    owner_name: str
    owner_phone: str
    contractor: str
    contractor_phone: str
    planned_start: dt.date
    planned_end: dt.date
    status: str
    status_label: str
    items: list[RenovationItemOut]
    refusals: list[RenovationItemOut] = Field(description="不予登记的理由：申报中禁止的项目")
    missing_permits: list[str] = Field(description="尚未附上审批文件的项目代码")
    note: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    completed_at: dt.datetime | None
    events: list[RenovationEventOut] = Field(default_factory=list, description="登记记录（详情中返回）")


class RenovationPage(BaseModel):
    data: list[RenovationOut]
    pagination: Pagination


class FlatQuery(Strict):
    estate_id: RowId = Field(description="小区 id")
    building: str = Field(min_length=1, max_length=32, description="楼号（必填）")
    unit: str = Field("", max_length=32, description="单元")
    room: str = Field(min_length=1, max_length=32, description="室号（必填）")


class FlatItemOut(BaseModel):
    name: str
    approved: bool = Field(description="须审批的项目，已取得审批")


class FlatAnswerOut(BaseModel):
    registered: bool = Field(description="是否有已登记的装修（已登记、施工中或已完工）")
    flat: str
    status: str | None = None
    status_label: str | None = None
    planned_start: dt.date | None = None
    planned_end: dt.date | None = None
    items: list[FlatItemOut] = Field(default_factory=list, description="登记的施工项目")


# ---------------------------------------------------------------- patrols (schemas go below)


# An instant as the mini-program sends it, "2026-11-26T10:00:00+08:00": with its zone (a JSON body has no
# date-time type of its own).
JsonInstant = Annotated[AwareDatetime, Field(strict=False)]
AreaName = Annotated[str, StringConstraints(min_length=1, max_length=AREA_MAX)]


class FindingBody(StrictBody):
    category: FindingCategory = Field(description="问题类别代码（物业不上报自身的未履职类别）")
    description: Description = Field(
        min_length=DESCRIPTION_MIN,
        max_length=DESCRIPTION_MAX,
        description=f"发现的情况，{DESCRIPTION_MIN}–{DESCRIPTION_MAX} 字",
    )
    action: FindingActionCode = Field(
        description="采取的措施：dissuaded 劝阻、stopped 制止、rectified 已整改、reported 上报（立即上报城管）"
    )
    building: str = Field("", max_length=32, description="楼号；与 common_area 至少填一项")
    unit: str = Field("", max_length=32, description="单元")
    room: str = Field("", max_length=32, description="室号")
    common_area: str = Field(
        "", max_length=COMMON_AREA_MAX, description="公共部位，如 " + "、".join(COMMON_AREAS[:7])
    )
    photos: list[UploadId] = Field(
        default_factory=list,
        max_length=MAX_PHOTOS,
        description=f"本人通过上传接口上传的照片 id，最多 {MAX_PHOTOS} 张（仅城管和本公司可见）",
    )
    renovation_id: RowId | None = Field(None, description="巡查的装修登记 id（本公司、同一小区）")

    def to_input(self) -> FindingInput:
        return FindingInput(
            category=self.category,
            description=self.description,
            action=FindingAction(self.action),
            building=self.building,
            unit=self.unit,
            room=self.room,
            common_area=self.common_area,
            photo_ids=self.photos,
            renovation_id=self.renovation_id,
        )


class PatrolBody(StrictBody):
    estate_id: RowId = Field(description="小区 id：巡查时本公司管理的小区")
    patrolled_at: JsonInstant | None = Field(
        None,
        description=(
            "巡查时间，须带时区，如 2026-11-26T10:00:00+08:00；不填为现在。"
            f"可补录 {MAX_PATROL_AGE.days} 天内的巡查，24 小时从巡查时间起算"
        ),
    )
    areas: list[AreaName] = Field(
        min_length=1, max_length=MAX_AREAS, description="巡查区域，如 1-12号楼楼道、屋顶平台、绿地"
    )
    note: str = Field("", max_length=500, description="备注")
    findings: list[FindingBody] = Field(
        default_factory=list, max_length=MAX_FINDINGS, description="发现的问题（没有发现则为空）"
    )
    client_request_id: str = Field(pattern=CLIENT_ID, description="客户端生成的请求号，重试时不变")

    def to_input(self) -> PatrolInput:
        """The patrol as the service takes it (the one place this body becomes a PatrolInput)."""
        return PatrolInput(
            estate_id=self.estate_id,
            areas=self.areas,
            findings=[f.to_input() for f in self.findings],
            patrolled_at=self.patrolled_at,
            note=self.note,
            client_request_id=self.client_request_id,
        )


class PatrolQuery(PageQuery):
    estate_id: RowId | None = Field(None, description="小区 id")


class PatrolPath(BaseModel):
    patrol_id: RowId


class FindingPath(BaseModel):
    finding_id: RowId


class FindingCaseOut(BaseModel):
    tracking_no: str
    status: str
    status_label: str
    public_reply: str = Field(description="中队的公开答复")


class FindingPhotoOut(BaseModel):
    id: str
    url: str = Field(description="照片的临时链接")


class FindingOut(BaseModel):
    id: int
    category: CategoryRef
    place: str = Field(description="地点，如 12号楼2单元1502室、屋顶平台")
    building: str
    unit: str
    room: str
    common_area: str
    description: str
    action: str
    action_label: str
    found_at: dt.datetime = Field(description="发现时间（即巡查时间）")
    state: Literal["reported", "rectified", "waiting", "overdue"] = Field(
        description="reported 已上报为工单；rectified 已整改；waiting 等待整改（report_due_at 前未整改将上报）；"
        "overdue 超过 24 小时未整改，正在上报"
    )
    state_label: str
    report_due_at: dt.datetime | None = Field(description="未整改将上报城管的时间（仅 waiting）")
    rectified_at: dt.datetime | None
    reported_at: dt.datetime | None
    case: FindingCaseOut | None = Field(description="上报后的工单：受理编号、公开状态和公开答复")
    renovation_id: int | None
    photos: list[FindingPhotoOut]
    can_rectify: bool
    can_report: bool


class PatrolOut(BaseModel):
    id: int
    estate: EstateRef
    patrolled_at: dt.datetime
    filed_at: dt.datetime
    late: bool = Field(description="是否补录（提交时间晚于巡查时间一小时以上）")
    patroller: str
    areas: list[str]
    note: str
    findings: list[FindingOut]


class PatrolSummaryOut(BaseModel):
    id: int
    estate: EstateRef
    patrolled_at: dt.datetime
    patroller: str
    areas: list[str]
    finding_count: int
    reported_count: int = Field(description="已上报为工单的发现数")


class PatrolPage(BaseModel):
    data: list[PatrolSummaryOut]
    pagination: Pagination


class ChoiceOut(BaseModel):
    code: str
    label: str


class PatrolRenovationOut(BaseModel):
    id: int
    estate_id: int
    flat: str = Field(description="如 9号楼1单元301室")


class PatrolFormOut(BaseModel):
    estates: list[EstateRef] = Field(description="本公司当前管理的小区")
    categories: list[CategoryRef] = Field(description="物业巡查可上报的问题类别")
    actions: list[ChoiceOut] = Field(description="采取的措施")
    common_areas: list[str] = Field(description="常见公共部位（也可填写其他）")
    renovations: list[PatrolRenovationOut] = Field(description="本公司已登记、施工中或待补审批的装修")
    max_photos: int = Field(description="每条发现最多照片数")
    max_age_days: int = Field(description="可补录的天数")


# ---------------------------------------------------------------- articles (schemas go below)


ArticleSlug = Annotated[str, StringConstraints(pattern=explain_pattern(ARTICLE_SLUG, "应为文章的链接名"))]


class ArticleRef(BaseModel):
    slug: str = Field(description="文章的链接名：GET /articles/{slug} 读全文")
    title: str
    summary: str


class ArticleCard(ArticleRef):
    categories: list[CategoryRef]
    tags: list[str]
    cover_url: str | None = Field(description="封面图片的地址；没有封面为 null")
    published_at: dt.datetime | None


class ArticlePage(BaseModel):
    data: list[ArticleCard]
    pagination: Pagination


class ArticleQuery(PageQuery):
    category: CategoryCode | None = Field(None, description="只看这个类别的文章")
    tag: str = Field("", max_length=16, description="只看带这个标签的文章")


class ArticleSearchQuery(PageQuery):
    q: str = Field(min_length=1, max_length=50, description="搜索的字词，如「楼顶搭阳光房会被拆吗」")


class ArticleHit(ArticleCard):
    title_html: str = Field(description="标题，命中的词用 <em> 标出（其余已转义，可直接交给 rich-text）")
    excerpt_html: str = Field(description="摘要或正文中命中处的片段，同样用 <em> 标出")
    score: float = Field(description="相关程度，越大越相关（结果已按它排序）")


class ArticleSearchPage(BaseModel):
    words: list[str] = Field(description="分词后用来搜索的词")
    data: list[ArticleHit]
    pagination: Pagination


class RelatedQuery(Strict):
    category: CategoryCode = Field(description="问题类别代码")
    limit: int = Field(3, ge=1, le=10, description="最多几篇")


class ArticleList(BaseModel):
    data: list[ArticleCard]


class ArticlePath(BaseModel):
    slug: ArticleSlug


class ArticleImagePath(BaseModel):
    upload_id: str = Field(pattern=UPLOAD_ID)


class ArticleOut(ArticleCard):
    html: str = Field(
        description="正文：Markdown 渲染后经过清理的 HTML，只含 rich-text 支持的标签，可直接交给 rich-text 组件"
    )
    audience: str = Field(description="读者：居民、物业、业主与施工单位")
    legal_basis: list[BasisOut]
    version: int = Field(description="当前版本号")
    updated_at: dt.datetime
    related: list[ArticleCard] = Field(description="同类别的其他文章（最多 3 篇）")


# ---------------------------------------------------------------- resident preferences and pushes (schemas go below)


class PreferencesBody(StrictBody):
    pushes: bool = Field(description="是否接收普法文章推送")
    topics: list[InScopeCategory] = Field(
        max_length=len(TOPIC_CODES), description="想接收的专题（问题类别代码）；空表示全部专题"
    )
    estate_ids: list[RowId] = Field(
        max_length=MAX_ESTATES, description=f"居住或关注的小区 id（小区接口返回），最多 {MAX_ESTATES} 个"
    )


class FollowedEstateOut(BaseModel):
    id: int
    name: str
    town: TownRef


class ArticleSubscriptionOut(BaseModel):
    template_id: str | None = Field(
        description="普法文章推送的订阅消息模板 id，用于 wx.requestSubscribeMessage；未配置时为空"
    )
    credits: int = Field(description="已授权、尚未收到的推送订阅消息条数")


class PreferencesOut(BaseModel):
    pushes: bool
    topics: list[str] = Field(description="问题类别代码；空表示全部专题")
    estates: list[FollowedEstateOut]
    max_estates: int
    subscription: ArticleSubscriptionOut


# ---------------------------------------------------------------- events and suggestions (schemas go below)


class EventPath(BaseModel):
    event_id: RowId


class EventOut(BaseModel):
    id: int
    kind: str = Field(
        description="public_day 7·15 城管公众日；outreach_week 进社区活动周；lecture 普法宣传；consultation 法律咨询"
    )
    kind_label: str
    title: str
    description: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    place: str = Field(description="具体地点，如 小区党群服务站二楼活动室")
    town: TownRef
    estate: EstateRef | None = Field(description="活动所在小区；为空时面向全街镇")
    capacity: int
    places_left: int = Field(description="剩余名额")
    status: EventStatus = Field(description="upcoming 报名中；ongoing 进行中；ended 已结束；cancelled 已取消")
    status_label: str
    at_my_estate: bool = Field(description="活动在您选择的小区")
    signed_up: bool = Field(description="您已报名（未取消）")
    can_sign_up: bool
    can_cancel: bool = Field(description="可以取消报名（活动开始前）")


class EventPage(BaseModel):
    data: list[EventOut]
    pagination: Pagination
    near: bool = Field(
        description="true：按您选择的小区及其所在街镇筛选；false：您还没有选择小区，显示全区的活动"
    )


class SuggestionBody(StrictBody):
    text: Description = Field(
        min_length=SUGGESTION_MIN,
        max_length=SUGGESTION_MAX,
        description=f"建议内容，{SUGGESTION_MIN}–{SUGGESTION_MAX} 字",
    )
    photos: list[UploadId] = Field(
        default_factory=list,
        max_length=MAX_PHOTOS,
        description=f"本人通过上传接口上传的照片 id，最多 {MAX_PHOTOS} 张",
    )
    estate_id: RowId | None = Field(None, description="建议涉及的小区 id（可选）")
    category: CategoryCode | None = Field(None, description="建议涉及的问题类别代码（可选）")
    client_request_id: str = Field(pattern=CLIENT_ID, description="客户端生成的请求号，重试时不变")

    def to_input(self) -> SuggestionInput:
        """The suggestion as the service takes it (the one place this body becomes a SuggestionInput)."""
        return SuggestionInput(
            text=self.text,
            photo_ids=self.photos,
            estate_id=self.estate_id,
            category=self.category,
            client_request_id=self.client_request_id,
        )


class SuggestionPath(BaseModel):
    suggestion_id: RowId


class SuggestionPhotoOut(BaseModel):
    id: str
    url: str = Field(description="照片的临时链接")


class SuggestionStepOut(BaseModel):
    action: Literal["submit", "reply", "forward", "close"]
    text: str
    at: dt.datetime


class SuggestionOut(BaseModel):
    id: int
    text: str
    status: Literal["received", "replied", "forwarded", "closed"] = Field(
        description="received 已收到；replied 已答复；forwarded 已转交；closed 已办结"
    )
    status_label: str
    estate: EstateRef | None
    category: CategoryRef | None
    reply: str = Field(description="社区工作室的公开答复")
    forwarded_to: list[str] = Field(description="已转交的单位，如 徐泾中队、区局")
    created_at: dt.datetime
    photos: list[SuggestionPhotoOut] = []
    record: list[SuggestionStepOut] = Field(default_factory=list, description="公开的办理过程")


class SuggestionPage(BaseModel):
    data: list[SuggestionOut]
    pagination: Pagination
