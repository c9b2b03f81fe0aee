"""Scheduler jobs, and the Slack side of check-ins: prompts and reminders sent under Slack's
rate limits (paced per method by `scheduler.pacing`).

Jobs are plain async functions `job(services, client, team_id)`, idempotent because every send
is claimed in the database first (see `bot.services.checkins`). `checkin` runs on each team's
cron and, as the sweep, every minute: it opens rounds whose slot has come, sends what is due
(members' own timezones, prompts a crashed sender abandoned), reminds once, and closes rounds.
`take_over`, every few seconds, looks for rounds whose sender stopped beating and sends them.

What a round needs to know about members (language, timezone, whether they left) comes from the
people cache (`scheduler.directory`), read with `users.list` once a day, so a round makes one
`chat.postMessage` per member (to the member's id: no `conversations.open`) and nothing else.

Taking over an abandoned claim: every prompt carries its prompt id in Slack message metadata,
so before re-sending a claim whose fate is unknown (its sender died, or its send failed in a
way that may have reached Slack), `post_prompt` reads the member's DM since the claim
(`conversations.open` for the DM id, then `conversations.history`) and, when the prompt is
already there, only records it. A check Slack cannot answer is tried again with backoff, the
claim kept alive meanwhile; the other members' prompts go on in the meantime.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import enum
import logging
import random
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from types import TracebackType
from typing import Any, Self

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from sqlalchemy.exc import SQLAlchemyError

from bot.blocks.checkin import build_prompt, build_reminder
from bot.notify import PERMANENT_ERRORS
from bot.services import checkins
from bot.services.checkins import HEARTBEAT, LEASE, Delivery, Reminder, RoundWork
from bot.services.container import Services
from scheduler import directory
from scheduler.digest_jobs import send_round_digest
from scheduler.pacing import TRANSIENT, Pacer, pacer_for

log = logging.getLogger("okrbot.checkin")

FAN_OUT_WORKERS = 8
# Of the errors no retry will cure (PERMANENT_ERRORS), those that say the member is gone.
DEACTIVATED_ERRORS = frozenset({"user_disabled", "user_not_found", "account_inactive"})
# The message metadata event types that mark a check-in prompt and its reminder (payload: the
# prompt and round ids).
PROMPT_EVENT = "okrbot_checkin_prompt"
REMINDER_EVENT = "okrbot_checkin_reminder"
# A DM check reads from this long before the claim: Slack stamps messages by its own clock,
# which may run a little behind ours.
CLOCK_MARGIN = dt.timedelta(minutes=1)
HISTORY_PAGE = 100  # messages per conversations.history call (Slack's default page)
# A prompt whose send or check failed is tried again after 1, 2, 4 … seconds (at most
# BACKOFF_CAP), this many times in one sweep; then its claim goes to the next sweep, which
# starts over: never given up while the round is open.
RETRIES_PER_SWEEP = 8
BACKOFF_FIRST = 1.0
BACKOFF_CAP = 30.0


class Outcome(enum.Enum):
    """What became of one prompt's send."""

    SENT = "sent"  # in the member's DM (now, or found there)
    FAILED = "failed"  # cannot be delivered; recorded, never tried again
    RETRY = "retry"  # Slack could not say or take it now; the claim is still held


# -- heartbeat -------------------------------------------------------------------------------


class Heartbeat:
    """Keeps a sender's round and claims alive while it works: every HEARTBEAT it renews them
    in the database, so others take them over only once this process stops (SIGKILL), within
    the lease. Add and drop claim ids as they are taken and settled."""

    def __init__(self, services: Services, round_id: int | None = None) -> None:
        self.services, self.round_id = services, round_id
        self.prompts: set[int] = set()
        self.reminders: set[int] = set()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        await self.beat()
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            # gather, not a suppressed CancelledError: were this sender itself cancelled while
            # waiting here, suppressing would swallow its own cancellation and let it run on.
            await asyncio.gather(self._task, return_exceptions=True)
        # Only a sender that finished lets go of its round at once; one that failed or was
        # cancelled leaves it to lapse, so the take-over look finds it within the lease.
        if self.round_id is not None and kind is None:
            await checkins.release_round(database=self.services.database, round_id=self.round_id)

    async def beat(self) -> None:
        await checkins.beat(
            database=self.services.database,
            now=self.services.clock(),
            round_id=self.round_id,
            prompt_ids=self.prompts,
            reminder_ids=self.reminders,
        )

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT.total_seconds())
            try:
                await self.beat()
            except (SQLAlchemyError, OSError) as error:
                # One missed beat is harmless: the lease outlasts three of them.
                log.warning("heartbeat of round %s failed: %r", self.round_id, error)


