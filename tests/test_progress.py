"""SPEC §2 arithmetic, by example and by property."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.domain import ProgressFrom
from bot.progress import (
    Aligned,
    KpiStatus,
    KrStatus,
    Trend,
    bar,
    clamp,
    expected_progress,
    is_exceeded,
    is_unfinished,
    kpi_status,
    kr_progress,
    kr_status,
    objective_progress,
    objective_status,
    percent,
    rollup,
    sparkline,
    suggested_score,
    trend,
    weighted_mean,
)

finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)


@pytest.mark.parametrize(
    ("start", "target", "current", "shown"),
    [
        (70, 80, 74, 40),  # the seed's NPS
        (70, 80, 70, 0),
        (70, 80, 80, 100),
        (70, 80, 85, 100),  # past target: shown 100%, marked exceeded
        (70, 80, 60, 0),  # went backwards: clamped
        (6, 4, 5.2, 40),  # decreasing: same formula
        (6, 4, 4, 100),
        (6, 4, 3, 100),
        (6, 4, 7, 0),
        (8, 12, 9.5, 38),  # 37.5 rounds half up
        (0, 3, 1, 33),
    ],
)
def test_kr_progress_examples(start: float, target: float, current: float, shown: int) -> None:
    assert percent(kr_progress(start, target, current)) == shown


def test_percent_rounds_halves_up_as_people_do() -> None:
    assert percent((0.4 + 0.375 + 0.2) / 3) == 33  # 0.32499999… in binary
    assert percent(0.125) == 13 and percent(0.124) == 12


def test_exceeded_only_past_target() -> None:
    assert is_exceeded(70, 80, 85) and is_exceeded(6, 4, 3)
    assert not is_exceeded(70, 80, 80) and not is_exceeded(6, 4, 5)


def test_start_equal_to_target_is_done_when_met() -> None:
    assert kr_progress(5, 5, 5) == 1.0
    assert kr_progress(5, 5, 4) == 0.0
    assert not is_exceeded(5, 5, 9)


def test_objective_progress_is_weighted_and_clamped() -> None:
    assert objective_progress([(0.4, 1), (0.4, 1)]) == pytest.approx(0.4)
    assert objective_progress([(1.0, 1), (0.0, 3)]) == pytest.approx(0.25)
    assert objective_progress([(2.5, 1), (0.0, 1)]) == pytest.approx(0.5)  # 250% counts as 100%
    assert objective_progress([]) == 0.0


def test_expected_progress_through_the_cycle() -> None:
    start, end = dt.date(2026, 10, 1), dt.date(2026, 12, 31)
    at = lambda d: dt.datetime.combine(d, dt.time(), tzinfo=dt.UTC)  # noqa: E731
    assert expected_progress(start, end, at(dt.date(2026, 10, 1))) == 0.0
    assert expected_progress(start, end, at(dt.date(2027, 1, 1))) == 1.0
    assert expected_progress(start, end, at(dt.date(2026, 11, 15))) == pytest.approx(45 / 92)
    assert expected_progress(start, end, at(dt.date(2026, 9, 1))) == 0.0
    assert expected_progress(start, end, at(dt.date(2027, 3, 1))) == 1.0


@pytest.mark.parametrize(
    ("progress", "expected", "status"),
    [
        (0.50, 0.50, KrStatus.ON_TRACK),
        (0.40, 0.50, KrStatus.ON_TRACK),  # exactly 10 points behind
        (0.39, 0.50, KrStatus.AT_RISK),
        (0.25, 0.50, KrStatus.AT_RISK),  # exactly 25 points behind
        (0.24, 0.50, KrStatus.OFF_TRACK),
        (1.50, 0.90, KrStatus.ON_TRACK),
    ],
)
def test_kr_status_thresholds(progress: float, expected: float, status: KrStatus) -> None:
    assert kr_status(progress, expected) is status


def test_low_confidence_makes_at_least_at_risk() -> None:
    assert kr_status(0.9, 0.5, confidence=3) is KrStatus.AT_RISK
    assert kr_status(0.9, 0.5, confidence=4) is KrStatus.ON_TRACK
    assert kr_status(0.1, 0.5, confidence=2) is KrStatus.OFF_TRACK


def test_explicit_status_wins() -> None:
    assert kr_status(0.0, 0.9, explicit="on_track") is KrStatus.ON_TRACK
    assert kr_status(1.0, 0.1, confidence=9, explicit="off_track") is KrStatus.OFF_TRACK
    assert kr_status(0.5, 0.5, explicit="nonsense") is KrStatus.ON_TRACK


@pytest.mark.parametrize(
    ("value", "target", "warn", "direction", "status"),
    [
        (10, 10, 8, "higher_is_better", KpiStatus.OK),
        (9, 10, 8, "higher_is_better", KpiStatus.WARN),
        (8, 10, 8, "higher_is_better", KpiStatus.WARN),
        (7.9, 10, 8, "higher_is_better", KpiStatus.OFF),
        (9, 10, None, "higher_is_better", KpiStatus.OFF),
        (4, 4, 6, "lower_is_better", KpiStatus.OK),
        (3, 4, 6, "lower_is_better", KpiStatus.OK),
        (5.2, 4, 6, "lower_is_better", KpiStatus.WARN),
        (6.1, 4, 6, "lower_is_better", KpiStatus.OFF),
    ],
)
def test_kpi_status_in_both_directions(
    value: float, target: float, warn: float | None, direction: str, status: KpiStatus
) -> None:
    assert kpi_status(value, target=target, warn=warn, direction=direction) is status


def test_trend_respects_direction() -> None:
    assert trend([6.1, 5.2], "lower_is_better") is Trend.IMPROVING
    assert trend([6.1, 5.2], "higher_is_better") is Trend.WORSENING
    assert trend([100, 100.5], "higher_is_better") is Trend.STEADY
    assert trend([5], "higher_is_better") is Trend.UNKNOWN


def test_sparkline_and_bar() -> None:
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == "▁▂▃▄▅▆▇█"
    assert sparkline([3, 3]) == "▄▄"
    assert sparkline([]) == ""
    assert bar(0.4) == "▓▓▓▓░░░░░░"
    assert bar(1.7) == "▓" * 10


@given(finite, finite, finite)
def test_percent_is_always_between_0_and_100(start: float, target: float, current: float) -> None:
    assert 0 <= percent(kr_progress(start, target, current)) <= 100


@given(finite, finite)
def test_reaching_the_target_is_always_100(start: float, target: float) -> None:
    assert percent(kr_progress(start, target, target)) == 100


@given(finite, finite)
def test_standing_at_start_is_0_when_start_differs_from_target(start: float, target: float) -> None:
    assume(abs(start - target) > 1e-6)
    assert kr_progress(start, target, start) == 0.0


@given(st.floats(-10, 10), st.floats(0, 1), st.integers(0, 10))
def test_more_progress_never_worsens_status(
    progress: float, expected: float, confidence: int
) -> None:
    order = [KrStatus.OFF_TRACK, KrStatus.AT_RISK, KrStatus.ON_TRACK]
    lower = kr_status(progress, expected, confidence=confidence)
    higher = kr_status(progress + 0.05, expected, confidence=confidence)
    assert order.index(higher) >= order.index(lower)


@given(st.lists(st.tuples(st.floats(-5, 5), st.floats(0.1, 10)), min_size=1))
def test_objective_progress_stays_between_its_krs(krs: list[tuple[float, float]]) -> None:
    clamped = [min(1, max(0, p)) for p, _ in krs]
    assert min(clamped) - 1e-9 <= objective_progress(krs) <= max(clamped) + 1e-9


@given(finite, finite, finite, st.sampled_from(["higher_is_better", "lower_is_better"]))
def test_kpi_meeting_target_is_ok(value: float, target: float, gap: float, direction: str) -> None:
    better = target + abs(gap) if direction == "higher_is_better" else target - abs(gap)
    assert kpi_status(better, target=target, warn=None, direction=direction) is KpiStatus.OK


# Roll-up across aligned objectives (SPEC §8).

unit = st.floats(min_value=-0.5, max_value=1.5, allow_nan=False)
weights = st.floats(min_value=0.1, max_value=10, allow_nan=False)


@st.composite
def forests(draw: st.DrawFn, max_size: int = 25) -> list[Aligned]:
    """Objectives whose parents always come earlier in the list, so there is never a loop."""
    size = draw(st.integers(1, max_size))
    nodes = []
    for index in range(size):
        parent = draw(st.none() | st.integers(0, index - 1)) if index else None
        nodes.append(
            Aligned(
                id=index,
                parent_id=parent,
                weight=draw(weights),
                progress_from=draw(st.sampled_from(list(ProgressFrom))),
                krs=tuple(draw(st.lists(st.tuples(unit, weights), max_size=4))),
            )
        )
    return nodes


def _with_kr(nodes: list[Aligned], index: int, kr: int, progress: float) -> list[Aligned]:
    node = nodes[index]
    krs = list(node.krs)
    krs[kr] = (progress, krs[kr][1])
    return [*nodes[:index], replace(node, krs=tuple(krs)), *nodes[index + 1 :]]


def test_rollup_examples() -> None:
    company = Aligned(1, None, progress_from=ProgressFrom.CHILDREN)
    cs = Aligned(2, 1, weight=2, krs=((0.4, 1), (0.2, 1)))  # 30%
    sales = Aligned(3, 1, weight=1, krs=((0.9, 1),))  # 90%
    result = rollup([company, cs, sales])
    assert result[2] == pytest.approx(0.3) and result[3] == pytest.approx(0.9)
    assert result[1] == pytest.approx((0.3 * 2 + 0.9) / 3)  # 50%
    both = replace(company, progress_from=ProgressFrom.BOTH, krs=((1.0, 1),))
    assert rollup([both, cs, sales])[1] == pytest.approx((1.0 + 0.3 * 2 + 0.9) / 4)
    own = replace(company, progress_from=ProgressFrom.KRS, krs=((0.1, 1),))
    assert rollup([own, cs, sales])[1] == pytest.approx(0.1)  # children do not count


def test_nothing_to_average_shows_no_progress() -> None:
    lonely = Aligned(1, None, progress_from=ProgressFrom.CHILDREN)
    empty_child = Aligned(2, 1)  # no KRs
    assert rollup([lonely]) == {1: None}
    assert rollup([lonely, empty_child]) == {1: None, 2: None}
    assert rollup([Aligned(3, None)]) == {3: None}
    assert weighted_mean([]) is None
    assert objective_status(None, 0.5) is None
    # A child with nothing to show is skipped, not counted as 0%.
    done_child = Aligned(4, 1, krs=((1.0, 1),))
    assert rollup([lonely, empty_child, done_child])[1] == pytest.approx(1.0)


def test_objective_status_uses_the_kr_thresholds() -> None:
    assert objective_status(0.40, 0.50) is KrStatus.ON_TRACK
    assert objective_status(0.39, 0.50) is KrStatus.AT_RISK
    assert objective_status(0.24, 0.50) is KrStatus.OFF_TRACK


def test_a_loop_is_cut_not_followed() -> None:
    a = Aligned(1, 2, progress_from=ProgressFrom.BOTH, krs=((0.5, 1),))
    b = Aligned(2, 1, progress_from=ProgressFrom.BOTH, krs=((0.1, 1),))
    result = rollup([a, b])
    assert set(result) == {1, 2}
    assert all(0 <= value <= 1 for value in result.values() if value is not None)


@pytest.mark.parametrize("depth", [5, 5_000])
def test_deep_trees_roll_up_without_recursion(depth: int) -> None:
    chain = [Aligned(0, None, progress_from=ProgressFrom.CHILDREN)]
    chain += [Aligned(i, i - 1, progress_from=ProgressFrom.CHILDREN) for i in range(1, depth)]
    chain[-1] = Aligned(depth - 1, depth - 2, krs=((0.37, 1),))
    result = rollup(reversed(chain))
    assert result[0] == pytest.approx(0.37) and len(result) == depth


@given(forests())
def test_rollup_is_bounded_and_none_only_with_nothing_to_average(nodes: list[Aligned]) -> None:
    result = rollup(nodes)
    assert set(result) == {node.id for node in nodes}
    for node in nodes:
        value = result[node.id]
        children = [c for c in nodes if c.parent_id == node.id and result[c.id] is not None]
        uses_krs = node.progress_from != ProgressFrom.CHILDREN and node.krs
        uses_children = node.progress_from != ProgressFrom.KRS and children
        assert (value is None) == (not uses_krs and not uses_children)
        if value is not None:
            assert 0.0 <= value <= 1.0
            inputs = [clamp(p) for p, _ in node.krs] if uses_krs else []
            inputs += [result[c.id] for c in children] if uses_children else []
            assert min(inputs) - 1e-9 <= value <= max(inputs) + 1e-9


@given(forests(), st.data())
def test_rollup_is_monotonic_in_every_kr(nodes: list[Aligned], data: st.DataObject) -> None:
    with_krs = [i for i, node in enumerate(nodes) if node.krs]
    assume(with_krs)
    index = data.draw(st.sampled_from(with_krs))
    kr = data.draw(st.integers(0, len(nodes[index].krs) - 1))
    gain = data.draw(st.floats(0, 2))
    before = rollup(nodes)
    after = rollup(_with_kr(nodes, index, kr, nodes[index].krs[kr][0] + gain))
    for node_id, value in before.items():
        assert (value is None) == (after[node_id] is None)
        if value is not None:
            assert after[node_id] >= value - 1e-9


@given(forests(), st.floats(0.1, 10))
def test_scaling_every_weight_changes_nothing(nodes: list[Aligned], factor: float) -> None:
    scaled = [
        replace(n, weight=n.weight * factor, krs=tuple((p, w * factor) for p, w in n.krs))
        for n in nodes
    ]
    before, after = rollup(nodes), rollup(scaled)
    for node_id, value in before.items():
        assert (value is None) == (after[node_id] is None)
        if value is not None:
            assert after[node_id] == pytest.approx(value, abs=1e-9)


@given(st.floats(0, 0.5), st.floats(0.01, 0.5), st.floats(0.1, 10), st.floats(0.1, 10))
def test_a_heavier_child_pulls_its_parent_toward_it(
    low: float, gap: float, light: float, extra: float
) -> None:
    high, heavy = low + gap, light + extra
    parent = Aligned(0, None, progress_from=ProgressFrom.CHILDREN)

    def progress(weight_of_high: float) -> float:
        a = Aligned(1, 0, weight=1, krs=((low, 1),))
        b = Aligned(2, 0, weight=weight_of_high, krs=((high, 1),))
        return rollup([parent, a, b])[0] or 0.0

    assert progress(heavy) > progress(light)


@given(st.floats(1, 1000), st.floats(0.01, 0.99), st.floats(0.01, 0.99), st.floats(0.1, 0.9))
def test_a_decreasing_kr_moving_down_moves_its_tree_up(
    start: float, first: float, second: float, sibling: float
) -> None:
    """A decreasing KR (reply time 6 h → 4 h) going down is progress all the way up."""
    target = start / 2
    assume(abs(first - second) > 1e-3)  # rarely false: no health check trouble
    earlier, later = sorted([first, second], reverse=True)  # fractions of the way left to go
    parent = Aligned(0, None, progress_from=ProgressFrom.CHILDREN)

    def tree(current: float) -> dict[int, float | None]:
        child = Aligned(1, 0, krs=((kr_progress(start, target, current), 1), (sibling, 1)))
        return rollup([parent, child])

    before = tree(target + (start - target) * earlier)
    after = tree(target + (start - target) * later)
    assert after[0] is not None and before[0] is not None and after[0] > before[0]


@pytest.mark.parametrize(
    ("progress", "score"),
    [(0.0, 0.0), (0.4, 0.4), (0.649, 0.6), (0.65, 0.7), (0.95, 1.0), (1.3, 1.0), (-0.2, 0.0)],
)
def test_the_suggested_score_is_progress_rounded_to_a_tenth(progress: float, score: float) -> None:
    assert suggested_score(progress) == score


@given(st.floats(min_value=-5, max_value=5, allow_nan=False))
def test_a_suggested_score_is_a_tenth_between_0_and_1(progress: float) -> None:
    score = suggested_score(progress)
    assert 0.0 <= score <= 1.0
    assert round(score * 10) == pytest.approx(score * 10)
    assert abs(score - min(1.0, max(0.0, progress))) <= 0.05 + 1e-9


def test_only_a_kr_short_of_its_target_is_unfinished() -> None:
    assert is_unfinished(0.99) and is_unfinished(-0.1)
    assert not is_unfinished(1.0) and not is_unfinished(1.4)
