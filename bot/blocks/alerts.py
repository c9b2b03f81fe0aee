"""A KPI alert: the KPI moved into `warn` or `off`, or is back on target; with the value, the
target and the trend, so nobody has to ask."""

from __future__ import annotations

from bot.blocks.common import context, escape, section
from bot.blocks.digest import kpi_facts
from bot.blocks.message import Message
from bot.i18n import N_, t
from bot.progress import KpiStatus
from bot.services.alerts import KpiAlert

HEADLINES = {
    KpiStatus.OK: (":white_check_mark:", N_("{kpi} is back on target")),
    KpiStatus.WARN: (":warning:", N_("{kpi} moved into the warning zone")),
    KpiStatus.OFF: (":red_circle:", N_("{kpi} is off target")),
}


def build_kpi_alert(alert: KpiAlert, locale: str) -> Message:
    """The message a team's channel and managers get when a KPI changes state."""
    emoji, headline = HEADLINES[alert.after]
    kpi = alert.kpi
    title = t(locale, headline, kpi=f"*{escape(kpi.name)}*")
    where = t(
        locale,
        "{team} · period {period}",
        team=escape(alert.team_name),
        period=escape(kpi.periods[-1]),
    )
    blocks = [section(f"{emoji} {title}\n{kpi_facts(kpi, locale)}"), context(where)]
    text = t(locale, headline, kpi=escape(kpi.name))
    return Message(text=t(locale, "KPI alert: {what}", what=text), blocks=blocks)
