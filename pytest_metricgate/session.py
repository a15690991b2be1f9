"""One gate evaluation per pytest session: read the inputs, judge, write the outputs.

This is the sequence the plugin's hooks drive, kept free of pytest so it reads
top to bottom: ``open`` (before tests run, so bad input stops the session at
once), ``judge`` (after the tests recorded their values), then ``write_report``
and ``append_history``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import acceptance, baselines, ci, runinfo, stores
from .config import GateConfig, MetricRule, display_path
from .errors import ConfigError, HistoryError, MetricGateError
from .gate import ACCEPTED, FAIL, WARN, CurrentValues, GateResult, Settings, judge, mark_not_run
from .recording import Recorded, merge
from .report import (
    Series,
    Shift,
    chart_file_names,
    data_charted,
    data_html,
    data_markdown,
    data_summary,
    data_titles,
    display_labels,
    find_shifts,
    index_html,
    shift_lines,
    summary_json,
    summary_markdown,
    write_report_dir,
)
from .stores import HistoryTail, Recording
from .values import Measurement, Run, read_current_file

if TYPE_CHECKING:
    from .datacheck import DataCheck


@dataclass
class GateSession:
    """The gate's state for one pytest session (kept in ``config.stash``)."""

    config: GateConfig
    record_requested: bool
    history: HistoryTail | None
    current_file: dict[str, Measurement]
    records: list[Recorded] = field(default_factory=list)
    crashed_workers: list[str] = field(default_factory=list)
    result: GateResult | None = None
    candidate_from_history: bool = False
    current_label: str = ""
    series: dict[str, Series] = field(default_factory=dict)
    chart_files: dict[str, str] = field(default_factory=dict)
    details: list[str] = field(default_factory=list)
    summary: dict[str, Any] | None = None
    invocation_dir: Path | None = None
    info: runinfo.RunInfo | None = None
    rules: tuple[MetricRule, ...] = ()  # the exact tables' rules and those globs gave this run's metrics
    # baseline-model: the champion's run (None: no such alias yet) and how the notes name it.
    champion: Run | None = None
    champion_described: str | None = None
    data_checks: list[DataCheck] = field(default_factory=list)
    # Lines that say something was not done (history not written, an alert not delivered): shown even
    # under -q, where the other details are not.
    undone: list[str] = field(default_factory=list)
    # GitHub workflow commands (::error, ::warning), printed on GitHub Actions only.
    annotations: list[str] = field(default_factory=list)

    @property
    def shown_result(self) -> GateResult | None:
        """The result as the terminal, the charts and the verdict tables show it.

        The many ``check_data`` figures nobody gates stay out of them (they are in
        the report's data section and in summary.json instead).
        """
        if self.result is None or not self.data_checks:
            return self.result
        from .datacheck import quiet_names

        quiet = quiet_names(self.data_checks, self.result)
        return replace(self.result, verdicts=tuple(v for v in self.result.verdicts if v.name not in quiet))

    @property
    def report_link(self) -> str:
        """The report as a reader elsewhere reaches it: GitLab's artifact link, else an absolute path."""
        return ci.report_link(self.config.report_dir, os.environ)

    @property
    def report_dir_shown(self) -> str:
        return display_path(self.config.report_dir, self.invocation_dir or Path.cwd())

    @classmethod
    def open(cls, config: GateConfig, *, record: bool, invocation_dir: Path | None = None) -> GateSession:
        """Validate everything the user owns before a single test runs."""
        if record and config.history is None:
            raise ConfigError(
                f"{config.shown}: --metric-gate-record needs [tool.metricgate] history "
                "to name a .jsonl or .csv file to append to; none is configured"
            )
        store = stores.open_store(config.history) if config.history is not None else None
        if record and store is not None and not store.writable:
            raise ConfigError(
                f"{config.shown}: --metric-gate-record cannot append to an inline history "
                "([tool.metricgate] history is a table, which is read-only); name a .jsonl or .csv file"
            )
        if config.require_history and store is None:
            raise ConfigError(
                f"{config.shown}: require-history is on, but [tool.metricgate] history names no history"
            )
        tail = None
        if store is not None:
            tail = read_enough(store, config)
            if config.require_history:
                check_required_history(config, tail)
        current = {}
        if config.current is not None:
            current = read_current_file(
                config.current, config.current_shown or str(config.current), config.gated
            )
        champion, champion_described = None, None
        if config.current_run is not None or config.baseline_model is not None:
            from .stores import mlflow  # only when something lives on a tracking server

            assert config.mlflow is not None
            if config.current_run is not None:
                shown = config.current_shown or config.current_run
                current = dict(mlflow.read_run(config.mlflow, config.current_run, shown).metrics)
            if config.baseline_model is not None:
                found = mlflow.champion(config.mlflow, config.baseline_model)
                champion, champion_described = found.run, found.described
        return cls(
            config=config,
            record_requested=record,
            history=tail,
            current_file=current,
            invocation_dir=invocation_dir,
            champion=champion,
            champion_described=champion_described,
        )

    # -- judging -----------------------------------------------------------

    def judge(self, *, selection: str | None = None) -> GateResult:
        """Judge this run. ``selection`` says how the session ran only some tests (``None``: all of them)."""
        values = dict(self.current_file)
        shown = self.config.current_shown
        origin = "MLflow run" if self.config.current_run is not None else "current file"
        sources = {name: f"{origin} {shown}" for name in values}
        recorded, recorded_sources, conflicts = merge(self.records)
        values.update(recorded)  # the fixture's value wins over the current file
        sources.update(recorded_sources)

        scoped = baselines.scope(self.history.runs if self.history else (), self.config.baseline_branch)
        runs = list(scoped.runs)
        notes = list(self.history_notes())
        notes += scoped.notes()
        if self.config.baseline_branch is not None:
            own = self.run_info().branch
            where = f'on branch "{own}"' if own else "on no known branch"
            notes.append(f'branch: this run is {where}, judged against "{self.config.baseline_branch}" runs')
        # This run's label (METRICGATE_RUN_LABEL) names its point on the charts instead of "this run".
        self.current_label = self.run_info().label or ""
        nothing_recorded = selection is not None and not values
        if nothing_recorded:
            notes.insert(
                0,
                f"every test that records metrics was deselected ({selection}): no metric was measured, "
                "so nothing was judged",
            )
        elif not values and runs:
            candidate = runs.pop()
            self.candidate_from_history = True
            label = _run_name(candidate, self.history.label_name if self.history else None)
            self.current_label = candidate.label or ""
            values = dict(candidate.metrics)
            sources = {name: f"history run {label}" for name in values}
            notes.append(
                f"values: no test recorded any and no current file gave any, so the newest history run "
                f"({label}) is judged against the {_plural(len(runs), 'run')} before it"
            )
        for worker in self.crashed_workers:
            notes.append(f"worker {worker} crashed: the metrics it had recorded are lost (shown as missing)")
        settings = Settings(
            baseline=self.config.baseline, window=self.config.window, family_wise=self.config.family_wise
        )
        self.rules, unmatched = self.config.rules_for(values)
        notes.extend(unmatched)
        judged_against, judging = runs, settings
        if self.config.baseline_model is not None:
            # The champion's own values are the baseline; the charts still show the history.
            judged_against = [self.champion] if self.champion is not None else []
            judging = replace(settings, baseline="last", window=1)
        histories = {rule.name: baselines.metric_history(judged_against, rule.name) for rule in self.rules}
        for rule in self.rules:
            restarted = histories[rule.name].restarted_at
            if restarted is not None:
                label = _run_name(
                    judged_against[restarted], self.history.label_name if self.history else None
                )
                notes.append(f"{rule.name}: baseline restarted at the accepted run {label}")
        notes += acceptance.active_lines(self.config.acceptances, [rule.name for rule in self.rules])
        result = judge(
            self.rules,
            CurrentValues(values=values, sources=sources, conflicts=conflicts),
            judged_against,
            judging,
            notes=notes,
            histories=histories,
        )
        if selection is not None:
            # Not measured because its test did not run: not a regression, and not a pass either.
            result = mark_not_run(result, f"not run: no selected test recorded it ({selection})")
        result = acceptance.apply(result, self.config.acceptances)
        if not runs and any(_has_relative_rule(rule) for rule in self.rules):
            result = replace(result, caveat=f"relative rules not applied: {self.missing_baseline()}")
        self.result = result
        if self.data_checks:
            from .datacheck import explain

            self.result = explain(self.result, self.data_checks)
            self.details.extend(check.terminal_line() for check in self.data_checks)
        self.series = self.build_series(runs, values, settings)
        if ci.on_github_actions(os.environ):
            self.annotations = ci.github_annotations(self.result)
        return self.result

    def run_info(self) -> runinfo.RunInfo:
        """This run's label, commit, branch and time, read once (git may be asked)."""
        if self.info is None:
            self.info = runinfo.detect(directory=self.config.source.parent)
        return self.info

    def missing_baseline(self) -> str:
        """Why there is no baseline, in a few words for the headline."""
        spec, tail = self.config.history, self.history
        if spec is None or tail is None:
            return "no history configured"
        if not tail.exists:
            return f"{spec.shown} does not exist"
        if self.config.baseline_branch is not None and tail.runs:
            return f'{spec.shown} holds no runs of branch "{self.config.baseline_branch}"'
        return f"{spec.shown} holds no earlier runs"

    def history_notes(self) -> list[str]:
        spec, tail = self.config.history, self.history
        if spec is None or tail is None:
            return ["history: none configured, so only min and max apply"]
        notes = list(tail.warnings)
        if self.config.baseline_model is not None:
            if self.champion is not None:
                notes.append(f"baseline: the champion model {self.champion_described}")
            else:
                notes.append(f"first run: {self.champion_described}, so there is no baseline")
        elif tail.runs:
            notes.append(f"baseline: {self.config.baseline} of the newest {self.config.window} history runs")
        if not tail.exists:
            notes.append(f"first run: {spec.shown} does not exist yet, so there is no baseline")
        elif not tail.runs:
            notes.append(f"first run: {spec.shown} holds no runs yet, so there is no baseline")
        return notes

    def build_series(
        self, runs: Sequence[Run], values: dict[str, Measurement], settings: Settings
    ) -> dict[str, Series]:
        """Each metric's charted points, with its breaching runs and level shifts.

        The breaches and shifts are searched per metric, shared among processes
        when there are many metrics (see ``parallel``).
        """
        from . import parallel

        assert self.result is not None and self.shown_result is not None
        shown_runs = list(runs[-(self.config.chart_runs - 1) :]) if self.config.chart_runs > 1 else []
        skipped = len(runs) - len(shown_runs)
        rules = {rule.name: rule for rule in self.rules}
        labels = tuple(run.label or "" for run in shown_runs) + (self.current_label,)
        names = [verdict.name for verdict in self.shown_result.verdicts]
        # A shift is named by the run's own label (its full timestamp, say), else its place;
        # every metric shares the runs, so this is worked out once.
        shift_labels = tuple(label or place for label, place in zip(labels, display_labels(labels)))
        marks = {name: baselines.metric_marks(runs, name) for name in names}
        jobs = [
            (
                rules.get(name),
                [run.metrics.get(name) for run in runs],
                marks[name],
                values.get(name),
                settings,
                skipped,
                shift_labels,
            )
            for name in names
        ]
        # While the workers analyse, this process imports the drawing code: otherwise it would do so
        # alone, with a core idle, before the charts' workers fork from it (and inherit it).
        analysed, _ = parallel.starmap(_analyse_metric, jobs, meanwhile=_prepare_drawing)
        label_name = self.history.label_name if self.history else None
        caption = ""
        if self.config.baseline_branch is not None:
            own = self.run_info().branch
            caption = f'runs of "{self.config.baseline_branch}" + this run' + (
                f' (on "{own}")' if own else ""
            )
        series = {
            name: Series(
                name,
                labels,
                charted,
                breaches,
                True,
                label_name,
                shifts,
                caption=caption,
                restarts=tuple(
                    index - skipped
                    for index, mark in enumerate(marks[name])
                    if mark == acceptance.ACCEPTED_MARK and index >= skipped
                ),
            )
            for name, (charted, breaches, shifts) in zip(names, analysed)
        }
        # The terminal and the summaries mention only shifts inside the current baseline window
        # (the newest `window` runs and this one): older ones are history, and the charts keep them.
        self.details.extend(shift_lines([self.recent_shifts(item) for item in series.values()]))
        if skipped > 0 or (self.history is not None and self.history.older_runs_left_out):
            self.details.append(
                f"charts: the newest {len(shown_runs) + 1} runs are shown; older runs left out (chart-runs)"
            )
        return series

    def recent_shifts(self, item: Series) -> Series:
        """``item`` with only the level shifts inside its metric's baseline window and this run."""
        rule = next((rule for rule in self.rules if rule.name == item.name), None)
        window = self.config.window if rule is None or rule.window is None else rule.window
        first = len(item.values) - 1 - window
        return replace(item, shifts=tuple(shift for shift in item.shifts if shift.index >= first))

    # -- outputs -----------------------------------------------------------

    def write_report(self) -> None:
        """Charts, overview, summary.json, summary.md and index.html into the report directory."""
        assert self.result is not None and self.shown_result is not None
        from . import charts  # matplotlib is imported only when the gate runs

        fmt = self.config.chart_format
        rules = {rule.name: rule for rule in self.rules}
        shown = self.shown_result
        verdicts = {v.name: v for v in shown.verdicts}
        names = [v.name for v in shown.verdicts]
        charted = names
        if self.config.chart_metrics == "breached":
            charted = [v.name for v in shown.verdicts if v.verdict in (FAIL, WARN, ACCEPTED)]
            left_out = len(names) - len(charted)
            if left_out:
                self.details.append(
                    f"charts: {_plural(left_out, 'metric')} without a breach not drawn on "
                    f'{"its" if left_out == 1 else "their"} own (chart-metrics = "breached"); '
                    "the overview shows every metric"
                )
        # The overview puts failures first, then warnings (charts.overview_order): say so when that
        # changes the config's order, so nobody reads the grid as config order.
        ranks = [0 if v.verdict == FAIL else 1 if v.verdict == WARN else 2 for v in shown.verdicts]
        if ranks != sorted(ranks):
            self.details.append("overview: failing metrics first, then warnings, then the rest")
        distributions = data_charted(self.data_checks)
        all_files = chart_file_names([*charted, *(key for key, _ in distributions)], fmt)
        self.chart_files = {name: all_files[name] for name in charted}
        drawn, overview_bytes = charts.draw_all(
            [self.series[name] for name in names],
            verdicts,
            rules,
            fmt,
            charted=frozenset(charted),
        )
        chart_bytes = {name: (self.chart_files[name], data) for name, data in zip(charted, drawn)}
        distribution_bytes = {
            key: (all_files[key], data)
            for (key, _), data in zip(
                distributions,
                charts.draw_distributions(
                    [(title, column) for title, column in data_titles(distributions)], fmt
                ),
            )
        }
        overview = (f"overview.{fmt}", overview_bytes)
        notes = [*self.result.notes, *self.details]
        shifts = {name: self.recent_shifts(item).shifts for name, item in self.series.items()}
        extra: dict[str, object] = {"overview": overview[0]}
        if self.data_checks:
            extra["data"] = data_summary(self.data_checks, {k: f for k, (f, _) in distribution_bytes.items()})
        summary = summary_json(
            self.result,
            self.chart_files,
            notes=notes,
            extra=extra,
            shifts=shifts,
            run=self.run_info(),
            report=self.report_link,
        )
        markdown = summary_markdown(shown, notes=notes, run=self.run_info()) + data_markdown(
            self.data_checks, {k: f for k, (f, _) in distribution_bytes.items()}
        )
        files = {file_name: data for file_name, data in chart_bytes.values()}
        files.update({file_name: data for file_name, data in distribution_bytes.values()})
        files[overview[0]] = overview[1]
        self.summary = summary
        files["summary.json"] = (json.dumps(summary, indent=2, allow_nan=False) + "\n").encode()
        files["summary.md"] = markdown.encode()
        files["index.html"] = index_html(
            shown,
            charts=chart_bytes,
            overview=overview,
            notes=notes,
            data_html=data_html(self.data_checks, distribution_bytes),
        ).encode()
        gitlab = ci.wants_gitlab_metrics(os.environ, self.config.gitlab_metrics)
        if gitlab:
            files[ci.GITLAB_METRICS_FILE] = ci.gitlab_metrics(self.result).encode()
        try:
            write_report_dir(self.config.report_dir, files)
        except OSError as exc:
            raise MetricGateError(
                f"{self.report_dir_shown}: cannot write the report: {exc.strerror or exc}"
            ) from None
        drawn_data = f", {_plural(len(distributions), 'distribution chart')}" if distributions else ""
        self.details.append(
            f"report: {self.report_dir_shown}{os.sep} ({_plural(len(charted), 'chart')}{drawn_data}, overview, "
            f"index.html, summary.json, summary.md{', ' + ci.GITLAB_METRICS_FILE if gitlab else ''})"
        )
        self.append_step_summary(markdown)

    def append_step_summary(self, markdown: str) -> None:
        """On GitHub Actions, add summary.md to the job summary (appending: other steps write there too)."""
        target = os.environ.get("GITHUB_STEP_SUMMARY")
        if not target:
            return
        try:
            with open(target, "a", encoding="utf-8") as stream:
                stream.write("\n" + markdown)
        except OSError as exc:
            self.undone.append(f"job summary: not written to {target}: {exc.strerror or exc}")
            return
        self.details.append("job summary: summary.md appended to $GITHUB_STEP_SUMMARY")

    def append_history(self, *, tests_passed: bool) -> None:
        """``--metric-gate-record``: append this run when it passed and its values are new."""
        if not self.record_requested:
            return
        assert self.result is not None and self.config.history is not None
        reason = None
        if self.candidate_from_history:
            reason = "the values came from the history itself"
        elif not self.result.passed:
            reason = "the gate failed"
        elif not tests_passed:
            reason = "tests failed"
        values = dict(self.current_file)
        values.update(merge(self.records)[0])
        if not reason and not values:
            reason = "no metric was measured"
        if reason:
            self.undone.append(f"history: nothing written to {self.config.history.shown}: {reason}")
            return
        info = self.run_info()
        extra = {}
        if info.branch:
            extra[baselines.BRANCH_FIELD] = info.branch
        marks = {
            name: mark
            for name, mark in acceptance.marks(self.result, self.config.acceptances).items()
            if name in values
        }
        if marks:
            extra[baselines.MARKS_FIELD] = acceptance.format_marks(marks)
        run = Run(metrics=values, run=info.label, timestamp=info.timestamp, commit=info.commit, extra=extra)
        recording = Recording(
            column_order=tuple(rule.name for rule in self.config.metrics),
            info=info,
            verdict="warn" if self.result.warnings else "pass",
            report_dir=self.config.report_dir,
            current_run=self.config.current_run,
        )
        try:
            stores.open_store(self.config.history).append(run, recording)
        except MetricGateError as exc:
            raise MetricGateError(f"{exc}; this run was not recorded") from None
        marked = "; ".join(f"{name} marked {mark}" for name, mark in sorted(marks.items()))
        suffix = f" ({marked})" if marked else ""
        if self.config.current_run is not None:
            self.details.append(
                f"history: marked {self.config.current_shown} as recorded in {self.config.history.shown}{suffix}"
            )
        else:
            self.details.append(f"history: appended this run to {self.config.history.shown}{suffix}")

    def send_alerts(self) -> None:
        """``[tool.metricgate.alerts]``: run once when the gate failed (or warned, with ``on = "warn"``)."""
        settings, result = self.config.alerts, self.result
        if settings is None or result is None or self.summary is None:
            return
        from . import alerts

        if not alerts.due(result, settings.on):
            return
        outcomes = alerts.send(
            settings,
            result,
            self.summary,
            summary_path=(self.config.report_dir / "summary.json").resolve(),
            report_dir=self.report_link,
            workdir=self.config.source.parent,
            run=self.run_info(),
        )
        for outcome in outcomes:
            (self.details if outcome.delivered else self.undone).extend(outcome.lines())


