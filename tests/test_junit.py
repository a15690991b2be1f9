"""The JUnit file with the gate, validated against the schema Jenkins uses (tests/schemas/junit-10.xsd, from
the Jenkins xUnit plugin, MIT licence; see the comment at the top of that file) with lxml."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).parent / "schemas" / "junit-10.xsd")))

CONFIG = """
    [tool.metricgate]
    history = "history.jsonl"
    [tool.metricgate.metrics.accuracy]
    min = 0.88
    [tool.metricgate.metrics.recall]
    min = 0.80
    max-drop = 0.02
    [tool.metricgate.metrics.latency_ms]
    direction = "lower"
    max = 50
    severity = "warning"
    [tool.metricgate.metrics."a <b>, c: 100%"]
    min = 0.5
"""
HOSTILE = "a <b>, c: 100%"


@pytest.fixture
def junit_project(any_runner_project):
    project = any_runner_project
    project.config(CONFIG)
    project.history_of(
        "history.jsonl",
        accuracy=[0.90, 0.87, 0.87],
        recall=[0.85, 0.86, 0.85],
        latency_ms=[40, 41, 42],
        **{HOSTILE: [0.9, 0.9, 0.9]},
    )
    project.records({"accuracy": 0.86, "recall": 0.85, "latency_ms": 55, HOSTILE: 0.9, "ungated": 1.0})
    # A failing ordinary test too, so pytest's own failure sits next to the gate's in one suite.
    project.file("test_other.py", "def test_fails():\n    assert False\n\ndef test_passes():\n    pass\n")
    return project


def _metric_cases(suite):
    return {
        case.get("name"): case for case in suite.iter("testcase") if case.get("classname") == "metricgate"
    }


def test_junit_with_the_gate_is_valid_against_jenkins_junit_10_xsd(junit_project):
    junit_project.run("--junitxml=out/junit.xml")
    document = etree.parse(str(junit_project.path / "out/junit.xml"))
    assert SCHEMA.validate(document), SCHEMA.error_log
    assert sorted(_metric_cases(document)) == sorted(["accuracy", "recall", "latency_ms", HOSTILE])


def test_junit_failure_message_carries_value_limit_and_baseline(junit_project):
    junit_project.run("--junitxml=out/junit.xml")
    cases = _metric_cases(etree.parse(str(junit_project.path / "out/junit.xml")))
    failure = cases["accuracy"].find("failure")
    # baseline: the median of 0.90, 0.87, 0.87 is 0.87
    assert failure.get("message") == "accuracy 0.860 below min 0.88 (baseline 0.870)"
    assert failure.get("type") == "metricgate.fail"
    assert failure.text == "below min 0.88"
    assert [child.tag for child in cases["recall"]] == []  # a pass is a plain passing test case


def test_junit_warn_is_a_skipped_case_with_its_message_and_the_counts_agree(junit_project):
    junit_project.run("--junitxml=out/junit.xml")
    suite = etree.parse(str(junit_project.path / "out/junit.xml")).getroot().find("testsuite")
    skipped = _metric_cases(suite)["latency_ms"].find("skipped")
    # baseline: the median of 40, 41, 42
    assert skipped.get("message") == "latency_ms 55 above max 50 (baseline 41)"
    assert skipped.get("type") == "metricgate.warn"
    cases = list(suite.iter("testcase"))
    counted = {
        "tests": len(cases),
        "failures": sum(case.find("failure") is not None for case in cases),
        "errors": sum(case.find("error") is not None for case in cases),
        "skipped": sum(case.find("skipped") is not None for case in cases),
    }
    # 3 tests (test_record, test_fails, test_passes) + 4 gated metrics; test_fails and accuracy fail.
    assert counted == {"tests": 7, "failures": 2, "errors": 0, "skipped": 1}
    assert {name: int(suite.get(name)) for name in counted} == counted


def test_junit_details_are_suite_properties_and_never_on_a_test_case(junit_project):
    junit_project.run("--junitxml=out/junit.xml")
    suite = etree.parse(str(junit_project.path / "out/junit.xml")).getroot().find("testsuite")
    assert all(case.find("properties") is None for case in suite.iter("testcase"))
    properties = {p.get("name"): p.get("value") for p in suite.find("properties").iter("property")}
    assert {k: v for k, v in properties.items() if k.startswith("metricgate.accuracy.")} == {
        "metricgate.accuracy.value": "0.860",
        "metricgate.accuracy.baseline": "0.870",
        "metricgate.accuracy.baseline_method": "median 0.870 of last 3",
        "metricgate.accuracy.limits": "min 0.88",
        "metricgate.accuracy.verdict": "fail",
        "metricgate.accuracy.severity": "error",
    }
    assert properties[f"metricgate.{HOSTILE}.verdict"] == "pass"


def test_junit_suite_properties_join_those_the_tests_recorded(project):
    project.config(CONFIG)
    project.records({"accuracy": 0.9, "recall": 0.9, "latency_ms": 10, HOSTILE: 0.9})
    project.file(
        "test_prop.py",
        "def test_prop(record_testsuite_property):\n    record_testsuite_property('model', 'v2')\n",
    )
    project.run("--junitxml=out/junit.xml")
    document = etree.parse(str(project.path / "out/junit.xml"))
    assert SCHEMA.validate(document), SCHEMA.error_log
    suite = document.getroot().find("testsuite")
    assert len(suite.findall("properties")) == 1
    names = [p.get("name") for p in suite.find("properties")]
    assert names[0] == "model" and "metricgate.accuracy.value" in names


def test_under_xunit1_the_gate_adds_nothing_the_schema_rejects(junit_project):
    junit_project.run("--junitxml=out/junit.xml", "-o", "junit_family=xunit1")
    document = etree.parse(str(junit_project.path / "out/junit.xml"))
    assert not SCHEMA.validate(document)
    rejected = {(error.message) for error in SCHEMA.error_log}
    # pytest itself writes file and line on its own test cases under xunit1; the gate's cases have neither.
    assert rejected <= {
        "Element 'testcase', attribute 'file': The attribute 'file' is not allowed.",
        "Element 'testcase', attribute 'line': The attribute 'line' is not allowed.",
    }, rejected
    for case in document.getroot().iter("testcase"):
        case.attrib.pop("file", None)
        case.attrib.pop("line", None)
    assert SCHEMA.validate(document), SCHEMA.error_log


def test_junit_failure_with_confidence_leads_with_the_conclusive_reason(project):
    project.config("""
        [tool.metricgate]
        history = "history.jsonl"
        # One test at a time, each at its own 95%: the intervals below are plain Wilson 95% ones.
        family-wise = false
        [tool.metricgate.metrics.accuracy]
        min = 0.88
        max-drop = 0.03
        confidence = 0.95
        kind = "proportion"
    """)
    project.history_of("history.jsonl", accuracy=[0.95] * 5)
    project.records({"accuracy": (0.87, 400)})
    project.run("--junitxml=out/junit.xml")
    failure = _metric_cases(etree.parse(str(project.path / "out/junit.xml")))["accuracy"].find("failure")
    # Wilson 95% for 348/400: 0.83349-0.89947 (scipy.stats.binomtest(348, 400).proportion_ci('wilson')).
    # min 0.88 lies inside it (inconclusive); max-drop: even 0.8995 is 0.0505 below 0.95 (> 0.03).
    assert failure.get("message") == (
        "accuracy 0.870 drop 0.080 > max-drop 0.03 vs median 0.950 of last 5 \u2014 even the upper end "
        "0.8995 of 0.8335\u20130.8995 at n=400, Wilson 95% breaches (baseline 0.950)"
    )
    assert failure.text.splitlines()[0].startswith("inconclusive: 0.870")
