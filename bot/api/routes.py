"""The HTTP API's routes under `/api/v1` (SPEC §9). Each is thin: check the token and its
scope, validate the request with its model, call one service, answer with a model. Errors are
raised and answered in one place, the middleware, as problem details."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.api import models
from bot.api.limits import RateLimiter, retry_after
from bot.api.openapi import document
from bot.api.problems import ProblemError, field_problems
from bot.errors import InvalidField, InvalidInput, KeyReused, NotAllowed, NotFound, OkrbotError
from bot.i18n import N_, t
from bot.notify import announce_kpi_changes
from bot.services import kpis, okrs, pushes
from bot.services.container import Services
from bot.services.idempotency import KEY_HEADER, Outcome, fingerprint, write_once
from bot.services.tokens import TokenChecker, TokenHolder, split_token
from bot.services.updates import Change
from storage.db import Database, DatabaseUnavailable, is_transient

log = logging.getLogger("okrbot.api")

PREFIX = "/api/v1"
M = TypeVar("M", bound=BaseModel)

NO_TOKEN = N_("Send the token as `Authorization: Bearer okr_…`.")
BAD_TOKEN = N_("This token is not valid, or it was revoked.")
NO_SCOPE = N_("This token does not have the scope {scope}.")
SLOW_DOWN = N_("Too many requests with this token; try again in {seconds} s.")
NOT_JSON = N_("The body must be a JSON object.")
INVALID = N_("Some fields are not valid; see errors.")
UNAVAILABLE = N_("The database did not answer; nothing was stored. Please try again.")
BROKEN = N_("Something went wrong on my side, and nothing was stored.")


@dataclass
class Api:
    """What the routes share: the app's services, its Slack client (for KPI alerts), the
    token checker and the rate limiter."""

    services: Services
    client: AsyncWebClient
    tokens: TokenChecker
    limiter: RateLimiter

    @property
    def database(self) -> Database:
        return self.services.database

    def text(self, msgid: str, **params: object) -> str:
        return t(self.services.settings.okrbot_locale, msgid, **params)

    async def authorize(self, request: web.Request, scope: str) -> TokenHolder:
        """The token's holder, when the request may use `scope`; else a 401, 403 or 429."""
        header = request.headers.get("Authorization", "")
        kind, _, raw = header.partition(" ")
        if kind.lower() != "bearer" or not raw.strip():
            raise ProblemError(401, self.text(NO_TOKEN), headers={"WWW-Authenticate": "Bearer"})
        raw = raw.strip()
        parts = split_token(raw)
        # Counted before the slow hash, by the token's public id: guessing secrets is limited too.
        wait = self.limiter.wait(parts[0] if parts else "malformed")
        if wait:
            seconds = retry_after(wait)
            detail = self.text(SLOW_DOWN, seconds=seconds)
            raise ProblemError(429, detail, headers={"Retry-After": seconds})
        holder = await self.tokens.holder(raw, self.services.clock())
        if holder is None:
            raise ProblemError(401, self.text(BAD_TOKEN), headers={"WWW-Authenticate": "Bearer"})
        if scope not in holder.scopes:
            raise ProblemError(403, self.text(NO_SCOPE, scope=scope))
        return holder

    def announce(self, workspace_id: str, changes: tuple[Change, ...]) -> None:
        """KPI alerts leave the request's path: the answer does not wait for Slack."""
        if any(change.kind == "kpi" for change in changes):
            task = asyncio.create_task(self._announce(workspace_id, changes))
            self.services.track(task)

    async def _announce(self, workspace_id: str, changes: tuple[Change, ...]) -> None:
        try:
            await announce_kpi_changes(self.client, self.services, workspace_id, changes)
        except Exception:
            log.exception("KPI alerts after an API write were not sent")


def _query(request: web.Request, model: type[M]) -> M:
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as error:
        raise ProblemError(422, "", errors=field_problems(error)) from None


def _path(request: web.Request, name: str) -> str:
    try:
        return models.PathRef.validate_python(request.match_info[name])
    except ValidationError as error:
        raise ProblemError(422, "", errors=field_problems(error, name)) from None


async def _body(request: web.Request, model: type[M]) -> tuple[M, Any]:
    try:
        data = json.loads(await request.text())
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ProblemError(400, "")
    try:
        return model.model_validate(data), data
    except ValidationError as error:
        raise ProblemError(422, "", errors=field_problems(error)) from None


def _key(request: web.Request) -> str | None:
    try:
        headers = models.WriteHeaders.model_validate(
            {"idempotency_key": request.headers.get(KEY_HEADER)}
        )
    except ValidationError as error:
        problems = [
            models.FieldProblem(path=KEY_HEADER, message=p.message) for p in field_problems(error)
        ]
        raise ProblemError(422, "", errors=problems) from None
    return headers.idempotency_key


