"""Text a person typed: normalised before it is validated, and a description that says something."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

MIN_MEANINGFUL = 5
# A phone number a person gives: a mainland mobile, or a landline with its area code.
PHONE_PATTERN = r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$"
PHONE_MESSAGE = "应为 11 位手机号，或带区号的固定电话，如 021-59721234"
PHONE = re.compile(PHONE_PATTERN)
NOT_A_DESCRIPTION = f"请用文字描述问题，至少 {MIN_MEANINGFUL} 个汉字、字母或数字"


def _visible(char: str) -> bool:
    # Format characters (Unicode category Cf) are invisible: zero-width spaces and joiners (U+200B–U+200D,
    # U+2060, U+FEFF), soft hyphens, and the bidirectional controls (U+200E, U+200F, U+202A–U+202E,
    # U+2066–U+2069, U+061C) that reorder what is shown after them. None is something a person meant to say.
    return unicodedata.category(char) != "Cf"


def normalise_text(text: str) -> str:
    """`text` without invisible format characters, in NFC, without surrounding whitespace. Line breaks
    inside it, CJK and full-width punctuation are kept; an emoji joined by ZWJ falls apart into its parts."""
    if not text.isascii():
        text = unicodedata.normalize("NFC", "".join(c for c in text if _visible(c)))
    return text.strip()


def meaningful_count(text: str) -> int:
    """How many letters (Han included) and digits `text` has: Unicode categories L* and N*, not the emoji,
    symbols, punctuation and spaces a description cannot be made of."""
    return sum(1 for c in text if unicodedata.category(c)[0] in "LN")


def _says_something(text: str) -> str:
    if meaningful_count(text) < MIN_MEANINGFUL:
        raise ValueError(NOT_A_DESCRIPTION)
    return text


# A description of a problem (a resident's report, a hotline order's content, an officer's intake): give it
# its length limits with Field(min_length=…, max_length=…) where it is used.
Description = Annotated[str, AfterValidator(_says_something)]


class Verbatim:
    """Marks a text field kept exactly as typed (a password): neither normalised nor trimmed, since a
    password set from the command line must match the same password typed in a form."""


Password = Annotated[str, Verbatim(), StringConstraints(strip_whitespace=False)]
