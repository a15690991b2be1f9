"""The config loader: what a valid table becomes, and the exact message for each mistake."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_metricgate.config import (
    AlertSettings,
    ConfigError,
    EmailSettings,
    MetricRule,
    Overrides,
    load,
    table_name,
)


def load_text(tmp_path: Path, body: str, **kwargs):
    path = tmp_path / "pyproject.toml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return load(path, shown="pyproject.toml", invocation_dir=tmp_path, **kwargs)


def test_defaults(tmp_path):
    config = load_text(tmp_path, "[tool.metricgate]\n")
    assert config.history is None
    assert config.current is None
    assert config.report_dir == tmp_path / "metricgate-report"
    assert (config.baseline, config.window, config.chart_format, config.chart_runs) == (
        "median",
        5,
        "png",
        200,
    )
    assert config.metrics == ()


def test_a_full_table(tmp_path):
    config = load_text(
        tmp_path,
        """
        [tool.metricgate]
        history = "data/history.jsonl"
        current = "out/metrics.json"
        report-dir = "reports"
        baseline = "best"
        window = 3

        [tool.metricgate.metrics.accuracy]
        min = 0.88
        max-drop = 0.02

        [tool.metricgate.metrics.latency_ms]
        max = 50
        max-drop-pct = 10
        direction = "lower"
        severity = "warning"
        required = false

        [tool.metricgate.metrics."eval.f1"]
        min = 0
        """,
    )
    assert config.history.kind == "jsonl"
    assert config.history.path == tmp_path / "data/history.jsonl"
    assert config.current == tmp_path / "out/metrics.json"
    assert config.report_dir == tmp_path / "reports"
    assert (config.baseline, config.window) == ("best", 3)
    assert config.metrics == (
        MetricRule("accuracy", min=0.88, max_drop=0.02),
        MetricRule(
            "latency_ms", max=50.0, max_drop_pct=10.0, direction="lower", severity="warning", required=False
        ),
        MetricRule("eval.f1", min=0.0),
    )


def test_noise_aware_keys(tmp_path):
    config = load_text(
        tmp_path,
        """
        [tool.metricgate.metrics.accuracy]
        min = 0.88
        confidence = 0.95
        max-sigma = 3
        min-history = 8
        patience = 2
        """,
    )
    assert config.metrics == (
        MetricRule("accuracy", min=0.88, confidence=0.95, max_sigma=3.0, min_history=8, patience=2),
    )


def test_alerts(tmp_path):
    config = load_text(
        tmp_path,
        """
        [tool.metricgate.alerts]
        on = "warn"
        command = "python retrain.py"
        webhook-env = "SLACK_WEBHOOK_URL"
        [tool.metricgate.alerts.email]
        smtp-host = "smtp.example.com"
        from = "gate@example.com"
        to = "team@example.com"
        username-env = "SMTP_USER"
        password-env = "SMTP_PASSWORD"
        """,
    )
    assert config.alerts == AlertSettings(
        on="warn",
        command="python retrain.py",
        timeout=60.0,
        webhook_env="SLACK_WEBHOOK_URL",
        network_timeout=10.0,
        email=EmailSettings(
            "smtp.example.com", 587, "gate@example.com", ("team@example.com",), "SMTP_USER", "SMTP_PASSWORD"
        ),
    )


def test_nested_metric_tables_give_dotted_names(tmp_path):
    config = load_text(
        tmp_path,
        """
        [tool.metricgate.metrics.eval.accuracy]
        min = 0.5
        [tool.metricgate.metrics.eval.recall]
        min = 0.4
        [tool.metricgate.metrics.loss]
        """,
    )
    assert [rule.name for rule in config.metrics] == ["eval.accuracy", "eval.recall", "loss"]


def test_inline_history(tmp_path):
    config = load_text(
        tmp_path, "[tool.metricgate]\nhistory = { accuracy = [0.89, 0.90], recall = [0.87, 1] }\n"
    )
    assert config.history.kind == "inline"
    assert config.history.inline == {"accuracy": (0.89, 0.90), "recall": (0.87, 1.0)}


def test_command_line_paths_win_and_are_relative_to_where_pytest_started(tmp_path):
    elsewhere = tmp_path / "cwd"
    config = load_text(
        tmp_path,
        '[tool.metricgate]\nhistory = "h.jsonl"\ncurrent = "c.json"\n',
        overrides=Overrides(
            history=elsewhere / "x.csv", current=elsewhere / "m.json", report_dir=elsewhere / "r"
        ),
    )
    assert (config.history.kind, config.history.path) == ("csv", elsewhere / "x.csv")
    assert config.current == elsewhere / "m.json"
    assert config.report_dir == elsewhere / "r"


def test_unknown_keys_are_warnings_with_a_suggestion(tmp_path):
    config = load_text(tmp_path, "[tool.metricgate]\nwindw = 3\n[tool.metricgate.metrics.acc]\nmni = 1\n")
    assert config.warnings == (
        'pyproject.toml: [tool.metricgate] unknown key "windw" (did you mean "window"?)',
        'pyproject.toml: [tool.metricgate.metrics.acc] unknown key "mni" (did you mean "min"?)',
    )


def test_unknown_keys_are_errors_under_strict_config(tmp_path):
    with pytest.raises(ConfigError) as error:
        load_text(tmp_path, "[tool.metricgate]\nwindw = 3\n", strict=True)
    assert str(error.value) == (
        'pyproject.toml: [tool.metricgate] unknown key "windw" (did you mean "window"?) (an error under --strict-config)'
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "[tool.metricgate\n",
            (
                "pyproject.toml, line 1: invalid TOML table header (Expected ']' at the end of a table "
                "declaration), found '[tool.metricgate'"
            ),
        ),
        (
            "[tool.metricgate.metrics.accuracy]\nmin = 0.8\nmin = 0.9\n",
            (
                "pyproject.toml, line 3: [tool.metricgate.metrics.accuracy] min is set twice; each key may appear "
                "once in a table, found 'min = 0.9' after an earlier min"
            ),
        ),
        (
            "[tool.metricgate.metrics.a]\nmin = 1\n[tool.metricgate.metrics.a]\nmax = 2\n",
            (
                "pyproject.toml, line 3: table [tool.metricgate.metrics.a] is declared twice; each table may "
                "appear once, found it again"
            ),
        ),
        (
            "[tool.metricgate.metrics.a]\nmin 0.8\n",
            (
                "pyproject.toml, line 2: [tool.metricgate.metrics.a] min: invalid TOML (Expected '=' after a key "
                "in a key/value pair), found 'min 0.8'"
            ),
        ),
        (
            "[tool.metricgate]\nhistory = {accuracy = [1], accuracy = [2]}\n",
            (
                "pyproject.toml, line 2: [tool.metricgate] accuracy is set twice; each key may appear once in a "
                "table, found 'history = {accuracy = [1], accuracy = [2]}' after an earlier accuracy"
            ),
        ),
        ("[tool]\nmetricgate = 3\n", "pyproject.toml: [tool.metricgate] must be a table, got 3"),
        (
            "[project]\nname = 'x'\n",
            "pyproject.toml: no [tool.metricgate] table; --metric-gate needs it to know which metrics to gate",
        ),
        (
            "[tool.metricgate]\nwindow = 0\n",
            "pyproject.toml: [tool.metricgate] window must be an integer >= 1, got 0",
        ),
        (
            "[tool.metricgate]\nwindow = 2.5\n",
            "pyproject.toml: [tool.metricgate] window must be an integer >= 1, got 2.5",
        ),
        (
            "[tool.metricgate]\nwindow = true\n",
            "pyproject.toml: [tool.metricgate] window must be an integer >= 1, got true",
        ),
        (
            "[tool.metricgate]\nbaseline = 'average'\n",
            'pyproject.toml: [tool.metricgate] baseline must be "last" or "best" or "mean" or "median", got "average"',
        ),
        (
            "[tool.metricgate]\nhistory = 'h.txt'\n",
            'pyproject.toml: [tool.metricgate] history must name a .jsonl or .csv file, got "h.txt"',
        ),
        (
            "[tool.metricgate]\nhistory = 3\n",
            "pyproject.toml: [tool.metricgate] history must be a path to a .jsonl or .csv file, or a table of arrays, got 3",
        ),
        (
            "[tool.metricgate]\ncurrent = ''\n",
            'pyproject.toml: [tool.metricgate] current must be a path to a JSON file, got ""',
        ),
        (
            "[tool.metricgate]\nreport-dir = 1\n",
            "pyproject.toml: [tool.metricgate] report-dir must be a non-empty string, got 1",
        ),
        (
            "[tool.metricgate]\nhistory = { a = [1, 2], b = [1] }\n",
            "pyproject.toml: [tool.metricgate.history] arrays must have equal lengths (one per run): a has 2, b has 1",
        ),
        (
            "[tool.metricgate]\nhistory = { a = [1, 'x'] }\n",
            'pyproject.toml: [tool.metricgate.history] a[1] must be a number, got "x"',
        ),
        (
            "[tool.metricgate]\nhistory = { a = 1 }\n",
            "pyproject.toml: [tool.metricgate.history] a must be an array of numbers, got 1",
        ),
        (
            "[tool.metricgate]\nmetrics = 1\n",
            "pyproject.toml: [tool.metricgate] metrics must be a table of metric tables, got 1",
        ),
        (
            "[tool.metricgate.metrics]\nacc = 0.9\n",
            "pyproject.toml: [tool.metricgate.metrics] acc must be a table of limits, got 0.9",
        ),
        (
            "[tool.metricgate.metrics.acc]\nmin = 'high'\n",
            'pyproject.toml: [tool.metricgate.metrics.acc] min must be a finite number, got "high"',
        ),
        (
            "[tool.metricgate.metrics.acc]\nmax = nan\n",
            "pyproject.toml: [tool.metricgate.metrics.acc] max must be a finite number, got nan",
        ),
        (
            "[tool.metricgate.metrics.acc]\nmin = 0.9\nmax = 0.8\n",
            "pyproject.toml: [tool.metricgate.metrics.acc] min must not exceed max, got min 0.9 > max 0.8",
        ),
        (
            "[tool.metricgate.metrics.acc]\nmax-drop = -0.1\n",
            "pyproject.toml: [tool.metricgate.metrics.acc] max-drop must be a number >= 0, got -0.1",
        ),
        (
            "[tool.metricgate.metrics.acc]\nmax-drop-pct = -1\n",
            "pyproject.toml: [tool.metricgate.metrics.acc] max-drop-pct must be a number >= 0, got -1",
        ),
        (
            "[tool.metricgate.metrics.acc]\ndirection = 'up'\n",
            'pyproject.toml: [tool.metricgate.metrics.acc] direction must be "higher" or "lower", got "up"',
        ),
        (
            "[tool.metricgate.metrics.acc]\nseverity = 'fatal'\n",
            'pyproject.toml: [tool.metricgate.metrics.acc] severity must be "error" or "warning", got "fatal"',
        ),
        (
            "[tool.metricgate.metrics.acc]\nrequired = 'yes'\n",
            'pyproject.toml: [tool.metricgate.metrics.acc] required must be true or false, got "yes"',
        ),
        (
            "[tool.metricgate.metrics.acc]\nconfidence = 95\n",
            "pyproject.toml: [tool.metricgate.metrics.acc] confidence must be a number between 0 and 1 (exclusive), such as 0.95, got 95",
        ),
        (
            "[tool.metricgate.metrics.acc]\nconfidence = 1\n",
            "pyproject.toml: [tool.metricgate.metrics.acc] confidence must be a number between 0 and 1 (exclusive), such as 0.95, got 1",
        ),
        (
            "[tool.metricgate.metrics.acc]\nconfidence = '95%'\n",
            'pyproject.toml: [tool.metricgate.metrics.acc] confidence must be a number between 0 and 1 (exclusive), such as 0.95, got "95%"',
        ),
        (
            "[tool.metricgate.metrics.acc]\nmax-sigma = 0\n",
            "pyproject.toml: [tool.metricgate.metrics.acc] max-sigma must be a number > 0, got 0",
        ),
        (
            "[tool.metricgate.metrics.acc]\nmax-sigma = 'three'\n",
            'pyproject.toml: [tool.metricgate.metrics.acc] max-sigma must be a finite number, got "three"',
        ),
        (
            "[tool.metricgate.metrics.acc]\nmin-history = 1\n",
            "pyproject.toml: [tool.metricgate.metrics.acc] min-history must be an integer >= 2, got 1",
        ),
        (
            "[tool.metricgate.metrics.acc]\npatience = 0\n",
            "pyproject.toml: [tool.metricgate.metrics.acc] patience must be an integer >= 1, got 0",
        ),
        (
            "[tool.metricgate.metrics.acc]\npatience = 1.5\n",
            "pyproject.toml: [tool.metricgate.metrics.acc] patience must be an integer >= 1, got 1.5",
        ),
        (
            "[tool.metricgate]\nwindow = 1\n[tool.metricgate.metrics.acc]\nmax-sigma = 3\n",
            "pyproject.toml: [tool.metricgate.metrics.acc] max-sigma needs [tool.metricgate] window >= 2 (one run has no standard deviation), got window 1",
        ),
        (
            "[tool.metricgate]\nalerts = 'email'\n",
            'pyproject.toml: [tool.metricgate] alerts must be a table, got "email"',
        ),
        (
            "[tool.metricgate.alerts]\non = 'always'\n",
            'pyproject.toml: [tool.metricgate.alerts] on must be "fail" or "warn", got "always"',
        ),
        (
            "[tool.metricgate.alerts]\ncommand = ''\n",
            'pyproject.toml: [tool.metricgate.alerts] command must be a non-empty shell command, got ""',
        ),
        (
            "[tool.metricgate.alerts]\ntimeout = -5\n",
            "pyproject.toml: [tool.metricgate.alerts] timeout must be a number > 0, got -5",
        ),
        (
            "[tool.metricgate.alerts]\nwebhook-env = 'https://hooks.example/x'\n",
            'pyproject.toml: [tool.metricgate.alerts] webhook-env must be the name of an environment variable, got "https://hooks.example/x"',
        ),
        (
            "[tool.metricgate.alerts.email]\nfrom = 'a@b.c'\nto = ['d@e.f']\n",
            "pyproject.toml: [tool.metricgate.alerts.email] needs smtp-host",
        ),
        (
            "[tool.metricgate.alerts.email]\nsmtp-host = 'mail'\nfrom = 'a@b.c'\nto = []\n",
            "pyproject.toml: [tool.metricgate.alerts.email] to must be a list of e-mail addresses, got []",
        ),
        (
            "[tool.metricgate.alerts.email]\nsmtp-host = 'mail'\nfrom = 'gate'\nto = ['d@e.f']\n",
            'pyproject.toml: [tool.metricgate.alerts.email] from must be an e-mail address, got "gate"',
        ),
        (
            "[tool.metricgate.alerts.email]\nsmtp-host = 'mail'\nsmtp-port = 70000\nfrom = 'a@b.c'\nto = ['d@e.f']\n",
            "pyproject.toml: [tool.metricgate.alerts.email] smtp-port must be a port number from 1 to 65535, got 70000",
        ),
        (
            '[tool.metricgate.metrics."a b"]\nmin = []\n',
            'pyproject.toml: [tool.metricgate.metrics."a b"] min must be a finite number, got []',
        ),
    ],
)
def test_each_mistake_has_one_exact_message(tmp_path, body, message):
    with pytest.raises(ConfigError) as error:
        load_text(tmp_path, body)
    assert str(error.value) == message


def test_a_missing_pyproject_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"^pyproject.toml: not found; --metric-gate reads its limits"):
        load(tmp_path / "pyproject.toml", shown="pyproject.toml")


@pytest.mark.parametrize(
    ("name", "header"),
    [("accuracy", "[tool.metricgate.metrics.accuracy]"), ("eval.f1", '[tool.metricgate.metrics."eval.f1"]')],
)
def test_table_names_quote_what_toml_needs_quoted(name, header):
    assert table_name(name) == header


# Python 3.10 has no tomllib, so config.py falls back to tomli there. Hiding tomllib
# (a None entry in sys.modules makes the import raise ModuleNotFoundError) runs that
# branch on any Python; a fresh interpreter keeps this process's modules untouched.
TOMLI_BRANCH = """
import sys
from pathlib import Path