# -- sending ---------------------------------------------------------------------------------


async def post_prompt(services: Services, client: AsyncWebClient, delivery: Delivery) -> bool:
    """Send one prompt DM and record the outcome on its claim; True when it is in the DM.
    When it is not, a transient failure leaves the claim for the next sender (after the lease,
    with a look at the DM first)."""
    return await deliver(services, client, delivery) is Outcome.SENT


async def deliver(services: Services, client: AsyncWebClient, delivery: Delivery) -> Outcome:
    """One prompt: looked for in the DM first when an earlier send's fate is unknown (found,
    it is only recorded), else sent; the outcome recorded on its claim.

    When Slack cannot say whether the DM is there, nothing is sent (RETRY) rather than risk a
    second DM."""
    pacer = pacer_for(client)
    try:
        if delivery.abandoned_at is not None:
            found = await find_delivered(pacer, delivery, since=delivery.abandoned_at)
            if found is not None:
                log.info("check-in prompt to %s was already delivered; recorded", delivery.user_id)
                await _record_sent(services, delivery, *found)
                return Outcome.SENT
        return await _send_prompt(services, client, delivery)
    except TRANSIENT as error:
        return await _not_sent(services, delivery, error)


async def _send_prompt(services: Services, client: AsyncWebClient, delivery: Delivery) -> Outcome:
    """The prompt's `chat.postMessage` to the member's id (Slack opens the DM itself), tagged
    with its prompt id, and its outcome recorded. Raises TRANSIENT."""
    locale = delivery.locale or await directory.locale_of(
        services, client, delivery.workspace_id, delivery.user_id
    )
    message = build_prompt(delivery.items, locale, team_name=delivery.team_name)
    metadata = prompt_metadata(delivery)
    response = await pacer_for(client).call(
        "chat.postMessage",
        lambda client: client.chat_postMessage(
            channel=delivery.user_id, metadata=metadata, **message.as_kwargs()
        ),
    )
    await _record_sent(services, delivery, str(response["channel"]), str(response["ts"]))
    return Outcome.SENT


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


def prompt_in(
    messages: Iterable[dict[str, Any]], prompt_id: int, event_type: str = PROMPT_EVENT
) -> str | None:
    """The ts of the bot message among `messages` whose metadata (of `event_type`: a prompt,
    or its reminder) names `prompt_id`, if any.

    Only the bot can attach metadata in its DM with a member; `bot_id` is checked anyway."""
    for message in messages:
        metadata = message.get("metadata") or {}
        payload = metadata.get("event_payload") or {}
        if (
            message.get("bot_id")
            and metadata.get("event_type") == event_type
            and payload.get("prompt_id") == prompt_id
        ):
            return str(message["ts"])
    return None


