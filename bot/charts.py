"""The digest's chart: each KR's progress against the cycle's expected line, and the KPIs'
recent periods against their targets; and the retrospective digest's chart: each objective's
progress over a closed cycle against the expected line. Pure: data in, PNG bytes out.

It draws with matplotlib's object API on an Agg canvas (no pyplot), so there is no global
figure state, nothing to close, no display needed, and it may run in a worker thread.
matplotlib is imported by `draw_chart`, not with this module: it takes about 0.35 s, which
every `okrbot` command would otherwise pay at start-up.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.i18n import t
from bot.progress import KrStatus, clamp
from bot.services.digests import Digest
from bot.services.retros import Retro

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MAX_BARS = 15
MAX_SERIES = 4
LABEL_CHARS = 38
COLOURS = {
    KrStatus.ON_TRACK: "#2e9e5b",
    KrStatus.AT_RISK: "#e0a526",
    KrStatus.OFF_TRACK: "#d0463b",
}
TARGET_COLOUR, WARN_COLOUR, LINE_COLOUR = "#2e9e5b", "#e0a526", "#2c4a6b"


@dataclass(frozen=True)
class Bar:
    label: str
    progress: float
    status: KrStatus


@dataclass(frozen=True)
class Series:
    label: str
    periods: tuple[str, ...]
    values: tuple[float, ...]
    target: float
    warn: float | None


@dataclass(frozen=True)
class ChartData:
    """What the chart shows, with its words already in the reader's language."""

    title: str
    expected: float
    expected_label: str
    progress_label: str
    target_label: str
    bars: tuple[Bar, ...]
    series: tuple[Series, ...]


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def chart_data(digest: Digest, locale: str) -> ChartData:
    """The digest's KRs (furthest behind first, when there are many) and KPIs, as chart data."""
    krs = sorted(digest.key_results, key=lambda kr: clamp(kr.progress) - digest.expected)
    bars = tuple(
        Bar(_short(f"{kr.short_id} {kr.title}"), clamp(kr.progress), kr.status)
        for kr in krs[:MAX_BARS]
    )
    series = tuple(
        Series(_short(kpi.name), kpi.periods, kpi.values, kpi.target, kpi.warn)
        for kpi in digest.kpis[:MAX_SERIES]
    )
    return ChartData(
        title=t(locale, "{team}: key results and KPIs", team=digest.team_name),
        expected=digest.expected,
        expected_label=t(locale, "expected today"),
        progress_label=t(locale, "progress (%)"),
        target_label=t(locale, "target"),
        bars=bars,
        series=series,
    )


def draw_chart(data: ChartData) -> bytes:
    """The chart as a PNG: the bars on the left, the KPIs stacked on the right."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # here, not at start-up
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, max(4.0, 0.45 * len(data.bars) + 1.5)), dpi=100)
    FigureCanvasAgg(figure)
    figure.suptitle(data.title, fontsize=13)
    bars, panels = _axes(figure, data)
    if bars is not None:
        _draw_bars(bars, data)
    for axes, series in zip(panels, data.series, strict=True):
        _draw_series(axes, series, data.target_label)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _axes(figure: Figure, data: ChartData) -> tuple[Axes | None, list[Axes]]:
    """Where to draw: the bars' axes (when there are KRs) and one axes per KPI."""
    count = len(data.series)
    if not data.bars:
        grid = figure.add_gridspec(1, max(1, count))
        return None, [figure.add_subplot(grid[0, column]) for column in range(count)]
    if not count:
        return figure.add_subplot(), []
    grid = figure.add_gridspec(count, 2, width_ratios=[3, 2])
    return figure.add_subplot(grid[:, 0]), [
        figure.add_subplot(grid[row, 1]) for row in range(count)
    ]


