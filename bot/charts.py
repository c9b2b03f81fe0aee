"""The digest's chart: each KR's progress against the cycle's expected line, and the KPIs'
recent periods against their targets. Pure: data in, PNG bytes out.

It draws with matplotlib's object API on an Agg canvas (no pyplot), so there is no global
figure state, nothing to close, no display needed, and it may run in a worker thread.
matplotlib is imported by `draw_chart`, not with this module: it takes about 0.35 s, which
every `okrbot` command would otherwise pay at start-up.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.i18n import t
from bot.progress import KrStatus, clamp
from bot.services.digests import Digest

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
