"""pytest-metricgate: fail CI when ML metrics regress.

Run ``pytest --metric-gate``; limits and history live in ``[tool.metricgate]``
of pyproject.toml. Tests record values through the ``metric_gate`` fixture,
whose type is ``MetricGate``. The drift and data-quality helpers are in
``pytest_metricgate.quality`` (imported on first use: it needs numpy).
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import ConfigError, HistoryError, MetricGateError, ValuesFileError
from .recording import MetricGate

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
    # numpy stays unimported until someone asks for the quality helpers.
    if name in ("GateResult", "Verdict"):  # the types the pytest_metricgate_result hook receives
        from . import gate

        return getattr(gate, name)
    if name == "quality":
        # import_module, not "from . import quality": that form looks the
        # attribute up on this package first and would land back here.
        return importlib.import_module(f"{__name__}.quality")
    raise AttributeError(f"module 'pytest_metricgate' has no attribute {name!r}")
