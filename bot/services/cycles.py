"""Cycles (SPEC §8): creating one from the command line. Scoring and closing join here later."""

from __future__ import annotations

import datetime as dt

from sqlmodel import select

from bot.errors import InvalidInput
from bot.i18n import N_
from storage.db import Database
from storage.models import Cycle, Workspace


async def start_cycle(
    *,
    database: Database,
    workspace_id: str,
    name: str,
    start: dt.date,
    end: dt.date,
    scoring_days: int = 7,
) -> Cycle:
    """`okrbot cycle start NAME --start D --end D`: a new cycle that overlaps no other, so "the
    cycle open today" is never in doubt."""
    name = name.strip()
    if not name or len(name) > 64:
        raise InvalidInput(N_("A cycle needs a name of 1 to 64 characters."))
    if end <= start:
        raise InvalidInput(N_("A cycle must end after it starts."))
    if not 0 <= scoring_days <= (end - start).days:
        raise InvalidInput(N_("Scoring days must be between 0 and the cycle's length."))
    async with database.session() as session:
        if await session.get(Workspace, workspace_id) is None:
            session.add(Workspace(id=workspace_id))
            await session.flush()
        others = (await session.exec(select(Cycle).where(Cycle.workspace_id == workspace_id))).all()
        for other in others:
            if other.name == name:
                raise InvalidInput(N_("Cycle {name} exists already."), name=name)
            if other.start <= end and start <= other.end:
                raise InvalidInput(
                    N_("{name} would overlap cycle {other} ({start} to {end})."),
                    name=name,
                    other=other.name,
                    start=other.start.isoformat(),
                    end=other.end.isoformat(),
                )
        cycle = Cycle(
            workspace_id=workspace_id, name=name, start=start, end=end, scoring_days=scoring_days
        )
        session.add(cycle)
    return cycle
