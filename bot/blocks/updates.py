"""Answers to `/okr update`, `/kpi log`, `/okr mine` and `/okr history`."""

from __future__ import annotations

import math
from collections.abc import Sequence

from bot.blocks.common import (
    amount,
    context,
    escape,
    kpi_status_text,
    kr_status_text,
    mention,
    progress_text,
    section,
)
from bot.blocks.message import Message
from bot.blocks.status import kr_line
from bot.i18n import N_, format_day, format_number, t, tn
from bot.progress import KpiStatus, KrStatus
from bot.services.okrs import HistoryEntry, InitiativeView, KeyResult, KrView, Mine
from bot.services.scoring import Scored
from bot.services.updates import Change

SOURCE_TEXT = {
    "dm": N_("check-in DM"),
    "command": N_("/okr update"),
    "home": N_("App Home"),
    "kpi": N_("KPI link"),
    "import": N_("import"),
    "undo": N_("undo"),
}
INITIATIVE_TEXT = {
    "planned": N_("planned"),
    "in_progress": N_("in progress"),
    "done": N_("done"),
    "dropped": N_("dropped"),
}


def _value(value: float | str | None, unit: str, locale: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return t(locale, INITIATIVE_TEXT.get(value, value))
    return amount(value, unit, locale)


def change_line(change: Change, locale: str) -> str:
    """`KR-1 Increase NPS…: 74 → 76 points · ▓▓▓▓▓▓░░░░ 60% · 🟢 on track`."""
    line = (
        f"*{escape(change.label)}*: {_value(change.old, change.unit, locale)} → "
        f"{_value(change.new, change.unit, locale)}"
    )
    if change.progress is not None:
        line += f" · {progress_text(change.progress, change.progress > 1, locale)}"
    if isinstance(change.status, KrStatus):
        line += f" · {kr_status_text(change.status, locale)}"
    elif isinstance(change.status, KpiStatus):
        line += f" · {kpi_status_text(change.status, locale)}"
    if change.via_kpi:
        line += " · " + t(locale, "moved with KPI {kpi}", kpi=escape(change.via_kpi))
    return line


def build_changes(changes: Sequence[Change], locale: str) -> Message:
    """What a command recorded, one line per change."""
    lines = [change_line(change, locale) for change in changes]
    title = tn(locale, "Recorded {count} change.", "Recorded {count} changes.", len(changes))
    return Message(text=title, blocks=[section(title + "\n" + "\n".join(lines))])


def build_scored(scored: Scored, locale: str) -> Message:
    """What `/okr score` recorded: the score beside okrbot's suggestion, and the note."""
    text = t(
        locale,
        "Scored {kr} *{title}*: {score} (suggested {suggested}).",
        kr=scored.short_id,
        title=escape(scored.title),
        score=format_number(scored.score, locale),
        suggested=format_number(scored.suggested, locale),
    )
    if scored.note:
        text += "\n" + t(locale, "Retrospective: {note}", note=escape(scored.note))
    return Message(text=text, blocks=[section(text)])


def initiatives_text(initiatives: Sequence[InitiativeView], locale: str) -> str:
    """`*Your initiatives*` and one line per initiative with its KR and status."""
    lines = [
        f"• {escape(i.title)} ({i.kr_short_id}) — {_value(i.status, '', locale)}"
        for i in initiatives
    ]
    return "*" + t(locale, "Your initiatives") + "*\n" + "\n".join(lines)


def build_mine(mine: Mine, locale: str) -> Message:
    """`/okr mine`: the caller's key results and initiatives."""
    if not mine.key_results and not mine.initiatives:
        text = t(locale, "You don't own any key results or initiatives in this cycle.")
        return Message(text=text, blocks=[section(text)])
    blocks = [section("*" + t(locale, "Your key results") + "*")]
    blocks += [section(kr_line(kr, locale)) for kr in mine.key_results[:40]]
    if mine.initiatives:
        blocks.append(section(initiatives_text(mine.initiatives, locale)))
    if mine.key_results:
        blocks.append(context(_update_hint(mine.key_results[0], locale)))
    return Message(text=t(locale, "Your key results and initiatives"), blocks=blocks)


def example_value(kr: KrView, locale: str) -> str:
    """A value the KR might take next, for examples: a tenth of the way on toward its target
    (the target when that is closer, the current value once it is reached), in the reader's
    number format."""
    remaining, step = kr.target - kr.current, (kr.target - kr.start) / 10
    value = kr.current
    if step and remaining / step > 0:  # not there yet
        value = kr.current + step if abs(step) < abs(remaining) else kr.target
    digits = min(2, max(0, -math.floor(math.log10(abs(step))))) if step else 2
    return format_number(round(value, digits), locale, digits=digits)


def _update_hint(kr: KrView, locale: str) -> str:
    """`Update one with /okr update KR-2 5`: the reader's own KR and a plausible value."""
    value = example_value(kr, locale)
    return t(locale, "Update one with `/okr update {kr} {value}`.", kr=kr.short_id, value=value)


def _history_line(entry: HistoryEntry, unit: str, locale: str) -> str:
    source = t(locale, SOURCE_TEXT.get(entry.source, entry.source))
    line = (
        f"{format_day(entry.at.date(), locale)} · {mention(entry.author_id)} · {source}"
        f" · {_value(entry.old, unit, locale)} → {_value(entry.new, unit, locale)}"
    )
    if entry.confidence is not None:
        line += " · " + t(locale, "confidence {value}/10", value=entry.confidence)
    if entry.note:
        line += f" · _{escape(entry.note)}_"
    return f"~{line}~ " + t(locale, "(undone)") if entry.reverted else line


def build_history(
    kr: KeyResult, entries: Sequence[HistoryEntry], total: int, locale: str
) -> Message:
    """`/okr history KR-7`: every change, newest first."""
    title = f"*KR-{kr.number} {escape(kr.title)}*"
    if not entries:
        return Message(text=title, blocks=[section(title + "\n" + t(locale, "No changes yet."))])
    lines = [_history_line(entry, kr.unit, locale) for entry in entries]
    blocks = [section(title + "\n" + "\n".join(lines))]
    if total > len(entries):
        more = tn(
            locale,
            "{count} older change not shown.",
            "{count} older changes not shown.",
            total - len(entries),
        )
        blocks.append(context(more))
    return Message(text=t(locale, "History of KR-{number}", number=kr.number), blocks=blocks)
