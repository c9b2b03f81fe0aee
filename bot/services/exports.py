"""Writing a workspace back out: YAML in the import format (re-imports to the same state) and
CSV for spreadsheets (one row per key result, KPIs below)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import yaml
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.domain import Level, ProgressFrom, Role
from bot.importfile import DEFAULT_SCORING_DAYS, format_minutes
from bot.progress import kr_progress, percent
from storage.db import Database
from storage.models import (
    Cycle,
    Initiative,
    KeyResult,
    Kpi,
    KpiMeasurement,
    Membership,
    Objective,
    Team,
)


async def export_data(*, database: Database, workspace_id: str) -> dict[str, Any]:
    """Everything of the workspace, every cycle, shaped like an import file."""
    async with database.read() as session:
        cycles = (
            await session.exec(
                select(Cycle)
                .where(Cycle.workspace_id == workspace_id)
                .order_by(col(Cycle.start), col(Cycle.id))
            )
        ).all()
        teams = (
            await session.exec(
                select(Team).where(Team.workspace_id == workspace_id).order_by(col(Team.id))
            )
        ).all()
        data: dict[str, Any] = {}
        if len(cycles) == 1:
            data["cycle"] = _cycle(cycles[0])
        elif cycles:
            data["cycles"] = [_cycle(cycle) for cycle in cycles]
        data["teams"] = await _teams(session, teams)
        names = {team.id: team.name for team in teams}
        kpis = await _kpis(session, workspace_id, names)
        data["objectives"] = await _objectives(session, cycles, names, kpis) if cycles else []
        data["kpis"] = list(kpis.values())
    return data


def _cycle(cycle: Cycle) -> dict[str, Any]:
    item: dict[str, Any] = {"name": cycle.name, "start": cycle.start, "end": cycle.end}
    if cycle.scoring_days != DEFAULT_SCORING_DAYS:
        item["scoring_days"] = cycle.scoring_days
    if cycle.closed_at is not None:
        item["closed_at"] = _timestamp(cycle.closed_at)
    return item


def _timestamp(at: dt.datetime) -> dt.datetime:
    """A moment as the file holds it: UTC, to the second (SQLite hands it back naive)."""
    at = at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at.astimezone(dt.UTC)
    return at.replace(microsecond=0)


async def _teams(session: AsyncSession, teams: list[Team]) -> list[dict[str, Any]]:
    query = select(Membership).where(col(Membership.team_id).in_([team.id for team in teams]))
    rows = (await session.exec(query.order_by(col(Membership.user_id)))).all()
    people: dict[tuple[int, str], list[str]] = defaultdict(list)
    for row in rows:
        people[(row.team_id, row.role)].append(row.user_id)
    names = {team.id: team.name for team in teams}
    out = []
    for team in teams:
        item: dict[str, Any] = {"name": team.name}
        if team.level != Level.TEAM:
            item["level"] = team.level
        if team.parent_id is not None:
            item["parent"] = names[team.parent_id]
        if team.channel_id:
            item["channel"] = team.channel_id
        item["managers"] = people[(team.id, Role.MANAGER)]
        item["members"] = people[(team.id, Role.MEMBER)]
        if team.checkin_schedule:
            item["checkin"] = {
                "schedule": team.checkin_schedule,
                **({"timezone": team.checkin_timezone} if team.checkin_timezone else {}),
                "remind_after": format_minutes(team.remind_after_minutes),
                "close_after": format_minutes(team.close_after_minutes),
            }
        if team.digest_schedule:
            item["digest"] = {"schedule": team.digest_schedule}
        out.append(item)
    return out


async def _kpis(
    session: AsyncSession, workspace_id: str, teams: dict[int, str]
) -> dict[int, dict[str, Any]]:
    kpis = (
        await session.exec(
            select(Kpi).where(Kpi.workspace_id == workspace_id).order_by(col(Kpi.id))
        )
    ).all()
    query = (
        select(KpiMeasurement)
        .where(KpiMeasurement.workspace_id == workspace_id, col(KpiMeasurement.reverted).is_(False))
        .order_by(col(KpiMeasurement.created_at), col(KpiMeasurement.id))
    )
    series: dict[int, dict[str, float]] = defaultdict(dict)
    for row in (await session.exec(query)).all():
        series[row.kpi_id][row.period] = row.value
    out = {}
    for kpi in kpis:
        item: dict[str, Any] = {"name": kpi.name, "team": teams[kpi.team_id]}
        item.update(_optional(owner=kpi.owner_id, unit=kpi.unit))
        item.update(direction=kpi.direction, target=kpi.target)
        item.update(_optional(warn=kpi.warn))
        item.update(period=kpi.period, aliases=list(kpi.aliases))
        item.update(_optional(source=kpi.source))
        item["measurements"] = [
            {"period": period, "value": value} for period, value in sorted(series[kpi.id].items())
        ]
        out[kpi.id] = item
    return out


def _optional(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value not in (None, "")}


async def _objectives(
    session: AsyncSession,
    cycles: Sequence[Cycle],
    teams: dict[int, str],
    kpis: dict[int, dict[str, Any]],
) -> list[dict[str, Any]]:
    """Every cycle's objectives, cycle by cycle; each names its cycle when there are several."""
    order = {cycle.id: index for index, cycle in enumerate(cycles)}
    rows = (
        await session.exec(
            select(Objective)
            .where(col(Objective.cycle_id).in_(list(order)))
            .order_by(col(Objective.team_id), col(Objective.position), col(Objective.id))
        )
    ).all()
    objectives = sorted(rows, key=lambda objective: order[objective.cycle_id])
    cycle_names = {cycle.id: cycle.name for cycle in cycles} if len(cycles) > 1 else {}
    ids = [objective.id for objective in objectives]
    krs = (
        await session.exec(
            select(KeyResult)
            .where(col(KeyResult.objective_id).in_(ids))
            .order_by(col(KeyResult.position), col(KeyResult.id))
        )
    ).all()
    initiatives = (
        await session.exec(
            select(Initiative)
            .where(col(Initiative.kr_id).in_([kr.id for kr in krs]))
            .order_by(col(Initiative.position), col(Initiative.id))
        )
    ).all()
    by_kr: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for initiative in initiatives:
        by_kr[initiative.kr_id].append(
            {
                "title": initiative.title,
                **_optional(owner=initiative.owner_id),
                "status": initiative.status,
            }
        )
    by_objective: dict[int, list[dict[str, Any]]] = defaultdict(list)
    numbers = {kr.id: kr.number for kr in krs}
    for kr in krs:
        by_objective[kr.objective_id].append(_key_result(kr, kpis, by_kr[kr.id], numbers))
    parents = _parent_refs(objectives)
    out = []
    for objective in objectives:
        item: dict[str, Any] = {"title": objective.title, "team": teams[objective.team_id]}
        item.update(_optional(cycle=cycle_names.get(objective.cycle_id)))
        item.update(_optional(owner=objective.owner_id, parent=parents.get(objective.parent_id)))
        if objective.weight != 1:
            item["weight"] = objective.weight
        if objective.progress_from != ProgressFrom.KRS:
            item["progress_from"] = objective.progress_from
        item.update(
            _optional(
                final_progress=objective.final_progress,
                final_status=objective.final_status,
                score=objective.score,
            )
        )
        item["key_results"] = by_objective[objective.id]
        out.append(item)
    return out


