"""pytest-metricgate: fail CI when ML metrics regress.

Run ``pytest --metric-gate``; limits and history live in ``[tool.metricgate]``
of pyproject.toml. Tests record values through the ``metric_gate`` fixture,
whose type is ``MetricGate``. The drift and data-quality helpers are in
``pytest_metricgate.quality`` (imported on first use: it needs numpy).

PYTEST_DONT_REWRITE: loaded at every pytest start-up, so it skips assertion rewriting.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import quality
    from .errors import ConfigError, HistoryError, MetricGateError, ValuesFileError
    from .gate import GateResult, Verdict
    from .recording import MetricGate

# Where each public name lives; imported on first use, so a pytest start-up with
# the gate off loads nothing it does not need.
_HOMES = {
    "ConfigError": "errors",
    "HistoryError": "errors",
    "MetricGateError": "errors",
    "ValuesFileError": "errors",
    "MetricGate": "recording",
    "GateResult": "gate",  # the types the pytest_metricgate_result hook receives
    "Verdict": "gate",
}

__all__ = [
    "ConfigError",
    "GateResult",
    "HistoryError",
    "MetricGate",
    "MetricGateError",
    "ValuesFileError",
    "Verdict",
    "quality",
]


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    # numpy stays unimported until someone asks for the quality helpers.
    if name == "quality":
        # import_module, not "from . import quality": that form looks the
        # attribute up on this package first and would land back here.
        return importlib.import_module(f"{__name__}.quality")
    raise AttributeError(f"module 'pytest_metricgate' has no attribute {name!r}")
