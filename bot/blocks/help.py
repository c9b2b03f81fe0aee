"""Usage of `/okr` and `/kpi`, with examples, in the reader's language."""

from __future__ import annotations

from bot.blocks.common import context, section
from bot.blocks.message import Message
from bot.blocks.updates import example_value
from bot.i18n import N_, t
from bot.services.okrs import KrView


def _okr_usage(example: KrView | None, locale: str) -> tuple[tuple[str, str], ...]:
    """`/okr` usage; the KR examples name the reader's own KR when there is one."""
    kr, value = "KR-7", "74"
    if example is not None:
        kr, value = example.short_id, example_value(example, locale)
    return (
        (
            "/okr status [team] [cycle]",
            N_("where the objectives of this channel's team (or yours) stand"),
        ),
        ("/okr tree [team|O-n]", N_("how objectives align, from the company down")),
        ("/okr mine", N_("your key results and initiatives")),
        (f"/okr update {kr} {value} [note]", N_("record a new value for a key result")),
        (f"/okr history {kr}", N_("every change to a key result")),
        (f"/okr score {kr} 0.7 [note]", N_("score a key result at the end of its cycle, 0 to 1")),
        ("/okr close [cycle]", N_("close a cycle and carry unfinished key results (managers)")),
        ("/okr checkin", N_("open your check-in now, in a DM")),
        ("/okr add", N_("create an objective with its key results")),
        ("/okr away 2026-12-01", N_("pause your check-ins until a date")),
    )


KPI_USAGE = (
    ("/kpi status [team]", N_("each KPI: latest value, target, status and trend")),
    ("/kpi log tickets 1180 [2026-11]", N_("record a KPI value for a period")),
    ("/kpi add", N_("create a KPI")),
)


def _lines(usage: tuple[tuple[str, str], ...], locale: str) -> str:
    return "\n".join(f"`{command}` — {t(locale, meaning)}" for command, meaning in usage)


def build_help(
    locale: str, *, unknown: str | None = None, example: KrView | None = None
) -> Message:
    """The help text; `unknown` is a word the user typed that okrbot did not understand, and
    `example` the reader's own KR to show the KR commands with."""
    blocks = []
    if unknown:
        blocks.append(
            section(t(locale, "I don't know `{word}` yet. Here is what I can do:", word=unknown))
        )
    blocks.append(
        section("*" + t(locale, "OKRs") + "*\n" + _lines(_okr_usage(example, locale), locale))
    )
    blocks.append(section("*" + t(locale, "KPIs") + "*\n" + _lines(KPI_USAGE, locale)))
    blocks.append(
        context(
            t(
                locale,
                "Check-in replies are plain text, e.g. `1: 74, conf 8, blocker: vendor late` "
                "or `nps 74`.",
            )
        )
    )
    return Message(text=t(locale, "How to use okrbot"), blocks=blocks)
