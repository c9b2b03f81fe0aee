"""The scoring DM (SPEC §8) and the answer to a reply with scores: pure builders, in the
owner's language with numbers in their locale."""

from __future__ import annotations

from bot.blocks.common import clip, context, escape, header, section
from bot.blocks.message import Message
from bot.i18n import format_number, t
from bot.progress import percent
from bot.services.scoring import ScoresTaken, ScoringDelivery, ScoringItem

_MAX_ITEMS = 40  # a section per KR; Slack takes 50 blocks


def _item_line(item: ScoringItem, locale: str) -> str:
    return t(
        locale,
        "*{n}.* `{kr}` {title} — {progress}%, suggested score {suggested}",
        n=item.n,
        kr=item.short_id,
        title=escape(item.title),
        progress=percent(item.progress),
        suggested=format_number(item.suggested, locale),
    )


def build_scoring_prompt(delivery: ScoringDelivery, locale: str) -> Message:
    """Each of the owner's KRs with progress and a suggested score, and how to reply."""
    title = t(locale, "Time to score {cycle}", cycle=delivery.cycle_name)
    how = t(
        locale,
        "Reply with a score from 0 to 1 and a line of retrospective for each, e.g. "
        "`1: 0.7 - launched late` or `2: 80%`; `as suggested` takes every suggestion.",
    )
    blocks = [header(title)]
    blocks += [section(_item_line(item, locale)) for item in delivery.items[:_MAX_ITEMS]]
    blocks.append(context(how))
    return Message(text=title, blocks=blocks)


def build_scores_taken(taken: ScoresTaken, locale: str) -> Message:
    """What a reply scored, what could not be read (with an example), what was refused."""
    lines = []
    for item, score, note in taken.recorded:
        line = f"`{item.short_id}` {escape(item.title)}: *{format_number(score, locale)}*"
        lines.append(line + (f" — {escape(note)}" if note else ""))
    if lines:
        text = t(locale, "Scores recorded for {cycle}:", cycle=taken.cycle_name)
    else:
        text = t(locale, "No score recorded.")
    blocks = [section(clip("\n".join([text, *lines])))]
    for fragment in taken.unread[:5]:
        blocks.append(
            context(
                t(
                    locale,
                    "I couldn't read `{fragment}`: write it as `1: 0.7 - launched late`.",
                    fragment=escape(fragment[:150]),
                )
            )
        )
    blocks += [context(t(locale, closed.msgid, **closed.params)) for closed in taken.refused]
    return Message(text=text, blocks=blocks)
