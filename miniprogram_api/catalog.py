"""Read-only catalogue for the mini-program: towns, estates and categories, each answer serialised once per
change of what it shows (backend/cache.py) and tagged, so that a client holding it gets a 304."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Response, current_app, jsonify, request
from flask_openapi3 import Tag
from sqlalchemy.orm import Session
from werkzeug.http import generate_etag

from backend.cache import CATEGORIES, ESTATES, cached, cached_for
from backend.db import get_session
from backend.org.models import Town
from backend.org.services import EstateEntry, list_towns, search_estates
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
def get_towns() -> Response:
    """青浦区 11 个街镇及其城管中队。"""
    body = cached(get_session(), ESTATES, towns_body, part=_debug("mp-towns"))
    return revalidated(Response(body.data, mimetype="application/json"), body.etag)


@mp_api.get("/estates", tags=[catalog_tag], responses={200: EstatePage})
def get_estates(query: EstateQuery) -> Response:
    """按名称、地址或别名搜索小区，可按街镇筛选，分页返回。"""
    key = (query.q, query.town, query.page, query.per_page)
    body = cached_for(
        get_session(),
        ESTATES,
        key,
        lambda session: estates_body(session, query),
        part=_debug("mp-estates"),
    )
    return revalidated(Response(body.data, mimetype="application/json"), body.etag)


@mp_api.get("/categories", tags=[catalog_tag], responses={200: CategoryList})
def get_categories() -> Response:
    """专项行动的问题类别（含代码、分组、法律依据和默认时限）。"""
    body = cached(get_session(), CATEGORIES, categories_body, part=_debug("mp-categories"))
    return revalidated(Response(body.data, mimetype="application/json"), body.etag)


@dataclass(frozen=True, slots=True)
class JSONBody:
    """An answer serialised once, and its tag."""

    data: bytes
    etag: str

    @classmethod
    def of(cls, payload: dict) -> JSONBody:
        data = jsonify(payload).get_data()
        return cls(data, generate_etag(data))


def estates_body(session: Session, query: EstateQuery) -> JSONBody:
    """One page of GET /estates, serialised once per search while the estates stay as they are."""
    page = search_estates(session, q=query.q, town=query.town, page=query.page, per_page=query.per_page)
    return JSONBody.of(
        EstatePage(
            data=[estate_out(e) for e in page.items],
            pagination=Pagination(page=page.page, per_page=page.per_page, total=page.total, pages=page.pages),
        ).model_dump()
    )


def towns_body(session: Session) -> JSONBody:
    """The whole answer of GET /towns, serialised once per change of the towns and their squads."""
    return JSONBody.of(TownList(data=[town_out(t) for t in list_towns(session)]).model_dump())


def categories_body(session: Session) -> JSONBody:
    """The whole answer of GET /categories, serialised once per change of the catalog."""
    return JSONBody.of(CategoryList(data=[category_out(c) for c in list_categories(session)]).model_dump())


def _debug(part: str) -> str:
    # the body is indented in debug mode: an app in debug (a second app of the tests) keeps its own
    return f"{part}-debug" if current_app.debug else part


def revalidated(response: Response, etag: str) -> Response:
    """A public answer a client or a proxy may keep but must check again (a 304 when it has not changed): the
    catalog changes without notice, and the next read must see the change."""
    response.set_etag(etag)
    response.cache_control.no_cache = True
    response.make_conditional(request)  # a 304 without the body when the client's tag matches
    return response


def town_out(town: Town) -> TownOut:
    squad = SquadOut(code=town.squad.code, name=town.squad.name) if town.squad else None
    return TownOut(code=town.code, name=town.name, kind=town.kind, squad=squad)


def estate_out(estate: EstateEntry) -> EstateOut:
    company = estate.property_company
    return EstateOut(
        id=estate.id,
        name=estate.name,
        town=TownRef(code=estate.town.code, name=estate.town.name),
        address=estate.address,
        aliases=list(estate.aliases),
        is_key=estate.is_key,
        property_company=CompanyRef(name=company) if company else None,
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
