"""Recording what a check-in says about one item, through the shared write path: a reply's
plain updates and a tapped answer to a question about it take the same road."""

from __future__ import annotations

import datetime as dt

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.errors import Closed, NotAllowed, NotFound
from bot.replies import ItemUpdate
from bot.services.checkins.model import CheckinItem, Refusal, _Applied
from bot.services.updates import (
    Actor,
    Change,
    Origin,
    apply_initiative_status,
    apply_kpi_log,
    apply_kr_update,
)
from storage.db import in_session
from storage.models import KeyResult


async def apply_item(
    session: AsyncSession,
    item: CheckinItem,
    *,
    said: ItemUpdate,
    actor: Actor,
    origin: Origin,
    now: dt.datetime,
    applied: _Applied,
) -> None:
    """One item's update through the shared write path. Permission is checked before anything
    is written, so a refusal (the item changed hands since) costs only that line."""
    try:
        if item.kind == "kr":
            applied.changes.append(await _apply_kr(session, item, said, actor, origin, now))
        elif item.kind == "kpi" and said.value is not None:
            applied.changes += await apply_kpi_log(
                session,
                actor=actor,
                kpi_id=item.ref_id,
                value=said.value,
                note=said.note,
                origin=origin,
                now=now,
            )
        elif item.kind == "initiative" and said.status and said.status != item.status:
            applied.changes.append(
                await apply_initiative_status(
                    session,
                    actor=actor,
                    initiative_id=item.ref_id,
                    status=said.status,
                    note=said.note,
                    origin=origin,
                )
            )
    except Closed as closed:
        applied.refused.append(Refusal(item.title, closed))
    except (NotAllowed, NotFound):
        applied.refused.append(Refusal(item.title))


async def _apply_kr(
    session: AsyncSession,
    item: CheckinItem,
    said: ItemUpdate,
    actor: Actor,
    origin: Origin,
    now: dt.datetime,
) -> Change:
    # A reply that names no status keeps the one the owner set before ("no change" confirms it).
    kr = in_session(session, KeyResult, item.ref_id) or await session.get(KeyResult, item.ref_id)
    status = said.status if said.status is not None else (kr.status if kr else None)
    return await apply_kr_update(
        session,
        actor=actor,
        kr_id=item.ref_id,
        value=said.value,
        confidence=said.confidence,
        status=status,
        note=said.note,
        origin=origin,
        now=now,
    )
