"""Charts: valid files, and the limit line, the baseline and this run's point really drawn where they belong."""

from __future__ import annotations

import io
import struct
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from matplotlib import colors
from matplotlib.image import imread

from pytest_metricgate import charts
from pytest_metricgate.config import MetricRule
from pytest_metricgate.gate import NOT_RUN, Verdict
from pytest_metricgate.report import Series, verdict_word

WEEKS = [0.89, 0.90, 0.91, 0.91, 0.92, 0.91, 0.90, 0.89, 0.87, 0.85, 0.86, 0.86]
RULE = MetricRule("accuracy", min=0.88, max_drop=0.02)
FAILED = Verdict(
    "accuracy",
    "fail",
    0.86,
    baseline=0.87,
    baseline_text="median 0.870 of last 5",
    limits="min 0.88",
    reasons=("below min 0.88",),
    severity="error",
)


def weekly_series(values=WEEKS):
    return Series(
        name="accuracy",
        labels=tuple(str(week) for week in range(1, len(values) + 1)),
        values=tuple(values),
        breaches=tuple(v < 0.88 for v in values[:-1]) + (False,),
        has_current=True,
        label_name="week",
    )


def rendered(figure):
    figure.canvas.draw()
    pixels = np.asarray(figure.canvas.buffer_rgba())[:, :, :3].astype(int)
    return pixels, figure.axes[0]


def pixel_rows(axes, pixels, y):
    """The image row where data value ``y`` is drawn."""
    _, display_y = axes.transData.transform((0, y))
    return pixels.shape[0] - round(display_y)


def near(pixel, hex_colour, tolerance=40):
    target = np.array(colors.to_rgb(hex_colour)) * 255
    return np.abs(pixel - target).max() <= tolerance


def reddish_columns(pixels, rows, left, right):
    """How many columns show the limit red in any of ``rows`` (an antialiased line spans two rows)."""
    band = pixels[rows, left:right]
    red = (band[:, :, 0] - band[:, :, 1] > 80) & (band[:, :, 0] - band[:, :, 2] > 60)
    return int(red.any(axis=0).sum())


def test_the_min_line_is_drawn_at_its_value_in_the_limit_colour():
    pixels, axes = rendered(charts.metric_figure(weekly_series(), FAILED, RULE))
    row = pixel_rows(axes, pixels, 0.88)
    left, right = (int(x) for x in axes.transAxes.transform([(0, 0), (1, 0)])[:, 0])
    # a dashed line covers more than half the axes' width
    assert reddish_columns(pixels, slice(row - 1, row + 2), left, right) > (right - left) * 0.5
    # and nowhere far from 0.88 is there such a line
    far = pixel_rows(axes, pixels, 0.915)
    assert reddish_columns(pixels, slice(far - 1, far + 2), left, right) < (right - left) * 0.05


def test_the_current_point_is_highlighted_in_its_verdict_colour():
    for verdict_name, value in (("fail", 0.86), ("pass", 0.93)):
        values = [*WEEKS[:-1], value]
        verdict = Verdict(
            "accuracy", verdict_name, value, baseline=0.87, baseline_text="median", severity="error"
        )
        pixels, axes = rendered(charts.metric_figure(weekly_series(values), verdict, RULE))
        x, y = axes.transData.transform((len(values) - 1, value))
        centre = pixels[pixels.shape[0] - round(y), round(x)]
        assert near(centre, charts.VERDICT_COLOURS[verdict_name]), (verdict_name, centre)


def test_the_allowed_drop_band_is_shaded_below_the_baseline():
    pixels, axes = rendered(charts.metric_figure(weekly_series(), FAILED, RULE))
    inside = pixel_rows(axes, pixels, 0.87 - 0.01)  # within max-drop 0.02 below the baseline 0.87
    outside = pixel_rows(axes, pixels, 0.87 - 0.03)
    x = int(axes.transAxes.transform((0.03, 0))[0])
    assert pixels[inside, x][1] > pixels[inside, x][0]  # greenish tint
    assert tuple(pixels[outside, x]) == (255, 255, 255)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_png_files_are_valid_and_identical_for_identical_input():
    first = charts.metric_chart(weekly_series(), FAILED, RULE, "png")
    assert png_size(first) == (800, 450)
    assert imread(io.BytesIO(first)).shape == (450, 800, 4)
    assert charts.metric_chart(weekly_series(), FAILED, RULE, "png") == first
    assert b"Software" not in first and b"matplotlib" not in first.lower()