sys.modules["tomllib"] = None
from pytest_metricgate import config

print(config.tomllib.__name__)
loaded = config.load(Path(sys.argv[1]), shown="pyproject.toml")
print(loaded.window, [(rule.name, rule.min) for rule in loaded.metrics])
try:
    config.load(Path(sys.argv[2]), shown="broken.toml")
except config.ConfigError as error:
    print(error)
"""


def test_the_config_loader_reads_with_tomli_where_tomllib_is_missing(tmp_path):
    good = tmp_path / "pyproject.toml"
    good.write_text("[tool.metricgate]\nwindow = 3\n[tool.metricgate.metrics.accuracy]\nmin = 0.88\n")
    broken = tmp_path / "broken.toml"
    broken.write_text("[tool.metricgate\n")
    result = subprocess.run(
        [sys.executable, "-c", TOMLI_BRANCH, str(good), str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "tomli",
        "3 [('accuracy', 0.88)]",
        # tomllib's wording since tomli 2.0.1, the declared minimum; tomli 2.0.0 said "]" instead
        (
            "broken.toml, line 1: invalid TOML table header (Expected ']' at the end of a table declaration), "
            "found '[tool.metricgate'"
        ),
    ]


# -- MLflow ------------------------------------------------------------------------------


def test_an_mlflow_history_takes_its_server_from_the_table(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://from-the-environment:5000")
    config = load_text(
        tmp_path,
        """
        [tool.metricgate]
        history = "mlflow:churn gate"
        current = "mlflow:runs/0a1b2c"
        baseline-model = "models:/churn@champion"
        [tool.metricgate.mlflow]
        tracking-uri = "https://bob:pw@mlflow.example:8443/path"
        filter = "tags.stage = 'eval'"
        timeout = 7.5
        """,
    )
    assert config.history is not None
    assert (config.history.kind, config.history.experiment, config.history.shown) == (
        "mlflow",
        "churn gate",
        "mlflow:churn gate at https://***@mlflow.example:8443/path",
    )
    assert config.mlflow is not None and config.history.server == config.mlflow
    assert (config.mlflow.tracking_uri, config.mlflow.filter, config.mlflow.timeout) == (
        "https://bob:pw@mlflow.example:8443/path",
        "tags.stage = 'eval'",
        7.5,
    )
    assert (config.current, config.current_run, config.baseline_model) == (
        None,
        "0a1b2c",
        "models:/churn@champion",
    )


def test_the_tracking_server_defaults_to_mlflow_tracking_uri_and_a_30_second_timeout(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    config = load_text(tmp_path, '[tool.metricgate]\nhistory = "mlflow:x"\n')
    assert config.mlflow is not None
    assert (config.mlflow.tracking_uri, config.mlflow.timeout, config.mlflow.filter) == (
        "http://127.0.0.1:5000",
        30.0,
        None,
    )


def test_a_command_line_mlflow_history_is_not_joined_to_a_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    config = load_text(tmp_path, "[tool.metricgate]\n", overrides=Overrides(history="mlflow:cli"))
    assert config.history is not None and (config.history.kind, config.history.experiment) == (
        "mlflow",
        "cli",
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            'history = "mlflow:"',
            'pyproject.toml: [tool.metricgate] history must name an MLflow experiment after "mlflow:", got "mlflow:"',
        ),
        (
            'current = "mlflow:run/12"',
            (
                'pyproject.toml: [tool.metricgate] current must be "mlflow:runs/RUN_ID" (an MLflow run ID), '
                'got "mlflow:run/12"'
            ),
        ),
        (
            'baseline-model = "models:/churn"',
            (
                'pyproject.toml: [tool.metricgate] baseline-model must be "models:/NAME@ALIAS" '
                '(a registered model alias), got "models:/churn"'
            ),
        ),
        (
            'history = "mlflow:x"\n[tool.metricgate.mlflow]\ntimeout = 0',
            "pyproject.toml: [tool.metricgate.mlflow] timeout must be a number > 0, got 0",
        ),
        (
            'history = "mlflow:x"\n[tool.metricgate.mlflow]\nfilter = 3',
            "pyproject.toml: [tool.metricgate.mlflow] filter must be an MLflow search filter string, got 3",
        ),
        (
            'mlflow = "http://x"',
            'pyproject.toml: [tool.metricgate] mlflow must be a table, got "http://x"',
        ),
    ],
)
def test_mlflow_mistakes(tmp_path, monkeypatch, body, message):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    with pytest.raises(ConfigError) as error:
        load_text(tmp_path, "[tool.metricgate]\n" + body + "\n")
    assert str(error.value) == message


def test_an_unknown_mlflow_key_is_a_warning(tmp_path):
    config = load_text(tmp_path, '[tool.metricgate]\n[tool.metricgate.mlflow]\ntracking_uri = "http://x"\n')
    assert config.warnings == (
        'pyproject.toml: [tool.metricgate.mlflow] unknown key "tracking_uri" (did you mean "tracking-uri"?)',
    )
    assert config.mlflow is None  # nothing lives on a tracking server


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("https://user:secret@host/x", "https://***@host/x"),
        ("https://token@host", "https://***@host"),
        ("http://host/path@not-user-info", "http://host/path@not-user-info"),
    ],
)
def test_a_uris_user_info_is_masked(uri, shown):
    from pytest_metricgate.config import mask_uri

    assert mask_uri(uri) == shown
