"""Scheduler jobs, and the Slack side of check-ins: prompts and reminders sent under Slack's
rate limits.

Jobs are plain async functions `job(services, client, team_id)`, idempotent because every send
is claimed in the database first (see `bot.services.checkins`). `checkin` runs on each team's
cron and, as the sweep, every minute: it opens rounds whose slot has come, sends what is due
(members' own timezones, prompts a crashed sender abandoned), reminds once, and closes rounds.

Fan-out pacing: slack_sdk's rate-limit retry handler sleeps `Retry-After` plus up to a second
of jitter on *every* 429, so a round that leans on it spends most of its time asleep. Sends here
go through a `Pacer` instead: one `Pace` per Web API method and workspace client, which spaces
calls evenly, starts at a modest rate and doubles it each second until Slack first answers 429,
then sets the rate from what Slack accepted between two 429s (the bucket is empty at both, so
what got through in between is its refill rate) and creeps up slowly to follow a changing
limit. A 429 still pauses that method for its `Retry-After`. 500s and timeouts are retried by
the client's own handlers.

Taking over an abandoned claim: every prompt carries its prompt id in Slack message metadata,
so before re-sending a claim a crashed sender left behind, `post_prompt` reads the member's DM
since that claim (`conversations.open` for the DM id, then `conversations.history`) and, when
the prompt is already there, only records it. Only take-overs make these two calls.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.blocks.checkin import build_prompt, build_reminder
from bot.i18n import normalize_locale
from bot.services import checkins, people
from bot.services.checkins import LEASE, Delivery, Reminder, RoundWork
from bot.services.container import Services
from scheduler.digest_jobs import send_round_digest

log = logging.getLogger("okrbot.checkin")

FAN_OUT_WORKERS = 8
# 429s one call may meet before it gives up; its claim is then taken up again after the lease.
MAX_LIMITED = 10
START_RATE = 5.0  # calls per second before Slack has said anything about its limit
MAX_RATE = 200.0
# Errors that no retry will cure: the member is gone or cannot be written to.
PERMANENT_ERRORS = frozenset(
    {
        "user_disabled",
        "user_not_found",
        "account_inactive",
        "cannot_dm_bot",
        "channel_not_found",
        "is_archived",
        "messages_tab_disabled",
    }
)
DEACTIVATED_ERRORS = frozenset({"user_disabled", "user_not_found", "account_inactive"})
TRANSIENT = (SlackClientError, aiohttp.ClientError, TimeoutError)
# The message metadata event type that marks a check-in prompt (payload: prompt and round ids).
PROMPT_EVENT = "okrbot_checkin_prompt"
# A take-over reads the DM from this long before the abandoned claim: Slack stamps messages by
# its own clock, which may run a little behind ours.
CLOCK_MARGIN = dt.timedelta(minutes=1)
HISTORY_PAGE = 100  # messages per conversations.history call (Slack's default page)


# -- pacing ----------------------------------------------------------------------------------


@dataclass
class Pace:
    """The pace of one Web API method: evenly spaced calls at `rate` per second, learned from
    429s. Pure bookkeeping on a monotonic clock the caller passes in."""

    rate: float = START_RATE
    ceiling: float = MAX_RATE
    paused_until: float = 0.0
    slow_start: bool = True
    _next: float = 0.0
    _limited_at: float | None = None
    _accepted_since: int = 0
    _recent: deque[float] = field(default_factory=deque)

    # Growth per second: doubling until the first 429, then 0.7 % to follow a rising limit.
    _START_GROWTH = 2.0
    _GROWTH = 1.007

    def reserve(self, now: float) -> float:
        """Take the next free slot; when the caller may send (never before `now`)."""
        start = max(now, self._next, self.paused_until)
        self._next = start + 1 / self.rate
        return start

    def accepted(self, now: float) -> None:
        """A call went through."""
        self._accepted_since += 1
        self._recent.append(now)
        while self._recent[0] < now - 1:
            self._recent.popleft()
        growth = self._START_GROWTH if self.slow_start else self._GROWTH
        self.rate = min(self.ceiling, self.rate * growth ** (1 / self.rate))

    def limited(self, sent_at: float, now: float, retry_after: float) -> None:
        """A call sent at `sent_at` got 429: pause, and learn the rate unless this 429 belongs
        to the burst already learned from (the call left before the last 429 came back)."""
        self.paused_until = max(self.paused_until, now + retry_after)
        self._next = max(self._next, self.paused_until)
        if self._limited_at is not None and sent_at < self._limited_at:
            return
        if self._limited_at is None:
            self.rate = max(len(self._recent), 1.0)
        else:
            self.rate = max(self._accepted_since / (now - self._limited_at), 0.5)
        self.slow_start = False
        self._limited_at, self._accepted_since = now, 0


class Pacer:
    """Web API calls of one workspace, paced per method. It sends through a copy of the app's
    client without the 429 retry handler (429s are handled here), keeping its 500/timeout
    retries."""

    def __init__(self, client: AsyncWebClient) -> None:
        handlers = [
            handler
            for handler in client.retry_handlers
            if not isinstance(handler, AsyncRateLimitErrorRetryHandler)
        ]
        self.client = AsyncWebClient(
            token=client.token,
            base_url=client.base_url,
            timeout=client.timeout,
            retry_handlers=handlers,
        )
        self.paces: dict[str, Pace] = {}

    async def call(
        self, method: str, send: Callable[[AsyncWebClient], Awaitable[AsyncSlackResponse]]
    ) -> AsyncSlackResponse:
        """`send(client)` in `method`'s turn; a 429 pauses the method and the call is retried."""
        pace = self.paces.setdefault(method, Pace())
        loop = asyncio.get_running_loop()
        for _attempt in range(MAX_LIMITED):
            sent_at = await self._turn(pace)
            try:
                response = await send(self.client)
            except SlackApiError as error:
                if error.response.status_code != 429:
                    raise
                pace.limited(sent_at, loop.time(), retry_after(error.response.headers))
                continue
            pace.accepted(loop.time())
            return response
        raise TimeoutError(f"{method}: still rate limited after {MAX_LIMITED} tries")

    @staticmethod
    async def _turn(pace: Pace) -> float:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(max(0.0, pace.reserve(loop.time()) - loop.time()))
            now = loop.time()
            if now >= pace.paused_until:  # a 429 while waiting moves everyone's turn
                return now


