"""Alert actions when the gate goes red: a shell command, a webhook, an e-mail.

Each channel is tried once per session, on the process that judged, and
reports an ``AlertOutcome``; none raises. An alert that fails to deliver is a
warning with its reason and never changes the verdict or the exit status. The
webhook's URL is a secret: it is read from an environment variable and never
appears in a message or a report.
"""

from __future__ import annotations

import json
import os
import signal
import smtplib
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

from .config import AlertSettings, EmailSettings
from .gate import FAIL, WARN, GateResult
from .report import failure_message, ordered, run_lines

if TYPE_CHECKING:
    from .runinfo import RunInfo

_OUTPUT_TAIL_LINES = 10
_RETRY_PAUSE_SECONDS = 1.0


@dataclass(frozen=True)
class AlertOutcome:
    """What one channel did: ``delivered`` or not, a one-line message, and output lines to show."""

    channel: str
    delivered: bool
    message: str
    details: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        prefix = (
            f"alert {self.channel}: " if self.delivered else f"warning: alert {self.channel} not delivered: "
        )
        return [prefix + self.message, *(f"  | {line}" for line in self.details)]


def due(result: GateResult, on: str) -> bool:
    """Whether ``on = "fail"`` (failures) or ``on = "warn"`` (failures or warnings) asks for alerts now."""
    return not result.passed or (on == "warn" and bool(result.warnings))


def send(
    settings: AlertSettings,
    result: GateResult,
    summary: Mapping[str, object],
    *,
    summary_path: Path,
    report_dir: str,
    workdir: Path,
    environ: Mapping[str, str] | None = None,
    run: RunInfo | None = None,
) -> list[AlertOutcome]:
    """Run every configured channel, in the order command, webhook, e-mail.

    ``report_dir`` is where a reader reaches the report (an absolute path or a CI artifact link).
    """
    environ = os.environ if environ is None else environ
    outcomes = []
    if settings.command is not None:
        outcomes.append(
            run_command(
                settings.command,
                cwd=workdir,
                env={**environ, "METRICGATE_SUMMARY": str(summary_path), "METRICGATE_STATUS": result.status},
                timeout=settings.timeout,
            )
        )
    if settings.webhook_env is not None:
        url = environ.get(settings.webhook_env, "").strip()
        if not url:
            outcomes.append(
                AlertOutcome("webhook", False, f"${settings.webhook_env} is not set; nothing was sent")
            )
        else:
            payload = {**summary, "text": short_text(result, report_dir, run)}
            outcomes.append(
                post_webhook(url, payload, timeout=settings.network_timeout, source=settings.webhook_env)
            )
    if settings.email is not None:
        outcomes.append(
            send_email(
                settings.email, result, report_dir, timeout=settings.network_timeout, environ=environ, run=run
            )
        )
    return outcomes


_ALERT_METRICS = 10


def short_text(result: GateResult, report_dir: str, run: RunInfo | None = None) -> str:
    """A chat message: the headline (a notification's preview), then each failing metric and each
    warning by name with the reasons that decided it (never an "inconclusive" note that came first in
    rule order), then which run this was and where its report is."""
    flagged = [v for v in ordered(result.verdicts) if v.verdict in (FAIL, WARN)]
    lines = [result.headline()]
    for verdict in flagged[:_ALERT_METRICS]:
        word = "FAIL" if verdict.verdict == FAIL else "WARN"
        lines.append(f"{word} {failure_message(verdict)}")
    if len(flagged) > _ALERT_METRICS:
        lines.append(f"... and {len(flagged) - _ALERT_METRICS} more in the report")
    lines += run_lines(run)
    lines.append(f"report: {report_dir}")
    return "\n".join(lines)


def run_command(command: str, *, cwd: Path, env: Mapping[str, str], timeout: float) -> AlertOutcome:
    """Run ``command`` through the shell; a timeout kills it and everything it started."""
    try:
        process = subprocess.Popen(
            command,
            shell=True,
            cwd=cwd,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, so a timeout reaches its children too
        )
    except OSError as exc:
        return AlertOutcome("command", False, f"could not start: {exc.strerror or exc}")
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        output, _ = process.communicate()
        return AlertOutcome("command", False, f"timed out after {timeout:g} s and was stopped", _tail(output))
    tail = _tail(output)
    if process.returncode != 0:
        return AlertOutcome("command", False, f"exited with status {process.returncode}", tail)
    return AlertOutcome("command", True, "exited with status 0", tail)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (OSError, AttributeError):  # already gone, or no process groups (Windows)
        process.kill()


