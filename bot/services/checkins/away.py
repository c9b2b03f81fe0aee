"""`/okr away`: reading a date and setting a member away."""

from __future__ import annotations

import datetime as dt
import re

from babel.dates import get_month_names

from bot.i18n import cldr_locale
from bot.services.checkins.members import _person
from storage.db import Database
from storage.models import (
    Person,
    Workspace,
)

# -- away ------------------------------------------------------------------------------------


_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DAY_MONTH = re.compile(r"^(\d{1,2})\.?\s+([^\W\d_]+)\.?(?:\s+(\d{4}))?$")
_MONTH_DAY = re.compile(r"^([^\W\d_]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?(?:\s+(\d{4}))?$")


def parse_until(text: str, today: dt.date) -> dt.date | None:
    """`2026-12-01`, `Dec 1`, `December 1st`, `1 Des`, `1 Desember 2026` -> a date (the next
    such day when no year is given); None when it is not a date."""
    words = " ".join(text.strip().lower().split())
    iso = _ISO_DATE.match(words)
    if iso:
        return _date(int(iso[1]), int(iso[2]), int(iso[3]))
    day_month = _DAY_MONTH.match(words)
    month_day = _MONTH_DAY.match(words)
    if day_month:
        day, name, year = day_month.groups()
    elif month_day:
        name, day, year = month_day.groups()
    else:
        return None
    month = _month_number(name)
    if month is None:
        return None
    if year:
        return _date(int(year), month, int(day))
    found = _date(today.year, month, int(day))
    return _date(today.year + 1, month, int(day)) if found and found < today else found


def _date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _month_number(name: str) -> int | None:
    """A month by its English or Indonesian name or abbreviation (`des`, `agu`, `sept`)."""
    for locale in ("en", "id"):
        for width in ("wide", "abbreviated"):
            names = get_month_names(width, locale=cldr_locale(locale))
            for number, month in names.items():
                if month.lower().rstrip(".") == name or (
                    len(name) >= 3 and month.lower().startswith(name)
                ):
                    return number
    return None


async def set_away(
    *, database: Database, workspace_id: str, user_id: str, until: dt.date | None
) -> None:
    """Pause (or, with None, resume) a person's prompts and reminders."""
    async with database.session() as session:
        person = await _person(session, workspace_id, user_id)
        if person is None:
            if await session.get(Workspace, workspace_id) is None:
                session.add(Workspace(id=workspace_id))
            person = Person(workspace_id=workspace_id, user_id=user_id)
        person.away_until = until
        session.add(person)
