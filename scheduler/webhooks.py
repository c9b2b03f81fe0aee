"""The webhook sender: a task in the app's event loop that posts the outbox's due deliveries,
off every request's path.

Each pass claims as many due deliveries as it has free slots (at most CONCURRENCY posts in
flight), posts each with a timeout, and records the outcome, one unit of work at a time (so it
never takes more than one of the write slots Slack requests need). A claim is a lease: a sender
killed mid-post leaves its rows to be claimed again once the lease runs out, so a delivery is
sent at least once, and receivers drop repeats by its `X-Okrbot-Delivery` id.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time

import aiohttp

from bot.services import webhooks
from bot.services.container import Services
from storage.models import utcnow

log = logging.getLogger("okrbot.webhooks")

CONCURRENCY = 8
# How often settled deliveries past their keeping time are deleted.
PRUNE_EVERY = 3600.0
USER_AGENT = "okrbot-webhooks/1"


class WebhookSender:
    """Posts due deliveries until stopped; several replicas may run one each."""

    def __init__(self, services: Services) -> None:
        settings = services.settings
        self.database = services.database
        self.poll = settings.okrbot_webhook_poll
        self.timeout = settings.okrbot_webhook_timeout
        self.first_retry = dt.timedelta(seconds=settings.okrbot_webhook_first_retry)
        # Longer than a post may take, so a live sender's claim never lapses mid-post.
        self.lease = dt.timedelta(seconds=self.timeout * 2 + 5)
        self._posting: set[asyncio.Task[None]] = set()
        self._freed = asyncio.Event()
        # One unit of work at a time: the sender never holds more than one of the database's
        # write slots, which the Slack requests need.
        self._writing = asyncio.Semaphore(1)
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    def start(self) -> None:
        """Start sending, inside the running loop."""
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        self._session = aiohttp.ClientSession(timeout=timeout, headers={"User-Agent": USER_AGENT})
        self._task = asyncio.create_task(self._run(), name="webhook-sender")

    async def stop(self) -> None:
        """Stop claiming, let posts in flight finish (they are bounded by the timeout)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._posting:
            await asyncio.wait(list(self._posting))
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        pruned_at = -PRUNE_EVERY
        while True:
            try:
                if time.monotonic() - pruned_at >= PRUNE_EVERY:
                    async with self._writing:
                        await webhooks.prune(database=self.database, now=utcnow())
                    pruned_at = time.monotonic()
                more = await self.send_due()
            except Exception:  # a database hiccup must not end the sender
                log.exception("webhook sender: the outbox could not be read; trying again")
                more = False
            if more:
                await self._slot_free()  # a backlog: claim again as soon as a post ends
            else:
                await asyncio.sleep(self.poll)

    async def _slot_free(self) -> None:
        """Wait until half the slots are free: claims in batches cost fewer transactions."""
        while len(self._posting) > CONCURRENCY // 2:
            self._freed.clear()
            await self._freed.wait()

    async def send_due(self) -> bool:
        """Claim and start posting what is due; True when every free slot was filled (more
        may be waiting)."""
        free = CONCURRENCY - len(self._posting)
        if free <= 0:
            return True
        async with self._writing:
            claimed = await webhooks.claim_due(
                database=self.database, now=utcnow(), limit=free, lease=self.lease
            )
        for due in claimed:
            task = asyncio.create_task(self._deliver(due))
            self._posting.add(task)
            task.add_done_callback(self._ended)
        return len(claimed) == free

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._posting.discard(task)
        self._freed.set()

    async def _deliver(self, due: webhooks.Due) -> None:
        try:
            await self._settle(due, await self._post(due))
        except Exception:  # the lease lapses and the delivery is tried again
            log.exception("webhook %s %s: recording the outcome failed", due.event, due.delivery_id)

    async def _settle(self, due: webhooks.Due, error: str | None) -> None:
        if error is None:
            async with self._writing:
                await webhooks.mark_delivered(database=self.database, due=due, now=utcnow())
            return
        async with self._writing:
            retry = await webhooks.mark_failed(
                database=self.database, due=due, now=utcnow(), error=error, first=self.first_retry
            )
        if retry is None:
            log.warning("webhook %s to %s given up after 24 h: %s", due.event, due.url, error)

    async def _post(self, due: webhooks.Due) -> str | None:
        """Post one delivery, signed now; None when the receiver accepted it (2xx)."""
        assert self._session is not None  # started
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "X-Okrbot-Event": due.event,
            "X-Okrbot-Delivery": due.delivery_id,
            "X-Okrbot-Timestamp": str(timestamp),
            "X-Okrbot-Signature": webhooks.sign(due.secret, timestamp, due.body),
        }
        try:
            async with self._session.post(
                due.url, data=due.body, headers=headers, allow_redirects=False
            ) as response:
                if 200 <= response.status < 300:
                    return None
                return f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"{type(exc).__name__}: {exc}"
