"""A stored upload row without an image behind it, for tests about who may attach or see a photo."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from backend.uploads.models import Upload


def stored_upload(session: Session, owner_id: int | None, content_type: str = "image/jpeg") -> str:
    """The id of a new upload row of `owner_id` (None: nobody's, as a staff or system upload)."""
    upload = Upload(
        id=uuid.uuid4().hex,
        owner_id=owner_id,
        blob_key="k",
        content_type=content_type,
        size=1,
        width=1,
        height=1,
    )
    session.add(upload)
    session.flush()
    return upload.id