def retry_after(headers: dict) -> float:
    """Seconds from a 429's `Retry-After` (slack_sdk keeps header values as lists)."""
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list | tuple) else value
            try:
                return max(float(raw), 0.0)
            except ValueError:
                break
    return 1.0


_pacers: weakref.WeakKeyDictionary[AsyncWebClient, Pacer] = weakref.WeakKeyDictionary()


def pacer_for(client: AsyncWebClient) -> Pacer:
    """The pacer of an app's client, kept as long as the client lives so that what it learned
    about the workspace's limits serves every round and every job sending at the same time."""
    pacer = _pacers.get(client)
    if pacer is None:
        pacer = _pacers[client] = Pacer(client)
    return pacer


# -- sending ---------------------------------------------------------------------------------


async def post_prompt(services: Services, client: AsyncWebClient, delivery: Delivery) -> bool:
    """Send one prompt DM and record the outcome on its claim; True when it is in the DM.

    A claim taken over from a crashed sender is first looked for in the DM, since that sender
    may have been killed after Slack accepted it: found, it is recorded and not sent again.
    When Slack cannot say, the claim is left for a later take-over rather than risk a second
    DM."""
    pacer = pacer_for(client)
    if delivery.abandoned_at is not None:
        try:
            found = await find_delivered(pacer, delivery, since=delivery.abandoned_at)
        except TRANSIENT as error:
            await _not_sent(services, delivery, error)
            return False
        if found is not None:
            log.info("check-in prompt to %s was already delivered; recorded", delivery.user_id)
            await _record_sent(services, delivery, *found)
            return True
    return await _send_prompt(services, pacer, delivery)


async def _send_prompt(services: Services, pacer: Pacer, delivery: Delivery) -> bool:
    """The prompt's `chat.postMessage`, tagged with its prompt id, and its outcome recorded."""
    locale = delivery.locale or await learn_locale(services, pacer, delivery)
    message = build_prompt(delivery.items, locale, team_name=delivery.team_name)
    metadata = prompt_metadata(delivery)
    try:
        response = await pacer.call(
            "chat.postMessage",
            lambda client: client.chat_postMessage(
                channel=delivery.user_id, metadata=metadata, **message.as_kwargs()
            ),
        )
    except TRANSIENT as error:
        await _not_sent(services, delivery, error)
        return False
    await _record_sent(services, delivery, str(response["channel"]), str(response["ts"]))
    return True


