"""Text a person typed: what normalising keeps and removes, and what counts as a description."""

from __future__ import annotations

import pytest
from pydantic import Field, ValidationError

from backend.errors import PlainText, field_errors
from backend.text import NOT_A_DESCRIPTION, Description, meaningful_count, normalise_text


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("\u200b" * 20, ""),  # zero-width spaces
        ("\ufeff楼顶\u200c搭\u200d建\u2060", "楼顶搭建"),  # BOM, ZWNJ, ZWJ, word joiner
        ("8\u202e号楼", "8号楼"),  # right-to-left override
        # every bidirectional control
        ("\u200e\u200f\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069\u061c12室", "12室"),
        ("Cafe\u0301", "Café"),  # decomposed é, composed
        ("  \u3000徐泾镇\u3000 \n", "徐泾镇"),  # ideographic spaces trimmed too
        ("第一行\n第二行\r\n\t第三行", "第一行\n第二行\r\n\t第三行"),  # line breaks inside are kept
        ("（全角标点）：“引号”，句号。", "（全角标点）：“引号”，句号。"),
        ("👨\u200d👩\u200d👧", "👨👩👧"),  # a ZWJ family falls apart into its people, which is fine
        ("plain ascii", "plain ascii"),
    ],
)
def test_normalise_text(typed: str, kept: str) -> None:
    assert normalise_text(typed) == kept


@pytest.mark.parametrize(
    ("text", "count"),
    [("楼顶搭建阳光房", 7), ("8号楼 1502室", 8), ("😀😀😀！？…", 0), ("Ⅻ ½", 2), ("abc 123", 6)],
)
def test_meaningful_characters_are_letters_han_and_digits(text: str, count: int) -> None:
    assert meaningful_count(text) == count


class Sample(PlainText):
    description: Description = Field(min_length=10, max_length=20)
    building: str = Field("", max_length=4)
    tags: list[str] = Field(default_factory=list)


def test_a_model_normalises_before_it_validates() -> None:
    sample = Sample.model_validate(
        {
            "description": " 楼顶\u200b搭建了阳光房，好几天了 ",
            "building": "\u202e8号楼\u202c",
            "tags": ["\u200b甲 "],
        }
    )
    assert (sample.description, sample.building, sample.tags) == (
        "楼顶搭建了阳光房，好几天了",
        "8号楼",
        ["甲"],
    )
    # the limits count what remains: twenty characters of which four are invisible fit in twenty
    assert Sample.model_validate({"description": "一二三四五六七八九十\u200b\u200b\u200b\u200b"})


@pytest.mark.parametrize(
    ("description", "message"),
    [
        ("\u200b" * 20, "至少 10 个字符"),
        ("😀" * 12, NOT_A_DESCRIPTION),
        ("！！！？？？。。。。1", NOT_A_DESCRIPTION),
        ("😀😀😀😀😀😀楼顶搭建", NOT_A_DESCRIPTION),
    ],
)
def test_a_description_must_say_something(description: str, message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Sample.model_validate({"description": description})
    assert [(e.field, e.message) for e in field_errors(raised.value)] == [("description", message)]


def test_five_meaningful_characters_are_enough() -> None:
    assert (
        Sample.model_validate({"description": "😀😀😀😀😀楼顶搭建了"}).description == "😀😀😀😀😀楼顶搭建了"
    )


def test_a_password_is_kept_exactly_as_typed() -> None:
    from pydantic import ConfigDict

    from backend.errors import PlainText
    from backend.text import Password

    class Login(PlainText):
        model_config = ConfigDict(str_strip_whitespace=True)
        username: str
        password: Password

    typed = Login.model_validate({"username": " admin\u200b ", "password": " pa\u200bsse\u0301 "})
    assert typed.username == "admin"
    assert typed.password == " pa\u200bsse\u0301 "
