"""`okrbot kpi import FILE.csv` (SPEC §9): KPI history as `kpi,period,value[,note]` lines, all
or nothing, every error with its line number.

History is stored as the YAML import stores measurements (source `import`): a line whose value
is already the period's standing value is skipped, so importing twice changes nothing. Linked
KRs and alerts follow live values (the API, `/kpi log`), not back-filled history.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import Source
from bot.errors import ImportFileError, Problem
from bot.services.pushes import MONTHLY, WEEKLY
from storage.db import Database
from storage.models import Kpi, KpiMeasurement

HEADER = ("kpi", "period", "value", "note")
NOTE_LENGTH = 3000


@dataclass(frozen=True)
class HistoryLine:
    line: int
    kpi: str
    period: str
    value: float
    note: str | None


@dataclass(frozen=True)
class HistoryReport:
    added: int
    unchanged: int


def read_history(text: str, filename: str) -> list[HistoryLine]:
    """The file's lines, checked for shape; raises with every problem found, by line."""
    found: list[HistoryLine] = []
    problems: list[Problem] = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells) or (number == 1 and [c.lower() for c in cells[:3]] == list(HEADER[:3])):
            continue
        line, problem = _line(number, cells)
        if problem:
            problems.append(Problem(f"line {number}", problem))
        elif line:
            found.append(line)
    if not found and not problems:
        problems.append(Problem("", "no measurements in the file (expected kpi,period,value)"))
    if problems:
        raise ImportFileError(filename, problems)
    return found


def _line(number: int, cells: list[str]) -> tuple[HistoryLine | None, str | None]:
    if not 3 <= len(cells) <= 4:
        return None, f"expected kpi,period,value[,note], found {len(cells)} fields"
    name, period, raw, *rest = cells
    note = rest[0] if rest and rest[0] else None
    if not name:
        return None, "the KPI's name is empty"
    if not (MONTHLY.match(period) or WEEKLY.match(period)):
        return None, f"period {period!r} is neither like 2026-11 nor like 2026-W47"
    try:
        value = float(raw)
    except ValueError:
        return None, f"value {raw!r} is not a number (write 1180.5, without separators)"
    if not math.isfinite(value):
        return None, f"value {raw!r} is not a finite number"
    if note is not None and len(note) > NOTE_LENGTH:
        return None, f"the note is longer than {NOTE_LENGTH} characters"
    return HistoryLine(number, name, period, value, note), None


async def import_history(
    *, database: Database, workspace_id: str, text: str, filename: str
) -> HistoryReport:
    """Store the file's measurements in one unit of work, or nothing at all."""
    lines = read_history(text, filename)

    async def store(session: AsyncSession) -> HistoryReport:
        kpis = (await session.exec(select(Kpi).where(Kpi.workspace_id == workspace_id))).all()
        by_name = {key.casefold(): kpi for kpi in kpis for key in (kpi.name, *kpi.aliases)}
        problems = [problem for line in lines if (problem := _misfit(line, by_name))]
        if problems:
            raise ImportFileError(filename, problems)
        return await _store(session, workspace_id, lines, by_name)

    return await database.transact(store)


def _misfit(line: HistoryLine, by_name: dict[str, Kpi]) -> Problem | None:
    kpi = by_name.get(line.kpi.casefold())
    where = f"line {line.line}"
    if kpi is None:
        return Problem(where, f"no KPI called {line.kpi!r}")
    weekly = kpi.period == "weekly"
    if not (WEEKLY if weekly else MONTHLY).match(line.period):
        example = "2026-W47" if weekly else "2026-11"
        return Problem(where, f"{kpi.name} is measured {kpi.period}: write periods like {example}")
    return None


async def _store(
    session: AsyncSession, workspace_id: str, lines: list[HistoryLine], by_name: dict[str, Kpi]
) -> HistoryReport:
    ids = list({by_name[line.kpi.casefold()].id for line in lines})
    query = (
        select(KpiMeasurement.kpi_id, KpiMeasurement.period, KpiMeasurement.value)
        .where(col(KpiMeasurement.kpi_id).in_(ids), col(KpiMeasurement.reverted).is_(False))
        .order_by(col(KpiMeasurement.created_at), col(KpiMeasurement.id))
    )
    standing = {(kpi_id, period): value for kpi_id, period, value in (await session.exec(query))}
    added = unchanged = 0
    for line in lines:
        kpi_id = by_name[line.kpi.casefold()].id or 0
        if standing.get((kpi_id, line.period)) == line.value:
            unchanged += 1
            continue
        standing[(kpi_id, line.period)] = line.value
        session.add(
            KpiMeasurement(
                workspace_id=workspace_id,
                kpi_id=kpi_id,
                period=line.period,
                value=line.value,
                note=line.note,
                source=Source.IMPORT,
            )
        )
        added += 1
    return HistoryReport(added, unchanged)
