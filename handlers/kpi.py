"""`/kpi` subcommands: status, log, add."""

from __future__ import annotations

from slack_bolt.async_app import AsyncRespond
from slack_bolt.context.async_context import AsyncBoltContext

from bot.blocks.kpis import build_kpi_status
from bot.blocks.modals import build_kpi_add
from bot.blocks.updates import build_changes
from bot.commandtext import read_value, split_period, split_reference
from bot.domain import Source
from bot.errors import InvalidInput
from bot.i18n import N_, t
from bot.notify import announce_kpi_changes
from bot.services import kpis, okrs, updates
from handlers.common import Caller, say_no_team, services_of
from handlers.home import home_changed

LOG_USAGE = N_(
    "Write it as `/kpi log tickets 1180`, or with a period: `/kpi log tickets 1180 2026-11`."
)


async def status(who: Caller, rest: str, context: AsyncBoltContext, respond: AsyncRespond) -> None:
    """`/kpi status [team]`: each KPI's latest value, target, status and trend."""
    services = services_of(context)
    teams = await okrs.find_teams(
        database=services.database,
        workspace_id=who.workspace_id,
        user_id=who.user_id,
        channel_id=context.channel_id,
        name=rest or None,
    )
    if not teams:
        await say_no_team(who, rest, respond)
        return
    views = await kpis.kpi_views(
        database=services.database, workspace_id=who.workspace_id, teams=teams
    )
    names = {team.id or 0: team.name for team in teams}
    await respond(
        **build_kpi_status(views, names, who.locale).as_kwargs(), response_type="ephemeral"
    )


async def log(who: Caller, rest: str, context: AsyncBoltContext, respond: AsyncRespond) -> None:
    """`/kpi log <KPI> <value> [period]`: records a measurement; linked KRs move with it."""
    services = services_of(context)
    text, period = split_period(rest)
    ref, tail = split_reference(text)
    if not ref or not tail:
        raise InvalidInput(LOG_USAGE)
    kpi = await kpis.find_kpi(database=services.database, workspace_id=who.workspace_id, ref=ref)
    read = read_value(tail, title=kpi.name, unit=kpi.unit, last=None, locale=who.locale)
    if read is None:
        raise InvalidInput(
            N_("I could not read a value in `{text}`. {usage}"),
            text=tail,
            usage=t(who.locale, LOG_USAGE),
        )
    changes = await updates.log_kpi(
        database=services.database,
        actor=updates.Actor(who.workspace_id, who.user_id, Source.COMMAND),
        kpi_id=kpi.id or 0,
        value=read.value,
        period=period,
        note=read.rest or None,
        now=services.clock(),
    )
    await respond(**build_changes(changes, who.locale).as_kwargs(), response_type="ephemeral")
    await announce_kpi_changes(context.client, services, who.workspace_id, changes)
    home_changed(context, who)


async def add(who: Caller, rest: str, context: AsyncBoltContext, respond: AsyncRespond) -> None:
    """`/kpi add`: opens the modal to create a KPI."""
    services = services_of(context)
    teams = await okrs.find_teams(
        database=services.database, workspace_id=who.workspace_id, user_id=who.user_id
    )
    if not teams:
        await say_no_team(who, "", respond)
        return
    await context.client.views_open(
        trigger_id=context["trigger_id"], view=build_kpi_add(teams, who.user_id, who.locale)
    )


SUBCOMMANDS = {"status": status, "log": log, "add": add}
