"""What `okrbot import` did, said as a person would: counted nouns with plurals, in the reader's
language ("imported 1 cycle, 4 teams with 11 members, …, 7 KPIs with 18 values"). Pure."""

from __future__ import annotations

from collections import Counter

from bot.i18n import t, tn
from bot.services.imports import ImportReport


def _team(locale: str, count: int) -> str:
    return tn(locale, "{count} team", "{count} teams", count)


def _member(locale: str, count: int) -> str:
    return tn(locale, "{count} member", "{count} members", count)


def _kpi(locale: str, count: int) -> str:
    return tn(locale, "{count} KPI", "{count} KPIs", count)


def _value(locale: str, count: int) -> str:
    return tn(locale, "{count} value", "{count} values", count)


def _counted(locale: str, kind: str, count: int) -> str:
    """One kind of row, counted, standing alone (its parent was not counted beside it)."""
    if kind == "cycle":
        return tn(locale, "{count} cycle", "{count} cycles", count)
    if kind == "team":
        return _team(locale, count)
    if kind == "membership":
        return tn(locale, "{count} team member", "{count} team members", count)
    if kind == "objective":
        return tn(locale, "{count} objective", "{count} objectives", count)
    if kind == "key_result":
        return tn(locale, "{count} key result", "{count} key results", count)
    if kind == "initiative":
        return tn(locale, "{count} initiative", "{count} initiatives", count)
    if kind == "kpi":
        return _kpi(locale, count)
    if kind == "measurement":
        return tn(locale, "{count} KPI value", "{count} KPI values", count)
    return tn(locale, "{count} person", "{count} people", count)


# The order a person reads an import file in; the workspace row is bookkeeping, not news.
_ORDER = ("cycle", "team", "objective", "key_result", "initiative", "kpi", "person")
# A kind said together with its parent's count: "4 teams with 11 members".
_CHILDREN = {"team": ("membership", _team, _member), "kpi": ("measurement", _kpi, _value)}


def _phrases(counts: Counter[str], locale: str) -> list[str]:
    phrases = []
    for kind in _ORDER:
        count = counts[kind]
        child = _CHILDREN.get(kind)
        if child and count and counts[child[0]]:
            _name, parent_text, child_text = child
            phrases.append(
                t(
                    locale,
                    "{things} with {parts}",
                    things=parent_text(locale, count),
                    parts=child_text(locale, counts[child[0]]),
                )
            )
            continue
        if count:
            phrases.append(_counted(locale, kind, count))
        if child and counts[child[0]]:
            phrases.append(_counted(locale, child[0], counts[child[0]]))
    return phrases


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
