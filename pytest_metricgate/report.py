"""Verdicts -> what people read: terminal lines, summary.json, and the report directory.

The builders are pure (data in, strings and dicts out). ``write_report_dir``
is the one place that writes files: each atomically, and it cleans only files
a previous run listed in its manifest, never following a symlink.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import json
import math
import os
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .gate import ACCEPTED, FAIL, NOT_RUN, PASS, UNGATED, WARN, GateResult, Verdict, format_value

if TYPE_CHECKING:
    from .datacheck import ColumnCheck, DataCheck
    from .runinfo import RunInfo

MANIFEST = ".metricgate-manifest.json"
_RESERVED_STEMS = frozenset({"overview", "index", "summary"})
_WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(1, 10)} | {f"lpt{i}" for i in range(1, 10)}
)
_VERDICT_ORDER = {FAIL: 0, WARN: 1, ACCEPTED: 2, NOT_RUN: 3, PASS: 4, UNGATED: 5}
_VERDICT_MARKUP = {
    FAIL: {"red": True, "bold": True},
    WARN: {"yellow": True, "bold": True},
    ACCEPTED: {"purple": True, "bold": True},
    PASS: {"green": True},
}
# Shouted in capitals: the verdicts a reader must not mistake for a plain pass.
_LOUD = (FAIL, WARN, ACCEPTED)


def verdict_word(verdict: str) -> str:
    """``FAIL``, ``WARN`` and ``ACCEPTED`` in capitals; ``pass``, ``not run`` and ``ungated`` as they are."""
    return verdict.upper() if verdict in _LOUD else verdict


@dataclass(frozen=True)
class Series:
    """One metric's points as its chart shows them, oldest first; ``None`` where a run lacks it.

    The last point is this run's value when ``has_current``.
    """

    name: str
    labels: tuple[str, ...]
    values: tuple[float | None, ...]
    breaches: tuple[bool, ...]
    has_current: bool
    label_name: str | None = None
    shifts: tuple[Shift, ...] = ()
    # Which runs are shown, when not simply the history's (``runs of "main" + this run``).
    caption: str = ""
    # Where an accepted change restarted the baseline (places among ``values``).
    restarts: tuple[int, ...] = ()


@dataclass(frozen=True)
class Shift:
    """A level shift on a chart: ``index`` is the first run at the new level, ``at`` its label."""

    index: int
    at: str
    before: float
    after: float


def find_shifts(labels: Sequence[str], values: Sequence[float | None]) -> tuple[Shift, ...]:
    """Level shifts of the charted values (see ``stats.level_shifts``), placed back among the runs."""
    from .stats import level_shifts

    positions = [index for index, value in enumerate(values) if value is not None and math.isfinite(value)]
    found = level_shifts([values[index] for index in positions])  # type: ignore[misc]
    return tuple(
        Shift(positions[shift.index], labels[positions[shift.index]], shift.before, shift.after)
        for shift in found
    )


def shift_lines(series: Sequence[Series]) -> list[str]:
    """``accuracy: level shift at week 9: 0.905 \u2192 0.860`` for every shift of every metric."""
    lines = []
    for item in series:
        word = f"{item.label_name} " if item.label_name and item.label_name != "run" else ""
        for shift in item.shifts:
            lines.append(
                f"{item.name}: level shift at {word}{shift.at}: "
                f"{format_value(shift.before)} \u2192 {format_value(shift.after)}"
            )
    return lines


_ISO_TIMESTAMP = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})")


def display_labels(raw: Sequence[str], *, has_current: bool = True) -> list[str]:
    """Run labels for people: ISO timestamps shortened to the date (with the time when a date repeats);
    a run without a label is named by its place, and an unlabelled current run "this run"."""
    labels = [label or str(index + 1) for index, label in enumerate(raw)]
    if has_current and raw and not raw[-1]:
        labels[-1] = "this run"
    stamps = [_ISO_TIMESTAMP.match(label) for label in labels]
    if any(stamps):
        dates = [f"{m.group(2)}-{m.group(3)}" for m in stamps if m]
        with_time = len(set(dates)) < len(dates)
        years = {m.group(1) for m in stamps if m}
        for index, match in enumerate(stamps):
            if match:
                year, month, day, hour, minute = match.groups()
                text = f"{month}-{day}" if len(years) == 1 else f"{year}-{month}-{day}"
                labels[index] = f"{text} {hour}:{minute}" if with_time else text
    return labels


_MAX_DECIMALS = 8
# Beyond these magnitudes fixed decimals stop being readable; such a cell uses four significant digits.
_FIXED_RANGE = (1e-4, 1e9)


@dataclass(frozen=True)
class NumberColumns:
    """One format rule for a table's number columns (current and baseline): the same decimals down the
    column, as many as the most any row needs, where a row needs its value's own digits and enough to
    tell it from the baseline and from every limit's edge it was judged against (so 0.87996 never
    shows as 0.880 next to "below min 0.88")."""

    decimals: int

    @classmethod
    def of(cls, verdicts: Sequence[Verdict]) -> NumberColumns:
        needed = [0]
        for v in verdicts:
            if v.value is not None:
                needed.append(_decimals_to_tell(v.value, (*v.edges, v.baseline)))
            if v.baseline is not None:
                needed.append(_decimals_to_tell(v.baseline, ()))
        return cls(min(max(needed), _MAX_DECIMALS))

    def format(self, value: float | None) -> str:
        if value is None:
            return "-"
        if not math.isfinite(value):
            return str(value)
        if value != 0 and not _FIXED_RANGE[0] <= abs(value) < _FIXED_RANGE[1]:
            return f"{value:.4g}"
        return f"{value:.{self.decimals}f}"


def _decimals_to_tell(value: float, others: Sequence[float | None]) -> int:
    """Decimals for ``value``'s own digits, and more while it prints like a different number in ``others``."""
    if not math.isfinite(value) or value == 0 or not _FIXED_RANGE[0] <= abs(value) < _FIXED_RANGE[1]:
        return 0
    # The value's own digits as every message writes it (``format_value``: four significant digits,
    # three decimals at least below 1), so the table and the reasons show the same number.
    text = format_value(value)
    decimals = len(text.split(".")[1]) if "." in text and "e" not in text else 0
    for other in others:
        if other is None or not math.isfinite(other) or _same(value, other):
            continue
        while decimals < _MAX_DECIMALS and f"{value:.{decimals}f}" == f"{other:.{decimals}f}":
            decimals += 1
    return decimals


