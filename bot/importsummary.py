"""What `okrbot import` did, said as a person would: counted nouns with plurals, in the reader's
language ("imported 1 cycle, 4 teams with 11 members, …, 7 KPIs with 18 values"). Pure."""

from __future__ import annotations

from collections import Counter

from bot.i18n import t, tn
from bot.services.closing import CycleClosed
from bot.services.imports import ImportReport


def _counted(locale: str, kind: str, count: int) -> str:
    """One kind of row, counted, said on its own."""
    if kind == "cycle":
        return tn(locale, "{count} cycle", "{count} cycles", count)
    if kind == "team":
        return tn(locale, "{count} team", "{count} teams", count)
    if kind == "membership":
        return tn(locale, "{count} team member", "{count} team members", count)
    if kind == "objective":
        return tn(locale, "{count} objective", "{count} objectives", count)
    if kind == "key_result":
        return tn(locale, "{count} key result", "{count} key results", count)
    if kind == "initiative":
        return tn(locale, "{count} initiative", "{count} initiatives", count)
    if kind == "kpi":
        return tn(locale, "{count} KPI", "{count} KPIs", count)
    if kind == "measurement":
        return tn(locale, "{count} KPI value", "{count} KPI values", count)
    return tn(locale, "{count} person", "{count} people", count)


def _member(locale: str, count: int) -> str:
    return tn(locale, "{count} member", "{count} members", count)


def _value(locale: str, count: int) -> str:
    return tn(locale, "{count} value", "{count} values", count)


# The order a person reads an import file in; the workspace row is bookkeeping, not news.
_ORDER = ("cycle", "team", "objective", "key_result", "initiative", "kpi", "person")
# Rows said beside their parent's count ("4 teams with 11 members"), else on their own.
_PARTS = {"team": ("membership", _member), "kpi": ("measurement", _value)}


def _phrase(counts: Counter[str], kind: str, locale: str) -> list[str]:
    """How one kind, with its parts, is said: none, one or two phrases."""
    count = counts[kind]
    part, part_text = _PARTS.get(kind, ("", None))
    parts = counts[part] if part else 0
    if count and parts and part_text:
        things, of = _counted(locale, kind, count), part_text(locale, parts)
        return [t(locale, "{things} with {parts}", things=things, parts=of)]
    said = [_counted(locale, kind, count)] if count else []
    return said + ([_counted(locale, part, parts)] if parts else [])


def _phrases(counts: Counter[str], locale: str) -> list[str]:
    return [phrase for kind in _ORDER for phrase in _phrase(counts, kind, locale)]


def describe_import(report: ImportReport, locale: str) -> str:
    """`imported 1 cycle, 4 teams with 11 members, …; updated 2 key results`."""
    created, updated = _phrases(report.created, locale), _phrases(report.updated, locale)
    if not created and not updated:
        return t(locale, "nothing to change; the database already matches the file")
    parts = []
    if created:
        parts.append(t(locale, "imported {things}", things=", ".join(created)))
    if updated:
        parts.append(t(locale, "updated {things}", things=", ".join(updated)))
    return "; ".join(parts)


def describe_close(closed: CycleClosed, locale: str) -> str:
    """What `okrbot cycle close` did: `cycle 2026-Q4 closed: 3 key results frozen (1 scored, 2
    at their suggested score); 2 carried over to 2027-Q1: KR-1 → KR-4, KR-3 → KR-5`."""
    suggested = sum(1 for kr in closed.krs if kr.suggested)
    frozen = tn(
        locale,
        "{count} key result frozen",
        "{count} key results frozen",
        len(closed.krs),
    )
    scored = t(
        locale,
        "{scored} scored, {suggested} at the suggested score",
        scored=len(closed.krs) - suggested,
        suggested=suggested,
    )
    said = t(
        locale,
        "cycle {name} closed: {frozen} ({scored})",
        name=closed.cycle,
        frozen=frozen,
        scored=scored,
    )
    carried = closed.carried
    if not carried:
        return said + "; " + t(locale, "nothing carried over")
    links = ", ".join(f"{kr.short_id} → KR-{kr.carried_to}" for kr in carried)
    moved = t(
        locale,
        "carried over to {cycle}: {links}",
        cycle=closed.next_cycle,
        links=links,
    )
    return said + "; " + moved
