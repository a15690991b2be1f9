"""The only module that imports matplotlib: series and verdicts in, PNG or SVG bytes out.

Drawing uses ``matplotlib.figure.Figure`` with the Agg canvas, never pyplot, so
no global figure state exists to leak. A temporary ``rc_context`` pins the
style, so a user's matplotlibrc cannot change the output, and the files carry
no date or software tag: identical input gives identical bytes.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Iterator, Mapping, Sequence

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .config import MetricRule
from .gate import FAIL, PASS, UNGATED, WARN, Verdict, format_limit, format_value, worsening
from .report import Series, display_labels

VERDICT_COLOURS = {PASS: "#1a7f37", FAIL: "#cf222e", WARN: "#bf8700", UNGATED: "#57606a"}
_LINE_COLOURS = ("#0969da", "#8250df", "#1b7c83", "#bc4c00", "#4d2d00", "#6e7781")
_STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#d0d7de",
    "grid.linewidth": 0.6,
    "svg.hashsalt": "pytest-metricgate",
    "svg.fonttype": "path",
    "path.simplify": True,
    # A fixed title position: the automatic one measures every tick label of every axes.
    "axes.titley": 1.0,
    "axes.titlepad": 6.0,
}
_NO_METADATA = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None}}
_MAX_TICKS = 10
_ALL_TICKS = 14  # up to this many runs, every run is labelled
_SINGLE_CHART_LIMIT = 6


@contextlib.contextmanager
def drawing_style() -> Iterator[None]:
    """The pinned style: a temporary ``rc_context``, entered once around a batch of charts."""
    with matplotlib.rc_context(_STYLE):  # type: ignore[arg-type]
        yield


def draw_all(
    series: Sequence[Series],
    verdicts: Mapping[str, Verdict],
    rules: Mapping[str, MetricRule],
    fmt: str,
    *,
    workers: int | None = None,
) -> tuple[list[bytes], bytes]:
    """Every metric's chart (in the order of ``series``) and the overview.

    With many charts and more than one core, forked workers share the drawing
    (see ``parallel``): each chart costs about as much as a plain matplotlib
    figure, so a few hundred of them are worth the fork. The bytes are the
    same either way. ``workers`` overrides the choice (1: draw here).
    """
    from . import parallel

    jobs = [(item, verdicts[item.name], rules.get(item.name), fmt) for item in series]
    return parallel.starmap(
        metric_chart, jobs, workers=workers, first=(overview_chart, (series, verdicts, rules, fmt))
    )


def metric_chart(series: Series, verdict: Verdict, rule: MetricRule | None, fmt: str) -> bytes:
    """One metric's trend as PNG or SVG bytes."""
    with drawing_style():
        return _save(_metric_figure(series, verdict, rule), fmt)


def metric_figure(series: Series, verdict: Verdict, rule: MetricRule | None) -> Figure:
    """One metric's trend: history, limits, baseline and its allowed band, breaches, and this run's point."""
    with drawing_style():
        figure = _metric_figure(series, verdict, rule)
        figure.canvas.draw()  # lay out while the style is active, so callers see the final positions
        return figure


def _metric_figure(series: Series, verdict: Verdict, rule: MetricRule | None) -> Figure:
    figure = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    # Fixed margins instead of a layout engine: measuring every label to place
    # the axes cost more than drawing the chart itself. Room on the right for
    # the limit labels; the bottom is set once the run labels are known.
    figure.subplots_adjust(left=0.085, right=0.91, top=0.91)
    axes = figure.add_subplot()
    _draw_metric(axes, series, verdict, rule, compact=False)
    return figure


def overview_chart(
    series: Sequence[Series],
    verdicts: Mapping[str, Verdict],
    rules: Mapping[str, MetricRule],
    fmt: str,
) -> bytes:
    """Every metric at once: the classic single chart for a few metrics on one scale, small multiples otherwise."""
    with drawing_style():
        return _save(_overview_figure(series, verdicts, rules), fmt)


def overview_figure(
    series: Sequence[Series], verdicts: Mapping[str, Verdict], rules: Mapping[str, MetricRule]
) -> Figure:
    """The overview chart's figure (see ``overview_chart``)."""
    with drawing_style():
        figure = _overview_figure(series, verdicts, rules)
        figure.canvas.draw()
        return figure


