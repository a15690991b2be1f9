"""The only module that imports matplotlib: series and verdicts in, PNG or SVG bytes out.

Drawing uses ``matplotlib.figure.Figure`` with the Agg canvas, never pyplot, so
no global figure state exists to leak. A temporary ``rc_context`` pins the
style, so a user's matplotlibrc cannot change the output, and the files carry
no date or software tag: identical input gives identical bytes.

Speed: a gate with a few hundred metrics draws a few hundred charts that differ
only in their data and texts. Building a ``Figure``, its axes and its ticks
costs more than drawing it, so a ``MetricPainter`` builds one figure with every
artist a chart may need and refills it per metric (data, limits, texts,
visibility). Every artist is made in ``__init__``, in a fixed order, whatever
was drawn before, so a refilled figure gives the same bytes as a fresh one; the
tests hold it to that.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import os
import struct
import unicodedata
import zlib
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backend_bases import GraphicsContextBase
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.backends.backend_svg import RendererSVG
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.markers import TICKLEFT, MarkerStyle
from matplotlib.patches import Rectangle
from matplotlib.textpath import TextToPath
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Bbox, ScaledTranslation

from .config import MetricRule
from .datacheck import ColumnCheck, DistributionChart
from .gate import ACCEPTED, FAIL, NOT_RUN, PASS, UNGATED, WARN, Verdict, format_limit, format_value, worsening
from .report import Series, display_labels, verdict_word

VERDICT_COLOURS = {
    PASS: "#1a7f37",
    FAIL: "#cf222e",
    WARN: "#bf8700",
    ACCEPTED: "#bf3989",  # not the level-shift purple
    NOT_RUN: "#57606a",
    UNGATED: "#57606a",
}
_LINE_COLOURS = ("#0969da", "#8250df", "#1b7c83", "#bc4c00", "#4d2d00", "#6e7781")
_HISTORY_COLOUR = "#0969da"
_SHIFT_COLOUR = "#8250df"
_STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#d0d7de",
    "grid.linewidth": 0.6,
    "grid.linestyle": "-",
    "grid.alpha": 1.0,
    # What the charts' own y axis (``_ValueAxis``) draws with, as matplotlib's axis would.
    "ytick.direction": "out",
    "ytick.major.size": 3.5,
    "ytick.major.width": 0.8,
    "ytick.major.pad": 3.5,
    "ytick.color": "black",
    "ytick.labelcolor": "inherit",
    "ytick.labelsize": "medium",
    "axes.axisbelow": "line",
    "svg.hashsalt": "pytest-metricgate",
    "svg.fonttype": "path",
    "path.simplify": True,
    # A fixed title position: the automatic one measures every tick label of every axes.
    "axes.titley": 1.0,
    "axes.titlepad": 6.0,
}
# PNG is written here, not by PIL: PIL picks a row filter per row, which cost more than half
# of an 800x450 chart's encoding and made the file larger, since charts are large flat areas of
# few colours that zlib compresses best unfiltered. zlib level 1: level 6 takes more than twice
# as long for a file about a sixth smaller (benchmarks/perf.py measures both); charts are many, small
# and written once, so encoding time is what a CI job notices.
_PNG_COMPRESS_LEVEL = 1
_SAVE_OPTIONS: dict[str, dict[str, object]] = {
    "svg": {"metadata": {"Date": None, "Creator": None}},
}
_MAX_TICKS = 10
_ALL_TICKS = 14  # up to this many runs, every run is labelled
_SINGLE_CHART_LIMIT = 6
# Beyond this many points a marker per point is wider than the gap between points: the markers
# merge into a thick line that hides the line itself, and cost a glyph each (in SVG, an element).
_MARKERS_UP_TO = 60
_COMPACT_MARKERS_UP_TO = 30
_SHIFT_SLOTS = 4  # level-shift lines made up front; a metric with more gets a painter with more


# Families that draw what DejaVu Sans lacks (CJK names, above all), the first one found is used;
# none is required. Debian's fonts-noto-cjk provides the first ones.
_FALLBACK_FAMILIES = (
    "Noto Sans CJK JP",
    "Noto Sans CJK SC",
    "Noto Sans CJK TC",
    "Noto Sans CJK KR",
    "Source Han Sans",
    "Droid Sans Fallback",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "IPAGothic",
    "IPAexGothic",
)
# Where Debian puts those fonts: matplotlib's font list is cached on first use, so a font
# installed after that (a CI image built in layers) is not in it until it is added.
_FALLBACK_FILES = (
    (
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    ),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",),
    ("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",),
)
# Drawn for a character no available font has, instead of an empty box.
REPLACEMENT = "?"


@dataclass(frozen=True)
class Fonts:
    """The font families charts use, first to last, and every character they can draw."""

    families: tuple[str, ...]
    covered: frozenset[int]

    def printable(self, text: str) -> str:
        """``text`` with each character no family has replaced by ``REPLACEMENT``."""
        if text.isascii():
            return text
        return "".join(c if c == "\n" or ord(c) in self.covered else REPLACEMENT for c in text)


@functools.lru_cache(maxsize=1)  # the fonts installed on this machine: looked up once per process
def fonts() -> Fonts:
    """DejaVu Sans (matplotlib's own) and the first fallback family this machine has."""
    from matplotlib import font_manager

    manager = font_manager.fontManager
    known = {entry.name for entry in manager.ttflist}
    if not known.intersection(_FALLBACK_FAMILIES):
        for paths in _FALLBACK_FILES:
            if os.path.isfile(paths[0]):
                for path in (path for path in paths if os.path.isfile(path)):
                    # Adds the font to matplotlib's list in this process; no setting changes.
                    manager.addfont(path)
                known = {entry.name for entry in manager.ttflist}
                break
    families = ("DejaVu Sans", *[family for family in _FALLBACK_FAMILIES if family in known][:1])
    covered: set[int] = set()
    for family in families:
        path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
        covered.update(font_manager.get_font(path).get_charmap())
    return Fonts(families, frozenset(covered))


@contextlib.contextmanager
def drawing_style() -> Iterator[None]:
    """The pinned style: a temporary ``rc_context``, entered once around a batch of charts."""
    style: dict[Any, Any] = {**_STYLE, "font.family": list(fonts().families)}
    with matplotlib.rc_context(style):
        yield


@dataclass(frozen=True)
class ChartJob:
    """What one metric's chart shows: its points, its verdict and its rule (``None``: ungated)."""

    series: Series
    verdict: Verdict
    rule: MetricRule | None


def draw_all(
    series: Sequence[Series],
    verdicts: Mapping[str, Verdict],
    rules: Mapping[str, MetricRule],
    fmt: str,
    *,
    charted: Collection[str] | None = None,
    workers: int | None = None,
) -> tuple[list[bytes], bytes]:
    """The charts of the metrics named in ``charted`` (default: all), in the order of ``series``,
    and the overview of every metric.

    The charts are drawn in batches, each on one reused ``MetricPainter``; with
    many charts the batches are shared among worker processes (see
    ``parallel``) and the overview, the largest single picture, is drawn beside
    them. The bytes are the same either way. ``workers`` overrides the choice
    (1: draw here).
    """
    from . import parallel

    jobs = [
        ChartJob(item, verdicts[item.name], rules.get(item.name))
        for item in series
        if charted is None or item.name in charted
    ]
    count = parallel.worker_count(len(jobs)) if workers is None else workers
    batches = _batches(jobs, count)
    drawn, overview = parallel.starmap(
        draw_batch,
        [(batch, fmt) for batch in batches],
        workers=count,
        first=(overview_chart, (series, verdicts, rules, fmt)),
    )
    return [chart for batch in drawn for chart in batch], overview


def _batches(jobs: Sequence[ChartJob], workers: int) -> list[list[ChartJob]]:
    """Consecutive slices of ``jobs``: one for a single process; for a pool, small enough to share
    the work out evenly, large enough that building each batch's figure is a small part of it."""
    if workers <= 1:
        return [list(jobs)] if jobs else []
    size = max(8, min(24, math.ceil(len(jobs) / (workers * 4))))
    return [list(jobs[start : start + size]) for start in range(0, len(jobs), size)]


def draw_batch(jobs: Sequence[ChartJob], fmt: str) -> list[bytes]:
    """The charts of ``jobs``, in order, drawn on one reused figure."""
    if not jobs:
        return []
    with drawing_style():
        painter = MetricPainter(shift_slots=max(_SHIFT_SLOTS, *(len(job.series.shifts) for job in jobs)))
        charts = []
        for job in jobs:
            painter.paint(job)
            charts.append(painter.save(fmt))
        return charts


def metric_chart(series: Series, verdict: Verdict, rule: MetricRule | None, fmt: str) -> bytes:
    """One metric's trend as PNG or SVG bytes."""
    return draw_batch([ChartJob(series, verdict, rule)], fmt)[0]


def metric_figure(series: Series, verdict: Verdict, rule: MetricRule | None) -> Figure:
    """One metric's trend: history, limits, baseline and its allowed band, breaches, and this run's point."""
    with drawing_style():
        painter = MetricPainter(shift_slots=max(_SHIFT_SLOTS, len(series.shifts)))
        painter.paint(ChartJob(series, verdict, rule))
        painter.figure.canvas.draw()  # lay out while the style is active, so callers see the final positions
        return painter.figure


class MetricPainter:
    """One full-size metric chart whose figure and artists are made once and refilled per metric.

    Make it, ``paint`` and ``save`` inside ``drawing_style()``: the style is read
    when artists are made and again when they are drawn. ``shift_slots`` is the
    most level shifts one chart may show.
    """

    def __init__(self, *, shift_slots: int = _SHIFT_SLOTS) -> None:
        self.figure = ChartFigure(figsize=(8, 4.5), dpi=100)
        self.canvas = _Canvas(self.figure)
        # Fixed margins instead of a layout engine: measuring every label to place
        # the axes cost more than drawing the chart itself. Room on the right for
        # the limit labels; the bottom is set once the run labels are known.
        self.figure.subplots_adjust(left=0.085, right=0.91, top=0.91)
        self.panel = _Panel(self.figure.add_subplot(), self.canvas, compact=False, shift_slots=shift_slots)
        self.legend = _FootLegend(self.figure, slots=5)
        axes = self.panel.axes
        # What most charts of a batch share: the background, the frame, the runs (x axis) and the
        # legend but its baseline entry, which names each metric's own baseline (the legend puts
        # it last, so the others stay put). A PNG draws them once per batch and copies the pixels
        # (see ``save``); ``paint`` says which legend slot is the chart's own.
        self._frame: list[Artist] = [self.figure.patch, axes.patch, *axes.spines.values(), axes.xaxis]
        self._plot = [artist for artist in axes.get_children() if artist not in self._frame]
        self._legend_slots = list(zip(self.legend.lines, self.legend.patches, self.legend.texts))
        self._shared: list[Artist] = []
        self._own: list[Artist] = []
        self._background: tuple[object, object] | None = None
        self._key: tuple[object, ...] = ()

    def paint(self, job: ChartJob) -> None:
        """Show ``job`` on the figure, replacing whatever the previous metric left there."""
        if len(job.series.shifts) > len(self.panel.shifts):
            raise ValueError(f"{len(job.series.shifts)} level shifts, room for {len(self.panel.shifts)}")
        slanted = self.panel.paint(job.series, job.verdict, job.rule)
        entries = self.panel.legend_entries()
        self.legend.show(entries)
        labelled = job.series.label_name
        bottom = (0.26 if slanted else 0.2) if labelled else (0.22 if slanted else 0.16)
        self.figure.subplots_adjust(bottom=bottom)
        # Once the layout is final: how many values fit depends on the axes' height.
        self.panel.values_axis.show()
        self.panel.fit()
        axes = self.panel.axes
        slots = self._legend_slots
        own_slots = [index for index, (artist, _) in enumerate(entries) if artist is self.panel.baseline]
        self._own = [*self._plot, *(artist for index in own_slots for artist in slots[index])]
        self._shared = [
            *self._frame,
            *(artist for index, slot in enumerate(slots) if index not in own_slots for artist in slot),
        ]
        # Everything the shared pixels depend on; a chart that differs gets them drawn anew.
        self._key = (
            bottom,
            axes.get_xlim(),
            tuple(axes.get_xticks()),
            tuple((label.get_text(), label.get_rotation()) for label in axes.get_xticklabels()),
            axes.get_xlabel(),
            tuple(label for artist, label in entries if artist is not self.panel.baseline),
            self.panel.current.get_markerfacecolor(),
            self.panel.history.get_marker(),
        )

    def save(self, fmt: str) -> bytes:
        """The chart as PNG or SVG bytes.

        A PNG starts from the shared pixels (drawn when the previous chart's
        differ) and draws the metric's own artists on top: every PNG is drawn
        this way, so one chart's bytes never depend on the charts before it.
        """
        if fmt != "png":
            return save_figure(self.figure, fmt)
        renderer = self.canvas.get_renderer()
        if self._background is None or self._background[0] != self._key:
            with _hidden(self._own):
                self.canvas.draw()  # type: ignore[no-untyped-call]
            self._background = (self._key, renderer.copy_from_bbox(self.figure.bbox))
        renderer.restore_region(self._background[1])
        with _hidden(self._shared):
            self.figure.draw(renderer)
        return png_bytes(np.asarray(renderer.buffer_rgba()), self.figure.dpi)


@contextlib.contextmanager
def _hidden(artists: Sequence[Artist]) -> Iterator[None]:
    """Hide ``artists`` for a moment, then show again those that were shown."""
    shown = [artist for artist in artists if artist.get_visible()]
    for artist in shown:
        artist.set_visible(False)
    try:
        yield
    finally:
        for artist in shown:
            artist.set_visible(True)


class _FootLegend:
    """One row of legend entries at the figure's foot: it never hides a point, and needs no search.

    matplotlib's ``Legend`` lays its boxes out again at every draw, which cost
    a quarter of a chart; these entries are plain artists placed once per
    metric, measured with the font cache, in inches from the figure's corner.
    """

    FONT_SIZE = 8.0
    LEFT, BASELINE = 0.75, 0.16  # inches
    HANDLE, PAD, GAP = (
        1.6,
        0.8,
        1.2,
    )  # in font sizes, as matplotlib's handlelength, handletextpad, columnspacing

    def __init__(self, figure: Figure, *, slots: int) -> None:
        self.figure = figure
        inches = figure.dpi_scale_trans
        self.lines = [Line2D([], [], transform=inches, visible=False) for _ in range(slots)]
        self.patches = [Rectangle((0, 0), 0, 0, transform=inches, visible=False) for _ in range(slots)]
        self.texts = [
            figure.text(
                0, self.BASELINE, "", transform=inches, fontsize=self.FONT_SIZE, va="center", visible=False
            )
            for _ in range(slots)
        ]
        for artist in (*self.lines, *self.patches):
            figure.add_artist(artist)

    def show(self, entries: Sequence[tuple[Artist, str]]) -> None:
        """Lay ``(artist, label)`` entries out left to right, each drawn in its artist's style."""
        renderer = self.figure.canvas.get_renderer()  # type: ignore[attr-defined]
        em = self.FONT_SIZE / 72  # inches
        x, y = self.LEFT, self.BASELINE
        for index, (line, patch, text) in enumerate(zip(self.lines, self.patches, self.texts)):
            shown = index < len(entries)
            line.set_visible(False)
            patch.set_visible(False)
            text.set_visible(shown)
            if not shown:
                continue
            source, label = entries[index]
            end = x + self.HANDLE * em
            if isinstance(source, Line2D):
                line.update_from(source)
                line.set_transform(self.figure.dpi_scale_trans)
                line.set_clip_on(False)  # update_from copied the axes' clipping
                line.set_data([x, (x + end) / 2, end], [y, y, y])
                line.set_markevery([1])
                line.set_visible(True)
            elif isinstance(source, Rectangle):
                patch.update_from(source)
                patch.set_transform(self.figure.dpi_scale_trans)
                patch.set_clip_on(False)
                patch.set_bounds(x, y - 0.35 * em, end - x, 0.7 * em)
                patch.set_visible(True)
            text.set_text(label)
            text.set_x(end + self.PAD * em)
            # matplotlib's measurement keeps the recurring labels' sizes (a bounded cache per renderer).
            width = text.get_window_extent(renderer).width
            x = end + self.PAD * em + width / self.figure.dpi + self.GAP * em


def overview_chart(
    series: Sequence[Series],
    verdicts: Mapping[str, Verdict],
    rules: Mapping[str, MetricRule],
    fmt: str,
) -> bytes:
    """Every metric at once: the classic single chart for a few metrics on one scale, small multiples otherwise."""
    with drawing_style():
        return save_figure(_overview_figure(series, verdicts, rules), fmt)


def overview_figure(
    series: Sequence[Series], verdicts: Mapping[str, Verdict], rules: Mapping[str, MetricRule]
) -> Figure:
    """The overview chart's figure (see ``overview_chart``)."""
    with drawing_style():
        figure = _overview_figure(series, verdicts, rules)
        figure.canvas.draw()
        return figure


def overview_order(series: Sequence[Series], verdicts: Mapping[str, Verdict]) -> list[Series]:
    """Failing metrics first, then warnings, then the rest, each group in its given order."""
    rank = {FAIL: 0, WARN: 1}
    return sorted(series, key=lambda item: rank.get(verdicts[item.name].verdict, 2))


def _overview_figure(
    series: Sequence[Series], verdicts: Mapping[str, Verdict], rules: Mapping[str, MetricRule]
) -> Figure:
    series = overview_order(series, verdicts)
    if 0 < len(series) <= _SINGLE_CHART_LIMIT and _share_a_scale(series):
        figure = ChartFigure(figsize=(9, 4.8), dpi=100)
        _Canvas(figure)
        figure.subplots_adjust(left=0.075, right=0.93, top=0.9, bottom=0.22)
        _draw_combined(figure.add_subplot(), series, verdicts, rules)
        return figure
    if len(series) > _AXES_PANELS_UP_TO:
        return _grid_figure(series, verdicts, rules)
    columns = max(1, min(6, math.ceil(math.sqrt(len(series)))))
    rows = max(1, math.ceil(len(series) / columns))
    width, height, dpi = 3.4, 2.5, 100
    figure = ChartFigure(figsize=(width * columns, height * rows + 0.3), dpi=dpi)
    canvas = _Canvas(figure)
    figure.subplots_adjust(
        left=0.45 / (width * columns),
        right=1 - 0.1 / (width * columns),
        top=1 - 0.35 / (height * rows + 0.3),
        bottom=0.35 / (height * rows + 0.3),
        hspace=0.55,
        wspace=0.3,
    )
    for index, item in enumerate(series):
        panel = _Panel(
            figure.add_subplot(rows, columns, index + 1), canvas, compact=True, shift_slots=len(item.shifts)
        )
        panel.paint(item, verdicts[item.name], rules.get(item.name))
        panel.values_axis.show()
        if index + columns < len(series) and all(other.labels == item.labels for other in series):
            # The panels share their runs: only the lowest panel of each column names them,
            # which also spares drawing the same labels hundreds of times.
            panel.axes.xaxis.set_tick_params(labelbottom=False)
    if not series:
        figure.text(0.5, 0.5, "no metrics", ha="center", va="center")
    return figure


def _grid_figure(
    series: Sequence[Series], verdicts: Mapping[str, Verdict], rules: Mapping[str, MetricRule]
) -> Figure:
    """Many metrics as a grid of small panels drawn on one axes: a handful of collections and texts
    for the whole grid, instead of an axes per metric with its own ticks, which cost most of the
    time for a few hundred panels. Each panel keeps its name, verdict, line, limits, baseline and
    band, breaches, level shifts and this run's point, and a few y values for its scale."""
    grid = _Grid(len(series))
    figure = ChartFigure(figsize=(grid.width, grid.height), dpi=_GRID_DPI)
    _Canvas(figure)
    axes = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    axes.set_axis_off()
    # Inches from the top left corner: the texts' offsets and the panels' sizes are in inches too.
    axes.set_xlim(0.0, grid.width)
    axes.set_ylim(grid.height, 0.0)
    shared_runs = all(other.labels == series[0].labels for other in series)
    layers = _GridLayers()
    for index, item in enumerate(series):
        column, row = index % grid.columns, index // grid.columns
        lowest_in_column = index + grid.columns >= len(series)
        layers.add(
            grid.box(column, row),
            item,
            verdicts[item.name],
            rules.get(item.name),
            run_labels=lowest_in_column or not shared_runs,
        )
    layers.draw_on(axes)
    return figure


_AXES_PANELS_UP_TO = 36  # more metrics than this share one grid (``_grid_figure``)
_GRID_DPI = 72


class _Grid:
    """Where the panels of a grid of ``count`` metrics go, six to a row, in inches."""

    COLUMNS, CELL_WIDTH, CELL_HEIGHT = 6, 2.8, 1.9
    # The plot's margins inside a cell: room for the title above, the y values on the left and
    # the run labels below.
    LEFT, RIGHT, TOP, BOTTOM = 0.5, 0.12, 0.36, 0.36
    EDGE = 0.15  # around the whole grid

    def __init__(self, count: int) -> None:
        self.columns = min(self.COLUMNS, max(1, count))
        self.rows = max(1, math.ceil(count / self.columns))
        self.width = self.columns * self.CELL_WIDTH + 2 * self.EDGE
        self.height = self.rows * self.CELL_HEIGHT + 2 * self.EDGE

    def box(self, column: int, row: int) -> _Box:
        left = self.EDGE + column * self.CELL_WIDTH
        top = self.EDGE + row * self.CELL_HEIGHT
        return _Box(
            cell_left=left,
            left=left + self.LEFT,
            right=left + self.CELL_WIDTH - self.RIGHT,
            top=top + self.TOP,
            bottom=top + self.CELL_HEIGHT - self.BOTTOM,
        )


@dataclass(frozen=True)
class _Box:
    """One panel of a grid: its cell's left edge and its plot's edges, in inches from the top left."""

    cell_left: float
    left: float
    right: float
    top: float
    bottom: float


class _GridLayers:
    """Every panel's shapes, gathered by kind, so that each kind is drawn once for the whole grid."""

    def __init__(self) -> None:
        self.frames: list[list[tuple[float, float]]] = []
        self.grid_lines: list[list[tuple[float, float]]] = []
        self.history: list[np.ndarray] = []
        self.marked: list[np.ndarray] = []  # the points of short histories, drawn with markers
        self.links: list[list[tuple[float, float]]] = []
        self.limits: list[list[tuple[float, float]]] = []
        self.baselines: list[list[tuple[float, float]]] = []
        self.bands: list[list[tuple[float, float]]] = []
        self.streaks: list[list[tuple[float, float]]] = []
        self.streak_colours: list[str] = []
        self.shifts: list[list[tuple[float, float]]] = []
        self.restarts: list[list[tuple[float, float]]] = []
        self.breaches: list[tuple[float, float]] = []
        self.points: list[tuple[float, float]] = []
        self.point_colours: list[str] = []
        self.texts: list[tuple[float, float, str, dict[str, Any]]] = []

    def add(
        self, box: _Box, series: Series, verdict: Verdict, rule: MetricRule | None, *, run_labels: bool
    ) -> None:
        """One metric's panel in ``box``; ``run_labels``: name its first and last runs below it."""
        colour = VERDICT_COLOURS[verdict.verdict]
        verdict_part = f": {verdict_word(verdict.verdict)}"
        # A long name is cut, never the verdict after it.
        name = _fit(fonts().printable(series.name), _Grid.CELL_WIDTH - 0.2, 9, after=verdict_part)
        self.texts.append(
            (box.cell_left + 0.08, box.top - 0.1, name + verdict_part, _GRID_TITLE | {"color": colour})
        )
        self.frames.append([(box.left, box.top), (box.left, box.bottom), (box.right, box.bottom)])
        values = np.array([math.nan if v is None or not math.isfinite(v) else v for v in series.values])
        count = len(values)
        guides = _guides(rule, verdict)
        low, high = _y_range([*values[~np.isnan(values)].tolist(), *guides.shown()])

        def x_at(index: float) -> float:
            return box.left + (index + 0.5) / max(count, 1) * (box.right - box.left)

        def y_at(value: float) -> float:
            return box.bottom - (value - low) / (high - low) * (box.bottom - box.top)

        def across(value: float) -> list[tuple[float, float]]:
            return [(box.left, y_at(value)), (box.right, y_at(value))]

        def upright(index: float) -> list[tuple[float, float]]:
            return [(x_at(index), box.top), (x_at(index), box.bottom)]

        for tick in MaxNLocator(nbins=2, steps=[1, 2, 2.5, 5, 10]).tick_values(low, high):
            if low <= tick <= high:
                self.grid_lines.append(across(tick))
                self.texts.append((box.left - 0.05, y_at(tick), _tick_text(tick, low, high), _GRID_VALUE))
        if series.has_current and verdict.verdict in (FAIL, WARN):
            start = _streak_start(series) - 0.5
            self.streaks.append(
                [
                    (x_at(start), box.top),
                    (x_at(count - 0.5), box.top),
                    (x_at(count - 0.5), box.bottom),
                    (x_at(start), box.bottom),
                ]
            )
            self.streak_colours.append(colour)
        if guides.band is not None:
            band_low, band_high = y_at(guides.band[0]), y_at(guides.band[1])
            self.bands.append(
                [(box.left, band_low), (box.right, band_low), (box.right, band_high), (box.left, band_high)]
            )
        for bound, limit in guides.limits.items():
            self.limits.append(across(limit))
            self.texts.append(
                (box.right - 0.03, y_at(limit) - 0.03, f"{bound} {format_limit(limit)}", _GRID_LIMIT)
            )
        if guides.baseline is not None:
            self.baselines.append(across(guides.baseline))
        self.shifts.extend(upright(shift.index - 0.5) for shift in series.shifts)
        if series.restarts:
            self.restarts.append(upright(series.restarts[-1] - 0.5))

        # The same mapping as x_at and y_at, for every point at once.
        xs = box.left + (np.arange(count) + 0.5) / max(count, 1) * (box.right - box.left)
        ys = box.bottom - (values - low) / (high - low) * (box.bottom - box.top)
        history_end = count - 1 if series.has_current else count
        history = np.column_stack([xs[:history_end], ys[:history_end]])
        self.history.append(history)
        if history_end <= _COMPACT_MARKERS_UP_TO:
            self.marked.append(history)
        if series.has_current and history_end > 0 and not math.isnan(values[history_end - 1]):
            self.links.append([(xs[history_end - 1], ys[history_end - 1]), (xs[-1], ys[-1])])
        self.breaches.extend(
            (xs[index], ys[index])
            for index in range(history_end)
            if series.breaches[index] and not math.isnan(values[index])
        )
        if series.has_current and count and not math.isnan(values[-1]):
            self.points.append((xs[-1], ys[-1]))
            self.point_colours.append(colour)
        if run_labels and count:
            labels = _shown_labels(series)
            self.texts.append((xs[0], box.bottom + 0.06, _shorten(labels[0]), _GRID_RUN | {"ha": "left"}))
            if count > 1:
                self.texts.append(
                    (xs[-1], box.bottom + 0.06, _shorten(labels[-1]), _GRID_RUN | {"ha": "right"})
                )

    def draw_on(self, axes: Axes) -> None:
        """Add every layer to ``axes``, back to front, each kind as one artist."""
        fail, accepted = VERDICT_COLOURS[FAIL], VERDICT_COLOURS[ACCEPTED]
        axes.add_collection(
            PolyCollection(self.streaks, facecolors=self.streak_colours, alpha=0.07, linewidths=0)
        )
        axes.add_collection(PolyCollection(self.bands, facecolors="#2da44e", alpha=0.12, linewidths=0))
        axes.add_collection(LineCollection(self.grid_lines, colors="#d0d7de", linewidths=0.6))
        axes.add_collection(LineCollection(self.frames, colors="black", linewidths=0.8))
        axes.add_collection(LineCollection(self.limits, colors=fail, linestyles="--", linewidths=1.1))
        axes.add_collection(LineCollection(self.baselines, colors="#57606a", linestyles="-.", linewidths=1.0))
        axes.add_collection(
            LineCollection(self.shifts, colors=_SHIFT_COLOUR, linestyles=(0, (2, 2)), linewidths=1.2)
        )
        axes.add_collection(LineCollection(self.restarts, colors=accepted, linewidths=1.4))
        axes.add_collection(LineCollection(self.history, colors=_HISTORY_COLOUR, linewidths=1.4))
        axes.add_collection(
            LineCollection(self.links, colors=_HISTORY_COLOUR, linestyles=":", linewidths=1.2)
        )
        if self.marked:
            marked = np.concatenate(self.marked)
            _add_line(
                axes,
                marked[:, 0].tolist(),
                marked[:, 1].tolist(),
                linestyle="none",
                marker="o",
                markersize=3,
                color=_HISTORY_COLOUR,
            )
        if self.breaches:
            _add_line(
                axes,
                [x for x, _ in self.breaches],
                [y for _, y in self.breaches],
                linestyle="none",
                marker="x",
                markersize=math.sqrt(30),
                markeredgewidth=1.6,
                color=fail,
            )
        if self.points:
            axes.scatter(
                [x for x, _ in self.points],
                [y for _, y in self.points],
                s=70,
                c=self.point_colours,
                edgecolors="white",
                linewidths=1.5,
                zorder=5,
            )
        for x, y, text, style in self.texts:
            axes.text(x, y, text, **style)


_GRID_TITLE: dict[str, Any] = {"fontsize": 9, "fontweight": "bold", "va": "baseline", "ha": "left"}
_GRID_VALUE: dict[str, Any] = {"fontsize": 7, "va": "center", "ha": "right", "color": "#24292f"}
_GRID_LIMIT: dict[str, Any] = {"fontsize": 7, "va": "bottom", "ha": "right", "color": VERDICT_COLOURS[FAIL]}
_GRID_RUN: dict[str, Any] = {"fontsize": 7, "va": "top", "color": "#24292f"}


def _tick_text(tick: float, low: float, high: float) -> str:
    """A y value with as many decimals as the range needs to tell its ticks apart."""
    span = high - low
    decimals = max(0, min(8, 1 - math.floor(math.log10(span)))) if span > 0 else 2
    text = f"{tick:.{decimals}f}"
    return "0" if float(text) == 0 else text


def _fit(text: str, inches: float, points: float, *, after: str = "") -> str:
    """``text`` cut with an ellipsis so that it and ``after`` take about ``inches`` at ``points``
    size in bold, without measuring (measuring every title would cost more than drawing it): a
    wide East Asian character counts as a full em, any other as 0.62 em, a generous average for
    bold Latin text."""

    def ems(character: str) -> float:
        return 1.0 if unicodedata.east_asian_width(character) in ("W", "F") else 0.62

    budget = inches * 72 / points - sum(ems(character) for character in after)
    width = 0.0
    for index, character in enumerate(text):
        width += ems(character)
        if width > budget:
            return text[: max(1, index - 1)] + "…"
    return text


class _StampingRenderer(RendererAgg):
    """Agg, but each distinct text is drawn once and its pixels copied wherever it recurs.

    Most texts of a batch of charts recur: tick values, limit notes, legend labels, and in a grid
    every panel's few y values. Laying a text out and drawing its glyphs costs about a millisecond,
    copying its pixels a few microseconds. A text is stamped at whole pixels (matplotlib 3.10 and
    earlier placed texts so too; 3.11 places glyphs at fractions of a pixel), and every text is drawn
    this way, first time or not, so a chart's bytes never depend on what was drawn before it.
    """

    PAD = 4  # pixels around a text's measured box: antialiased edges reach a little past it
    # Stamps kept at most: a batch's recurring texts are far fewer, and each chart adds a few that
    # never recur (its title, its value), which would otherwise pile up over thousands of charts.
    KEPT = 512

    def __init__(self, width: float, height: float, dpi: float) -> None:
        super().__init__(width, height, dpi)  # type: ignore[no-untyped-call]
        self._stamps: dict[tuple[object, ...], tuple[np.ndarray[Any, Any], int, int] | None] = {}

    def draw_text(
        self,
        gc: GraphicsContextBase,
        x: float,
        y: float,
        s: str,
        prop: FontProperties,
        angle: float,
        ismath: bool | str = False,
        mtext: Any = None,
    ) -> None:
        if ismath:
            super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)  # type: ignore[no-untyped-call]
            return
        features = getattr(mtext, "get_fontfeatures", lambda: None)()
        language = getattr(mtext, "get_language", lambda: None)()
        rc = matplotlib.rcParams
        # Everything the text's pixels depend on: the font by value (not by hash), and the hinting
        # settings Agg reads when it draws (a figure may be drawn again under other settings).
        font = (
            tuple(prop.get_family()),
            prop.get_style(),
            prop.get_variant(),
            prop.get_weight(),
            prop.get_stretch(),
            prop.get_size_in_points(),
            prop.get_file(),
        )
        key = (
            s,
            font,
            angle,
            gc.get_rgb(),
            gc.get_alpha(),
            gc.get_antialiased(),
            _hashable(features),
            _hashable(language),
            rc["text.hinting"],
            rc["text.hinting_factor"],
        )
        if key not in self._stamps:
            if len(self._stamps) >= self.KEPT:
                self._stamps.clear()  # the bytes are the same either way: every stamp is redrawn alike
            self._stamps[key] = self._stamp(gc, s, prop, angle, mtext)
        stamp = self._stamps[key]
        if stamp is None:  # no ink, or too wide to stamp: drawn as matplotlib draws it
            super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)  # type: ignore[no-untyped-call]
            return
        pixels, left, top = stamp
        # x, y: the text's origin, y downwards; draw_image wants the lower left corner, y upwards.
        # It keeps gc's clip and applies no alpha of its own (the pixels carry the text's alpha).
        column, row = round(x) + left, round(y) + top
        self.draw_image(gc, column, round(self.height) - row - pixels.shape[0], pixels)

    def _stamp(
        self, gc: GraphicsContextBase, s: str, prop: FontProperties, angle: float, mtext: Any
    ) -> tuple[np.ndarray[Any, Any], int, int] | None:
        """The text drawn alone on a transparent canvas just big enough, and where its top left
        corner lies from the text's origin (in pixels, y downwards); ``None`` if it has no ink
        (blanks) or does not fit.

        The canvas is sized without laying the text out (that costs as much as drawing it): no
        glyph of a chart's fonts is wider than 1.5 em, nor reaches further than 1.5 em from the
        baseline. Ink that reaches the canvas's edge may have been cut: then ``None``.
        """
        em = prop.get_size_in_points() * self.dpi / 72
        width, height, descent = 1.5 * em * len(s), 3 * em, 1.5 * em
        turn = math.radians(angle)
        cos, sin = math.cos(turn), math.sin(turn)
        # The measured box's corners from the origin, y upwards, turned by the text's angle.
        corners = [(0.0, -descent), (width, -descent), (width, height - descent), (0.0, height - descent)]
        xs = [cx * cos - cy * sin for cx, cy in corners]
        ys = [cx * sin + cy * cos for cx, cy in corners]
        left = math.floor(min(xs)) - self.PAD
        top = -math.ceil(max(ys)) - self.PAD
        columns = math.ceil(max(xs)) + self.PAD - left
        rows = -math.floor(min(ys)) + self.PAD - top
        scratch = RendererAgg(columns, rows, self.dpi)  # type: ignore[no-untyped-call]
        alone = scratch.new_gc()
        alone.copy_properties(gc)
        alone.set_clip_rectangle(None)  # the clip is in the chart's pixels, not the scratch's
        alone.set_clip_path(None)
        RendererAgg.draw_text(scratch, alone, -left, -top, s, prop, angle, False, mtext)  # type: ignore[no-untyped-call]
        alone.restore()
        pixels = np.asarray(scratch.buffer_rgba())  # type: ignore[no-untyped-call]
        # Only the pixels the text covers: the rest would be copied for nothing.
        rows_used = np.flatnonzero(pixels[:, :, 3].any(axis=1))
        columns_used = np.flatnonzero(pixels[:, :, 3].any(axis=0))
        if rows_used.size == 0:
            return None
        first_row, last_row = rows_used[0], rows_used[-1] + 1
        first_column, last_column = columns_used[0], columns_used[-1] + 1
        if first_row == 0 or first_column == 0 or last_row == rows or last_column == columns:
            return None
        # draw_image takes the rows bottom to top.
        used = pixels[first_row:last_row, first_column:last_column][::-1].copy()
        return used, left + int(first_column), top + int(first_row)