def _tail(output: bytes | None) -> tuple[str, ...]:
    lines = (output or b"").decode("utf-8", "replace").splitlines()
    return tuple(lines[-_OUTPUT_TAIL_LINES:])


def post_webhook(url: str, payload: Mapping[str, object], *, timeout: float, source: str) -> AlertOutcome:
    """POST ``payload`` as JSON; one retry after a network error, a timeout or a 5xx answer."""
    body = json.dumps(payload, allow_nan=False).encode()
    where = f"(URL from ${source})"
    reason = ""
    for attempt in (1, 2):
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "pytest-metricgate"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return AlertOutcome("webhook", True, f"posted {where}: HTTP {response.status}")
        except urllib.error.HTTPError as exc:
            reason = f"HTTP {exc.code} {exc.reason}"
            if exc.code < 500:
                break  # the server understood and refused: a retry would be refused too
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = _describe_network_error(exc)
        if attempt == 1:
            time.sleep(_RETRY_PAUSE_SECONDS)
    return AlertOutcome("webhook", False, _scrub(f"{reason} {where}", url))


def _describe_network_error(exc: BaseException) -> str:
    cause = getattr(exc, "reason", exc)
    if isinstance(cause, TimeoutError) or "timed out" in str(cause):
        return "timed out"
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ValueError):
        return "not a valid URL"
    return getattr(cause, "strerror", None) or str(cause)


def _scrub(message: str, secret: str) -> str:
    """Keep the webhook URL (a secret, often with a token in its path) out of every message."""
    return message.replace(secret, "<webhook URL>") if secret else message


def email_body(result: GateResult, report_dir: str, run: RunInfo | None = None) -> str:
    """The plain-text mail: the chat message's lines, then the whole verdict table."""
    from .report import terminal_lines

    lines = [line.text for line in terminal_lines(result)]
    return "\n".join([short_text(result, report_dir, run), "", *lines, ""])


def send_email(
    settings: EmailSettings,
    result: GateResult,
    report_dir: str,
    *,
    timeout: float,
    environ: Mapping[str, str],
    run: RunInfo | None = None,
) -> AlertOutcome:
    """Send the plain-text alert; STARTTLS when the server offers it; log in when credentials are configured."""
    message = EmailMessage()
    message["Subject"] = result.headline()
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.to)
    message.set_content(email_body(result, report_dir, run))
    credentials = _credentials(settings, environ)
    if isinstance(credentials, AlertOutcome):
        return credentials
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout) as smtp:
            smtp.ehlo()
            encrypted = smtp.has_extn("starttls")
            if encrypted:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if credentials is not None:
                smtp.login(*credentials)
            refused = smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        return AlertOutcome("email", False, f"{settings.smtp_host}:{settings.smtp_port}: {_smtp_reason(exc)}")
    if refused:
        return AlertOutcome("email", False, f"the server refused {', '.join(sorted(refused))}")
    how = "with STARTTLS" if encrypted else "without TLS (the server offers no STARTTLS)"
    return AlertOutcome(
        "email", True, f"sent to {', '.join(settings.to)} via {settings.smtp_host}:{settings.smtp_port} {how}"
    )


def _credentials(
    settings: EmailSettings, environ: Mapping[str, str]
) -> tuple[str, str] | AlertOutcome | None:
    if settings.username_env is None and settings.password_env is None:
        return None
    values = []
    for name in (settings.username_env, settings.password_env):
        value = environ.get(name or "", "")
        if not name or not value:
            return AlertOutcome(
                "email", False, f"${name or 'username-env/password-env'} is not set; nothing was sent"
            )
        values.append(value)
    return values[0], values[1]


def _smtp_reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, (TimeoutError, smtplib.SMTPServerDisconnected)) and "timed out" in str(exc):
        return "timed out"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {exc.smtp_error.decode('utf-8', 'replace') if isinstance(exc.smtp_error, bytes) else exc.smtp_error}"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


__all__ = ["AlertOutcome", "due", "send"]
