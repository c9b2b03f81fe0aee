"""The Slack side of the people cache (`bot.services.people`): `users.list` read into it once
a day, and a member's language when a prompt needs it.

A refresh runs in the background while a round goes out: a prompt needs its member's language
only when it is sent, and the pages come in long before the fan-out reaches their members. A
prompt for someone the cache does not hold yet waits while a refresh under way (here or on
another replica) may still bring them, and only for someone Slack's directory did not list
asks `users.info`.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable
from functools import partial

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.i18n import normalize_locale
from bot.services import people
from bot.services.container import Services
from scheduler.pacing import TRANSIENT, Pacer, pacer_for

log = logging.getLogger("okrbot.people")

PAGE = 200  # members per users.list call: Slack's recommended most
# How long a prompt waits for a refresh before asking users.info itself, and how often it looks
# whether the refresh has brought its member yet (each page is stored as it arrives).
REMOTE_WAIT_SECONDS = 30.0
POLL_SECONDS = 0.1

_refreshes: weakref.WeakKeyDictionary[AsyncWebClient, dict[str, asyncio.Task[None]]] = (
    weakref.WeakKeyDictionary()
)


async def refresh_people(
    services: Services, client: AsyncWebClient, workspace_id: str
) -> asyncio.Task[None] | None:
    """Start reading the workspace's members into the cache when it is stale or missing and
    nobody else is reading it; the task doing it in this process, or None."""
    running = _refreshes.setdefault(client, {}).get(workspace_id)
    if running is not None and not running.done():
        return running
    claimed = await people.claim_directory_refresh(
        database=services.database, workspace_id=workspace_id, now=services.clock()
    )
    if not claimed:
        return None
    task = asyncio.create_task(_read_directory(services, pacer_for(client), workspace_id))
    _refreshes[client][workspace_id] = task
    return task


async def _read_directory(services: Services, pacer: Pacer, workspace_id: str) -> None:
    """Page through users.list into the cache; a failure leaves it for the next sweep."""
    database, default = services.database, services.settings.okrbot_locale
    cursor: str | None = None
    try:
        while True:
            page = await pacer.call("users.list", partial(_users_page, cursor=cursor))
            found = [people.slack_person(user, default) for user in page["members"]]
            await people.store_directory_page(
                database=database,
                workspace_id=workspace_id,
                people=[person for person in found if person is not None],
                now=services.clock(),
            )
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
    except TRANSIENT as error:
        log.warning("reading the member list of %s failed (%r); will retry", workspace_id, error)
        await people.release_directory_refresh(database=database, workspace_id=workspace_id)
        return
    await people.finish_directory_refresh(
        database=database, workspace_id=workspace_id, now=services.clock()
    )


def _users_page(client: AsyncWebClient, *, cursor: str | None) -> Awaitable[AsyncSlackResponse]:
    """One page of the workspace's members, with their locales."""
    return client.users_list(limit=PAGE, include_locale=True, cursor=cursor)


async def settle(services: Services, client: AsyncWebClient, workspace_id: str) -> None:
    """Wait for a refresh of the workspace's directory under way, here or on another replica
    (that one for at most REMOTE_WAIT_SECONDS)."""
    running = _refreshes.get(client, {}).get(workspace_id)
    if running is not None and not running.done():
        await asyncio.shield(running)
        return
    for _poll in range(int(REMOTE_WAIT_SECONDS / POLL_SECONDS)):
        refreshing = await people.directory_refreshing(
            database=services.database, workspace_id=workspace_id, now=services.clock()
        )
        if not refreshing:
            return
        await asyncio.sleep(POLL_SECONDS)


async def locale_of(
    services: Services, client: AsyncWebClient, workspace_id: str, user_id: str
) -> str:
    """A member's language from the cache, waiting while a refresh under way (here or on
    another replica, that one for at most REMOTE_WAIT_SECONDS) may still bring it; for someone
    the directory did not list, from `users.info` (and remembered)."""
    database = services.database
    for _poll in range(int(REMOTE_WAIT_SECONDS / POLL_SECONDS)):
        locale = await people.known_locale(
            database=database, workspace_id=workspace_id, user_id=user_id
        )
        if locale:
            return locale
        if not await _refreshing(services, client, workspace_id):
            break
        await asyncio.sleep(POLL_SECONDS)
    return await ask_slack(services, client, workspace_id, user_id)


async def _refreshing(services: Services, client: AsyncWebClient, workspace_id: str) -> bool:
    running = _refreshes.get(client, {}).get(workspace_id)
    if running is not None:
        return not running.done()
    return await people.directory_refreshing(
        database=services.database, workspace_id=workspace_id, now=services.clock()
    )


async def ask_slack(
    services: Services, client: AsyncWebClient, workspace_id: str, user_id: str
) -> str:
    """One member's language (and timezone) from `users.info`, remembered for next time."""
    default = services.settings.okrbot_locale
    try:
        response = await pacer_for(client).call(
            "users.info", lambda client: client.users_info(user=user_id, include_locale=True)
        )
    except TRANSIENT:
        return default
    found = people.slack_person(response["user"], default)
    if found is None:
        return default
    await people.store_people(database=services.database, workspace_id=workspace_id, people=[found])
    return normalize_locale(found.locale, default)