def _prepare_drawing() -> None:
    """Import the drawing code and look up the fonts, once per process (see ``build_series``)."""
    from . import charts

    charts.fonts()


def _analyse_metric(
    rule: MetricRule | None,
    before: list[Measurement | None],
    marks: list[str | None],
    current: Measurement | None,
    settings: Settings,
    skipped: int,
    shift_labels: tuple[str, ...],
) -> tuple[tuple[float | None, ...], tuple[bool, ...], tuple[Shift, ...]]:
    """One metric's charted values, which history runs breached, and where its level shifted."""
    flags = baselines.breach_flags(rule, before, marks, settings) if rule else [False] * len(before)
    charted = tuple(_value_or_none(m) for m in before[skipped:]) + (_value_or_none(current),)
    return charted, tuple(flags[skipped:]) + (False,), find_shifts(shift_labels, charted)


def read_enough(store: stores.HistoryStore, config: GateConfig) -> HistoryTail:
    """The newest runs of ``store``, read back from the end only as far as ``history_need`` asks.

    Each read takes twice the runs of the one before, so the cost stays within
    twice what is needed, however long the history.
    """
    need = history_need(config)
    limit = need.runs
    while True:
        tail = store.read(limit=limit, gated=config.gated_names)
        if not tail.older_runs_left_out or need.met_by(tail.runs, time_ordered=tail.time_ordered):
            return tail
        limit *= 2


