"""Calling the mini-program API in tests: its prefix, a bearer header, a photo, a valid report body."""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.org.models import Estate

API = "/api/mp/v1"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def png_bytes(color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(out, "PNG")
    return out.getvalue()


def estate_id(session: Session, name: str = "康虹花园") -> int:
    return session.scalar(select(Estate.id).where(Estate.name == name))


def valid_report(session: Session, **overrides: object) -> dict:
    return {
        "category": "illegal_construction",
        "description": "楼顶有人在搭建阳光房，已经搭了一半",
        "estate_id": estate_id(session),
        "building": "12",
        "unit": "2",
        "room": "1502",
        "anonymous": False,
        "contact_phone": "13812345678",
        "client_request_id": "req-abcdefgh",
        **overrides,
    }
