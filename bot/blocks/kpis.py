"""`/kpi status`: each KPI with its latest value, target, status and a sparkline trend."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.blocks.common import (
    MAX_BLOCKS,
    amount,
    context,
    escape,
    header,
    kpi_status_text,
    mention,
    section,
)
from bot.blocks.message import Message
from bot.i18n import N_, t
from bot.progress import Trend, sparkline
from bot.services.kpis import KpiView

TREND_TEXT = {
    Trend.IMPROVING: N_("improving"),
    Trend.WORSENING: N_("worsening"),
    Trend.STEADY: N_("steady"),
    Trend.UNKNOWN: N_("no trend yet"),
}


def kpi_line(kpi: KpiView, locale: str) -> str:
    """`*Average reply time* 5.2 h (2026-10) · target 4 h · 🟡 warn · ▇▄ improving · @Carol`."""
    target = t(locale, "target {value}", value=amount(kpi.target, kpi.unit, locale))
    if kpi.latest is None or kpi.status is None:
        nothing = t(locale, "no value logged yet")
        return f"*{escape(kpi.name)}* — {nothing} · {target}"
    period, value = kpi.latest
    spark = sparkline([v for _, v in kpi.series])
    return (
        f"*{escape(kpi.name)}* {amount(value, kpi.unit, locale)} ({period}) · {target} · "
        f"{kpi_status_text(kpi.status, locale)} · `{spark}` {t(locale, TREND_TEXT[kpi.trend])} · "
        f"{mention(kpi.owner_id)}"
    )


def build_kpi_status(
    kpis: Sequence[KpiView], team_names: Mapping[int, str], locale: str
) -> Message:
    """KPIs grouped by team, within Slack's block limit."""
    blocks: list[dict[str, Any]] = []
    for team_id, name in team_names.items():
        lines = [kpi_line(kpi, locale) for kpi in kpis if kpi.team_id == team_id]
        blocks.append(header(t(locale, "KPIs · {team}", team=name)))
        blocks.append(section("\n".join(lines) if lines else t(locale, "No KPIs yet.")))
    if len(blocks) > MAX_BLOCKS:
        blocks = blocks[: MAX_BLOCKS - 1]
        blocks.append(context(t(locale, "More KPIs are in the okrbot App Home.")))
    teams = ", ".join(team_names.values())
    return Message(text=t(locale, "KPI status: {teams}", teams=teams), blocks=blocks)
