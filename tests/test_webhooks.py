"""Signed webhooks (SPEC §9) through the edges that cause their events: `/okr update` over the
signed Slack endpoint, an API push, a digest, a round closing. A local receiver answers 500
a few times, then 200; the sender runs as `okrbot run` runs it. Both databases."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
from collections.abc import AsyncIterator

import aiohttp
import pytest
from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.sandbox import Sandbox, sandbox
from bot.seed import load_seed
from bot.services import webhooks
from bot.services.container import Services
from bot.services.tokens import create_token
from bot.services.webhooks import EVENTS, add_webhook, list_webhooks, remove_webhook
from scheduler import jobs
from scheduler.digest_jobs import send_round_digest
from scheduler.webhooks import WebhookSender
from storage.db import Database
from storage.models import CheckinRound, Team, WebhookDelivery, utcnow
from tests.support.clock import Clock
from tests.support.receiver import Receiver, receiver, verify
from tests.support.statements import statements

WS = "T0DEMO"
# Monday 16 November 2026, 10:00:30 in Jakarta: the Customer Success check-in slot.
FAST = {
    "okrbot_webhook_poll": 0.05,
    "okrbot_webhook_first_retry": 0.05,
    "okrbot_webhook_timeout": 2.0,
}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def box(db_url: str, clock: Clock) -> AsyncIterator[Sandbox]:
    async with sandbox(db_url, clock=clock, migrate=False, overrides=FAST) as box:
        await load_seed(box)
        yield box


@pytest.fixture
async def hooks() -> AsyncIterator[Receiver]:
    async with receiver() as found:
        yield found


@pytest.fixture
async def sender(box: Sandbox) -> AsyncIterator[WebhookSender]:
    running = WebhookSender(box.services)
    running.start()
    try:
        yield running
    finally:
        await running.stop()


async def subscribe(box: Sandbox, hooks: Receiver, events: str = ",".join(EVENTS), path="/hook"):
    return await add_webhook(
        database=box.database,
        workspace_id=WS,
        url=hooks.url(path),
        events=webhooks.parse_events(events),
    )


async def deliveries(database: Database) -> list[WebhookDelivery]:
    async with database.read() as session:
        query = select(WebhookDelivery).order_by(col(WebhookDelivery.id))
        return list((await session.exec(query)).all())


async def settled(database: Database) -> list[WebhookDelivery]:
    """The deliveries once none is claimed (or after 10 s): the sender records an outcome just
    after the receiver answered, so a test that saw the answer may be a moment ahead of it."""
    for _ in range(200):
        rows = await deliveries(database)
        if all(row.claimed_until is None for row in rows):
            break
        await asyncio.sleep(0.05)
    return rows


def of(hooks: Receiver, event: str) -> list[dict]:
    return [r.json for r in hooks.accepted if r.json["event"] == event]


async def test_an_okr_update_is_retried_until_accepted_and_every_attempt_is_signed(
    box: Sandbox, hooks: Receiver, sender: WebhookSender
) -> None:
    added = await subscribe(box, hooks)
    hooks.refuse = 3
    answer = await box.command("/okr", "update KR-1 75 survey is in", user_id="U0ALICE")
    assert "75" in str(answer.params)

    (accepted,) = await hooks.wait_accepted(1)
    attempts = hooks.got
    assert [r.status for r in attempts] == [500, 500, 500, 200]
    assert {r.delivery for r in attempts} == {accepted.delivery}  # one id: repeats droppable
    assert {r.body for r in attempts} == {accepted.body}
    assert all(verify(added.secret, r.headers, r.body) for r in attempts)
    assert not verify("another secret", accepted.headers, accepted.body)
    assert accepted.headers["X-Okrbot-Event"] == "kr.updated"
    event = accepted.json
    assert (event["id"], event["event"], event["workspace_id"]) == (
        accepted.delivery,
        "kr.updated",
        WS,
    )
    assert event["data"] == {
        "kr": "KR-1",
        "title": "Increase NPS from 70 to 80",
        "old_value": 74.0,
        "new_value": 75.0,
        "target": 80.0,
        "unit": "points",
        "confidence": None,
        "status": None,
        "note": "survey is in",
        "author": "U0ALICE",
        "source": "command",
    }
    (row,) = await settled(box.database)
    assert (row.attempts, row.next_attempt_at, row.claimed_until) == (4, None, None)
    assert row.delivered_at is not None and row.last_error == "HTTP 500"


async def test_a_refused_update_queues_nothing(
    box: Sandbox, hooks: Receiver, sender: WebhookSender
) -> None:
    await subscribe(box, hooks)
    answer = await box.command("/okr", "update KR-1 75", user_id="U0EVAN")  # not Alice's KR's
    assert "Only the owner of KR-1" in str(answer.params)
    assert await deliveries(box.database) == []


async def test_an_api_push_sends_the_linked_krs_update_and_one_kpi_alert(
    box: Sandbox, hooks: Receiver, sender: WebhookSender
) -> None:
    await subscribe(box, hooks, "kr.updated,kpi.alert", path="/all")
    await subscribe(box, hooks, "kpi.alert", path="/alerts")
    issued = await create_token(
        database=box.database, workspace_id=WS, name="helpdesk", scopes=("kpis:write",)
    )
    headers = {"Authorization": f"Bearer {issued.token}"}
    body = {"value": 69, "period": "2026-11"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{box.url}/api/v1/kpis/Net promoter score/measurements", json=body, headers=headers
        ) as response,
    ):
        assert response.status == 200, await response.text()

    await hooks.wait_accepted(3)
    await asyncio.sleep(0.3)  # nothing more comes
    assert sorted((r.path, r.json["event"]) for r in hooks.accepted) == [
        ("/alerts", "kpi.alert"),
        ("/all", "kpi.alert"),
        ("/all", "kr.updated"),
    ]
    (alert, _) = of(hooks, "kpi.alert")
    assert alert["data"] == {
        "kpi": "Net promoter score",
        "team": "Customer Success",
        "before": "warn",
        "after": "off",
        "value": 69.0,
        "period": "2026-11",
        "target": 75.0,
        "warn": 70.0,
        "unit": "points",
    }
    (kr,) = of(hooks, "kr.updated")
    assert (kr["data"]["kr"], kr["data"]["new_value"], kr["data"]["source"]) == ("KR-1", 69, "kpi")
    assert len({r.delivery for r in hooks.accepted}) == 3


async def team_id(database: Database, name: str) -> int:
    async with database.read() as session:
        return (await session.exec(select(Team.id).where(Team.name == name))).one()


async def test_a_round_closing_and_its_digest_are_sent(
    box: Sandbox, hooks: Receiver, clock: Clock, sender: WebhookSender
) -> None:
    await subscribe(box, hooks, "round.closed,digest.sent")
    team = await team_id(box.database, "Customer Success")
    await jobs.checkin(box.services, box.client, team)
    answer = await box.sender.message_im("U0ALICE", "1: 76")
    assert answer.status == 200
    await box.standin.wait_for("chat.postMessage", where=lambda c: c.params.get("thread_ts"))
    clock.now += dt.timedelta(hours=25)
    await jobs.checkin(box.services, box.client, team)  # the sweep closes the round
    async with box.database.read() as session:
        (round_,) = (await session.exec(select(CheckinRound))).all()
    assert round_.closed_at == clock.now
    await send_round_digest(box.services, box.client, round_.id or 0)

    # The round closed once; its digest went to the manager and to the channel.
    await hooks.wait_accepted(3)
    (closed,) = of(hooks, "round.closed")
    assert closed["data"] == {
        "round_id": round_.id,
        "team": "Customer Success",
        "scheduled_for": round_.scheduled_for.isoformat(),
        "closed_at": clock.now.isoformat(),
        "prompted": 2,
        "answered": 1,
    }
    sent = sorted(of(hooks, "digest.sent"), key=lambda e: e["data"]["recipient"])
    assert [(e["data"]["recipient"], e["data"]["period"]) for e in sent] == [
        ("C0CS", f"round:{round_.id}"),
        ("U0MANAGER", f"round:{round_.id}"),
    ]
    assert all(e["data"]["message_ts"] and e["data"]["team"] == "Customer Success" for e in sent)
    await send_round_digest(box.services, box.client, round_.id or 0)  # sends nothing twice
    await asyncio.sleep(0.3)
    assert len(hooks.accepted) == 3


async def test_events_nobody_subscribed_to_are_not_queued(
    box: Sandbox, hooks: Receiver, sender: WebhookSender
) -> None:
    await subscribe(box, hooks, "round.closed")
    await box.command("/okr", "update KR-1 75", user_id="U0ALICE")
    assert await deliveries(box.database) == []


async def test_delivering_never_holds_up_slack_requests(
    box: Sandbox, hooks: Receiver, sender: WebhookSender
) -> None:
    """The receiver holds its first request open; commands are answered meanwhile."""
    await subscribe(box, hooks, "kr.updated")
    hooks.hold = asyncio.Event()
    await box.command("/okr", "update KR-1 75", user_id="U0ALICE")
    await asyncio.wait_for(hooks.arrived.wait(), 10)
    answer = await box.command("/okr", "update KR-1 76", user_id="U0ALICE")
    assert "76" in str(answer.params)
    assert hooks.got == []  # the first post is still waiting for its answer
    hooks.hold.set()
    accepted = await hooks.wait_accepted(2)
    assert sorted(r.json["data"]["new_value"] for r in accepted) == [75, 76]


async def test_two_replicas_post_each_delivery_once(
    box: Sandbox, hooks: Receiver, db_url: str
) -> None:
    await subscribe(box, hooks, "kr.updated")
    for value in range(20):
        await box.command("/okr", f"update KR-1 {value}", user_id="U0ALICE")
    replicas = []
    for _ in range(2):
        database = Database.connect(db_url)
        running = WebhookSender(Services(settings=box.services.settings, database=database))
        running.start()
        replicas.append((running, database))
    try:
        accepted = await hooks.wait_accepted(20)
        await asyncio.sleep(0.3)
    finally:
        for running, database in replicas:
            await running.stop()
            await database.dispose()
    assert len(hooks.got) == 20 and len({r.delivery for r in accepted}) == 20
    assert sorted(r.json["data"]["new_value"] for r in accepted) == list(range(20))


async def test_a_delivery_is_given_up_24_hours_after_its_event(
    box: Sandbox, hooks: Receiver, sender: WebhookSender
) -> None:
    await subscribe(box, hooks, "kr.updated")
    hooks.always_refuse = True
    async with box.database.session() as session:
        await webhooks.record_event(session, workspace_id=WS, event="kr.updated", data={"x": 1})
    async with box.database.session() as session:
        await session.exec(
            update(WebhookDelivery).values(created_at=utcnow() - dt.timedelta(hours=24))  # type: ignore[call-overload]
        )
    for _ in range(200):
        (row,) = await deliveries(box.database)
        if row.failed_at is not None:
            break
        await asyncio.sleep(0.02)
    assert row.failed_at is not None and row.next_attempt_at is None
    assert (row.attempts, row.last_error) == (1, "HTTP 500")
    await asyncio.sleep(0.3)
    assert len(hooks.got) == 1
    (info,) = await list_webhooks(database=box.database, workspace_id=WS)
    assert (info.pending, info.delivered, info.failed) == (0, 0, 1)


async def test_removing_a_webhook_drops_what_it_had_pending(box: Sandbox, hooks: Receiver) -> None:
    added = await subscribe(box, hooks, "kr.updated")
    await box.command("/okr", "update KR-1 75", user_id="U0ALICE")
    (info,) = await list_webhooks(database=box.database, workspace_id=WS)
    assert (info.id, info.url, info.events, info.pending) == (
        added.id,
        hooks.url(),
        ("kr.updated",),
        1,
    )
    assert await remove_webhook(database=box.database, workspace_id=WS, ref=str(added.id)) == (
        hooks.url()
    )
    assert await deliveries(box.database) == []
    assert await list_webhooks(database=box.database, workspace_id=WS) == []


async def test_removing_a_webhook_while_a_change_queues_its_event_fails_neither(
    box: Sandbox, hooks: Receiver
) -> None:
    added = await subscribe(box, hooks, "kr.updated")
    queued, release = asyncio.Event(), asyncio.Event()

    async def change(session: AsyncSession) -> None:
        await webhooks.record_event(session, workspace_id=WS, event="kr.updated", data={"x": 1})
        queued.set()
        await release.wait()  # the change's unit is still open when the removal starts

    changing = asyncio.create_task(box.database.transact(change))
    await queued.wait()
    removing = asyncio.create_task(
        remove_webhook(database=box.database, workspace_id=WS, ref=added.url)
    )
    await asyncio.sleep(0.2)
    assert not removing.done()  # it waits for the change to commit
    release.set()
    await changing
    assert await removing == added.url
    assert await deliveries(box.database) == []  # the queued event went with its webhook


async def test_a_workspace_without_webhooks_spares_its_updates_the_subscriber_read(
    box: Sandbox, hooks: Receiver
) -> None:
    """The KR's own statement says whether the workspace has webhooks: none, and the update
    reads no webhook rows; one added, and the next update queues its event."""
    with statements(box.database) as seen:
        await box.command("/okr", "update KR-1 75", user_id="U0ALICE")
    assert any("UPDATE keyresult" in statement for statement in seen)
    assert not any(statement.startswith("SELECT webhook.") for statement in seen)
    await subscribe(box, hooks, "kr.updated")
    await box.command("/okr", "update KR-1 76", user_id="U0ALICE")
    (queued,) = await deliveries(box.database)
    assert queued.payload["data"]["new_value"] == 76


async def test_settled_deliveries_are_kept_a_week(box: Sandbox, hooks: Receiver) -> None:
    await subscribe(box, hooks, "kr.updated")
    for _ in range(3):
        async with box.database.session() as session:
            await webhooks.record_event(session, workspace_id=WS, event="kr.updated", data={})
    old = utcnow() - dt.timedelta(days=8)
    first, second, third = [row.id for row in await deliveries(box.database)]
    async with box.database.session() as session:
        settled = {"next_attempt_at": None, "delivered_at": old}
        for row_id, values in ((first, settled), (second, {}), (third, settled)):
            created = old if row_id != third else utcnow()
            await session.exec(
                update(WebhookDelivery)  # type: ignore[call-overload]
                .where(col(WebhookDelivery.id) == row_id)
                .values(created_at=created, **values)
            )
    running = WebhookSender(box.services)
    running.start()
    try:
        for _ in range(200):
            if len(await deliveries(box.database)) == 2:
                break
            await asyncio.sleep(0.02)
    finally:
        await running.stop()
    # The old settled one went; an old pending one (sent now) and a recent one stay.
    assert [row.id for row in await deliveries(box.database)] == [second, third]


async def test_the_same_url_twice_is_refused_and_stores_nothing(
    box: Sandbox, hooks: Receiver
) -> None:
    await subscribe(box, hooks, "kr.updated")
    with pytest.raises(webhooks.InvalidInput, match="already exists"):
        await subscribe(box, hooks, "kpi.alert")
    (info,) = await list_webhooks(database=box.database, workspace_id=WS)
    assert info.events == ("kr.updated",)


# -- pure parts


def test_signature_is_hmac_sha256_of_version_timestamp_and_body() -> None:
    body = b'{"event":"kr.updated"}'
    signature = webhooks.sign("s3cret", 1764470000, body)
    expected = hmac.new(b"s3cret", b'v1:1764470000:{"event":"kr.updated"}', hashlib.sha256)
    assert signature == "v1=" + expected.hexdigest()
    headers = {"X-Okrbot-Timestamp": "1764470000", "X-Okrbot-Signature": signature}
    ever = 10**10
    assert verify("s3cret", headers, body, tolerance=ever)
    assert not verify("s3cret", headers, body)  # a year old: a replay
    assert not verify("s3cret", {**headers, "X-Okrbot-Timestamp": "1764470001"}, body, ever)
    assert not verify("s3cret", headers, body + b" ", tolerance=ever)


def test_backoff_doubles_to_an_hour_and_stops_after_a_day() -> None:
    created = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
    first = dt.timedelta(seconds=10)
    now = created
    delays = []
    for attempts in range(1, 40):
        due = webhooks.next_attempt(created_at=created, attempts=attempts, now=now, first=first)
        if due is None:
            break
        delays.append((due - now).total_seconds())
        now = due
    assert delays[:4] == [10, 20, 40, 80]
    assert max(delays) == 3600 and delays[-1] == 3600
    assert dt.timedelta(hours=23) < now - created <= dt.timedelta(hours=24)
    assert 25 < len(delays) < 35


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ("kr.updated,kr.deleted", "not kr.deleted"),
        ("", "not none"),
    ],
)
def test_unknown_events_are_refused(events: str, message: str) -> None:
    with pytest.raises(webhooks.InvalidInput, match=message):
        webhooks.parse_events(events)


@pytest.mark.parametrize("url", ["ftp://example.com/x", "example.com/hook", "https://"])
def test_a_webhook_needs_an_http_url(url: str) -> None:
    with pytest.raises(webhooks.InvalidInput, match="http"):
        webhooks.check_url(url)
