"""Sending digests, retrospective digests and KPI alerts to Slack: the edge between the
services and the Web API.

Services never import slack_sdk; this module renders what they return and sends it:
`conversations.open` for a manager's DM, `chat.postMessage`, and `files_upload_v2` for the
digest's chart, uploaded once per language and shared to every DM and channel that got the
digest in it. A digest is claimed before it is sent and the claim is given back if Slack
refuses the message, so a later run may retry it. A chart that cannot be drawn or uploaded is
logged and left out: the digest goes out without it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.alerts import build_kpi_alert
from bot.blocks.digest import build_digest
from bot.blocks.retro import build_retro
from bot.charts import digest_chart, retro_chart
from bot.i18n import normalize_locale, t
from bot.services import alerts, digests, people, retros
from bot.services.container import Services
from bot.services.digests import Digest, Recipient
from bot.services.updates import Change

log = logging.getLogger("okrbot.notify")

# Slack errors no later try will cure: the recipient is gone or cannot be written to (the
# check-in, scoring and retrospective senders all read this one list).
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

# What a Web API call may raise: Slack's refusal, a failed upload, the network, a timeout.
SLACK_ERRORS = (SlackClientError, aiohttp.ClientError, TimeoutError)


@dataclass
class DigestReport:
    """What one digest run did, recipient by recipient."""

    team: str
    period: str
    sent: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    charts: list[bytes] = field(default_factory=list)


@dataclass
class _Run:
    """One digest being sent: its content, the claims' period and what was drawn so far."""

    client: AsyncWebClient
    services: Services
    digest: Digest
    period: str
    round_id: int | None
    report: DigestReport
    home_url: str | None = None
    charts: dict[str, bytes | None] = field(default_factory=dict)
    # Where the digest went in this run, by language: its chart is shared there afterwards.
    posted: dict[str, list[str]] = field(default_factory=dict)


async def send_digest(
    client: AsyncWebClient,
    services: Services,
    *,
    team_id: int,
    period: str,
    round_id: int | None = None,
) -> DigestReport | None:
    """Send a team's digest to each manager's DM and its channel, each at most once per
    `period`; None when the team does not exist."""
    digest = await digests.gather_digest(
        database=services.database,
        team_id=team_id,
        now=services.clock(),
        round_id=round_id,
        period=period,
    )
    if digest is None:
        return None
    run = _Run(client, services, digest, period, round_id, DigestReport(digest.team_name, period))
    run.home_url = await _home_url(client, digest.workspace_id)
    for recipient in digest.recipients:
        await _deliver(run, recipient)
    for locale, channels in run.posted.items():
        await _share_chart(run, channels, locale)
    return run.report


async def _deliver(run: _Run, recipient: Recipient) -> None:
    """Claim, post, record: one recipient's digest."""
    database = run.services.database
    claim = await digests.claim_digest(
        database=database,
        digest=run.digest,
        period=run.period,
        recipient=recipient.id,
        round_id=run.round_id,
    )
    if claim is None:
        run.report.already.append(recipient.id)
        return
    try:
        ts = await _post_digest(run, recipient)
    except SLACK_ERRORS:
        log.exception("digest of %s to %s was not sent", run.digest.team_name, recipient.id)
        await digests.release_claim(database=database, claim_id=claim)
        run.report.failed.append(recipient.id)
        return
    await digests.mark_sent(database=database, claim_id=claim, message_ts=ts)
    run.report.sent.append(recipient.id)


async def _post_digest(run: _Run, recipient: Recipient) -> str | None:
    """Post the digest (the channel gets the report without participation) and note where it
    went, for the chart."""
    locale = await _locale(run.client, run.services, run.digest.workspace_id, recipient)
    channel = await _destination(run.client, recipient)
    message = build_digest(
        run.digest, locale, for_channel=recipient.is_channel, home_url=run.home_url
    )
    answer = await run.client.chat_postMessage(channel=channel, **message.as_kwargs())
    run.posted.setdefault(locale, []).append(channel)
    return answer.get("ts")


async def _share_chart(run: _Run, channels: list[str], locale: str) -> None:
    """Upload the chart once and share it to these channels; any failure is logged and the
    digests stand without it."""
    png = await _chart(run, locale)
    if png is None:
        return
    title = t(locale, "OKR chart · {team}", team=run.digest.team_name)
    filename = f"okr-digest-{run.digest.team_id}.png"
    if await _upload_chart(run.client, channels, png, filename, title):
        run.report.charts.append(png)


async def _upload_chart(
    client: AsyncWebClient, channels: list[str], png: bytes, filename: str, title: str
) -> bool:
    """One upload of a chart, shared to these channels; False (logged) when Slack refused."""
    try:
        await client.files_upload_v2(
            channels=channels, file=png, filename=filename, title=title, alt_txt=title
        )
    except SLACK_ERRORS:
        log.exception("chart %s was not uploaded", filename)
        return False
    return True