class _Canvas(FigureCanvasAgg):
    """The Agg canvas with a ``_StampingRenderer``."""

    def get_renderer(self) -> Any:  # Any, as matplotlib's: RendererAgg's methods carry no types
        width, height = self.get_width_height(physical=True)
        key = width, height, self.figure.dpi
        if self._lastKey != key:
            self.renderer = _StampingRenderer(width, height, self.figure.dpi)
            self._lastKey = key
        return self.renderer


class _TextOutlines(TextToPath):
    """matplotlib's conversion of texts to outlines for SVG, remembering each text's extent and glyphs.

    SVG charts draw their texts as outlines (``svg.fonttype = "path"``), and matplotlib makes a
    new converter for every file, so each chart laid its tick values, notes and legend out again:
    about a third of an SVG chart's time. One converter for every chart of a process remembers
    them, and answers exactly as matplotlib's would: each file still defines the glyphs it uses.
    """

    KEPT = 512  # texts remembered at most, for the same reason as the stamps'

    def __init__(self) -> None:
        super().__init__()
        # Each entry holds the font object its key names by id: matplotlib's font cache may drop
        # a font, and while the entry lives, that id cannot come back for another font.
        self._extents: dict[tuple[object, ...], tuple[Any, Any]] = {}
        self._glyphs: dict[tuple[object, ...], tuple[Any, Any]] = {}

    def get_text_width_height_descent(self, s: str, prop: FontProperties, ismath: Any) -> Any:
        if ismath:
            return super().get_text_width_height_descent(s, prop, ismath)
        # The font object stands for its files, fallbacks and hinting; the size scales the extent.
        font = self._get_font(prop)  # type: ignore[attr-defined]
        key = (s, id(font), prop.get_size_in_points())
        if key not in self._extents:
            if len(self._extents) >= self.KEPT:
                self._extents.clear()
            extent = super().get_text_width_height_descent(s, prop, ismath)
            self._extents[key] = (font, extent)
        return self._extents[key][1]

    def get_glyphs_with_font(
        self,
        font: Any,
        s: str,
        glyph_map: dict[str, Any] | None = None,
        return_new_glyphs_only: bool = False,
        **options: Any,
    ) -> Any:
        # options: the text's font features and language (matplotlib 3.10 and later).
        key = (s, id(font), *((name, _hashable(value)) for name, value in sorted(options.items())))
        if key not in self._glyphs:
            if len(self._glyphs) >= self.KEPT:
                self._glyphs.clear()
            # Every glyph's outline, in the order of first use, whatever this file defined already.
            found = super().get_glyphs_with_font(font, s, None, False, **options)
            self._glyphs[key] = (font, found)
        placed, outlines, rects = self._glyphs[key][1]
        known = glyph_map if glyph_map is not None else {}
        new = {name: outline for name, outline in outlines.items() if name not in known}
        if return_new_glyphs_only:
            return list(placed), new, list(rects)
        known.update(new)  # matplotlib's way: the map given gains the new glyphs and is returned
        return list(placed), known, list(rects)