def test_the_png_writer_gives_back_every_pixel_and_the_resolution_to_another_decoder():
    from PIL import Image  # an independent decoder, which also checks every chunk's CRC

    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, size=(37, 53, 4), dtype=np.uint8)  # odd sizes, any alpha
    data = charts.png_bytes(pixels, 100)
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert image.mode == "RGBA" and image.size == (53, 37)
        assert np.array_equal(np.asarray(image), pixels)
        # 100 dpi is 3937 pixels per metre (100 / 0.0254 = 3937.007...), which reads back as 99.9998.
        assert image.info["dpi"] == pytest.approx((100, 100), abs=0.001)
    assert charts.png_bytes(pixels, 100) == data
    with pytest.raises(ValueError, match="8-bit RGBA"):
        charts.png_bytes(pixels[:, :, :3], 100)


def test_svg_files_are_valid_xml_and_identical_for_identical_input():
    first = charts.metric_chart(weekly_series(), FAILED, RULE, "svg")
    root = ET.fromstring(first)
    assert root.tag.endswith("svg")
    assert charts.metric_chart(weekly_series(), FAILED, RULE, "svg") == first
    assert b"<dc:date>" not in first and b"Matplotlib v" not in first


@pytest.mark.parametrize("count", [1, 3, 30])
def test_the_overview_draws_every_metric(count):
    series = [
        Series(f"m{i}", ("1", "2", "3"), (0.5 + i / 100, 0.6, 0.4), (False, False, False), True)
        for i in range(count)
    ]
    verdicts = {s.name: Verdict(s.name, "pass", 0.4) for s in series}
    figure = charts.overview_figure(series, verdicts, {})
    if count <= 6:
        (axes,) = figure.axes
        assert len(axes.get_lines()) == count  # the classic single chart: one line per metric
    else:
        assert len(figure.axes) == count  # small multiples
        assert {axes.get_title(loc="left") for axes in figure.axes} == {f"m{i}: pass" for i in range(count)}
    assert png_size(charts.overview_chart(series, verdicts, {}, "png"))[0] > 0


def test_metrics_on_different_scales_get_small_multiples():
    series = [
        Series("accuracy", ("1", "2"), (0.9, 0.91), (False, False), True),
        Series("latency_ms", ("1", "2"), (120.0, 130.0), (False, False), True),
    ]
    verdicts = {s.name: Verdict(s.name, "pass", 1.0) for s in series}
    assert len(charts.overview_figure(series, verdicts, {}).axes) == 2


def test_drawing_leaves_matplotlibs_global_settings_alone():
    import matplotlib

    before = dict(matplotlib.rcParams)
    charts.metric_chart(weekly_series(), FAILED, RULE, "svg")
    assert dict(matplotlib.rcParams) == before


def test_a_refilled_figure_draws_the_same_bytes_as_a_fresh_one():
    # One painter draws every chart of a batch; what the previous metric showed
    # (breaches, a band, a streak, level shifts, other labels) must leave no trace.
    from pytest_metricgate.report import Shift

    busy = Series(
        "busy metric with a long name",
        tuple(f"2024-01-{day:02d}T00:00:00" for day in range(1, 31)),
        tuple(0.5 + (day % 7) / 10 for day in range(30)),
        tuple(day % 3 == 0 for day in range(30)),
        True,
        "run",
        (Shift(10, "11", 0.7, 0.9), Shift(20, "21", 0.9, 0.6)),
    )
    busy_verdict = Verdict(
        busy.name,
        "warn",
        busy.values[-1],
        baseline=0.8,
        baseline_text="mean 0.800 of last 3",
        severity="warning",
    )
    busy_rule = MetricRule(busy.name, max=1.1, max_drop_pct=5.0)
    quiet = Series("quiet", ("1", "2"), (None, 3.0), (False, False), False)
    quiet_verdict = Verdict("quiet", "ungated", 3.0)
    jobs = [
        charts.ChartJob(weekly_series(), FAILED, RULE),
        charts.ChartJob(busy, busy_verdict, busy_rule),
        charts.ChartJob(quiet, quiet_verdict, None),
    ]
    for fmt in ("png", "svg"):
        fresh = [charts.draw_batch([job], fmt)[0] for job in jobs]
        assert charts.draw_batch(jobs, fmt) == fresh
        assert charts.draw_batch(jobs[::-1], fmt) == fresh[::-1]


