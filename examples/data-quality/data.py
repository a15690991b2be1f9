"""Reference and current samples of one input feature, generated with fixed seeds.

The reference is what the model was trained on; the current sample is this
week's traffic, whose income distribution drifted upwards and which lost
some values upstream. Replace these with reads of your own feature store.
"""

from __future__ import annotations

import numpy as np

SEED = 20261125


def reference_income() -> np.ndarray:
    rng = np.random.default_rng(SEED)
    return rng.lognormal(mean=10.5, sigma=0.5, size=5000)


def current_income() -> np.ndarray:
    rng = np.random.default_rng(SEED + 1)
    income = rng.lognormal(mean=10.75, sigma=0.55, size=5000)  # drifted: higher and wider
    income[rng.random(income.size) < 0.02] = np.nan  # 2% lost upstream
    return income


def current_segments() -> list[str]:
    rng = np.random.default_rng(SEED + 2)
    return list(rng.choice(["retail", "business", "student"], size=5000, p=[0.6, 0.25, 0.15]))


def reference_segments() -> list[str]:
    rng = np.random.default_rng(SEED + 3)
    return list(rng.choice(["retail", "business", "student"], size=5000, p=[0.6, 0.3, 0.1]))
