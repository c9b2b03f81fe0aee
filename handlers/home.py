"""The App Home tab."""

from __future__ import annotations

from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.home import build_home
from bot.services import okrs
from handlers.common import caller, services_of


async def publish_home(client: AsyncWebClient, context: AsyncBoltContext, user_id: str) -> None:
    """Render and publish the Home tab of one user."""
    services = services_of(context)
    who = await caller(context, client, user_id)
    teams = await okrs.find_teams(
        database=services.database, workspace_id=who.workspace_id, user_id=user_id
    )
    statuses = await okrs.team_status(
        database=services.database, workspace_id=who.workspace_id, teams=teams, now=services.clock()
    )
    await client.views_publish(user_id=user_id, view=build_home(statuses, who.locale))


async def app_home_opened(event: dict, client: AsyncWebClient, context: AsyncBoltContext) -> None:
    """Serves the `app_home_opened` event: publishes the user's Home tab."""
    if event.get("tab", "home") == "home":
        await publish_home(client, context, event["user"])


EVENTS = {"app_home_opened": app_home_opened}