def test_an_accepted_run_is_drawn_apart_with_its_restart_and_the_runs_it_shows():
    from dataclasses import replace

    accepted = replace(FAILED, verdict="accepted")
    series = replace(weekly_series(), caption='runs of "main" + this run (on "feat/x")', restarts=(9,))
    figure = charts.metric_figure(series, accepted, RULE)
    pixels, axes = rendered(figure)
    assert axes.get_title(loc="left") == "accuracy: ACCEPTED"
    texts = [text.get_text() for text in axes.texts if text.get_visible()]
    assert "0.860 ACCEPTED" in texts
    assert "accepted:\nnew baseline" in texts
    assert 'runs of "main" + this run (on "feat/x")' in texts
    # The restart line stands between week 9 and week 10 (x = 8.5), in the accepted colour.
    x_display, _ = axes.transData.transform((8.5, 0.9))
    column = pixels[:, round(x_display)]
    assert any(near(pixel, charts.VERDICT_COLOURS["accepted"]) for pixel in column)


def crowded_series(current_label="pr-1234-merge-of-feature-branch-with-a-very-long-name"):
    """Long names and labels, a breach streak ending at the right edge, two level shifts beside it."""
    from pytest_metricgate.report import Shift

    count = 40
    values = [0.91 + 0.002 * (i % 3) for i in range(count - 3)] + [0.86, 0.85, 0.84]
    return Series(
        "accuracy_on_the_held_out_validation_slice_for_customers_in_europe_and_asia",
        tuple(f"nightly-build-{i:04d}-release-candidate" for i in range(count - 1)) + (current_label,),
        tuple(values),
        tuple(v < 0.88 for v in values[:-1]) + (False,),
        True,
        "nightly build",
        (Shift(count - 3, "x", 0.912, 0.85), Shift(count - 2, "y", 0.86, 0.845)),
    )


def visible_texts(figure):
    """Every text the figure draws, with its box in pixels (ticks outside the axes' range are not drawn)."""
    from matplotlib.text import Text

    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    undrawn = set()
    for axes in figure.axes:
        for axis in (axes.xaxis, axes.yaxis):
            low, high = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks():
                if not low - 1e-9 <= tick.get_loc() <= high + 1e-9:
                    undrawn.update((tick.label1, tick.label2))
    return [
        (text, text.get_window_extent(renderer))
        for text in figure.findobj(Text)
        if text.get_visible() and text.get_text().strip() and text not in undrawn
    ]


def test_no_label_is_clipped_or_overlaps_another_on_a_crowded_chart():
    series = crowded_series()
    verdict = Verdict(
        series.name,
        "fail",
        0.84,
        baseline=0.912,
        baseline_text="median 0.912 of last 5",
        limits="min 0.88",
        reasons=("below min 0.88",),
        severity="error",
    )
    figure = charts.metric_figure(series, verdict, RULE)
    texts = visible_texts(figure)
    width, height = figure.canvas.get_width_height()
    assert len(texts) > 20
    for text, box in texts:
        assert 0 <= box.x0 and box.x1 <= width and 0 <= box.y0 and box.y1 <= height, text.get_text()
    ticks = set(figure.axes[0].get_xticklabels())
    for index, (text, box) in enumerate(texts):
        for other, other_box in texts[index + 1 :]:
            if text in ticks and other in ticks:
                continue  # slanted run labels overlap as rectangles, never as glyphs
            assert not box.overlaps(other_box), (text.get_text(), other.get_text())
    shown = {text.get_text() for text, _ in texts}
    assert any(t.endswith("\u2026: FAIL") for t in shown)  # the long name is shortened, not cut off
    assert "0.040 below min 0.88" in shown


@pytest.mark.parametrize(
    ("label", "shown"),
    [("pr-42", "pr-42"), ("", "this run"), ("a-run-label-longer-than-sixteen", "a-run-label-lon\u2026")],
)
def test_the_current_point_is_named_by_the_run_label(label, shown):
    series = weekly_series()
    series = Series(series.name, series.labels[:-1] + (label,), series.values, series.breaches, True, "week")
    axes = charts.metric_figure(series, FAILED, RULE).axes[0]
    assert axes.get_xticklabels()[-1].get_text() == shown


