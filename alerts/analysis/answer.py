"""What a model's answer must be: seed 003's analysis shape, checked before anything is stored."""

from __future__ import annotations

from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

SEVERITIES = ("NORMAL", "WARNING", "CRITICAL")


class InvalidAnswer(Exception):
    """The model answered, but not with a complete analysis; the message says what was wrong."""


class AnalysisResult(BaseModel):
    """The analysis a person reads (seed 003's response shape)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    analysis: str = Field(min_length=1, max_length=8000)
    severity: Literal["NORMAL", "WARNING", "CRITICAL"]
    key_findings: list[str] = Field(min_length=1, max_length=20)
    recommendations: list[str] = Field(min_length=1, max_length=20)
    confidence: float = Field(ge=0.0, le=1.0)

    @field_validator("severity", mode="before")
    @classmethod
    def _upper(cls, value):
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("key_findings", "recommendations", mode="after")
    @classmethod
    def _no_blank_items(cls, items: list[str]) -> list[str]:
        kept = [item.strip() for item in items if item and item.strip()]
        if not kept:
            raise ValueError("must hold at least one non-empty item")
        return [item[:1000] for item in kept]

    def as_dict(self) -> dict:
        return self.model_dump()


def parse_answer(content: str, finish_reason: str | None = None) -> AnalysisResult:
    """The validated analysis in ``content``, or InvalidAnswer naming the first problem."""
    if finish_reason == "length":
        raise InvalidAnswer("the answer was cut off at GROQ_MAX_TOKENS")
    if not content or not content.strip():
        raise InvalidAnswer("the answer was empty")
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise InvalidAnswer(f"the answer is not JSON: {exc}")
    if not isinstance(data, dict):
        raise InvalidAnswer("the answer is not a JSON object")
    try:
        return AnalysisResult.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "answer"
        raise InvalidAnswer(f"{where}: {first['msg']}")
