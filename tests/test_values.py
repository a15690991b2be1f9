"""This run's metrics file: flattening, values with n, and the messages for bad files."""

from __future__ import annotations

import json

import pytest

from pytest_metricgate.errors import ValuesFileError
from pytest_metricgate.recording import MetricGate, Recorded, merge
from pytest_metricgate.values import Measurement, read_current_file


def current(tmp_path, data, gated=frozenset()):
    path = tmp_path / "metrics.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return read_current_file(path, "metrics.json", frozenset(gated))


def test_nested_objects_flatten_to_dotted_names_and_value_n_objects_are_values(tmp_path):
    data = {
        "accuracy": 0.91,
        "eval": {"recall": {"value": 0.8, "n": 300}, "slices": {"eu": 0.7}},
        "epoch": 12,
        "model": "resnet",
        "confusion": [[1, 2], [3, 4]],
        "flag": True,
    }
    assert current(tmp_path, data) == {
        "accuracy": Measurement(0.91),
        "eval.recall": Measurement(0.8, 300),
        "eval.slices.eu": Measurement(0.7),
        "epoch": Measurement(12.0),
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            "{",
            "metrics.json: line 1: current metrics file is not valid JSON: Expecting property name enclosed in double quotes",
        ),
        ("[0.9]", "metrics.json: current metrics file must hold a JSON object of metrics, found list [0.9]"),
        ('"0.9"', 'metrics.json: current metrics file must hold a JSON object of metrics, found str "0.9"'),
        (
            {"accuracy": "high"},
            'metrics.json: metric "accuracy" must be a number or {"value": number, "n": integer}, got "high"',
        ),
        (
            {"accuracy": {"value": 0.9, "n": 2.5}},
            'metrics.json: metric "accuracy" "n" must be an integer >= 1, got 2.5',
        ),
    ],
)
def test_a_bad_current_file_is_named(tmp_path, data, message):
    with pytest.raises(ValuesFileError) as error:
        current(tmp_path, data, gated={"accuracy"})
    assert str(error.value) == message


def test_a_missing_current_file_is_an_error(tmp_path):
    with pytest.raises(ValuesFileError, match="^m.json: current metrics file not found$"):
        read_current_file(tmp_path / "m.json", "m.json", frozenset())


@pytest.mark.parametrize(
    ("name", "value", "n", "error", "message"),
    [
        ("acc", "0.9", None, TypeError, "metric_gate.record('acc'): value must be a number, got str '0.9'"),
        (
            "acc",
            None,
            None,
            TypeError,
            "metric_gate.record('acc'): value must be a number, got NoneType None",
        ),
        ("acc", True, None, TypeError, "metric_gate.record('acc'): value must be a number, got bool True"),
        ("acc", 0.9, 0, TypeError, "metric_gate.record('acc'): n must be an integer >= 1, got 0"),
        ("acc", 0.9, 10.0, TypeError, "metric_gate.record('acc'): n must be an integer >= 1, got 10.0"),
        ("", 0.9, None, ValueError, "metric_gate.record: metric name must not be empty, got ''"),
        ("  ", 0.9, None, ValueError, "metric_gate.record: metric name must not be empty, got '  '"),
        (3, 0.9, None, TypeError, "metric_gate.record: metric name must be a string, got int 3"),
    ],
)
def test_record_rejects_bad_names_and_values(name, value, n, error, message):
    sink: list[Recorded] = []
    with pytest.raises(error) as raised:
        MetricGate(sink, "t.py::test").record(name, value, n=n)
    assert str(raised.value) == message
    assert sink == []


def test_record_accepts_numpy_numbers_nan_and_inf():
    import numpy as np

    sink: list[Recorded] = []
    gate = MetricGate(sink, "t.py::test")
    gate.record("a", np.float32(0.5), n=np.int64(10))
    gate.record("b", float("nan"))
    gate.record("c", 3)
    assert next((r.name, r.value, r.n) for r in sink) == ("a", 0.5, 10)
    assert sink[1].value != sink[1].value
    assert type(sink[2].value) is float


def test_merge_reports_every_test_that_recorded_a_name():
    records = [
        Recorded("a", 1.0, None, "t::two"),
        Recorded("a", 2.0, None, "t::one"),
        Recorded("b", 3.0, 5, "t::one"),
    ]
    values, sources, conflicts = merge(records)
    assert values["b"] == Measurement(3.0, 5)
    assert sources["b"] == "t::one"
    assert conflicts == {"a": ("t::one", "t::two")}


def test_record_drift_records_psi_and_the_ks_statistic():
    from pytest_metricgate import quality

    sink: list[Recorded] = []
    reference, current = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    MetricGate(sink, "t.py::test").record_drift("income", reference, current, bins=3)
    assert [(r.name, r.value) for r in sink] == [
        ("income.psi", quality.psi(reference, current, bins=3)),
        ("income.ks", 0.5),  # the two empirical CDFs differ by at most 3/6, between 3 and 4
    ]
