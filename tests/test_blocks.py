"""Block Kit builders, tested as pure functions and held to Slack's limits."""

from __future__ import annotations

import dataclasses

import pytest

from bot.blocks.help import build_help
from bot.blocks.home import build_home
from bot.blocks.kpis import build_kpi_status
from bot.blocks.modals import build_kpi_add, build_okr_add, parse_kpi_add, parse_okr_add
from bot.blocks.status import build_status
from bot.blocks.updates import build_mine
from bot.progress import KpiStatus, KrStatus, Trend
from bot.services.kpis import KpiView
from bot.services.okrs import InitiativeView, KrView, Mine, ObjectiveView, TeamStatus
from bot.standin.validation import block_problems, view_problems
from storage.models import Team
from tests.support.modals import fill


def kr(number: int, title: str = "Reduce churn", *, current: float = 5) -> KrView:
    return KrView(
        number,
        number,
        title,
        "U0A",
        0,
        10,
        current,
        "%",
        1,
        current / 10,
        False,
        KrStatus.ON_TRACK,
        None,
    )


def team(objectives: int, krs: int, title: str = "Objective") -> TeamStatus:
    views = tuple(
        ObjectiveView(f"{title} {o}", "U0M", 0.5, tuple(kr(o * krs + k) for k in range(krs)))
        for o in range(objectives)
    )
    return TeamStatus(1, "Support", "2026-Q4", 0.5, views)


def test_status_of_a_small_team_is_valid() -> None:
    message = build_status([team(2, 3)], "en", shareable=True)
    assert block_problems(message.blocks, limit=50) == []
    assert message.text == "OKR status: Support"


def test_status_blocks_are_kept_for_the_same_status_and_made_anew_when_a_kr_moves() -> None:
    first, again = team(2, 3), team(2, 3)  # read twice, nothing written between
    assert again == first and hash(again) == hash(first)
    assert build_status([again], "en").blocks == build_status([first], "en").blocks
    objective = first.objectives[0]
    moved_kr = dataclasses.replace(objective.key_results[0], current=987.0)
    moved = dataclasses.replace(
        first,
        objectives=(
            dataclasses.replace(objective, key_results=(moved_kr, *objective.key_results[1:])),
            *first.objectives[1:],
        ),
    )
    assert moved != first
    assert "987" in str(build_status([moved], "en").blocks)
    assert "987" not in str(build_status([first], "en").blocks)


def test_status_of_a_huge_team_stays_within_the_limits() -> None:
    message = build_status([team(80, 2)], "en", shareable=True)
    assert len(message.blocks) <= 50
    assert block_problems(message.blocks, limit=50) == []
    assert "more sections are in the okrbot App Home" in message.blocks[-2]["elements"][0]["text"]
    assert message.blocks[-1]["type"] == "actions"  # the share button survives the cut


def test_an_objective_with_many_krs_is_cut_not_refused() -> None:
    message = build_status([team(1, 60, "A very long objective title " * 3)], "en")
    assert block_problems(message.blocks, limit=50) == []


def test_user_text_is_escaped_but_mentions_stay() -> None:
    status = TeamStatus(
        1, "T", "Q", 0.5, (ObjectiveView("<!here> & co", "U0M", 0.1, (kr(1, "<@U999> hi"),)),)
    )
    text = str(build_status([status], "en").blocks)
    assert "&lt;!here&gt; &amp; co" in text and "&lt;@U999&gt; hi" in text
    assert "<@U0M>" in text and "<@U0A>" in text


def test_kpi_status_formats_numbers_in_the_readers_locale() -> None:
    view = KpiView(
        1,
        "Tickets per month",
        1,
        "U0C",
        "tickets",
        "lower_is_better",
        1000,
        1200,
        (("2026-09", 1310.0), ("2026-10", 1240.5)),
        KpiStatus.WARN,
        Trend.IMPROVING,
    )
    message = build_kpi_status([view], {1: "Support"}, "id")
    assert "1.240,5 tickets (2026-10)" in str(message.blocks)
    assert "membaik" in str(message.blocks)
    assert block_problems(message.blocks, limit=50) == []


def test_help_names_the_unknown_word_and_is_valid() -> None:
    message = build_help("en", unknown="frob")
    assert "`frob`" in str(message.blocks)
    assert block_problems(message.blocks, limit=50) == []


def test_home_with_many_krs_fits_a_view() -> None:
    mine = Mine(tuple(kr(n) for n in range(120)), (), 0.5)
    view = build_home(mine, [team(10, 5)], [], {1: "Support"}, "en")
    assert len(view["blocks"]) <= 100
    assert view_problems(view) == []


def test_modals_are_valid_views() -> None:
    teams = [
        Team(id=1, workspace_id="T", name="Support"),
        Team(id=2, workspace_id="T", name="Sales"),
    ]
    assert view_problems(build_okr_add(teams, "U0A", "id")) == []
    assert view_problems(build_kpi_add(teams, "U0A", "en")) == []


