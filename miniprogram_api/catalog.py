"""Read-only catalogue for the mini-program: towns, estates and categories."""

from __future__ import annotations

from flask_openapi3 import Tag

from backend.db import get_session
from backend.errors import ValidationFailed
from backend.org.models import Estate, Town
from backend.org.services import find_town, list_towns, search_estates
from backend.taxonomy.models import Category
from backend.taxonomy.services import list_categories
from miniprogram_api.blueprint import mp_api
from miniprogram_api.schemas import (
    CategoryList,
    CategoryOut,
    CompanyRef,
    EstateOut,
    EstatePage,
    EstateQuery,
    GroupRef,
    LegalBasisOut,
    Pagination,
    SquadOut,
    TimeLimitsOut,
    TownList,
    TownOut,
    TownRef,
)

catalog_tag = Tag(name="基础数据", description="街镇、小区与问题类别")


@mp_api.get("/towns", tags=[catalog_tag], responses={200: TownList})
def get_towns() -> dict:
    """青浦区 11 个街镇及其城管中队。"""
    return TownList(data=[town_out(t) for t in list_towns(get_session())]).model_dump()


@mp_api.get("/estates", tags=[catalog_tag], responses={200: EstatePage})
def get_estates(query: EstateQuery) -> dict:
    """按名称、地址或别名搜索小区，可按街镇筛选，分页返回。"""
    session = get_session()
    town = None
    if query.town:
        town = find_town(session, query.town)
        if town is None:
            raise ValidationFailed.on(
                "town", "没有这个街镇", description=f"town: unknown town {query.town!r}"
            )
    page = search_estates(session, q=query.q, town=town, page=query.page, per_page=query.per_page)
    return EstatePage(
        data=[estate_out(e) for e in page.items],
        pagination=Pagination(page=page.page, per_page=page.per_page, total=page.total, pages=page.pages),
    ).model_dump()


@mp_api.get("/categories", tags=[catalog_tag], responses={200: CategoryList})
def get_categories() -> dict:
    """专项行动的问题类别（含代码、分组、法律依据和默认时限）。"""
    return CategoryList(data=[category_out(c) for c in list_categories(get_session())]).model_dump()


def town_out(town: Town) -> TownOut:
    squad = SquadOut(code=town.squad.code, name=town.squad.name) if town.squad else None
    return TownOut(code=town.code, name=town.name, kind=town.kind, squad=squad)


def estate_out(estate: Estate) -> EstateOut:
    company = estate.property_company
    return EstateOut(
        id=estate.id,
        name=estate.name,
        town=TownRef(code=estate.town.code, name=estate.town.name),
        address=estate.address,
        aliases=[a.alias for a in estate.aliases],
        is_key=estate.is_key,
        property_company=CompanyRef(name=company.name) if company else None,
    )


def category_out(category: Category) -> CategoryOut:
    group = category.group
    return CategoryOut(
        code=category.code,
        name=category.name,
        group=GroupRef(code=group.code, name=group.name) if group else None,
        description=category.description,
        legal_basis=[
            LegalBasisOut(regulation=b.regulation, article=b.article, summary=b.summary)
            for b in category.legal_basis
        ],
        time_limits=TimeLimitsOut(
            sign_working_days=category.sign_working_days,
            onsite_hours=category.onsite_hours,
            onsite_hours_in_progress=category.onsite_hours_in_progress,
            handle_working_days=category.handle_working_days,
        ),
    )