def test_the_overview_puts_failures_first_then_warnings_then_the_rest():
    order = ["pass", "warn", "fail", "pass", "ungated", "fail", "warn", "pass"]
    series = [Series(f"m{i}", ("1", "2"), (0.5, 100.0 * i), (False, False), True) for i in range(len(order))]
    verdicts = {s.name: Verdict(s.name, verdict, s.values[-1]) for s, verdict in zip(series, order)}
    figure = charts.overview_figure(series, verdicts, {})
    titles = [axes.get_title(loc="left") for axes in figure.axes]
    assert titles == [
        "m2: FAIL",
        "m5: FAIL",
        "m1: WARN",
        "m6: WARN",
        "m0: pass",
        "m3: pass",
        "m4: ungated",
        "m7: pass",
    ]


def test_draw_all_draws_only_the_charted_metrics_but_the_overview_shows_every_one():
    series = [Series(f"m{i}", ("1", "2"), (0.5, 0.6 + i), (False, False), True) for i in range(3)]
    verdicts = {s.name: Verdict(s.name, "pass", s.values[-1]) for s in series}
    drawn, overview = charts.draw_all(series, verdicts, {}, "png", charted={"m1"}, workers=1)
    assert drawn == [charts.metric_chart(series[1], verdicts["m1"], None, "png")]
    assert overview == charts.overview_chart(series, verdicts, {}, "png")


def _cjk_fonts_or_skip():
    """Debian's fonts-noto-cjk, which .ci/run installs (METRICGATE_REQUIRE_CJK_FONT=1 there: no skip)."""
    import os

    found = charts.fonts()
    if len(found.families) < 2:
        if os.environ.get("METRICGATE_REQUIRE_CJK_FONT") == "1":
            pytest.fail(
                "a CJK font is required here (METRICGATE_REQUIRE_CJK_FONT=1): apt-get install fonts-noto-cjk"
            )
        pytest.skip("needs a CJK font such as Debian's fonts-noto-cjk")
    return found


def title_pixels(name):
    series = Series(name, ("1", "2"), (0.5, 0.6), (False, False), True)
    figure = charts.metric_figure(series, Verdict(name, "pass", 0.6), None)
    title = next(text for text, _ in visible_texts(figure) if text.get_text().endswith(": pass"))
    box = title.get_window_extent(figure.canvas.get_renderer())
    pixels = np.asarray(figure.canvas.buffer_rgba())[:, :, :3]
    rows = slice(pixels.shape[0] - int(box.y1) - 1, pixels.shape[0] - int(box.y0) + 1)
    return pixels[rows, int(box.x0) : int(box.x0) + 30]  # the first two characters


def test_chinese_names_are_drawn_with_a_fallback_font_not_as_empty_boxes():
    found = _cjk_fonts_or_skip()
    assert found.printable("精度 召回率") == "精度 召回率"
    # Without the font both names would be two identical empty boxes; with it, different glyphs.
    assert not np.array_equal(title_pixels("精度"), title_pixels("召回"))


def test_characters_no_font_has_become_a_plain_replacement():
    dejavu_only = charts.Fonts(("DejaVu Sans",), frozenset(range(0x250)))
    assert dejavu_only.printable("精度 é") == "?? é"
    # An emoji is in no font the charts use, CJK fallback or not.
    assert charts.fonts().printable("recall \U0001f680") == "recall ?"


# -- many metrics: one grid ---------------------------------------------------------------


def grid_series(count, *, verdict_at=None, values=(0.90, 0.91, 0.89, 0.90)):
    """``count`` metrics on the same runs; ``verdict_at`` maps an index to a verdict (else pass)."""
    verdict_at = verdict_at or {}
    series = [
        Series(f"m{i}", ("a", "b", "c", "d"), values, (False,) * len(values), True) for i in range(count)
    ]
    verdicts = {
        s.name: Verdict(s.name, verdict_at.get(i, "pass"), s.values[-1]) for i, s in enumerate(series)
    }
    return series, verdicts


