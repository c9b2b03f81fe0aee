"""The retrospective digest of a closed cycle (SPEC §8): each objective's final progress,
status and score with its KRs', the retrospective lines, and what carried over, for a team's
managers and its channel.

An objective is one section, its KRs a line each (at most `MAX_KRS`, the rest counted); at most
`MAX_OBJECTIVES` objectives are shown, so the message stays within Slack's 50 blocks, and each
section within 3,000 characters (`section` cuts it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bot.blocks.common import (
    MAX_SECTION,
    context,
    escape,
    header,
    kr_status_text,
    mention,
    progress_text,
    section,
)
from bot.blocks.message import Message
from bot.i18n import format_day, format_number, t, tn
from bot.progress import KrStatus, percent
from bot.services.retros import Retro, RetroKr, RetroObjective

MAX_OBJECTIVES = 40
MAX_KRS = 10
MAX_LINES = 12
MAX_NOTE = 300
ROOM_FOR_MORE = 60  # kept in a full section for its "…and N more" line


def build_retro(retro: Retro, locale: str) -> Message:
    """The retrospective digest, the same for a manager's DM and the team's channel."""
    blocks: list[dict[str, Any]] = [
        header(
            t(
                locale,
                "Retrospective · {team} · {cycle}",
                team=retro.team_name,
                cycle=retro.cycle_name,
            )
        ),
        context(_overview(retro, locale)),
    ]
    shown = retro.objectives[:MAX_OBJECTIVES]
    blocks += [section(_objective(objective, locale)) for objective in shown]
    hidden = len(retro.objectives) - len(shown)
    if hidden:
        blocks.append(context(t(locale, "…and {count} more objectives", count=hidden)))
    if not retro.objectives:
        blocks.append(section(t(locale, "The team had no objectives in this cycle.")))
    for text in (_looking_back(retro, locale), _carried(retro, locale)):
        if text:
            blocks.append(section(text))
    return Message(text=_fallback(retro, locale), blocks=blocks)


def _fallback(retro: Retro, locale: str) -> str:
    krs = retro.key_results
    scored = tn(locale, "{count} key result scored", "{count} key results scored", len(krs))
    carried = sum(1 for kr in krs if kr.carried_to)
    return t(
        locale,
        "Retrospective of {cycle} · {team}: {scored}, {carried} carried over",
        cycle=retro.cycle_name,
        team=escape(retro.team_name),
        scored=scored,
        carried=carried,
    )


def _overview(retro: Retro, locale: str) -> str:
    parts = [
        t(
            locale,
            "{cycle} closed on {day}",
            cycle=retro.cycle_name,
            day=format_day(retro.closed_at.date(), locale),
        ),
        t(
            locale,
            "scores from 0 to 1; _suggested_: nobody scored it, so it keeps okrbot's suggestion",
        ),
    ]
    return " · ".join(parts)


def _score_text(score: float | None, suggested: bool, locale: str) -> str:
    if score is None:
        return t(locale, "no score")
    text = t(locale, "score {score}", score=format_number(score, locale))
    if not suggested:
        return text
    marked = t(locale, "suggested")
    return f"{text} _({marked})_"


def _status(status: str | None, locale: str) -> str | None:
    return kr_status_text(KrStatus(status), locale) if status in set(KrStatus) else None


def _objective(objective: RetroObjective, locale: str) -> str:
    facts = [
        progress_text(objective.progress, objective.progress > 1, locale)
        if objective.progress is not None
        else "—",
        _status(objective.status, locale),
        _score_text(objective.score, False, locale) if objective.score is not None else None,
    ]
    head = f"*{escape(objective.title)}* · " + " · ".join(f for f in facts if f)
    if not objective.krs:
        return "\n".join([head, t(locale, "No key results of its own.")])
    lines = [_kr_line(kr, locale) for kr in objective.krs]
    return _fitted(
        head, lines, MAX_KRS, lambda n: t(locale, "…and {count} more key results", count=n)
    )


def _kr_line(kr: RetroKr, locale: str) -> str:
    done = f"{percent(kr.progress)}%"
    if kr.progress > 1:
        done += " " + t(locale, "(exceeded)")
    parts = [f"`{kr.short_id}` {escape(kr.title)}", done]
    status = _status(kr.status, locale)
    if status:
        parts.append(status)
    parts.append(_score_text(kr.score, kr.suggested, locale))
    if kr.carried_to:
        parts.append(t(locale, "carried over as `{kr}`", kr=kr.carried_to))
    return "• " + " · ".join(parts)


def _fitted(head: str, lines: Sequence[str], most: int, more: Callable[[int], str]) -> str:
    """`head` and at most `most` of `lines`, as many as fit in a section with room for the
    line that counts the rest."""
    shown: list[str] = []
    size = len(head)
    for line in lines[:most]:
        if size + 1 + len(line) > MAX_SECTION - ROOM_FOR_MORE:
            break
        shown.append(line)
        size += 1 + len(line)
    hidden = len(lines) - len(shown)
    return "\n".join([head, *shown, *([more(hidden)] if hidden else [])])


def _listing(title: str, lines: Sequence[str], locale: str) -> str | None:
    if not lines:
        return None
    return _fitted(
        f"*{title}*", lines, MAX_LINES, lambda n: t(locale, "…and {count} more", count=n)
    )


def _looking_back(retro: Retro, locale: str) -> str | None:
    """The retrospective lines the owners wrote with their scores."""
    lines = []
    for kr in retro.key_results:
        if kr.note:
            note = kr.note if len(kr.note) <= MAX_NOTE else kr.note[: MAX_NOTE - 1] + "…"
            lines.append(f"`{kr.short_id}` {mention(kr.owner_id)}: _{escape(note)}_")
    return _listing(t(locale, "Looking back"), lines, locale)


def _carried(retro: Retro, locale: str) -> str | None:
    lines = [
        f"`{kr.short_id}` → `{kr.carried_to}` {escape(kr.title)}"
        for kr in retro.key_results
        if kr.carried_to
    ]
    if not lines:
        return None
    title = t(locale, "Carried into {cycle}", cycle=retro.next_cycle or "—")
    return _listing(title, lines, locale)
