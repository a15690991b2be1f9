"""Gate the model's input beside the model: drift and missing values are metrics like accuracy."""

from __future__ import annotations

import numpy as np
from data import current_income, current_segments, reference_income, reference_segments

from pytest_metricgate import quality


def test_income_drift_and_missing_values(metric_gate):
    reference, current = reference_income(), current_income()
    metric_gate.record("income.missing_rate", quality.missing_rate(current))
    # records income.psi and income.ks (the Kolmogorov-Smirnov statistic D) in one call
    metric_gate.record_drift("income", reference, current[~np.isnan(current)])


def test_segment_mix(metric_gate):
    metric_gate.record("segment.psi", quality.category_psi(reference_segments(), current_segments()))


def test_model_accuracy(metric_gate):
    # stands in for the model evaluation of examples/model-evaluation
    metric_gate.record("accuracy", 0.904, n=5000)