def _hashable(value: object) -> object:
    """A text's font features or language (a list, a string or ``None``) as part of a cache key."""
    return tuple(value) if isinstance(value, list) else value


_TEXT_OUTLINES = _TextOutlines()


class ChartFigure(Figure):
    """A chart's figure: saved as SVG, its texts' outlines come from the process's one converter."""

    def draw(self, renderer: Any) -> None:
        # matplotlib hands the SVG renderer wrapped in a MixedModeRenderer (for rasterized artists).
        vector = getattr(renderer, "_vector_renderer", renderer)
        if isinstance(vector, RendererSVG):
            vector._text2path = _TEXT_OUTLINES
        super().draw(renderer)


def save_figure(figure: Figure, fmt: str) -> bytes:
    """``figure`` as PNG or SVG bytes, written as every chart is."""
    if fmt == "png":
        canvas = figure.canvas if isinstance(figure.canvas, _Canvas) else _Canvas(figure)
        canvas.draw()  # type: ignore[no-untyped-call]
        return png_bytes(np.asarray(canvas.buffer_rgba()), figure.dpi)  # type: ignore[no-untyped-call]
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, **_SAVE_OPTIONS[fmt])  # type: ignore[arg-type]
    return buffer.getvalue()


def png_bytes(pixels: np.ndarray[Any, Any], dpi: float, *, level: int = _PNG_COMPRESS_LEVEL) -> bytes:
    """Agg's RGBA pixels (rows top to bottom) as a PNG file: 8-bit RGBA, every row unfiltered,
    zlib at ``level``, the resolution in a pHYs chunk and nothing else (no date, no
    software), so the same pixels always give the same bytes."""
    height, width, channels = pixels.shape
    if channels != 4 or pixels.dtype != np.uint8:
        raise ValueError(f"PNG wants 8-bit RGBA pixels, got {channels} channels of {pixels.dtype}")
    rows = np.zeros((height, 1 + width * 4), dtype=np.uint8)  # each row: filter type 0, then pixels
    rows[:, 1:] = pixels.reshape(height, width * 4)
    per_metre = round(dpi / 0.0254)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)),
            chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)),
            chunk(b"IDAT", zlib.compress(rows.tobytes(), level)),
            chunk(b"IEND", b""),
        )
    )


