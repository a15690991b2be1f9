"""The hook pytest-metricgate adds for other plugins and conftest files.

PYTEST_DONT_REWRITE: loaded at every pytest start-up, so it skips assertion rewriting.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

    from .gate import GateResult


def pytest_metricgate_result(config: pytest.Config, result: GateResult) -> None:
    """Called once per session, in the process that judged (the xdist controller), after the gate
    judged every metric and wrote its report, whether the gate passed or failed.

    ``result.status`` is ``"passed"`` or ``"failed"``; ``result.verdicts`` holds
    one ``Verdict`` per metric (``name``, ``verdict``, ``value``, ``n``,
    ``baseline``, ``limits``, ``reasons``). Use it to publish metrics, page
    someone, or start a retraining job. What it returns is ignored.
    """
