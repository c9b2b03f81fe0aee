"""The stand-in at Slack's real limits (`real_limits=True`): every method behind its tier,
`chat.postMessage` also per channel; and `users.list`, the directory those limits push a round
to read instead of one `users.info` per member."""

import asyncio
import base64

import aiohttp
import pytest
from slack_sdk import WebClient
from slack_sdk.web.async_client import AsyncWebClient

from bot.standin import SlackStandin, StandinThread
from bot.standin.faults import SLACK_TIERS, TIER_2, TIER_3, TIER_4

TOKEN = "xoxb-test"


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


async def burst(http: aiohttp.ClientSession, url: str, data: dict, count: int) -> list[int]:
    """`count` calls at once; their HTTP statuses, in order of sending."""

    async def call() -> int:
        async with http.post(url, data={"token": TOKEN, **data}) as answer:
            await answer.read()
            return answer.status

    return list(await asyncio.gather(*(call() for _ in range(count))))


def test_every_method_the_standin_serves_has_its_slack_tier() -> None:
    served = set(SlackStandin().workspace.methods()) | {"apps.connections.open"}
    assert served <= set(SLACK_TIERS)
    assert SLACK_TIERS["users.list"] == TIER_2
    assert {SLACK_TIERS[m] for m in ("conversations.open", "conversations.history")} == {TIER_3}
    tier_4 = ("users.info", "users.lookupByEmail", "views.publish", "chat.postEphemeral")
    assert {SLACK_TIERS[m] for m in (*tier_4, "views.open")} == {TIER_4}


@pytest.mark.parametrize(
    ("method", "data", "tier"),
    [
        ("users.list", {"limit": "200"}, TIER_2),
        ("conversations.open", {"users": "U0ANA"}, TIER_3),
        ("conversations.history", {"channel": "D0ANA"}, TIER_3),
        ("users.info", {"user": "U0ANA"}, TIER_4),
    ],
)
async def test_real_limits_answer_429_past_each_tiers_burst(http, method, data, tier) -> None:
    async with SlackStandin(real_limits=True) as standin:
        standin.add_user("U0ANA", name="ana")
        statuses = await burst(http, f"{standin.api_url}{method}", data, tier.burst + 3)
        assert statuses.count(200) == tier.burst and statuses.count(429) == 3
        (first_429,) = [c for c in standin.calls_to(method) if c.status == 429][:1]
        assert first_429.response == {"ok": False, "error": "ratelimited"}


async def test_retry_after_is_the_tiers_refill_time(http) -> None:
    async with SlackStandin(real_limits=True) as standin:
        url = f"{standin.api_url}users.list"
        async with http.post(url, data={"token": TOKEN}) as answer:
            assert answer.status == 200
        async with http.post(url, data={"token": TOKEN}) as answer:
            assert answer.status == 200
        async with http.post(url, data={"token": TOKEN}) as answer:
            assert answer.status == 429
            assert answer.headers["Retry-After"] == "3"  # 20 a minute: one every 3 s


async def test_post_message_is_limited_per_channel_under_the_workspace_cap(http) -> None:
    async with SlackStandin(real_limits=True) as standin:
        standin.add_user("U0ANA", name="ana")
        # A workspace cap of 10 at once, refilled slowly enough that the test never sees a
        # refill (the bench sets its own the same way); the per-channel limit stays.
        standin.rate_limit("chat.postMessage", per_second=0.1, burst=10)
        url = f"{standin.api_url}chat.postMessage"
        # Two at once to one DM (addressed by user id and by DM id alike), then 429.
        to_ana = await burst(http, url, {"channel": "U0ANA", "text": "hi"}, 2)
        to_dm = await burst(http, url, {"channel": "D0ANA", "text": "hi"}, 1)
        assert to_ana + to_dm == [200, 200, 429]
        # Other channels are not held back by it, up to the workspace cap (the refused call
        # to the DM did not use up any of it).
        channels = [f"C{n:04d}" for n in range(12)]
        statuses = [(await burst(http, url, {"channel": c, "text": "hi"}, 1))[0] for c in channels]
        assert statuses == [200] * 8 + [429] * 4


async def test_without_real_limits_nothing_is_limited(http) -> None:
    async with SlackStandin() as standin:
        statuses = await burst(http, f"{standin.api_url}users.list", {}, 30)
        assert set(statuses) == {200}


def test_standin_thread_takes_real_limits_too() -> None:
    with StandinThread(real_limits=True) as running:
        running.standin.add_user("U0ANA", name="ana")
        client = WebClient(token=TOKEN, base_url=running.api_url)
        statuses = []
        for _ in range(TIER_2.burst + 1):
            try:
                statuses.append(client.users_list().status_code)
            except Exception as error:  # noqa: BLE001 - the sync client raises SlackApiError
                statuses.append(error.response.status_code)  # type: ignore[attr-defined]
        assert statuses == [200] * TIER_2.burst + [429]


async def test_users_list_pages_every_member_with_a_cursor() -> None:
    async with SlackStandin() as standin:
        for n in range(5):
            standin.add_user(f"U{n:03d}", name=f"m{n}", tz="Asia/Jakarta", locale="id-ID")
        standin.add_user("U002", name="gone", deleted=True)
        client = AsyncWebClient(token=TOKEN, base_url=standin.api_url)
        pages, cursor = [], None
        while True:
            page = await client.users_list(limit=2, include_locale=True, cursor=cursor)
            pages.append([m["id"] for m in page["members"]])
            cursor = page["response_metadata"]["next_cursor"]
            if not cursor:
                break
        # Bots and deactivated members are listed too, as Slack does.
        assert pages == [["U000", "U001"], ["U002", "U003"], ["U004", "U0OKRBOT"]]
        assert base64.b64decode(page_cursor(standin, 2)).decode() == "user:U002"
        members = {m["id"]: m for m in (await client.users_list())["members"]}
        assert members["U002"]["deleted"] is True and members["U0OKRBOT"]["is_bot"] is True
        assert "locale" not in members["U000"]
        with_locale = (await client.users_list(limit=1, include_locale=True))["members"][0]
        assert (with_locale["locale"], with_locale["tz"]) == ("id-ID", "Asia/Jakarta")


def page_cursor(standin: SlackStandin, limit: int) -> str:
    return standin.workspace.users_list({"limit": limit})["response_metadata"]["next_cursor"]


@pytest.mark.parametrize("cursor", ["not-base64!", base64.b64encode(b"user:U999").decode()])
async def test_users_list_refuses_a_cursor_it_did_not_hand_out(cursor: str) -> None:
    async with SlackStandin() as standin:
        assert standin.workspace.users_list({"cursor": cursor}) == {
            "ok": False,
            "error": "invalid_cursor",
        }