async def _record_sent(services: Services, delivery: Delivery, channel_id: str, ts: str) -> None:
    """Mark the claim `sent` with where its DM is (nothing to mark outside a round)."""
    if delivery.prompt_id is not None:
        await checkins.mark_sent(
            database=services.database,
            prompt_id=delivery.prompt_id,
            channel_id=channel_id,
            ts=ts,
            now=services.clock(),
        )


def prompt_metadata(delivery: Delivery) -> dict[str, Any] | None:
    """The message metadata naming a prompt's claim; None outside a round (nothing to find)."""
    if delivery.prompt_id is None:
        return None
    payload = {"prompt_id": delivery.prompt_id, "round_id": delivery.round_id}
    return {"event_type": PROMPT_EVENT, "event_payload": payload}


def prompt_in(messages: Iterable[dict[str, Any]], prompt_id: int) -> str | None:
    """The ts of the bot message among `messages` whose metadata names `prompt_id`, if any.

    Only the bot can attach metadata in its DM with a member; `bot_id` is checked anyway."""
    for message in messages:
        metadata = message.get("metadata") or {}
        payload = metadata.get("event_payload") or {}
        if (
            message.get("bot_id")
            and metadata.get("event_type") == PROMPT_EVENT
            and payload.get("prompt_id") == prompt_id
        ):
            return str(message["ts"])
    return None


async def find_delivered(
    pacer: Pacer, delivery: Delivery, *, since: dt.datetime
) -> tuple[str, str] | None:
    """(DM id, ts) of the prompt when it already reached the member's DM at or after `since`
    (less the clock margin); None when it did not. Raises TRANSIENT when Slack cannot say.

    The DM id is asked of `conversations.open`: the abandoned row has none (it comes back only
    with a successful post), and the call is idempotent, so a take-over needs no stored id."""
    opened = await pacer.call(
        "conversations.open", lambda client: client.conversations_open(users=delivery.user_id)
    )
    channel = str(opened["channel"]["id"])
    oldest = f"{(since - CLOCK_MARGIN).timestamp():.6f}"
    cursor: str | None = None
    while True:
        page = await pacer.call(
            "conversations.history",
            partial(_history_page, channel=channel, oldest=oldest, cursor=cursor),
        )
        ts = prompt_in(page["messages"], delivery.prompt_id or 0)
        if ts is not None:
            return channel, ts
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not page.get("has_more") or not cursor:
            return None


def _history_page(
    client: AsyncWebClient, *, channel: str, oldest: str, cursor: str | None
) -> Awaitable[AsyncSlackResponse]:
    """One page of a DM's messages since `oldest`, newest first, with their metadata."""
    return client.conversations_history(
        channel=channel,
        oldest=oldest,
        include_all_metadata=True,
        limit=HISTORY_PAGE,
        cursor=cursor,
    )


async def _not_sent(services: Services, delivery: Delivery, error: Exception) -> None:
    """A permanent failure is recorded (never retried); a transient one leaves the claim to be
    taken up again after the lease."""
    code = error.response.get("error") if isinstance(error, SlackApiError) else None
    if code in PERMANENT_ERRORS and delivery.prompt_id is not None:
        log.info("check-in prompt to %s cannot be delivered: %s", delivery.user_id, code)
        await checkins.mark_failed(
            database=services.database,
            prompt_id=delivery.prompt_id,
            error=str(code),
            deactivated=code in DEACTIVATED_ERRORS,
        )
        return
    log.warning("check-in prompt to %s not sent yet (%r); will retry", delivery.user_id, error)


async def learn_locale(services: Services, pacer: Pacer, delivery: Delivery) -> str:
    """A member's language (and timezone) from `users.info`, remembered for next time."""
    default = services.settings.okrbot_locale
    try:
        response = await pacer.call(
            "users.info",
            lambda client: client.users_info(user=delivery.user_id, include_locale=True),
        )
    except TRANSIENT:
        return default
    user = response["user"]
    locale = normalize_locale(user.get("locale"), default)
    await people.remember_person(
        database=services.database,
        workspace_id=delivery.workspace_id,
        user_id=delivery.user_id,
        locale=locale,
        timezone=user.get("tz"),
        name=user.get("real_name") or "",
    )
    return locale


