"""Photo uploads: decoded, cleaned of EXIF and stored by content hash; served only to those allowed."""

from __future__ import annotations

import werkzeug.datastructures
from flask import Response, current_app
from flask_openapi3 import FileStorage, Tag
from pydantic import BaseModel, field_validator

from backend.db import get_session
from backend.errors import ErrorBody, ValidationFailed
from backend.uploads.images import MAX_UPLOAD_BYTES
from backend.uploads.services import open_upload, store_upload, upload_for_signature, upload_for_user
from miniprogram_api.auth import BEARER, current_user
from miniprogram_api.blueprint import mp_api
from miniprogram_api.schemas import UploadOut, UploadPath, UploadQuery

uploads_tag = Tag(name="照片", description="上传与查看照片")


class UploadForm(BaseModel):
    file: FileStorage

    @field_validator("file")
    @classmethod
    def _a_file(cls, value: object) -> object:
        # flask-openapi3's FileStorage accepts any value: a plain form field named "file" is a string
        if not isinstance(value, werkzeug.datastructures.FileStorage):
            raise ValueError("请以文件形式上传照片")
        return value


@mp_api.post(
    "/uploads",
    tags=[uploads_tag],
    security=BEARER,
    responses={201: UploadOut, 401: ErrorBody, 413: ErrorBody},
)
def post_upload(form: UploadForm) -> tuple[dict, int]:
    """上传一张照片（JPEG、PNG 或 WebP，不超过 10 MB）。返回的 id 用于提交反映。"""
    user = current_user()
    data = form.file.stream.read(MAX_UPLOAD_BYTES + 1)
    if not data:
        raise ValidationFailed.on("file", "文件为空", description="file: empty")
    session = get_session()
    upload = store_upload(session, current_app.extensions["storage"], user.id, data)
    session.commit()
    return UploadOut(id=upload.id).model_dump(), 201


@mp_api.get(
    "/uploads/<upload_id>",
    tags=[uploads_tag],
    responses={
        200: {"content": {"image/*": {"schema": {"type": "string", "format": "binary"}}}},
        401: ErrorBody,
        404: ErrorBody,
    },
)
def get_upload(path: UploadPath, query: UploadQuery) -> Response:
    """查看照片：上传者本人（凭令牌），或凭反映详情中带签名的链接。"""
    session = get_session()
    if query.sig:
        upload = upload_for_signature(session, path.upload_id, query.sig, current_app.config["SECRET_KEY"])
    else:
        upload = upload_for_user(session, path.upload_id, current_user())
    data = open_upload(current_app.extensions["storage"], upload)
    response = Response(data, mimetype=upload.content_type)
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