def _share_a_scale(series: Sequence[Series]) -> bool:
    """True when the metrics' ranges are alike enough to read on one y axis (accuracy beside recall, not beside latency)."""
    spans, lows, highs = [], [], []
    for item in series:
        finite = [v for v in item.values if v is not None and math.isfinite(v)]
        if not finite:
            continue
        lows.append(min(finite))
        highs.append(max(finite))
        spans.append(max(finite) - min(finite))
    if not spans:
        return True
    widest = max(max(spans), 1e-12)
    return (max(highs) - min(lows)) <= 4 * widest or (max(highs) - min(lows)) <= 0.25


def _xs(series: Series) -> list[int]:
    return list(range(len(series.values)))


def _plain(values: Sequence[float | None]) -> list[float]:
    return [math.nan if v is None else v for v in values]


class _ValueAxis:
    """A panel's y axis, drawn by a few artists of its own instead of matplotlib's ``YAxis``.

    matplotlib's axis draws each tick as artists of its own and measures every tick label to
    place an axis label these charts do not have: about a fifth of a chart's drawing. The values
    are still the axis's own locator's and formatter's (its offset, "1e6" or "+1e3", included),
    drawn where matplotlib puts them, in the pinned tick style: grid lines as one collection, the
    tick marks as one line of markers, and a fixed set of texts refilled per metric.
    """

    SLOTS = 24  # more values than an axis of any chart's height shows

    def __init__(self, axes: Axes) -> None:
        rc = matplotlib.rcParams
        self.axes = axes
        axes.yaxis.set_visible(False)
        along = axes.get_yaxis_transform()  # x in axes fractions, y in data
        # Where matplotlib's axis draws them: under the data (axes.axisbelow = "line").
        self.grid = LineCollection(
            [], colors=rc["grid.color"], linewidths=rc["grid.linewidth"], transform=along, zorder=1.5
        )
        axes.add_collection(self.grid, autolim=False)
        size, pad = rc["ytick.major.size"], rc["ytick.major.pad"]
        self.marks = Line2D(
            [],
            [],
            linestyle="none",
            marker=MarkerStyle(TICKLEFT),
            markersize=size,
            markeredgewidth=rc["ytick.major.width"],
            color=rc["ytick.color"],
            transform=along,
            clip_on=False,
            zorder=1.5,
        )
        axes.add_artist(self.marks)
        # Labels end (size + pad) points left of the axis, as matplotlib's do for ticks drawn out.
        beside = along + ScaledTranslation(-(size + pad) / 72, 0, axes.figure.dpi_scale_trans)
        style = {"fontsize": rc["ytick.labelsize"], "color": rc["ytick.color"], "clip_on": False}
        self.labels = [
            axes.text(0, 0, "", transform=beside, ha="right", va="center_baseline", visible=False, **style)
            for _ in range(self.SLOTS)
        ]
        # matplotlib's offset text: over the axis's top, 3 points up.
        self.offset = axes.annotate(
            "",
            (0, 1),
            xycoords="axes fraction",
            xytext=(0, 3),
            textcoords="offset points",
            ha="left",
            va="baseline",
            visible=False,
            **style,
        )

    def show(self) -> None:
        """The values of the axes' current y range, at its current size (set both first)."""
        axis = self.axes.yaxis
        low, high = sorted(self.axes.get_ylim())
        locations = list(axis.get_major_locator()())
        formatter = axis.get_major_formatter()
        # Formatted all together, those outside the range included, as matplotlib's axis does:
        # the formatter picks its decimals and offset from all of them.
        texts = formatter.format_ticks(locations)
        close = 1e-10 * (high - low)
        shown = [(y, text) for y, text in zip(locations, texts) if low - close <= y <= high + close]
        shown = shown[: self.SLOTS]
        self.grid.set_segments([[(0.0, y), (1.0, y)] for y, _ in shown])
        self.marks.set_data([0.0] * len(shown), [y for y, _ in shown])
        for index, label in enumerate(self.labels):
            label.set_visible(index < len(shown))
            if index < len(shown):
                label.set_y(shown[index][0])
                label.set_text(shown[index][1])
        offset = formatter.get_offset() if hasattr(formatter, "get_offset") else ""
        self.offset.set_text(offset)
        self.offset.set_visible(bool(offset))


