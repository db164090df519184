"""Logging: one line per request with its id, and no phone number, openid or token in any line."""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid

from flask import Flask, Response, g, has_request_context, request

access_log = logging.getLogger("backend.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_SECRETS = [
    # password hashes, whole (their parameters contain commas, which end a value below)
    (re.compile(r"\$argon2(?:id|i|d)\$[^\s'\"]+"), "[hash]", None),
    # Authorization headers and bearer tokens
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1[redacted]", ("bearer",)),
    # key=value or "key": "value" for secret-looking keys, alone or at the end of a snake_ or camelCase key
    # (contact_phone, contactPhone), but not inside a word (monkey, barcode)
    (
        re.compile(
            r"(?i)([\"']?(?:(?<![A-Za-z0-9])|(?-i:(?<=[a-z0-9])(?=[A-Z])))(?:access_token|token|secret|session_key|password|openid|unionid|code|phone|"
            r"contact_phone|appsecret|key)(?:_hash)?[\"']?\s*[=:]\s*[\"']?)[^\"'&\s,}]+"
        ),
        r"\1[redacted]",
        ("token", "secret", "key", "password", "openid", "unionid", "code", "phone"),
    ),
    # WeChat openids and unionids: 28 characters, starting with o
    (re.compile(r"\bo[A-Za-z0-9_-]{27}\b"), "[openid]", None),
    # mainland mobile numbers, with or without +86
    (re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)"), "[phone]", None),
]
# Every line is redacted, the access line of every request too, and the two case-blind patterns cost most of
# it: each is tried only on text holding one of its words, which its every match does. A case-blind match of
# i and s also takes İ, ı and ſ, which lower() does not turn into them.
_CASE_BLIND = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s"})


def redact(text: str) -> str:
    for pattern, replacement, words in _SECRETS:
        if words is not None:
            folded = (text if text.isascii() else text.translate(_CASE_BLIND)).lower()
            if not any(word in folded for word in words):
                continue
        text = pattern.sub(replacement, text)
    return text


class RedactingFormatter(logging.Formatter):
    """Formats as usual, traceback included, then removes personal data and secrets."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


class _DropWerkzeugAccessLines(logging.Filter):
    # The development server logs every request line with its query string; ours replaces it.
    def filter(self, record: logging.LogRecord) -> bool:
        return " - - [" not in str(record.msg)


def configure_logging(level: str) -> None:
    """Send the application's log to stderr through the redacting formatter (once per process)."""
    root = logging.getLogger()
    if not any(getattr(h, "_qingpu", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler._qingpu = True  # type: ignore[attr-defined]
        handler.setFormatter(
            RedactingFormatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
        logging.getLogger("werkzeug").addFilter(_DropWerkzeugAccessLines())
        # jieba's start-up chatter says nothing an operator needs
        logging.getLogger("jieba").setLevel(logging.WARNING)
    root.setLevel(level.upper())


def init_app(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        started = g.get("request_started")
        duration_ms = (time.perf_counter() - started) * 1000 if started else 0.0
        # the path only: query strings may carry search terms or personal data
        access_log.info(
            "request method=%s path=%s status=%s duration_ms=%.1f",
            request.method,
            request.path,
            response.status_code,
            duration_ms,
        )
        return response