async def _chart(run: _Run, locale: str) -> bytes | None:
    """The chart in this language, drawn once per run in a worker thread (it takes ~0.1 s)."""
    if locale not in run.charts:
        try:
            run.charts[locale] = await asyncio.to_thread(digest_chart, run.digest, locale)
        except Exception:  # the chart is optional: whatever breaks it, the digest goes
            log.exception("chart of %s's digest could not be drawn", run.digest.team_name)
            run.charts[locale] = None
    return run.charts[locale]


async def _home_url(client: AsyncWebClient, workspace_id: str) -> str | None:
    """A deep link to okrbot's App Home, when Slack tells us the app's id (`bots.info`)."""
    try:
        auth = await client.auth_test()
        bot = await client.bots_info(bot=auth["bot_id"])
        app_id = bot["bot"]["app_id"]
    except (*SLACK_ERRORS, KeyError, TypeError):
        return None  # the digest then names the Home tab in words
    return f"slack://app?team={workspace_id}&id={app_id}&tab=home"


async def _destination(client: AsyncWebClient, recipient: Recipient) -> str:
    """The channel to post to: the team's channel, or the manager's DM with the bot."""
    if recipient.is_channel:
        return recipient.id
    answer = await client.conversations_open(users=recipient.id)
    return str(answer["channel"]["id"])


async def _locale(
    client: AsyncWebClient, services: Services, workspace_id: str, recipient: Recipient
) -> str:
    """The recipient's language: remembered, else asked of Slack once and remembered; a
    channel reads the workspace's default language."""
    default = services.settings.okrbot_locale
    if recipient.is_channel or recipient.locale:
        return recipient.locale or default
    try:
        info = (await client.users_info(user=recipient.id, include_locale=True))["user"]
    except SLACK_ERRORS:
        return default  # unknown to users.info (rare): the workspace default will do
    locale = normalize_locale(info.get("locale"), default)
    await people.remember_person(
        database=services.database,
        workspace_id=workspace_id,
        user_id=recipient.id,
        locale=locale,
        timezone=info.get("tz"),
    )
    return locale


async def announce_kpi_changes(
    client: AsyncWebClient, services: Services, workspace_id: str, changes: Sequence[Change]
) -> None:
    """Tell the team's channel and managers about each KPI these changes moved into `warn` or
    `off`, or back to `ok`: call it after the unit of work that returned them has committed.

    The unit claimed each alert (`updates.with_alerts`), so there is one per KPI per change of
    state, whoever calls this and however often; this only posts them."""
    for change in changes:
        if change.alert is not None:
            for recipient in change.alert.recipients:
                await _post_alert(client, services, workspace_id, change.alert, recipient)


async def _post_alert(
    client: AsyncWebClient,
    services: Services,
    workspace_id: str,
    alert: alerts.KpiAlert,
    recipient: Recipient,
) -> None:
    """Post one alert; a recipient Slack refuses is logged and the others still hear it."""
    try:
        locale = await _locale(client, services, workspace_id, recipient)
        channel = await _destination(client, recipient)
        await client.chat_postMessage(channel=channel, **build_kpi_alert(alert, locale).as_kwargs())
    except SLACK_ERRORS:
        log.exception("KPI alert for %s to %s was not sent", alert.kpi.name, recipient.id)


async def tell_person(
    client: AsyncWebClient,
    services: Services,
    workspace_id: str,
    user_id: str,
    text: Callable[[str], str],
) -> bool:
    """DM one person `text(locale)` in their own language; False (logged) if Slack refused."""
    recipient = Recipient(user_id, None)
    try:
        locale = await _locale(client, services, workspace_id, recipient)
        channel = await _destination(client, recipient)
        await client.chat_postMessage(channel=channel, text=text(locale))
    except SLACK_ERRORS:
        log.exception("a message to %s was not sent", user_id)
        return False
    return True


# -- retrospective digests (SPEC §8) ---------------------------------------------------------


# The message metadata that marks a retrospective digest (payload: its `retrodelivery` row), and
# how far before a claim a look in the DM starts (Slack's clock may run behind ours).
RETRO_EVENT = "okrbot_retrospective"
CLOCK_MARGIN = dt.timedelta(minutes=1)