def _draw_bars(axes: Axes, data: ChartData) -> None:
    """Horizontal progress bars, the worst at the top, and the expected line across them."""
    labels = [bar.label for bar in data.bars][::-1]
    values = [bar.progress * 100 for bar in data.bars][::-1]
    colours = [COLOURS[bar.status] for bar in data.bars][::-1]
    axes.barh(labels, values, color=colours)
    axes.axvline(data.expected * 100, color=LINE_COLOUR, linestyle="--", label=data.expected_label)
    axes.set_xlim(0, 100)
    axes.set_xlabel(data.progress_label)
    axes.tick_params(axis="y", labelsize=8)
    axes.legend(loc="lower right", fontsize=8)


def _draw_series(axes: Axes, series: Series, target_label: str) -> None:
    """One KPI's last periods, with its target (and warn threshold) as flat lines."""
    axes.plot(series.periods, series.values, marker="o", color=LINE_COLOUR)
    axes.axhline(series.target, color=TARGET_COLOUR, linestyle="--", label=target_label)
    if series.warn is not None:
        axes.axhline(series.warn, color=WARN_COLOUR, linestyle=":")
    axes.set_title(series.label, fontsize=9)
    axes.tick_params(labelsize=7)
    axes.legend(loc="best", fontsize=7)


def digest_chart(digest: Digest, locale: str) -> bytes | None:
    """The PNG that goes with a digest; None for a team with neither KRs nor KPI values."""
    data = chart_data(digest, locale)
    return draw_chart(data) if data.bars or data.series else None


# -- the retrospective digest's chart: each objective's progress over the cycle --------------

MAX_LINES = 8
LINE_COLOURS = ("#2c4a6b", "#2e9e5b", "#d0463b", "#e0a526", "#7b4fa0", "#3a9bb5", "#a0522d")


@dataclass(frozen=True)
class ProgressLine:
    """One objective's progress (percent, 0–100) at moments of the cycle."""

    label: str
    points: tuple[tuple[dt.datetime, float], ...]


@dataclass(frozen=True)
class RetroChartData:
    """What the retrospective chart shows: each objective's line against the expected line,
    which runs from 0 % at the cycle's start to 100 % at its end."""

    title: str
    expected: tuple[tuple[dt.datetime, float], tuple[dt.datetime, float]]
    expected_label: str
    progress_label: str
    lines: tuple[ProgressLine, ...]


def retro_chart_data(retro: Retro, locale: str) -> RetroChartData:
    """The team's objectives (the first MAX_LINES) as lines of percent over the cycle; an
    objective with nothing to average at a moment has no point there."""
    lines = tuple(
        ProgressLine(
            _short(objective.title),
            tuple(
                (point.at, clamp(point.progress) * 100)
                for point in objective.points
                if point.progress is not None
            ),
        )
        for objective in retro.objectives[:MAX_LINES]
    )
    return RetroChartData(
        title=t(locale, "{team}: {cycle} objectives", team=retro.team_name, cycle=retro.cycle_name),
        expected=((retro.start, 0.0), (retro.end, 100.0)),
        expected_label=t(locale, "expected"),
        progress_label=t(locale, "progress (%)"),
        lines=tuple(line for line in lines if line.points),
    )


def draw_retro_chart(data: RetroChartData) -> bytes:
    """The chart as a PNG: a step line per objective, the expected line dashed across."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # here, not at start-up
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_title(data.title, fontsize=13)
    (begin, low), (end, high) = data.expected
    axes.plot([begin, end], [low, high], color="#888888", linestyle="--", label=data.expected_label)
    for n, line in enumerate(data.lines):
        moments = [at for at, _ in line.points]
        values = [value for _, value in line.points]
        colour = LINE_COLOURS[n % len(LINE_COLOURS)]
        axes.step(moments, values, where="post", color=colour, marker="o", label=line.label)
    axes.set_xlim(begin, end)
    axes.set_ylim(0, 100)
    axes.set_ylabel(data.progress_label)
    locator = AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def retro_chart(retro: Retro, locale: str) -> bytes | None:
    """The PNG that goes with a retrospective digest; None when no objective has progress."""
    data = retro_chart_data(retro, locale)
    return draw_retro_chart(data) if data.lines else None
