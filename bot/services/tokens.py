"""Tokens for the HTTP API (SPEC §9): created with a name and scopes, shown once, stored only
as a scrypt hash, revoked by name.

A token reads `okr_<public_id>_<secret>`. The public id is stored in the clear and finds the one
row to check, so a request costs one slow hash at most, never one per stored token; the secret
is checked against its scrypt hash in constant time. A process remembers the SHA-256 of secrets
it has already verified (in memory only), so a busy integration pays for scrypt once, not on
every request; the row is still read each time, so a revocation holds at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.commandtext import comma_choices
from bot.errors import InvalidInput, NotFound
from bot.i18n import N_
from storage.db import Database
from storage.models import ApiToken, Workspace, utcnow

SCOPES = ("read", "kpis:write", "krs:write")
PREFIX = "okr"
# scrypt's cost: 16 MiB and tens of milliseconds per hash (OWASP's floor for scrypt).
SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_TOKEN = re.compile(rf"^{PREFIX}_([0-9a-f]{{16}})_([A-Za-z0-9_-]{{43}})$")
# Last use is written at most this often per token: a write on every request would make each
# API read a write unit.
LAST_USE_EVERY = dt.timedelta(minutes=1)
VERIFIED_KEPT = 1024


@dataclass(frozen=True)
class IssuedToken:
    """A new token: `token` is shown once and never again."""

    name: str
    scopes: tuple[str, ...]
    token: str


@dataclass(frozen=True)
class TokenInfo:
    name: str
    scopes: tuple[str, ...]
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


@dataclass(frozen=True)
class TokenHolder:
    """Who sent an API request: the token's workspace, name and scopes."""

    token_id: int
    workspace_id: str
    name: str
    scopes: frozenset[str]

    @property
    def source(self) -> str:
        """The history source of this token's writes (`api:NAME`)."""
        return f"api:{self.name}"


def parse_scopes(text: str) -> tuple[str, ...]:
    """`read,kpis:write` -> ("read", "kpis:write"); unknown or no scopes are refused."""
    wanted, unknown = comma_choices(text, SCOPES)
    if unknown or not wanted:
        raise InvalidInput(
            N_("Scopes must be some of {scopes}; not {unknown}."),
            scopes=", ".join(SCOPES),
            unknown=", ".join(unknown) or "none",
        )
    return wanted


def split_token(raw: str) -> tuple[str, str] | None:
    """(public id, secret) of a well-formed token, else None."""
    found = _TOKEN.match(raw)
    return (found.group(1), found.group(2)) if found else None


def hash_secret(secret: str, salt: bytes) -> str:
    """The stored form of a secret: scrypt, hex."""
    return hashlib.scrypt(secret.encode(), salt=salt, **SCRYPT).hex()  # type: ignore[arg-type]


def _new_token() -> tuple[str, str, str]:
    public_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return public_id, secret, f"{PREFIX}_{public_id}_{secret}"


async def create_token(
    *, database: Database, workspace_id: str, name: str, scopes: tuple[str, ...]
) -> IssuedToken:
    """A new token for the workspace; its secret is returned here and stored only hashed."""
    if not NAME.match(name):
        raise InvalidInput(
            N_("A token's name is 1 to 64 letters, digits, dots, dashes or underscores: {name}"),
            name=name,
        )
    public_id, secret, token = _new_token()
    salt = secrets.token_bytes(16)
    hashed = await asyncio.to_thread(hash_secret, secret, salt)

    async def store(session: AsyncSession) -> None:
        if await session.get(Workspace, workspace_id) is None:
            raise NotFound(what=f"workspace {workspace_id}")
        session.add(
            ApiToken(
                workspace_id=workspace_id,
                name=name,
                public_id=public_id,
                salt=salt.hex(),
                secret_hash=hashed,
                scopes=list(scopes),
            )
        )

    try:
        await database.transact(store)
    except IntegrityError:
        raise InvalidInput(N_("A token named {name} already exists."), name=name) from None
    return IssuedToken(name, scopes, token)


async def list_tokens(*, database: Database, workspace_id: str) -> list[TokenInfo]:
    """The workspace's tokens by name, revoked ones too (marked)."""
    async with database.read() as session:
        rows = await session.exec(
            select(ApiToken).where(ApiToken.workspace_id == workspace_id).order_by(ApiToken.name)
        )
        return [
            TokenInfo(row.name, tuple(row.scopes), row.created_at, row.last_used_at, row.revoked_at)
            for row in rows.all()
        ]


async def revoke_token(*, database: Database, workspace_id: str, name: str) -> None:
    """Revoke the named token: every request with it is refused from now on."""

    async def revoke(session: AsyncSession) -> int:
        statement = (
            update(ApiToken)
            .where(
                col(ApiToken.workspace_id) == workspace_id,
                col(ApiToken.name) == name,
                col(ApiToken.revoked_at).is_(None),
            )
            .values(revoked_at=utcnow())
        )
        return (await session.exec(statement)).rowcount  # type: ignore[union-attr]

    if await database.transact(revoke) == 0:
        raise NotFound(what=f"an active token named {name}")


@dataclass
class TokenChecker:
    """Checks presented tokens against the stored hashes, remembering verified secrets."""

    database: Database
    _verified: OrderedDict[str, bytes] = field(default_factory=OrderedDict)

    async def holder(self, raw: str, now: dt.datetime) -> TokenHolder | None:
        """The holder of a valid, unrevoked token; None for anything else."""
        parts = split_token(raw)
        if parts is None:
            return None
        public_id, secret = parts
        async with self.database.read() as session:
            row = (
                await session.exec(select(ApiToken).where(ApiToken.public_id == public_id))
            ).first()
        if row is None or row.revoked_at is not None or not await self._matches(row, secret):
            return None
        if row.last_used_at is None or now - row.last_used_at >= LAST_USE_EVERY:
            await self._used(row.id or 0, now)
        return TokenHolder(row.id or 0, row.workspace_id, row.name, frozenset(row.scopes))

    async def _matches(self, row: ApiToken, secret: str) -> bool:
        quick = hashlib.sha256(secret.encode()).digest()
        known = self._verified.get(row.secret_hash)
        if known is not None:
            return hmac.compare_digest(known, quick)
        hashed = await asyncio.to_thread(hash_secret, secret, bytes.fromhex(row.salt))
        if not hmac.compare_digest(hashed, row.secret_hash):
            return False
        self._verified[row.secret_hash] = quick
        while len(self._verified) > VERIFIED_KEPT:
            self._verified.popitem(last=False)
        return True

    async def _used(self, token_id: int, now: dt.datetime) -> None:
        async def record(session: AsyncSession) -> None:
            await session.exec(
                update(ApiToken).where(col(ApiToken.id) == token_id).values(last_used_at=now)  # type: ignore[call-overload]
            )

        await self.database.transact(record)
