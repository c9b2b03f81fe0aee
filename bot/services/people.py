"""People okrbot knows: their language and timezone, remembered from Slack."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.db import Database
from storage.models import Person, Workspace


async def known_locale(*, database: Database, workspace_id: str, user_id: str) -> str | None:
    """The language remembered for a person, or None if okrbot has not asked Slack yet."""
    async with database.read() as session:
        query = select(Person.locale).where(
            Person.workspace_id == workspace_id, Person.user_id == user_id
        )
        return (await session.exec(query)).first()


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
    for _attempt in range(2):
        try:
            async with database.session() as session:
                if await session.get(Workspace, workspace_id) is None:
                    session.add(Workspace(id=workspace_id))
                query = select(Person).where(
                    Person.workspace_id == workspace_id, Person.user_id == user_id
                )
                person = (await session.exec(query)).first() or Person(
                    workspace_id=workspace_id, user_id=user_id
                )
                person.locale, person.timezone = locale, timezone or person.timezone
                person.name = name or person.name
                session.add(person)
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