def grid_titles(figure):
    """The panels' titles in reading order (by row, then column), with their rendered extents."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    titles = [
        (text.get_text(), text.get_window_extent(renderer))
        for text in figure.axes[0].texts
        if text.get_fontweight() == "bold"
    ]
    # Display y grows upwards: a higher row has the larger y.
    return sorted(titles, key=lambda item: (-round(item[1].y0), item[1].x0))


def test_more_than_36_metrics_share_one_axes_with_every_name_failures_first():
    verdict_at = {3: "fail", 10: "warn", 20: "fail", 39: "warn"}
    series, verdicts = grid_series(40, verdict_at=verdict_at)
    figure = charts.overview_figure(series, verdicts, {})
    assert len(figure.axes) == 1
    names = [text for text, _ in grid_titles(figure)]
    rest = [f"m{i}: pass" for i in range(40) if i not in verdict_at]
    assert names == ["m3: FAIL", "m20: FAIL", "m10: WARN", "m39: WARN", *rest]


def test_each_grid_panel_shows_its_own_verdict_colour_and_point():
    series, verdicts = grid_series(40, verdict_at={0: "fail"})
    figure = charts.overview_figure(series, verdicts, {})
    titles = grid_titles(figure)
    pixels = np.asarray(figure.canvas.buffer_rgba())[:, :, :3].astype(int)
    height = pixels.shape[0]

    def panel(index):
        """The pixels from a title to the next title on its right and down to the next row's."""
        _, own = titles[index]
        _, right = titles[index + 1]
        _, below = titles[index + 6]
        return pixels[height - round(own.y1) : height - round(below.y1), round(own.x0) : round(right.x0)]

    def has(region, colour):
        target = np.array(colors.to_rgb(colour)) * 255
        return bool((np.abs(region - target).max(axis=2) <= 12).any())

    failing, passing = panel(0), panel(1)
    assert has(failing, charts.VERDICT_COLOURS["fail"]) and not has(failing, charts.VERDICT_COLOURS["pass"])
    assert has(passing, charts.VERDICT_COLOURS["pass"]) and not has(passing, charts.VERDICT_COLOURS["fail"])
    assert has(passing, charts._HISTORY_COLOUR)  # the history line


def test_a_grid_panel_draws_its_limits_and_breaches():
    values = (0.90, 0.70, 0.92, 0.60)
    series = [
        Series(f"m{i}", ("a", "b", "c", "d"), values, (False, True, False, False), True) for i in range(40)
    ]
    rule = MetricRule("m0", min=0.8)
    verdicts = {s.name: Verdict(s.name, "fail", 0.60) for s in series}
    figure = charts.overview_figure(series, verdicts, {s.name: rule for s in series})
    notes = [text.get_text() for text in figure.axes[0].texts if text.get_text().startswith("min ")]
    assert notes == ["min 0.8"] * 40
    (breaches,) = [line for line in figure.axes[0].get_lines() if line.get_marker() == "x"]
    assert len(breaches.get_xdata()) == 40  # the second run of each panel


def test_a_long_name_is_cut_to_its_panel():
    series, verdicts = grid_series(40)
    long_name = "per_slice.region_north_america.segment_enterprise.precision_at_10"
    series[0] = Series(long_name, series[0].labels, series[0].values, series[0].breaches, True)
    verdicts[long_name] = Verdict(long_name, "pass", 0.9)
    figure = charts.overview_figure(series, verdicts, {})
    titles = grid_titles(figure)
    cut = [(text, extent) for text, extent in titles if text.startswith("per_slice")]
    (text, extent), (_, neighbour) = cut[0], titles[1]
    assert text.endswith("…: pass") and len(text) < len(long_name)  # the verdict is never cut
    assert extent.x1 < neighbour.x0  # ends before the next panel's title starts


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_the_grid_is_identical_for_identical_input(fmt):
    series, verdicts = grid_series(40, verdict_at={5: "fail"})
    first = charts.overview_chart(series, verdicts, {}, fmt)
    assert charts.overview_chart(series, verdicts, {}, fmt) == first
    if fmt == "svg":
        assert ET.fromstring(first).tag.endswith("svg")
    else:
        assert png_size(first)[0] > 0


def test_charts_of_one_batch_on_the_same_runs_share_a_background_and_still_match_fresh_ones():
    # Same runs, so the frame and the run labels are drawn once and copied; different baselines,
    # verdicts and legends, which must be each chart's own.
    runs = weekly_series()
    second = Series("recall", runs.labels, tuple(v - 0.05 for v in WEEKS), runs.breaches, True, "week")
    passing = Verdict(
        "recall", "pass", second.values[-1], baseline=0.8612, baseline_text="median 0.861 of last 5"
    )
    ungated = Series(
        "latency", runs.labels, tuple(100 + v for v in WEEKS), (False,) * len(WEEKS), True, "week"
    )
    jobs = [
        charts.ChartJob(runs, FAILED, RULE),
        charts.ChartJob(second, passing, MetricRule("recall", min=0.5, max_drop_pct=3.0)),
        charts.ChartJob(ungated, Verdict("latency", "ungated", ungated.values[-1]), None),
    ]
    fresh = [charts.draw_batch([job], "png")[0] for job in jobs]
    assert charts.draw_batch(jobs, "png") == fresh
    assert charts.draw_batch(jobs[::-1], "png") == fresh[::-1]
    assert len(set(fresh)) == 3


