"""Slack's member directory as it changes: the people cache follows `user_change` (a member's
name, timezone, language or deactivation changed) and `team_join` (someone new)."""

from __future__ import annotations

from slack_bolt.context.async_context import AsyncBoltContext

from bot.services import people
from handlers.common import services_of


async def on_user_change(event: dict, context: AsyncBoltContext) -> None:
    """Serves `user_change` and `team_join`: the member's row in the people cache is updated."""
    user = event.get("user")
    if not isinstance(user, dict):
        return
    services = services_of(context)
    workspace_id = context.team_id or context.enterprise_id or ""
    found = people.slack_person(user, services.settings.okrbot_locale)
    if found is None:
        return
    await people.store_people(
        database=services.database,
        workspace_id=workspace_id,
        people=[found],
        keep_deactivated=False,
    )
    if found.locale:
        services.locales.pop((workspace_id, found.user_id), None)  # read again on next request


EVENTS = {"user_change": on_user_change, "team_join": on_user_change}
