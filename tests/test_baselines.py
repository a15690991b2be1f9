"""Which runs each metric is judged against, accepting a reviewed change, and the marks runs carry:
pure functions, table-tested with hand-worked expectations."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_metricgate import acceptance, baselines
from pytest_metricgate.config import Acceptance, MetricRule, load
from pytest_metricgate.gate import ACCEPTED, FAIL, PASS, WARN, GateResult, MetricHistory, Settings, Verdict
from pytest_metricgate.values import Measurement, Run

TODAY = dt.date(2026, 11, 25)


def run(value: float | None, *, at: str | None = None, branch: str | None = None, marks: str = "") -> Run:
    extra = {}
    if branch is not None:
        extra["branch"] = branch
    if marks:
        extra["marks"] = marks
    metrics = {} if value is None else {"m": Measurement(value)}
    return Run(metrics=metrics, timestamp=at, extra=extra)


def values(runs) -> list[float]:
    return [r.metrics["m"].value for r in runs]


# -- time order and branches -------------------------------------------------------------------


def test_runs_with_timestamps_are_ordered_by_them_across_time_zones():
    # 03:00+02:00 is 01:00 UTC, before 02:00Z; a naive time counts as UTC.
    runs = [
        run(1, at="2026-11-02T02:00:00Z"),
        run(2, at="2026-11-02T03:00:00+02:00"),
        run(3, at="2026-11-01"),
    ]
    assert values(baselines.in_time_order(runs)) == [3, 2, 1]


def test_runs_are_kept_as_stored_when_any_lacks_a_timestamp():
    runs = [run(1, at="2026-11-02"), run(2), run(3, at="2026-11-01")]
    assert values(baselines.in_time_order(runs)) == [1, 2, 3]


def test_a_baseline_branch_keeps_its_runs_and_unbranched_ones():
    runs = [run(1, branch="main"), run(2, branch="feat"), run(3), run(4, branch="main")]
    scoped = baselines.scope(runs, "main")
    assert (values(scoped.runs), scoped.other_branches, scoped.unbranched) == ([1, 3, 4], 1, 1)
    assert values(baselines.scope(runs, None).runs) == [1, 2, 3, 4]


# -- per-metric history: restarts and patience marks -------------------------------------------


@pytest.mark.parametrize(
    ("marks", "expected"),
    [
        # no marks: every value, nothing held
        (["", "", "", ""], MetricHistory((0.9, 0.91, 0.92, 0.93), 0, None)),
        # the newest accepted run (place 2) restarts: it and later runs only
        (["m=accepted", "", "m=accepted", ""], MetricHistory((0.92, 0.93), 0, 2)),
        # the two newest were held by patience: left out of the values, counted as held
        (["", "", "m=patience", "m=patience"], MetricHistory((0.9, 0.91), 2, None)),
        # a held run that is not directly before this one is left out but no longer held
        (["", "m=patience", "", ""], MetricHistory((0.9, 0.92, 0.93), 0, None)),
        # another metric's mark changes nothing for this one
        (["other=accepted", "", "", "other=patience"], MetricHistory((0.9, 0.91, 0.92, 0.93), 0, None)),
    ],
)
def test_metric_history(marks, expected):
    runs = [run(v, marks=mark) for v, mark in zip((0.9, 0.91, 0.92, 0.93), marks)]
    got = baselines.metric_history(runs, "m")
    assert (tuple(m.value for m in got.values), got.held, got.restarted_at) == (
        tuple(expected.values),
        expected.held,
        expected.restarted_at,
    )


def test_breach_flags_restart_at_an_acceptance_and_count_held_runs_as_breaches():
    rule = MetricRule("m", max_drop=0.03)
    settings = Settings(baseline="last", window=1)
    # 0.93 after 0.97 breaches (drop 0.04); the accepted 0.93 starts over, so the 0.925 after it
    # (drop 0.005) does not; the held 0.89 is a breach by its mark.
    vals = [0.97, 0.93, 0.93, 0.925, 0.89]
    marks = [None, None, "accepted", None, "patience"]
    got = baselines.breach_flags(rule, [Measurement(v) for v in vals], marks, settings)
    assert got == [False, True, False, False, True]


# -- how far to read ---------------------------------------------------------------------------


def stamped(count: int, *, start: int = 1, branch: str = "main") -> list[Run]:
    return [run(0.9, at=f"2026-01-01T00:00:{start + i:02d}Z", branch=branch) for i in range(count)]


@pytest.mark.parametrize(
    ("runs", "need", "met"),
    [
        # sorted runs: the need (3) and as many older ones again prove nothing newer hides above
        (stamped(6), baselines.Need(None, 3), True),
        (stamped(5), baselines.Need(None, 3), False),
        # a block of newer runs stored before older ones (a union merge): the oldest stored are not older
        (stamped(3, start=10) + stamped(3, start=1), baselines.Need(None, 3), False),
        # too few runs of the baseline branch among them
        (stamped(2) + stamped(5, start=10, branch="feat"), baselines.Need("main", 3), False),
        # no timestamps: stored order is the order
        ([run(0.9)] * 3, baselines.Need(None, 3), True),
        # patience-held runs do not fill a metric's window ...
        ([run(0.9, marks="m=patience")] * 3, baselines.Need(None, 3, (("m", 2),)), False),
        # ... unless an acceptance restarts it
        (
            [run(0.9, marks="m=patience")] * 2 + [run(0.9, marks="m=accepted")],
            baselines.Need(None, 3, (("m", 2),)),
            True,
        ),
    ],
)
def test_need_is_met_only_by_enough_of_the_right_runs(runs, need, met):
    assert need.met_by(runs) is met


@pytest.mark.parametrize(
    ("runs", "met"),
    [
        # a server that chose the newest 3 by time: no second block of 3 is needed to prove it
        (stamped(3), True),
        # even when every run carries the same timestamp (runs copied with their tags)
        ([run(0.9, at="2026-01-01T00:00:00Z")] * 3, True),
        # still too few runs for the need
        (stamped(2), False),
    ],
)
def test_a_tail_the_store_ordered_by_time_needs_no_older_runs_as_proof(runs, met):
    need = baselines.Need(None, 3)
    assert need.met_by(runs, time_ordered=True) is met
    assert need.met_by(runs) is False  # stored order alone proves nothing for these


# -- marks as a field --------------------------------------------------------------------------


def test_marks_are_written_as_sorted_pairs():
    assert acceptance.format_marks({"recall": "patience", "precision": "accepted"}) == (
        "precision=accepted;recall=patience"
    )


@given(st.dictionaries(st.text(min_size=1), st.sampled_from(["accepted", "patience"])))
def test_any_metric_names_survive_the_marks_field(found):
    assert acceptance.parse_marks(acceptance.format_marks(found)) == found


# -- accepting a covered breach ----------------------------------------------------------------


def entry(**kwargs) -> Acceptance:
    base = {"number": 1, "metric": "prec*", "reason": "threshold lowered", "until": TODAY}
    return Acceptance(**{**base, **kwargs})


def verdict(kind: str = FAIL, breaches: tuple[str, ...] = ("max-drop",), value: float = 0.93) -> Verdict:
    return Verdict(name="precision", verdict=kind, value=value, reasons=("drop",), breaches=breaches)


@pytest.mark.parametrize(
    ("given_verdict", "entries", "expected", "added"),
    [
        (
            verdict(),
            [entry()],
            ACCEPTED,
            "accepted until 2026-11-25: threshold lowered ([[tool.metricgate.accept]] #1)",
        ),
        (
            verdict(WARN),
            [entry()],
            ACCEPTED,
            "accepted until 2026-11-25: threshold lowered ([[tool.metricgate.accept]] #1)",
        ),
        # no breach to cover (a missing value fails without one)
        (verdict(breaches=()), [entry()], FAIL, None),
        (verdict(PASS, breaches=()), [entry()], PASS, None),
        # the entry names another metric
        (verdict(), [entry(metric="recall")], FAIL, None),
        # min is covered only when named
        (
            verdict(breaches=("min", "max-drop")),
            [entry()],
            FAIL,
            (
                "not accepted: [[tool.metricgate.accept]] #1 covers max-drop, max-drop-pct, max-sigma, not min "
                "(name it in rules to accept it)"
            ),
        ),
        (
            verdict(breaches=("min", "max-drop")),
            [entry(rules=("min", "max-drop"))],
            ACCEPTED,
            "accepted until 2026-11-25: threshold lowered ([[tool.metricgate.accept]] #1)",
        ),
        # outside the accepted range
        (
            verdict(value=0.90),
            [entry(low=0.92, high=0.95)],
            FAIL,
            "not accepted: 0.900 is outside the range 0.92 to 0.95 that [[tool.metricgate.accept]] #1 accepts",
        ),
        # of two entries, the one that covers it accepts it
        (
            verdict(value=0.90),
            [entry(low=0.92), entry(number=2, low=0.85, reason="second step")],
            ACCEPTED,
            "accepted until 2026-11-25: second step ([[tool.metricgate.accept]] #2)",
        ),
    ],
)
def test_apply_turns_only_covered_breaches_into_accepted(given_verdict, entries, expected, added):
    result = acceptance.apply(GateResult((given_verdict,)), entries)
    got = result.verdicts[0]
    assert got.verdict == expected
    assert got.reasons == (("drop",) if added is None else ("drop", added))
    assert result.passed is (expected != FAIL)


def test_marks_cover_admitted_values_of_matched_metrics_and_patience_holds():
    held = Verdict(name="recall", verdict=WARN, value=0.5, breaches=("max-drop",), held_by_patience=True)
    result = GateResult((verdict(ACCEPTED), held, Verdict(name="f1", verdict=PASS, value=0.7)))
    assert acceptance.marks(result, [entry()]) == {"precision": "accepted", "recall": "patience"}
    # a value outside the entry's range is not marked: small steps past it cannot move the baseline
    assert acceptance.marks(result, [entry(low=0.95)]) == {"recall": "patience"}


# -- the config of an acceptance ---------------------------------------------------------------


def load_text(tmp_path, body, **kwargs):
    path = tmp_path / "pyproject.toml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return load(path, shown="pyproject.toml", invocation_dir=tmp_path, today=TODAY, **kwargs)


def test_an_acceptance_entry_is_read_with_its_defaults_and_range(tmp_path):
    config = load_text(
        tmp_path,
        """
        [tool.metricgate]
        baseline-branch = "main"
        require-history = true
        accept-max-days = 10

        [tool.metricgate.metrics.precision]
        max-drop = 0.03

        [[tool.metricgate.accept]]
        metric = "prec*"
        reason = "threshold lowered"
        until = 2026-12-05
        value = { min = 0.92 }

        [[tool.metricgate.accept]]
        metric = "precision"
        reason = "and min too"
        until = 2026-11-25
        rules = ["min", "max-drop"]
        """,
    )
    assert (config.baseline_branch, config.require_history, config.accept_max_days) == ("main", True, 10)
    assert config.acceptances == (
        Acceptance(
            1,
            "prec*",
            "threshold lowered",
            dt.date(2026, 12, 5),
            ("max-drop", "max-drop-pct", "max-sigma"),
            0.92,
            None,
        ),
        Acceptance(2, "precision", "and min too", dt.date(2026, 11, 25), ("min", "max-drop")),
    )
    assert config.warnings == ()


def test_an_expired_entry_is_left_out_with_a_warning_even_under_strict_config(tmp_path):
    config = load_text(
        tmp_path,
        """
        [tool.metricgate.metrics.precision]
        max-drop = 0.03

        [[tool.metricgate.accept]]
        metric = "precision"
        reason = "r"
        until = 2026-11-24
        """,
        strict=True,
    )
    assert config.acceptances == ()
    assert config.warnings == (
        (
            "pyproject.toml: [[tool.metricgate.accept]] #1 (precision) expired on 2026-11-24 and is ignored; "
            "delete it, or renew it in a reviewed change"
        ),
    )


def test_the_command_line_turns_require_history_on(tmp_path):
    from pytest_metricgate.config import Overrides

    config = load_text(tmp_path, "[tool.metricgate]\n", overrides=Overrides(require_history=True))
    assert config.require_history is True
    assert load_text(tmp_path, "[tool.metricgate]\n").require_history is False
