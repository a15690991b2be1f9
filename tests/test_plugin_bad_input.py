"""Bad input end to end: exit status 4, one line naming the file and key or line, no traceback, nothing touched."""

from __future__ import annotations

import datetime as dt
import os

import pytest

GOOD_METRICS = """
[tool.metricgate.metrics.accuracy]
min = 0.5
"""


def config(top: str = "", metrics: str = GOOD_METRICS) -> str:
    return "[tool.pytest.ini_options]\n\n[tool.metricgate]\n" + top + "\n" + metrics


JSONL = config('history = "history.jsonl"')
CSV = config('history = "history.csv"')
CURRENT = config('current = "metrics.json"')
GOOD_RUN = '{"metrics": {"accuracy": 0.9}}\n'

# Acceptances are dated against today (UTC), as the gate dates them.
TODAY = dt.datetime.now(dt.timezone.utc).date()
SOON = (TODAY + dt.timedelta(days=7)).isoformat()
TOO_FAR = (TODAY + dt.timedelta(days=31)).isoformat()
LATEST = (TODAY + dt.timedelta(days=30)).isoformat()


def accept(body: str) -> str:
    return config(metrics=GOOD_METRICS + "\n[[tool.metricgate.accept]]\n" + body)


REQUIRED = config('history = "history.jsonl"\nrequire-history = true\nwindow = 3')
RUN_LINE = '{"metrics": {"accuracy": 0.9}}\n'

