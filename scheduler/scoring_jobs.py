"""The scoring DM (SPEC §8): when a cycle enters its last `scoring_days`, each KR owner gets
one DM listing their KRs with progress and a suggested score.

`send_scoring(services, client)` runs every minute and on start, on every replica. The
(cycle, owner) claim row decides who sends; a claim whose sender died is taken over after the
lease, and its DM is looked for first (each DM carries its claim id in Slack message metadata),
so a crash between the send and its record never sends a second DM.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.scoring import build_scoring_prompt
from bot.services import scoring
from bot.services.checkins import Delivery
from bot.services.container import Services
from scheduler import directory
from scheduler.jobs import PERMANENT_ERRORS, find_delivered
from scheduler.pacing import TRANSIENT, pacer_for

log = logging.getLogger("okrbot.scoring")

SCORING_EVENT = "okrbot_scoring_prompt"


async def send_scoring(services: Services, client: AsyncWebClient) -> int:
    """Send every scoring DM now owed; how many this process sent (or found sent)."""
    now = services.clock()
    sent = 0
    for cycle_id, user_id in await scoring.owners_to_score(database=services.database, now=now):
        delivery = await scoring.claim_scoring(
            database=services.database, cycle_id=cycle_id, user_id=user_id, now=now
        )
        if delivery is not None and await _deliver(services, client, delivery):
            sent += 1
    return sent


async def _deliver(
    services: Services, client: AsyncWebClient, delivery: scoring.ScoringDelivery
) -> bool:
    """One scoring DM, unless a taken-over claim's DM is already there; True when it is in the
    DM. A transient failure keeps the claim (taken over after the lease, looked for first)."""
    pacer = pacer_for(client)
    try:
        if delivery.abandoned_at is not None:
            claim = Delivery(
                delivery.prompt_id, delivery.workspace_id, delivery.user_id, None, "", ()
            )
            found = await find_delivered(
                pacer, claim, since=delivery.abandoned_at, event_type=SCORING_EVENT
            )
            if found is not None:
                await _settle(services, delivery, channel_id=found[0], ts=found[1])
                return True
        locale = await directory.locale_of(
            services, client, delivery.workspace_id, delivery.user_id
        )
        message = build_scoring_prompt(delivery, locale)
        metadata = {"event_type": SCORING_EVENT, "event_payload": {"prompt_id": delivery.prompt_id}}
        response = await pacer.call(
            "chat.postMessage",
            lambda client: client.chat_postMessage(
                channel=delivery.user_id, metadata=metadata, **message.as_kwargs()
            ),
        )
    except TRANSIENT as error:
        code = error.response.get("error") if isinstance(error, SlackApiError) else None
        if code in PERMANENT_ERRORS:
            await _settle(services, delivery, error=str(code))
        else:
            log.warning("scoring DM to %s not sent yet (%r)", delivery.user_id, error)
        return False
    await _settle(services, delivery, channel_id=str(response["channel"]), ts=str(response["ts"]))
    return True


async def _settle(
    services: Services,
    delivery: scoring.ScoringDelivery,
    *,
    channel_id: str | None = None,
    ts: str | None = None,
    error: str | None = None,
) -> None:
    await scoring.mark_scoring(
        database=services.database,
        prompt_id=delivery.prompt_id,
        now=services.clock(),
        channel_id=channel_id,
        ts=ts,
        error=error,
    )
