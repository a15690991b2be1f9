"""False alarms and detection of ``metric_gate.check_data`` on real data, seeded.

Run it from the repository's root with the benchmark extra installed (``pip install -e '.[test]'``
brings scikit-learn, whose bundled breast-cancer data needs no network)::

    python benchmarks/drift.py            # 1,000 splits; a Markdown table; exit status 1 when a target is missed
    python benchmarks/drift.py --splits 200

Each split puts a random half of the 569 rows of the 30 numeric features in
the reference and the other half in the current sample. The targets (from
the project's data-drift issue):

1. **No drift**: at most 1% of splits flag any column at the default
   settings, and the upper end of that rate's 95% Wilson interval is at most
   1.5%.
2. **One feature shifted by 0.5 of its standard deviation** in the current
   half (feature ``split mod 30``, so every feature takes its turn): that
   feature is flagged in at least 95% of splits, and the dataset's drift share
   rises.

Beside them it prints what a fixed PSI > 0.1 rule flags on the same splits
and, when the ``evidently`` package can be imported here, what Evidently's
default data-drift preset reports on the same splits (Evidently is never a
dependency of this project).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pytest_metricgate import datacheck, quality
from pytest_metricgate.stats import wilson_interval

SEED = 20261125
SHIFT_SD = 0.5


@dataclass(frozen=True)
class Split:
    reference: dict[str, np.ndarray]
    current: dict[str, np.ndarray]
    shifted: dict[str, np.ndarray]
    feature: str


def breast_cancer() -> tuple[np.ndarray, list[str]]:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    return np.asarray(data.data, dtype=np.float64), [str(name) for name in data.feature_names]


def splits(count: int, seed: int) -> list[Split]:
    values, names = breast_cancer()
    sd = values.std(axis=0, ddof=1)
    rng = np.random.default_rng(seed)
    made = []
    half = values.shape[0] // 2
    for index in range(count):
        order = rng.permutation(values.shape[0])
        reference, current = values[order[:half]], values[order[half:]]
        column = index % len(names)
        shifted = current.copy()
        shifted[:, column] += SHIFT_SD * sd[column]
        made.append(
            Split(
                reference={name: reference[:, j] for j, name in enumerate(names)},
                current={name: current[:, j] for j, name in enumerate(names)},
                shifted={name: shifted[:, j] for j, name in enumerate(names)},
                feature=names[column],
            )
        )
    return made


def rate(hits: int, total: int) -> str:
    low, high = wilson_interval(hits / total, total, 0.95)
    return f"{hits / total * 100:.2f}% ({hits}/{total}; 95% CI {low * 100:.2f}-{high * 100:.2f}%)"


def evidently_runner() -> tuple[object | None, str]:
    """Evidently's default data-drift preset as a function of two DataFrames, or why it cannot run here."""
    try:
        import pandas as pd
        from evidently import Report
        from evidently.presets import DataDriftPreset
    except ImportError as exc:  # not installed, or installed but broken against this pandas
        return None, f"not importable here ({type(exc).__name__}: {exc})"
    import evidently

    def run(reference: dict[str, np.ndarray], current: dict[str, np.ndarray]) -> tuple[int, bool]:
        snapshot = Report([DataDriftPreset()]).run(
            reference_data=pd.DataFrame(reference), current_data=pd.DataFrame(current)
        )
        drifted_columns = 0
        dataset_drift = False
        for metric in snapshot.dict()["metrics"]:
            name = str(metric.get("metric_name", ""))
            value = metric.get("value")
            if name.startswith("DriftedColumnsCount"):
                drifted_columns = int(value["count"])
                dataset_drift = float(value["share"]) >= 0.5
        return drifted_columns, dataset_drift

    return run, f"evidently {evidently.__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--splits", type=int, default=1000)
    parser.add_argument("--evidently-splits", type=int, default=None, help="default: all splits")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    made = splits(args.splits, SEED)

    any_flag = shift_hit = 0
    psi_one = psi_any = 0
    share_clean: list[float] = []
    share_shifted: list[float] = []
    per_feature: dict[str, list[bool]] = {}
    check_seconds = 0.0
    for split in made:
        tick = time.perf_counter()
        clean = datacheck.check(split.reference, split.current)
        shifted = datacheck.check(split.reference, split.shifted)
        check_seconds += time.perf_counter() - tick
        any_flag += bool(clean.drifted)
        share_clean.append(clean.drift_share)
        share_shifted.append(shifted.drift_share)
        hit = any(column.name == split.feature and column.drifted for column in shifted.columns)
        shift_hit += hit
        per_feature.setdefault(split.feature, []).append(hit)
        first = next(iter(split.reference))
        psis = [quality.psi(split.reference[name], split.current[name]) for name in split.reference]
        psi_one += quality.psi(split.reference[first], split.current[first]) > 0.1
        psi_any += max(psis) > 0.1

    total = len(made)
    _, high_clean = wilson_interval(any_flag / total, total, 0.95)
    worst_feature = min(per_feature, key=lambda name: sum(per_feature[name]) / len(per_feature[name]))
    worst = per_feature[worst_feature]
    met_clean = any_flag / total <= 0.01 and high_clean <= 0.015
    met_shift = shift_hit / total >= 0.95 and float(np.mean(share_shifted)) > float(np.mean(share_clean))

    print(
        f"Machine: {platform.python_implementation()} {platform.python_version()}, numpy {np.__version__}; "
        f"seed {SEED}; {total} splits of scikit-learn's breast-cancer data (569 rows, 30 numeric features) "
        f"into {len(made[0].reference[first])} reference and {len(made[0].current[first])} current rows; "
        f"check_data defaults (family-wise level {datacheck.DEFAULT_ALPHA})."
    )
    print()
    print("| scenario | measured | target | |")
    print("|---|---|--:|---|")
    print(
        f"| no drift: splits flagging any column | {rate(any_flag, total)} | <= 1%, upper <= 1.5% | "
        f"{'met' if met_clean else 'MISSED'} |"
    )
    print(
        f"| one feature +{SHIFT_SD} sd: that feature flagged | {rate(shift_hit, total)} | >= 95% | "
        f"{'met' if met_shift else 'MISSED'} |"
    )
    print(f"|    hardest feature ({worst_feature}) | {rate(sum(worst), len(worst))} |  |  |")
    print(
        f"| mean drift_share, no drift vs shifted | {np.mean(share_clean):.4f} vs {np.mean(share_shifted):.4f} | rises | "
        f"{'met' if np.mean(share_shifted) > np.mean(share_clean) else 'MISSED'} |"
    )
    print(f"| fixed PSI > 0.1 on {first} alone, no drift | {rate(psi_one, total)} |  |  |")
    print(f"| fixed PSI > 0.1 on any of 30 features, no drift | {rate(psi_any, total)} |  |  |")

    runner, about = evidently_runner()
    if runner is None:
        print(f"| Evidently's DataDriftPreset | {about} |  |  |")
    else:
        count = min(total, args.evidently_splits or total)
        ev_any = ev_dataset = ev_hit = 0
        tick = time.perf_counter()
        for split in made[:count]:
            drifted, dataset = runner(split.reference, split.current)  # type: ignore[operator]
            ev_any += drifted > 0
            ev_dataset += dataset
        ev_seconds = time.perf_counter() - tick
        for split in made[:count]:
            drifted, _ = runner(split.reference, split.shifted)  # type: ignore[operator]
            ev_hit += drifted > 0
        print(f"| {about} DataDriftPreset, no drift: any column drifted | {rate(ev_any, count)} |  |  |")
        print(f"|    the same, dataset drift (share >= 0.5) | {rate(ev_dataset, count)} |  |  |")
        print(f"|    one feature +{SHIFT_SD} sd: any column drifted | {rate(ev_hit, count)} |  |  |")
        print(f"|    time per report | {ev_seconds / count * 1000:.0f} ms |  |  |")
    print(
        f"| check_data time per dataset (30 columns x ~285 rows) | {check_seconds / (2 * total) * 1000:.1f} ms |  |  |"
    )
    print()
    print(f"{time.perf_counter() - started:.0f} s in all.")
    return 0 if met_clean and met_shift else 1


if __name__ == "__main__":
    sys.exit(main())
