"""The retrospective digest's pure parts: each objective's progress over the cycle from its KRs'
history, the composed `Retro` from frozen rows, the chart's data (the expected line and the
progress points) and its PNG, and the Block Kit message cut to Slack's limits."""

from __future__ import annotations

import dataclasses
import datetime as dt
from types import SimpleNamespace

from slack_sdk.models.blocks import Block

from bot.blocks.common import MAX_BLOCKS, MAX_SECTION
from bot.blocks.retro import MAX_KRS, MAX_OBJECTIVES, build_retro
from bot.charts import draw_retro_chart, retro_chart, retro_chart_data
from bot.progress import cycle_bounds
from bot.services.retros import (
    Point,
    Retro,
    RetroKr,
    RetroObjective,
    _Loaded,
    compose,
    progress_over_time,
)
from storage.models import Cycle, KeyResult, Objective, Team

BEGIN, END = cycle_bounds(dt.date(2026, 10, 1), dt.date(2026, 12, 31))
CLOSED = dt.datetime(2026, 12, 28, 12, 0, tzinfo=dt.UTC)


def at(month: int, day: int) -> dt.datetime:
    return dt.datetime(2026, month, day, 9, 0, tzinfo=dt.UTC)


def objective(id: int, *, team: int = 1, parent: int | None = None, **fields) -> Objective:
    return Objective(
        id=id, workspace_id="T0", team_id=team, cycle_id=1, title=f"O{id}", parent_id=parent,
        **fields,
    )  # fmt: skip


def key_result(id: int, objective_id: int, start: float, target: float, current: float, **fields):
    return KeyResult(
        id=id, workspace_id="T0", number=id, objective_id=objective_id, title=f"KR {id}",
        start=start, target=target, current=current, **fields,
    )  # fmt: skip


def rounded(points: tuple[Point, ...]) -> list[tuple[dt.datetime, float | None]]:
    """Points with their progress rounded: sums of binary fractions are near, not equal."""
    return [(p.at, None if p.progress is None else round(p.progress, 9)) for p in points]


def test_cycle_bounds_run_through_the_whole_last_day() -> None:
    assert dt.datetime(2026, 10, 1, tzinfo=dt.UTC) == BEGIN
    assert dt.datetime(2027, 1, 1, tzinfo=dt.UTC) == END


def test_progress_points_follow_the_krs_history_and_roll_up() -> None:
    team = objective(1)
    company = objective(2, progress_from="children")
    team.parent_id = 2
    krs = [key_result(1, 1, 0, 10, 8), key_result(2, 1, 100, 50, 75)]  # KR 2 decreases
    updates = [
        (1, at(9, 20), 0.0, 2.0),  # before the cycle: counts at its start
        (1, at(11, 2), 2.0, 5.0),
        (1, at(11, 2), 5.0, 6.0),  # the same moment: one point, after both
        (1, dt.datetime(2027, 1, 5, tzinfo=dt.UTC), 6.0, 8.0),  # after the close: at the close
    ]
    points = progress_over_time([team, company], krs, updates, begin=BEGIN, end=CLOSED)
    # KR 2 never moved: 75 of 100 → 50 is half-way all along.
    assert rounded(points[1]) == [(BEGIN, 0.35), (at(11, 2), 0.55), (CLOSED, 0.65)]
    assert points[2] == points[1]  # the company objective rolls up its one child


def test_a_kr_without_history_and_an_objective_without_anything() -> None:
    krs = [key_result(1, 1, 70, 80, 74, weight=3), key_result(2, 1, 0, 1, 1)]
    points = progress_over_time([objective(1), objective(2)], krs, [], begin=BEGIN, end=CLOSED)
    assert rounded(points[1]) == [(BEGIN, 0.55), (CLOSED, 0.55)]  # (0.4 × 3 + 1) / 4
    assert points[2] == (Point(BEGIN, None), Point(CLOSED, None))  # nothing to average: no point