def _json(model: BaseModel, status: int = 200) -> web.Response:
    return web.json_response(model.model_dump(mode="json"), status=status)


API: web.AppKey[Api] = web.AppKey("api", Api)


def _api(request: web.Request) -> Api:
    return request.app[API]


async def teams(request: web.Request) -> web.Response:
    """`GET /teams`: the workspace's teams."""
    api = _api(request)
    holder = await api.authorize(request, "read")
    found = await okrs.all_teams(database=api.database, workspace_id=holder.workspace_id)
    return _json(models.TeamList(teams=[_team(team) for team in found]))


async def team_status(request: web.Request) -> web.Response:
    """`GET /teams/{team}/status[?cycle=]`: objectives and KRs with progress and status."""
    api = _api(request)
    holder = await api.authorize(request, "read")
    query = _query(request, models.StatusQuery)
    team = await okrs.team_by_ref(
        database=api.database, workspace_id=holder.workspace_id, ref=_path(request, "team")
    )
    (status,) = await okrs.team_status(
        database=api.database,
        workspace_id=holder.workspace_id,
        teams=[team],
        now=api.services.clock(),
        cycle_name=query.cycle,
    )
    return _json(_status(status))


async def kpi_list(request: web.Request) -> web.Response:
    """`GET /kpis[?team=]`: each KPI's latest value, status and trend."""
    api = _api(request)
    holder = await api.authorize(request, "read")
    query = _query(request, models.KpisQuery)
    if query.team is None:
        found = await okrs.all_teams(database=api.database, workspace_id=holder.workspace_id)
    else:
        found = [
            await okrs.team_by_ref(
                database=api.database, workspace_id=holder.workspace_id, ref=query.team
            )
        ]
    views = await kpis.kpi_views(
        database=api.database, workspace_id=holder.workspace_id, teams=found
    )
    names = {team.id: team.name for team in found}
    return _json(models.KpiList(kpis=[_kpi(view, names[view.team_id]) for view in views]))


async def measurement(request: web.Request) -> web.Response:
    """`POST /kpis/{kpi}/measurements`: a KPI value, 201 (new period) or 200 (replaced)."""
    api = _api(request)
    holder = await api.authorize(request, "kpis:write")
    key = _key(request)
    ref = _path(request, "kpi")
    body, raw = await _body(request, models.MeasurementIn)
    kpi = await pushes.find_kpi(database=api.database, workspace_id=holder.workspace_id, ref=ref)
    now = api.services.clock()

    async def work(session: AsyncSession) -> Outcome:
        done = await pushes.apply_measurement(
            session,
            actor=pushes.actor_of(holder),
            kpi=kpi,
            value=body.value,
            period=body.period,
            note=body.note,
            now=now,
        )
        return Outcome(200 if done.replaced else 201, _measured(done), done.changes)

    return await _write(api, request, holder, key, raw, work)


async def kr_update(request: web.Request) -> web.Response:
    """`POST /key-results/{kr}/updates`: a KR's value, confidence, status or note."""
    api = _api(request)
    holder = await api.authorize(request, "krs:write")
    key = _key(request)
    ref = _path(request, "kr")
    body, raw = await _body(request, models.KrUpdateIn)
    kr = await pushes.find_kr(database=api.database, workspace_id=holder.workspace_id, ref=ref)
    now = api.services.clock()

    async def work(session: AsyncSession) -> Outcome:
        change = await pushes.apply_kr_update(
            session,
            holder=holder,
            kr=kr,
            value=body.value,
            confidence=body.confidence,
            status=body.status,
            note=body.note,
            now=now,
        )
        answer = models.KrUpdate(
            id=f"KR-{kr.number}",
            title=kr.title,
            previous=_number(change.old),
            value=_number(change.new),
            progress=change.progress,
            status=change.status,  # type: ignore[arg-type]
            confidence=body.confidence if body.confidence is not None else kr.confidence,
        )
        return Outcome(201, answer.model_dump(mode="json"), (change,))

    return await _write(api, request, holder, key, raw, work)


async def openapi(_request: web.Request) -> web.Response:
    """`GET /openapi.json`: the OpenAPI 3.1 document (no token needed)."""
    return web.json_response(document())


ROUTES = [
    web.get("/openapi.json", openapi),
    web.get("/teams", teams),
    web.get("/teams/{team}/status", team_status),
    web.get("/kpis", kpi_list),
    web.post("/kpis/{kpi}/measurements", measurement),
    web.post("/key-results/{kr}/updates", kr_update),
]


