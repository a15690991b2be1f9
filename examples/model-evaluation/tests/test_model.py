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
    # n is how many examples each proportion is a fraction of, so that `confidence` gets the width of
    # its interval right: accuracy counts every example, precision only the predicted positives
    # (TP / predicted positive) and recall only the actual positives (TP / actual positive). Giving
    # precision or recall the whole set's size would make their intervals too narrow.
    metric_gate.record("accuracy", evaluation["accuracy"], n=EVALUATION_SIZE)
    metric_gate.record("precision", evaluation["precision"], n=int(evaluation["predicted_positives"]))
    metric_gate.record("recall", evaluation["recall"], n=int(evaluation["actual_positives"]))


def test_record_log_loss(evaluation, metric_gate):
    assert np.isfinite(evaluation["log_loss"])
    metric_gate.record("log_loss", evaluation["log_loss"])
