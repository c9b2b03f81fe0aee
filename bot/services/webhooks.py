"""Outgoing webhooks (SPEC §9): who hears which events, the outbox they leave from, and the
claims that let replicas share the sending.

An event is queued by `record_event` inside the unit of work of the change that causes it (a
KR update, a KPI alert's claim, a digest marked sent, a round closed): one `WebhookDelivery`
row per webhook that wants it, committed with the change or not at all. A sender
(`scheduler/webhooks.py`) then claims due rows, posts them signed, and records the outcome:
accepted, or tried again later with exponential backoff until 24 hours after the event.

Signatures: `X-Okrbot-Signature: v1=` + hex HMAC-SHA256 of `v1:{timestamp}:{body}` under the
webhook's secret, with the timestamp (Unix seconds) in `X-Okrbot-Timestamp`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Label, delete, exists, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.commandtext import comma_choices
from bot.errors import InvalidInput, NotFound
from bot.i18n import N_
from storage.db import Database, insert_later
from storage.models import Webhook, WebhookDelivery, Workspace, utcnow

EVENTS = ("kr.updated", "kpi.alert", "digest.sent", "round.closed")
# A delivery not accepted within this long after its event is given up.
RETRY_FOR = dt.timedelta(hours=24)
# Backoff: the first retry after FIRST_RETRY (Settings may shorten it), doubling up to MAX_RETRY.
MAX_RETRY = dt.timedelta(hours=1)
# Settled deliveries (accepted or given up) are kept this long for `okrbot webhook list`.
KEEP = dt.timedelta(days=7)
_SUBSCRIBERS = "okrbot_webhook_subscribers"


@dataclass(frozen=True)
class AddedWebhook:
    """A new webhook: `secret` is shown once and never listed."""

    id: int
    url: str
    events: tuple[str, ...]
    secret: str


@dataclass(frozen=True)
class WebhookInfo:
    id: int
    url: str
    events: tuple[str, ...]
    created_at: dt.datetime
    pending: int
    delivered: int
    failed: int


@dataclass(frozen=True)
class Due:
    """A claimed delivery, with what the sender needs to post it."""

    id: int
    delivery_id: str
    event: str
    url: str
    secret: str
    body: bytes
    attempts: int
    created_at: dt.datetime


# -- pure


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Okrbot-Signature` value for `body` sent at `timestamp`."""
    message = f"v1:{timestamp}:".encode() + body
    return "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def encode(payload: Mapping[str, Any]) -> bytes:
    """The body posted for a stored payload: compact JSON, the same bytes on every attempt."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def next_attempt(
    *,
    created_at: dt.datetime,
    attempts: int,
    now: dt.datetime,
    first: dt.timedelta,
) -> dt.datetime | None:
    """When to try again after `attempts` failed tries, or None once 24 h have passed."""
    delay = min(first * 2 ** (attempts - 1), MAX_RETRY)
    due = now + delay
    return None if due - created_at > RETRY_FOR else due


def parse_events(text: str) -> tuple[str, ...]:
    """`kr.updated,kpi.alert` -> the events; unknown or none are refused."""
    wanted, unknown = comma_choices(text, EVENTS)
    if unknown or not wanted:
        raise InvalidInput(
            N_("Events must be some of {events}; not {unknown}."),
            events=", ".join(EVENTS),
            unknown=", ".join(unknown) or "none",
        )
    return wanted


def check_url(url: str) -> str:
    """An http(s) URL with a host, else a clear refusal."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname or len(url) > 2000:
        raise InvalidInput(
            N_("A webhook needs an http(s) URL such as https://example.com/okrbot: {url}"),
            url=url,
        )
    return url


# -- the outbox, inside the caller's unit of work


async def record_event(
    session: AsyncSession, *, workspace_id: str, event: str, data: Mapping[str, Any]
) -> None:
    """Queue `event` for each of the workspace's webhooks that wants it, in the caller's unit
    of work: the event is committed with the change that caused it, or not at all."""
    now = utcnow()
    for webhook_id in await _subscribers(session, workspace_id, event):
        delivery_id = uuid.uuid4().hex
        payload = {
            "id": delivery_id,
            "event": event,
            "workspace_id": workspace_id,
            "created_at": now.isoformat(),
            "data": dict(data),
        }
        insert_later(
            session,
            WebhookDelivery,
            delivery_id=delivery_id,
            workspace_id=workspace_id,
            webhook_id=webhook_id,
            event=event,
            payload=payload,
            created_at=now,
            next_attempt_at=now,
        )


