"""KPI alerts: a threshold crossing is told at once to the team's channel and managers, with
the value, the target and the trend; a repeat is not; recovery is."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlmodel import select

from bot.blocks.alerts import build_kpi_alert
from bot.blocks.render import render
from bot.domain import Source
from bot.notify import announce_kpi_changes
from bot.progress import KpiStatus, Trend
from bot.sandbox import Sandbox, blocks_of, sandbox
from bot.seed import load_seed
from bot.services.alerts import KpiAlert, claim_in
from bot.services.digests import KpiLine, Recipient
from bot.services.updates import Actor, log_kpi
from bot.standin.validation import message_problems
from storage.models import Kpi

NOW = dt.datetime(2026, 11, 17, 5, 0, tzinfo=dt.UTC)
WS = "T0DEMO"


@pytest.fixture
async def box(db_url: str) -> AsyncIterator[Sandbox]:
    async with sandbox(db_url, clock=lambda: NOW, migrate=False) as box:
        await load_seed(box)
        yield box


async def kpi(box: Sandbox, name: str) -> Kpi:
    async with box.database.session() as session:
        return (await session.exec(select(Kpi).where(Kpi.name == name))).one()


async def log(box: Sandbox, name: str, value: float, user_id: str = "U0ALICE") -> None:
    """Log a KPI as `/kpi log` does, then announce what it changed."""
    found = await kpi(box, name)
    changes = await log_kpi(
        database=box.database,
        actor=Actor(WS, user_id, Source.COMMAND),
        kpi_id=found.id or 0,
        value=value,
        now=NOW,
    )
    await announce_kpi_changes(box.client, box.services, WS, changes)


def alerts_to(box: Sandbox, channel: str) -> list[str]:
    """What the channel or DM received (these tests send nothing but alerts)."""
    return [
        render(blocks_of(call), {})
        for call in box.standin.calls_to("chat.postMessage")
        if call.params.get("channel") == channel
    ]


async def test_crossing_into_off_is_told_once_and_recovery_too(box: Sandbox) -> None:
    await log(box, "Net promoter score", 69)  # 74 (ok) -> 69: below the warn threshold 70
    (alert,) = alerts_to(box, "C0CS")
    assert "Net promoter score is off target" in alert
    assert "69 points · target 75 points · warn at 70 points" in alert and "worsening" in alert
    assert alerts_to(box, "D0MANAGER") == [alert]

    await log(box, "Net promoter score", 68)  # still off: no storm
    assert len(alerts_to(box, "C0CS")) == 1

    await log(box, "Net promoter score", 72)  # off -> warn
    await log(box, "Net promoter score", 76)  # warn -> ok
    texts = alerts_to(box, "C0CS")
    assert len(texts) == 3
    assert "moved into the warning zone" in texts[1] and "back on target" in texts[2]
    assert (await kpi(box, "Net promoter score")).alert_state == KpiStatus.OK


async def test_a_kpi_already_in_warn_is_not_announced_again(box: Sandbox) -> None:
    await log(box, "Tickets per month", 1190, user_id="U0CAROL")  # 1180 (warn) -> 1190 (warn)
    assert alerts_to(box, "C0SUPPORT") == []
    assert (await kpi(box, "Tickets per month")).alert_state == KpiStatus.WARN
    await log(box, "Tickets per month", 990, user_id="U0CAROL")
    (recovered,) = alerts_to(box, "C0SUPPORT")
    assert "Tickets per month is back on target" in recovered


async def test_managers_read_alerts_in_their_language(box: Sandbox) -> None:
    await log(box, "Tickets per month", 1240, user_id="U0CAROL")  # warn -> off (1,200 is warn)
    (to_rina,) = alerts_to(box, "D0RINA")  # Rina's Slack locale is id-ID
    assert "1.240 tickets" in to_rina and "1.000 tickets" in to_rina


async def test_a_kpi_without_channel_still_tells_its_managers(box: Sandbox) -> None:
    await log(box, "Web traffic", 39000, user_id="U0GITA")  # Marketing has no channel
    (alert,) = alerts_to(box, "D0RINA")
    assert "39.000 visits" in alert


async def test_racing_writers_claim_one_alert(box: Sandbox) -> None:
    nps = await kpi(box, "Net promoter score")
    results = await asyncio.gather(
        *(
            log_kpi(
                database=box.database,
                actor=Actor(WS, "U0ALICE", Source.COMMAND),
                kpi_id=nps.id or 0,
                value=60 - n,
                now=NOW,
            )
            for n in range(4)
        )
    )
    won = [change.alert for changes in results for change in changes if change.alert]
    assert len(won) == 1 and won[0].after is KpiStatus.OFF


async def test_other_workspaces_kpis_are_left_alone(box: Sandbox) -> None:
    nps = await kpi(box, "Net promoter score")
    found = await box.database.transact(lambda s: claim_in(s, "T0OTHER", {nps.id or 0: 0.0}))
    assert found == {} and (await kpi(box, "Net promoter score")).alert_state is None


def sample_alert(after: KpiStatus, name: str = "Tickets <!channel>") -> KpiAlert:
    line = KpiLine(
        name=name,
        unit="tickets",
        target=1000,
        warn=1200,
        status=after,
        periods=("2026-09", "2026-10", "2026-11"),
        values=(1310.0, 1240.0, 1250.5),
        trend=Trend.WORSENING,
    )
    return KpiAlert(line, KpiStatus.WARN, "Support", (Recipient("C0SUPPORT", None, True),))


HEADLINES = {
    KpiStatus.OK: "is back on target",
    KpiStatus.WARN: "moved into the warning zone",
    KpiStatus.OFF: "is off target",
}


@pytest.mark.parametrize("after", list(KpiStatus))
def test_alert_message_says_value_target_and_trend(after: KpiStatus) -> None:
    message = build_kpi_alert(sample_alert(after), "en")
    assert message_problems(message.as_kwargs()) is None
    text = render(message.blocks, {})
    assert f"Tickets <!channel> {HEADLINES[after]}" in text
    assert "1,250.5 tickets · target 1,000 tickets · warn at 1,200 tickets · █▁▂ worsening" in text
    assert "Support · period 2026-11" in text


def test_alert_message_escapes_names_and_reads_indonesian_numbers() -> None:
    message = build_kpi_alert(sample_alert(KpiStatus.OFF), "id")
    assert "<!channel>" not in str(message.as_kwargs())
    assert "&lt;!channel&gt;" in message.blocks[0]["text"]["text"]
    assert "1.250,5 tickets" in render(message.blocks, {})
