"""The App Home tab and its *Update* buttons."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import ids
from bot.blocks.modals import build_kr_update
from bot.homefeed import HomeFeed, Reader
from bot.services import okrs
from handlers.common import Caller, caller, services_of


def home_changed(context: AsyncBoltContext, who: Caller) -> None:
    """After a change by `who`: their Home tab is refreshed later, off this request."""
    _feed(context).changed(Reader(who.workspace_id, who.user_id, who.locale))


async def app_home_opened(event: dict, client: AsyncWebClient, context: AsyncBoltContext) -> None:
    """Serves the `app_home_opened` event: publishes the user's Home tab."""
    if event.get("tab", "home") == "home":
        who = await caller(context, client, event["user"])
        await _feed(context).opened(Reader(who.workspace_id, who.user_id, who.locale))


def _feed(context: AsyncBoltContext) -> HomeFeed:
    return context["home"]


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