def any_webhook(workspace_id: Any) -> Label[bool]:
    """A column saying whether the workspace (`workspace_id`, a column or a value) has any
    webhook, for a statement the write unit runs anyway; `note_webhooks` takes its value."""
    return exists().where(Webhook.workspace_id == workspace_id).label("any_webhook")


def note_webhooks(session: AsyncSession, workspace_id: str, any_webhook: bool) -> None:
    """A workspace without webhooks queues nothing: its unit of work skips the subscriber
    read (a round trip on PostgreSQL). A webhook added while the unit runs gets no event for
    its change, as if the change had come first; its first event is the next one."""
    if not any_webhook:
        session.info.setdefault(_SUBSCRIBERS, {}).setdefault(workspace_id, [])


async def wanted(session: AsyncSession, workspace_id: str, event: str) -> bool:
    """Whether any of the workspace's webhooks wants `event` (read as `record_event` reads)."""
    return bool(await _subscribers(session, workspace_id, event))


async def _subscribers(session: AsyncSession, workspace_id: str, event: str) -> list[int]:
    """The ids of the webhooks wanting `event`; read once per unit of work and workspace (a
    check-in reply may update several KRs in one unit). The rows are share-locked until the
    unit commits, so a webhook removed meanwhile waits for the event queued for it (and then
    drops it) instead of failing the change with a dangling reference."""
    known: dict[str, list[tuple[int, list[str]]]] = session.info.setdefault(_SUBSCRIBERS, {})
    if workspace_id not in known:
        query = (
            select(Webhook.id, Webhook.events)
            .where(Webhook.workspace_id == workspace_id)
            .with_for_update(read=True)
        )
        known[workspace_id] = [(i or 0, events) for i, events in (await session.exec(query)).all()]
    return [webhook_id for webhook_id, events in known[workspace_id] if event in events]


# -- managing webhooks (`okrbot webhook …`)


async def add_webhook(
    *, database: Database, workspace_id: str, url: str, events: tuple[str, ...]
) -> AddedWebhook:
    """A new webhook for the workspace, with a fresh secret returned here once."""
    check_url(url)
    secret = secrets.token_hex(32)
    row = Webhook(workspace_id=workspace_id, url=url, events=list(events), secret=secret)

    async def store(session: AsyncSession) -> int:
        if await session.get(Workspace, workspace_id) is None:
            raise NotFound(what=f"workspace {workspace_id}")
        session.add(row)
        await session.flush()
        return row.id or 0

    try:
        webhook_id = await database.transact(store)
    except IntegrityError:
        raise InvalidInput(N_("A webhook to {url} already exists."), url=url) from None
    return AddedWebhook(webhook_id, url, events, secret)


async def list_webhooks(*, database: Database, workspace_id: str) -> list[WebhookInfo]:
    """The workspace's webhooks, with how many deliveries wait, arrived and were given up."""
    async with database.read() as session:
        hooks = (
            await session.exec(
                select(Webhook).where(Webhook.workspace_id == workspace_id).order_by(Webhook.id)
            )
        ).all()
        counts = await _counts(session, [hook.id or 0 for hook in hooks])
    return [
        WebhookInfo(
            hook.id or 0,
            hook.url,
            tuple(hook.events),
            hook.created_at,
            *counts.get(hook.id or 0, (0, 0, 0)),
        )
        for hook in hooks
    ]


async def _counts(session: AsyncSession, ids: list[int]) -> dict[int, tuple[int, int, int]]:
    query = (
        select(
            WebhookDelivery.webhook_id,
            func.count(col(WebhookDelivery.next_attempt_at)),
            func.count(col(WebhookDelivery.delivered_at)),
            func.count(col(WebhookDelivery.failed_at)),
        )
        .where(col(WebhookDelivery.webhook_id).in_(ids))
        .group_by(col(WebhookDelivery.webhook_id))
    )
    return {row[0]: (row[1], row[2], row[3]) for row in (await session.exec(query)).all()}


