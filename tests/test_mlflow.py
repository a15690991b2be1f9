"""Shared history on a real MLflow tracking server (127.0.0.1, sqlite backend, proxied artifacts).

One server serves the whole module; each test uses experiments of its own.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

# pytester's in-process runs drop modules first imported inside them: load MLflow's client out here.
from mlflow.tracking import MlflowClient
from mlflow_server import MlflowServer, Proxy, Silent, free_port, running

from pytest_metricgate import stores
from pytest_metricgate.config import HistorySpec, MlflowSettings
from pytest_metricgate.stores import Recording
from pytest_metricgate.stores.mlflow import metric_key
from pytest_metricgate.values import Measurement, Run

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    with running(MlflowServer(tmp_path_factory.mktemp("mlflow-server"))) as started:
        yield started


@pytest.fixture
def experiment() -> str:
    return f"gate-{uuid.uuid4().hex[:8]}"


@pytest.fixture(autouse=True)
def _no_tracking_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "MLFLOW_TRACKING_URI",
        "MLFLOW_TRACKING_TOKEN",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")


def client(uri: str) -> MlflowClient:
    return MlflowClient(tracking_uri=uri)


def runs_of(uri: str, experiment: str) -> list:
    found = client(uri).get_experiment_by_name(experiment)
    if found is None:
        return []
    return list(
        client(uri).search_runs(
            [found.experiment_id], max_results=1000, order_by=["attributes.start_time ASC"]
        )
    )


def store(uri: str, experiment: str, timeout: float = 30.0) -> stores.HistoryStore:
    settings = MlflowSettings(tracking_uri=uri, shown_uri=uri, timeout=timeout)
    return stores.open_store(
        HistorySpec(
            kind="mlflow", shown=f"mlflow:{experiment} at {uri}", experiment=experiment, server=settings
        )
    )


def gate_config(uri: str, experiment: str, extra: str = "", timeout: float | None = 120) -> str:
    # A generous default timeout: a loaded 2-core machine may be slow; the fault tests set their own.
    timing = f"timeout = {timeout}\n" if timeout is not None else ""
    return f"""
        [tool.metricgate]
        history = "mlflow:{experiment}"
        {extra}

        [tool.metricgate.mlflow]
        tracking-uri = "{uri}"
        {timing}

        [tool.metricgate.metrics.accuracy]
        min = 0.8
        max-drop = 0.02
        """


# -- end to end ---------------------------------------------------------------------


def test_three_recorded_sessions_are_the_baseline_of_a_failing_fourth(project, server, experiment):
    project.config(gate_config(server.uri, experiment))
    for accuracy in (0.90, 0.92, 0.91):
        project.records({"accuracy": (accuracy, 2000), "loss": 0.3})
        result = project.run("--metric-gate-record")
        assert result.ret == 0, result.stdout.str()
        result.stdout.fnmatch_lines([f"history: appended this run to mlflow:{experiment} at {server.uri}"])
        assert "View run" not in result.stdout.str()  # MLflow's own printing stays out of pytest's output
    project.records({"accuracy": (0.87, 2000)})
    result = project.run("--metric-gate-record")

    assert result.ret == 1
    # median of 0.90, 0.92, 0.91 is 0.91; 0.91 - 0.87 = 0.04 > 0.02
    result.stdout.fnmatch_lines(
        [
            (
                "accuracy  0.870    0.910     min 0.8, max-drop 0.02  FAIL     "
                "drop 0.040 > max-drop 0.02 vs median 0.910 of last 3"
            ),
            f"history: nothing written to mlflow:{experiment} at {server.uri}: the gate failed",
        ]
    )
    runs = runs_of(server.uri, experiment)
    assert [
        (r.info.status, r.data.metrics["accuracy"], r.data.tags["metricgate.n.accuracy"]) for r in runs
    ] == [
        ("FINISHED", 0.90, "2000"),
        ("FINISHED", 0.92, "2000"),
        ("FINISHED", 0.91, "2000"),
    ]
    assert all(r.data.tags["metricgate.recorded"] == "true" for r in runs)
    assert all(r.data.tags["metricgate.verdict"] == "pass" for r in runs)
    assert all(r.data.metrics["loss"] == 0.3 for r in runs)
    # The report directory is each run's artifacts.
    names = {item.path for item in client(server.uri).list_artifacts(runs[0].info.run_id)}
    assert {"summary.json", "index.html", "summary.md", "accuracy.png"} <= names
    # The charts of the failing session come from the server's runs too.
    summary = project.summary()
    accuracy = next(item for item in summary["metrics"] if item["name"] == "accuracy")
    assert accuracy["baseline"] == pytest.approx(0.91)


def test_recorded_runs_carry_commit_branch_label_and_ci_link(project, server, experiment, monkeypatch):
    monkeypatch.setenv("GITHUB_SHA", "0123abcd")
    monkeypatch.setenv("GITHUB_REF_NAME", "main")
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.example")
    monkeypatch.setenv("GITHUB_REPOSITORY", "team/model")
    monkeypatch.setenv("GITHUB_RUN_ID", "77")
    monkeypatch.setenv("METRICGATE_RUN_LABEL", "nightly-42")
    project.config(gate_config(server.uri, experiment))
    project.records({"accuracy": 0.9})
    assert project.run("--metric-gate-record").ret == 0
    (run,) = runs_of(server.uri, experiment)
    assert run.info.run_name == "nightly-42"
    assert (
        run.data.tags.items()
        >= {
            "metricgate.commit": "0123abcd",
            "mlflow.source.git.commit": "0123abcd",
            "metricgate.branch": "main",
            "metricgate.run": "nightly-42",
            "metricgate.ci_url": "https://github.example/team/model/actions/runs/77",
            "metricgate.recorded": "true",
        }.items()
    )


def test_a_feature_branch_is_judged_against_main_runs_only(project, server, experiment, monkeypatch):
    # baseline = "last": against main's 0.90 the 0.92 below passes; against the feature run's 0.95 it
    # would fail (drop 0.03 > 0.02), so the verdict shows which runs the server's history gave.
    project.config(gate_config(server.uri, experiment, extra='baseline = "last"\nbaseline-branch = "main"'))
    monkeypatch.setenv("GITHUB_REF_NAME", "main")
    project.records({"accuracy": 0.90})
    assert project.run("--metric-gate-record").ret == 0
    monkeypatch.setenv("GITHUB_REF_NAME", "feat/x")
    project.records({"accuracy": 0.95})
    assert project.run("--metric-gate-record").ret == 0
    project.records({"accuracy": 0.92})
    result = project.run()
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["accuracy  0.920    0.900 *pass*"])
    branches = sorted(run.data.tags["metricgate.extra.branch"] for run in runs_of(server.uri, experiment))
    assert branches == ["feat/x", "main"]


def test_require_history_with_a_missing_experiment_is_one_error_line(project, server, experiment):
    project.config(gate_config(server.uri, experiment, extra="require-history = true"))
    project.records({"accuracy": 0.9})
    result = project.run("--metric-gate-record")
    assert result.ret == 4
    assert result.stderr.lines[0] == (
        f"ERROR: mlflow:{experiment} at {server.uri}: require-history is on, but the history does not "
        "exist; expected at least 5 runs (the window); restore it (a CI cache miss?) or record a first "
        "history without require-history"
    )
    assert runs_of(server.uri, experiment) == []


def test_names_that_are_not_mlflow_keys_and_n_round_trip_through_the_server(server, experiment):
    names = ["a|b", "точность", "x" * 300, "plain.name/with:colon"]
    run = Run(
        {name: Measurement(0.5 + index / 10, 100 + index) for index, name in enumerate(names)},
        run="r1",
        timestamp="2026-11-20T10:00:00+00:00",
        commit="c1",
        extra={"branch": "dev"},
    )
    history = store(server.uri, experiment)
    history.append(run, Recording())
    (read,) = history.read(limit=5, gated=frozenset()).runs
    assert read.metrics == run.metrics
    assert (read.run, read.timestamp, read.commit, read.extra, read.label) == (
        "r1",
        "2026-11-20T10:00:00+00:00",
        "c1",
        {"branch": "dev"},
        "r1",
    )
    stored = runs_of(server.uri, experiment)[0].data
    # A valid key is kept as it is; "a|b" and the 300-character name get a hashed key and a name tag.
    assert "plain.name/with:colon" in stored.metrics
    assert stored.tags[f"metricgate.name.{metric_key('a|b')}"] == "a|b"
    assert re.fullmatch(r"mg-[0-9a-f]{16}", metric_key("x" * 300))


def test_reading_asks_only_for_the_newest_runs_and_skips_unrecorded_and_unfinished_ones(server, experiment):
    history = store(server.uri, experiment)
    for index in range(6):
        history.append(
            Run({"acc": Measurement(index / 10)}, timestamp=f"2026-11-0{index + 1}T00:00:00+00:00"),
            Recording(),
        )
    mlflow = client(server.uri)
    experiment_id = mlflow.get_experiment_by_name(experiment).experiment_id
    mlflow.create_run(experiment_id, start_time=int(time.time() * 1000), tags={"metricgate.recorded": "true"})
    other = mlflow.create_run(experiment_id, start_time=int(time.time() * 1000))
    mlflow.log_metric(other.info.run_id, "acc", 9.0)
    mlflow.set_terminated(other.info.run_id, "FINISHED")

    tail = history.read(limit=3, gated=frozenset({"acc"}))
    assert [run.metrics["acc"].value for run in tail.runs] == [0.3, 0.4, 0.5]
    assert tail.older_runs_left_out


def test_a_filter_reads_the_pipelines_own_runs(project, server, experiment):
    mlflow = client(server.uri)
    experiment_id = mlflow.create_experiment(experiment)
    for index, accuracy in enumerate((0.90, 0.91, 0.95)):
        run = mlflow.create_run(
            experiment_id, start_time=1_700_000_000_000 + index, run_name=f"train-{index}"
        )
        mlflow.set_tag(run.info.run_id, "stage", "eval" if index < 2 else "debug")
        mlflow.log_metric(run.info.run_id, "accuracy", accuracy)
        mlflow.set_terminated(run.info.run_id, "FINISHED")
    project.config(
        gate_config(server.uri, experiment).replace(
            "[tool.metricgate.mlflow]", "[tool.metricgate.mlflow]\nfilter = \"tags.stage = 'eval'\""
        )
    )
    project.records({"accuracy": 0.90})
    result = project.run()
    assert result.ret == 0, result.stdout.str()
    # mean(0.90, 0.91) = 0.905: the debug run (0.95) is not history.
    result.stdout.fnmatch_lines(["accuracy  0.900    0.905     min 0.8, max-drop 0.02  pass*"])


def test_an_invalid_filter_is_one_error_line(project, server, experiment):
    client(server.uri).create_experiment(experiment)
    project.config(
        gate_config(server.uri, experiment).replace(
            "[tool.metricgate.mlflow]", '[tool.metricgate.mlflow]\nfilter = "stage ==== 1"'
        )
    )
    project.records({"accuracy": 0.90})
    result = project.run()
    assert result.ret == 4
    assert re.fullmatch(
        rf"ERROR: mlflow:{experiment} at {re.escape(server.uri)}: \[tool.metricgate.mlflow\] filter is not a valid "
        r"MLflow search filter: .+",
        result.stderr.lines[0],
    )


def test_the_pipelines_own_run_gives_the_values_and_is_marked_recorded(project, server, experiment):
    mlflow = client(server.uri)
    experiment_id = mlflow.create_experiment(experiment)
    run = mlflow.create_run(experiment_id)
    mlflow.log_metric(run.info.run_id, "accuracy", 0.93)
    mlflow.set_terminated(run.info.run_id, "FINISHED")
    project.config(gate_config(server.uri, experiment))
    project.file("test_nothing.py", "def test_nothing():\n    pass\n")
    result = project.run("--metric-gate-current", f"mlflow:runs/{run.info.run_id}", "--metric-gate-record")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            f"history: marked mlflow:runs/{run.info.run_id} as recorded in mlflow:{experiment} at {server.uri}",
        ]
    )
    (stored,) = runs_of(server.uri, experiment)  # no second run
    assert stored.data.tags["metricgate.recorded"] == "true"
    assert project.summary()["metrics"][0]["source"] == f"MLflow run mlflow:runs/{run.info.run_id}"
    # The next session's history is that run.
    project.records({"accuracy": 0.93})
    project.run().stdout.fnmatch_lines(["accuracy  0.930    0.930 *"])


def test_an_unknown_current_run_is_one_error_line(project, server, experiment):
    project.config(gate_config(server.uri, experiment))
    project.records({"accuracy": 0.9})
    result = project.run("--metric-gate-current", "mlflow:runs/0123456789abcdef")
    assert result.ret == 4
    assert result.stderr.lines[0] == f"ERROR: mlflow:runs/0123456789abcdef: no such run on {server.uri}"


def test_the_champion_models_run_is_the_baseline(project, server, experiment):
    mlflow = client(server.uri)
    experiment_id = mlflow.create_experiment(experiment)
    for accuracy in (0.80, 0.81, 0.82):  # a weak history: the champion, not the history, is the baseline
        store(server.uri, experiment).append(Run({"accuracy": Measurement(accuracy)}), Recording())
    champion = mlflow.create_run(experiment_id)
    mlflow.log_metric(champion.info.run_id, "accuracy", 0.95)
    mlflow.set_terminated(champion.info.run_id, "FINISHED")
    model = f"model-{experiment}"
    mlflow.create_registered_model(model)
    version = mlflow.create_model_version(
        model, f"runs:/{champion.info.run_id}/model", run_id=champion.info.run_id
    )
    mlflow.set_registered_model_alias(model, "champion", version.version)
    project.config(gate_config(server.uri, experiment, extra=f'baseline-model = "models:/{model}@champion"'))
    project.records({"accuracy": 0.90})

    result = project.run()

    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "accuracy  0.900    0.950     min 0.8, max-drop 0.02  FAIL     drop 0.050 > max-drop 0.02 vs last run 0.950",
            f"baseline: the champion model models:/{model}@champion (version 1, run {champion.info.run_id})",
        ]
    )


def test_a_champion_alias_that_does_not_exist_yet_is_a_first_run(project, server, experiment):
    project.config(gate_config(server.uri, experiment, extra='baseline-model = "models:/nobody@champion"'))
    project.records({"accuracy": 0.90})
    result = project.run()
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["first run: models:/nobody@champion does not exist yet, so there is no baseline"]
    )


# -- moving a history -----------------------------------------------------------------


def copy(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_metricgate", "history", "copy", *args],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_history_copy_round_trips_a_jsonl_file_through_mlflow_byte_for_byte(tmp_path, server, experiment):
    original = tmp_path / "history.jsonl"
    original.write_text(
        '{"run": "r1", "timestamp": "2026-11-01T00:00:00+00:00", "commit": "a1", "metrics": {"acc": {"value": 0.9, "n": 2000}, "a|b": 1.5}}\n'
        '{"run": null, "timestamp": "2026-11-02T00:00:00+00:00", "commit": null, "metrics": {"acc": 0.91}}\n'
        '{"run": "r3", "timestamp": "2026-11-03T00:00:00+00:00", "commit": "c3", "branch": "dev", "metrics": {"acc": 0.92}}\n'
    )
    env = {"MLFLOW_TRACKING_URI": server.uri}
    first = copy(str(original), f"mlflow:{experiment}", env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        f"history copy: 3 runs copied from {original} to mlflow:{experiment} at {server.uri} (0 already there)"
    ]
    again = copy(str(original), f"mlflow:{experiment}", env=env)
    assert again.stdout.splitlines() == [
        f"history copy: 0 runs copied from {original} to mlflow:{experiment} at {server.uri} (3 already there)"
    ]
    assert len(runs_of(server.uri, experiment)) == 3

    back = tmp_path / "back.jsonl"
    assert copy(f"mlflow:{experiment}", str(back), env=env).returncode == 0
    assert back.read_bytes() == original.read_bytes()
    copy(f"mlflow:{experiment}", str(back), env=env)  # idempotent the other way too
    assert back.read_bytes() == original.read_bytes()


def test_history_copy_of_the_weekly_example_keeps_its_week_labels(tmp_path, server, experiment):
    source = ROOT / "examples" / "weekly-monitoring" / "history.csv"
    result = copy(str(source), f"mlflow:{experiment}", env={"MLFLOW_TRACKING_URI": server.uri})
    assert result.returncode == 0, result.stderr
    rows = source.read_text().splitlines()[1:]
    runs = runs_of(server.uri, experiment)
    assert len(runs) == len([row for row in rows if row.strip()])
    assert [run.info.run_name for run in runs] == [row.split(",")[0] for row in rows if row.strip()]


def test_history_copy_mistakes_are_one_line_with_exit_status_4(tmp_path):
    result = copy(str(tmp_path / "absent.jsonl"), str(tmp_path / "out.jsonl"))
    assert (result.returncode, result.stderr) == (
        4,
        f"ERROR: {tmp_path / 'absent.jsonl'}: history not found\n",
    )
    result = copy(str(tmp_path / "a.txt"), str(tmp_path / "out.jsonl"))
    assert (result.returncode, result.stderr) == (
        4,
        f'ERROR: history copy: SRC must name a .jsonl or .csv file or mlflow:EXPERIMENT, got "{tmp_path / "a.txt"}"\n',
    )
    result = copy(str(tmp_path / "a.jsonl"), "mlflow:x", env={"MLFLOW_TRACKING_URI": ""})
    assert (result.returncode, result.stderr) == (
        4,
        (
            "ERROR: history copy: mlflow:x needs a tracking server: set the MLFLOW_TRACKING_URI environment "
            "variable or pass --tracking-uri\n"
        ),
    )


# -- configuration mistakes ---------------------------------------------------------------------


def test_an_mlflow_history_without_a_tracking_server_is_a_usage_error(project):
    project.config(
        """
        [tool.metricgate]
        history = "mlflow:gate"
        [tool.metricgate.metrics.accuracy]
        min = 0.8
        """
    )
    result = project.run()
    assert result.ret == 4
    assert result.stderr.lines[0] == (
        'ERROR: pyproject.toml: history "mlflow:gate" needs a tracking server: set tracking-uri in '
        "[tool.metricgate.mlflow] or the MLFLOW_TRACKING_URI environment variable"
    )


@pytest.mark.parametrize(
    ("uri", "shown"),
    [("sqlite:///mlflow.db", '"sqlite:///mlflow.db"'), ("http://alice:s3cret@127.0.0.1:1", None)],
)
def test_a_tracking_uri_that_is_not_a_server_is_a_usage_error_without_its_password(project, uri, shown):
    project.config(
        f'[tool.metricgate]\nhistory = "mlflow:gate"\n[tool.metricgate.mlflow]\ntracking-uri = "{uri}"\n[tool.metricgate.metrics.a]\nmin = 0'
    )
    if shown is None:  # a well-formed URI with a password: the password never appears
        result = project.run()
        assert "s3cret" not in result.stdout.str() + result.stderr.str()
        assert "http://***@127.0.0.1:1" in result.stderr.str()
        return
    result = project.run()
    assert result.ret == 4
    assert result.stderr.lines[0] == (
        "ERROR: pyproject.toml: [tool.metricgate.mlflow] tracking-uri must be an http:// or https:// URL "
        f"of an MLflow tracking server, got {shown}"
    )


def test_an_mlflow_history_on_the_command_line_is_not_a_path(project, server, experiment):
    project.config("[tool.metricgate]\n[tool.metricgate.metrics.accuracy]\nmin = 0.8")
    project.records({"accuracy": 0.9})
    result = project.run("--metric-gate-history", f"mlflow:{experiment}", "--metric-gate-record")
    assert result.ret == 4  # no tracking server named anywhere
    os.environ["MLFLOW_TRACKING_URI"] = server.uri
    try:
        result = project.run("--metric-gate-history", f"mlflow:{experiment}", "--metric-gate-record")
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]
    assert result.ret == 0, result.stdout.str()
    assert len(runs_of(server.uri, experiment)) == 1
    assert not any(project.path.glob("mlflow*"))


def test_a_file_history_never_imports_mlflow(project, tmp_path):
    project.config('[tool.metricgate]\nhistory = "h.jsonl"\n[tool.metricgate.metrics.accuracy]\nmin = 0.8')
    project.records({"accuracy": 0.9})
    project.file(
        "conftest.py",
        "import sys\n\ndef pytest_unconfigure(config):\n    print('MLFLOW', 'mlflow' in sys.modules)\n",
    )
    result = project.pytester.runpytest_subprocess(
        "--metric-gate", "--metric-gate-record", "-p", "no:cacheprovider", "-s"
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(["MLFLOW False"])


def test_an_mlflow_history_with_the_gate_off_imports_nothing_of_mlflow(project):
    project.config(
        '[tool.metricgate]\nhistory = "mlflow:gate"\n[tool.metricgate.metrics.accuracy]\nmin = 0.8'
    )
    project.records({"accuracy": 0.9})
    project.file(
        "conftest.py",
        "import sys\n\ndef pytest_unconfigure(config):\n    print('MLFLOW', 'mlflow' in sys.modules)\n",
    )
    result = project.pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["MLFLOW False"])


def test_an_mlflow_history_without_the_extra_says_which_extra_to_install(project):
    project.config(
        '[tool.metricgate]\nhistory = "mlflow:gate"\n[tool.metricgate.mlflow]\ntracking-uri = "http://127.0.0.1:1"\n'
        "[tool.metricgate.metrics.accuracy]\nmin = 0.8"
    )
    project.file(
        "conftest.py",
        "import sys\n\nsys.modules['mlflow'] = None  # as if mlflow-skinny were not installed\n",
    )
    result = project.pytester.runpytest_subprocess("--metric-gate", "-p", "no:cacheprovider")
    assert result.ret == 4
    assert result.stderr.lines[0] == (
        'ERROR: pyproject.toml: history "mlflow:gate" needs the MLflow client: '
        "pip install 'pytest-metricgate[mlflow]'"
    )


# -- faults: the gate fails closed, loudly, in bounded time --------------------------------------------------


def test_a_refused_connection_is_one_error_line(project, experiment, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-very-secret-123")
    uri = f"http://127.0.0.1:{free_port()}"
    project.config(gate_config(uri, experiment, timeout=10))
    project.records({"accuracy": 0.9})
    result = project.run()
    assert result.ret == 4
    assert result.stderr.lines[0] == (
        f"ERROR: mlflow:{experiment} at {uri}: reading failed: connection refused (is the tracking server running?)"
    )
    assert "Traceback" not in result.stderr.str()
    assert "tok-very-secret-123" not in result.stdout.str() + result.stderr.str()


def test_a_server_that_never_answers_fails_within_the_timeout(project, experiment):
    silent = Silent()
    try:
        uri = f"http://127.0.0.1:{silent.port}"
        project.config(gate_config(uri, experiment, timeout=2))
        project.records({"accuracy": 0.9})
        started = time.monotonic()
        result = project.run()
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert result.ret == 4
    assert result.stderr.lines[0] in (
        f"ERROR: mlflow:{experiment} at {uri}: reading failed: no answer within 2 s ([tool.metricgate.mlflow] timeout)",
    )
    # MLflow's defaults would wait about 20 minutes; the bound is the timeout, plus start-up.
    assert elapsed < 60


def test_a_server_killed_during_a_recording_leaves_no_finished_run_and_a_clear_line(
    project, tmp_path, experiment
):
    with running(MlflowServer(tmp_path / "doomed")) as doomed:
        killed: list[bytes] = []

        def kill_after_create(line: bytes) -> None:
            # The run exists on the server; kill it before its metrics arrive.
            if b"runs/log-batch" in line and not killed:
                killed.append(line)
                doomed.kill()

        proxy = Proxy(doomed.port, kill_after_create)
        uri = f"http://127.0.0.1:{proxy.port}"
        project.config(gate_config(uri, experiment, timeout=15))
        project.records({"accuracy": 0.9})
        result = project.run("--metric-gate-record")
        cut_off = time.monotonic()
        proxy.close()
    assert killed
    assert result.ret == 4
    # The verdict and the report stand and are printed; then one line says the run was not recorded.
    result.stdout.fnmatch_lines(["accuracy  0.900    -  *pass*", "metric gate: passed (1 metric)*"])
    assert result.stderr.lines[0].startswith(f"ERROR: mlflow:{experiment} at {uri}: recording failed: ")
    assert result.stderr.lines[0].endswith("; this run was not recorded")
    assert (project.path / "metricgate-report" / "summary.json").is_file()
    # Nothing the server kept is a recorded run: the "recorded" tag is the last thing a recording writes.
    import sqlite3

    with sqlite3.connect(tmp_path / "doomed" / "mlflow.db") as db:
        statuses = db.execute("SELECT status FROM runs").fetchall()
        recorded = db.execute("SELECT COUNT(*) FROM tags WHERE key = 'metricgate.recorded'").fetchone()
    assert statuses == [("RUNNING",)]
    assert recorded == (0,)
    # Back up, the next recording ends that dead recording's run as FAILED (its time bound is long past).
    time.sleep(max(0.0, 2 * 15 - (time.monotonic() - cut_off)))
    with running(MlflowServer(tmp_path / "doomed")) as revived:
        project.config(gate_config(revived.uri, experiment, timeout=60))
        result = project.run("--metric-gate-record")
        assert result.ret == 0, result.stdout.str() + result.stderr.str()
        runs = runs_of(revived.uri, experiment)
    assert sorted(run.info.status for run in runs) == ["FAILED", "FINISHED"]


def test_wrong_credentials_on_a_basic_auth_server_are_one_line_without_the_password(
    project, tmp_path, experiment, monkeypatch
):
    auth = MlflowServer(tmp_path / "auth", extra_args=("--app-name", "basic-auth"))
    auth.env = {
        "MLFLOW_AUTH_CONFIG_PATH": str(write_auth_config(tmp_path / "auth")),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": uuid.uuid4().hex,
    }
    with running(auth):
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "wrong-password-987")
        project.config(gate_config(auth.uri, experiment, timeout=120))
        project.records({"accuracy": 0.9})
        result = project.run()
        # The right credentials read. (Not a recording: basic-auth hashes the password on every
        # request, seconds each on a loaded 2-core machine; recording is tested on the other servers.)
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "right-password-123")
        good = project.run()
    assert result.ret == 4
    assert result.stderr.lines[0] == (
        f"ERROR: mlflow:{experiment} at {auth.uri}: reading failed: the server refused the credentials (HTTP 401); "
        "check MLFLOW_TRACKING_USERNAME/PASSWORD or TOKEN"
    )
    assert "wrong-password-987" not in result.stdout.str() + result.stderr.str()
    assert good.ret == 0, good.stdout.str() + good.stderr.str()
    report = "".join(
        path.read_text(errors="replace")
        for path in (project.path / "metricgate-report").glob("*.*")
        if path.suffix in (".json", ".md", ".html")
    )
    assert "right-password-123" not in report + good.stdout.str()


def write_auth_config(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "basic_auth.ini"
    path.write_text(
        textwrap.dedent(
            f"""
            [mlflow]
            default_permission = READ
            database_uri = sqlite:///{directory / "auth.db"}
            admin_username = admin
            admin_password = right-password-123
            authorization_function = mlflow.server.auth:authenticate_request_basic_auth
            """
        )
    )
    return path


# -- concurrency -----------------------------------------------------------------------------


def sixteen_recording_sessions(tmp_path: Path, uri: str, experiment: str) -> None:
    projects = []
    for index in range(16):
        directory = tmp_path / f"p{index}"
        directory.mkdir()
        (directory / "pyproject.toml").write_text(
            textwrap.dedent(gate_config(uri, experiment, timeout=120)) + "[tool.pytest.ini_options]\n"
        )
        (directory / "test_m.py").write_text(
            f"def test_m(metric_gate):\n    metric_gate.record('accuracy', 0.9 + {index} / 1000, n=1000)\n"
        )
        projects.append(directory)
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pytest",
                "--metric-gate",
                "--metric-gate-record",
                "-p",
                "no:cacheprovider",
                "-q",
            ],
            cwd=directory,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "METRICGATE_RUN_LABEL": f"session-{index}"},
        )
        for index, directory in enumerate(projects)
    ]
    outputs = [process.communicate(timeout=600)[0].decode() for process in processes]
    assert [process.returncode for process in processes] == [0] * 16, "\n".join(outputs)
    runs = runs_of(uri, experiment)
    assert sorted(run.info.run_name for run in runs) == sorted(f"session-{index}" for index in range(16))
    assert {run.info.status for run in runs} == {"FINISHED"}
    assert sorted(run.data.metrics["accuracy"] for run in runs) == [0.9 + index / 1000 for index in range(16)]


def test_sixteen_sessions_recording_at_once_leave_sixteen_finished_runs(tmp_path, server, experiment):
    sixteen_recording_sessions(tmp_path, server.uri, experiment)


def test_sixteen_sessions_recording_at_once_on_a_postgresql_backed_server(tmp_path, experiment):
    from mlflow_server import postgres, postgres_bin

    if postgres_bin() is None:
        if os.environ.get("METRICGATE_REQUIRE_MLFLOW") == "1":
            pytest.fail("PostgreSQL (initdb, pg_ctl) is required here (METRICGATE_REQUIRE_MLFLOW=1)")
        pytest.skip("PostgreSQL is not installed (Debian package postgresql)")
    with (
        postgres(tmp_path / "pg") as backend,
        running(MlflowServer(tmp_path / "server", backend=backend)) as pg_server,
    ):
        sixteen_recording_sessions(tmp_path, pg_server.uri, experiment)


def test_metric_values_survive_the_server_exactly(server, experiment):
    values = [0.1, 1 / 3, 1e-300, 123456789.123456789, -0.0]
    history = store(server.uri, experiment)
    history.append(Run({f"m{i}": Measurement(v) for i, v in enumerate(values)}), Recording())
    (read,) = history.read(limit=1, gated=frozenset()).runs
    assert [read.metrics[f"m{i}"].value for i in range(len(values))] == values
    assert not any(math.isnan(m.value) for m in read.metrics.values())