async def send_round(
    services: Services, client: AsyncWebClient, work: RoundWork, *, lease: dt.timedelta = LEASE
) -> None:
    """Claim and send one round's due prompts, several at a time within the pacer's rate. Each
    claim is taken just before its send, so a crash leaves few claims without their DM."""
    claims: deque[Callable[[], Awaitable[Delivery | None]]] = deque()
    claims += [partial(_claim, services, work.round_id, user, due) for user, due in work.due]
    claims += [partial(_reclaim, services, prompt_id, lease) for prompt_id in work.stale]

    async def worker() -> None:
        while claims:
            delivery = await claims.popleft()()
            if delivery is not None:
                await post_prompt(services, client, delivery)

    await asyncio.gather(*(worker() for _ in range(min(FAN_OUT_WORKERS, len(claims)))))


async def _claim(
    services: Services, round_id: int, user_id: str, due_at: dt.datetime
) -> Delivery | None:
    return await checkins.claim_prompt(
        database=services.database,
        round_id=round_id,
        user_id=user_id,
        due_at=due_at,
        now=services.clock(),
    )


async def _reclaim(services: Services, prompt_id: int, lease: dt.timedelta) -> Delivery | None:
    return await checkins.reclaim_prompt(
        database=services.database, prompt_id=prompt_id, now=services.clock(), lease=lease
    )


async def send_reminder(services: Services, client: AsyncWebClient, reminder: Reminder) -> None:
    """The one reminder of a claimed `reminded_at`; a failure is logged, never retried."""
    locale = reminder.locale or services.settings.okrbot_locale
    message = build_reminder(reminder.items, locale, team_name=reminder.team_name)
    try:
        await pacer_for(client).call(
            "chat.postMessage",
            lambda client: client.chat_postMessage(channel=reminder.user_id, **message.as_kwargs()),
        )
    except TRANSIENT as error:
        log.warning("reminder to %s not sent: %r", reminder.user_id, error)


async def learn_timezones(services: Services, client: AsyncWebClient, team_id: int) -> None:
    """For `timezone: member`, ask Slack once for each member's timezone okrbot lacks."""
    missing = await checkins.members_without_timezone(database=services.database, team_id=team_id)
    pacer = pacer_for(client)
    for workspace_id, user_id in missing:
        await learn_locale(services, pacer, Delivery(None, workspace_id, user_id, None, "", ()))


# -- the jobs --------------------------------------------------------------------------------


async def run_checkins(
    services: Services, client: AsyncWebClient, team_id: int, *, lease: dt.timedelta = LEASE
) -> None:
    """Everything due for one team's check-ins now; safe to run at any time, on any replica."""
    await learn_timezones(services, client, team_id)
    rounds = await checkins.due_rounds(
        database=services.database,
        team_id=team_id,
        now=services.clock(),
        default_timezone=services.settings.okrbot_timezone,
        lease=lease,
    )
    for work in rounds:
        await send_round(services, client, work, lease=lease)
    reminders = await checkins.due_reminders(
        database=services.database, team_id=team_id, now=services.clock()
    )
    for reminder in reminders:
        await send_reminder(services, client, reminder)
    closed = await checkins.close_rounds(
        database=services.database, team_id=team_id, now=services.clock()
    )
    for round_id in closed:
        log.info("check-in round %d of team %d closed", round_id, team_id)
        await send_round_digest(services, client, round_id)


async def checkin(services: Services, client: AsyncWebClient, team_id: int) -> None:
    """The job on each team's check-in cron, and the every-minute sweep."""
    await run_checkins(services, client, team_id)


async def catch_up(services: Services, client: AsyncWebClient, team_id: int) -> None:
    """Run once on start: a slot missed while okrbot was down is sent within the grace window
    (by `checkin`); one missed by longer is skipped, and said so in the log."""
    missed = await checkins.missed_slot(
        database=services.database,
        team_id=team_id,
        now=services.clock(),
        default_timezone=services.settings.okrbot_timezone,
    )
    if missed is not None:
        log.warning(
            "check-in of team %d due at %s was missed by more than %s; skipped",
            team_id,
            missed.isoformat(),
            checkins.GRACE,
        )
    await checkin(services, client, team_id)


async def start_round(services: Services, client: AsyncWebClient, team_id: int) -> RoundWork:
    """`okrbot checkin start --team`: open a round now and send it."""
    work = await checkins.open_round_now(
        database=services.database,
        team_id=team_id,
        now=services.clock(),
        default_timezone=services.settings.okrbot_timezone,
    )
    await send_round(services, client, work)
    return work


JOBS = {"checkin": checkin, "sweep": checkin, "catch_up": catch_up}