@pytest.mark.parametrize(
    "values",
    [
        (),  # a metric no run measured
        (None, None, None),
        (0.9,),  # this run only
        (0.9, None, 0.8, float("nan")),
        (1e-9, 2e-9, 1.5e-9),  # a tiny range
        (-5.0, 1e6, 3.0),  # a huge one
        (float("inf"), 0.5, 0.6),
    ],
)
def test_the_grid_draws_any_history_a_metric_can_have(values):
    series, verdicts = grid_series(40)
    breaches = (False,) * len(values)
    odd = Series("odd", tuple(f"r{i}" for i in range(len(values))), values, breaches, bool(values))
    series[7] = odd
    verdicts["odd"] = Verdict("odd", NOT_RUN if not values else "pass", None)
    for fmt in ("png", "svg"):
        assert charts.overview_chart(series, verdicts, {"odd": MetricRule("odd", min=0.5)}, fmt)
    figure = charts.overview_figure(series, verdicts, {})
    assert "odd: " + verdict_word(verdicts["odd"].verdict) in [t for t, _ in grid_titles(figure)]


STAMPED_TEXTS = [
    {"s": "accuracy: pass", "rotation": 0},
    {"s": "r1200", "rotation": 30, "ha": "right"},
    {"s": "latency_ms", "rotation": 90},
    {"s": "min\n0.88", "color": "#cf222e"},
    {"s": "half seen", "alpha": 0.5},
    {"s": "准确率 gyp", "fontsize": 14},
]


def ink(pixels):
    """Each pixel's darkness (0: the white background), summed over the colour channels."""
    return 765 - pixels[:, :, :3].astype(int).sum(axis=2)


def drawn_alone(text, canvas_class):
    from matplotlib.figure import Figure

    with charts.drawing_style():
        figure = Figure(figsize=(3, 2), dpi=100)
        canvas = canvas_class(figure)
        figure.text(0.43, 0.37, text.pop("s"), **text)
        canvas.draw()
        return ink(np.asarray(canvas.buffer_rgba()))


@pytest.mark.parametrize("text", STAMPED_TEXTS, ids=[t["s"] for t in STAMPED_TEXTS])
def test_a_stamped_text_has_the_ink_matplotlib_draws_at_most_a_pixel_away(text):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    stamped, drawn = drawn_alone(dict(text), charts._Canvas), drawn_alone(dict(text), FigureCanvasAgg)
    assert drawn.sum() > 0
    # The same amount of ink (a text drawn twice, or with its alpha applied twice, or flipped
    # and cut, would not have it) ...
    assert stamped.sum() == pytest.approx(drawn.sum(), rel=0.03)
    # ... in the same place and the same shape: snapping to whole pixels moves a text by at most
    # half a pixel, so its ink per row and per column matches matplotlib's shifted by a pixel at most.
    for axis in (0, 1):
        stamped_profile, drawn_profile = stamped.sum(axis=axis), drawn.sum(axis=axis)
        closest = min(np.abs(np.roll(stamped_profile, shift) - drawn_profile).sum() for shift in (-1, 0, 1))
        assert closest <= 0.35 * drawn.sum(), f"axis {axis}"


def test_a_stamped_text_keeps_its_clip_and_recurs_with_the_same_pixels():
    from matplotlib.figure import Figure

    with charts.drawing_style():
        figure = Figure(figsize=(3, 2), dpi=100)
        canvas = charts._Canvas(figure)
        axes = figure.add_axes((0.2, 0.2, 0.6, 0.6))
        axes.set_axis_off()
        # The same text twice (the second is copied from the first), and once half outside the axes.
        axes.text(0.1, 0.6, "0.875", transform=axes.transAxes)
        axes.text(0.1, 0.2, "0.875", transform=axes.transAxes)
        axes.text(0.9, 0.4, "0.875", transform=axes.transAxes, clip_on=True)
        canvas.draw()
        darkness = ink(np.asarray(canvas.buffer_rgba()))
    box = axes.get_window_extent()
    inside_columns = slice(round(box.x0), round(box.x1))
    rows = [darkness.shape[0] - round(axes.transAxes.transform((0, y))[1]) for y in (0.6, 0.2)]
    upper = darkness[rows[0] - 12 : rows[0] + 4, inside_columns]
    lower = darkness[rows[1] - 12 : rows[1] + 4, inside_columns]
    assert upper.sum() > 0 and np.array_equal(upper, lower)
    assert darkness[:, round(box.x1) + 1 :].sum() == 0  # nothing drawn past the clip


