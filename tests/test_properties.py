"""Property-based tests: no input makes the loaders or the judge raise anything but our own errors,
and judging is monotone."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pytest_metricgate import stores as history
from pytest_metricgate.config import GateConfig, HistorySpec, MetricRule, from_document, load
from pytest_metricgate.errors import ConfigError, HistoryError, ValuesFileError
from pytest_metricgate.gate import FAIL, PASS, WARN, Settings, judge_metric
from pytest_metricgate.values import Measurement, read_current_file

KEYS = st.sampled_from(
    [
        "history",
        "current",
        "report-dir",
        "baseline",
        "window",
        "chart-format",
        "chart-runs",
        "metrics",
        "min",
        "max",
        "max-drop",
        "max-drop-pct",
        "direction",
        "severity",
        "required",
        "accuracy",
        "x",
        "",
    ]
)
SCALARS = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["median", "best", "higher", "lower", "warning", "h.jsonl", "h.csv", "png"]),
)
TOML_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.one_of(KEYS, st.text(max_size=5)), inner, max_size=5)
    ),
    max_leaves=25,
)
SETTLED = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTLED
@given(table=st.dictionaries(KEYS, TOML_VALUES, max_size=8))
def test_any_table_gives_a_config_or_a_config_error(table):
    try:
        config = from_document(
            {"tool": {"metricgate": table}}, Path("/p/pyproject.toml"), shown="pyproject.toml"
        )
    except ConfigError as error:
        assert str(error).startswith("pyproject.toml: ")
    else:
        assert isinstance(config, GateConfig)


@SETTLED
@given(text=st.text(max_size=200))
def test_any_pyproject_text_gives_a_config_or_a_config_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("p") / "pyproject.toml"
    path.write_text(text, encoding="utf-8")
    try:
        load(path, shown="pyproject.toml")
    except ConfigError:
        pass


JSONL_LINES = st.one_of(
    st.text(max_size=60),
    st.builds(
        lambda metrics, extra: json.dumps({"metrics": metrics, **extra}),
        st.dictionaries(
            st.text(max_size=4),
            st.one_of(SCALARS, st.dictionaries(st.sampled_from(["value", "n"]), SCALARS)),
            max_size=3,
        ),
        st.dictionaries(
            st.sampled_from(["run", "timestamp", "commit"]), st.one_of(SCALARS, st.none()), max_size=3
        ),
    ),
)


@SETTLED
@given(lines=st.lists(JSONL_LINES, max_size=8), raw=st.binary(max_size=40), limit=st.integers(1, 10))
def test_any_jsonl_file_reads_or_raises_a_history_error(tmp_path_factory, lines, raw, limit):
    path = tmp_path_factory.mktemp("h") / "history.jsonl"
    path.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass") + raw)
    try:
        tail = history.read(HistorySpec("jsonl", "history.jsonl", path), limit=limit, gated=frozenset({"a"}))
    except HistoryError as error:
        assert str(error).startswith("history.jsonl: ")
    else:
        assert len(tail.runs) <= limit
        for run in tail.runs:
            assert all(isinstance(m, Measurement) for m in run.metrics.values())


@SETTLED
@given(
    header=st.lists(st.sampled_from(["week", "a", "b", "run", "x y", '"q"', ""]), max_size=4),
    rows=st.lists(st.lists(st.one_of(st.text(max_size=5), st.floats().map(repr)), max_size=5), max_size=6),
    raw=st.binary(max_size=20),
)
def test_any_csv_file_reads_or_raises_a_history_error(tmp_path_factory, header, rows, raw):
    path = tmp_path_factory.mktemp("h") / "history.csv"
    text = "\n".join(",".join(cells) for cells in [header, *rows])
    path.write_bytes(text.encode("utf-8", "surrogatepass") + raw)
    try:
        history.read(HistorySpec("csv", "history.csv", path), limit=5, gated=frozenset({"a"}))
    except HistoryError as error:
        assert str(error).startswith("history.csv: ")


@SETTLED
@given(document=TOML_VALUES)
def test_any_current_file_reads_or_raises_a_values_file_error(tmp_path_factory, document):
    path = tmp_path_factory.mktemp("c") / "metrics.json"
    path.write_text(json.dumps(document))
    try:
        read_current_file(path, "metrics.json", frozenset({"accuracy", "x"}))
    except ValuesFileError as error:
        assert str(error).startswith("metrics.json: ")


def test_deeply_nested_json_is_an_error_not_a_crash(tmp_path):
    path = tmp_path / "history.jsonl"
    path.write_text("[" * 100_000 + "\n")
    try:
        history.read(HistorySpec("jsonl", "history.jsonl", path), limit=5, gated=frozenset())
    except HistoryError as error:
        assert str(error).startswith("history.jsonl: line 1: ")
    current = tmp_path / "metrics.json"
    current.write_text('{"a":' * 100_000)
    try:
        read_current_file(current, "metrics.json", frozenset())
    except ValuesFileError:
        pass


REALISTIC = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)
RULES = st.builds(
    MetricRule,
    name=st.just("m"),
    min=st.none() | REALISTIC,
    max=st.none() | REALISTIC,
    max_drop=st.none() | st.floats(0, 1e6),
    max_drop_pct=st.none() | st.floats(0, 1e3),
    direction=st.sampled_from(["higher", "lower"]),
    severity=st.sampled_from(["error", "warning"]),
    required=st.booleans(),
    confidence=st.none() | st.sampled_from([0.8, 0.95, 0.99]),
    max_sigma=st.none() | st.floats(0.1, 10),
    min_history=st.integers(2, 6),
    patience=st.integers(1, 3),
)
MEASUREMENTS = st.builds(Measurement, st.floats(0, 1), st.none() | st.integers(1, 100_000))
SETTINGS = st.builds(
    Settings, baseline=st.sampled_from(["last", "best", "mean", "median"]), window=st.integers(1, 6)
)
RANK = {PASS: 0, WARN: 1, FAIL: 2}


@SETTLED
@given(
    rule=RULES,
    past=st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=8),
    value=st.none() | st.floats(),
    n=st.none() | st.integers(1, 10**9),
    judging=SETTINGS,
)
def test_judging_never_raises(rule, past, value, n, judging):
    verdict = judge_metric(rule, None if value is None else Measurement(value, n), past, judging)
    assert verdict.verdict in RANK


@SETTLED
@given(
    rule=RULES,
    past=st.lists(MEASUREMENTS, max_size=10),
    worse=st.floats(0, 1),
    better=st.floats(0, 1),
    n=st.none() | st.integers(1, 100_000),
    judging=SETTINGS,
)
def test_with_intervals_a_better_proportion_never_turns_a_pass_into_a_fail(
    rule, past, worse, better, n, judging
):
    if rule.direction == "lower":
        worse, better = max(worse, better), min(worse, better)
    else:
        worse, better = min(worse, better), max(worse, better)
    rule = dataclasses.replace(rule, **({"max": None} if rule.direction == "higher" else {"min": None}))
    worse_verdict = judge_metric(rule, Measurement(worse, n), past, judging).verdict
    better_verdict = judge_metric(rule, Measurement(better, n), past, judging).verdict
    # the promise: a better value never turns pass into fail (an interval may still warn)
    assert not (better_verdict == FAIL and worse_verdict == PASS), (
        worse,
        worse_verdict,
        better,
        better_verdict,
    )


@SETTLED
@given(rule=RULES, past=st.lists(REALISTIC, max_size=8), a=REALISTIC, b=REALISTIC, judging=SETTINGS)
def test_a_better_value_never_turns_pass_into_fail(rule, past, a, b, judging):
    assume(a != b)
    # A ceiling on a higher-is-better metric (or a floor on a lower-is-better one) is a
    # sanity bound, such as accuracy 1.0 from a leak: there a "better" value may fail by design.
    if rule.direction == "higher":
        rule = dataclasses.replace(rule, max=None)
    else:
        rule = dataclasses.replace(rule, min=None)
    worse, better = sorted((a, b)) if rule.direction == "higher" else sorted((a, b), reverse=True)
    worse_verdict = judge_metric(rule, Measurement(worse), past, judging).verdict
    better_verdict = judge_metric(rule, Measurement(better), past, judging).verdict
    assert RANK[better_verdict] <= RANK[worse_verdict], (worse, worse_verdict, better, better_verdict)
    assert not math.isnan(worse)