class _Panel:
    """The artists of one metric's axes, made once, in a fixed order, and refilled by ``paint``.

    Everything a chart may show exists from the start, hidden until a metric
    needs it, so what is drawn never depends on the metrics painted before.
    """

    def __init__(self, axes: Axes, canvas: FigureCanvasAgg, *, compact: bool, shift_slots: int) -> None:
        self.axes, self.canvas, self.compact = axes, canvas, compact
        self.values_axis = _ValueAxis(axes)
        self.count = 0
        self._runs: tuple[object, ...] | None = None  # the runs the x axis shows, and whether slanted
        self._slanted = False
        self.name = self.verdict_word = ""
        fail = VERDICT_COLOURS[FAIL]
        self.streak: Rectangle = axes.axvspan(0, 1, alpha=0.07, zorder=0, visible=False)
        self.band: Rectangle = axes.axhspan(0, 1, color="#2da44e", alpha=0.12, zorder=1, visible=False)
        self.limit_lines = {
            bound: axes.axhline(0, color=fail, linestyle="--", linewidth=1.1, zorder=2, visible=False)
            for bound in ("min", "max")
        }
        self.limit_notes = {
            bound: axes.annotate(
                "",
                (1.0, 0.0),
                xycoords=("axes fraction", "data"),
                # In the right margin, beside the axis, where no data point can hide it.
                xytext=(3, 0) if not compact else (-2, 2),
                textcoords="offset points",
                ha="left" if not compact else "right",
                va="center" if not compact else "bottom",
                color=fail,
                fontsize=7 if compact else 8,
                annotation_clip=False,
                visible=False,
            )
            for bound in ("min", "max")
        }
        self.baseline = axes.axhline(
            0, color="#57606a", linestyle="-.", linewidth=1.0, zorder=2, visible=False
        )
        self.history = _line(
            axes, color=_HISTORY_COLOUR, marker="o", markersize=3 if compact else 4, linewidth=1.4, zorder=3
        )
        self.link = _line(axes, color=_HISTORY_COLOUR, linestyle=":", linewidth=1.2, zorder=3)
        # Markers on lines without lines (not scatter collections): cheaper to draw and to refill.
        self.breaches = _line(
            axes,
            color=fail,
            linestyle="none",
            marker="x",
            markersize=math.sqrt(30 if compact else 45),
            markeredgewidth=1.6,
            zorder=4,
        )
        self.current = _line(
            axes,
            linestyle="none",
            marker="o",
            markersize=math.sqrt(70 if compact else 110),
            markeredgecolor="white",
            markeredgewidth=1.5,
            zorder=5,
        )
        self.shifts = [
            (
                axes.axvline(
                    0, color=_SHIFT_COLOUR, linestyle=(0, (2, 2)), linewidth=1.2, zorder=2, visible=False
                ),
                axes.annotate(
                    "",
                    (0, 0.0),
                    xycoords=("data", "axes fraction"),
                    xytext=(3, 4),
                    textcoords="offset points",
                    fontsize=8,
                    color=_SHIFT_COLOUR,
                    va="bottom",
                    visible=False,
                ),
            )
            for _ in range(shift_slots)
        ]
        self.streak_note = axes.annotate(
            "",
            (0, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(2, -3),
            textcoords="offset points",
            va="top",
            fontsize=8,
            visible=False,
        )
        accepted = VERDICT_COLOURS[ACCEPTED]
        # Where an accepted change restarted the baseline (the newest such run shown).
        self.restart = axes.axvline(0, color=accepted, linewidth=1.4, zorder=2, visible=False)
        self.restart_note = axes.annotate(
            "accepted:\nnew baseline",
            (0, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, -14),
            textcoords="offset points",
            va="top",
            fontsize=8,
            color=accepted,
            visible=False,
        )
        # Which runs the chart shows, when not simply the history's (runs of "main" + this run).
        self.caption = axes.annotate(
            "",
            (1.0, 0.0),
            xycoords="figure fraction",
            xytext=(-6, 6),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize=8,
            color=VERDICT_COLOURS[UNGATED],
            visible=False,
        )
        self.value_note = axes.annotate(
            "",
            (0, 0),
            xytext=(-9, 9),
            textcoords="offset points",
            ha="right",
            fontweight="bold",
            zorder=6,
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85},
            visible=False,
        )
        # The titles' texts, which ``fit`` measures and shortens (matplotlib keeps the left and
        # right titles apart from the centred one, with no public accessor).
        self.titles = [getattr(axes, "_left_title"), getattr(axes, "_right_title")]  # noqa: B009

    def legend_entries(self) -> list[tuple[Artist, str]]:
        """The visible artists that name themselves, in a fixed order, for the figure's legend."""
        # The baseline last: its label names the metric's own value, and the entries after it
        # would move with that text's width (see ``MetricPainter``).
        entries: list[tuple[Artist, str]] = [
            (self.history, "history"),
            (self.breaches, "breach"),
            (self.band, "allowed drop"),
            (self.current, "this run"),
            (self.baseline, str(self.baseline.get_label())),
        ]
        return [(artist, label) for artist, label in entries if artist.get_visible() and _has_points(artist)]

    def paint(self, series: Series, verdict: Verdict, rule: MetricRule | None) -> bool:
        """Show one metric; return whether its run labels are slanted."""
        axes, compact = self.axes, self.compact
        xs, ys = _xs(series), _plain(series.values)
        self.count = len(xs)
        colour = VERDICT_COLOURS[verdict.verdict]
        history_end = len(ys) - 1 if series.has_current else len(ys)
        self.history.set_data(xs[:history_end], ys[:history_end])
        self.history.set_marker(
            "o" if len(ys) <= (_COMPACT_MARKERS_UP_TO if compact else _MARKERS_UP_TO) else ""
        )
        linked = series.has_current and history_end > 0 and not math.isnan(ys[history_end - 1])
        self.link.set_data(xs[history_end - 1 :] if linked else [], ys[history_end - 1 :] if linked else [])

        breach_x = [
            x for x, y, hit in zip(xs[:history_end], ys, series.breaches) if hit and not math.isnan(y)
        ]
        self.breaches.set_data(breach_x, [ys[x] for x in breach_x])
        self.breaches.set_visible(bool(breach_x))

        extent = [y for y in ys if not math.isnan(y)]
        extent += self._limits(rule, verdict)

        has_point = series.has_current and bool(ys) and not math.isnan(ys[-1])
        self.current.set_data([xs[-1]] if has_point else [], [ys[-1]] if has_point else [])
        self.current.set_markerfacecolor(colour)
        self.current.set_color(colour)
        self.current.set_visible(has_point)
        _set_y_range(axes, extent)
        shortfall = None
        if not compact and has_point:
            # Above the point, unless it sits in the top quarter, where the title and labels live.
            low, high = axes.get_ylim()
            above = (ys[-1] - low) < 0.75 * (high - low)
            note = self.value_note
            note.set_text(f"{format_value(ys[-1])} {verdict_word(verdict.verdict).upper()}")
            note.xy = (xs[-1], ys[-1])
            note.xyann = (-9, 9 if above else -9)
            note.set_verticalalignment("bottom" if above else "top")
            note.set_color(colour)
            if verdict.verdict in (FAIL, WARN, ACCEPTED):
                shortfall = _shortfall(rule, ys[-1], verdict)
        self.value_note.set_visible(not compact and has_point)
        runs = (series.labels, series.has_current, series.label_name, len(series.values))
        if runs != self._runs:  # the metrics of a batch mostly share their runs: set them once
            self._slanted = _set_x_labels(axes, series, compact=compact)
            self._runs = runs
        slanted = self._slanted
        self._streak(series, verdict)
        self._shifts(series)
        self._restart(series)
        self.caption.set_text(series.caption)
        self.caption.set_visible(bool(series.caption) and not compact)
        self.name = fonts().printable(series.name)
        self.verdict_word = verdict_word(verdict.verdict)
        title = f"{self.name}: {self.verdict_word}"
        axes.set_title(title, color=colour, fontweight="bold", loc="left", fontsize=9 if compact else 11)
        axes.set_title(shortfall or "", loc="right", color=colour, fontsize=9)
        return slanted

    def fit(self) -> None:
        """Keep every label of the full chart inside the figure and off the others.

        Measured with the renderer's font cache once the figure's margins are set:
        a long name is shortened, a label that would run past the axes' right
        edge ends there instead, labels that meet move apart, and this run's
        value note goes to the other side of its point when the first is taken.
        """
        renderer = self.canvas.get_renderer()  # type: ignore[no-untyped-call]
        frame = self.axes.get_window_extent(renderer)
        points = 72 / self.canvas.figure.dpi  # per pixel
        left, right = self.titles
        room = (right.get_window_extent(renderer).x0 - 12 if right.get_text() else frame.x1 + 40) - frame.x0
        if left.get_window_extent(renderer).width > room:
            low, high = 0, len(self.name)  # the longest prefix of the name that fits, by halving
            while low < high:
                middle = (low + high + 1) // 2
                left.set_text(f"{self.name[:middle]}\u2026: {self.verdict_word}")
                if left.get_window_extent(renderer).width <= room:
                    low = middle
                else:
                    high = middle - 1
            left.set_text(f"{self.name[:low]}\u2026: {self.verdict_word}")
        placed: list[Bbox] = []
        streak, value = self.streak_note, self.value_note
        if streak.get_visible():
            if streak.get_window_extent(renderer).x1 > frame.x1:
                # Would run past the right edge: end at the edge, over the shaded streak.
                streak.xy = (self.count - 0.5, 1.0)
                streak.xyann = (-2, -3)
                streak.set_horizontalalignment("right")
            placed.append(streak.get_window_extent(renderer))
        restart = self.restart_note
        if restart.get_visible():
            if restart.get_window_extent(renderer).x1 > frame.x1:
                restart.xyann = (-3, -14)  # end at its line instead of running past the edge
                restart.set_horizontalalignment("right")
            box = restart.get_window_extent(renderer)
            while any(box.overlaps(other) for other in placed) and box.y0 > frame.y0:
                x, y = restart.xyann  # down from the top, below the streak note
                restart.xyann = (x, y - (box.height + 2) * points)
                box = restart.get_window_extent(renderer)
            placed.append(box)
        if value.get_visible():
            # This run's note comes first: to the other side of its point when the streak note is there.
            if any(value.get_window_extent(renderer).overlaps(other) for other in placed):
                x, y = value.xyann
                value.xyann = (x, -y)
                value.set_verticalalignment("top" if y > 0 else "bottom")
            placed.append(value.get_window_extent(renderer))
            placed.append(self.current.get_window_extent(renderer))
        for _, note in self.shifts:
            if not note.get_visible():
                continue
            if note.get_window_extent(renderer).x1 > frame.x1:
                note.xyann = (-3, 4)  # end at its line instead of running past the edge
                note.set_horizontalalignment("right")
            box = note.get_window_extent(renderer)
            while any(box.overlaps(other) for other in placed) and box.y1 < frame.y1:
                x, y = note.xyann  # up from the axes' foot, one label at a time
                note.xyann = (x, y + (box.height + 2) * points)
                box = note.get_window_extent(renderer)
            placed.append(box)

    def _limits(self, rule: MetricRule | None, verdict: Verdict) -> list[float]:
        """Min/max lines, the baseline and the band the relative rules allow; return the y values shown."""
        guides = _guides(rule, verdict)
        for bound in ("min", "max"):
            limit = guides.limits.get(bound)
            line, note = self.limit_lines[bound], self.limit_notes[bound]
            line.set_visible(limit is not None)
            note.set_visible(limit is not None)
            if limit is None:
                continue
            line.set_ydata([limit, limit])
            note.xy = (1.0, limit)
            note.set_text(
                f"{bound}\n{format_limit(limit)}" if not self.compact else f"{bound} {format_limit(limit)}"
            )
        self.baseline.set_visible(guides.baseline is not None)
        if guides.baseline is not None:
            self.baseline.set_ydata([guides.baseline, guides.baseline])
            self.baseline.set_label(f"baseline ({verdict.baseline_text})")
        if guides.band is not None:
            self.band.set_y(guides.band[0])
            self.band.set_height(guides.band[1] - guides.band[0])
        self.band.set_visible(guides.band is not None)
        return guides.shown()

    def _streak(self, series: Series, verdict: Verdict) -> None:
        """Shade the unbroken run of breaches that ends at this run: "since when not healthy"."""
        shown = series.has_current and verdict.verdict in (FAIL, WARN)
        self.streak.set_visible(shown)
        self.streak_note.set_visible(shown and not self.compact)
        if not shown:
            return
        start = _streak_start(series)
        colour = VERDICT_COLOURS[verdict.verdict]
        self.streak.set_x(start - 0.5)
        self.streak.set_width(len(series.values) - start)
        self.streak.set_color(colour)
        if self.compact:
            return
        labels = _shown_labels(series)
        runs = len(series.values) - start
        since = (
            f"breaching since {_run_word(series)}{_shorten(labels[start])} ({runs} runs)"
            if runs > 1
            else "breaching this run"
        )
        self.streak_note.set_text(since)
        self.streak_note.xy = (start - 0.45, 1.0)
        self.streak_note.xyann = (2, -3)
        self.streak_note.set_horizontalalignment("left")
        self.streak_note.set_color(colour)

    def _shifts(self, series: Series) -> None:
        """A dotted line where the level changed, labelled with the levels before and after."""
        for index, (line, note) in enumerate(self.shifts):
            shift = series.shifts[index] if index < len(series.shifts) else None
            line.set_visible(shift is not None)
            note.set_visible(shift is not None and not self.compact)
            if shift is None:
                continue
            line.set_xdata([shift.index - 0.5, shift.index - 0.5])
            note.xy = (shift.index - 0.5, 0.0)
            note.xyann = (3, 4)
            note.set_horizontalalignment("left")
            note.set_text(f"level shift\n{format_value(shift.before)} \u2192 {format_value(shift.after)}")

    def _restart(self, series: Series) -> None:
        """A solid line where an accepted change restarted the baseline: later runs are judged from there."""
        index = series.restarts[-1] if series.restarts else None
        self.restart.set_visible(index is not None)
        self.restart_note.set_visible(index is not None and not self.compact)
        if index is None:
            return
        self.restart.set_xdata([index - 0.5, index - 0.5])
        self.restart_note.xy = (index - 0.5, 1.0)
        self.restart_note.xyann = (3, -14)
        self.restart_note.set_horizontalalignment("left")