def test_a_text_too_wide_to_stamp_is_drawn_whole():
    # The per-ten-thousand sign is 1.63 em wide in DejaVu Sans, more than a stamp's room per character.
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    wide = {"s": "\u2031", "fontsize": 60}
    stamped, drawn = drawn_alone(dict(wide), charts._Canvas), drawn_alone(dict(wide), FigureCanvasAgg)
    assert drawn.sum() > 0 and np.array_equal(stamped, drawn)


def test_stamps_kept_are_bounded_and_dropping_them_changes_no_pixel(monkeypatch):
    from matplotlib.figure import Figure

    def drawn(kept):
        monkeypatch.setattr(charts._StampingRenderer, "KEPT", kept)
        with charts.drawing_style():
            figure = Figure(figsize=(3, 2), dpi=100)
            canvas = charts._Canvas(figure)
            for index in range(30):  # 30 distinct texts, the first one again at the end
                figure.text(0.02 + (index % 6) * 0.16, 0.05 + (index // 6) * 0.18, f"v{index}")
            figure.text(0.5, 0.95, "v0")
            canvas.draw()
            return np.asarray(canvas.buffer_rgba()).copy(), len(canvas.get_renderer()._stamps)

    kept_all, count_all = drawn(512)
    kept_few, count_few = drawn(8)
    assert count_all == 30 and count_few <= 8
    assert np.array_equal(kept_all, kept_few)


OUTLINED_TEXTS = [
    *STAMPED_TEXTS,
    {"s": "accuracy: pass", "fontsize": 14},  # a text met before, at another size
    {"s": "accuracy: pass", "family": "DejaVu Serif"},  # and in another font
    {"s": "pass accuracy"},  # the same glyphs in another order
    {"s": r"$\sigma^2$ = 0.4"},  # mathtext, which the converter leaves to matplotlib
]


def outlined_svg(figure_class, texts=OUTLINED_TEXTS):
    """An SVG of ``texts`` (each given as for ``Figure.text``), saved as the charts are."""
    with charts.drawing_style():
        figure = figure_class(figsize=(4, 3), dpi=100)
        for index, text in enumerate(texts):
            # Centred: placed by their extents, which the converter measures too.
            options = {"ha": "center", "va": "center", **text}
            figure.text(0.25 + (index % 2) * 0.5, 0.9 - (index // 2) * 0.14, options.pop("s"), **options)
        return charts.save_figure(figure, "svg")


def test_svg_texts_from_the_shared_converter_are_byte_for_byte_matplotlibs():
    from matplotlib.figure import Figure

    # matplotlib's own: a plain figure gets a new converter for its file.
    own = outlined_svg(Figure)
    assert own.count(b"<use ") > 50  # texts drawn as outlines, glyph by glyph
    # The charts' converter, first with nothing remembered, then after other files have filled it
    # (the same texts reversed, so glyphs come first in another order).
    charts._TEXT_OUTLINES._extents.clear()
    charts._TEXT_OUTLINES._glyphs.clear()
    assert outlined_svg(charts.ChartFigure) == own
    outlined_svg(charts.ChartFigure, OUTLINED_TEXTS[::-1])
    assert outlined_svg(charts.ChartFigure) == own


def test_texts_the_svg_converter_remembers_are_bounded_and_dropping_them_changes_no_byte(monkeypatch):
    from matplotlib.figure import Figure

    texts = [{"s": f"v{index}"} for index in range(30)] + [{"s": "v0"}]
    own = outlined_svg(Figure, texts)
    monkeypatch.setattr(charts._TextOutlines, "KEPT", 8)
    charts._TEXT_OUTLINES._glyphs.clear()
    assert outlined_svg(charts.ChartFigure, texts) == own
    assert 0 < len(charts._TEXT_OUTLINES._glyphs) <= 8 and len(charts._TEXT_OUTLINES._extents) <= 8