async def _write(
    api: Api,
    request: web.Request,
    holder: TokenHolder,
    key: str | None,
    raw: Any,
    work: Callable[[AsyncSession], Awaitable[Outcome]],
) -> web.Response:
    """Run a write once per idempotency key; alerts only for the request that made it."""
    outcome = await write_once(
        database=api.services.database,
        holder=holder,
        key=key,
        fingerprint=fingerprint(request.method, request.path, raw),
        work=work,
    )
    if not outcome.replayed:
        api.announce(holder.workspace_id, outcome.changes)
    return web.json_response(outcome.body, status=outcome.status)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _team(team: Any) -> models.Team:
    return models.Team(id=team.id, name=team.name, channel=team.channel_id)


def _status(status: okrs.TeamStatus) -> models.TeamStatus:
    return models.TeamStatus(
        team=status.team_name,
        cycle=status.cycle_name,
        expected_progress=status.expected,
        objectives=[
            models.Objective(
                title=objective.title,
                owner=objective.owner_id,
                progress=objective.progress,
                key_results=[_kr(kr) for kr in objective.key_results],
            )
            for objective in status.objectives
        ],
    )


def _kr(kr: okrs.KrView) -> models.KeyResult:
    return models.KeyResult(
        id=kr.short_id,
        title=kr.title,
        owner=kr.owner_id,
        start=kr.start,
        target=kr.target,
        current=kr.current,
        unit=kr.unit,
        weight=kr.weight,
        progress=kr.progress,
        exceeded=kr.exceeded,
        status=kr.status,
        confidence=kr.confidence,
    )


def _kpi(view: kpis.KpiView, team: str) -> models.Kpi:
    series = [models.Point(period=period, value=value) for period, value in view.series]
    return models.Kpi(
        id=view.id,
        name=view.name,
        team=team,
        owner=view.owner_id,
        unit=view.unit,
        direction=view.direction,  # type: ignore[arg-type]
        target=view.target,
        warn=view.warn,
        period=view.period,  # type: ignore[arg-type]
        latest=series[-1] if series else None,
        status=view.status,
        trend=view.trend,
        series=series,
    )


def _measured(done: pushes.Measured) -> dict[str, Any]:
    kpi_change, *moved = done.changes
    return models.Measurement(
        kpi=done.kpi.name,
        kpi_id=done.kpi.id or 0,
        period=done.period,
        value=done.value,
        previous=_number(kpi_change.old),
        replaced=done.replaced,
        status=kpi_change.status,  # type: ignore[arg-type]
        key_results=[
            models.MovedKeyResult(
                id=change.label.split(" ", 1)[0],  # labels read `KR-7 Title`
                previous=_number(change.old),
                value=float(change.new or 0),
                progress=change.progress,
                status=change.status,  # type: ignore[arg-type]
            )
            for change in moved
        ],
    ).model_dump(mode="json")


STATUS_OF_ERROR: tuple[tuple[type[OkrbotError], int], ...] = (
    (NotFound, 404),
    (NotAllowed, 403),
    (KeyReused, 409),
    (InvalidInput, 422),
)


def error_middleware(api: Api) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Every failure of an API request, answered as problem details in one place."""

    @web.middleware
    async def problems(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except ProblemError as error:
            return _filled(api, error).response()
        except web.HTTPException as error:
            status = error.status if error.status in (404, 405) else 400
            headers = {"Allow": error.headers["Allow"]} if "Allow" in error.headers else None
            return ProblemError(status, error.reason, headers=headers).response()
        except OkrbotError as error:
            return _from_error(api, error).response()
        except Exception as error:
            if isinstance(error, DatabaseUnavailable) or is_transient(error):
                log.error("database unavailable for an API request: %s", error)
                return ProblemError(503, api.text(UNAVAILABLE)).response()
            log.exception("error in an API request")
            return ProblemError(500, api.text(BROKEN)).response()

    return problems


def _from_error(api: Api, error: OkrbotError) -> ProblemError:
    detail = api.text(error.msgid, **error.params)
    status = next((code for kind, code in STATUS_OF_ERROR if isinstance(error, kind)), 422)
    errors = (
        [models.FieldProblem(path=error.path, message=detail)]
        if isinstance(error, InvalidField)
        else []
    )
    return ProblemError(status, detail, errors=errors)


def _filled(api: Api, error: ProblemError) -> ProblemError:
    """A problem raised without a detail gets its status's standard one."""
    if error.problem.detail:
        return error
    detail = api.text(NOT_JSON if error.problem.status == 400 else INVALID)
    error.problem = error.problem.model_copy(update={"detail": detail})
    return error