def _line(axes: Axes, **style: object) -> Line2D:
    return _add_line(axes, [], [], **style)


def _add_line(axes: Axes, xs: Sequence[float], ys: Sequence[float], **style: object) -> Line2D:
    line = Line2D(xs, ys, **style)  # type: ignore[arg-type]
    axes.add_line(line)
    return line


def _has_points(artist: object) -> bool:
    return not isinstance(artist, Line2D) or len(artist.get_xdata()) > 0  # type: ignore[arg-type]


def _allowed_drop(rule: MetricRule, reference: float) -> float | None:
    """How far below (or above) the baseline a value may go before a relative rule fails."""
    allowances = []
    if rule.max_drop is not None:
        allowances.append(rule.max_drop)
    if rule.max_drop_pct is not None and reference != 0:
        allowances.append(rule.max_drop_pct / 100 * abs(reference))
    return min(allowances) if allowances else None


def _set_y_range(axes: Axes, extent: Sequence[float]) -> None:
    # Always set, an empty extent included: a reused axes must not keep the previous metric's range.
    axes.set_ylim(*_y_range(extent))


def _y_range(extent: Sequence[float]) -> tuple[float, float]:
    """The y range that shows every finite value of ``extent`` with a margin."""
    finite = [y for y in extent if math.isfinite(y)]
    if not finite:
        return 0.0, 1.0
    low, high = min(finite), max(finite)
    pad = (high - low) * 0.12 or max(abs(high) * 0.05, 0.01)
    return low - pad, high + pad