def _same(a: float, b: float) -> bool:
    # The gate's own tolerance: values this close were judged equal, so no digit should split them.
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


@dataclass(frozen=True)
class TerminalLine:
    text: str
    markup: Mapping[str, bool]


def ordered(verdicts: Sequence[Verdict]) -> list[Verdict]:
    """Failures first, then warnings, passes and ungated metrics; config order within each."""
    return sorted(verdicts, key=lambda v: _VERDICT_ORDER[v.verdict])


def terminal_lines(
    result: GateResult,
    *,
    details: Sequence[str] = (),
    quiet: bool = False,
    undone: Sequence[str] = (),
) -> list[TerminalLine]:
    """The ``metric gate`` section: an aligned table, failures first, notes, and the headline last.

    ``quiet`` (``-q``) keeps only failing rows, the ``undone`` lines (something the user expects that
    did not happen: history not written, an alert not delivered) and the headline.
    """
    rows = ordered(result.verdicts)
    if quiet or (result.verdicts and all(v.verdict == NOT_RUN for v in result.verdicts)):
        # Quiet keeps failures only; a session that measured nothing says so in its note alone.
        rows = [v for v in rows if v.verdict == FAIL]
    header = ("metric", "current", "baseline", "limit", "verdict", "reason")
    numbers = NumberColumns.of(rows)
    cells = [
        (
            v.name,
            numbers.format(v.value),
            numbers.format(v.baseline),
            v.limits or "-",
            verdict_word(v.verdict),
            "; ".join(v.reasons),
        )
        for v in rows
    ]
    lines: list[TerminalLine] = []
    if cells:
        widths = [max(len(row[i]) for row in [header, *cells]) for i in range(len(header) - 1)]

        def render(row: Sequence[str]) -> str:
            return "  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1]

        lines.append(TerminalLine(render(header).rstrip(), {"bold": True}))
        for verdict, row in zip(rows, cells):
            lines.append(TerminalLine(render(row).rstrip(), _VERDICT_MARKUP.get(verdict.verdict, {})))
    if not quiet:
        lines.extend(
            TerminalLine(note, {"yellow": True} if note.startswith("warning:") else {})
            for note in (*result.notes, *details)
        )
    lines.extend(TerminalLine(line, {"yellow": True}) for line in undone)
    headline_markup = {"red": True, "bold": True} if not result.passed else {"green": True, "bold": True}
    lines.append(TerminalLine(result.headline(), headline_markup))
    return lines


