"""SPEC §2 arithmetic, by example and by property."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.progress import (
    KpiStatus,
    KrStatus,
    Trend,
    bar,
    expected_progress,
    is_exceeded,
    kpi_status,
    kr_progress,
    kr_status,
    objective_progress,
    percent,
    sparkline,
    trend,
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