@dataclass(frozen=True)
class _Guides:
    """The reference lines of one metric's chart: its limits, its baseline and the band its relative rules allow."""

    limits: dict[str, float]
    baseline: float | None
    band: tuple[float, float] | None  # (low, high)

    def shown(self) -> list[float]:
        """The y values the chart must show for the guides to be seen."""
        return [
            *self.limits.values(),
            *([] if self.baseline is None else [self.baseline]),
            *(self.band or ()),
        ]


def _guides(rule: MetricRule | None, verdict: Verdict) -> _Guides:
    if rule is None:
        return _Guides({}, None, None)
    limits = {bound: limit for bound, limit in (("min", rule.min), ("max", rule.max)) if limit is not None}
    reference = verdict.baseline
    if reference is None:
        return _Guides(limits, None, None)
    allowed = _allowed_drop(rule, reference)
    if allowed is None:
        return _Guides(limits, reference, None)
    edge = reference - allowed if rule.higher_is_better else reference + allowed
    return _Guides(limits, reference, (min(edge, reference), max(edge, reference)))


def _streak_start(series: Series) -> int:
    """Where the unbroken run of breaches that ends at this run starts."""
    start = len(series.values) - 1
    while start > 0 and series.breaches[start - 1]:
        start -= 1
    return start


def _shortfall(rule: MetricRule | None, value: float, verdict: Verdict) -> str | None:
    """By how much the value misses the limit it breaches, for the annotation."""
    if rule is None or not math.isfinite(value):
        return None
    if rule.min is not None and value < rule.min:
        return f"{format_value(rule.min - value)} below min {format_limit(rule.min)}"
    if rule.max is not None and value > rule.max:
        return f"{format_value(value - rule.max)} above max {format_limit(rule.max)}"
    if verdict.baseline is not None:
        allowed = _allowed_drop(rule, verdict.baseline)
        drop = worsening(value, verdict.baseline, rule.higher_is_better)
        if allowed is not None and drop > allowed:
            word = "drop" if rule.higher_is_better else "rise"
            return f"{word} {format_value(drop)}, {format_value(drop - allowed)} beyond allowed"
    return None


def _run_word(series: Series) -> str:
    name = series.label_name
    return f"{fonts().printable(name)} " if name and name != "run" else ""


def _set_x_labels(axes: Axes, series: Series, *, compact: bool) -> bool:
    """Label the runs, thinned to a readable number; return whether the labels are slanted."""
    count = len(series.values)
    if not compact:
        # Always set, empty included: a reused axes must not keep the previous metric's name.
        axes.set_xlabel(fonts().printable(series.label_name or ""), labelpad=2)
    if count == 0:
        axes.set_xticks([])
        axes.set_xlim(-0.5, 0.5)
        return False
    labels = _shown_labels(series)
    most = 5 if compact else (count if count <= _ALL_TICKS else _MAX_TICKS)
    step = max(1, math.ceil(count / most))
    # Always show the newest run: count back from it.
    ticks = list(range(count - 1, -1, -step))[::-1]
    shown = [_shorten(labels[i]) for i in ticks]
    rotate = not compact and max(len(label) for label in shown) > 5
    axes.set_xticks(ticks)
    axes.set_xticklabels(
        shown, rotation=30 if rotate else 0, ha="right" if rotate else "center", fontsize=7 if compact else 8
    )
    axes.set_xlim(-0.5, count - 0.5)
    return rotate


