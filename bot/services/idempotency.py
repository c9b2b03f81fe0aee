"""`Idempotency-Key` for API writes (SPEC §9): a repeated request gets the first answer back and
stores nothing more.

The answer is stored in the same unit of work as the write it answers, under the unique claim
(token, key): either both are kept or neither. When two requests with one key race, the loser's
unit fails on the claim, rolls back whole, and the winner's stored answer is returned.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.errors import KeyReused
from bot.i18n import N_
from bot.services.tokens import TokenHolder
from bot.services.updates import Change
from storage.db import Database
from storage.models import ApiIdempotency

KEY_HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class Outcome:
    """An API write's answer; `changes` (for alerts) only when this request made them."""

    status: int
    body: dict[str, Any]
    changes: tuple[Change, ...] = ()
    replayed: bool = False


def fingerprint(method: str, path: str, body: object) -> str:
    """What a request asked, so one key cannot answer two different requests."""
    text = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


async def write_once(
    *,
    database: Database,
    holder: TokenHolder,
    key: str | None,
    fingerprint: str,
    work: Callable[[AsyncSession], Awaitable[Outcome]],
) -> Outcome:
    """Run the write `work` once per (token, key); without a key, every time."""
    if key is None:
        return await database.transact(work)

    async def unit(session: AsyncSession) -> Outcome:
        stored = await _stored(session, holder.token_id, key)
        if stored is not None:
            return _replay(stored, fingerprint)
        outcome = await work(session)
        session.add(
            ApiIdempotency(
                workspace_id=holder.workspace_id,
                token_id=holder.token_id,
                key=key,
                fingerprint=fingerprint,
                status=outcome.status,
                body=outcome.body,
            )
        )
        return outcome

    try:
        return await database.transact(unit)
    except IntegrityError:
        async with database.read() as session:
            stored = await _stored(session, holder.token_id, key)
        if stored is None:
            raise
        return _replay(stored, fingerprint)


async def _stored(session: AsyncSession, token_id: int, key: str) -> ApiIdempotency | None:
    query = select(ApiIdempotency).where(
        ApiIdempotency.token_id == token_id, ApiIdempotency.key == key
    )
    return (await session.exec(query)).first()


def _replay(stored: ApiIdempotency, fingerprint: str) -> Outcome:
    if stored.fingerprint != fingerprint:
        raise KeyReused(
            KEY_HEADER, N_("This Idempotency-Key was already used for a different request.")
        )
    return Outcome(stored.status, dict(stored.body), replayed=True)