def run_lines(run: RunInfo | None) -> list[str]:
    """This run's facts for people: ``run r42, commit 1a2b3c4d5e6f, branch main, 2026-05-04T10:00:00+00:00``
    and, where the CI gives one, ``CI: URL``. Empty without facts."""
    if run is None:
        return []
    facts = []
    if run.label:
        facts.append(f"run {run.label}")
    if run.commit:
        note = f" ({run.commit_note})" if run.commit_note else ""
        facts.append(f"commit {run.commit[:12]}{note}")
    if run.branch:
        facts.append(f"branch {run.branch}")
    facts.append(run.timestamp)
    lines = [", ".join(facts)]
    if run.ci_url:
        lines.append(f"CI: {run.ci_url}")
    return lines


def summary_json(
    result: GateResult,
    charts: Mapping[str, str],
    *,
    notes: Sequence[str] | None = None,
    extra: Mapping[str, object] | None = None,
    shifts: Mapping[str, Sequence[Shift]] | None = None,
    run: RunInfo | None = None,
    report: str | None = None,
) -> dict[str, Any]:
    """The ``summary.json`` document: status, and each metric with its numbers, reasons and chart file."""
    metrics = []
    for v in result.verdicts:
        metrics.append(
            {
                "name": v.name,
                "value": _json_number(v.value),
                "n": v.n,
                "baseline": _json_number(v.baseline),
                "baseline_method": v.baseline_text,
                "limits": v.limits,
                "verdict": v.verdict,
                "severity": v.severity,
                "reasons": list(v.reasons),
                "source": v.source,
                "chart": charts.get(v.name),
                "shifts": [
                    {"at": shift.at, "before": shift.before, "after": shift.after}
                    for shift in (shifts or {}).get(v.name, ())
                ],
            }
        )
    listed = list(result.notes if notes is None else notes)
    document: dict[str, Any] = {"status": result.status, "headline": result.headline(), "notes": listed}
    if run is not None:
        document["run"] = run.as_dict()
    if report is not None:
        document["report"] = report
    if extra:
        document.update(extra)
    document["metrics"] = metrics
    return document


_MARKDOWN_ROWS = 40
_VERDICT_ICONS = {
    FAIL: "\u274c",
    WARN: "\u26a0\ufe0f",
    ACCEPTED: "\U0001f4dd",  # a memo: passed because a reviewed entry says so
    NOT_RUN: "\u23ed\ufe0f",
    PASS: "\u2705",
    UNGATED: "\u2796",
}


