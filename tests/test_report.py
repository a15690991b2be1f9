"""Report builders and the report directory: safe file names, the manifest, the terminal table."""

from __future__ import annotations

import json

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pytest_metricgate.gate import GateResult, Verdict
from pytest_metricgate.report import (
    MANIFEST,
    NumberColumns,
    chart_anchors,
    chart_file_names,
    summary_json,
    terminal_lines,
    write_report_dir,
)


def test_plain_names_keep_their_name():
    assert chart_file_names(["accuracy", "eval.f1", "loss_v2"], "png") == {
        "accuracy": "accuracy.png",
        "eval.f1": "eval.f1.png",
        "loss_v2": "loss_v2.png",
    }


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/x",
        "a/b",
        "C:\\x",
        "<img src=x onerror=alert(1)>",
        "...",
        "",
        "/",
        "con",
        "overview",
        "summary",
    ],
)
def test_hostile_names_stay_inside_the_report_dir(name):
    (file_name,) = chart_file_names([name], "png").values()
    assert "/" not in file_name and "\\" not in file_name and not file_name.startswith(".")
    assert file_name not in {"overview.png", "summary.png", "index.png", "con.png"}


def test_names_that_clean_to_the_same_file_get_distinct_files():
    files = chart_file_names(["a/b", "a_b", "a?b", "A_B"], "svg")
    assert files == {"a/b": "a_b.svg", "a_b": "a_b-2.svg", "a?b": "a_b-3.svg", "A_B": "A_B-4.svg"}


def test_the_report_dir_removes_only_what_it_wrote_before(tmp_path):
    report = tmp_path / "report"
    write_report_dir(report, {"old.png": b"1", "kept.png": b"2"})
    (report / "users-notes.txt").write_text("mine")
    write_report_dir(report, {"kept.png": b"3"})
    assert sorted(p.name for p in report.iterdir()) == [MANIFEST, "kept.png", "users-notes.txt"]
    assert (report / "kept.png").read_bytes() == b"3"
    assert json.loads((report / MANIFEST).read_text()) == {"files": ["kept.png"]}


def test_a_symlink_in_the_report_dir_is_replaced_not_followed(tmp_path):
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"precious")
    report = tmp_path / "report"
    report.mkdir()
    (report / "acc.png").symlink_to(outside)
    write_report_dir(report, {"acc.png": b"chart"})
    assert outside.read_bytes() == b"precious"
    assert not (report / "acc.png").is_symlink()
    assert (report / "acc.png").read_bytes() == b"chart"


def test_a_forged_manifest_cannot_delete_outside_the_report_dir(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    report = tmp_path / "report"
    report.mkdir()
    (report / MANIFEST).write_text(json.dumps({"files": ["../victim.txt", str(victim), ".."]}))
    write_report_dir(report, {"a.png": b"x"})
    assert victim.read_text() == "keep"


def test_terminal_rows_are_aligned_with_failures_first():
    result = GateResult(
        (
            Verdict("precision", "pass", 0.9, baseline=0.91, limits="min 0.5"),
            Verdict(
                "accuracy_long_name", "fail", 0.5, baseline=0.9, limits="min 0.8", reasons=("below min 0.8",)
            ),
            Verdict("f1", "ungated", 0.7),
        )
    )
    lines = [line.text for line in terminal_lines(result)]
    assert lines == [
        "metric              current  baseline  limit    verdict  reason",
        "accuracy_long_name  0.500    0.900     min 0.8  FAIL     below min 0.8",
        "precision           0.900    0.910     min 0.5  pass",
        "f1                  0.700    -         -        ungated",
        "metric gate: FAILED (1 of 2 metrics breached)",
    ]


def test_summary_json_is_strict_json_even_for_nan():
    result = GateResult((Verdict("a", "fail", float("nan"), reasons=("not finite (nan)",)),))
    document = summary_json(result, {"a": "a.png"})
    text = json.dumps(document, allow_nan=False)
    assert json.loads(text)["metrics"][0]["value"] == "nan"
    assert document["status"] == "failed"


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["accuracy", "eval.f1"], ["chart-accuracy", "chart-eval-f1"]),
        (["a|b", "a b", "a/b"], ["chart-a-b", "chart-a-b-2", "chart-a-b-3"]),
        # a name that is itself a numbered form of an earlier one moves on again
        (["a|b", "a b", "a b 2"], ["chart-a-b", "chart-a-b-2", "chart-a-b-2-2"]),
        (["", "\u7cbe\u5ea6", "///"], ["chart-metric", "chart-metric-2", "chart-metric-3"]),
    ],
)
def test_chart_anchors_are_distinct_for_names_that_clean_alike(names, expected):
    assert list(chart_anchors(names).values()) == expected


