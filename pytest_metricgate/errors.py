"""The errors the gate raises for mistakes in what the user owns.

Every message names the file, the key or line, what was expected and what was
found. The pytest plugin turns each of them into a usage error (exit status 4)
without a traceback; code that uses the modules directly can catch
``MetricGateError``.

PYTEST_DONT_REWRITE: loaded at every pytest start-up, so it skips assertion rewriting.
"""

from __future__ import annotations

__all__ = ["ConfigError", "HistoryError", "MetricGateError", "ValuesFileError"]


class MetricGateError(Exception):
    """A mistake in the user's configuration or data, with a message ready to print."""


class ConfigError(MetricGateError):
    """``[tool.metricgate]`` is malformed or names something that cannot be used."""


class HistoryError(MetricGateError):
    """A history file cannot be read or holds a malformed run."""


class ValuesFileError(MetricGateError):
    """The ``current`` metrics file is missing or malformed."""