def summary_markdown(result: GateResult, *, notes: Sequence[str] = (), run: RunInfo | None = None) -> str:
    """``summary.md``: a status line and a table of the verdicts, failures first, short enough for a PR comment.

    Every user-supplied string is escaped here, where it becomes Markdown.
    """
    icon = _VERDICT_ICONS[PASS if result.passed else FAIL]
    lines = [f"### {icon} {_md(result.headline())}", ""]
    if run is not None:
        # The heading's second line: which run, commit and branch this is, linked to its CI job.
        facts = _md(run_lines(run)[0])
        link = f" \u00b7 [CI run](<{run.ci_url}>)" if run.ci_url and _safe_url(run.ci_url) else ""
        lines += [f"{facts}{link}", ""]
    rows = ordered(result.verdicts)
    shown = [v for v in rows if v.verdict in _LOUD]
    shown += [v for v in rows if v.verdict not in _LOUD][: max(0, _MARKDOWN_ROWS - len(shown))]
    if rows:
        lines += [
            "| metric | current | baseline | limits | verdict | reasons |",
            "|---|---:|---:|---|---|---|",
        ]
        numbers = NumberColumns.of(shown)
        for v in shown:
            verdict = f"**{verdict_word(v.verdict)}**" if v.verdict in _LOUD else v.verdict
            cells = [
                _md(v.name),
                numbers.format(v.value),
                numbers.format(v.baseline),
                _md(v.limits or "-"),
                f"{_VERDICT_ICONS[v.verdict]} {verdict}",
                _md("; ".join(v.reasons)),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        hidden = len(rows) - len(shown)
        if hidden:
            lines += ["", f"... and {hidden} more passing or ungated metrics (see summary.json)."]
    if notes:
        lines += [""] + [f"- {_md(note)}" for note in notes]
    return "\n".join(lines) + "\n"


def _safe_url(url: str) -> bool:
    # Only an http(s) link with nothing that could end the Markdown link early.
    return url.startswith(("https://", "http://")) and not re.search(r"[\s<>]", url)


def _md(text: str) -> str:
    """Escape ``text`` for a Markdown table cell: no markup, no HTML, no cell breaks."""
    text = html.escape(" ".join(text.split()), quote=False)
    return re.sub(r"([\\`*_\[\]#|~])", r"\\\1", text)


def index_html(
    result: GateResult,
    *,
    charts: Mapping[str, tuple[str, bytes]],
    overview: tuple[str, bytes] | None,
    notes: Sequence[str] = (),
    data_html: str = "",
) -> str:
    """``index.html``: one self-contained page (status banner, verdict table, every chart as a data URI).

    ``data_html`` is the data section (see ``data_html``), placed after the notes.

    No script, no external resource: it opens from a downloaded artifact with no
    server and no network, and its Content-Security-Policy forbids scripts even
    if a string slipped through. Every user-supplied string is escaped here.
    """
    e = html.escape
    status = "passed" if result.passed else "failed"
    anchors = chart_anchors([v.name for v in result.verdicts])
    numbers = NumberColumns.of(result.verdicts)
    rows = []
    for v in ordered(result.verdicts):
        reasons = "<br>".join(e(reason) for reason in v.reasons) or "&nbsp;"
        chart = charts.get(v.name)
        name = f'<a href="#{anchors[v.name]}">{e(v.name)}</a>' if chart else e(v.name)
        rows.append(
            f'<tr class="{e(v.verdict.replace(" ", "-"))}"><th scope="row">{name}</th><td class="num">{e(numbers.format(v.value))}</td>'
            f'<td class="num">{e(numbers.format(v.baseline))}</td><td>{e(v.limits or "-")}</td>'
            f'<td class="verdict">{e(verdict_word(v.verdict))}</td>'
            f"<td>{reasons}</td></tr>"
        )
    figures = []
    if overview is not None:
        figures.append(_figure("overview", "overview", "every metric", overview))
    for v in ordered(result.verdicts):
        if v.name in charts:
            figures.append(_figure(anchors[v.name], v.name, f"{v.name}: {v.verdict}", charts[v.name]))
    note_items = "".join(f"<li>{e(note)}</li>" for note in notes)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(result.headline())}</title>