# id, files, extra arguments, the one ERROR line
CASES = [
    (
        "accept-without-reason",
        {"pyproject.toml": accept(f'metric = "accuracy"\nuntil = {SOON}\n')},
        (),
        (
            "ERROR: pyproject.toml: [[tool.metricgate.accept]] #1 needs reason "
            "(why the change is intended, for the review trail)"
        ),
    ),
    (
        "accept-without-until",
        {"pyproject.toml": accept('metric = "accuracy"\nreason = "new tokenizer"\n')},
        (),
        (
            "ERROR: pyproject.toml: [[tool.metricgate.accept]] #1 needs until "
            "(the last UTC day it applies, a TOML date: until = YYYY-MM-DD)"
        ),
    ),
    (
        "accept-until-a-string",
        {"pyproject.toml": accept(f'metric = "accuracy"\nreason = "r"\nuntil = "{SOON}"\n')},
        (),
        (
            f"ERROR: pyproject.toml: [[tool.metricgate.accept]] #1 until must be a TOML date, YYYY-MM-DD "
            f'(no quotes, no time), got "{SOON}"'
        ),
    ),
    (
        "accept-until-a-date-time",
        {"pyproject.toml": accept(f'metric = "accuracy"\nreason = "r"\nuntil = {SOON}T12:00:00\n')},
        (),
        (
            f"ERROR: pyproject.toml: [[tool.metricgate.accept]] #1 until must be a TOML date, YYYY-MM-DD "
            f'(no quotes, no time), got "{SOON}T12:00:00"'
        ),
    ),
    (
        "accept-until-too-far-ahead",
        {"pyproject.toml": accept(f'metric = "accuracy"\nreason = "r"\nuntil = {TOO_FAR}\n')},
        (),
        (
            f"ERROR: pyproject.toml: [[tool.metricgate.accept]] #1 until must be at most 30 days ahead "
            f"(accept-max-days), by {LATEST}, got {TOO_FAR}"
        ),
    ),
    (
        "accept-unknown-rule",
        {
            "pyproject.toml": accept(
                f'metric = "accuracy"\nreason = "r"\nuntil = {SOON}\nrules = ["max-dorp"]\n'
            )
        },
        (),
        (
            'ERROR: pyproject.toml: [[tool.metricgate.accept]] #1 rules must hold rule names from "min", "max", '
            '"max-drop", "max-drop-pct", "max-sigma", got "max-dorp"'
        ),
    ),
    (
        "accept-empty-rules",
        {"pyproject.toml": accept(f'metric = "accuracy"\nreason = "r"\nuntil = {SOON}\nrules = []\n')},
        (),
        (
            'ERROR: pyproject.toml: [[tool.metricgate.accept]] #1 rules must be a non-empty array of rule names from "min", '
            '"max", "max-drop", "max-drop-pct", "max-sigma", got []'
        ),
    ),
    (
        "accept-empty-reason",
        {"pyproject.toml": accept(f'metric = "accuracy"\nreason = " "\nuntil = {SOON}\n')},
        (),
        'ERROR: pyproject.toml: [[tool.metricgate.accept]] #1 reason must be a non-empty string, got " "',
    ),
    (
        "accept-value-range-inverted",
        {
            "pyproject.toml": accept(
                f'metric = "accuracy"\nreason = "r"\nuntil = {SOON}\nvalue = {{ min = 0.9, max = 0.8 }}\n'
            )
        },
        (),
        "ERROR: pyproject.toml: [[tool.metricgate.accept]] #1 value min must not exceed max, got min 0.9 > max 0.8",
    ),
    (
        "accept-not-an-array",
        {"pyproject.toml": config('accept = "accuracy"')},
        (),
        (
            "ERROR: pyproject.toml: [tool.metricgate] accept must be an array of tables "
            '([[tool.metricgate.accept]] entries), got "accuracy"'
        ),
    ),
    (
        "accept-max-days-zero",
        {"pyproject.toml": config("accept-max-days = 0")},
        (),
        "ERROR: pyproject.toml: [tool.metricgate] accept-max-days must be an integer >= 1, got 0",
    ),
    (
        "require-history-not-a-boolean",
        {"pyproject.toml": config('require-history = "yes"')},
        (),
        'ERROR: pyproject.toml: [tool.metricgate] require-history must be true or false, got "yes"',
    ),
    (
        "baseline-branch-empty",
        {"pyproject.toml": config('baseline-branch = ""')},
        (),
        'ERROR: pyproject.toml: [tool.metricgate] baseline-branch must be a non-empty string, got ""',
    ),
    (
        "require-history-without-history",
        {"pyproject.toml": config("require-history = true")},
        (),
        "ERROR: pyproject.toml: require-history is on, but [tool.metricgate] history names no history",
    ),
    (
        "require-history-missing",
        {"pyproject.toml": REQUIRED},
        (),
        (
            "ERROR: history.jsonl: require-history is on, but the history does not exist; expected at least "
            "3 runs (the window); restore it (a CI cache miss?) or record a first history without require-history"
        ),
    ),
    (
        "require-history-flag-missing",
        {"pyproject.toml": JSONL},
        ("--metric-gate-require-history",),
        (
            "ERROR: history.jsonl: require-history is on, but the history does not exist; expected at least "
            "5 runs (the window); restore it (a CI cache miss?) or record a first history without require-history"
        ),
    ),
    (
        "require-history-empty",
        {"pyproject.toml": REQUIRED, "history.jsonl": ""},
        (),
        (
            "ERROR: history.jsonl: require-history is on, but the history holds no runs; expected at least "
            "3 runs (the window); restore it (a CI cache miss?) or record a first history without require-history"
        ),
    ),
    (
        "require-history-too-short",
        {"pyproject.toml": REQUIRED, "history.jsonl": RUN_LINE * 2},
        (),
        (
            "ERROR: history.jsonl: require-history is on, but the history holds 2 runs; expected at least "
            "3 runs (the window)"
        ),
    ),
    (
        "require-history-too-few-of-the-baseline-branch",
        {
            "pyproject.toml": config(
                'history = "history.jsonl"\nrequire-history = true\nwindow = 3\nbaseline-branch = "main"'
            ),
            "history.jsonl": RUN_LINE.replace("{", '{"branch": "main", ', 1) * 2
            + RUN_LINE.replace("{", '{"branch": "feat", ', 1) * 5,
        },
        (),
        (
            'ERROR: history.jsonl: require-history is on, but the history holds 2 runs of branch "main"; '
            'expected at least 3 runs of branch "main" (the window)'
        ),
    ),
    (
        "toml-syntax",
        {"pyproject.toml": "[tool.pytest.ini_options]\n[tool.metricgate\n"},
        (),
        "ERROR: {path}/pyproject.toml: Expected ']' at the end of a table declaration (at line 2, column 17)",
    ),
    (
        "table-wrong-type",
        {"pyproject.toml": "[tool.pytest.ini_options]\n[tool]\nmetricgate = 'yes'\n"},
        (),
        'ERROR: pyproject.toml: [tool.metricgate] must be a table, got "yes"',
    ),
    (
        "unknown-key-strict",
        {"pyproject.toml": config("windw = 3")},
        ("--strict-config",),
        'ERROR: pyproject.toml: [tool.metricgate] unknown key "windw" (did you mean "window"?) (an error under --strict-config)',
    ),
    (
        "unknown-metric-key-strict",
        {"pyproject.toml": config(metrics="[tool.metricgate.metrics.acc]\nminimum = 1\n")},
        ("--strict-config",),
        'ERROR: pyproject.toml: [tool.metricgate.metrics.acc] unknown key "minimum" (did you mean "min"?) (an error under --strict-config)',
    ),
    (
        "min-wrong-type",
        {"pyproject.toml": config(metrics="[tool.metricgate.metrics.acc]\nmin = '0.9'\n")},
        (),
        'ERROR: pyproject.toml: [tool.metricgate.metrics.acc] min must be a finite number, got "0.9"',
    ),
    (
        "max-bool",
        {"pyproject.toml": config(metrics="[tool.metricgate.metrics.acc]\nmax = true\n")},
        (),
        "ERROR: pyproject.toml: [tool.metricgate.metrics.acc] max must be a finite number, got true",
    ),
    (
        "max-drop-negative",
        {"pyproject.toml": config(metrics="[tool.metricgate.metrics.acc]\nmax-drop = -0.02\n")},
        (),
        "ERROR: pyproject.toml: [tool.metricgate.metrics.acc] max-drop must be a number >= 0, got -0.02",
    ),
    (
        "max-drop-pct-wrong-type",
        {"pyproject.toml": config(metrics="[tool.metricgate.metrics.acc]\nmax-drop-pct = [2]\n")},
        (),
        "ERROR: pyproject.toml: [tool.metricgate.metrics.acc] max-drop-pct must be a finite number, got [2]",
    ),
    (
        "window-zero",
        {"pyproject.toml": config("window = 0")},
        (),
        "ERROR: pyproject.toml: [tool.metricgate] window must be an integer >= 1, got 0",
    ),
    (
        "window-float",
        {"pyproject.toml": config("window = 5.0")},
        (),
        "ERROR: pyproject.toml: [tool.metricgate] window must be an integer >= 1, got 5.0",
    ),
    (
        "min-above-max",
        {"pyproject.toml": config(metrics="[tool.metricgate.metrics.acc]\nmin = 0.9\nmax = 0.1\n")},
        (),
        "ERROR: pyproject.toml: [tool.metricgate.metrics.acc] min must not exceed max, got min 0.9 > max 0.1",
    ),
    (
        "unknown-direction",
        {"pyproject.toml": config(metrics="[tool.metricgate.metrics.acc]\ndirection = 'down'\n")},
        (),
        'ERROR: pyproject.toml: [tool.metricgate.metrics.acc] direction must be "higher" or "lower", got "down"',
    ),
    (
        "unknown-severity",
        {"pyproject.toml": config(metrics="[tool.metricgate.metrics.acc]\nseverity = 'info'\n")},
        (),
        'ERROR: pyproject.toml: [tool.metricgate.metrics.acc] severity must be "error" or "warning", got "info"',
    ),
    (
        "unknown-baseline",
        {"pyproject.toml": config("baseline = 'p90'")},
        (),
        'ERROR: pyproject.toml: [tool.metricgate] baseline must be "last" or "best" or "mean" or "median", got "p90"',
    ),
    (
        "required-not-bool",
        {"pyproject.toml": config(metrics="[tool.metricgate.metrics.acc]\nrequired = 1\n")},
        (),
        "ERROR: pyproject.toml: [tool.metricgate.metrics.acc] required must be true or false, got 1",
    ),
    (
        "chart-format",
        {"pyproject.toml": config("chart-format = 'jpg'")},
        (),
        'ERROR: pyproject.toml: [tool.metricgate] chart-format must be "png" or "svg", got "jpg"',
    ),
    (
        "chart-runs",
        {"pyproject.toml": config("chart-runs = -1")},
        (),
        "ERROR: pyproject.toml: [tool.metricgate] chart-runs must be an integer >= 1, got -1",
    ),
    (
        "metric-not-a-table",
        {"pyproject.toml": config(metrics="[tool.metricgate.metrics]\naccuracy = 0.9\n")},
        (),
        "ERROR: pyproject.toml: [tool.metricgate.metrics] accuracy must be a table of limits, got 0.9",
    ),
    (
        "history-wrong-type",
        {"pyproject.toml": config("history = 3")},
        (),
        "ERROR: pyproject.toml: [tool.metricgate] history must be a path to a .jsonl or .csv file, or a table of arrays, got 3",
    ),
    (
        "history-directory",
        {"pyproject.toml": JSONL, "history.jsonl/keep": ""},
        (),
        "ERROR: history.jsonl: history must be a file, found a directory",
    ),
    (
        "history-unreadable",
        {"pyproject.toml": JSONL, "history.jsonl": "@loop"},
        (),
        "ERROR: history.jsonl: cannot read history: Too many levels of symbolic links",
    ),
    (
        "history-suffix",
        {"pyproject.toml": config('history = "history.txt"')},
        (),
        'ERROR: pyproject.toml: [tool.metricgate] history must name a .jsonl or .csv file, got "history.txt"',
    ),
    (
        "history-option-suffix",
        {"pyproject.toml": config()},
        ("--metric-gate-history=runs.parquet",),
        'ERROR: --metric-gate-history must name a .jsonl or .csv file, got "runs.parquet"',
    ),
    (
        "jsonl-not-object",
        {"pyproject.toml": JSONL, "history.jsonl": GOOD_RUN + "[0.9]\n" + GOOD_RUN},
        (),
        'ERROR: history.jsonl: line 2: each line must be a JSON object with "metrics", found [0.9]',
    ),
    (
        "jsonl-metrics-not-object",
        {"pyproject.toml": JSONL, "history.jsonl": GOOD_RUN + '{"metrics": 0.9}\n'},
        (),
        'ERROR: history.jsonl: line 2: "metrics" must be an object of metric values, found 0.9',
    ),
    (
        "jsonl-non-number",
        {"pyproject.toml": JSONL, "history.jsonl": '{"metrics": {"accuracy": "0.9"}}\n' + GOOD_RUN},
        (),
        'ERROR: history.jsonl: line 1: metric "accuracy" must be a number or {"value": number, "n": integer}, got "0.9"',
    ),
    (
        "jsonl-bad-n",
        {"pyproject.toml": JSONL, "history.jsonl": '{"metrics": {"accuracy": {"value": 1, "n": -3}}}\n'},
        (),
        'ERROR: history.jsonl: line 1: metric "accuracy" "n" must be an integer >= 1, got -3',
    ),
    (
        "jsonl-garbage",
        {"pyproject.toml": JSONL, "history.jsonl": GOOD_RUN + "{'metrics': {}}\n" + GOOD_RUN},
        (),
        "ERROR: history.jsonl: line 2: not valid JSON: Expecting property name enclosed in double quotes (column 2)",
    ),
    (
        "csv-non-numeric",
        {"pyproject.toml": CSV, "history.csv": "week,accuracy\n1,0.9\n2,n/a\n"},
        (),
        'ERROR: history.csv: line 3: column "accuracy" must hold numbers, got "n/a"',
    ),
    (
        "csv-duplicate-columns",
        {"pyproject.toml": CSV, "history.csv": "week,accuracy,accuracy\n1,0.9,0.9\n"},
        (),
        'ERROR: history.csv: line 1: duplicate column "accuracy"',
    ),
    (
        "csv-ragged",
        {"pyproject.toml": CSV, "history.csv": "week,accuracy\n1,0.9\n2,0.8,0.7\n3,0.9\n"},
        (),
        "ERROR: history.csv: line 3: 3 cells, but the header has 2 columns",
    ),
    (
        "csv-empty",
        {"pyproject.toml": CSV, "history.csv": ""},
        (),
        "ERROR: history.csv: empty CSV file; expected a header row naming the columns",
    ),
    (
        "inline-unequal",
        {"pyproject.toml": config("history = { accuracy = [0.9, 0.8], recall = [0.7] }")},
        (),
        "ERROR: pyproject.toml: [tool.metricgate.history] arrays must have equal lengths (one per run): accuracy has 2, recall has 1",
    ),
    (
        "inline-strings",
        {"pyproject.toml": config("history = { accuracy = ['0.9'] }")},
        (),
        'ERROR: pyproject.toml: [tool.metricgate.history] accuracy[0] must be a number, got "0.9"',
    ),
    (
        "current-missing",
        {"pyproject.toml": CURRENT},
        (),
        "ERROR: metrics.json: current metrics file not found",
    ),
    (
        "current-option-missing",
        {"pyproject.toml": config()},
        ("--metric-gate-current=out/m.json",),
        "ERROR: out/m.json: current metrics file not found",
    ),
    (
        "current-not-json",
        {"pyproject.toml": CURRENT, "metrics.json": "accuracy: 0.9\n"},
        (),
        "ERROR: metrics.json: line 1: current metrics file is not valid JSON: Expecting value",
    ),
    (
        "current-not-object",
        {"pyproject.toml": CURRENT, "metrics.json": "[0.9]"},
        (),
        "ERROR: metrics.json: current metrics file must hold a JSON object of metrics, found list [0.9]",
    ),
    (
        "current-gated-not-number",
        {"pyproject.toml": CURRENT, "metrics.json": '{"accuracy": null}'},
        (),
        'ERROR: metrics.json: metric "accuracy" must be a number or {"value": number, "n": integer}, got null',
    ),
    (
        "kind-unknown",
        {"pyproject.toml": config(metrics="[tool.metricgate.metrics.acc]\nkind = 'ratio'\n")},
        (),
        'ERROR: pyproject.toml: [tool.metricgate.metrics.acc] kind must be "value" or "proportion", got "ratio"',
    ),
    (
        "defaults-bad-value",
        {"pyproject.toml": config("[tool.metricgate.defaults]\nconfidence = 95\n")},
        (),
        (
            "ERROR: pyproject.toml: [tool.metricgate.defaults] confidence must be a number between 0 and 1 "
            "(exclusive), such as 0.95, got 95"
        ),
    ),
    (
        "min-sigma-not-positive",
        {"pyproject.toml": config(metrics="[tool.metricgate.metrics.acc]\nmin-sigma = 0\n")},
        (),
        "ERROR: pyproject.toml: [tool.metricgate.metrics.acc] min-sigma must be a number > 0, got 0",
    ),
    (
        "globs-of-equal-specificity",
        {
            "pyproject.toml": config(
                metrics='[tool.metricgate.metrics."accu*"]\nmin = 0.1\n[tool.metricgate.metrics."*racy"]\nmin = 0.2\n'
            )
        },
        (),
        (
            'ERROR: pyproject.toml: [tool.metricgate.metrics."accu*"] and [tool.metricgate.metrics."*racy"] both '
            'match metric "accuracy" with equal specificity (4 non-wildcard characters); make one more specific '
            "or give the metric its own table"
        ),
    ),
    (
        "current-samples-too-few",
        {"pyproject.toml": CURRENT, "metrics.json": '{"accuracy": {"value": 0.9, "samples": [0.9]}}'},
        (),
        'ERROR: metrics.json: metric "accuracy" "samples" must be an array of at least 2 numbers, got 1',
    ),
    (
        "history-stderr-negative",
        {
            "pyproject.toml": JSONL,
            "history.jsonl": '{"metrics": {"accuracy": {"value": 0.9, "stderr": -0.1}}}\n',
        },
        (),
        'ERROR: history.jsonl: line 1: metric "accuracy" "stderr" must be a finite number >= 0, got -0.1',
    ),
    (
        "current-glob-gated-not-number",
        {
            "pyproject.toml": config(
                'current = "metrics.json"', metrics='[tool.metricgate.metrics."eval.*"]\nmin = 0.5\n'
            ),
            "metrics.json": '{"eval": {"f1": "high"}}',
        },
        (),
        'ERROR: metrics.json: metric "eval.f1" must be a number or {"value": number, "n": integer}, got "high"',
    ),
    (
        "record-inline",
        {"pyproject.toml": config("history = { accuracy = [0.9] }")},
        ("--metric-gate-record",),
        (
            "ERROR: pyproject.toml: --metric-gate-record cannot append to an inline history ([tool.metricgate] history "
            "is a table, which is read-only); name a .jsonl or .csv file"
        ),
    ),
    (
        "record-without-history",
        {"pyproject.toml": config()},
        ("--metric-gate-record",),
        (
            "ERROR: pyproject.toml: --metric-gate-record needs [tool.metricgate] history to name a .jsonl or .csv file "
            "to append to; none is configured"
        ),
    ),
]