def loaded() -> _Loaded:
    cycle = Cycle(
        id=1, workspace_id="T0", name="2026-Q4", start=dt.date(2026, 10, 1),
        end=dt.date(2026, 12, 31), closed_at=CLOSED.replace(tzinfo=None),  # SQLite's naive
    )  # fmt: skip
    objectives = [
        objective(1, final_progress=0.5, final_status="off_track", score=0.5),
        objective(2, team=2, final_progress=1.0, final_status="on_track", score=1.0),
    ]
    krs = [
        key_result(
            1, 1, 70, 80, 76, owner_id="U0A", final_progress=0.6, final_status="off_track",
            score=0.6, score_suggested=True,
        ),
        key_result(
            2, 1, 6, 4, 5.2, owner_id="U0B", final_progress=0.4, final_status="off_track",
            score=0.3, score_note="  vendor late  ",
        ),
        key_result(3, 2, 0, 1, 1, final_progress=1.0, final_status="on_track", score=1.0),
    ]  # fmt: skip
    carried = [SimpleNamespace(carried_from_id=1, number=6)]
    updates = [SimpleNamespace(kr_id=1, old_value=74.0, new_value=76.0, created_at=at(11, 30))]
    teams = [Team(id=1, workspace_id="T0", name="Customer Success")]
    return _Loaded(cycle, teams, "2027-Q1", objectives, krs, carried, updates)  # type: ignore[arg-type]


def test_compose_keeps_each_team_s_objectives_as_they_closed() -> None:
    (retro,) = compose(loaded())  # for the teams asked about: team 2 was not
    assert (retro.cycle_name, retro.next_cycle, retro.team_name) == (
        "2026-Q4",
        "2027-Q1",
        "Customer Success",
    )
    assert retro.closed_at == CLOSED and (retro.start, retro.end) == (BEGIN, END)
    (only,) = retro.objectives  # the other team's objective is not in it
    assert (only.title, only.progress, only.status, only.score) == ("O1", 0.5, "off_track", 0.5)
    assert only.krs == (
        RetroKr("KR-1", "KR 1", "U0A", 0.6, "off_track", 0.6, True, None, "KR-6"),
        RetroKr("KR-2", "KR 2", "U0B", 0.4, "off_track", 0.3, False, "vendor late", None),
    )
    # NPS 74 → 76 on Nov 30; reply time 5.2 all along (0.4).
    assert rounded(only.points) == [(BEGIN, 0.4), (at(11, 30), 0.5), (CLOSED, 0.5)]


def retro(objectives: int = 1, krs: int = 2, title: str = "Objective", padding: int = 250) -> Retro:
    points = (Point(BEGIN, 0.1), Point(at(11, 1), None), Point(CLOSED, 1.2))
    kr_list = tuple(
        RetroKr(f"KR-{n}", f"Key result {n} " + "x" * padding, "U0A", 0.5, "at_risk", 0.5,
                n % 2 == 0, "a long look back " * 30, f"KR-{n + 1000}")
        for n in range(krs)
    )  # fmt: skip
    return Retro(
        workspace_id="T0", cycle_id=1, cycle_name="2026-Q4", start=BEGIN, end=END,
        closed_at=CLOSED, next_cycle="2027-Q1", team_id=1, team_name="Support",
        objectives=tuple(
            RetroObjective(f"{title} {n}", 0.5, "at_risk", 0.5, kr_list, points)
            for n in range(objectives)
        ),
    )  # fmt: skip


def test_the_chart_data_draws_the_expected_line_and_the_progress_points() -> None:
    data = retro_chart_data(retro(objectives=2), "en")
    assert data.expected == ((BEGIN, 0.0), (END, 100.0))
    assert data.title == "Support: 2026-Q4 objectives"
    assert [line.label for line in data.lines] == ["Objective 0", "Objective 1"]
    # A moment without progress has no point; past the target is drawn at 100 %.
    assert data.lines[0].points == ((BEGIN, 10.0), (CLOSED, 100.0))
    assert retro_chart_data(retro(), "id").expected_label == "seharusnya"


