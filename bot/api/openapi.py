"""The OpenAPI 3.1 document at `/api/v1/openapi.json`, generated from the models in
`bot/api/models.py` that validate the requests (pydantic's JSON Schema is OpenAPI 3.1's)."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from bot.api import models

SCHEMAS = "#/components/schemas/{model}"
ERRORS = (400, 401, 403, 404, 422, 429, 503)
WRITE_ERRORS = (409,)
_DESCRIPTIONS = {
    400: "The body is not a JSON object.",
    401: "Missing, wrong or revoked token.",
    403: "The token lacks the scope this operation needs.",
    404: "No such team, KPI or key result in the token's workspace.",
    409: "This Idempotency-Key already answered a different request; nothing was stored.",
    422: "Invalid fields, each named in `errors`; nothing was stored.",
    429: "More requests than the token's rate allows; retry after `Retry-After` seconds.",
    503: "The database did not answer; nothing was stored.",
}
_TAKEN = (
    (models.MeasurementIn, "validation"),
    (models.KrUpdateIn, "validation"),
    (models.TeamList, "serialization"),
    (models.TeamStatus, "serialization"),
    (models.KpiList, "serialization"),
    (models.Measurement, "serialization"),
    (models.KrUpdate, "serialization"),
    (models.Problem, "serialization"),
)


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": SCHEMAS.format(model=model.__name__)}


def _ref_schema() -> dict[str, Any]:
    return TypeAdapter(models.Ref).json_schema()


def _path_param(name: str, description: str, example: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": _ref_schema(),
        "example": example,
    }


def _query_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": _ref_schema(),
    }


_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "A repeated request with the same key gets the first answer and stores "
    "nothing more.",
    "schema": TypeAdapter(models.IdempotencyKey).json_schema(),
}


def _answers(ok: dict[int, tuple[str, type[BaseModel]]], errors: tuple[int, ...]) -> dict[str, Any]:
    answers: dict[str, Any] = {
        str(status): {
            "description": description,
            "content": {"application/json": {"schema": _ref(model)}},
        }
        for status, (description, model) in ok.items()
    }
    for status in errors:
        answer: dict[str, Any] = {
            "description": _DESCRIPTIONS[status],
            "content": {"application/problem+json": {"schema": _ref(models.Problem)}},
        }
        if status == 429:
            answer["headers"] = {"Retry-After": {"required": True, "schema": {"type": "string"}}}
        answers[str(status)] = answer
    return answers


def _operation(
    summary: str,
    scope: str,
    ok: dict[int, tuple[str, type[BaseModel]]],
    parameters: list[dict[str, Any]] = (),  # type: ignore[assignment]
    body: type[BaseModel] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "operationId": summary.lower().replace(" ", "_").replace("'", ""),
        "description": f"Needs a token with the scope `{scope}`.",
        "security": [{"bearer": []}],
        "parameters": list(parameters),
        "responses": _answers(ok, ERRORS if body is None else ERRORS + WRITE_ERRORS),
    }
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(body)}},
        }
    return operation


@cache
def document() -> dict[str, Any]:
    """The whole document (built once per process)."""
    _, definitions = models_json_schema(_TAKEN, ref_template=SCHEMAS)
    team = _path_param("team", "A team's id or name.", "Customer Success")
    kpi = _path_param("kpi", "A KPI's id or name.", "Net promoter score")
    kr = _path_param("kr", "A key result's short id (`KR-7`) or alias.", "KR-1")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "okrbot",
            "version": "1",
            "description": "Teams, OKR status and KPIs; KPI values and key-result updates "
            "pushed from other tools. Errors are RFC 9457 problem details.",
        },
        "servers": [{"url": "/api/v1"}],
        "components": {
            "schemas": definitions["$defs"],
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/teams": {
                "get": _operation(
                    "List teams", "read", {200: ("The workspace's teams.", models.TeamList)}
                )
            },
            "/teams/{team}/status": {
                "get": _operation(
                    "Team status",
                    "read",
                    {200: ("Objectives and KRs with progress and status.", models.TeamStatus)},
                    [team, _query_param("cycle", "A cycle's name; default: the current one.")],
                )
            },
            "/kpis": {
                "get": _operation(
                    "List KPIs",
                    "read",
                    {200: ("Latest value, status and trend of each KPI.", models.KpiList)},
                    [_query_param("team", "Only this team's KPIs (id or name).")],
                )
            },
            "/kpis/{kpi}/measurements": {
                "post": _operation(
                    "Push a KPI value",
                    "kpis:write",
                    {
                        201: ("Stored; linked KRs moved.", models.Measurement),
                        200: ("Stored, replacing the period's value.", models.Measurement),
                    },
                    [kpi, _KEY],
                    models.MeasurementIn,
                )
            },
            "/key-results/{kr}/updates": {
                "post": _operation(
                    "Update a key result",
                    "krs:write",
                    {201: ("Recorded.", models.KrUpdate)},
                    [kr, _KEY],
                    models.KrUpdateIn,
                )
            },
        },
    }
