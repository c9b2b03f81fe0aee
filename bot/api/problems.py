"""RFC 9457 problem details: every API error is `application/problem+json` with `type`,
`title`, `status`, `detail`, and `errors` naming each invalid field."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from bot.api.models import FieldProblem, Problem

CONTENT_TYPE = "application/problem+json"
# (type, title) for each status the API answers with an error.
KINDS: dict[int, tuple[str, str]] = {
    400: ("urn:okrbot:problem:malformed", "Malformed request"),
    401: ("urn:okrbot:problem:unauthorized", "Missing, wrong or revoked token"),
    403: ("urn:okrbot:problem:forbidden", "The token lacks a scope"),
    404: ("urn:okrbot:problem:not-found", "Not found"),
    405: ("urn:okrbot:problem:method-not-allowed", "Method not allowed"),
    409: ("urn:okrbot:problem:conflict", "Idempotency-Key already used"),
    422: ("urn:okrbot:problem:invalid", "Invalid request"),
    429: ("urn:okrbot:problem:rate-limited", "Too many requests"),
    500: ("urn:okrbot:problem:internal", "Internal error"),
    503: ("urn:okrbot:problem:unavailable", "Database unavailable"),
}


class ProblemError(Exception):
    """Raised anywhere in a request; the API's middleware answers with the problem."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: Iterable[FieldProblem] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        kind, title = KINDS[status]
        found = list(errors)
        self.problem = Problem(
            type=kind, title=title, status=status, detail=detail, errors=found or None
        )
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        body = self.problem.model_dump(exclude_none=True)
        return web.Response(
            status=self.problem.status,
            text=json.dumps(body, ensure_ascii=False),
            content_type=CONTENT_TYPE,
            headers=self.headers,
        )


def field_problems(error: ValidationError, prefix: str = "") -> list[FieldProblem]:
    """One entry per invalid field (the first reason each), named as the request names it."""
    found: dict[str, str] = {}
    for item in error.errors(include_url=False):
        name = _path(item["loc"], prefix)
        found.setdefault(name, item["msg"])
    return [FieldProblem(path=path, message=message) for path, message in found.items()]


def _path(loc: tuple[Any, ...], prefix: str) -> str:
    # The models are flat: the first element names the field; what follows are pydantic's
    # union branch tags (`constrained-str`, `none`), not part of the request.
    if not loc:
        return prefix.rstrip(".") or "body"
    return f"{prefix}{loc[0]}"