async def find_delivered(
    pacer: Pacer,
    delivery: Delivery,
    *,
    since: dt.datetime,
    event_type: str = PROMPT_EVENT,
) -> tuple[str, str] | None:
    """(DM id, ts) of the prompt (or, by `event_type`, its reminder) when it already reached
    the member's DM at or after `since` (less the clock margin); None when it did not. Raises
    TRANSIENT when Slack cannot say.

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
        ts = prompt_in(page["messages"], delivery.prompt_id or 0, event_type)
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


def _error_code(error: Exception) -> str | None:
    return error.response.get("error") if isinstance(error, SlackApiError) else None


async def _not_sent(services: Services, delivery: Delivery, error: Exception) -> Outcome:
    """A permanent failure is recorded (never retried); a transient one keeps the claim for
    another try, which first looks at the DM."""
    code = _error_code(error)
    if code in PERMANENT_ERRORS and delivery.prompt_id is not None:
        log.info("check-in prompt to %s cannot be delivered: %s", delivery.user_id, code)
        await checkins.mark_failed(
            database=services.database,
            prompt_id=delivery.prompt_id,
            error=str(code),
            deactivated=code in DEACTIVATED_ERRORS,
        )
        return Outcome.FAILED
    log.warning("check-in prompt to %s not sent yet (%r); will retry", delivery.user_id, error)
    return Outcome.RETRY


# -- rounds ----------------------------------------------------------------------------------


def backoff(tries: int) -> float:
    """Seconds before try number `tries` + 1: doubling from 1 s, capped, with jitter so that
    retries of many prompts do not arrive together."""
    return min(BACKOFF_CAP, BACKOFF_FIRST * 2.0 ** (tries - 1)) * random.uniform(0.8, 1.2)


@dataclasses.dataclass(order=True)
class _Retry:
    at: float
    tries: int
    delivery: Delivery = dataclasses.field(compare=False)


class RoundSender:
    """Sends one round's due prompts, several at a time within the pacer's rate, under one
    heartbeat. Each claim is taken just before its send, so a crash leaves few claims without
    their DM; a prompt whose send or check failed waits its backoff aside while the others go
    on, and is looked for in the DM before it is sent again."""

    def __init__(
        self, services: Services, client: AsyncWebClient, work: RoundWork, lease: dt.timedelta
    ) -> None:
        self.services, self.client, self.lease = services, client, lease
        self.claims: deque[Callable[[], Awaitable[Delivery | None]]] = deque()
        self.claims += [
            partial(_claim, services, work.round_id, user, due) for user, due in work.due
        ]
        self.claims += [partial(_reclaim, services, prompt_id, lease) for prompt_id in work.stale]
        self.retries: list[_Retry] = []
        self.heartbeat = Heartbeat(services, work.round_id)

    async def run(self) -> None:
        if not self.claims:
            return  # nothing to send: no heartbeat to start, none to clear under another sender
        async with self.heartbeat:
            workers = min(FAN_OUT_WORKERS, len(self.claims))
            await asyncio.gather(*(self._worker() for _ in range(workers)))

    async def _worker(self) -> None:
        while (job := await self._next()) is not None:
            delivery, tries = job
            prompt_id = delivery.prompt_id or 0
            self.heartbeat.prompts.add(prompt_id)
            outcome = await deliver(self.services, self.client, delivery)
            if outcome is Outcome.RETRY and tries < RETRIES_PER_SWEEP:
                self._later(delivery, tries + 1)
                continue
            self.heartbeat.prompts.discard(prompt_id)
            if outcome is Outcome.RETRY:
                await checkins.release_prompt(
                    database=self.services.database,
                    prompt_id=prompt_id,
                    now=self.services.clock(),
                    lease=self.lease,
                )

    def _later(self, delivery: Delivery, tries: int) -> None:
        """Try again after the backoff; the DM is looked at first, since the failed send (or
        check) may have reached Slack."""
        since = delivery.abandoned_at or delivery.claimed_at or self.services.clock()
        at = asyncio.get_running_loop().time() + backoff(tries)
        self.retries.append(_Retry(at, tries, dataclasses.replace(delivery, abandoned_at=since)))

    async def _next(self) -> tuple[Delivery, int] | None:
        """The next prompt to send: a fresh claim while there are any, then the retries in
        the order they come due; None when nothing is left."""
        while self.claims:
            delivery = await self.claims.popleft()()
            if delivery is not None:
                return delivery, 0
        if not self.retries:
            return None
        retry = min(self.retries)
        self.retries.remove(retry)
        await asyncio.sleep(max(0.0, retry.at - asyncio.get_running_loop().time()))
        return retry.delivery, retry.tries


async def send_round(
    services: Services, client: AsyncWebClient, work: RoundWork, *, lease: dt.timedelta = LEASE
) -> None:
    """Claim and send one round's due prompts (see `RoundSender`)."""
    await RoundSender(services, client, work, lease).run()


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


# -- reminders -------------------------------------------------------------------------------


async def send_reminders(
    services: Services, client: AsyncWebClient, reminders: Iterable[Reminder]
) -> None:
    """Each claimed reminder, under one heartbeat; one that fails is tried again by a later
    sweep (bounded), after a look at the DM."""
    reminders = list(reminders)
    heartbeat = Heartbeat(services)
    # All of them from the start: a claim waiting its turn must not lapse to another sender.
    heartbeat.reminders.update(reminder.prompt_id for reminder in reminders)
    async with heartbeat:
        for reminder in reminders:
            await send_reminder(services, client, reminder)
            heartbeat.reminders.discard(reminder.prompt_id)


async def send_reminder(services: Services, client: AsyncWebClient, reminder: Reminder) -> None:
    """The one reminder of a claimed prompt: looked for in the DM first when an earlier try may
    have reached Slack, else sent with its prompt id in metadata; the outcome recorded."""
    database = services.database
    try:
        since = reminder.check_since
        if since is None or not await _reminder_found(client, reminder, since):
            await _post_reminder(services, client, reminder)
    except TRANSIENT as error:
        code = _error_code(error)
        log.warning("reminder to %s not sent (%r)", reminder.user_id, error)
        await checkins.release_reminder(
            database=database, prompt_id=reminder.prompt_id, give_up=code in PERMANENT_ERRORS
        )
        return
    await checkins.mark_reminded(
        database=database, prompt_id=reminder.prompt_id, now=services.clock()
    )