@pytest.mark.parametrize(
    ("files", "args", "message"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_bad_input_is_one_clear_line_with_exit_status_4_and_nothing_touched(project, files, args, message):
    for name, text in files.items():
        if text == "@loop":
            (project.path / name).symlink_to(project.path / name)
        else:
            project.file(name, text)
    project.records({"accuracy": 0.9})
    before = project.snapshot()
    before_listing = sorted(os.listdir(project.path))

    result = project.run(*args)

    output = result.stdout.str() + result.stderr.str()
    assert result.ret == 4, output
    errors = [line for line in result.stderr.lines if line.strip()]
    assert errors == [message.replace("{path}", str(project.path))]
    assert "Traceback" not in output and "INTERNALERROR" not in output
    assert project.snapshot() == before
    assert sorted(os.listdir(project.path)) == before_listing  # no report dir, no history created


def test_the_table_covers_at_least_thirty_bad_inputs():
    assert len(CASES) >= 30
    assert len({case[0] for case in CASES}) == len(CASES)


def test_an_unknown_key_is_a_warning_naming_it(project):
    project.file("pyproject.toml", config("windw = 3"))
    project.records({"accuracy": 0.9})
    result = project.run()
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            '*PytestConfigWarning: pyproject.toml: ?tool.metricgate? unknown key "windw" (did you mean "window"?)'
        ]
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            "metric_gate.record('', 0.9)",
            "ValueError: metric_gate.record: metric name must not be empty, got ''",
        ),
        (
            "metric_gate.record(None, 0.9)",
            "TypeError: metric_gate.record: metric name must be a string, got NoneType None",
        ),
        (
            "metric_gate.record('accuracy', '0.9')",
            "TypeError: metric_gate.record('accuracy'): value must be a number, got str '0.9'",
        ),
        (
            "metric_gate.record('accuracy', None)",
            "TypeError: metric_gate.record('accuracy'): value must be a number, got NoneType None",
        ),
        (
            "metric_gate.record('accuracy', False)",
            "TypeError: metric_gate.record('accuracy'): value must be a number, got bool False",
        ),
        (
            "metric_gate.record('f1', 0.9, samples=[0.9])",
            "ValueError: metric_gate.record('f1'): samples must be an array of at least 2 numbers, got 1",
        ),
        (
            "metric_gate.record('loss', 0.2, stderr=-0.01)",
            "ValueError: metric_gate.record('loss'): stderr must be a finite number >= 0, got -0.01",
        ),
    ],
)
def test_a_bad_record_fails_that_test_with_a_message_naming_the_metric(project, call, message):
    project.file("pyproject.toml", config())
    project.file("test_bad.py", f"def test_bad(metric_gate):\n    {call}\n\ndef test_good():\n    pass\n")
    result = project.run()
    assert result.ret == 1
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines([f"E   *{message}"])


def test_a_glob_that_matches_no_metric_is_a_warning(project):
    project.file(
        "pyproject.toml",
        config(metrics=GOOD_METRICS + '[tool.metricgate.metrics."slice_*.f1"]\nmin = 0.5\n'),
    )
    project.records({"accuracy": 0.9})
    result = project.run()
    assert result.ret == 0
    result.stdout.fnmatch_lines(['pyproject.toml: ?tool.metricgate.metrics."slice_*.f1"? matches no metric'])
