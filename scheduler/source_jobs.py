"""The pull job (SPEC §9): read a KPI's source on its cron, store the value like a pushed one.

`pull_source(services, client, kpi_id)` is idempotent across replicas: it works out the slot it
runs for (the cron's latest fire time, or the pending retry's time when that is later), and
only the caller whose conditional update takes that slot pulls. A failure stores nothing,
counts one more failure and sets the next retry (1, 2, 4 … minutes, at most an hour); the job
returns that time and the runner schedules it. The KPI's owner hears by DM, in their language,
once when the source starts failing and once when it works again. The job never raises: a bad
source is logged and the scheduler goes on.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import zoneinfo
from collections.abc import Mapping
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.blocks.common import escape
from bot.i18n import N_, format_number, t
from bot.importfile import CsvSourceSpec, SqlSourceSpec, load_source
from bot.notify import announce_kpi_changes, tell_person
from bot.services import pushes, sources
from bot.services.container import Services
from bot.services.sources import FAILING, OK, Reading, SourceFailed
from bot.services.updates import Actor, Change
from scheduler.digest_jobs import schedule_slot
from scheduler.runner import team_timezone
from storage.models import Kpi, KpiMeasurement, SourceState, Team

log = logging.getLogger("okrbot.sources")

FAILING_TEXT = N_(
    "The {kind} source of your KPI *{kpi}* failed: {reason}. Nothing was stored; I will keep "
    "trying and tell you when it works again."
)
RECOVERED_TEXT = N_("The {kind} source of your KPI *{kpi}* works again: {value} for {period}.")


async def pull_source(
    services: Services, client: Any, kpi_id: int, environ: Mapping[str, str] | None = None
) -> dt.datetime | None:
    """Pull the KPI's source for the slot due now; the time of the next retry when it failed.

    `environ` holds the `OKRBOT_SOURCE_<NAME>_URL` DSNs (the process environment by default)."""
    try:
        return await _pull(services, client, kpi_id, os.environ if environ is None else environ)
    except Exception:
        log.exception("the pull of KPI %s's source went wrong", kpi_id)
        return None


def due_slot(
    schedule: str, zone: zoneinfo.ZoneInfo, now: dt.datetime, retry_at: dt.datetime | None
) -> dt.datetime | None:
    """The slot a pull at `now` runs for: the pending retry if due and later than the
    schedule's latest fire time, else that fire time (None when neither is near)."""
    cron = schedule_slot(schedule, zone, now)
    due = [slot for slot in (cron, retry_at) if slot is not None and slot <= now]
    return max(due) if due else None


async def _pull(
    services: Services, client: Any, kpi_id: int, environ: Mapping[str, str]
) -> dt.datetime | None:
    database = services.database
    async with database.read() as session:
        kpi = await session.get(Kpi, kpi_id)
        state = await session.get(SourceState, kpi_id)
        team = await session.get(Team, kpi.team_id) if kpi else None
    if kpi is None or team is None or kpi.source is None or state is None:
        return None
    spec = load_source(kpi.source)
    now = services.clock()
    zone = zoneinfo.ZoneInfo(team_timezone(team, services.settings.okrbot_timezone))
    slot = due_slot(spec.schedule, zone, now, state.retry_at)
    if slot is None:
        return None

    async def claim(session: AsyncSession) -> bool:
        return await sources.claim_slot(session, kpi_id, slot)

    if not await database.transact(claim):
        return None  # another replica (or an earlier run) pulled this slot
    try:
        reading = await _read(services, spec, kpi.period, environ)
    except SourceFailed as failure:
        return await _failed(services, client, kpi, spec, failure, now)
    await _stored(services, client, kpi, spec, reading, now)
    return None


async def _read(
    services: Services,
    spec: CsvSourceSpec | SqlSourceSpec,
    period: str,
    environ: Mapping[str, str],
) -> Reading:
    if isinstance(spec, CsvSourceSpec):
        return await sources.fetch_csv(services.http.get(), spec, period)
    return await sources.run_query(spec, environ, period)


async def _standing(session: AsyncSession, kpi_id: int, period: str) -> float | None:
    query = (
        select(KpiMeasurement.value)
        .where(
            KpiMeasurement.kpi_id == kpi_id,
            KpiMeasurement.period == period,
            col(KpiMeasurement.reverted).is_(False),
        )
        .order_by(col(KpiMeasurement.created_at).desc(), col(KpiMeasurement.id).desc())
    )
    return (await session.exec(query.limit(1))).first()


async def _stored(
    services: Services,
    client: Any,
    kpi: Kpi,
    spec: CsvSourceSpec | SqlSourceSpec,
    reading: Reading,
    now: dt.datetime,
) -> None:
    """Store the reading (unless it already stands), clear the failures, tell a recovery."""
    kpi_id = kpi.id or 0
    actor = Actor(kpi.workspace_id, None, f"pull:{spec.kind}", authorized=True)

    async def work(session: AsyncSession) -> tuple[tuple[Change, ...], bool]:
        changes: tuple[Change, ...] = ()
        if await _standing(session, kpi_id, reading.period) != reading.value:
            measured = await pushes.apply_measurement(
                session,
                actor=actor,
                kpi=kpi,
                value=reading.value,
                period=reading.period,
                note=None,
                now=now,
            )
            changes = measured.changes
        cleared = {"failures": 0, "retry_at": None, "error": None, "pulled_at": now}
        await session.exec(
            update(SourceState).where(col(SourceState.kpi_id) == kpi_id).values(**cleared)
        )
        return changes, await sources.claim_told(session, kpi_id, OK)

    changes, recovered = await services.database.transact(work)
    if changes:
        log.info("%s: %s for %s, pulled", kpi.name, reading.value, reading.period)
        await announce_kpi_changes(client, services, kpi.workspace_id, changes)
    if recovered and kpi.owner_id:

        def text(locale: str) -> str:
            return t(
                locale,
                RECOVERED_TEXT,
                kind=spec.kind.upper(),
                kpi=escape(kpi.name),
                value=format_number(reading.value, locale),
                period=reading.period,
            )

        await tell_person(client, services, kpi.workspace_id, kpi.owner_id, text)


async def _failed(
    services: Services,
    client: Any,
    kpi: Kpi,
    spec: CsvSourceSpec | SqlSourceSpec,
    failure: SourceFailed,
    now: dt.datetime,
) -> dt.datetime:
    """Count the failure, set the next retry, tell the owner if this is the first."""
    kpi_id = kpi.id or 0

    async def work(session: AsyncSession) -> tuple[dt.datetime, bool]:
        state = await session.get(SourceState, kpi_id)
        failures = (state.failures if state else 0) + 1
        retry = now + sources.retry_delay(failures)
        values = {"failures": failures, "retry_at": retry, "error": str(failure)[:500]}
        await session.exec(
            update(SourceState).where(col(SourceState.kpi_id) == kpi_id).values(**values)
        )
        return retry, await sources.claim_told(session, kpi_id, FAILING)

    retry, first = await services.database.transact(work)
    log.warning("%s: its %s source failed (%s); retry at %s", kpi.name, spec.kind, failure, retry)
    if first and kpi.owner_id:

        def text(locale: str) -> str:
            reason = t(locale, failure.msgid, **failure.params)
            return t(
                locale, FAILING_TEXT, kind=spec.kind.upper(), kpi=escape(kpi.name), reason=reason
            )

        await tell_person(client, services, kpi.workspace_id, kpi.owner_id, text)
    return retry
