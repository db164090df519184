"""The GeoReport v2 (Open311) endpoints, JSON and XML, at /open311/v2/.

Read-only and open to everybody: discovery, the service list and definitions, requests and one request, each
as `<name>.json` or `<name>.xml`. Errors follow the spec, not the rest of the API: a list of `{code,
description}` (XML: `<errors><error>`) with the HTTP status as the code, in the requested format."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from typing import Any

from flask import Response, current_app, request
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel, ConfigDict, Field, RootModel

from backend.clock import now
from backend.db import get_read_session
from backend.errors import AppError, NotFound
from backend.open311.services import (
    Discovery,
    OpenRequest,
    OpenService,
    describe_endpoint,
    find_requests,
    get_request,
    get_service,
    list_services,
    parse_request_query,
)
from backend.workcalendar import SHANGHAI

PREFIX = "/open311/v2"
FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
# Each list's element in XML, by the list's own name (the spec's <services><service>, <errors><error> …).
XML_ITEMS = {
    "services": "service",
    "service_requests": "request",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "errors": "error",
}
# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

# Every JSON answer is also documented as XML: a text/xml body in the shape the spec gives.
# (flask-openapi3 reads `openapi_extra` from a model's config, a key pydantic's ConfigDict does not declare.)
XML_BODY = {"content": {"text/xml": {"schema": {"type": "string"}}}}
BOTH_FORMATS = ConfigDict(openapi_extra=XML_BODY)  # type: ignore[typeddict-unknown-key]


class Open311Error(BaseModel):
    code: int = Field(description="HTTP 状态码")
    description: str = Field(description="中文说明")


class Open311Errors(RootModel[list[Open311Error]]):
    """GeoReport 的错误格式：[{code, description}]，XML 为 <errors><error>…。"""

    model_config = BOTH_FORMATS


class EndpointOut(BaseModel):
    specification: str
    url: str
    changeset: str
    type: str
    formats: list[str]


class DiscoveryOut(BaseModel):
    model_config = BOTH_FORMATS

    changeset: str
    contact: str
    key_service: str
    endpoints: list[EndpointOut]


class ServiceOut(BaseModel):
    service_code: str = Field(description="类别代码，如 illegal_construction")
    service_name: str = Field(description="类别名称")
    description: str
    metadata: bool = Field(description="是否有补充字段：本系统的服务都没有")
    type: str = Field(description="realtime：提交即受理")
    keywords: str = Field(description="关键词，逗号分隔")
    group: str = Field(description="所属大类")


class ServiceList(RootModel[list[ServiceOut]]):
    model_config = BOTH_FORMATS


class ServiceAttribute(BaseModel):
    variable: bool
    code: str
    datatype: str
    required: bool
    datatype_description: str | None
    order: int
    description: str


class ServiceDefinitionOut(BaseModel):
    model_config = BOTH_FORMATS

    service_code: str
    attributes: list[ServiceAttribute] = Field(description="补充字段：本系统的服务都没有，恒为空")


class RequestOut(BaseModel):
    service_request_id: str = Field(description="工单号")
    status: str = Field(description="open 办理中，closed 已办结")
    status_notes: str | None = Field(description="公开答复（电话、门牌与来电人姓名已隐去）")
    service_name: str
    service_code: str
    agency_responsible: str = Field(description="承办中队；尚未派单时为区局")
    requested_datetime: str
    updated_datetime: str
    expected_datetime: str | None = Field(description="办理时限（仅办理中的诉求）")
    address: str | None = Field(description="街镇与小区，不含楼号、门牌")
    zipcode: None = None


class RequestList(RootModel[list[RequestOut]]):
    model_config = BOTH_FORMATS


# A format, like every other parameter, is read by the views themselves: a wrong one is the spec's 404 or 400
# in the spec's error format, which pydantic's refusal (our usual 400 shape) would not be.
FORMAT_FIELD = Field(description="json 或 xml", json_schema_extra={"enum": list(FORMATS)})


class FormatPath(BaseModel):
    fmt: str = FORMAT_FIELD


class ServicePath(BaseModel):
    service_code: str = Field(description="类别代码", json_schema_extra={"pattern": "^[a-z_]{1,40}$"})
    fmt: str = FORMAT_FIELD


class RequestPath(BaseModel):
    service_request_id: str = Field(
        description="工单号", json_schema_extra={"pattern": "^[A-Za-z0-9-]{1,20}$"}
    )
    fmt: str = FORMAT_FIELD


class RequestsQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    service_request_id: str | None = Field(None, description="工单号，逗号分隔；给出时忽略其他条件")
    service_code: str | None = Field(None, description="类别代码，逗号分隔")
    status: str | None = Field(None, description="open 或 closed，逗号分隔")
    start_date: str | None = Field(
        None, description="受理时间起（含），W3C 格式，如 2026-11-01T00:00:00+08:00"
    )
    end_date: str | None = Field(None, description="受理时间止（含）；都不给时为最近 90 天，相隔不超过 90 天")
    page: str | None = Field(None, description="页码，从 1 开始")
    page_size: str | None = Field(None, description="每页条数，最多 1000（默认 1000）")
    jurisdiction_id: str | None = Field(None, description="本接口只服务青浦区，可不填")


open311_api = APIBlueprint(
    "open311",
    __name__,
    url_prefix=PREFIX,
    abp_responses={400: Open311Errors, 404: Open311Errors},
)
open311_tag = Tag(
    name="Open311 开放数据",
    description="GeoReport v2 只读接口：类别即服务，案件即诉求；只公开类别、办理状态、承办中队、街镇与小区、时间和公开答复，"
    "不含任何个人信息。每个地址以 .json 或 .xml 结尾。",
)
TAGS = [open311_tag]


class UnknownFormat(AppError):
    status = 404
    code = "unknown_format"
    message = "不支持该格式，请使用 .json 或 .xml"


def chosen_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise UnknownFormat()
    return fmt


@open311_api.get("/discovery.<fmt>", tags=TAGS, summary="服务发现", responses={200: DiscoveryOut})
def get_discovery(path: FormatPath) -> Response:
    """本接口的版本、格式与联系方式（Open311 Service Discovery）。"""
    fmt = chosen_format(path.fmt)
    config = current_app.config["QINGPU"]
    found = describe_endpoint(request.url_root.rstrip("/") + PREFIX, production=config.is_production)
    return respond(fmt, "discovery", discovery_out(found).model_dump())


@open311_api.get("/services.<fmt>", tags=TAGS, summary="服务列表", responses={200: ServiceList})
def get_services(path: FormatPath) -> Response:
    """可以查询的类别（物业履职类与不属本专项的除外），按分类表的顺序。"""
    fmt = chosen_format(path.fmt)
    services = list_services(get_read_session())
    return respond(fmt, "services", [service_out(s).model_dump() for s in services])


@open311_api.get(
    "/services/<service_code>.<fmt>", tags=TAGS, summary="服务定义", responses={200: ServiceDefinitionOut}
)
def get_service_definition(path: ServicePath) -> Response:
    """一个类别的补充字段：本系统的类别都没有补充字段，attributes 为空。"""
    fmt = chosen_format(path.fmt)
    service = get_service(get_read_session(), path.service_code)
    definition = ServiceDefinitionOut(service_code=service.service_code, attributes=[])
    return respond(fmt, "service_definition", definition.model_dump())


@open311_api.get("/requests.<fmt>", tags=TAGS, summary="诉求列表", responses={200: RequestList})
def get_requests(path: FormatPath, query: RequestsQuery) -> Response:
    """按类别、状态、受理时间查询诉求，新的在前；不给时间时为最近 90 天，每次最多 1000 条。"""
    fmt = chosen_format(path.fmt)
    wanted = parse_request_query(query.model_dump(), now=now())
    found = find_requests(get_read_session(), wanted)
    return respond(fmt, "service_requests", [request_out(r).model_dump() for r in found])


@open311_api.get(
    "/requests/<service_request_id>.<fmt>", tags=TAGS, summary="一条诉求", responses={200: RequestList}
)
def get_one_request(path: RequestPath) -> Response:
    """按工单号查看一条诉求（按规范也是一个列表）。"""
    fmt = chosen_format(path.fmt)
    found = get_request(get_read_session(), path.service_request_id)
    return respond(fmt, "service_requests", [request_out(found).model_dump()])


def unknown_path(rest: str) -> Response:
    # Any other address under the prefix is the spec's 404, in the format its ending asks for.
    raise NotFound()


open311_api.add_url_rule("/<path:rest>", "unknown_path", unknown_path)


@open311_api.errorhandler(AppError)
def _open311_error(exc: AppError) -> Response:
    # a refused parameter is named: "start_date：应为 W3C 日期时间…"
    errors = exc.errors or []
    description = "；".join(f"{e.field}：{e.message}" for e in errors) or exc.message
    return respond(
        requested_format(), "errors", [{"code": exc.status, "description": description}], exc.status
    )


def requested_format() -> str:
    """The format the address asks for (its ending), JSON when it names none we serve."""
    args = request.view_args or {}
    fmt = args.get("fmt") or str(args.get("rest", "")).rpartition(".")[2]
    return fmt if fmt in FORMATS else "json"


# ---------------------------------------------------------------- serialising


def w3c(instant: dt.datetime | None) -> str | None:
    """A W3C datetime in Shanghai time, to the second: 2026-11-26T10:00:00+08:00."""
    return instant.astimezone(SHANGHAI).isoformat(timespec="seconds") if instant else None


def discovery_out(found: Discovery) -> DiscoveryOut:
    return DiscoveryOut(
        changeset=w3c(found.changeset) or "",
        contact=found.contact,
        key_service=found.key_service,
        endpoints=[
            EndpointOut(
                specification=e.specification,
                url=e.url,
                changeset=w3c(e.changeset) or "",
                type=e.type,
                formats=list(e.formats),
            )
            for e in found.endpoints
        ],
    )


def service_out(service: OpenService) -> ServiceOut:
    return ServiceOut(
        service_code=service.service_code,
        service_name=service.service_name,
        description=service.description,
        metadata=False,
        type="realtime",
        keywords=",".join(service.keywords),
        group=service.group,
    )


def request_out(found: OpenRequest) -> RequestOut:
    return RequestOut(
        service_request_id=found.service_request_id,
        status=found.status,
        status_notes=found.status_notes,
        service_name=found.service_name,
        service_code=found.service_code,
        agency_responsible=found.agency_responsible,
        requested_datetime=w3c(found.requested_datetime) or "",
        updated_datetime=w3c(found.updated_datetime) or "",
        expected_datetime=w3c(found.expected_datetime),
        address=found.address,
        zipcode=None,
    )


def respond(fmt: str, root: str, data: Any, status: int = 200) -> Response:
    """`data` as JSON, or as XML under `root` (a list's items named by XML_ITEMS)."""
    if fmt == "json":
        return Response(current_app.json.dumps(data), status=status, content_type=FORMATS["json"])
    body = '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(_element(root, data), encoding="unicode")
    return Response(body, status=status, content_type=FORMATS["xml"])


def _element(tag: str, value: Any) -> ET.Element:
    element = ET.Element(tag)
    if isinstance(value, dict):
        element.extend(_element(key, item) for key, item in value.items())
    elif isinstance(value, list):
        element.extend(_element(XML_ITEMS[tag], item) for item in value)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = _NOT_XML.sub("", str(value))
    return element
