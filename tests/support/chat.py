"""Talking to the mini-program's chat endpoint in tests."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

CHAT_API = "/api/mp/v1/bot/messages"


def say(client: FlaskClient, token: str, text: str, session_id: str | None = None) -> dict[str, Any]:
    """Send `text` as the resident whose bearer token is `token`; the reply's JSON (200 asserted)."""
    body = {"text": text, **({"session_id": session_id} if session_id else {})}
    response = client.post(CHAT_API, json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_json()
    return response.get_json()
