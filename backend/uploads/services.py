"""Rules of uploads: store a cleaned photo, and decide who may see it."""

from __future__ import annotations

import uuid

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.errors import NotFound
from backend.uploads.images import process_image
from backend.uploads.models import Upload
from backend.uploads.storage import Storage, blob_key

SIGNED_URL_SECONDS = 3600
_SALT = "upload-photo"


def store_upload(session: Session, storage: Storage, owner_id: int | None, data: bytes) -> Upload:
    """Decode, clean and store a photo; the blob is shared by identical photos, the row is per upload."""
    image = process_image(data)
    key = blob_key(image)
    storage.put(key, image.content)  # before the row: a rolled-back row leaves a harmless orphan blob
    upload = Upload(
        id=uuid.uuid4().hex,
        owner_id=owner_id,
        blob_key=key,
        content_type=image.content_type,
        size=len(image.content),
        width=image.width,
        height=image.height,
    )
    session.add(upload)
    session.flush()
    return upload


def sign_upload(upload_id: str, secret: str) -> str:
    """A short-lived signature so an <image> tag, which cannot send a bearer token, can show the photo."""
    return URLSafeTimedSerializer(secret, salt=_SALT).dumps(upload_id)


def upload_for_signature(session: Session, upload_id: str, signature: str, secret: str) -> Upload:
    try:
        signed_id = URLSafeTimedSerializer(secret, salt=_SALT).loads(signature, max_age=SIGNED_URL_SECONDS)
    except BadSignature:
        raise NotFound(code="upload_not_found") from None
    if signed_id != upload_id:
        raise NotFound(code="upload_not_found")
    return _get(session, upload_id)


def upload_for_user(session: Session, upload_id: str, user: User) -> Upload:
    """The uploader may always see their photo; a resident following a case (its reporter or a supporter)
    sees the photos published with its public reply, and no other photo on it (see photos_for_resident)."""
    from backend.cases.models import Case, CasePhoto, CaseSupporter, PhotoKind

    upload = _get(session, upload_id)
    if upload.owner_id == user.id:
        return upload
    supports = select(CaseSupporter.case_id).where(CaseSupporter.user_id == user.id)
    published_on_followed_case = session.scalar(
        select(CasePhoto.id)
        .join(Case, Case.id == CasePhoto.case_id)
        .where(
            CasePhoto.upload_id == upload_id,
            CasePhoto.kind == PhotoKind.RESOLUTION,
            or_(Case.reporter_id == user.id, Case.id.in_(supports)),
        )
        .limit(1)
    )
    if published_on_followed_case is None:
        raise NotFound(code="upload_not_found")
    return upload


def open_upload(storage: Storage, upload: Upload) -> bytes:
    try:
        return storage.get(upload.blob_key)
    except KeyError:
        raise NotFound(code="upload_not_found") from None


def _get(session: Session, upload_id: str) -> Upload:
    upload = session.get(Upload, upload_id)
    if upload is None:
        raise NotFound(code="upload_not_found")
    return upload
