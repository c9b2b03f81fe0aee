"""The people cache: Slack's member directory read with `users.list` once a day (not one
`users.info` per prompt), kept fresh by `user_change`/`team_join` events sent as signed HTTP to
the real app; and rounds taken over by the `take_over` job when their sender stops beating."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable

import pytest
from sqlmodel import delete, select

from bot.sandbox import Sandbox, sandbox
from bot.seed import load_seed
from bot.services import checkins
from bot.services.container import Services
from bot.slackclient import make_client
from scheduler import directory, jobs
from storage.models import CheckinPrompt, Person, Team
from tests.support.clock import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def box(db_url: str, clock: Clock) -> AsyncIterator[Sandbox]:
    async with sandbox(db_url, clock=clock, migrate=False) as box:
        await load_seed(box)
        yield box


async def team_id(box: Sandbox, name: str = "Customer Success") -> int:
    async with box.database.session() as session:
        return (await session.exec(select(Team.id).where(Team.name == name))).one()


async def person(box: Sandbox, user_id: str) -> Person:
    async with box.database.session() as session:
        return (await session.exec(select(Person).where(Person.user_id == user_id))).one()


async def stored(box: Sandbox, user_id: str, done: Callable[[Person], bool]) -> Person:
    """A person's row once `done` holds for it (or as it is after two seconds)."""
    for _ in range(200):
        async with box.database.session() as session:
            query = select(Person).where(Person.user_id == user_id)
            found = (await session.exec(query)).first()
        if found is not None and done(found):
            return found
        await asyncio.sleep(0.01)
    raise AssertionError(f"{user_id}: never stored as expected, last {found!r}")


async def read_directory(box: Sandbox) -> None:
    """What the sweep starts in the background, awaited."""
    refresh = await directory.refresh_people(box.services, box.client, "T0DEMO")
    if refresh is not None:
        await refresh


async def test_the_directory_fills_the_cache_from_pages_of_users_list(box: Sandbox) -> None:
    for n in range(450):
        box.standin.add_user(f"U1{n:05d}", name=f"m{n}", tz="Asia/Jakarta", locale="id-ID")
    box.standin.add_user("U100007", name="left", deleted=True)
    await read_directory(box)
    calls = box.standin.calls_to("users.list")
    assert [c.params["limit"] for c in calls] == ["200", "200", "200"]
    assert all(c.params["include_locale"] in ("1", "true", True) for c in calls)
    found = await person(box, "U100449")
    assert (found.locale, found.timezone, found.name) == ("id", "Asia/Jakarta", "m449")
    assert (await person(box, "U100007")).deactivated
    async with box.database.session() as session:
        bots = (await session.exec(select(Person).where(Person.user_id == "U0OKRBOT"))).all()
    assert bots == []  # bots are never prompted, so never kept


async def test_the_directory_is_read_once_a_day_and_once_across_replicas(
    box: Sandbox, clock: Clock
) -> None:
    team = await team_id(box)
    other_replica = Services(settings=box.services.settings, database=box.database, clock=clock)
    other_client = make_client(box.services.settings)
    await read_directory(box)
    assert await directory.refresh_people(other_replica, other_client, "T0DEMO") is None
    await jobs.checkin(box.services, box.client, team)
    clock.now += dt.timedelta(hours=23)
    await jobs.checkin(other_replica, other_client, team)
    assert len(box.standin.calls_to("users.list")) == 1
    clock.now += dt.timedelta(hours=2)
    await jobs.checkin(other_replica, other_client, team)
    await directory.settle(other_replica, other_client, "T0DEMO")  # the read it started
    assert len(box.standin.calls_to("users.list")) == 2


async def test_a_failed_read_is_tried_again_by_the_next_sweep(box: Sandbox) -> None:
    box.standin.fail("users.list", error="internal_error")
    await read_directory(box)
    assert (await person(box, "U0BOB")).locale is None  # nothing read
    await read_directory(box)
    assert (await person(box, "U0BOB")).locale == "id"


async def test_a_member_the_directory_does_not_hold_is_asked_of_users_info(box: Sandbox) -> None:
    await read_directory(box)
    async with box.database.session() as session:  # as if Bob joined after the read
        await session.exec(delete(Person).where(Person.user_id == "U0BOB"))
    team = await team_id(box)
    await jobs.checkin(box.services, box.client, team)
    (asked,) = box.standin.calls_to("users.info")
    assert asked.params["user"] == "U0BOB"
    prompts = [
        c for c in box.standin.calls_to("chat.postMessage") if c.params["channel"] == "U0BOB"
    ]
    assert "Pengingat" not in prompts[0].params["text"] and "Check-in" in prompts[0].params["text"]
    assert (await person(box, "U0BOB")).locale == "id"


