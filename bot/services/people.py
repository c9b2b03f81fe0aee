"""People okrbot knows: their language, timezone and whether they left, remembered from Slack.

The `Person` rows are a cache of Slack's member directory that every replica shares: filled by
paging `users.list` (Tier 2) once a day or when never read (`PeopleDirectory` holds when, and
the claim that keeps replicas from paging it together), kept fresh by `user_change` events,
and, for someone it does not hold, by a single `users.info`. A round reads it instead of asking
Slack once per member. Nothing here talks to Slack: the scheduler and handlers hand in what
Slack said.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import normalize_locale
from storage.db import Database
from storage.models import PeopleDirectory, Person, Workspace

# The directory is read again once its last full read is older than this.
DIRECTORY_MAX_AGE = dt.timedelta(days=1)
# A refresh whose claim was not renewed (every page renews it) for this long was abandoned.
DIRECTORY_LEASE = dt.timedelta(minutes=2)
SLACKBOT = "USLACKBOT"


@dataclass(frozen=True)
class SlackPerson:
    """What okrbot keeps of a Slack user object; None fields are unknown, not cleared."""

    user_id: str
    name: str = ""
    locale: str | None = None
    timezone: str | None = None
    email: str | None = None
    deactivated: bool = False


def slack_person(user: Mapping[str, Any], default_locale: str) -> SlackPerson | None:
    """A person from a Slack user object (`users.list`, `users.info`, `user_change`); None for
    bots and Slackbot, which are never prompted."""
    user_id = str(user.get("id") or "")
    if not user_id or user.get("is_bot") or user_id == SLACKBOT:
        return None
    profile = user.get("profile") or {}
    locale = user.get("locale")
    return SlackPerson(
        user_id=user_id,
        name=str(user.get("real_name") or profile.get("real_name") or user.get("name") or ""),
        locale=normalize_locale(locale, default_locale) if locale else None,
        timezone=user.get("tz") or None,
        email=profile.get("email") or None,
        deactivated=bool(user.get("deleted")),
    )


async def known_locale(*, database: Database, workspace_id: str, user_id: str) -> str | None:
    """The language remembered for a person, or None if okrbot has not asked Slack yet."""
    pair = (workspace_id, user_id)
    return (await known_locales(database=database, people=[pair])).get(pair)


async def known_locales(
    *, database: Database, people: Iterable[tuple[str, str]], workspaces: Iterable[str] = ()
) -> dict[tuple[str, str], str]:
    """The languages remembered for these (workspace, person) pairs and for everyone in
    `workspaces`, in one statement; a person okrbot has not asked Slack about is left out."""
    wanted = set(people)
    query = select(Person.workspace_id, Person.user_id, Person.locale).where(
        col(Person.locale).is_not(None),
        or_(
            col(Person.user_id).in_({user_id for _, user_id in wanted}),
            col(Person.workspace_id).in_(set(workspaces)),
        ),
    )
    async with database.read() as session:
        rows = (await session.exec(query)).all()
    whole = set(workspaces)
    return {(w, u): locale for w, u, locale in rows if locale and (w in whole or (w, u) in wanted)}


async def known_timezone(*, database: Database, workspace_id: str, user_id: str) -> str | None:
    """The Slack timezone remembered for a person, or None."""
    async with database.session() as session:
        query = select(Person.timezone).where(
            Person.workspace_id == workspace_id, Person.user_id == user_id
        )
        return (await session.exec(query)).first()


def local_today(timezone: str | None, now: dt.datetime) -> dt.date:
    """The date it is at `now` where a person is: in their Slack timezone, UTC when unknown."""
    try:
        zone: dt.tzinfo = zoneinfo.ZoneInfo(timezone) if timezone else dt.UTC
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    return now.astimezone(zone).date()


async def remember_person(
    *,
    database: Database,
    workspace_id: str,
    user_id: str,
    locale: str,
    timezone: str | None = None,
    name: str = "",
) -> None:
    """Store what Slack told us about a person (creating the workspace row if needed)."""
    person = SlackPerson(user_id=user_id, name=name, locale=locale, timezone=timezone)
    await store_people(database=database, workspace_id=workspace_id, people=[person])


async def store_people(
    *,
    database: Database,
    workspace_id: str,
    people: Sequence[SlackPerson],
    keep_deactivated: bool = True,
) -> None:
    """Insert or update people in one unit of work. With `keep_deactivated` the stored flag
    stands (the caller did not hear it from Slack's directory); otherwise Slack's wins."""
    for _attempt in range(2):
        try:
            async with database.session() as session:
                if await session.get(Workspace, workspace_id) is None:
                    session.add(Workspace(id=workspace_id))
                query = select(Person).where(
                    Person.workspace_id == workspace_id,
                    col(Person.user_id).in_([p.user_id for p in people]),
                )
                stored = {p.user_id: p for p in (await session.exec(query)).all()}
                for found in people:
                    row = stored.get(found.user_id) or Person(
                        workspace_id=workspace_id, user_id=found.user_id
                    )
                    _merge(row, found, keep_deactivated=keep_deactivated)
                    session.add(row)
            return
        except IntegrityError:
            # Another request inserted the same workspace or person first; the retry updates it.
            continue


async def mark_home_opened(
    *, database: Database, workspace_id: str, user_id: str, now: dt.datetime
) -> None:
    """Remember that a person looks at okrbot's Home tab (the first time only)."""

    async def mark(session: AsyncSession) -> None:
        await session.exec(
            update(Person)
            .where(
                col(Person.workspace_id) == workspace_id,
                col(Person.user_id) == user_id,
                col(Person.home_opened_at).is_(None),
            )
            .values(home_opened_at=now)
        )  # type: ignore[call-overload]

    await database.transact(mark)


async def opened_home(
    *, database: Database, workspace_id: str, user_ids: Iterable[str]
) -> set[str]:
    """Which of these people have ever opened okrbot's Home tab."""
    async with database.read() as session:
        query = select(Person.user_id).where(
            Person.workspace_id == workspace_id,
            col(Person.user_id).in_(list(user_ids)),
            col(Person.home_opened_at).is_not(None),
        )
        return set((await session.exec(query)).all())


def _merge(row: Person, found: SlackPerson, *, keep_deactivated: bool) -> None:
    row.name = found.name or row.name
    row.locale = found.locale or row.locale
    row.timezone = found.timezone or row.timezone
    row.email = found.email or row.email
    if not keep_deactivated:
        row.deactivated = found.deactivated


async def claim_directory_refresh(
    *,
    database: Database,
    workspace_id: str,
    now: dt.datetime,
    max_age: dt.timedelta = DIRECTORY_MAX_AGE,
) -> bool:
    """True when the caller should read the directory now: never read or older than
    `max_age`, and nobody else reading it. One cheap read when it is fresh."""
    async with database.session() as session:
        directory = await session.get(PeopleDirectory, workspace_id)
    if directory is not None and not _due(directory, now, max_age):
        return False
    if directory is None and not await _add_directory(database, workspace_id):
        return False
    async with database.session() as session:
        result = await session.exec(
            update(PeopleDirectory)
            .where(
                col(PeopleDirectory.workspace_id) == workspace_id,
                or_(
                    col(PeopleDirectory.synced_at).is_(None),
                    col(PeopleDirectory.synced_at) < now - max_age,
                ),
                or_(
                    col(PeopleDirectory.claimed_at).is_(None),
                    col(PeopleDirectory.claimed_at) < now - DIRECTORY_LEASE,
                ),
            )
            .values(claimed_at=now)
        )
        return result.rowcount == 1


def _due(directory: PeopleDirectory, now: dt.datetime, max_age: dt.timedelta) -> bool:
    stale = directory.synced_at is None or directory.synced_at < now - max_age
    free = directory.claimed_at is None or directory.claimed_at < now - DIRECTORY_LEASE
    return stale and free


async def _add_directory(database: Database, workspace_id: str) -> bool:
    """The workspace's directory row, never read; False when its workspace is unknown."""
    try:
        async with database.session() as session:
            if await session.get(Workspace, workspace_id) is None:
                return False
            session.add(PeopleDirectory(workspace_id=workspace_id))
    except IntegrityError:
        pass  # another replica added it first
    return True


async def store_directory_page(
    *, database: Database, workspace_id: str, people: Sequence[SlackPerson], now: dt.datetime
) -> None:
    """One page of `users.list` into the cache; it also renews the refresh's claim."""
    if people:
        await store_people(
            database=database, workspace_id=workspace_id, people=people, keep_deactivated=False
        )
    await _set_directory(database, workspace_id, claimed_at=now)


async def finish_directory_refresh(
    *, database: Database, workspace_id: str, now: dt.datetime
) -> None:
    """The whole directory was read: fresh until `now` + the maximum age."""
    await _set_directory(database, workspace_id, synced_at=now, claimed_at=None)


async def release_directory_refresh(*, database: Database, workspace_id: str) -> None:
    """A refresh that could not finish: anyone may start again at once."""
    await _set_directory(database, workspace_id, claimed_at=None)


async def _set_directory(database: Database, workspace_id: str, **values: Any) -> None:
    async with database.session() as session:
        await session.exec(
            update(PeopleDirectory)
            .where(col(PeopleDirectory.workspace_id) == workspace_id)
            .values(**values)
        )


async def directory_refreshing(*, database: Database, workspace_id: str, now: dt.datetime) -> bool:
    """Someone (maybe another replica) is reading the directory right now."""
    async with database.session() as session:
        directory = await session.get(PeopleDirectory, workspace_id)
    claimed = directory.claimed_at if directory else None
    return claimed is not None and claimed >= now - DIRECTORY_LEASE
