"""``metric_gate.check_data`` end to end: a real pytest session per case, judged, reported and rendered."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser

import pytest

# One generated test module: a reference and a current dataset of three columns, seeded; CURRENT_CHANGE
# is replaced per case to drift a column or spoil its quality.
DATA_TEST = """
import numpy as np


def datasets():
    rng = np.random.default_rng(7)
    reference = {
        "age": rng.normal(40, 10, 600),
        "income": rng.lognormal(10, 0.5, 600),
        "segment": rng.choice(["a", "b", "c"], 600, p=[0.5, 0.3, 0.2]),
    }
    current = {
        "age": rng.normal(40, 10, 500),
        "income": rng.lognormal(10, 0.5, 500),
        "segment": rng.choice(["a", "b", "c"], 500, p=[0.5, 0.3, 0.2]),
    }
    CURRENT_CHANGE
    return reference, current


def test_data(metric_gate):
    reference, current = datasets()
    found = metric_gate.check_data(reference, current, categorical=["segment"], ranges={"age": (0, 120)})
    assert len(found.columns) == 3
"""

CONFIG = """
    [tool.metricgate.metrics."data.drift_share"]
    direction = "lower"
    max = 0
    [tool.metricgate.metrics."data.income.missing"]
    direction = "lower"
    max = 0.05
"""

# income shifted up by half its scale in the log (a real drift) and 10% of it missing (a quality problem).
DRIFT_AND_MISSING = """current["income"] = current["income"] * 1.6
    current["income"][:50] = np.nan"""


def _data_project(project, change: str = "pass"):
    project.config(CONFIG)
    project.file("test_data.py", DATA_TEST.replace("CURRENT_CHANGE", change))
    return project


class _Tables(HTMLParser):
    """The data section's rows (th + td texts) and every image's source."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.images: list[str] = []
        self.ids: list[str] = []
        self._in_data = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if attributes.get("id"):
            self.ids.append(attributes["id"])
        if tag == "table":
            self._in_data = "data-columns" in (attributes.get("class") or "")
        if tag == "img":
            self.images.append(attributes.get("src") or "")
        if self._in_data and tag == "tr":
            self.rows.append([])
        if self._in_data and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None
        if tag == "table":
            self._in_data = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def test_a_drifted_column_and_a_quality_problem_fail_with_reasons_naming_them(any_runner_project):
    project = _data_project(any_runner_project, DRIFT_AND_MISSING)
    result = project.run()
    assert result.ret == 1
    output = result.stdout.str()
    assert re.search(
        r"^data\.drift_share +0\.3333 +- +max 0, lower is better +FAIL +above max 0; drifted: income "
        r"\(KS p [0-9.e-]+, Holm-adjusted [0-9.e-]+ <= 0\.01\)$",
        output,
        re.MULTILINE,
    ), output
    result.stdout.re_match_lines(
        [r"^data\.income\.missing +0\.1000 +- +max 0\.05, lower is better +FAIL +above max 0\.05$"]
    )
    result.stdout.re_match_lines(
        [r"^data: 3 columns checked, 1 drifted: income \(KS p [0-9.e-]+\) \(family-wise level 0\.01\)$"]
    )
    result.stdout.fnmatch_lines(["metric gate: FAILED (2 of 2 metrics breached)"])
    # The figures nobody gates stay out of the terminal table.
    assert "data.age.psi" not in output and "data.segment.chi2_p" not in output

    summary = project.summary()
    (data,) = summary["data"]
    assert data["drifted"] == ["income"] and data["columns_checked"] == 3
    income = {column["name"]: column for column in data["columns"]}["income"]
    assert income["missing"] == 0.1 and income["drifted"] is True and income["chart"]
    names = {metric["name"] for metric in summary["metrics"]}
    assert {"data.age.psi", "data.age.ks_p", "data.segment.chi2_p", "data.duplicates"} <= names

    index = (project.path / "metricgate-report/index.html").read_text(encoding="utf-8")
    page = _Tables()
    page.feed(index)
    header, *rows = page.rows
    assert header[:3] == ["column", "type", "drift"]
    assert next(row[0] for row in rows) == "income" and sorted(row[0] for row in rows) == [
        "age",
        "income",
        "segment",
    ]
    assert rows[0][2] == "DRIFTED" and rows[0][8] == "10.00%"
    assert "distribution-data-income" in page.ids
    # every column charted (the drifted one and the smallest p-values), each a PNG data URI
    charts = [src for src in page.images if src.startswith("data:image/png;base64,")]
    pngs = [base64.b64decode(src.split(",", 1)[1]) for src in charts]
    assert all(png.startswith(b"\x89PNG") for png in pngs)
    assert len(pngs) == 1 + 2 + 3  # overview, two gated metrics' trend charts, three distribution charts
    markdown = (project.path / "metricgate-report/summary.md").read_text(encoding="utf-8")
    assert "distribution charts (in index.html): [income](distribution.data.income.png)" in markdown


