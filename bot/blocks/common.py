"""Small pieces every Block Kit builder shares: escaping, numbers, status words, limits."""

from __future__ import annotations

from typing import Any

from bot.i18n import N_, format_number, t
from bot.progress import KpiStatus, KrStatus, bar, percent

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150

KR_STATUS_TEXT = {
    KrStatus.ON_TRACK: (":large_green_circle:", N_("on track")),
    KrStatus.AT_RISK: (":large_yellow_circle:", N_("at risk")),
    KrStatus.OFF_TRACK: (":red_circle:", N_("off track")),
}
KPI_STATUS_TEXT = {
    KpiStatus.OK: (":large_green_circle:", N_("ok")),
    KpiStatus.WARN: (":large_yellow_circle:", N_("warn")),
    KpiStatus.OFF: (":red_circle:", N_("off target")),
}


def escape(text: str | None) -> str:
    """Text a person typed, made inert for mrkdwn: `<!channel>` never pings anyone."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mention(user_id: str | None) -> str:
    """A user mention the bot renders itself (ids are validated, never typed text)."""
    return f"<@{user_id}>" if user_id and user_id.isalnum() else "—"


def amount(value: float, unit: str, locale: str) -> str:
    """`1.240,5 tickets`, `$1,050`, `10.5%`: a value with its unit, in the reader's format."""
    number = format_number(value, locale)
    unit = escape(unit)
    if unit in {"$", "€", "£", "Rp"}:
        return f"{unit}{number}" if unit != "Rp" else f"Rp {number}"
    if unit in {"%", "h", "m", "d"}:
        return f"{number}{unit}" if unit == "%" else f"{number} {unit}"
    return f"{number} {unit}".strip()


def kr_status_text(status: KrStatus, locale: str) -> str:
    emoji, label = KR_STATUS_TEXT[status]
    return f"{emoji} {t(locale, label)}"


def kpi_status_text(status: KpiStatus, locale: str) -> str:
    emoji, label = KPI_STATUS_TEXT[status]
    return f"{emoji} {t(locale, label)}"


def progress_text(progress: float, exceeded: bool, locale: str) -> str:
    """`▓▓▓▓░░░░░░ 40%`, or `… 100% (exceeded)` past the target."""
    text = f"`{bar(progress)}` {percent(progress)}%"
    return text + " " + t(locale, "(exceeded)") if exceeded else text


def clip(text: str, limit: int = MAX_SECTION) -> str:
    """Keep a text within a Block Kit limit, marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text)}}


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": clip(text, MAX_HEADER)}}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text)}]}


def divider() -> dict[str, Any]:
    return {"type": "divider"}
