"""The check-in DM, its reminder, the confirmation of a reply (with *Undo*) and what *Undo*
leaves behind: pure builders, in the member's language with numbers in their locale."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.blocks import ids
from bot.blocks.common import (
    amount,
    context,
    escape,
    header,
    kpi_status_text,
    kr_status_text,
    progress_text,
    section,
)
from bot.blocks.message import Message
from bot.i18n import N_, t
from bot.progress import KpiStatus, KrStatus
from bot.services.checkins import CheckinItem, Refusal, ReplyResult
from bot.services.updates import Change

INITIATIVE_STATUS_TEXT = {
    "planned": N_("planned"),
    "in_progress": N_("in progress"),
    "done": N_("done"),
    "dropped": N_("dropped"),
}
_SECTION_CHARS = 2900
_MAX_UNREAD = 5


def initiative_status(status: str | None, locale: str) -> str:
    return t(locale, INITIATIVE_STATUS_TEXT.get(status or "", status or "—"))


# -- the prompt ------------------------------------------------------------------------------


def item_line(item: CheckinItem, locale: str) -> str:
    """One numbered item as the prompt lists it."""
    number = f"*{item.n}.*"
    if item.kind == "kr":
        return f"{number} `{item.short_id}` {escape(item.title)}\n{_kr_state(item, locale)}"
    if item.kind == "kpi":
        kpi = t(locale, "KPI")
        return f"{number} {kpi} {escape(item.title)}\n{_kpi_state(item, locale)}"
    status = initiative_status(item.status, locale)
    return f"{number} {escape(item.title)} ({item.short_id})\n{status}"


def _kr_state(item: CheckinItem, locale: str) -> str:
    values = t(
        locale,
        "now {current}, target {target}",
        current=amount(item.last or 0.0, item.unit, locale),
        target=amount(item.target or 0.0, item.unit, locale),
    )
    bar = progress_text(item.progress or 0.0, item.exceeded, locale)
    return f"{values} · {bar} · {kr_status_text(KrStatus(item.status), locale)}"


def _kpi_state(item: CheckinItem, locale: str) -> str:
    target = amount(item.target or 0.0, item.unit, locale)
    if item.last is None:
        values = t(locale, "no value yet, target {target}", target=target)
    else:
        last = amount(item.last, item.unit, locale)
        values = t(locale, "last {last}, target {target}", last=last, target=target)
    status = f" · {kpi_status_text(KpiStatus(item.status), locale)}" if item.status else ""
    period = t(locale, "for {period}", period=item.period) if item.period else ""
    return f"{values}{status} · {period}".rstrip(" ·")


def _item_sections(items: Sequence[CheckinItem], locale: str) -> list[dict[str, Any]]:
    """The item lines, packed into as few sections as Slack's section limit allows."""
    sections: list[str] = []
    for line in (item_line(item, locale) for item in items):
        if sections and len(sections[-1]) + len(line) + 2 <= _SECTION_CHARS:
            sections[-1] += "\n\n" + line
        else:
            sections.append(line)
    return [section(text) for text in sections]


def how_to_reply(items: Sequence[CheckinItem], locale: str) -> list[str]:
    """The two lines under a prompt: how to answer, with examples using the member's items."""
    example = _example(items, locale)
    return [
        t(
            locale,
            "Reply here in plain text, one line per item or all on one line, e.g. {example}.",
            example=example,
        ),
        t(locale, "Nothing moved? Say `no change`. Want to skip this week? Say `skip`."),
    ]


def _example(items: Sequence[CheckinItem], locale: str) -> str:
    metric = next((item for item in items if item.kind != "initiative"), None)
    parts = []
    if metric is not None:
        value = amount(metric.last or 0.0, "", locale)
        parts.append(t(locale, "`{n}: {value}, conf 8`", n=metric.n, value=value))
    initiative = next((item for item in items if item.kind == "initiative"), None)
    if initiative is not None:
        parts.append(t(locale, "`{n}: done`", n=initiative.n))
    return " · ".join(parts) or t(locale, "`1: 74, conf 8`")


def build_prompt(items: Sequence[CheckinItem], locale: str, *, team_name: str) -> Message:
    """The check-in DM: the member's items numbered, and how to reply."""
    title = t(locale, "Check-in · {team}", team=team_name) if team_name else t(locale, "Check-in")
    intro = t(locale, "Time for your check-in. Where do these stand?")
    blocks = [header(title), section(intro), *_item_sections(items, locale)]
    blocks.append(context("\n".join(how_to_reply(items, locale))))
    return Message(text=f"{title}: {intro}", blocks=blocks)


def build_reminder(items: Sequence[CheckinItem], locale: str, *, team_name: str) -> Message:
    """The one reminder to a member who has not answered yet."""
    text = t(locale, "A reminder: your check-in for {team} is still open.", team=team_name)
    blocks = [section(":bell: " + text), *_item_sections(items, locale)]
    blocks.append(context("\n".join(how_to_reply(items, locale))))
    return Message(text=text, blocks=blocks)


# -- the confirmation ------------------------------------------------------------------------


