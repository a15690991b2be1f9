"""Alerts end to end, against real servers on 127.0.0.1: a command, a webhook, an e-mail, and the hook.

Every failure mode is a warning with its reason; none changes the verdict or the exit status.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import threading
import time
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

FAILING = """
    [tool.metricgate.metrics.accuracy]
    min = 0.9
    [tool.metricgate.metrics.recall]
    min = 0.5
    [tool.metricgate.alerts]
    network-timeout = 1
"""


def alerting(project, alerts: str, *, accuracy: float = 0.5):
    project.config(FAILING + "\n" + alerts)
    project.records({"accuracy": accuracy, "recall": 0.7})
    return project


# -- the command -----------------------------------------------------------------


def test_the_command_runs_in_the_project_dir_with_the_summary_and_status(any_runner_project):
    project = alerting(
        any_runner_project,
        'command = "echo \\"$METRICGATE_STATUS $METRICGATE_SUMMARY $PWD\\" >> alert.log; echo retraining started"',
    )
    result = project.run()
    assert result.ret == 1
    result.stdout.fnmatch_lines(["alert command: exited with status 0", "  | retraining started"])
    (line,) = (project.path / "alert.log").read_text().splitlines()  # once, on the controller only
    status, summary_path, workdir = line.split()
    assert status == "failed"
    assert json.loads(Path(summary_path).read_text())["status"] == "failed"
    assert workdir == str(project.path)


def test_no_alert_when_the_gate_passes(project):
    alerting(project, 'command = "touch alerted"', accuracy=0.95)
    assert project.run().ret == 0
    assert not (project.path / "alerted").exists()


def warning_alert(project, command: str):
    """A metric that only warns, and an alert that fires on warnings too."""
    project.config(f"""
        [tool.metricgate.metrics.accuracy]
        min = 0.9
        severity = "warning"
        [tool.metricgate.alerts]
        on = "warn"
        command = "{command}"
    """)
    project.records({"accuracy": 0.5})
    return project.run()


def test_warnings_alert_only_with_on_warn(project):
    assert warning_alert(project, "echo $METRICGATE_STATUS > alerted").ret == 0
    assert (project.path / "alerted").read_text() == "passed\n"


def test_a_failing_command_is_a_warning_and_keeps_the_exit_status(project):
    result = warning_alert(project, "echo cannot reach the scheduler >&2; exit 3")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["warning: alert command not delivered: exited with status 3", "  | cannot reach the scheduler"]
    )


def test_a_command_that_overruns_its_timeout_is_stopped(project):
    alerting(project, 'command = "echo started; sleep 30; touch finished"\ntimeout = 1')
    started = time.monotonic()
    result = project.run()
    assert time.monotonic() - started < 20
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        ["warning: alert command not delivered: timed out after 1 s and was stopped", "  | started"]
    )
    time.sleep(0.2)
    assert not (project.path / "finished").exists()


# -- the webhook -----------------------------------------------------------------


class Recorder(BaseHTTPRequestHandler):
    """Records each POST; answers with the server's ``status`` after ``delay`` seconds."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.requests.append((self.path, self.headers.get("Content-Type"), body))
        time.sleep(self.server.delay)
        self.send_response(self.server.status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # The timeout tests leave the client gone before a slow reply: the broken pipe is expected, and
        # socketserver's traceback would land, seconds later, in another test's captured stderr.
        pass


@pytest.fixture
def web_server():
    servers = []

    def start(status=200, delay=0.0):
        server = _QuietServer(("127.0.0.1", 0), Recorder)
        server.requests, server.status, server.delay = [], status, delay
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server, f"http://127.0.0.1:{server.server_port}/hooks/T0KEN-secret"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def assert_secret_kept(project, result, secret="T0KEN-secret"):
    output = result.stdout.str() + result.stderr.str()
    assert secret not in output
    for path in (project.path / "metricgate-report").iterdir():
        assert secret.encode() not in path.read_bytes(), path


def test_the_webhook_receives_the_summary_with_a_short_text(project, web_server, monkeypatch, ci_env):
    ci_env(
        METRICGATE_RUN_LABEL="nightly-42",
        GITHUB_SHA="0123456789abcdef0123456789abcdef01234567",
        GITHUB_REF_NAME="main",
        GITHUB_SERVER_URL="https://github.example",
        GITHUB_REPOSITORY="org/model",
        GITHUB_RUN_ID="99",
    )
    server, url = web_server()
    monkeypatch.setenv("MODEL_ALERTS_URL", url)
    alerting(project, 'webhook-env = "MODEL_ALERTS_URL"')
    result = project.run()
    assert result.ret == 1
    result.stdout.fnmatch_lines(["alert webhook: posted (URL from $MODEL_ALERTS_URL): HTTP 200"])
    ((path, content_type, body),) = server.requests
    assert (path, content_type) == ("/hooks/T0KEN-secret", "application/json")
    payload = json.loads(body)
    assert payload["status"] == "failed"
    assert [m["name"] for m in payload["metrics"]] == ["accuracy", "recall"]
    headline, failing, facts, ci, report = payload["text"].split("\n")
    assert (headline, failing) == (
        "metric gate: FAILED (1 of 2 metrics breached)",
        "FAIL accuracy 0.500 below min 0.9",
    )
    assert re.fullmatch(
        r"run nightly-42, commit 0123456789ab, branch main, \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", facts
    )
    assert ci == "CI: https://github.example/org/model/actions/runs/99"
    assert report == f"report: {project.path / 'metricgate-report' / 'index.html'}"
    assert payload["run"]["commit"] == "0123456789abcdef0123456789abcdef01234567"
    assert_secret_kept(project, result)


def test_a_webhook_names_the_conclusive_reason_of_a_failure_with_confidence_and_the_warnings(
    project, web_server, monkeypatch, ci_env
):
    ci_env()
    server, url = web_server()
    monkeypatch.setenv("HOOK", url)
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
        [tool.metricgate.metrics.latency_ms]
        direction = "lower"
        max = 50
        severity = "warning"
        [tool.metricgate.alerts]
        webhook-env = "HOOK"
        network-timeout = 5
    """)
    project.history_of("history.jsonl", accuracy=[0.95] * 5, latency_ms=[40, 41, 42, 41, 40])
    project.records({"accuracy": (0.87, 400), "latency_ms": 55})
    assert project.run().ret == 1
    lines = json.loads(server.requests[0][2])["text"].split("\n")
    # Wilson 95% for 348/400 is 0.8335-0.8995 (scipy.stats.binomtest(348, 400).proportion_ci("wilson")):
    # min 0.88 lies inside it (the "inconclusive" note comes first in rule order), but even 0.8995 is more
    # than 0.03 below the baseline 0.95, so max-drop fails conclusively and the message says that.
    assert lines[:3] == [
        "metric gate: FAILED (1 of 2 metrics breached)",
        (
            "FAIL accuracy 0.870 drop 0.080 > max-drop 0.03 vs median 0.950 of last 5 \u2014 even the upper end "
            "0.8995 of 0.8335\u20130.8995 at n=400, Wilson 95% breaches (baseline 0.950)"
        ),
        "WARN latency_ms 55 above max 50 (baseline 41)",
    ]
    assert "inconclusive" not in "\n".join(lines)


def test_a_refused_webhook_is_a_warning(project, monkeypatch):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("HOOK", f"http://127.0.0.1:{port}/T0KEN-secret")
    alerting(project, 'webhook-env = "HOOK"')
    result = project.run()
    assert result.ret == 1
    result.stdout.fnmatch_lines(["warning: alert webhook not delivered: connection refused (URL from $HOOK)"])
    assert_secret_kept(project, result)


def test_a_webhook_that_answers_500_is_retried_once_then_a_warning(project, web_server, monkeypatch):
    server, url = web_server(status=500)
    monkeypatch.setenv("HOOK", url)
    alerting(project, 'webhook-env = "HOOK"')
    result = project.run()
    assert result.ret == 1
    assert len(server.requests) == 2
    result.stdout.fnmatch_lines(
        ["warning: alert webhook not delivered: HTTP 500 Internal Server Error (URL from $HOOK)"]
    )
    assert_secret_kept(project, result)


def test_a_webhook_that_answers_404_is_not_retried(project, web_server, monkeypatch):
    server, url = web_server(status=404)
    monkeypatch.setenv("HOOK", url)
    alerting(project, 'webhook-env = "HOOK"')
    result = project.run()
    assert len(server.requests) == 1
    result.stdout.fnmatch_lines(["warning: alert webhook not delivered: HTTP 404 Not Found (URL from $HOOK)"])


def test_a_webhook_that_times_out_is_a_warning(project, web_server, monkeypatch):
    server, url = web_server(delay=3)
    monkeypatch.setenv("HOOK", url)
    alerting(project, 'webhook-env = "HOOK"')
    started = time.monotonic()
    result = project.run()
    assert time.monotonic() - started < 15  # two attempts of 1 s each, and the pause between them
    assert result.ret == 1
    result.stdout.fnmatch_lines(["warning: alert webhook not delivered: timed out (URL from $HOOK)"])
    assert len(server.requests) == 2


def test_an_unset_webhook_variable_is_a_warning(project, monkeypatch):
    monkeypatch.delenv("NO_SUCH_HOOK", raising=False)
    alerting(project, 'webhook-env = "NO_SUCH_HOOK"')
    result = project.run()
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        ["warning: alert webhook not delivered: $NO_SUCH_HOOK is not set; nothing was sent"]
    )


# -- e-mail ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    controllers = []

    class Inbox:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content, session))
            return "250 OK"

    def start(**options):
        inbox = Inbox()
        controller = Controller(
            inbox, hostname=options.pop("hostname", "127.0.0.1"), port=free_port(), **options
        )
        controller.start()
        controllers.append(controller)
        return inbox, controller

    yield start
    for controller in controllers:
        controller.stop()


EMAIL = """
    [tool.metricgate.alerts.email]
    smtp-host = "{host}"
    smtp-port = {port}
    from = "metric-gate@example.com"
    to = ["ml-team@example.com", "oncall@example.com"]
"""


def test_the_email_carries_the_verdict_table_and_the_report_dir(project, smtp_server):
    inbox, controller = smtp_server()
    alerting(project, EMAIL.format(host=controller.hostname, port=controller.port))
    result = project.run()
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "alert email: sent to ml-team@example.com, oncall@example.com via 127.0.0.1:* without TLS (the server offers no STARTTLS)"
        ]
    )
    ((sender, recipients, content, _session),) = inbox.messages
    assert sender == "metric-gate@example.com"
    assert recipients == ["ml-team@example.com", "oncall@example.com"]
    mail = message_from_bytes(content)
    assert mail["Subject"] == "metric gate: FAILED (1 of 2 metrics breached)"
    body = mail.get_payload(decode=True).decode()
    assert "accuracy  0.500    -         min 0.9  FAIL     below min 0.9" in body
    assert f"report: {project.path / 'metricgate-report' / 'index.html'}" in body


def test_the_email_uses_starttls_and_logs_in_when_offered(project, smtp_server, tmp_path, monkeypatch):
    import trustme
    from aiosmtpd.smtp import AuthResult, LoginPassword

    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv(
        "SSL_CERT_FILE", str(ca_file)
    )  # the client trusts our test authority, and nothing else changes
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append(
            (mechanism, auth_data.login, auth_data.password) if isinstance(auth_data, LoginPassword) else None
        )
        return AuthResult(success=True)

    inbox, controller = smtp_server(
        hostname="localhost",
        tls_context=server_context,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    monkeypatch.setenv("SMTP_USER", "gate")
    monkeypatch.setenv("SMTP_PASSWORD", "s3cret")
    alerting(
        project,
        EMAIL.format(host="localhost", port=controller.port)
        + 'username-env = "SMTP_USER"\npassword-env = "SMTP_PASSWORD"\n',
    )
    result = project.run()
    result.stdout.fnmatch_lines(["alert email: sent to * via localhost:* with STARTTLS"])
    assert len(inbox.messages) == 1
    assert logins and logins[0][1:] == (b"gate", b"s3cret")
    assert "s3cret" not in result.stdout.str()


def test_a_refused_smtp_connection_is_a_warning(project):
    alerting(project, EMAIL.format(host="127.0.0.1", port=free_port()))
    result = project.run()
    assert result.ret == 1
    result.stdout.fnmatch_lines(["warning: alert email not delivered: 127.0.0.1:*: connection refused"])


# -- the hook --------------------------------------------------------------------


def test_conftest_files_receive_the_result_through_the_hook(any_runner_project):
    project = any_runner_project
    project.config(FAILING)
    project.records({"accuracy": 0.5, "recall": 0.7})
    project.file(
        "conftest.py",
        "def pytest_metricgate_result(config, result):\n"
        "    with open('hook.log', 'a') as log:\n"
        "        log.write(f'{result.status} {[(v.name, v.verdict) for v in result.verdicts]}\\n')\n",
    )
    assert project.run().ret == 1
    assert (project.path / "hook.log").read_text() == "failed [('accuracy', 'fail'), ('recall', 'pass')]\n"