async def _reminder_found(client: AsyncWebClient, reminder: Reminder, since: dt.datetime) -> bool:
    """Whether an earlier try of this reminder is in the member's DM (raises TRANSIENT)."""
    target = Delivery(reminder.prompt_id, reminder.workspace_id, reminder.user_id, None, "", ())
    found = await find_delivered(pacer_for(client), target, since=since, event_type=REMINDER_EVENT)
    return found is not None


async def _post_reminder(services: Services, client: AsyncWebClient, reminder: Reminder) -> None:
    """The reminder's `chat.postMessage`, tagged with its prompt id (raises TRANSIENT)."""
    locale = reminder.locale or services.settings.okrbot_locale
    message = build_reminder(reminder.items, locale, team_name=reminder.team_name)
    metadata = {"event_type": REMINDER_EVENT, "event_payload": {"prompt_id": reminder.prompt_id}}
    await pacer_for(client).call(
        "chat.postMessage",
        lambda client: client.chat_postMessage(
            channel=reminder.user_id, metadata=metadata, **message.as_kwargs()
        ),
    )


# -- the people a round needs ----------------------------------------------------------------


async def learn_timezones(services: Services, client: AsyncWebClient, team_id: int) -> None:
    """For `timezone: member`, each member's timezone decides when they are due: wait for a
    directory read under way, then ask Slack once for each member it did not list."""
    database = services.database
    missing = await checkins.members_without_timezone(database=database, team_id=team_id)
    if missing:
        await directory.settle(services, client, missing[0][0])
        missing = await checkins.members_without_timezone(database=database, team_id=team_id)
    for workspace_id, user_id in missing:
        await directory.ask_slack(services, client, workspace_id, user_id)


# -- the jobs --------------------------------------------------------------------------------


async def run_checkins(
    services: Services, client: AsyncWebClient, team_id: int, *, lease: dt.timedelta = LEASE
) -> None:
    """Everything due for one team's check-ins now; safe to run at any time, on any replica."""
    database = services.database
    workspace_id = await checkins.team_workspace(database=database, team_id=team_id)
    if workspace_id is not None:
        await directory.refresh_people(services, client, workspace_id)
    await learn_timezones(services, client, team_id)
    rounds = await checkins.due_rounds(
        database=database,
        team_id=team_id,
        now=services.clock(),
        default_timezone=services.settings.okrbot_timezone,
        lease=lease,
    )
    for work in rounds:
        await send_round(services, client, work, lease=lease)
    reminders = await checkins.due_reminders(
        database=database, team_id=team_id, now=services.clock(), lease=lease
    )
    if reminders:
        await send_reminders(services, client, reminders)
    closed = await checkins.close_rounds(database=database, team_id=team_id, now=services.clock())
    for round_id in closed:
        log.info("check-in round %d of team %d closed", round_id, team_id)
        await send_round_digest(services, client, round_id)


async def checkin(services: Services, client: AsyncWebClient, team_id: int) -> None:
    """The job on each team's check-in cron, and the every-minute sweep."""
    await run_checkins(services, client, team_id)


_taking_over: weakref.WeakKeyDictionary[AsyncWebClient, dict[int, asyncio.Task[None]]] = (
    weakref.WeakKeyDictionary()
)


async def take_over(services: Services, client: AsyncWebClient) -> None:
    """Every few seconds: start sending, in the background, each team's round whose sender
    stopped beating (killed) — so a restart or another replica resumes it within the lease
    and this tick, not at the next minute's sweep. One sender per team in this process."""
    running = _taking_over.setdefault(client, {})
    teams = await checkins.abandoned_teams(database=services.database, now=services.clock())
    for team_id in teams:
        if team_id in running and not running[team_id].done():
            continue
        log.info("check-in round of team %d was abandoned by its sender; taking over", team_id)
        task = asyncio.create_task(run_checkins(services, client, team_id))
        task.add_done_callback(_log_failure)
        running[team_id] = task


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("taking over a check-in round failed", exc_info=task.exception())


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
    await directory.refresh_people(services, client, work.workspace_id)
    await send_round(services, client, work)
    return work


JOBS = {"checkin": checkin, "sweep": checkin, "catch_up": catch_up, "take_over": take_over}