def _overview_figure(
    series: Sequence[Series], verdicts: Mapping[str, Verdict], rules: Mapping[str, MetricRule]
) -> Figure:
    if 0 < len(series) <= _SINGLE_CHART_LIMIT and _share_a_scale(series):
        figure = Figure(figsize=(9, 4.8), dpi=100)
        FigureCanvasAgg(figure)
        figure.subplots_adjust(left=0.075, right=0.93, top=0.9, bottom=0.22)
        _draw_combined(figure.add_subplot(), series, verdicts, rules)
        return figure
    columns = max(1, min(6, math.ceil(math.sqrt(len(series)))))
    rows = max(1, math.ceil(len(series) / columns))
    # Many metrics get smaller panels at a lower resolution: the file stays a few
    # megapixels and every panel keeps its name, verdict, line, limits and point.
    width, height, dpi = (3.4, 2.5, 100) if len(series) <= 36 else (2.8, 1.9, 72)
    figure = Figure(figsize=(width * columns, height * rows + 0.3), dpi=dpi)
    FigureCanvasAgg(figure)
    figure.subplots_adjust(
        left=0.45 / (width * columns),
        right=1 - 0.1 / (width * columns),
        top=1 - 0.35 / (height * rows + 0.3),
        bottom=0.35 / (height * rows + 0.3),
        hspace=0.55,
        wspace=0.3,
    )
    for index, item in enumerate(series):
        axes = figure.add_subplot(rows, columns, index + 1)
        _draw_metric(axes, item, verdicts[item.name], rules.get(item.name), compact=True)
    if not series:
        figure.text(0.5, 0.5, "no metrics", ha="center", va="center")
    return figure


def _save(figure: Figure, fmt: str) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, metadata=_NO_METADATA[fmt])
    return buffer.getvalue()


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


def _draw_metric(
    axes: Axes, series: Series, verdict: Verdict, rule: MetricRule | None, *, compact: bool
) -> None:
    xs, ys = _xs(series), _plain(series.values)
    colour = VERDICT_COLOURS[verdict.verdict]
    history_end = len(ys) - 1 if series.has_current else len(ys)
    axes.plot(
        xs[:history_end],
        ys[:history_end],
        color="#0969da",
        marker="o",
        markersize=3 if compact else 4,
        linewidth=1.4,
        label="history",
        zorder=3,
    )
    if series.has_current and history_end > 0 and not math.isnan(ys[history_end - 1]):
        axes.plot(
            xs[history_end - 1 :],
            ys[history_end - 1 :],
            color="#0969da",
            linestyle=":",
            linewidth=1.2,
            zorder=3,
        )

    breach_x = [x for x, y, hit in zip(xs[:history_end], ys, series.breaches) if hit and not math.isnan(y)]
    breach_y = [ys[x] for x in breach_x]
    if breach_x:
        axes.scatter(
            breach_x,
            breach_y,
            color=VERDICT_COLOURS[FAIL],
            marker="x",
            s=30 if compact else 45,
            linewidths=1.6,
            zorder=4,
            label="breach",
        )

    extent = [y for y in ys if not math.isnan(y)]
    if rule is not None:
        extent += _draw_limits(axes, rule, verdict, compact=compact)

    if series.has_current and ys and not math.isnan(ys[-1]):
        axes.scatter(
            [xs[-1]],
            [ys[-1]],
            s=70 if compact else 110,
            color=colour,
            edgecolor="white",
            linewidth=1.5,
            zorder=5,
            label="this run",
        )
    _set_y_range(axes, extent)
    if not compact and series.has_current and ys and not math.isnan(ys[-1]):
        # Above the point, unless it sits in the top quarter, where the title and labels live.
        low, high = axes.get_ylim()
        above = (ys[-1] - low) < 0.75 * (high - low)
        axes.annotate(
            f"{format_value(ys[-1])} {verdict.verdict.upper()}",
            (xs[-1], ys[-1]),
            xytext=(-9, 9 if above else -9),
            textcoords="offset points",
            ha="right",
            va="bottom" if above else "top",
            color=colour,
            fontweight="bold",
            zorder=6,
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85},
        )
        shortfall = _shortfall(rule, ys[-1], verdict) if verdict.verdict in (FAIL, WARN) else None
        if shortfall:
            axes.set_title(shortfall, loc="right", color=colour, fontsize=9)
    slanted = _set_x_labels(axes, series, compact=compact)
    _mark_failing_streak(axes, series, verdict, compact=compact)
    _mark_shifts(axes, series, compact=compact)
    title = (
        f"{series.name}: {verdict.verdict.upper() if verdict.verdict in (FAIL, WARN) else verdict.verdict}"
    )
    axes.set_title(title, color=colour, fontweight="bold", loc="left", fontsize=9 if compact else 11)
    if not compact:
        # One row at the figure's foot: it never hides a point, and placing it costs no search.
        figure = axes.get_figure()
        assert figure is not None  # every axes here was made by a figure
        handles, labels = axes.get_legend_handles_labels()
        figure.legend(
            handles,
            labels,
            loc="lower left",
            bbox_to_anchor=(0.075, 0.005),
            ncols=5,
            fontsize=8,
            frameon=False,
            handlelength=1.6,
            columnspacing=1.2,
        )
        figure.subplots_adjust(
            bottom=(0.26 if slanted else 0.2) if series.label_name else (0.22 if slanted else 0.16)
        )