def history_need(config: GateConfig) -> baselines.Need:
    """What judging and charting this config needs from the history (see ``baselines.Need``)."""
    return baselines.Need(
        branch=config.baseline_branch,
        runs=runs_needed(config),
        per_metric=tuple(
            (rule.name, max(_window(config, rule) + rule.patience, rule.min_history))
            for rule in config.metrics
        ),
    )


def check_required_history(config: GateConfig, tail: HistoryTail) -> None:
    """``require-history``: a missing, empty or too short history is an error, never a silent first run."""
    branch = config.baseline_branch
    count = len(baselines.scope(tail.runs, branch).runs)
    if tail.exists and count >= config.window:
        return
    of_branch = f' of branch "{branch}"' if branch is not None else ""
    if not tail.exists:
        found = "the history does not exist"
    elif not tail.runs:
        found = "the history holds no runs"
    else:
        found = f"the history holds {_plural(count, 'run')}{of_branch}"
    hint = (
        "; restore it (a CI cache miss?) or record a first history without require-history"
        if not tail.exists or not tail.runs
        else ""
    )
    raise HistoryError(
        f"{tail.shown}: require-history is on, but {found}; expected at least "
        f"{_plural(config.window, 'run')}{of_branch} (the window){hint}"
    )


def _window(config: GateConfig, rule: MetricRule) -> int:
    """The rule's own window, else the gate-wide one."""
    return config.window if rule.window is None else rule.window


def _has_relative_rule(rule: MetricRule) -> bool:
    return rule.has_relative_rule or rule.max_sigma is not None


def runs_needed(config: GateConfig) -> int:
    """How many newest history runs judging and the charts need (one more for a candidate taken from history).

    Patience re-judges up to ``patience - 1`` earlier runs, each against its own
    window; ``max-sigma`` needs ``min-history`` runs before it judges.
    """
    judging = max(
        (
            max(_window(config, rule) + rule.patience, rule.min_history)
            for rule in (*config.metrics, *(MetricRule(p.pattern, **p.fields) for p in config.patterns))  # type: ignore[arg-type]
        ),
        default=config.window,
    )
    return max(config.chart_runs, judging) + 1


def _run_name(run: Run, label_name: str | None) -> str:
    if run.label is None:
        return "the newest run"
    return f"{label_name} {run.label}" if label_name and label_name != "run" else run.label


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _value_or_none(measurement: Measurement | None) -> float | None:
    return None if measurement is None else measurement.value


__all__ = ["GateSession", "MetricGateError", "runs_needed"]
