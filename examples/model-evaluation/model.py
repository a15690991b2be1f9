"""A small, deterministic model to gate: logistic regression on a synthetic data set.

It stands in for your real training and evaluation code; only numpy is needed.
"""

from __future__ import annotations

import numpy as np

SEED = 20261125


def make_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two overlapping Gaussian classes in 5 dimensions."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=n)
    centres = np.where(labels[:, None] == 1, 0.55, -0.55)
    features = rng.normal(loc=centres, scale=1.0, size=(n, 5))
    return features, labels


def train(features: np.ndarray, labels: np.ndarray, epochs: int = 300, rate: float = 0.1) -> np.ndarray:
    """Plain gradient descent on the logistic loss; returns weights with the bias last."""
    design = np.hstack([features, np.ones((len(features), 1))])
    weights = np.zeros(design.shape[1])
    for _ in range(epochs):
        predictions = 1 / (1 + np.exp(-design @ weights))
        weights -= rate * design.T @ (predictions - labels) / len(labels)
    return weights


def predict_proba(weights: np.ndarray, features: np.ndarray) -> np.ndarray:
    design = np.hstack([features, np.ones((len(features), 1))])
    return 1 / (1 + np.exp(-design @ weights))


def evaluate(weights: np.ndarray, features: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracy, precision, recall and log loss at the 0.5 threshold, and the counts each proportion
    is taken over (``predicted_positives`` for precision, ``actual_positives`` for recall)."""
    probabilities = predict_proba(weights, features)
    predicted = probabilities >= 0.5
    true_positive = np.sum(predicted & (labels == 1))
    clipped = np.clip(probabilities, 1e-12, 1 - 1e-12)
    return {
        "accuracy": float(np.mean(predicted == labels)),
        "precision": float(true_positive / max(1, np.sum(predicted))),
        "recall": float(true_positive / max(1, np.sum(labels == 1))),
        "log_loss": float(-np.mean(labels * np.log(clipped) + (1 - labels) * np.log(1 - clipped))),
        "predicted_positives": int(np.sum(predicted)),
        "actual_positives": int(np.sum(labels == 1)),
    }