async def remove_webhook(*, database: Database, workspace_id: str, ref: str) -> str:
    """Remove the webhook `ref` names (its id or URL) and drop its deliveries; its URL."""

    async def remove(session: AsyncSession) -> str:
        # Locked first: a unit queueing an event for it commits before its deliveries go.
        query = select(Webhook).where(Webhook.workspace_id == workspace_id).with_for_update()
        match = Webhook.id == int(ref) if ref.isdigit() else Webhook.url == ref
        hook = (await session.exec(query.where(match))).first()
        if hook is None:
            raise NotFound(what=f"a webhook {ref}")
        await session.exec(
            delete(WebhookDelivery).where(col(WebhookDelivery.webhook_id) == hook.id)
        )  # type: ignore[call-overload]
        await session.delete(hook)
        return hook.url

    return await database.transact(remove)


# -- the sender's claims


async def claim_due(
    *, database: Database, now: dt.datetime, limit: int, lease: dt.timedelta
) -> list[Due]:
    """Claim up to `limit` due deliveries for `lease`; each row goes to one claimer only."""
    async with database.read() as session:
        query = (
            select(WebhookDelivery.id)
            .where(col(WebhookDelivery.next_attempt_at) <= now, _unclaimed(now))
            .order_by(col(WebhookDelivery.next_attempt_at))
            .limit(limit)
        )
        candidates = list((await session.exec(query)).all())
    if not candidates:
        return []  # the usual case: nothing due, and no write unit is needed

    async def claim(session: AsyncSession) -> list[Due]:
        won = [row_id for row_id in candidates if await _claim_one(session, row_id, now, lease)]
        return await _load_due(session, won)

    return await database.transact(claim)


def _unclaimed(now: dt.datetime) -> Any:
    return or_(
        col(WebhookDelivery.claimed_until).is_(None), col(WebhookDelivery.claimed_until) < now
    )


async def _claim_one(
    session: AsyncSession, row_id: int | None, now: dt.datetime, lease: dt.timedelta
) -> bool:
    statement = (
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.id) == row_id,
            col(WebhookDelivery.next_attempt_at).is_not(None),
            _unclaimed(now),
        )
        .values(claimed_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    return (await session.exec(statement)).rowcount == 1  # type: ignore[call-overload, attr-defined]


async def _load_due(session: AsyncSession, ids: Iterable[int | None]) -> list[Due]:
    query = (
        select(WebhookDelivery, Webhook.url, Webhook.secret)
        .join(Webhook, col(Webhook.id) == WebhookDelivery.webhook_id)
        .where(col(WebhookDelivery.id).in_(list(ids)))
        .order_by(col(WebhookDelivery.id))
    )
    return [
        Due(
            row.id or 0,
            row.delivery_id,
            row.event,
            url,
            secret,
            encode(row.payload),
            row.attempts,
            row.created_at,
        )
        for row, url, secret in (await session.exec(query)).all()
    ]


async def mark_delivered(*, database: Database, due: Due, now: dt.datetime) -> None:
    """The receiver accepted the delivery: it is never sent again."""
    await _finish(database, due, delivered_at=now, next_attempt_at=None, attempts=due.attempts + 1)


async def mark_failed(
    *, database: Database, due: Due, now: dt.datetime, error: str, first: dt.timedelta
) -> dt.datetime | None:
    """The attempt failed: schedule the next one with backoff, or give up after 24 h. When
    the next attempt is due, or None when given up."""
    attempts = due.attempts + 1
    retry = next_attempt(created_at=due.created_at, attempts=attempts, now=now, first=first)
    await _finish(
        database,
        due,
        next_attempt_at=retry,
        failed_at=None if retry else now,
        attempts=attempts,
        last_error=error[:200],
    )
    return retry


async def _finish(database: Database, due: Due, **values: Any) -> None:
    async def record(session: AsyncSession) -> None:
        await session.exec(
            update(WebhookDelivery)  # type: ignore[call-overload]
            .where(col(WebhookDelivery.id) == due.id)
            .values(claimed_until=None, **values)
            .execution_options(synchronize_session=False)
        )

    await database.transact(record)


async def prune(*, database: Database, now: dt.datetime) -> int:
    """Delete deliveries settled more than KEEP ago (the outbox stays small); how many."""

    async def drop(session: AsyncSession) -> int:
        statement = delete(WebhookDelivery).where(
            col(WebhookDelivery.next_attempt_at).is_(None),
            col(WebhookDelivery.claimed_until).is_(None),
            col(WebhookDelivery.created_at) < now - KEEP,
        )
        return (await session.exec(statement)).rowcount  # type: ignore[call-overload, attr-defined]

    return await database.transact(drop)