@given(st.lists(st.text(max_size=12), unique=True, max_size=30))
def test_chart_anchors_are_distinct_valid_ids_for_any_names(names):
    anchors = chart_anchors(names)
    ids = list(anchors.values())
    assert len(set(ids)) == len(names)
    assert "overview" not in ids
    # An HTML id is non-empty and has no whitespace.
    assert all(anchor and not any(ch.isspace() for ch in anchor) for anchor in ids)


# -- one number format per column ------------------------------------------------------


def _numbers(*rows):
    verdicts = [
        Verdict(name=f"m{index}", verdict="pass", value=value, baseline=baseline, edges=edges)
        for index, (value, baseline, edges) in enumerate(rows)
    ]
    columns = NumberColumns.of(verdicts)
    return [(columns.format(v.value), columns.format(v.baseline)) for v in verdicts]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        # The issue's mixed column (1, 0.950, 0.9737): the most decimals any row needs (0.9737's four)
        # go down the whole column.
        (
            [(1.0, 0.95, (0.9,)), (0.95, 0.95, ()), (0.9737, None, (0.97,))],
            [("1.0000", "0.9500"), ("0.9500", "0.9500"), ("0.9737", "-")],
        ),
        # 0.87996 against min 0.88: three decimals would print 0.880, which reads as passing.
        ([(0.87996, 0.9, (0.88,)), (0.95, 0.95, ())], [("0.87996", "0.90000"), ("0.95000", "0.95000")]),
        # Against max-drop 0.02 from 0.90 (edge 0.88): 0.8799 needs a fourth decimal.
        ([(0.8799, 0.9, (0.88,))], [("0.8799", "0.9000")]),
        # Whole numbers stay whole when nothing needs decimals.
        ([(55.0, 41.0, (50.0,))], [("55", "41")]),
        # A value equal to its edge within float rounding is not split by more digits.
        ([(0.1 + 0.2, None, (0.3,))], [("0.300", "-")]),
        # So too at a larger size: these two differ by 8e-11 of themselves (found by hypothesis).
        ([(373.0, None, (373.0000000298024,))], [("373", "-")]),
        # None, NaN and magnitudes outside fixed notation keep their own forms.
        (
            [(None, 0.5, ()), (float("nan"), None, ()), (2.5e-7, None, ())],
            [("-", "0.500"), ("nan", "-"), ("2.5e-07", "-")],
        ),
    ],
)
def test_number_columns_use_one_rule_per_column(rows, expected):
    assert _numbers(*rows) == expected


@given(st.floats(0.001, 1000), st.floats(0.001, 1000))
def test_a_value_never_prints_like_a_different_edge_it_was_judged_against(value, edge):
    # Eight decimals, the most a column uses, tell apart any two numbers more than 1e-8 apart;
    # numbers within float rounding of each other (a billionth of their size) count as equal.
    assume(abs(value - edge) > max(2e-8, 2e-9 * max(abs(value), abs(edge))))
    columns = NumberColumns.of([Verdict(name="m", verdict="fail", value=value, edges=(edge,))])
    assert columns.format(value) != columns.format(edge)


def test_the_terminal_markdown_and_html_tables_share_the_column_format(project):
    project.config(
        "[tool.metricgate.metrics.accuracy]\nmin = 0.88\n"
        "[tool.metricgate.metrics.precision]\nmin = 0.5\n"
        "[tool.metricgate.metrics.recall]\nmin = 0.5\n"
    )
    project.records({"accuracy": 0.8799, "precision": 1.0, "recall": 0.95})
    result = project.run()
    result.stdout.fnmatch_lines(
        [
            "accuracy   0.8799   -         min 0.88  FAIL     below min 0.88",
            "precision  1.0000   -         min 0.5   pass",
            "recall     0.9500   -         min 0.5   pass",
        ]
    )
    markdown = (project.path / "metricgate-report/summary.md").read_text()
    assert "| accuracy | 0.8799 | - |" in markdown and "| precision | 1.0000 | - |" in markdown
    page = (project.path / "metricgate-report/index.html").read_text()
    assert '<td class="num">0.8799</td>' in page and '<td class="num">1.0000</td>' in page
