"""The model's evaluation records its metrics; `pytest --metric-gate` judges them."""

from __future__ import annotations

import numpy as np
import pytest
from model import SEED, evaluate, make_data, train

EVALUATION_SIZE = 2000


@pytest.fixture(scope="module")
def evaluation() -> dict[str, float]:
    features, labels = make_data(5000, seed=SEED)
    weights = train(features, labels)
    held_out_features, held_out_labels = make_data(EVALUATION_SIZE, seed=SEED + 1)
    return evaluate(weights, held_out_features, held_out_labels)


def test_model_beats_chance(evaluation):
    assert evaluation["accuracy"] > 0.5


def test_record_classification_metrics(evaluation, metric_gate):
    # n is the evaluation set's size: the gate keeps it with each value.
    for name in ("accuracy", "precision", "recall"):
        metric_gate.record(name, evaluation[name], n=EVALUATION_SIZE)


def test_record_log_loss(evaluation, metric_gate):
    assert np.isfinite(evaluation["log_loss"])
    metric_gate.record("log_loss", evaluation["log_loss"])
