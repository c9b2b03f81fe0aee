"""`/okr status`: each team's objectives, their key results, progress and status."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from bot.blocks import ids
from bot.blocks.common import (
    MAX_BLOCKS,
    amount,
    context,
    divider,
    escape,
    header,
    kr_status_text,
    mention,
    progress_text,
    section,
)
from bot.blocks.message import Message
from bot.i18n import t
from bot.progress import percent
from bot.services.okrs import KrView, ObjectiveView, TeamStatus

# Room kept at the end of a long message for the "more in App Home" note and the button.
_RESERVED = 3


def kr_line(kr: KrView, locale: str) -> str:
    """One key result: id, title, bar, percent, current/target, status and owner."""
    values = f"{amount(kr.current, kr.unit, locale)} / {amount(kr.target, kr.unit, locale)}"
    return (
        f"`{kr.short_id}` {escape(kr.title)}\n"
        f"{progress_text(kr.progress, kr.exceeded, locale)} · {values} · "
        f"{kr_status_text(kr.status, locale)} · {mention(kr.owner_id)}"
    )


def _objective_text(objective: ObjectiveView, locale: str) -> str:
    title, owner = escape(objective.title), mention(objective.owner_id)
    if objective.progress is None:  # nothing to average: no progress, not 0%
        head = t(locale, "*{title}* — `—` · owner {owner}", title=title, owner=owner)
    else:
        percentage = percent(objective.progress)
        head = t(
            locale,
            "*{title}* — {percent}% · owner {owner}",
            title=title,
            percent=percentage,
            owner=owner,
        )
    lines = [head]
    if objective.serves is not None:
        lines.append(serves_line(objective.serves, objective.serves_id, locale))
    lines += [kr_line(kr, locale) for kr in objective.key_results]
    return "\n".join(lines)


def serves_line(title: str, objective_id: int | None, locale: str) -> str:
    """What an objective is aligned to: `↳ serves O-1 Grow a healthy, loved business`."""
    served = f"`O-{objective_id}` {escape(title)}"
    return "↳ " + t(locale, "serves {objective}", objective=served)


@lru_cache(maxsize=256)
def _team_blocks(status: TeamStatus, locale: str) -> tuple[dict[str, Any], ...]:
    """One team's blocks. Kept per (status, locale): most statuses are asked again of data that
    has not changed, and the blocks are never changed once built."""
    return tuple(_build_team_blocks(status, locale))


def _build_team_blocks(status: TeamStatus, locale: str) -> list[dict[str, Any]]:
    title = f"{status.team_name} · {status.cycle_name}" if status.cycle_name else status.team_name
    blocks = [header(title)]
    if not status.objectives:
        blocks.append(section(t(locale, "No objectives yet for this cycle.")))
        return blocks
    blocks.append(
        context(t(locale, "Expected progress today: {percent}%", percent=percent(status.expected)))
    )
    blocks += [section(_objective_text(objective, locale)) for objective in status.objectives]
    return blocks


def build_status(
    statuses: Sequence[TeamStatus], locale: str, *, shareable: bool = False
) -> Message:
    """The status summary of one or more teams, within Slack's 50-block limit."""
    blocks: list[dict[str, Any]] = []
    for status in statuses:
        if blocks:
            blocks.append(divider())
        blocks += _team_blocks(status, locale)
    limit = MAX_BLOCKS - _RESERVED
    if len(blocks) > limit:
        hidden = len(blocks) - limit
        blocks = blocks[:limit]
        blocks.append(
            context(t(locale, "{count} more sections are in the okrbot App Home.", count=hidden))
        )
    if shareable:
        blocks.append(_share_button(statuses, locale))
    names = ", ".join(status.team_name for status in statuses)
    return Message(text=t(locale, "OKR status: {teams}", teams=names), blocks=blocks)


def _share_button(statuses: Sequence[TeamStatus], locale: str) -> dict[str, Any]:
    """Shares what was shown: the teams, and the cycle (`3,5@2026-Q3`), which may be past."""
    value = ",".join(str(status.team_id) for status in statuses)
    cycle = statuses[0].cycle_name if statuses else None
    if cycle:
        value += f"@{cycle}"
    return {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "action_id": ids.SHARE_STATUS,
                "text": {"type": "plain_text", "text": t(locale, "Share in channel")},
                "value": value,
            }
        ],
    }