def change_line(change: Change, locale: str) -> str:
    """`KR-1 NPS: 74 → 76 points · 60% · on track`, a KPI, or an initiative's move."""
    label = f"*{escape(change.label)}*"
    if change.kind == "initiative":
        old = initiative_status(str(change.old), locale)
        return f"{label}: {old} → {initiative_status(str(change.new), locale)}"
    line = f"{label}: {_old_new(change, locale)}"
    if change.kind == "kr" and change.progress is not None:
        line += f" · {progress_text(change.progress, change.progress > 1, locale)}"
    if change.status is not None:
        status = change.status
        text = (
            kr_status_text(KrStatus(status), locale)
            if change.kind == "kr"
            else kpi_status_text(KpiStatus(status), locale)
        )
        line += f" · {text}"
    if change.via_kpi:
        line += " " + t(locale, "(via KPI {kpi})", kpi=escape(change.via_kpi))
    return line


def _old_new(change: Change, locale: str) -> str:
    new = _value(change.new, change.unit, locale)
    if change.old is None:
        return new
    if change.new is None:
        return t(locale, "{old} taken back", old=_value(change.old, change.unit, locale))
    if change.old == change.new:
        return t(locale, "{value} (unchanged)", value=new)
    return f"{_value(change.old, change.unit, locale)} → {new}"


def _value(value: float | str | None, unit: str, locale: str) -> str:
    return amount(value, unit, locale) if isinstance(value, float | int) else "—"


def build_confirmation(result: ReplyResult, locale: str, *, edited: bool = False) -> Message:
    """The answer in a reply's thread: what was recorded, what could not be read, and *Undo*."""
    if not result.items:
        text = t(
            locale,
            "You have no key results, KPIs or open initiatives to check in on right now, so "
            "I recorded nothing. If that is wrong, ask your team's manager.",
        )
        return Message(text=text, blocks=[section(text)])
    if result.read_nothing:
        return _unreadable(result, locale)
    lines = _summary_lines(result, locale, edited=edited)
    blocks = [section("\n".join(lines))]
    problems = _unread_lines(result, locale) + _refused_lines(result, locale)
    blocks += [context(line) for line in problems]
    if result.changes:
        blocks.append(undo_button(result.reply_id, locale))
    return Message(text=lines[0], blocks=blocks)


def _summary_lines(result: ReplyResult, locale: str, *, edited: bool) -> list[str]:
    if result.skipped:
        return [t(locale, "Skipped this week. Thanks for letting me know!")]
    if not result.changes and not result.no_change:
        return [
            t(
                locale,
                "I wasn't sure how to read part of that, so I recorded nothing of it yet: "
                "please answer my question below.",
            )
        ]
    first = (
        t(locale, "Updated from your edited reply:")
        if edited
        else t(locale, "Recorded from your check-in:")
    )
    lines = [first, *(change_line(change, locale) for change in result.changes)]
    if result.no_change:
        lines.append(t(locale, "Noted: no change since last time."))
    return lines


def _unread_lines(result: ReplyResult, locale: str) -> list[str]:
    example = _example(result.items, locale)
    return [
        t(
            locale,
            "I couldn't read “{text}”, so I recorded nothing from it. Write it like {example}.",
            text=escape(fragment[:200]),
            example=example,
        )
        for fragment in result.unread[:_MAX_UNREAD]
    ]


def refusal_line(refusal: Refusal, locale: str) -> str:
    """Why a reply's line about an item recorded nothing: its cycle closed, or it changed
    hands since the prompt."""
    if refusal.closed is not None:
        return t(locale, refusal.closed.msgid, **refusal.closed.params)
    item = escape(refusal.title)
    return t(locale, "I couldn't change {item}: it is no longer yours to update.", item=item)


def _refused_lines(result: ReplyResult, locale: str) -> list[str]:
    return [refusal_line(refusal, locale) for refusal in result.refused]


def _unreadable(result: ReplyResult, locale: str) -> Message:
    text = t(
        locale,
        "I couldn't read an update in that, so nothing was recorded. "
        "Reply with the item's number and its new value, e.g. {example}.",
        example=_example(result.items, locale),
    )
    blocks = [section(text), *(context(line) for line in _refused_lines(result, locale))]
    blocks.append(context("\n".join(item_line(item, locale) for item in result.items)))
    return Message(text=text, blocks=blocks)


def undo_button(reply_id: int, locale: str) -> dict[str, Any]:
    return {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "action_id": ids.CHECKIN_UNDO,
                "text": {"type": "plain_text", "text": t(locale, "Undo")},
                "value": str(reply_id),
            }
        ],
    }


def build_undone(changes: Sequence[Change], locale: str) -> Message:
    """What stands in place of a confirmation after *Undo*: what was put back."""
    if not changes:
        text = t(locale, "Nothing to undo: this reply's updates were already taken back.")
        return Message(text=text, blocks=[section(text)])
    text = t(locale, "Undone. I put back:")
    lines = [text, *(change_line(change, locale) for change in changes)]
    return Message(text=text, blocks=[section("\n".join(lines))])
