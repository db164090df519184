"""GET /healthz: is the database reachable, and where do jobs go."""

from __future__ import annotations

import datetime as dt
import logging

from flask import current_app
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel
from sqlalchemy import text

from backend.db import get_session
from backend.errors import ErrorBody
from backend.queue import JobQueue
from backend.workcalendar import calendar_known

log = logging.getLogger(__name__)
health_api = APIBlueprint("health", __name__, abp_tags=[Tag(name="运维")], abp_responses={400: ErrorBody})


class ComponentHealth(BaseModel):
    status: str
    detail: str = ""


class HealthBody(BaseModel):
    status: str
    database: ComponentHealth
    queue: ComponentHealth
    calendar: ComponentHealth


@health_api.get("/healthz", responses={200: HealthBody, 503: HealthBody})
def healthz() -> tuple[dict, int]:
    """服务健康检查：数据库、任务队列（Redis 或进程内）和工作日历。"""
    engine = current_app.extensions["db"].engine
    try:
        get_session().execute(text("SELECT 1"))
        database = ComponentHealth(status="ok", detail=engine.dialect.name)
    except Exception as exc:
        log.error("health check: database unreachable: %s", exc.__class__.__name__)
        database = ComponentHealth(status="error", detail=engine.dialect.name)

    job_queue: JobQueue = current_app.extensions["job_queue"]
    try:
        job_queue.ping()
        queue = ComponentHealth(status="ok", detail=job_queue.mode)
    except Exception as exc:
        log.error("health check: redis unreachable: %s", exc.__class__.__name__)
        queue = ComponentHealth(status="error", detail=job_queue.mode)

    next_year = dt.date.today().year + 1
    calendar = (
        ComponentHealth(status="ok", detail=f"official calendar known through {next_year}")
        if calendar_known(dt.date(next_year, 1, 1))
        else ComponentHealth(status="stale", detail=f"no official calendar for {next_year}: Mon-Fri fallback")
    )
    healthy = database.status == "ok" and queue.status == "ok"
    body = HealthBody(status="ok" if healthy else "error", database=database, queue=queue, calendar=calendar)
    return body.model_dump(), 200 if healthy else 503
