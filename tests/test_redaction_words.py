"""Redaction skips a pattern on a line without any of its words (every request's access line is redacted), and
never redacts less for it: whatever the case or the look-alike letters of the key."""

from __future__ import annotations

import re
import sys

import pytest

from backend.request_log import _SECRETS, redact


def every_pattern(text: str) -> str:
    for pattern, replacement, _words in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def _keys() -> list[str]:
    """The secret-looking keys, as the key=value pattern names them."""
    (source,) = [p.pattern for p, _r, words in _SECRETS if words and "password" in p.pattern]
    alternation = re.search(r"\(\?:(access_token\|[^)]*)\)", source)
    assert alternation is not None
    return alternation.group(1).split("|")


def _look_alikes() -> dict[str, set[str]]:
    """Each ASCII letter and the other characters a case-blind pattern takes for it (ſ for s, K for k …)."""
    letter = re.compile("(?i)[a-z]")
    found: dict[str, set[str]] = {}
    for code in range(128, sys.maxunicode + 1):
        if letter.fullmatch(char := chr(code)):
            for ascii_letter in "abcdefghijklmnopqrstuvwxyz":
                if re.fullmatch("(?i)" + ascii_letter, char):
                    found.setdefault(ascii_letter, set()).add(char)
    return found


KEYS = _keys()
LOOK_ALIKES = _look_alikes()
LINES = [
    "2026-12-03 19:31:23,123 INFO backend.access [0123456789abcdef] request method=GET "
    "path=/api/mp/v1/reports/QP20261203-0001 status=200 duration_ms=12.3",
    "request method=POST path=/api/mp/v1/auth/login status=200 duration_ms=4.0",
    "Authorization: Bearer eyJhbGciOi.payload.sig",
    "AUTHORIZATION: BEARER eyJhbGciOi.payload.sig",
    "monkey=banana barcode=12345 keyboard=qwerty",
    "{'username': 'race2', 'password_hash': '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA'}",
    '{"contactPhone": "021-55551234", "refreshToken": "rt_4b5c6d"}',
    "GET /sns/jscode2session?appid=wx1&SECRET=s3cr3t&Js_Code=081abc",
    "reporter phone 13812345678 called; user oAbCdEfGhIjKlMnOpQrStUvWxYz0",
]


@pytest.mark.parametrize("line", LINES)
def test_lines_are_redacted_as_by_every_pattern(line: str) -> None:
    assert redact(line) == every_pattern(line)


@pytest.mark.parametrize("key", KEYS)
def test_every_key_in_any_case_and_look_alike_letters_is_still_redacted(key: str) -> None:
    spellings = {key, key.upper(), key.title()}
    for i, letter in enumerate(key):
        spellings |= {key[:i] + twin + key[i + 1 :] for twin in LOOK_ALIKES.get(letter, ())}
    for spelling in spellings:
        for line in (f"{spelling}=v4lue", f'x {{"{spelling}": "v4lue"}}', f"path=/a?{spelling}=v4lue&b=1"):
            assert redact(line) == every_pattern(line), line
            assert "v4lue" not in redact(line), line
