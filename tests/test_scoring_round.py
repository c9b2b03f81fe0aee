"""The scoring DM (SPEC §8, issue #9 item 5) on both databases, through the stand-in and the
real HTTP edge: one DM per KR owner when a cycle enters scoring, in the owner's language;
exactly once across a second run, a restart, two replicas at once, and a sender that died
after its DM reached Slack; replies read as scores in English and Indonesian (`1: 0.7 -
launched late`, `80%`, `sesuai saran`), a check-in reply still read as one, a Slack retry
recording nothing twice."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlmodel import select

from bot.sandbox import Sandbox, sandbox
from bot.seed import load_seed
from bot.services.container import Services
from bot.standin.server import Call
from scheduler.scoring_jobs import SCORING_EVENT, send_scoring
from storage.db import Database
from storage.models import ScoringPrompt
from tests.test_app_http import text_of
from tests.test_closing import NOW, box, kr

__all__ = ["box"]  # the sandbox fixture, shared with the closing tests

OWNERS = {"U0ALICE", "U0BOB", "U0DEWI", "U0EVAN", "U0GITA"}


def scoring_dms(box: Sandbox) -> list[Call]:
    return [
        call
        for call in box.standin.calls_to("chat.postMessage")
        if (call.params.get("metadata") or {}).get("event_type") == SCORING_EVENT
    ]


def dm_to(box: Sandbox, user_id: str) -> Call:
    (call,) = [dm for dm in scoring_dms(box) if dm.params["channel"] == user_id]
    return call


async def claims(database: Database) -> list[ScoringPrompt]:
    async with database.read() as session:
        return list((await session.exec(select(ScoringPrompt))).all())


async def answer_to(box: Sandbox, user_id: str, text: str, **kwargs: object) -> str:
    """A DM from `user_id`, and the text of the bot's answer in its thread."""
    sent = await box.sender.message_im(user_id, text, **kwargs)
    assert sent.status == 200
    ts = sent.payload["event"]["ts"]
    (call,) = await box.standin.wait_for(
        "chat.postMessage", where=lambda c: c.params.get("thread_ts") == ts
    )
    return text_of(call)


async def test_each_owner_gets_one_dm_in_their_language(box: Sandbox) -> None:
    assert await send_scoring(box.services, box.client) == 5
    assert {dm.params["channel"] for dm in scoring_dms(box)} == OWNERS
    alice = text_of(dm_to(box, "U0ALICE"))
    assert "Time to score 2026-Q4" in alice
    assert "*1.* `KR-1` Increase NPS from 70 to 80 — 40%, suggested score 0.4" in alice
    assert "`1: 0.7 - launched late`" in alice
    bob = text_of(dm_to(box, "U0BOB"))  # Bob reads Slack in Bahasa Indonesia
    assert "Saatnya memberi nilai 2026-Q4" in bob
    assert "`KR-2` Reduce average reply time from 6 h to 4 h — 40%, saran nilai 0,4" in bob
    assert all(c.state == "sent" and c.message_ts for c in await claims(box.database))
    # The next minute's run sends nothing more.
    assert await send_scoring(box.services, box.client) == 0
    assert len(scoring_dms(box)) == 5


async def test_no_dm_before_the_scoring_days(db_url: str) -> None:
    early = NOW - dt.timedelta(days=4)  # Dec 24: 2026-Q4 scores from Dec 25 (7 days)
    async with sandbox(db_url, clock=lambda: early, migrate=False) as early_box:
        await load_seed(early_box)
        assert await send_scoring(early_box.services, early_box.client) == 0
        assert scoring_dms(early_box) == [] and await claims(early_box.database) == []


async def test_once_per_owner_across_a_restart(box: Sandbox, db_url: str) -> None:
    assert await send_scoring(box.services, box.client) == 5
    # The process restarts: a new app and scheduler on the same database.
    async with sandbox(db_url, clock=lambda: NOW, migrate=False) as restarted:
        assert await send_scoring(restarted.services, restarted.client) == 0
        assert scoring_dms(restarted) == []
    assert len(await claims(box.database)) == 5


