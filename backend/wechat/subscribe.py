"""WeChat's length limits on subscribe-message values, and cutting values so a send is not refused (47003)."""

from __future__ import annotations

from typing import Final

# Longest value WeChat accepts, in characters, by the kind a template key starts with ("thing1" is a thing).
# Kinds not listed (time, date, amount, phone_number …) are sent as given.
SUBSCRIBE_VALUE_LIMITS: Final[dict[str, int]] = {
    "thing": 20,
    "character_string": 32,
    "phrase": 5,
    "name": 10,
    "number": 32,
    "letter": 32,
}
# A name may hold 10 Chinese characters or 20 letters and symbols.
ASCII_NAME_LIMIT: Final = 20
ELLIPSIS: Final = "…"
# Only free text may end in "…"; names, phrases, numbers, letters and codes must keep their character set.
_ELLIPSIS_KINDS: Final = frozenset({"thing"})


def subscribe_kind(key: str) -> str:
    """The kind of a template key: its name without the trailing number ("character_string2" -> "character_string")."""
    return key.rstrip("0123456789")


def truncate_subscribe_data(data: dict[str, str], kinds: dict[str, str]) -> dict[str, str]:
    """Each value cut to its kind's limit; the kind comes from `kinds`, else from the key's prefix."""
    return {key: _truncate(value, kinds.get(key) or subscribe_kind(key)) for key, value in data.items()}


def _truncate(value: str, kind: str) -> str:
    limit = SUBSCRIBE_VALUE_LIMITS.get(kind)
    if kind == "name" and value.isascii():
        limit = ASCII_NAME_LIMIT
    if limit is None or len(value) <= limit:
        return value
    if kind in _ELLIPSIS_KINDS:
        return value[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS
    return value[:limit]