@dataclass
class RetroReport:
    """What one run of the retrospective digests did: `(team, recipient)` pairs."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    charts: dict[str, bytes] = field(default_factory=dict)


async def send_retros(client: AsyncWebClient, services: Services) -> RetroReport:
    """Send every retrospective digest owed (closing a cycle owes them), each recipient's
    once: a row is claimed before its post. A Slack error on one recipient is logged and the
    others still get theirs; a passing one gives the row back for the next run, one Slack
    gives no hope for (`channel_not_found`, a deactivated manager…) marks it failed."""
    report = RetroReport()
    owed = await retros.owed_retros(database=services.database, now=services.clock())
    cycles: dict[int, list[retros.Owed]] = {}
    for row in owed:
        cycles.setdefault(row.cycle_id, []).append(row)
    for cycle_id, rows in cycles.items():
        for retro in await retros.gather_retros(
            database=services.database, cycle_id=cycle_id, team_ids=(r.team_id for r in rows)
        ):
            theirs = [row for row in rows if row.team_id == retro.team_id]
            await _send_retro(client, services, retro, theirs, report)
    return report


async def _send_retro(
    client: AsyncWebClient,
    services: Services,
    retro: retros.Retro,
    rows: Sequence[retros.Owed],
    report: RetroReport,
) -> None:
    """One team's retrospective to its owed recipients, then its chart (drawn and uploaded
    once per language) shared to where it went."""
    posted: dict[str, list[str]] = {}
    for row in rows:
        where = await _deliver_retro(client, services, retro, row, report)
        if where is not None:
            posted.setdefault(where[0], []).append(where[1])
    for locale, channels in posted.items():
        await _share_retro_chart(client, retro, channels, locale, report)


async def _deliver_retro(
    client: AsyncWebClient,
    services: Services,
    retro: retros.Retro,
    row: retros.Owed,
    report: RetroReport,
) -> tuple[str, str] | None:
    """Claim, post, record: one recipient's retrospective; (language, channel) when posted
    now. A taken-over DM is looked for first: found, it is recorded, not posted again."""
    database = services.database
    if not await retros.claim_retro(database=database, owed=row, now=services.clock()):
        return None  # another run took it
    who = (retro.team_name, row.recipient.id)
    try:
        locale = await _locale(client, services, retro.workspace_id, row.recipient)
        channel = await _destination(client, row.recipient)
        found = await _retro_in(client, channel, row) if row.abandoned_at else None
        if found is None:
            metadata = {"event_type": RETRO_EVENT, "event_payload": {"delivery": row.delivery_id}}
            message = build_retro(retro, locale).as_kwargs()
            answer = await client.chat_postMessage(channel=channel, metadata=metadata, **message)
    except SLACK_ERRORS as error:
        log.exception("retrospective of %s to %s was not sent", *who)
        await _settle_failed_retro(services, row, error)
        report.failed.append(who)
        return None
    ts = found or answer.get("ts")
    await retros.mark_retro(
        database=database, delivery_id=row.delivery_id, now=services.clock(), ts=ts
    )
    if found is not None:  # its sender died after posting it: only the record was lost
        return None
    report.sent.append(who)
    return locale, channel


async def _retro_in(client: AsyncWebClient, channel: str, row: retros.Owed) -> str | None:
    """The ts of this delivery's digest when it is already in the DM (posted since it was
    claimed, less a minute for Slack's clock): its message metadata names the row."""
    assert row.abandoned_at is not None
    oldest = f"{(row.abandoned_at - CLOCK_MARGIN).timestamp():.6f}"
    cursor: str | None = None
    while True:
        page = await client.conversations_history(
            channel=channel, oldest=oldest, include_all_metadata=True, limit=100, cursor=cursor
        )
        for message in page.get("messages") or []:
            metadata = message.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if (
                message.get("bot_id")
                and metadata.get("event_type") == RETRO_EVENT
                and payload.get("delivery") == row.delivery_id
            ):
                return str(message["ts"])
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not page.get("has_more") or not cursor:
            return None


async def _settle_failed_retro(services: Services, row: retros.Owed, error: Exception) -> None:
    code = error.response.get("error") if isinstance(error, SlackApiError) else None
    if code in PERMANENT_ERRORS:
        await retros.mark_retro(
            database=services.database,
            delivery_id=row.delivery_id,
            now=services.clock(),
            error=str(code),
        )
    else:
        await retros.release_retro(
            database=services.database, delivery_id=row.delivery_id, error=str(code or repr(error))
        )


async def _share_retro_chart(
    client: AsyncWebClient,
    retro: retros.Retro,
    channels: list[str],
    locale: str,
    report: RetroReport,
) -> None:
    """Upload the chart once in this language and share it to these channels; a failure is
    logged and the digests stand without it."""
    title = t(
        locale,
        "Retrospective chart · {team} · {cycle}",
        team=retro.team_name,
        cycle=retro.cycle_name,
    )
    try:
        png = await asyncio.to_thread(retro_chart, retro, locale)
    except Exception:  # the chart is optional: whatever breaks it, the digest went
        log.exception("chart of %s's retrospective could not be drawn", retro.team_name)
        return
    if png is None:
        return
    filename = f"okr-retrospective-{retro.cycle_name}-{retro.team_id}.png"
    if await _upload_chart(client, channels, png, filename, title):
        report.charts.setdefault(f"{retro.team_name}:{locale}", png)
