"""Metric names are user data: whatever they are, the report stays inside its directory."""

from __future__ import annotations

HOSTILE = ["../../etc/x", "a/b", "a_b", "C:\\x", "<img src=x onerror=alert(1)>", "...", "/", "overview"]


def test_hostile_metric_names_never_write_outside_or_overwrite_each_other(project):
    project.config("[tool.metricgate]")
    project.records({name: float(index) for index, name in enumerate(HOSTILE)})
    result = project.run()
    assert result.ret == 0
    report = project.path / "metricgate-report"
    summary = project.summary()
    charts = {m["name"]: m["chart"] for m in summary["metrics"]}
    assert set(charts) == set(HOSTILE)
    assert len(set(charts.values())) == len(HOSTILE)  # no two metrics share a file
    for name, chart in charts.items():
        path = report / chart
        assert path.parent == report and path.is_file(), (name, chart)
    # nothing was written beside the project's own files
    assert sorted(p.name for p in project.path.iterdir()) == [
        "metricgate-report",
        "pyproject.toml",
        "test_metrics.py",
    ]
    assert (
        (report / "overview.png").read_bytes().startswith(b"\x89PNG")
    )  # the overview was not overwritten by "overview"


def test_the_next_run_removes_its_own_stale_charts_and_nothing_else(project):
    project.config("[tool.metricgate]")
    project.records({"old_metric": 1.0})
    assert project.run().ret == 0
    report = project.path / "metricgate-report"
    (report / "notes.txt").write_text("mine")
    project.records({"new_metric": 1.0})
    assert project.run().ret == 0
    assert sorted(p.name for p in report.iterdir()) == [
        ".metricgate-manifest.json",
        "index.html",
        "new_metric.png",
        "notes.txt",
        "overview.png",
        "summary.json",
        "summary.md",
    ]