def _draw_limits(axes: Axes, rule: MetricRule, verdict: Verdict, *, compact: bool) -> list[float]:
    """Draw min/max lines, the baseline and the band the relative rules allow; return the y values drawn."""
    drawn: list[float] = []
    for label, limit in (("min", rule.min), ("max", rule.max)):
        if limit is None:
            continue
        axes.axhline(limit, color=VERDICT_COLOURS[FAIL], linestyle="--", linewidth=1.1, zorder=2)
        # In the right margin, beside the axis, where no data point can hide it.
        axes.annotate(
            f"{label}\n{format_limit(limit)}" if not compact else f"{label} {format_limit(limit)}",
            (1.0, limit),
            xycoords=("axes fraction", "data"),
            xytext=(3, 0) if not compact else (-2, 2),
            textcoords="offset points",
            ha="left" if not compact else "right",
            va="center" if not compact else "bottom",
            color=VERDICT_COLOURS[FAIL],
            fontsize=7 if compact else 8,
            annotation_clip=False,
        )
        drawn.append(limit)
    if verdict.baseline is not None:
        reference = verdict.baseline
        axes.axhline(
            reference,
            color="#57606a",
            linestyle="-.",
            linewidth=1.0,
            zorder=2,
            label=None if compact else f"baseline ({verdict.baseline_text})",
        )
        drawn.append(reference)
        allowed = _allowed_drop(rule, reference)
        if allowed is not None:
            edge = reference - allowed if rule.higher_is_better else reference + allowed
            axes.axhspan(
                min(edge, reference),
                max(edge, reference),
                color="#2da44e",
                alpha=0.12,
                zorder=1,
                label=None if compact else "allowed drop",
            )
            drawn.append(edge)
    return drawn


def _allowed_drop(rule: MetricRule, reference: float) -> float | None:
    """How far below (or above) the baseline a value may go before a relative rule fails."""
    allowances = []
    if rule.max_drop is not None:
        allowances.append(rule.max_drop)
    if rule.max_drop_pct is not None and reference != 0:
        allowances.append(rule.max_drop_pct / 100 * abs(reference))
    return min(allowances) if allowances else None


def _set_y_range(axes: Axes, extent: Sequence[float]) -> None:
    finite = [y for y in extent if math.isfinite(y)]
    if not finite:
        return
    low, high = min(finite), max(finite)
    pad = (high - low) * 0.12 or max(abs(high) * 0.05, 0.01)
    axes.set_ylim(low - pad, high + pad)


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


def _mark_failing_streak(axes: Axes, series: Series, verdict: Verdict, *, compact: bool) -> None:
    """Shade the unbroken run of breaches that ends at this run: "since when not healthy"."""
    if not series.has_current or verdict.verdict not in (FAIL, WARN):
        return
    start = len(series.values) - 1
    while start > 0 and series.breaches[start - 1]:
        start -= 1
    axes.axvspan(
        start - 0.5, len(series.values) - 0.5, color=VERDICT_COLOURS[verdict.verdict], alpha=0.07, zorder=0
    )
    if not compact:
        labels = display_labels(series.labels, has_current=series.has_current)
        runs = len(series.values) - start
        since = (
            f"breaching since {_run_word(series)}{labels[start]} ({runs} runs)"
            if runs > 1
            else "breaching this run"
        )
        axes.annotate(
            since,
            (start - 0.45, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(2, -3),
            textcoords="offset points",
            va="top",
            fontsize=8,
            color=VERDICT_COLOURS[verdict.verdict],
        )


def _mark_shifts(axes: Axes, series: Series, *, compact: bool) -> None:
    """A dotted line where the level changed, labelled with the levels before and after."""
    for shift in series.shifts:
        axes.axvline(shift.index - 0.5, color="#8250df", linestyle=(0, (2, 2)), linewidth=1.2, zorder=2)
        if not compact:
            axes.annotate(
                f"level shift\n{format_value(shift.before)} \u2192 {format_value(shift.after)}",
                (shift.index - 0.5, 0.0),
                xycoords=("data", "axes fraction"),
                xytext=(3, 4),
                textcoords="offset points",
                fontsize=8,
                color="#8250df",
                va="bottom",
            )


def _run_word(series: Series) -> str:
    return f"{series.label_name} " if series.label_name and series.label_name != "run" else ""


def _set_x_labels(axes: Axes, series: Series, *, compact: bool) -> bool:
    """Label the runs, thinned to a readable number; return whether the labels are slanted."""
    count = len(series.values)
    if count == 0:
        return False
    labels = display_labels(series.labels, has_current=series.has_current)
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
    if series.label_name and not compact:
        axes.set_xlabel(series.label_name, labelpad=2)
    return rotate


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
            label=f"{item.name} ({verdict.verdict.upper() if verdict.verdict in (FAIL, WARN) else verdict.verdict})",
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
