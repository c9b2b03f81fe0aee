"""The managers' digest and the team channel report: what moved, what is slipping, who is stuck
and who has gone quiet, in one message a manager reads in thirty seconds.

Each part is one section; long lists stop after `MAX_LINES` items and point to the App Home,
so a digest stays far inside Slack's 50 blocks and 3,000 characters per section.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bot.blocks.common import (
    amount,
    context,
    escape,
    header,
    kpi_status_text,
    kr_status_text,
    mention,
    progress_text,
    section,
)
from bot.blocks.kpis import TREND_TEXT
from bot.blocks.message import Message
from bot.blocks.updates import INITIATIVE_TEXT
from bot.i18n import format_day, t, tn
from bot.progress import KpiStatus, percent, sparkline
from bot.services.digests import (
    DEFAULT_WINDOW,
    Away,
    Digest,
    Flip,
    InitiativeMove,
    KpiLine,
    Note,
    ObjectiveLine,
    Participation,
    Silent,
)
from bot.services.okrs import KrView

MAX_LINES = 8
MAX_NOTE = 200

Part = Callable[[Digest, str], str | None]


def build_digest(
    digest: Digest, locale: str, *, for_channel: bool = False, home_url: str | None = None
) -> Message:
    """The digest for a manager's DM, or (`for_channel`) the team report without the
    individual-participation part."""
    parts: list[Part] = [_objectives, _flips, _attention, _notes]
    if not for_channel:
        parts.append(_participation)
    parts += [_kpis, _initiatives]
    blocks: list[dict[str, Any]] = [
        header(t(locale, "OKR digest · {team}", team=digest.team_name)),
        context(_overview(digest, locale)),
    ]
    blocks += [section(text) for part in parts if (text := part(digest, locale))]
    blocks.append(context(_home_pointer(locale, home_url)))
    return Message(text=_fallback(digest, locale), blocks=blocks)


def _fallback(digest: Digest, locale: str) -> str:
    """The notification line: the team and how many KRs need attention."""
    count = len(digest.attention)
    needing = tn(locale, "{count} KR needs attention", "{count} KRs need attention", count)
    team = escape(digest.team_name)
    return t(locale, "OKR digest · {team}: {needing}", team=team, needing=needing)


def _overview(digest: Digest, locale: str) -> str:
    parts = [escape(digest.cycle_name)] if digest.cycle_name else []
    if digest.round is not None:
        day = format_day(digest.round.scheduled_for.date(), locale)
        parts.append(t(locale, "round of {day}", day=day))
    parts.append(t(locale, "expected progress {percent}%", percent=percent(digest.expected)))
    if digest.first:
        parts.append(t(locale, "changes in the last {days} days", days=DEFAULT_WINDOW.days))
    else:
        parts.append(t(locale, "changes since the last digest"))
    if digest.round is not None and not digest.round.closed:
        parts.append(t(locale, "the round is still open"))
    return " · ".join(parts)


def _home_pointer(locale: str, home_url: str | None) -> str:
    if home_url:
        link = t(locale, "Open okrbot's Home tab")
        return t(
            locale, "{link} for every KR, its owner and its history.", link=f"<{home_url}|{link}>"
        )
    return t(locale, "Every KR, its owner and its history are in okrbot's Home tab.")


def _listing(title: str, lines: Sequence[str], locale: str) -> str | None:
    """A bold title and at most MAX_LINES lines; the rest is counted, not shown."""
    if not lines:
        return None
    shown = list(lines[:MAX_LINES])
    hidden = len(lines) - len(shown)
    if hidden:
        shown.append(t(locale, "…and {count} more in the Home tab", count=hidden))
    return "\n".join([f"*{title}*", *shown])


def _change_text(line: ObjectiveLine, locale: str) -> str:
    """`+5 pts`, `−3 pts` or `no change`: the difference of the two percents a reader sees."""
    change = percent(line.progress) - percent(line.progress - line.change)
    if change > 0:
        return t(locale, "+{points} pts", points=change)
    if change < 0:
        return t(locale, "−{points} pts", points=-change)
    return t(locale, "no change")


def _objectives(digest: Digest, locale: str) -> str | None:
    lines = [
        f"{progress_text(line.progress, False, locale)} *{escape(line.title)}* · "
        f"{_change_text(line, locale)}"
        for line in digest.objectives
    ]
    if not lines:
        return t(locale, "No objectives yet for this cycle.")
    return _listing(t(locale, "Objectives"), lines, locale)


def _kr_label(kr: KrView) -> str:
    return f"`{kr.short_id}` {escape(kr.title)}"


def _flip_line(flip: Flip, locale: str) -> str:
    before = kr_status_text(flip.before, locale)
    return f"{_kr_label(flip.kr)}: {before} → {kr_status_text(flip.kr.status, locale)}"


def _flips(digest: Digest, locale: str) -> str | None:
    lines = [_flip_line(flip, locale) for flip in digest.flips]
    return _listing(t(locale, "Status changes"), lines, locale)


def _attention_line(kr: KrView, digest: Digest, locale: str) -> str:
    parts = [
        _kr_label(kr),
        kr_status_text(kr.status, locale),
        t(
            locale,
            "{percent}% (expected {expected}%)",
            percent=percent(kr.progress),
            expected=percent(digest.expected),
        ),
    ]
    if kr.confidence is not None:
        parts.append(t(locale, "confidence {value}/10", value=kr.confidence))
    parts.append(mention(kr.owner_id))
    return " · ".join(parts)


def _attention(digest: Digest, locale: str) -> str | None:
    if not digest.key_results:
        return None
    if not digest.attention:
        return t(locale, "Every key result is on track, with no low confidence.")
    lines = [_attention_line(kr, digest, locale) for kr in digest.attention]
    return _listing(t(locale, "Needs attention"), lines, locale)


def _age_text(note: Note, locale: str) -> str:
    if note.age is None:
        return t(locale, "outside a round")
    if note.age == 1:
        return t(locale, "new this round")
    return tn(locale, "{count} round in a row", "{count} rounds in a row", note.age)


def _note_line(note: Note, locale: str) -> str:
    text = note.text if len(note.text) <= MAX_NOTE else note.text[: MAX_NOTE - 1] + "…"
    label = f"`{escape(note.label)}`" if note.label.startswith("KR-") else f"*{escape(note.label)}*"
    return f"{label} {mention(note.author_id)}: _{escape(text)}_ · {_age_text(note, locale)}"


def _notes(digest: Digest, locale: str) -> str | None:
    lines = [_note_line(note, locale) for note in digest.notes]
    return _listing(t(locale, "Blockers and notes"), lines, locale)


def _people(user_ids: Sequence[str]) -> str:
    return ", ".join(mention(user_id) for user_id in user_ids)


def _silent_text(silent: Silent, locale: str) -> str:
    if silent.rounds < 2:
        return mention(silent.user_id)
    rounds = tn(locale, "{count} round", "{count} rounds", silent.rounds)
    return f"{mention(silent.user_id)} ({rounds})"


def _away_text(away: Away, locale: str) -> str:
    if away.until is None:
        return mention(away.user_id)
    until = t(locale, "until {day}", day=format_day(away.until, locale))
    return f"{mention(away.user_id)} ({until})"


def _participation_lines(people: Participation, locale: str) -> list[str]:
    lines = []
    if people.replied:
        lines.append(t(locale, "Checked in: {people}", people=_people(people.replied)))
    if people.skipped:
        lines.append(t(locale, "Skipped this round: {people}", people=_people(people.skipped)))
    if people.silent:
        silent = ", ".join(_silent_text(s, locale) for s in people.silent)
        lines.append(t(locale, "No reply: {people}", people=silent))
    if people.away:
        away = ", ".join(_away_text(a, locale) for a in people.away)
        lines.append(t(locale, "Away: {people}", people=away))
    return lines


def _participation(digest: Digest, locale: str) -> str | None:
    people = digest.participation
    if people is None:
        return None
    title = t(
        locale,
        "Check-ins: {answered} of {asked} answered",
        answered=len(people.replied) + len(people.skipped),
        asked=people.asked,
    )
    lines = _participation_lines(people, locale)
    return "\n".join([f"*{title}*", *lines])


def kpi_facts(kpi: KpiLine, locale: str) -> str:
    """`1,180 tickets · target 1,000 · warn at 1,200 · ▇▅▃ improving`."""
    parts = [
        amount(kpi.value, kpi.unit, locale),
        t(locale, "target {value}", value=amount(kpi.target, kpi.unit, locale)),
    ]
    if kpi.warn is not None:
        parts.append(t(locale, "warn at {warn}", warn=amount(kpi.warn, kpi.unit, locale)))
    direction = t(locale, TREND_TEXT[kpi.trend])
    parts.append(f"`{sparkline(kpi.values)}` {direction}")
    return " · ".join(parts)


def _kpis(digest: Digest, locale: str) -> str | None:
    if not digest.kpis:
        return None
    slipping = [kpi for kpi in digest.kpis if kpi.status is not KpiStatus.OK]
    if not slipping:
        count = len(digest.kpis)
        return tn(
            locale,
            "The team's {count} KPI is on target.",
            "All {count} of the team's KPIs are on target.",
            count,
        )
    lines = [
        f"*{escape(kpi.name)}* {kpi_status_text(kpi.status, locale)} · {kpi_facts(kpi, locale)}"
        for kpi in slipping
    ]
    return _listing(t(locale, "KPIs off target"), lines, locale)


def _initiative_status(status: str, locale: str) -> str:
    label = INITIATIVE_TEXT.get(status)
    return t(locale, label) if label else escape(status)


def _move_line(move: InitiativeMove, locale: str) -> str:
    before = _initiative_status(move.before, locale)
    after = _initiative_status(move.after, locale)
    return f"{escape(move.title)} (`{move.kr_label}`): {before} → *{after}*"


def _initiatives(digest: Digest, locale: str) -> str | None:
    lines = [_move_line(move, locale) for move in digest.initiatives]
    return _listing(t(locale, "Initiatives that moved"), lines, locale)
