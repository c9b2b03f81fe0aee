"""App Home tabs, kept fresh off the hot path.

A change (an `/okr update`, a `/kpi log`, a modal) only marks its author's Home tab as stale and
returns. A background task publishes stale tabs later: at most one `views.publish` per person
every `spacing` seconds however many changes they make, only for people who have opened Home
at least once (a tab nobody has looked at needs no refresh; opening it renders it anew), and
paced under Slack's limit for the method (Tier 4, about 100 a minute per workspace).
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress
from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.home import build_home
from bot.services import kpis, okrs, people
from bot.services.container import Services

log = logging.getLogger("okrbot.home")

# A change waits this long before its publish, so that a run of changes is published once.
DELAY = 1.0
# The shortest time between two publishes of one person's tab.
SPACING = 5.0
# Publishes a minute across the workspace: under Tier 4's 100, leaving room for Home opens.
PER_MINUTE = 80
# How long "has never opened Home" is believed before the database is asked again (another
# replica may have seen the person open it meanwhile; the open itself always publishes).
UNWATCHED_SECONDS = 60.0


@dataclass(frozen=True)
class Reader:
    """Whose tab, in which workspace and language."""

    workspace_id: str
    user_id: str
    locale: str


class HomeFeed:
    """Publishes people's Home tabs: at once when opened, coalesced and paced after changes."""

    def __init__(
        self,
        services: Services,
        client: AsyncWebClient,
        *,
        delay: float = DELAY,
        spacing: float = SPACING,
        per_minute: int = PER_MINUTE,
    ) -> None:
        self._services = services
        self._client = client
        self._delay, self._spacing, self._gap = delay, spacing, 60.0 / per_minute
        self._stale: dict[tuple[str, str], tuple[Reader, float]] = {}
        self._published: dict[tuple[str, str], float] = {}
        self._watching: set[tuple[str, str]] = set()
        self._unwatched: dict[tuple[str, str], float] = {}  # until when it is believed
        self._next_publish = 0.0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def changed(self, reader: Reader) -> None:
        """The reader's items changed: refresh their tab soon (never on the caller's time)."""
        key = (reader.workspace_id, reader.user_id)
        now = time.monotonic()
        if self._unwatched.get(key, 0.0) >= now:
            return  # they have not opened Home: nothing to refresh
        due = max(now + self._delay, self._published.get(key, 0.0) + self._spacing)
        earlier = self._stale.get(key)
        self._stale[key] = (reader, min(due, earlier[1]) if earlier else due)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="okrbot-home-feed")
        self._wake.set()

    async def opened(self, reader: Reader) -> None:
        """The reader opened the Home tab: remember it, and publish it now."""
        await people.mark_home_opened(
            database=self._services.database,
            workspace_id=reader.workspace_id,
            user_id=reader.user_id,
            now=self._services.clock(),
        )
        key = (reader.workspace_id, reader.user_id)
        self._stale.pop(key, None)
        self._unwatched.pop(key, None)
        self._watching.add(key)
        await self._publish(reader)

    async def close(self) -> None:
        """Stop publishing; stale tabs are rendered anew when next opened."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while self._stale:
            now = time.monotonic()
            due = [reader for reader, at in self._stale.values() if at <= now]
            if not due:
                self._wake.clear()
                # Sleep until the earliest is due, or a new change (maybe due sooner) arrives.
                with suppress(TimeoutError):
                    async with asyncio.timeout(min(at for _, at in self._stale.values()) - now):
                        await self._wake.wait()
                continue
            for reader in due:
                self._stale.pop((reader.workspace_id, reader.user_id), None)
            await self._publish_batch(due)

    async def _publish_batch(self, readers: list[Reader]) -> None:
        for reader in await self._watchers(readers):
            await self._paced()
            await self._publish_logged(reader)

    async def _watchers(self, readers: list[Reader]) -> list[Reader]:
        """The readers who have opened their Home tab, asking the database only about those
        not known either way (a burst of changes by people who never look costs no query)."""
        now = time.monotonic()
        unknown = [
            r
            for r in readers
            if (r.workspace_id, r.user_id) not in self._watching
            and self._unwatched.get((r.workspace_id, r.user_id), 0.0) < now
        ]
        for workspace_id in {reader.workspace_id for reader in unknown}:
            asked = [reader.user_id for reader in unknown if reader.workspace_id == workspace_id]
            watching = await people.opened_home(
                database=self._services.database, workspace_id=workspace_id, user_ids=asked
            )
            for user_id in asked:
                if user_id in watching:
                    self._watching.add((workspace_id, user_id))
                else:
                    self._unwatched[(workspace_id, user_id)] = now + UNWATCHED_SECONDS
        return [r for r in readers if (r.workspace_id, r.user_id) in self._watching]

    async def _paced(self) -> None:
        now = time.monotonic()
        wait = self._next_publish - now
        self._next_publish = max(now, self._next_publish) + self._gap
        if wait > 0:
            await asyncio.sleep(wait)

    async def _publish_logged(self, reader: Reader) -> None:
        # This task outlives any one request: a failure to refresh one tab (Slack down, a
        # database hiccup) is logged and must not stop the others.
        try:
            await self._publish(reader)
        except Exception:
            log.warning("could not refresh the Home tab of %s", reader.user_id, exc_info=True)

    async def _publish(self, reader: Reader) -> None:
        self._published[(reader.workspace_id, reader.user_id)] = time.monotonic()
        view = await render_home(self._services, reader)
        await self._client.views_publish(user_id=reader.user_id, view=view)


async def render_home(services: Services, reader: Reader) -> dict:
    """The reader's Home tab: their KRs and initiatives, their teams' objectives and KPIs."""
    db, ws, now = services.database, reader.workspace_id, services.clock()
    teams = await okrs.find_teams(database=db, workspace_id=ws, user_id=reader.user_id)
    mine = await okrs.my_items(database=db, workspace_id=ws, user_id=reader.user_id, now=now)
    statuses = await okrs.team_status(database=db, workspace_id=ws, teams=teams, now=now)
    views = await kpis.kpi_views(database=db, workspace_id=ws, teams=teams)
    names = {team.id or 0: team.name for team in teams}
    return build_home(mine, statuses, views, names, reader.locale)
