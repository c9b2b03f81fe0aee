"""The API's data: pydantic models that validate every request and describe every answer.
The OpenAPI document (`bot/api/openapi.py`) is generated from these same classes, so what is
checked and what is documented cannot drift apart."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from bot.domain import VALUE_LIMIT

# Names and references as people write them: no control characters (PostgreSQL refuses NUL).
Ref = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")]
Note = Annotated[str, StringConstraints(max_length=3000, pattern=r"^[^\x00]*$")]
Period = Annotated[
    str,
    StringConstraints(pattern=r"^\d{4}-((0[1-9]|1[0-2])|W(0[1-9]|[1-4]\d|5[0-3]))$"),
]
Value = Annotated[float, Field(ge=-VALUE_LIMIT, le=VALUE_LIMIT)]
# Visible ASCII, no blanks at either end: HTTP strips those from header values anyway.
IdempotencyKey = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255, pattern=r"^[!-~]([ -~]*[!-~])?$"),
]
PathRef: TypeAdapter[str] = TypeAdapter(Ref)


class _Strict(BaseModel):
    # Strict: `"76"` is not a number, and an unknown field is an error, not silently dropped.
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


class MeasurementIn(_Strict):
    """A KPI's value for a period."""

    value: Value = Field(description="The measured value, in the KPI's unit.")
    period: Period | None = Field(
        default=None,
        description="`2026-11` for a monthly KPI, `2026-W47` for a weekly one; "
        "default: the current period.",
    )
    note: Note | None = None

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"value": 1180, "period": "2026-11"}]}
    )


class KrUpdateIn(_Strict):
    """A key result's new value, confidence, status or note: at least one, none of them null."""

    value: Value | SkipJsonSchema[None] = None
    confidence: Annotated[int, Field(ge=0, le=10)] | SkipJsonSchema[None] = Field(
        default=None, description="Out of 10."
    )
    status: Literal["on_track", "at_risk", "off_track"] | SkipJsonSchema[None] = None
    note: Annotated[Note, StringConstraints(min_length=1)] | SkipJsonSchema[None] = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"value": 76, "confidence": 8, "status": "on_track"}],
            "minProperties": 1,
        }
    )

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Left out means "unchanged"; an explicit null is not a value (the schema says so too).
        if value is None:
            raise ValueError("must not be null: leave the field out instead")
        return value

    @field_validator("confidence", mode="before")
    @classmethod
    def _whole(cls, value: object) -> object:
        # JSON Schema counts 8.0 as an integer; strict pydantic would not.
        return int(value) if isinstance(value, float) and value.is_integer() else value

    @model_validator(mode="after")
    def _something(self) -> KrUpdateIn:
        if not self.model_fields_set:
            raise ValueError("give at least one of value, confidence, status or note")
        return self


class StatusQuery(_Strict):
    cycle: Ref | None = None


class KpisQuery(_Strict):
    team: Ref | None = None


class WriteHeaders(_Strict):
    idempotency_key: IdempotencyKey | None = None


class Team(BaseModel):
    id: int
    name: str
    channel: str | None


class TeamList(BaseModel):
    teams: list[Team]


class KeyResult(BaseModel):
    id: str = Field(description="The short id, `KR-7`.")
    title: str
    owner: str | None = Field(description="Slack user id.")
    start: float
    target: float
    current: float
    unit: str
    weight: float
    progress: float = Field(description="(current - start) / (target - start), not clamped.")
    exceeded: bool
    status: Literal["on_track", "at_risk", "off_track"]
    confidence: int | None


class Objective(BaseModel):
    title: str
    owner: str | None
    progress: float = Field(description="Weighted mean of its KRs' progress, 0 to 1.")
    key_results: list[KeyResult]


class TeamStatus(BaseModel):
    team: str
    cycle: str | None
    expected_progress: float = Field(description="The elapsed fraction of the cycle, 0 to 1.")
    objectives: list[Objective]


class Point(BaseModel):
    period: str
    value: float


class Kpi(BaseModel):
    id: int
    name: str
    team: str
    owner: str | None
    unit: str
    direction: Literal["higher_is_better", "lower_is_better"]
    target: float
    warn: float | None
    period: Literal["weekly", "monthly"]
    latest: Point | None
    status: Literal["ok", "warn", "off"] | None
    trend: Literal["improving", "worsening", "steady", "unknown"]
    series: list[Point] = Field(description="The latest periods, oldest first.")


class KpiList(BaseModel):
    kpis: list[Kpi]


class MovedKeyResult(BaseModel):
    id: str
    previous: float | None
    value: float
    progress: float | None
    status: Literal["on_track", "at_risk", "off_track"] | None


class Measurement(BaseModel):
    kpi: str
    kpi_id: int
    period: str
    value: float
    previous: float | None = Field(description="The KPI's standing value before this one.")
    replaced: bool = Field(description="True when this period already had a value.")
    status: Literal["ok", "warn", "off"]
    key_results: list[MovedKeyResult] = Field(description="Linked KRs, moved with the KPI.")


class KrUpdate(BaseModel):
    id: str
    title: str
    previous: float | None
    value: float | None
    progress: float | None
    status: Literal["on_track", "at_risk", "off_track"] | None
    confidence: int | None


class FieldProblem(BaseModel):
    path: str = Field(description="The field: `value`, `period`, `Idempotency-Key`…")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = None