def test_a_clean_dataset_passes_and_says_what_it_checked(project):
    _data_project(project)
    result = project.run()
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["data: 3 columns checked, 0 drifted (family-wise level 0.01)", "metric gate: passed (2 metrics)"]
    )
    assert project.summary()["data"][0]["drifted"] == []


def test_two_datasets_share_a_session_through_their_prefixes(project):
    project.config(
        """
        [tool.metricgate.metrics."train.drift_share"]
        max = 0
        [tool.metricgate.metrics."serving.drift_share"]
        max = 0
        """
    )
    project.file(
        "test_two.py",
        """
import numpy as np

def test_two(metric_gate):
    rng = np.random.default_rng(3)
    reference = {"x": rng.normal(size=300)}
    metric_gate.check_data(reference, {"x": rng.normal(size=300)}, prefix="train")
    metric_gate.check_data(reference, {"x": rng.normal(size=300) + 1}, prefix="serving")
""",
    )
    result = project.run()
    assert result.ret == 1
    result.stdout.fnmatch_lines(["train: 1 column checked, 0 drifted (family-wise level 0.01)"])
    result.stdout.re_match_lines(
        [r"^serving: 1 column checked, 1 drifted: x \(KS p .*\) \(family-wise level 0\.01\)$"]
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            "metric_gate.check_data({'a': [1.0], 'b': [2.0]}, {'a': [1.0]})",
            (
                "metric_gate.check_data: the columns differ: reference has 'b' that current lacks "
                "(pass columns=[...] to compare a subset)"
            ),
        ),
        ("metric_gate.check_data({'a': [1.0]}, {'a': []})", "metric_gate.check_data: current has no rows"),
        (
            "metric_gate.check_data({'city': ['x', 'y']}, {'city': ['x', 'z']})",
            (
                "metric_gate.check_data: column 'city' holds strings (reference dtype <U1); "
                "name it in categorical=[...] to compare its categories"
            ),
        ),
        (
            "metric_gate.check_data({'x': [float('nan')] * 3}, {'x': [1.0, 2.0, 3.0]})",
            (
                "metric_gate.check_data: column 'x' has no values in reference (every one missing); "
                "there is nothing to compare this run's values with"
            ),
        ),
    ],
)
def test_bad_data_fails_that_test_with_one_line_and_no_traceback(project, call, message):
    project.config(CONFIG)
    project.file("test_bad.py", f"def test_bad(metric_gate):\n    {call}\n\ndef test_good():\n    pass\n")
    result = project.run()
    assert result.ret == 1
    result.assert_outcomes(failed=1, passed=1)
    output = result.stdout.str()
    assert f"\n{message}\n" in output, output
    assert "Traceback" not in output and "datacheck.py" not in output


def test_documented_verdicts_for_all_missing_and_infinite_values(project):
    project.config(CONFIG)
    project.file(
        "test_odd.py",
        """
import math

def test_odd(metric_gate):
    reference = {"income": [1.0, 2.0, 3.0, 4.0], "score": [0.1, 0.2, 0.3, 0.4]}
    current = {"income": [float("nan")] * 4, "score": [0.1, math.inf, 0.3, -math.inf]}
    found = metric_gate.check_data(reference, current, ranges={"score": (0, 1)})
    assert found.columns[0].note == "every value missing"
    assert found.columns[1].infinite == 2 and found.columns[1].out_of_range == 0.5
""",
    )
    result = project.run()
    assert result.ret == 1
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["data: 2 columns checked, 1 drifted: income (every value missing) (family-wise level 0.01)"]
    )
    summary = project.summary()
    income = {m["name"]: m for m in summary["metrics"]}["data.income.missing"]
    assert income["value"] == 1.0 and income["verdict"] == "fail"
    assert json.dumps(summary, allow_nan=False)


def test_a_glob_table_gates_every_column_s_figure(project):
    project.config(
        """
        [tool.metricgate.metrics."data.*.missing"]
        direction = "lower"
        max = 0.05
        """
    )
    project.file("test_data.py", DATA_TEST.replace("CURRENT_CHANGE", DRIFT_AND_MISSING))
    result = project.run()
    assert result.ret == 1
    output = result.stdout.str()
    # Every column's missing share is gated by the one glob table, and only income's fails.
    assert re.search(r"^data\.income\.missing +0\.100 .*FAIL", output, re.MULTILINE), output
    assert re.search(
        r"^data\.age\.missing +0\.000 .*via \"data\.\*\.missing\" +pass", output, re.MULTILINE
    ), output
    assert re.search(r"^data\.segment\.missing +0\.000 .*pass", output, re.MULTILINE), output
    assert "data.age.psi" not in output  # still quiet: no table matches it