<style>
body {{ font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1f2328; background: #fff; }}
main {{ max-width: 1100px; margin: 0 auto; padding: 0 20px 40px; }}
.banner {{ padding: 18px 20px; color: #fff; }}
.banner h1 {{ margin: 0; font-size: 22px; max-width: 1100px; margin: 0 auto; }}
.banner.failed {{ background: #cf222e; }}
.banner.passed {{ background: #1a7f37; }}
table {{ border-collapse: collapse; width: 100%; margin: 20px 0; }}
th, td {{ text-align: left; padding: 6px 10px; border-bottom: 1px solid #d0d7de; vertical-align: top; }}
thead th {{ background: #f6f8fa; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
tr.fail td.verdict {{ color: #cf222e; font-weight: 700; }}
tr.warn td.verdict {{ color: #9a6700; font-weight: 700; }}
tr.pass td.verdict {{ color: #1a7f37; }}
tr.ungated td.verdict {{ color: #57606a; }}
tr.accepted td.verdict {{ color: #bf3989; font-weight: 700; }}
tr.accepted {{ background: #ffeff7; }}
tr.not-run td.verdict {{ color: #57606a; font-style: italic; }}
tr.fail {{ background: #ffebe9; }}
tr.warn {{ background: #fff8c5; }}
ul.notes {{ color: #57606a; font-size: 13px; }}
figure {{ margin: 24px 0; }}
figure img {{ max-width: 100%; height: auto; border: 1px solid #d0d7de; }}
figcaption {{ font-size: 13px; color: #57606a; }}
section.data h2 {{ font-size: 18px; margin: 28px 0 4px; }}
section.data p.dataset {{ margin: 0; color: #57606a; }}
table.data-columns {{ font-size: 13px; }}
table.data-columns td.num {{ white-space: nowrap; }}
table.data-columns tr.drifted {{ background: #ffebe9; }}
table.data-columns tr.drifted td.verdict {{ color: #cf222e; font-weight: 700; }}
table.data-columns td.flag {{ color: #9a6700; font-weight: 700; }}
</style>
</head>
<body>
<header class="banner {status}"><h1>{e(result.headline())}</h1></header>
<main>
<table class="verdicts">
<thead><tr><th scope="col">metric</th><th scope="col">current</th><th scope="col">baseline</th><th scope="col">limits</th><th scope="col">verdict</th><th scope="col">reasons</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
<ul class="notes">{note_items}</ul>
{data_html}
{chr(10).join(figures)}
</main>
</body>
</html>
"""


def _figure(anchor: str, caption: str, alt: str, chart: tuple[str, bytes]) -> str:
    file_name, data = chart
    mime = "image/svg+xml" if file_name.endswith(".svg") else "image/png"
    uri = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    e = html.escape
    return (
        f'<figure id="{e(anchor)}"><img src="{uri}" alt="{e(alt)} chart">'
        f"<figcaption>{e(caption)} ({e(file_name)})</figcaption></figure>"
    )


def chart_anchors(names: Sequence[str]) -> dict[str, str]:
    """A distinct ``id`` for each metric's chart in ``index.html``.

    Names that clean to the same anchor (``a|b``, ``a b``, ``a/b``) get numbered suffixes, so every
    link in the table reaches its own metric's chart; ``overview`` stays the overview's.
    """
    return _distinct_ids(names, "chart-", {"overview"})


def _distinct_ids(names: Sequence[str], prefix: str, taken: set[str]) -> dict[str, str]:
    """``prefix`` + each name cleaned to an id, numbered where two clean alike; adds them to ``taken``."""
    anchors: dict[str, str] = {}
    for name in names:
        stem = prefix + (re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:100] or "metric")
        candidate, counter = stem, 2
        while candidate in taken:
            candidate, counter = f"{stem}-{counter}", counter + 1
        taken.add(candidate)
        anchors[name] = candidate
    return anchors


def failure_message(verdict: Verdict) -> str:
    """``accuracy 0.860 below min 0.88 (baseline 0.870)``: the name, the value, what decided, the baseline.

    The reasons that decided the verdict come first and alone, so a failure is never summed up by an
    "inconclusive" note that happened to come first in rule order.
    """
    reasons = "; ".join(verdict.decisive or verdict.reasons) or verdict.verdict
    value = "" if verdict.value is None else f" {format_value(verdict.value)}"
    baseline = "" if verdict.baseline is None else f" (baseline {format_value(verdict.baseline)})"
    return f"{verdict.name}{value} {reasons}{baseline}"


def junit_testcases(result: GateResult) -> list[ET.Element]:
    """One ``<testcase classname="metricgate" name="NAME">`` per gated metric.

    A failure carries ``failure_message`` and every reason. ``warn`` and ``not run`` are written as
    ``<skipped>`` with the same message (``accepted`` stays a pass with an ``ACCEPTED:`` output): Jenkins, GitLab and the GitHub test
    reporters list a skipped case in its own colour with its message, while a passing case's
    ``system-out`` is hidden behind a click (Jenkins) or not shown at all (GitLab). Test cases carry no
    ``<properties>``: the Jenkins schema allows them only on the suite (see ``junit_properties``).
    """
    cases = []
    for v in result.gated:
        case = ET.Element("testcase", {"classname": "metricgate", "name": v.name, "time": "0.000"})
        if v.verdict == ACCEPTED:
            # JUnit has no "accepted": a reviewed change passes, so it stays a passing case (a skipped
            # one would count as not run), whose output says why, so CI views show it apart.
            out = ET.SubElement(case, "system-out")
            out.text = "ACCEPTED: " + "\n".join(v.reasons)
        elif v.verdict != PASS:
            tag = "failure" if v.verdict == FAIL else "skipped"
            outcome = ET.SubElement(
                case, tag, {"type": f"metricgate.{v.verdict}", "message": failure_message(v)}
            )
            outcome.text = "\n".join(v.reasons)
        cases.append(case)
    return cases


def junit_properties(result: GateResult) -> list[tuple[str, str]]:
    """Each gated metric's numbers as ``metricgate.NAME.KEY`` properties, for the suite's ``<properties>``."""
    properties = []
    for v in result.gated:
        for key, value in (
            ("value", None if v.value is None else format_value(v.value)),
            ("n", None if v.n is None else str(v.n)),
            ("baseline", None if v.baseline is None else format_value(v.baseline)),
            ("baseline_method", v.baseline_text),
            ("limits", v.limits or None),
            ("verdict", v.verdict),
            ("severity", v.severity),
        ):
            if value is not None:
                properties.append((f"metricgate.{v.name}.{key}", value))
    return properties


def add_to_junit_file(
    path: Path, cases: Sequence[ET.Element], properties: Sequence[tuple[str, str]] = ()
) -> None:
    """Append ``cases`` to the first ``<testsuite>`` of the JUnit file pytest wrote, update its counts,
    and add ``properties`` to that suite's ``<properties>`` (made first in the suite when pytest wrote none)."""
    tree = ET.parse(path)
    root = tree.getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    if suite is None:
        return
    if properties:
        listed = suite.find("properties")
        if listed is None:
            listed = ET.Element("properties")
            suite.insert(0, listed)
        for name, value in properties:
            ET.SubElement(listed, "property", {"name": name, "value": value})
    for case in cases:
        suite.append(case)
    failed = sum(1 for case in cases if case.find("failure") is not None)
    skipped = sum(1 for case in cases if case.find("skipped") is not None)
    for attribute, added in (("tests", len(cases)), ("failures", failed), ("skipped", skipped)):
        suite.set(attribute, str(int(suite.get(attribute, "0")) + added))
    buffer = io.BytesIO()
    tree.write(buffer, encoding="utf-8", xml_declaration=True)
    _write_atomically(path, buffer.getvalue())


def _json_number(value: float | None) -> float | str | None:
    # JSON has no NaN or infinity; write them as strings so the file stays strict JSON.
    if value is None or math.isfinite(value):
        return value
    return str(value)


def chart_file_names(names: Sequence[str], extension: str) -> dict[str, str]:
    """A safe, distinct file name in the report directory for each metric's chart.

    Metric names are user data: path separators, dots at the start, markup and
    device names are cleaned away, and two names that clean to the same file
    get numbered suffixes, so no chart overwrites another or lands outside.
    """
    taken: set[str] = {f"{stem}.{extension}" for stem in _RESERVED_STEMS}
    files: dict[str, str] = {}
    for name in names:
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")[:100] or "metric"
        if stem.lower() in _RESERVED_STEMS or stem.lower().split(".")[0] in _WINDOWS_DEVICES:
            stem = f"metric_{stem}"
        candidate, counter = f"{stem}.{extension}", 2
        while candidate.lower() in {t.lower() for t in taken}:
            candidate, counter = f"{stem}-{counter}.{extension}", counter + 1
        taken.add(candidate)
        files[name] = candidate
    return files


def write_report_dir(directory: Path, files: Mapping[str, bytes]) -> None:
    """Write ``files`` (name -> bytes) into ``directory`` and remove what an earlier run wrote and this one does not.

    Only names listed in the previous manifest are ever removed, and only when
    they are regular files (a symlink is removed as a link, never followed).
    """
    directory.mkdir(parents=True, exist_ok=True)
    previous = _read_manifest(directory)
    for name in sorted(previous - set(files)):
        path = directory / name
        with contextlib.suppress(OSError):
            if path.is_symlink() or path.is_file():
                path.unlink()
    for name, data in files.items():
        _write_atomically(directory / name, data)
    manifest = json.dumps({"files": sorted(files)}, indent=1).encode()
    _write_atomically(directory / MANIFEST, manifest)


def _read_manifest(directory: Path) -> set[str]:
    try:
        listed = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    if not isinstance(listed, list):
        return set()
    # A manifest is only trusted for plain names inside the directory.
    return {
        name
        for name in listed
        if isinstance(name, str) and name and "/" not in name and "\\" not in name and name not in (".", "..")
    }


def _write_atomically(path: Path, data: bytes) -> None:
    handle, temp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temp, 0o644)
        # os.replace swaps a symlink at ``path`` for the file; it never writes through it.
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


# ---------------------------------------------------------------------------
# The data section: what metric_gate.check_data found
# ---------------------------------------------------------------------------


def data_charted(checks: Sequence[DataCheck]) -> list[tuple[str, ColumnCheck]]:
    """``(key, column)`` for every column that gets a distribution chart; the key names its chart file."""
    return [(_data_key(check, column), column) for check in checks for column in check.charted()]


def data_titles(charted: Sequence[tuple[str, ColumnCheck]]) -> list[tuple[str, ColumnCheck]]:
    """``(title, column)`` for ``data_charted``'s pairs: the title is the column's metric stem, ``data.income``."""
    return [(key.removeprefix(_DATA_KEY_PREFIX), column) for key, column in charted]


_DATA_KEY_PREFIX = "distribution."


def _data_key(check: DataCheck, column: ColumnCheck) -> str:
    return f"{_DATA_KEY_PREFIX}{check.prefix}.{column.name}"


def data_summary(checks: Sequence[DataCheck], chart_files: Mapping[str, str]) -> list[dict[str, Any]]:
    """The ``data`` list of ``summary.json``: one entry per ``check_data`` call, with every column's figures."""
    entries = []
    for check in checks:
        columns = []
        for column in check.columns:
            columns.append(
                {
                    "name": column.name,
                    "kind": column.kind,
                    "drifted": column.drifted,
                    "test": column.test_name,
                    "p_value": _json_number(column.p_value),
                    "p_adjusted": _json_number(column.p_adjusted),
                    "psi": _json_number(column.psi),
                    "ks": _json_number(column.ks),
                    "js": _json_number(column.js),
                    "missing": column.missing,
                    "out_of_range": column.out_of_range,
                    "infinite": column.infinite,
                    "n_reference": column.n_reference,
                    "n_current": column.n_current,
                    "note": column.note or None,
                    "chart": chart_files.get(_data_key(check, column)),
                }
            )
        entries.append(
            {
                "prefix": check.prefix,
                "test": check.test,
                "alpha": check.alpha,
                "method": "KS (numbers) and chi-square (categories), Holm-adjusted across columns",
                "rows_reference": check.rows_reference,
                "rows_current": check.rows_current,
                "columns_checked": len(check.columns),
                "drifted": [column.name for column in check.drifted],
                "drift_share": check.drift_share,
                "missing": check.missing,
                "duplicates": check.duplicates,
                "duplicates_of": check.duplicates_of,
                "columns": columns,
            }
        )
    return entries


def data_markdown(checks: Sequence[DataCheck], chart_files: Mapping[str, str]) -> str:
    """summary.md's data lines: one per dataset, naming the drifted columns and linking their charts."""
    if not checks:
        return ""
    lines = [""]
    for check in checks:
        lines.append(f"- {_md(check.terminal_line())}")
        links = [
            f"[{_md(column.name)}]({chart_files[_data_key(check, column)]})"
            for column in check.charted()
            if _data_key(check, column) in chart_files
        ]
        if links:
            lines.append(f"  - distribution charts (in index.html): {', '.join(links)}")
    return "\n".join(lines) + "\n"


def data_html(checks: Sequence[DataCheck], charts: Mapping[str, tuple[str, bytes]]) -> str:
    """The data section of index.html: per dataset a headline, one table row per column, and the charts."""
    if not checks:
        return ""
    e = html.escape
    parts = ['<section class="data" id="data">']
    # The data section's ids start with "data-" and "distribution-" (its chart keys), never "chart-", so
    # they cannot meet a metric chart's id; among themselves they are made distinct like the charts' ids.
    taken: set[str] = {"data"}
    headings = _distinct_ids([check.prefix for check in checks], "data-", taken)
    figure_ids = _distinct_ids(
        [_data_key(check, column) for check in checks for column in check.columns], "", taken
    )
    for check in checks:
        parts.append(
            f'<h2 id="{e(headings[check.prefix])}">Data: {e(check.prefix)}</h2>'
            f'<p class="dataset">{e(_dataset_sentence(check))}</p>'
        )
        header = (
            "column",
            "type",
            "drift",
            "test p",
            "Holm-adjusted p",
            "PSI",
            "KS D",
            "JS",
            "missing",
            "out of range",
            "infinite",
            "values (reference / current)",
        )
        rows = []
        for column in _data_rows_order(check):
            chart = charts.get(_data_key(check, column))
            name = (
                f'<a href="#{e(figure_ids[_data_key(check, column)])}">{e(column.name)}</a>'
                if chart
                else e(column.name)
            )
            verdict = "DRIFTED" if column.drifted else "stable"
            if column.note:
                verdict += f" ({column.note})"
            cells = [
                e(column.kind),
                e(verdict),
                _data_number(column.p_value),
                _data_number(column.p_adjusted),
                _data_number(column.psi),
                _data_number(column.ks),
                _data_number(column.js),
                _data_share(column.missing),
                "-" if column.out_of_range is None else _data_share(column.out_of_range),
                str(column.infinite) if column.infinite else "0",
                f"{column.n_reference} / {column.n_current}",
            ]
            flags = [
                False,
                False,
                False,
                False,
                False,
                False,
                False,
                column.missing > 0,
                bool(column.out_of_range),
                column.infinite > 0,
                False,
            ]
            tds = "".join(
                f'<td class="{"verdict" if index == 1 else "num"}{" flag" if flag else ""}">{cell}</td>'
                for index, (cell, flag) in enumerate(zip(cells, flags))
            )
            rows.append(
                f'<tr class="{"drifted" if column.drifted else "stable"}"><th scope="row">{name}</th>{tds}</tr>'
            )
        head = "".join(f'<th scope="col">{e(cell)}</th>' for cell in header)
        parts.append(
            f'<table class="data-columns" data-prefix="{e(check.prefix)}"><thead><tr>{head}</tr></thead>'
            f"<tbody>\n{chr(10).join(rows)}\n</tbody></table>"
        )
        for column in check.charted():
            key = _data_key(check, column)
            if key in charts:
                caption = f"{check.prefix}.{column.name}: reference vs current ({'drifted' if column.drifted else 'stable'})"
                parts.append(_figure(figure_ids[key], caption, caption, charts[key]))
    parts.append("</section>")
    return "\n".join(parts)


def _dataset_sentence(check: DataCheck) -> str:
    drifted = check.drifted
    names = ", ".join(column.name for column in drifted)
    moved = f"{len(drifted)} drifted ({names})" if drifted else "none drifted"
    key = f"key column {check.duplicates_of}" if check.duplicates_of else "whole rows"
    return (
        f"{len(check.columns)} columns of {check.rows_reference} reference and {check.rows_current} current rows: "
        f"{moved} at family-wise level {check.alpha:g} (KS for numbers, chi-square for categories, "
        f"Holm-adjusted); missing {_data_share(check.missing)} of cells; duplicates {_data_share(check.duplicates)} "
        f"({key})."
    )


def _data_rows_order(check: DataCheck) -> list[ColumnCheck]:
    """Drifted columns first, then by p-value, smallest first; untested ones last."""
    return sorted(
        check.columns,
        key=lambda column: (not column.drifted, 2.0 if column.p_value is None else column.p_value),
    )


def _data_number(value: float | None) -> str:
    if value is None:
        return "-"
    if value != 0 and abs(value) < 1e-3:
        return f"{value:.2e}"
    return f"{value:.4g}"


def _data_share(share: float) -> str:
    return f"{share * 100:.2f}%" if share else "0"