def _parent_refs(objectives: Sequence[Objective]) -> dict[int | None, str]:
    """How the file names each objective as a parent: its title, or `O-n` when several
    objectives of its cycle share that title."""
    titles = Counter((objective.cycle_id, objective.title) for objective in objectives)
    return {
        objective.id: objective.title
        if titles[(objective.cycle_id, objective.title)] == 1
        else f"O-{objective.id}"
        for objective in objectives
    }


def _key_result(
    kr: KeyResult,
    kpis: dict[int, dict[str, Any]],
    initiatives: list,
    numbers: dict[int | None, int],
) -> dict[str, Any]:
    """A KR as the file gives it; `numbers` turns the KR it carries on from into `KR-n`."""
    item: dict[str, Any] = {"id": f"KR-{kr.number}", "title": kr.title}
    item.update(_optional(owner=kr.owner_id))
    item.update(start=kr.start, target=kr.target, current=kr.current)
    item.update(_optional(unit=kr.unit))
    item.update(weight=kr.weight, aliases=list(kr.aliases))
    if kr.kpi_id is not None:
        item["kpi"] = kpis[kr.kpi_id]["name"]
    item.update(_optional(score=kr.score, score_note=kr.score_note))
    if kr.score_suggested:
        item["score_suggested"] = True
    item.update(_optional(final_progress=kr.final_progress, final_status=kr.final_status))
    if kr.carried_from_id is not None:
        item["carried_from"] = f"KR-{numbers[kr.carried_from_id]}"
    if initiatives:
        item["initiatives"] = initiatives
    return item


def to_yaml(data: dict[str, Any]) -> str:
    """The export as YAML, in the import file's field order."""
    header = "# okrbot export: `okrbot import` reads this file back to the same state.\n"
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


CSV_COLUMNS = (
    "type",
    "team",
    "objective",
    "id",
    "title",
    "owner",
    "start",
    "target",
    "current",
    "unit",
    "progress_pct",
    "kpi",
    "period",
    "value",
    "score",
    "score_suggested",
    "score_note",
    "carried_from",
)


def to_csv(data: dict[str, Any]) -> str:
    """The export as CSV for spreadsheets: a row per key result (with its score, whether it
    is okrbot's suggestion, the retrospective line and the KR it carries on from), then a row
    per measurement."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for objective in data.get("objectives", []):
        for kr in objective["key_results"]:
            progress = percent(kr_progress(kr["start"], kr["target"], kr["current"]))
            writer.writerow(
                {
                    "type": "key_result",
                    "team": objective["team"],
                    "objective": objective["title"],
                    "id": kr["id"],
                    "title": kr["title"],
                    "owner": kr.get("owner", ""),
                    "start": kr["start"],
                    "target": kr["target"],
                    "current": kr["current"],
                    "unit": kr.get("unit", ""),
                    "progress_pct": progress,
                    "kpi": kr.get("kpi", ""),
                    "score": kr.get("score", ""),
                    "score_suggested": "true" if kr.get("score_suggested") else "",
                    "score_note": kr.get("score_note", ""),
                    "carried_from": kr.get("carried_from", ""),
                }
            )
    for kpi in data.get("kpis", []):
        for measurement in kpi["measurements"]:
            writer.writerow(
                {
                    "type": "kpi_measurement",
                    "team": kpi["team"],
                    "title": kpi["name"],
                    "owner": kpi.get("owner", ""),
                    "target": kpi["target"],
                    "unit": kpi.get("unit", ""),
                    "kpi": kpi["name"],
                    "period": measurement["period"],
                    "value": measurement["value"],
                }
            )
    return buffer.getvalue()