def _shown_labels(series: Series) -> list[str]:
    """The runs' labels as people read them (this run's own label, else "this run"), drawable."""
    printable = fonts().printable
    return [printable(label) for label in display_labels(series.labels, has_current=series.has_current)]


def _shorten(label: str) -> str:
    return label if len(label) <= 16 else label[:15] + "…"


def _draw_combined(
    axes: Axes, series: Sequence[Series], verdicts: Mapping[str, Verdict], rules: Mapping[str, MetricRule]
) -> None:
    extent: list[float] = []
    limits_drawn: dict[float, list[str]] = {}
    for index, item in enumerate(series):
        colour = _LINE_COLOURS[index % len(_LINE_COLOURS)]
        verdict = verdicts[item.name]
        xs, ys = _xs(item), _plain(item.values)
        axes.plot(
            xs,
            ys,
            color=colour,
            marker="o",
            markersize=4,
            linewidth=1.5,
            label=f"{fonts().printable(item.name)} ({verdict_word(verdict.verdict)})",
        )
        flags = list(item.breaches)
        if item.has_current and flags:
            flags[-1] = verdict.verdict == FAIL
        hits = [x for x, y, hit in zip(xs, ys, flags) if hit and not math.isnan(y)]
        if hits:
            axes.scatter(hits, [ys[x] for x in hits], color=VERDICT_COLOURS[FAIL], marker="x", s=45, zorder=4)
        extent += [y for y in ys if not math.isnan(y)]
        rule = rules.get(item.name)
        for limit in (rule.min, rule.max) if rule else ():
            if limit is not None:
                limits_drawn.setdefault(limit, []).append(item.name)
    for limit, names in limits_drawn.items():
        axes.axhline(limit, color=VERDICT_COLOURS[FAIL], linestyle="--", linewidth=1.2)
        who = "" if len(names) == len(series) else f" ({', '.join(names)})"
        axes.annotate(
            f"limit {format_limit(limit)}{who}",
            (1.0, limit),
            xycoords=("axes fraction", "data"),
            xytext=(-2, 2),
            textcoords="offset points",
            ha="right",
            va="bottom",
            color=VERDICT_COLOURS[FAIL],
            fontsize=8,
        )
        extent.append(limit)
    _set_y_range(axes, extent)
    _set_x_labels(axes, max(series, key=lambda s: len(s.values)), compact=False)
    failed = sum(1 for item in series if verdicts[item.name].verdict == FAIL)
    title = (
        f"metric gate: {failed} of {len(series)} failing" if failed else f"metric gate: {len(series)} metrics"
    )
    axes.set_title(
        title, loc="left", fontweight="bold", color=VERDICT_COLOURS[FAIL] if failed else VERDICT_COLOURS[PASS]
    )
    figure = axes.get_figure()
    assert figure is not None  # every axes here was made by a figure
    handles, labels = axes.get_legend_handles_labels()
    figure.legend(
        handles,
        labels,
        loc="lower left",
        bbox_to_anchor=(0.07, 0.005),
        ncols=min(len(labels), 6),
        fontsize=8,
        frameon=False,
        handlelength=1.6,
        columnspacing=1.2,
    )


# ---------------------------------------------------------------------------
# Distribution charts for metric_gate.check_data: reference vs current, one column each
# ---------------------------------------------------------------------------

_REFERENCE_COLOUR = "#8c959f"
_CURRENT_COLOUR = "#0969da"


def draw_distributions(items: Sequence[tuple[str, ColumnCheck]], fmt: str) -> list[bytes]:
    """Every column's distribution chart (``items`` pairs a title with the column), in order."""
    from . import parallel

    drawn, _ = parallel.starmap(distribution_chart, [(title, column, fmt) for title, column in items])
    return drawn


def distribution_chart(title: str, column: ColumnCheck, fmt: str) -> bytes:
    """One column, reference vs current, as PNG or SVG bytes.

    Numbers: overlaid histograms (shares per bin) beside the two empirical CDFs
    with the KS gap marked where it is largest. Categories: side-by-side bars of
    each sample's share per category.
    """
    with drawing_style():
        return save_figure(_distribution_figure(title, column), fmt)


def _distribution_figure(title: str, column: ColumnCheck) -> Figure:
    chart = column.chart
    figure = ChartFigure(figsize=(9, 3.4), dpi=100)
    _Canvas(figure)
    colour = VERDICT_COLOURS[FAIL] if column.drifted else VERDICT_COLOURS[UNGATED]
    verdict = "DRIFTED" if column.drifted else "stable"
    if column.p_value is not None:
        test = f"{column.test_name} p {_p_text(column.p_value)}, Holm-adjusted {_p_text(column.p_adjusted)}"
    else:
        test = column.note or "not tested"
    figure.suptitle(
        f"{title}: {verdict}  ({test})",
        x=0.01,
        y=0.98,
        ha="left",
        fontsize=11,
        fontweight="bold",
        color=colour,
    )
    if chart is None:
        figure.text(0.5, 0.5, "no chart data", ha="center", va="center")
        return figure
    if chart.kind == "categorical":
        figure.subplots_adjust(left=0.08, right=0.99, top=0.84, bottom=0.2)
        _draw_category_bars(figure.add_subplot(), chart)
        return figure
    figure.subplots_adjust(left=0.08, right=0.99, top=0.84, bottom=0.13, wspace=0.22)
    histogram, ecdf = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    _draw_histograms(histogram, chart, column)
    _draw_ecdfs(ecdf, chart, column)
    # Few ticks: tick labels are most of a small panel's drawing cost, and five per axis read as well.
    for axes in (histogram, ecdf):
        axes.xaxis.set_major_locator(MaxNLocator(5))
    histogram.yaxis.set_major_locator(MaxNLocator(4))
    ecdf.set_yticks([0.0, 0.25, 0.5, 0.75, 1.0])
    return figure


def _p_text(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2g}" if value < 1e-3 else f"{value:.3f}"


def _draw_histograms(axes: Axes, chart: DistributionChart, column: ColumnCheck) -> None:
    edges = list(chart.edges)
    # One filled outline rather than a bar per bin: the same picture at a fraction of the drawing cost.
    axes.stairs(
        chart.reference,
        edges,
        fill=True,
        color=_REFERENCE_COLOUR,
        alpha=0.45,
        label=f"reference (n={column.n_reference})",
    )
    axes.stairs(
        chart.current, edges, color=_CURRENT_COLOUR, linewidth=1.8, label=f"current (n={column.n_current})"
    )
    axes.set_ylabel("share of values")
    axes.set_title("histogram (outer bins hold the tails)", loc="left", fontsize=9)
    axes.legend(loc="upper right", fontsize=8, frameon=False)


def _draw_ecdfs(axes: Axes, chart: DistributionChart, column: ColumnCheck) -> None:
    probabilities = list(chart.probabilities)
    axes.plot(
        chart.reference_quantiles, probabilities, color=_REFERENCE_COLOUR, linewidth=2.0, label="reference"
    )
    if not any(math.isnan(q) for q in chart.current_quantiles):
        axes.plot(
            chart.current_quantiles, probabilities, color=_CURRENT_COLOUR, linewidth=1.6, label="current"
        )
    if chart.gap_at is not None and column.ks is not None:
        low = _cdf_at(chart.reference_quantiles, probabilities, chart.gap_at)
        high = _cdf_at(chart.current_quantiles, probabilities, chart.gap_at)
        axes.plot(
            [chart.gap_at, chart.gap_at],
            [low, high],
            color=VERDICT_COLOURS[FAIL],
            linewidth=2.2,
        )
        axes.annotate(
            f"D = {column.ks:.3f}",
            (chart.gap_at, (low + high) / 2),
            xytext=(5, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
            color=VERDICT_COLOURS[FAIL],
        )
    axes.set_ylim(-0.02, 1.02)
    # The histogram's range, so the two panels read on one x scale (the far tails sit at 0 and 1).
    axes.set_xlim(chart.edges[0], chart.edges[-1])
    axes.set_ylabel("share <= x")
    # The colours are the histogram's, whose legend names them; the red gap is labelled where it is drawn.
    axes.set_title("empirical CDFs (KS D is the largest vertical gap)", loc="left", fontsize=9)


def _cdf_at(quantiles: Sequence[float], probabilities: Sequence[float], x: float) -> float:
    """The ECDF at ``x``, read back from its quantiles (close enough to place the gap marker)."""
    if x <= quantiles[0]:
        return 0.0
    for index in range(1, len(quantiles)):
        if x <= quantiles[index]:
            span = quantiles[index] - quantiles[index - 1]
            fraction = (x - quantiles[index - 1]) / span if span > 0 else 1.0
            return probabilities[index - 1] + fraction * (probabilities[index] - probabilities[index - 1])
    return 1.0


def _draw_category_bars(axes: Axes, chart: DistributionChart) -> None:
    positions = list(range(len(chart.labels)))
    axes.bar(
        [x - 0.2 for x in positions], chart.reference, width=0.4, color=_REFERENCE_COLOUR, label="reference"
    )
    axes.bar([x + 0.2 for x in positions], chart.current, width=0.4, color=_CURRENT_COLOUR, label="current")
    axes.set_xticks(positions)
    axes.set_xticklabels([_shorten(label) for label in chart.labels], rotation=30, ha="right", fontsize=8)
    axes.set_ylabel("share of values")
    axes.legend(loc="upper right", fontsize=8, frameon=False)