@pytest.mark.parametrize(
    ("answers", "errors"),
    [
        (
            {"objective_title": "", "kr1_title": "x", "kr1_start": "1", "kr1_target": "2"},
            {"objective_title"},
        ),
        (
            {"objective_title": "O", "kr1_title": "x", "kr1_start": "1", "kr1_target": "1"},
            {"kr1_target"},
        ),
        (
            {"objective_title": "O", "kr1_title": "x", "kr1_start": "one", "kr1_target": "2"},
            {"kr1_start"},
        ),
        ({"objective_title": "O", "kr1_start": "1", "kr1_target": "2"}, {"kr1_title"}),
        ({"objective_title": "O"}, {"kr1_title"}),
        (
            {
                "objective_title": "O",
                "objective_team": "9",
                "kr1_title": "x",
                "kr1_start": "1",
                "kr1_target": "2",
            },
            {"objective_team"},
        ),
    ],
)
def test_okr_add_field_errors(answers: dict[str, str], errors: set[str]) -> None:
    view = build_okr_add([Team(id=1, workspace_id="T", name="Support")], "U0A", "en")
    assert set(parse_okr_add(fill(view, answers), {1}, "en")) == errors


def test_okr_add_reads_locale_numbers() -> None:
    view = build_okr_add([Team(id=1, workspace_id="T", name="Support")], "U0A", "id")
    answers = {
        "objective_title": "O",
        "kr1_title": "CLV",
        "kr1_start": "950.000",
        "kr1_target": "1,2 jt",
    }
    parsed = parse_okr_add(fill(view, answers), {1}, "id")
    assert not isinstance(parsed, dict)
    assert (parsed.key_results[0].start, parsed.key_results[0].target) == (950000, 1200000)


def test_kpi_add_reads_and_validates() -> None:
    view = build_kpi_add([Team(id=1, workspace_id="T", name="Support")], "U0A", "en")
    good = parse_kpi_add(
        fill(
            view,
            {"kpi_name": "NPS", "kpi_target": "75", "kpi_warn": "70", "kpi_aliases": "nps, score"},
        ),
        {1},
        "en",
    )
    assert not isinstance(good, dict)
    assert (good.direction, good.period, good.aliases) == (
        "higher_is_better",
        "monthly",
        ("nps", "score"),
    )
    bad = parse_kpi_add(
        fill(view, {"kpi_name": "NPS", "kpi_target": "75", "kpi_warn": "80"}), {1}, "en"
    )
    assert set(bad) == {"kpi_warn"}


def owned(number: int, start: float, target: float, current: float, unit: str = "") -> KrView:
    progress = (current - start) / (target - start)
    return KrView(
        number, number, "KR", "U0A", start, target, current, unit, 1, progress, False,
        KrStatus.ON_TRACK, None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("mine", "locale", "example"),
    [
        ((owned(2, 6, 4, 5.2, "h"), owned(7, 70, 80, 74)), "en", "/okr update KR-2 5"),
        ((owned(3, 6, 4, 5.3, "h"),), "id", "/okr update KR-3 5,1"),
        ((owned(4, 0, 10, 5, "%"),), "en", "/okr update KR-4 6"),
        ((owned(5, 1400, 1000, 1180),), "id", "/okr update KR-5 1.140"),
        ((owned(6, 1400, 1000, 1180),), "en", "/okr update KR-6 1,140"),
        ((owned(8, 70, 80, 79.5),), "en", "/okr update KR-8 80"),  # a step would pass the target
        ((owned(9, 70, 80, 85),), "en", "/okr update KR-9 85"),  # past it: the current value
    ],
)
def test_mine_suggests_an_update_of_the_readers_own_first_kr(
    mine: tuple[KrView, ...], locale: str, example: str
) -> None:
    message = build_mine(Mine(mine, (), 0.5), locale)
    assert f"`{example}`" in message.blocks[-1]["elements"][0]["text"]
    assert "KR-7 74" not in str(message.blocks)


def test_mine_without_krs_suggests_no_kr_update() -> None:
    initiative = InitiativeView(1, "Add chat", "in_progress", "KR-1")
    message = build_mine(Mine((), (initiative,), 0.5), "en")
    assert "/okr update" not in str(message.blocks)


def test_help_examples_use_the_readers_own_first_kr() -> None:
    shown = str(build_help("id", example=owned(2, 6, 4, 5.3, "h")).blocks)
    assert "`/okr update KR-2 5,1 [note]`" in shown and "`/okr history KR-2`" in shown
    assert "KR-7" not in shown
    generic = str(build_help("en").blocks)  # the reader owns no KR
    assert "`/okr update KR-7 74 [note]`" in generic and "`/okr history KR-7`" in generic