async def test_two_replicas_at_once_send_each_dm_once(box: Sandbox, db_url: str) -> None:
    other = Services(
        settings=box.services.settings, database=Database.connect(db_url), clock=lambda: NOW
    )
    try:
        sent = await asyncio.gather(
            send_scoring(box.services, box.client), send_scoring(other, box.client)
        )
    finally:
        await other.close()
    assert sum(sent) == 5
    assert sorted(dm.params["channel"] for dm in scoring_dms(box)) == sorted(OWNERS)


async def test_a_dead_senders_dm_is_found_not_sent_again(box: Sandbox) -> None:
    await send_scoring(box.services, box.client)
    first = dm_to(box, "U0ALICE")
    # Alice's sender died after Slack took the DM but before recording it; its lease ran out.
    async with box.database.session() as session:
        claim = (
            await session.exec(select(ScoringPrompt).where(ScoringPrompt.user_id == "U0ALICE"))
        ).one()
        claim.state, claim.sent_at, claim.message_ts = "claimed", None, None
        claim.renewed_at = NOW - dt.timedelta(minutes=1)  # first claimed before the send
        session.add(claim)
    assert await send_scoring(box.services, box.client) == 1
    assert len(scoring_dms(box)) == 5  # looked for in the DM, found: not sent again
    (again,) = [c for c in await claims(box.database) if c.user_id == "U0ALICE"]
    assert again.state == "sent" and again.message_ts == first.response["ts"]


async def test_replies_are_read_as_scores_in_english_and_indonesian(box: Sandbox) -> None:
    await send_scoring(box.services, box.client)
    english = await answer_to(box, "U0ALICE", "1: 0.7 - launched late")
    assert "Scores recorded for 2026-Q4:" in english
    assert "`KR-1` Increase NPS from 70 to 80: *0.7* — launched late" in english
    indonesian = await answer_to(box, "U0BOB", "sesuai saran")
    assert "Nilai dicatat untuk 2026-Q4:" in indonesian and "*0,4*" in indonesian
    assert "`KR-3`" in await answer_to(box, "U0DEWI", "1: 80% - upsell telat")
    nps, reply_time, clv = [await kr(box.database, n) for n in (1, 2, 3)]
    assert (nps.score, nps.score_note, nps.score_suggested) == (0.7, "launched late", False)
    assert (reply_time.score, reply_time.score_note) == (0.4, None)
    assert (clv.score, clv.score_note) == (0.8, "upsell telat")
    # Once answered, a plain DM is a check-in reply again; in the scoring DM's thread it is a
    # score.
    thread = dm_to(box, "U0ALICE").response["ts"]
    rescored = await answer_to(box, "U0ALICE", "1: 0.75", thread_ts=thread)
    assert "*0.75*" in rescored and (await kr(box.database, 1)).score == 0.75
    checkin = await answer_to(box, "U0ALICE", "1: 77")
    assert "Scores recorded" not in checkin and (await kr(box.database, 1)).current == 77


async def test_a_value_that_is_no_score_is_a_check_in_reply(box: Sandbox) -> None:
    await send_scoring(box.services, box.client)
    answer = await answer_to(box, "U0EVAN", "1: 9.8")  # no score: a conversion of 9.8 %
    assert "Scores recorded" not in answer
    trial = await kr(box.database, 4)
    assert (trial.current, trial.score) == (9.8, None)


async def test_a_slack_retry_records_nothing_twice(box: Sandbox) -> None:
    await send_scoring(box.services, box.client)
    first = await box.sender.message_im("U0GITA", "1: 0.3", event_id="EvSCORE")
    ts = first.payload["event"]["ts"]
    await box.standin.wait_for("chat.postMessage", where=lambda c: c.params.get("thread_ts") == ts)
    retry = await box.sender.message_im("U0GITA", "1: 0.3", ts=ts, event_id="EvSCORE", retry_num=1)
    assert retry.status == 200
    await box.sender.url_verification("flush")
    answers = [
        c for c in box.standin.calls_to("chat.postMessage") if c.params.get("thread_ts") == ts
    ]
    assert len(answers) == 1 and (await kr(box.database, 5)).score == 0.3
