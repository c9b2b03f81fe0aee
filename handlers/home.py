"""The App Home tab and its *Update* buttons."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import ids
from bot.blocks.home import build_home
from bot.blocks.modals import build_kr_update
from bot.services import kpis, okrs
from handlers.common import Caller, caller, services_of


async def refresh_home(context: AsyncBoltContext, who: Caller) -> None:
    """Render and publish the Home tab of one user (after their changes, or when opened)."""
    services = services_of(context)
    db, ws, now = services.database, who.workspace_id, services.clock()
    teams = await okrs.find_teams(database=db, workspace_id=ws, user_id=who.user_id)
    mine = await okrs.my_items(database=db, workspace_id=ws, user_id=who.user_id, now=now)
    statuses = await okrs.team_status(database=db, workspace_id=ws, teams=teams, now=now)
    views = await kpis.kpi_views(database=db, workspace_id=ws, teams=teams)
    names = {team.id or 0: team.name for team in teams}
    view = build_home(mine, statuses, views, names, who.locale)
    await context.client.views_publish(user_id=who.user_id, view=view)


async def app_home_opened(event: dict, client: AsyncWebClient, context: AsyncBoltContext) -> None:
    """Serves the `app_home_opened` event: publishes the user's Home tab."""
    if event.get("tab", "home") == "home":
        await refresh_home(context, await caller(context, client, event["user"]))


async def open_update(
    ack: AsyncAck, body: dict, client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """The *Update* button next to a KR in App Home: opens the small update modal."""
    await ack()
    who = await caller(context, client, body["user"]["id"])
    kr = await okrs.get_kr(
        database=services_of(context).database,
        workspace_id=who.workspace_id,
        kr_id=int(body["actions"][0]["value"]),
    )
    await client.views_open(trigger_id=body["trigger_id"], view=build_kr_update(kr, who.locale))


EVENTS = {"app_home_opened": app_home_opened}
ACTIONS = {ids.HOME_UPDATE_KR: open_update}
