"""A case's page as staff open it, and the photos on it."""

from __future__ import annotations

from flask import abort, current_app
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from backend.cases.models import Case, CasePhoto
from backend.cases.services.access import can_see_case
from backend.cases.services.reads import record_case_view
from backend.clock import now
from backend.console.blueprint import ALL_STAFF, console_bp, current_actor, require
from backend.console.case_render import show_case
from backend.console.forms import client_ip
from backend.console.refusal import NO_REFUSAL
from backend.console.scope import case_in_scope
from backend.db import get_session
from backend.uploads.models import Upload
from backend.uploads.services import open_upload


@console_bp.get("/cases/<number>")
@require(*ALL_STAFF)
def case_page(number: str) -> ResponseReturnValue:
    db = get_session()
    case = case_in_scope(number)
    record_case_view(db, case, current_actor(), ip=client_ip(), now=now())
    db.commit()
    return show_case(case, NO_REFUSAL)


@console_bp.get("/photos/<upload_id>")
@require(*ALL_STAFF)
def photo(upload_id: str) -> ResponseReturnValue:
    db = get_session()
    # one upload may be on several cases (a resident may send the same photo twice): any visible one will do
    cases = db.scalars(
        select(Case).join(CasePhoto, CasePhoto.case_id == Case.id).where(CasePhoto.upload_id == upload_id)
    )
    upload = db.get(Upload, upload_id)
    actor = current_actor()
    if upload is None or not any(can_see_case(case, actor) for case in cases):
        abort(404)
    response = current_app.response_class(
        open_upload(current_app.extensions["storage"], upload), mimetype=upload.content_type
    )
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response
