"""The report directory and CI outputs, parsed rather than grepped: HTML in a real browser, JUnit through an
XML parser, the Markdown table by its rows."""

from __future__ import annotations

import os
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

CONFIG = """
    [tool.metricgate]
    history = "history.jsonl"
    [tool.metricgate.metrics.accuracy]
    min = 0.88
    [tool.metricgate.metrics.recall]
    min = 0.80
    max-drop = 0.02
    [tool.metricgate.metrics.latency_ms]
    direction = "lower"
    max = 50
    severity = "warning"
"""
HOSTILE = "<img src=x onerror=alert(1)>|*x*"


@pytest.fixture
def reported(project):
    project.config(CONFIG)
    project.history_of(
        "history.jsonl", accuracy=[0.90, 0.91, 0.90], recall=[0.85, 0.86, 0.85], latency_ms=[40, 41, 42]
    )
    project.records({"accuracy": 0.87, "recall": 0.85, "latency_ms": 55, HOSTILE: 1.0})
    return project


class _Page(HTMLParser):
    """Collects the tags and attributes of a page, to prove what it contains and what it does not."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def test_index_html_is_self_contained_and_escapes_user_strings(reported):
    assert reported.run().ret == 1
    page = _Page()
    page.feed((reported.path / "metricgate-report/index.html").read_text())
    tag_names = [tag for tag, _ in page.tags]
    assert "script" not in tag_names
    for tag, attrs in page.tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)  # no event handler got through
        for name in ("src", "href"):
            value = attrs.get(name)
            assert value is None or value.startswith(("data:image/", "#")), (
                tag,
                attrs,
            )  # no network, no files
    images = [attrs for tag, attrs in page.tags if tag == "img"]
    assert len(images) == 5  # the overview and one chart per metric
    body_rows = page.rows[1:]
    assert [row[0] for row in body_rows] == ["accuracy", "latency_ms", "recall", HOSTILE]  # failures first
    assert body_rows[0][4:] == ["FAIL", "below min 0.88"]


def test_summary_md_has_a_status_line_and_one_row_per_metric_failures_first(reported):
    reported.run()
    lines = (reported.path / "metricgate-report/summary.md").read_text().splitlines()
    assert lines[0] == "### \u274c metric gate: FAILED (1 of 3 metrics breached)"
    table = [line for line in lines if line.startswith("|")]
    assert table[0] == "| metric | current | baseline | limits | verdict | reasons |"
    rows = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in table[2:]]
    assert len(rows) == 4
    assert [row[0] for row in rows] == [
        "accuracy",
        "latency\\_ms",
        "recall",
        "&lt;img src=x onerror=alert(1)&gt;\\|\\*x\\*",
    ]
    assert rows[0][4] == "\u274c **FAIL**" and rows[1][4] == "\u26a0\ufe0f **WARN**"


def test_summary_md_is_appended_to_the_github_step_summary(reported, monkeypatch):
    step_summary = reported.path / "step-summary.md"
    step_summary.write_text("# Earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    result = reported.run()
    result.stdout.fnmatch_lines(["job summary: summary.md appended to $GITHUB_STEP_SUMMARY"])
    text = step_summary.read_text()
    assert text.startswith("# Earlier step\n")
    assert text.endswith((reported.path / "metricgate-report/summary.md").read_text())


def test_svg_charts_are_written_when_asked_and_identical_from_run_to_run(project):
    project.config(
        CONFIG.replace('history = "history.jsonl"', 'history = "history.jsonl"\nchart-format = "svg"')
    )
    project.history_of("history.jsonl", accuracy=[0.90, 0.91], recall=[0.85, 0.86], latency_ms=[40, 41])
    project.records({"accuracy": 0.9, "recall": 0.85, "latency_ms": 45})
    project.run("--metric-gate-report-dir=first")
    project.run("--metric-gate-report-dir=second")
    for name in ("accuracy.svg", "recall.svg", "latency_ms.svg", "overview.svg"):
        first = (project.path / "first" / name).read_bytes()
        assert first.startswith(b"<?xml") and b"<svg" in first
        assert first == (project.path / "second" / name).read_bytes()
    assert project.summary("first")["metrics"][0]["chart"] == "accuracy.svg"


def test_chart_runs_caps_the_chart_and_says_so(project):
    project.config("""
        [tool.metricgate]
        history = "history.jsonl"
        chart-runs = 10
        [tool.metricgate.metrics.accuracy]
        min = 0.5
    """)
    project.history_of("history.jsonl", accuracy=[0.9] * 30)
    project.records({"accuracy": 0.9})
    result = project.run()
    result.stdout.fnmatch_lines(["charts: the newest 10 runs are shown; older runs left out (chart-runs)"])
    assert (
        "charts: the newest 10 runs are shown; older runs left out (chart-runs)" in project.summary()["notes"]
    )


def _browser_or_skip() -> str:
    """The Chromium to render with; CI sets METRICGATE_REQUIRE_BROWSER=1 so a missing browser fails, never skips.

    METRICGATE_CHROMIUM names one that is not on PATH (GitHub's runners install Chrome for Testing elsewhere).
    """
    executable = (
        os.environ.get("METRICGATE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        executable = None
    if executable is None:
        if os.environ.get("METRICGATE_REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium and playwright are required here (METRICGATE_REQUIRE_BROWSER=1)")
        pytest.skip("needs Debian's chromium and the playwright package")
    return executable


def test_index_html_renders_in_a_real_browser(reported, tmp_path):
    executable = _browser_or_skip()
    from playwright.sync_api import sync_playwright

    assert reported.run().ret == 1
    index = reported.path / "metricgate-report/index.html"
    screenshot = tmp_path / "index.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            page.goto(index.as_uri(), wait_until="load")
            assert page.title() == "metric gate: FAILED (1 of 3 metrics breached)"
            assert (
                page.locator("header.banner.failed").inner_text()
                == "metric gate: FAILED (1 of 3 metrics breached)"
            )
            assert page.locator("table.verdicts tbody tr").count() == 4  # one row per metric
            widths = page.evaluate(
                "() => Array.from(document.images).map(image => image.complete && image.naturalWidth)"
            )
            assert len(widths) == 5 and all(width > 0 for width in widths), widths  # every chart decoded
            # the hostile name is shown as text, not run as markup
            assert page.locator("table.verdicts tbody tr th").nth(3).inner_text() == HOSTILE
            assert page.evaluate("() => document.querySelectorAll('img[onerror]').length") == 0
            assert [url for url in requests if not url.startswith(("file:", "data:"))] == []  # no network
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    assert screenshot.stat().st_size > 10_000
    assert Path(screenshot).read_bytes().startswith(b"\x89PNG")


def test_the_data_section_renders_in_a_real_browser(project, tmp_path):
    """check_data's section of index.html: its table has a row per column and every distribution chart decodes."""
    executable = _browser_or_skip()
    from playwright.sync_api import sync_playwright
    from test_plugin_data import CONFIG as DATA_CONFIG
    from test_plugin_data import DATA_TEST, DRIFT_AND_MISSING

    project.config(DATA_CONFIG)
    project.file("test_data.py", DATA_TEST.replace("CURRENT_CHANGE", DRIFT_AND_MISSING))
    assert project.run().ret == 1
    index = project.path / "metricgate-report/index.html"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            page.goto(index.as_uri(), wait_until="load")
            section = page.locator("section.data")
            assert section.locator("h2").inner_text() == "Data: data"
            rows = section.locator("table.data-columns tbody tr")
            assert rows.count() == 3  # one row per column
            assert rows.nth(0).locator("th").inner_text() == "income"
            assert rows.nth(0).locator("td.verdict").inner_text() == "DRIFTED"
            assert (
                page.evaluate(
                    "() => getComputedStyle(document.querySelector('table.data-columns tr.drifted')).backgroundColor"
                )
                == "rgb(255, 235, 233)"
            )
            widths = page.evaluate(
                "() => Array.from(document.querySelectorAll('section.data img'))"
                ".map(image => image.complete && image.naturalWidth)"
            )
            assert widths == [900, 900, 900], (
                widths
            )  # three distribution charts, each decoded (9 in x 100 dpi)
            assert [url for url in requests if not url.startswith(("file:", "data:"))] == []
            page.locator("section.data").screenshot(path=str(tmp_path / "data.png"))
        finally:
            browser.close()
    assert (tmp_path / "data.png").read_bytes().startswith(b"\x89PNG")
