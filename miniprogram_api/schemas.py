"""Request and response schemas of the mini-program API; they also generate its OpenAPI document."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PageQuery(Strict):
    page: int = Field(1, ge=1, le=100000, description="页码，从 1 开始")
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