async def test_member_timezones_come_from_the_directory(box: Sandbox, clock: Clock) -> None:
    clock.now = dt.datetime(2026, 11, 16, 2, 0, 30, tzinfo=dt.UTC)  # 09:00 in Jakarta
    await jobs.checkin(box.services, box.client, await team_id(box, "Sales"))
    assert [c.params["channel"] for c in box.standin.calls_to("chat.postMessage")] == ["U0DEWI"]
    assert box.standin.calls_to("users.info") == []
    assert (await person(box, "U0EVAN")).timezone == "America/New_York"


def slack_user(user_id: str, **fields: object) -> dict:
    return {
        "id": user_id,
        "team_id": "T0DEMO",
        "name": "alice",
        "real_name": "Alice Wong",
        "deleted": False,
        "tz": "Asia/Singapore",
        "is_bot": False,
        "profile": {"real_name": "Alice Wong", "email": "alice@example.com"},
        **fields,
    }


async def test_user_change_events_keep_the_cache_fresh(box: Sandbox) -> None:
    await read_directory(box)
    moved = slack_user("U0ALICE", tz="Europe/Berlin", locale="id-ID")
    answer = await box.sender.event({"type": "user_change", "user": moved, "event_ts": "1.2"})
    assert answer.status == 200
    left = slack_user("U0BOB", name="bob", deleted=True)
    assert (await box.sender.event({"type": "user_change", "user": left})).status == 200
    joined = slack_user("U0NEW", name="nina", real_name="Nina", tz="Asia/Jakarta")
    assert (await box.sender.event({"type": "team_join", "user": joined})).status == 200
    # Listeners run after the ack: wait for what they store.
    alice = await stored(box, "U0ALICE", lambda p: p.timezone == "Europe/Berlin")
    assert alice.locale == "id"
    assert (await stored(box, "U0BOB", lambda p: p.deactivated)).deactivated
    assert (await stored(box, "U0NEW", lambda p: True)).timezone == "Asia/Jakarta"
    # The round follows: Alice asked in Indonesian, Bob (gone) not at all, and nobody asked
    # Slack about anyone.
    await jobs.checkin(box.services, box.client, await team_id(box))
    (prompt,) = box.standin.calls_to("chat.postMessage")
    assert prompt.params["channel"] == "U0ALICE" and "sekarang" in prompt.params["text"] + str(
        prompt.params.get("blocks")
    )
    assert box.standin.calls_to("users.info") == []


async def test_take_over_resumes_a_round_whose_sender_stopped_beating(
    box: Sandbox, clock: Clock
) -> None:
    team = await team_id(box)
    # A replica opened the round and claimed Alice's prompt, then was killed.
    (work,) = await checkins.due_rounds(
        database=box.database, team_id=team, now=clock(), default_timezone="UTC"
    )
    await checkins.claim_prompt(
        database=box.database,
        round_id=work.round_id,
        user_id="U0ALICE",
        due_at=clock(),
        now=clock(),
    )
    await jobs.take_over(box.services, box.client)
    assert box.standin.calls_to("chat.postMessage") == []  # its lease is not over yet
    clock.now += checkins.LEASE + dt.timedelta(seconds=1)
    await jobs.take_over(box.services, box.client)
    await box.standin.wait_for("chat.postMessage", count=2, timeout=10)
    for _ in range(200):  # the job sends in the background: wait for it to record both
        async with box.database.session() as session:
            states = (await session.exec(select(CheckinPrompt.state))).all()
        if sorted(states) == ["sent", "sent"]:
            break
        await asyncio.sleep(0.01)
    assert sorted(states) == ["sent", "sent"]
    assert sorted(c.params["channel"] for c in box.standin.calls_to("chat.postMessage")) == [
        "U0ALICE",
        "U0BOB",
    ]
    assert len(box.standin.calls_to("conversations.history")) == 1  # Alice's DM, looked at first
    # Finished, the round is no longer anyone's to take over.
    assert await checkins.abandoned_teams(database=box.database, now=clock()) == []
