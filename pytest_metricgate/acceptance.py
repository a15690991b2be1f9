"""Accepting an intended change: a reviewed ``[[tool.metricgate.accept]]`` entry turns a covered breach into ``accepted``.

A separate, pure step over the judged verdicts, so the rules never learn about
acceptances: ``apply`` maps each verdict whose every conclusive breach is covered
by an entry in force (by rule and by value range) to ``accepted``; ``marks``
says which metrics a recorded run carries a mark for, and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from .config import Acceptance
from .gate import ACCEPTED, FAIL, WARN, GateResult, Verdict, format_value

# The marks a recorded run carries per metric (see ``stores``' ``marks`` field):
# "accepted" restarts the metric's baseline at that run; "patience" keeps the run
# out of every later baseline and sigma window.
ACCEPTED_MARK, PATIENCE_MARK = "accepted", "patience"


def apply(result: GateResult, acceptances: Sequence[Acceptance]) -> GateResult:
    """``result`` with each breach that an entry in force covers turned into ``accepted``."""
    if not acceptances:
        return result
    return replace(result, verdicts=tuple(_accept(v, acceptances) for v in result.verdicts))


def _accept(verdict: Verdict, acceptances: Sequence[Acceptance]) -> Verdict:
    if verdict.verdict not in (FAIL, WARN) or not verdict.breaches:
        return verdict
    matching = [entry for entry in acceptances if entry.matches(verdict.name)]
    if not matching:
        return verdict
    covering = [entry for entry in matching if set(verdict.breaches) <= set(entry.rules)]
    if not covering:
        entry = matching[0]
        uncovered = ", ".join(rule for rule in verdict.breaches if rule not in entry.rules)
        why = (
            f"not accepted: {_name(entry)} covers {', '.join(entry.rules)}, not {uncovered}"
            " (name it in rules to accept it)"
        )
        return replace(verdict, reasons=(*verdict.reasons, why))
    inside = [entry for entry in covering if entry.admits(verdict.value)]
    if not inside:
        entry = covering[0]
        why = (
            f"not accepted: {format_value(verdict.value)} is outside the range {entry.range_text} "
            f"that {_name(entry)} accepts"
        )
        return replace(verdict, reasons=(*verdict.reasons, why))
    entry = inside[0]
    return replace(
        verdict,
        verdict=ACCEPTED,
        reasons=(
            *verdict.reasons,
            f"accepted until {entry.until.isoformat()}: {entry.reason} ({_name(entry)})",
        ),
    )


def marks(result: GateResult, acceptances: Sequence[Acceptance]) -> dict[str, str]:
    """The marks a run recorded with this ``result`` carries, by metric.

    Every gated metric whose value an entry in force matches and admits is
    marked ``accepted``, so each further accepted step restarts the baseline
    again; a value outside the entry's ``value`` range is not marked, so small
    steps past the range cannot keep moving the baseline. A breach that passed
    only because of patience is marked ``patience``.
    """
    found: dict[str, str] = {}
    for verdict in result.gated:
        if any(entry.matches(verdict.name) and entry.admits(verdict.value) for entry in acceptances):
            found[verdict.name] = ACCEPTED_MARK
        elif verdict.held_by_patience:
            found[verdict.name] = PATIENCE_MARK
    return found


def active_lines(acceptances: Sequence[Acceptance], gated: Sequence[str]) -> list[str]:
    """One line per entry in force: what it accepts, until when, and why (for every summary)."""
    lines = []
    for entry in acceptances:
        names = [name for name in gated if entry.matches(name)]
        covered = ", ".join(entry.rules)
        bounded = f", values {entry.range_text}" if entry.range_text else ""
        lines.append(
            f"acceptance in force until {entry.until.isoformat()}: {', '.join(names) or entry.metric} "
            f"({covered}{bounded}): {entry.reason}"
        )
    return lines


def _name(entry: Acceptance) -> str:
    return f"[[tool.metricgate.accept]] #{entry.number}"


def parse_marks(raw: str | None) -> dict[str, str]:
    """Read a run's ``marks`` field (``metric=mark`` pairs, see ``format_marks``)."""
    if not raw:
        return {}
    found = {}
    for part in _split(raw):
        name, sep, mark = part.rpartition("=")
        if sep and name:
            found[_unescape(name)] = mark
    return found


def format_marks(found: Mapping[str, str]) -> str:
    """``precision=accepted;recall=patience``: one short field every store keeps as a string.

    Metric names are user data: ``\\``, ``;`` and ``=`` in them are escaped with a backslash.
    """
    return ";".join(f"{_escape(name)}={mark}" for name, mark in sorted(found.items()))


def _escape(name: str) -> str:
    return name.replace("\\", "\\\\").replace(";", "\\;").replace("=", "\\=")


def _unescape(text: str) -> str:
    out, escaped = [], False
    for char in text:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out.append(char)
    return "".join(out)


def _split(raw: str) -> list[str]:
    """Split on unescaped ``;``, keeping escapes for ``_unescape``; the last ``=`` is found unescaped."""
    parts, current, escaped = [], [], False
    for char in raw:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char == ";":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts
