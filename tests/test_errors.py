"""pydantic's refusals in Chinese: choices by their Chinese names, patterns by what they ask for."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import Field, ValidationError, field_validator

from backend.errors import PlainText, explain_pattern, field_errors, label_choices

label_choices({"tea": "茶", "coffee": "咖啡"})
DRINK_CODE = explain_pattern(r"^D\d{3}$", "应为饮品编号，如 D001")


class Order(PlainText):
    drink: Literal["tea", "coffee"] = "tea"
    size: Literal["tall", "grande"] = "tall"  # no Chinese names given
    code: str = Field("D001", pattern=DRINK_CODE)
    answer: str = Field("yes", pattern="^(yes|no)$")
    mood: str = Field("calm", pattern="^(calm|angry)$")
    name: str = Field("张三", min_length=1)
    note: str = ""

    @field_validator("note")
    @classmethod
    def _library_says_no(cls, value: str) -> str:
        if value == "boom":
            raise ValueError("invalid literal for int() with base 10")
        return value


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("drink", "juice", "应为以下之一：茶、咖啡"),
        ("size", "venti", "不是可选的值"),
        ("code", "X1", "应为饮品编号，如 D001"),
        ("answer", "maybe", "应为以下之一：是、否"),
        ("mood", "sad", "不是可选的值"),
        ("name", "\u200b", "不能为空"),
        ("note", "boom", "取值不正确"),
    ],
)
def test_refusals_are_in_chinese(field: str, value: str, message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Order.model_validate({field: value})
    assert [(e.field, e.message) for e in field_errors(raised.value)] == [(field, message)]