def test_the_chart_is_a_png_and_none_without_progress() -> None:
    png = retro_chart(retro(objectives=12), "en")
    assert png is not None and png.startswith(b"\x89PNG\r\n\x1a\n")
    assert draw_retro_chart(retro_chart_data(retro(), "id")).startswith(b"\x89PNG")
    empty = Retro(**{**retro().__dict__, "objectives": ()})
    assert retro_chart(empty, "en") is None


def test_the_message_stays_within_slack_s_limits_and_escapes_titles() -> None:
    message = build_retro(retro(objectives=70, krs=15, title="<!channel> goal"), "en")
    assert len(message.blocks) <= MAX_BLOCKS
    for block in message.blocks:
        Block.parse(block).validate_json()  # type: ignore[union-attr]
        text = block.get("text", {}).get("text", "")
        assert len(text) <= MAX_SECTION
    texts = "\n".join(str(block) for block in message.blocks)
    assert "<!channel>" not in texts and "&lt;!channel&gt; goal 0" in texts
    assert f"…and {70 - MAX_OBJECTIVES} more objectives" in texts
    # Long KR lines: as many as fit, then the rest counted (15 in all).
    first = message.blocks[2]["text"]["text"].splitlines()
    shown = [line for line in first if line.startswith("• ")]
    assert 0 < len(shown) <= MAX_KRS
    assert first[-1] == f"…and {15 - len(shown)} more key results"
    short = build_retro(retro(krs=15, padding=0), "en").blocks[2]["text"]["text"].splitlines()
    assert len([line for line in short if line.startswith("• ")]) == MAX_KRS
    assert short[-1] == f"…and {15 - MAX_KRS} more key results"
    assert (
        message.text
        == "Retrospective of 2026-Q4 · Support: 1050 key results scored, 1050 carried over"
    )


def test_a_team_without_objectives_says_so() -> None:
    message = build_retro(Retro(**{**retro().__dict__, "objectives": ()}), "id")
    assert message.blocks[0]["text"]["text"] == "Retrospektif · Support · 2026-Q4"
    assert "Tim ini tidak punya objektif di siklus ini." in str(message.blocks)


def test_a_point_a_day_at_its_last_change() -> None:
    """A day of many updates is one point (a quarter has at most 93), after all of them."""
    krs = [key_result(1, 1, 0, 100, 90)]
    updates = [(1, at(11, 2) + dt.timedelta(hours=h), 10.0 * h, 10.0 * h + 10) for h in range(6)]
    updates += [(1, at(11, 3), 60.0, 90.0)]
    points = progress_over_time([objective(1)], krs, updates, begin=BEGIN, end=CLOSED)
    assert rounded(points[1]) == [
        (BEGIN, 0.0),
        (at(11, 2) + dt.timedelta(hours=5), 0.6),
        (at(11, 3), 0.9),
        (CLOSED, 0.9),
    ]
    every_day = [
        (1, BEGIN + dt.timedelta(days=d, hours=h), 0.0, 1.0) for d in range(92) for h in (1, 2)
    ]
    assert len(progress_over_time([objective(1)], krs, every_day, begin=BEGIN, end=END)[1]) == 94


def test_one_read_of_the_cycle_makes_each_team_s_retrospective() -> None:
    both = dataclasses.replace(
        loaded(),
        teams=[
            Team(id=1, workspace_id="T0", name="CS"),
            Team(id=2, workspace_id="T0", name="Sales"),
        ],
    )
    cs, sales = compose(both)
    assert [o.title for o in cs.objectives] == ["O1"] and cs.team_name == "CS"
    assert [o.title for o in sales.objectives] == ["O2"] and sales.team_id == 2
    assert [kr.short_id for kr in sales.key_results] == ["KR-3"]
    assert rounded(sales.objectives[0].points) == [(BEGIN, 1.0), (at(11, 30), 1.0), (CLOSED, 1.0)]
