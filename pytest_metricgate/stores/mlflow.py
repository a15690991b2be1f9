"""The MLflow store: the history is the runs of one experiment on an MLflow tracking server.

The only module that imports ``mlflow`` (the client-only ``mlflow-skinny``), and
only when an MLflow history, current run or champion baseline is configured.

Reading asks the server for the newest runs only (ordered by start time on the
server, with a limit), and only runs the gate recorded (tag
``metricgate.recorded = "true"``) or that match ``[tool.metricgate.mlflow]
filter``; always finished runs. Recording makes one run per session: create,
log the metrics and tags, upload the report directory, end it FINISHED, then
read it back. Anything that fails on the way ends the run FAILED, so no run is
left RUNNING, and is a ``HistoryError``.

Every call is bounded: a worker thread does the talking and is given up after
``timeout`` seconds, whatever MLflow's own retries would do (two per request
here). MLflow retries POSTs too, so a slow create may leave a second run: each
run carries the recording's session id, and the recording ends any other run
of its session FAILED; a recording cut off entirely is ended by the next one
once its deadline (tag ``metricgate.deadline``) has passed.
MLflow's telemetry and its "View run" lines are switched off for these calls.

How a run is stored (documented in the README):

* a metric whose name is a valid MLflow key of at most 234 characters is
  logged under that key unchanged; any other name under ``mg-`` plus 16 hex
  digits of its SHA-256, with tag ``metricgate.name.KEY`` holding the name;
* a value's ``n`` is tag ``metricgate.n.KEY``;
* run name: the run's label (``METRICGATE_RUN_LABEL``) or its timestamp; tags
  ``metricgate.run``, ``metricgate.timestamp``, ``metricgate.commit`` (and
  MLflow's ``mlflow.source.git.commit``), ``metricgate.branch``,
  ``metricgate.ci_url``, ``metricgate.verdict``, ``metricgate.session``;
* each of ``Run.extra`` as tag ``metricgate.extra.NAME``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import math
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ..config import HistorySpec, MlflowSettings
from ..errors import HistoryError
from ..values import Measurement, Run
from . import HistoryTail, Recording

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

T = TypeVar("T")

RECORDED_TAG = "metricgate.recorded"
SESSION_TAG = "metricgate.session"
# When (epoch milliseconds) a recording still RUNNING is surely dead: its own time bound is long past.
DEADLINE_TAG = "metricgate.deadline"
_NAME_TAG = "metricgate.name."
_N_TAG = "metricgate.n."
_EXTRA_TAG = "metricgate.extra."
# MLflow's own rule for metric and tag keys, and the longest key it takes.
_KEY_RULE = re.compile(r"^[/\w.\- :]*$")
_MAX_KEY = 250
# Room for the longest prefix a key gets as part of a tag name ("metricgate.name.").
_MAX_PLAIN_KEY = _MAX_KEY - len(_NAME_TAG)
_FINISHED = "attributes.status = 'FINISHED'"
# The server sorts by start time (a column), not by a tag or param, which sort as strings and slowly.
NEWEST_FIRST = ["attributes.start_time DESC"]
_SECRET_VARIABLES = ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_USERNAME")
# Metrics and tags per log_batch call stay below MLflow's per-request limits (1000 and 100).
_METRICS_PER_CALL = 900
# The most runs one search returns.
_PAGE = 50_000
_NAMES_TAG = "metricgate.names"
_MAX_TAG_VALUE = 8000
_TAGS_PER_CALL = 100


def metric_key(name: str) -> str:
    """The MLflow key a metric is logged under: the name itself when MLflow takes it, else a hash."""
    if name and len(name) <= _MAX_PLAIN_KEY and _KEY_RULE.match(name) and not name.startswith("mg-"):
        return name
    return "mg-" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class _Call:
    """How one group of calls talks to the server: retries or none, and what the group is doing."""

    doing: str
    retries: int


_READ = _Call("reading", retries=2)


def search_filter(settings: MlflowSettings) -> str:
    """The runs a history is made of: finished, and recorded by the gate or matching the configured filter."""
    wanted = settings.filter or f"tags.\"{RECORDED_TAG}\" = 'true'"
    return f"{_FINISHED} AND {wanted}"


class MlflowStore:
    """The runs of one MLflow experiment as a history."""

    writable = True

    def __init__(self, spec: HistorySpec) -> None:
        assert spec.server is not None and spec.experiment is not None
        self.settings = spec.server
        self.experiment = spec.experiment
        self.shown = spec.shown

    def read(self, *, limit: int, gated: frozenset[str]) -> HistoryTail:
        """The newest ``limit`` runs, by start time; a missing experiment is a first run."""
        server = _Server(self.settings, self.shown)
        return server.bounded(_READ, lambda: self._read(server, limit))

    def _read(self, server: _Server, limit: int) -> HistoryTail:
        client = server.client()
        experiment = client.get_experiment_by_name(self.experiment)
        if experiment is None:
            return HistoryTail(runs=(), shown=self.shown, exists=False, label_name="run")
        if experiment.lifecycle_stage == "deleted":
            raise HistoryError(
                f"{self.shown}: the experiment is deleted; restore it in MLflow or name another one"
            )
        found: list[Any] = []
        token: str | None = None
        try:
            # One page holds what the gate needs (limit + 1 runs); only copying whole histories pages on.
            while len(found) <= limit:
                page = client.search_runs(
                    [experiment.experiment_id],
                    filter_string=search_filter(self.settings),
                    max_results=min(limit + 1 - len(found), _PAGE),
                    order_by=NEWEST_FIRST,
                    page_token=token,
                )
                found.extend(page)
                token = page.token
                if not token:
                    break
        except Exception as exc:
            if (
                self.settings.filter is not None
                and getattr(exc, "error_code", "") == "INVALID_PARAMETER_VALUE"
            ):
                raise HistoryError(
                    f"{self.shown}: [tool.metricgate.mlflow] filter is not a valid MLflow search filter: "
                    f"{_first_line(str(exc))}"
                ) from None
            raise
        newest_first = [run_from_mlflow(item) for item in found[:limit]]
        return HistoryTail(
            runs=tuple(reversed(newest_first)),
            shown=self.shown,
            older_runs_left_out=len(found) > limit,
            label_name="run",
            time_ordered=True,
        )

    def append(self, run: Run, recording: Recording | None = None) -> None:
        """Record ``run`` as one finished MLflow run (or tag ``recording.current_run`` as recorded)."""
        recording = recording or Recording()
        server = _Server(self.settings, self.shown)
        session = uuid.uuid4().hex
        call = _Call("recording", retries=2)
        try:
            server.bounded(call, lambda: self._record(server, run, recording, session))
        except _TimedOut:
            raise  # the server does not answer: the next recording ends what this one left (see DEADLINE_TAG)
        except HistoryError:
            # Whatever is left RUNNING by this session, a slow create sent twice included, ends FAILED.
            with contextlib.suppress(Exception):
                server.bounded(_Call("cleaning up", retries=2), lambda: self._end_leftovers(server, session))
            raise

    def _record(self, server: _Server, run: Run, recording: Recording, session: str) -> None:
        client = server.client()
        experiment_id = self._experiment_id(server, client)
        if recording.current_run is not None:
            # The pipeline's run is marked when it belongs to this history; from another experiment,
            # a run of its values is recorded here, naming it.
            source = client.get_run(recording.current_run)
            if source.info.experiment_id == experiment_id:
                self._mark_recorded(server, client, recording.current_run, run, recording, session)
                return
            run = Run(
                run.metrics,
                label=run.label,
                run=run.run,
                timestamp=run.timestamp,
                commit=run.commit,
                extra={**run.extra, "source_run": recording.current_run},
            )
        self._end_dead_recordings(server, client, experiment_id)
        started = _milliseconds(run.timestamp)
        deadline = _now_ms() + int(2 * self.settings.timeout * 1000)
        created = client.create_run(
            experiment_id,
            start_time=started,
            tags={SESSION_TAG: session, DEADLINE_TAG: str(deadline)},
            run_name=run.run or run.label or run.timestamp or None,
        )
        run_id = created.info.run_id
        try:
            metrics = {metric_key(name): m for name, m in run.metrics.items()}
            tags = _tags(run, recording, session)
            self._log(client, run_id, metrics, tags, started)
            if recording.report_dir is not None and recording.report_dir.is_dir():
                client.log_artifacts(run_id, str(recording.report_dir))
            client.set_terminated(run_id, "FINISHED", end_time=max(started, _now_ms()))
            # MLflow's client retries every request, POST included: a slow create sent twice leaves a
            # second run of this session, which is ended here.
            self._end_runs_of(client, experiment_id, session, keep=run_id)
            self._verify(client, run_id, metrics, tags)
        except BaseException:
            with contextlib.suppress(Exception):
                client.set_terminated(run_id, "FAILED")
            raise

    def _mark_recorded(
        self,
        server: _Server,
        client: MlflowClient,
        run_id: str,
        run: Run,
        recording: Recording,
        session: str,
    ) -> None:
        """The pipeline's own run gave this session's values: tag it as recorded instead of a second run."""
        existing = client.get_run(run_id).data.metrics
        metrics = {metric_key(name): m for name, m in run.metrics.items() if metric_key(name) not in existing}
        # _tags names every metric of the run and keeps its n, the pipeline's own metrics included.
        tags = _tags(run, recording, session)
        self._log(client, run_id, metrics, tags, _now_ms())
        if recording.report_dir is not None and recording.report_dir.is_dir():
            client.log_artifacts(run_id, str(recording.report_dir), artifact_path="metricgate-report")
        self._verify(client, run_id, metrics, tags, status=None)

    def _experiment_id(self, server: _Server, client: MlflowClient) -> str:
        experiment = client.get_experiment_by_name(self.experiment)
        if experiment is not None:
            if experiment.lifecycle_stage == "deleted":
                raise HistoryError(
                    f"{self.shown}: the experiment is deleted; restore it in MLflow or name another one"
                )
            return str(experiment.experiment_id)
        try:
            return str(client.create_experiment(self.experiment))
        except Exception as exc:
            # Another session (or a retried request of this one) created it first.
            if getattr(exc, "error_code", "") != "RESOURCE_ALREADY_EXISTS":
                raise
        experiment = client.get_experiment_by_name(self.experiment)
        if experiment is None:  # pragma: no cover - created and gone again within one call
            raise HistoryError(f"{self.shown}: the experiment vanished while it was being created")
        return str(experiment.experiment_id)

    def _log(
        self,
        client: MlflowClient,
        run_id: str,
        metrics: Mapping[str, Measurement],
        tags: Mapping[str, str],
        timestamp: int,
    ) -> None:
        from mlflow.entities import Metric, RunTag

        metric_items = [Metric(key, m.value, timestamp, 0) for key, m in metrics.items()]
        tag_items = [RunTag(key, value) for key, value in tags.items()]
        for start in range(0, len(metric_items), _METRICS_PER_CALL):
            client.log_batch(run_id, metrics=metric_items[start : start + _METRICS_PER_CALL])
        # The recorded tag goes last: a run cut off before it is never read as history.
        tag_items.sort(key=lambda tag: tag.key == RECORDED_TAG)
        for start in range(0, len(tag_items), _TAGS_PER_CALL):
            client.log_batch(run_id, tags=tag_items[start : start + _TAGS_PER_CALL])

    def _verify(
        self,
        client: MlflowClient,
        run_id: str,
        metrics: Mapping[str, Measurement],
        tags: Mapping[str, str],
        status: str | None = "FINISHED",
    ) -> None:
        """Read the run back: a recording counts only when the server holds exactly what was sent."""
        stored = client.get_run(run_id)
        if status is not None and stored.info.status != status:
            raise HistoryError(
                f"{self.shown}: the recorded run {run_id} reads back as {stored.info.status}, not {status}"
            )
        for key, measurement in metrics.items():
            value = stored.data.metrics.get(key)
            if value is None or not _same(value, measurement.value):
                raise HistoryError(
                    f'{self.shown}: the recorded run {run_id} reads back without metric "{key}" = '
                    f"{measurement.value!r}"
                )
        for key, text in tags.items():
            if stored.data.tags.get(key) != text:
                raise HistoryError(f'{self.shown}: the recorded run {run_id} reads back without tag "{key}"')

    def _end_dead_recordings(self, server: _Server, client: MlflowClient, experiment_id: str) -> None:
        """End as FAILED the runs that recordings cut off (a server killed mid-recording) left RUNNING."""
        left = client.search_runs(
            [experiment_id],
            filter_string=f"attributes.status = 'RUNNING' AND tags.\"{DEADLINE_TAG}\" LIKE '%'",
            max_results=100,
        )
        now = _now_ms()
        for item in left:
            deadline = item.data.tags.get(DEADLINE_TAG, "")
            if deadline.isdigit() and int(deadline) < now:
                client.set_terminated(item.info.run_id, "FAILED")

    def _end_leftovers(self, server: _Server, session: str) -> None:
        client = server.client()
        experiment = client.get_experiment_by_name(self.experiment)
        if experiment is None:
            return
        self._end_runs_of(client, experiment.experiment_id, session)

    def _end_runs_of(self, client: MlflowClient, experiment_id: str, session: str, keep: str = "") -> None:
        """End as FAILED every run of this recording session still RUNNING, but ``keep``."""
        left = client.search_runs(
            [experiment_id],
            filter_string=f"attributes.status = 'RUNNING' AND tags.\"{SESSION_TAG}\" = '{session}'",
            max_results=10,
        )
        for item in left:
            if item.info.run_id != keep:
                client.set_terminated(item.info.run_id, "FAILED")


def _tags(run: Run, recording: Recording, session: str) -> dict[str, str]:
    tags: dict[str, str] = {SESSION_TAG: session}
    for name, measurement in run.metrics.items():
        key = metric_key(name)
        if key != name:
            tags[_NAME_TAG + key] = name
        if measurement.n is not None:
            tags[_N_TAG + key] = str(measurement.n)
    # The metrics' order, so a history copied there and back is the same file byte for byte.
    names = json.dumps(list(run.metrics), ensure_ascii=False)
    if len(names) <= _MAX_TAG_VALUE:
        tags[_NAMES_TAG] = names
    described = {"run": run.run, "timestamp": run.timestamp, "commit": run.commit}
    info = recording.info
    if info is not None:
        described.update(branch=info.branch, ci_url=info.ci_url)
    described["verdict"] = recording.verdict
    for name, value in described.items():
        if value:
            tags[f"metricgate.{name}"] = value
    if run.commit:
        tags["mlflow.source.git.commit"] = run.commit
    for name, value in run.extra.items():
        tags[_EXTRA_TAG + name] = value
    tags[RECORDED_TAG] = "true"
    return tags


def run_from_mlflow(item: Any) -> Run:
    """A history ``Run`` from an MLflow run: names and ``n`` read back from the gate's tags."""
    tags: Mapping[str, str] = item.data.tags
    metrics: dict[str, Measurement] = {}
    for key, value in item.data.metrics.items():
        name = tags.get(_NAME_TAG + key, key)
        n_text = tags.get(_N_TAG + key)
        n = int(n_text) if n_text is not None and n_text.isdigit() and int(n_text) >= 1 else None
        metrics[name] = Measurement(float(value), n)
    # A run the gate recorded without a timestamp (copied from a CSV) keeps none; others show their start.
    timestamp = tags.get("metricgate.timestamp") or (
        None if RECORDED_TAG in tags else _iso(item.info.start_time)
    )
    metrics = _in_recorded_order(metrics, tags.get(_NAMES_TAG))
    extra = {key[len(_EXTRA_TAG) :]: value for key, value in tags.items() if key.startswith(_EXTRA_TAG)}
    return Run(
        metrics=metrics,
        label=item.info.run_name or timestamp,
        run=tags.get("metricgate.run"),
        timestamp=timestamp,
        commit=tags.get("metricgate.commit") or tags.get("mlflow.source.git.commit"),
        extra=extra,
    )


def _in_recorded_order(metrics: dict[str, Measurement], names: str | None) -> dict[str, Measurement]:
    try:
        order = json.loads(names) if names else []
    except ValueError:
        order = []
    if not isinstance(order, list):
        return metrics
    ordered = {name: metrics[name] for name in order if isinstance(name, str) and name in metrics}
    ordered.update((name, value) for name, value in metrics.items() if name not in ordered)
    return ordered


def read_run(settings: MlflowSettings, run_id: str, shown: str) -> Run:
    """``current = "mlflow:runs/RUN_ID"``: that run's metrics, as this run's values."""
    server = _Server(settings, settings.shown_uri)

    def fetch() -> Run:
        try:
            return run_from_mlflow(server.client().get_run(run_id))
        except Exception as exc:
            if getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
                raise HistoryError(f"{shown}: no such run on {settings.shown_uri}") from None
            raise

    return server.bounded(_Call(f"reading {shown}", retries=2), fetch)


@dataclass(frozen=True)
class Champion:
    """The run behind a registered model alias, or why there is none yet."""

    run: Run | None
    described: str


def champion(settings: MlflowSettings, model_uri: str) -> Champion:
    """``baseline-model = "models:/NAME@ALIAS"``: the metrics of the run that produced that version."""
    name, alias = model_uri[len("models:/") :].split("@", 1)
    server = _Server(settings, settings.shown_uri)

    def fetch() -> Champion:
        client = server.client()
        try:
            version = client.get_model_version_by_alias(name, alias)
        except Exception as exc:
            if getattr(exc, "error_code", "") in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return Champion(None, f"{model_uri} does not exist yet")
            raise
        described = f"{model_uri} (version {version.version}"
        if not version.run_id:
            return Champion(None, described + ") names no run, so it has no metrics")
        run = run_from_mlflow(client.get_run(version.run_id))
        return Champion(run, described + f", run {version.run_id})")

    return server.bounded(_Call(f"reading {model_uri}", retries=2), fetch)


# -- talking to the server -------------------------------------------------------


class _TimedOut(HistoryError):
    """The server did not answer within the timeout."""


class _Server:
    """One tracking server, reached with the gate's own bounds on time, retries, telemetry and printing."""

    def __init__(self, settings: MlflowSettings, shown: str) -> None:
        self.settings = settings
        self.shown = shown
        self._client: MlflowClient | None = None

    def client(self) -> MlflowClient:
        if self._client is None:
            from mlflow.tracking import MlflowClient

            self._client = MlflowClient(tracking_uri=self.settings.tracking_uri)
        return self._client

    def bounded(self, call: _Call, work: Callable[[], T]) -> T:
        """Run ``work`` in a worker thread and give up after the configured timeout, retries included."""
        timeout = self.settings.timeout
        variables = {
            # A race in MLflow's telemetry thread loses runs under concurrent writers; and it phones out.
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
            "MLFLOW_HTTP_REQUEST_TIMEOUT": str(max(1, math.ceil(timeout))),
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(call.retries),
            "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
            "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.5",
        }
        outcome: list[T] = []
        failure: list[BaseException] = []

        def worker() -> None:
            try:
                outcome.append(work())
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread, which re-raises it
                failure.append(exc)

        with _environment(variables):
            try:
                import mlflow  # noqa: F401 - imported here, under the variables above
            except ImportError:
                raise HistoryError(
                    f"{self.shown}: the MLflow client is not installed: pip install 'pytest-metricgate[mlflow]'"
                ) from None
            thread = threading.Thread(target=worker, name="metricgate-mlflow", daemon=True)
            thread.start()
            thread.join(timeout)
            if thread.is_alive():
                raise _TimedOut(
                    f"{self.shown}: {call.doing} failed: no answer within {timeout:g} s "
                    "([tool.metricgate.mlflow] timeout)"
                )
        if failure:
            error = failure[0]
            if isinstance(error, HistoryError):
                raise error
            raise HistoryError(f"{self.shown}: {call.doing} failed: {self.cause(error)}") from None
        return outcome[0]

    def cause(self, error: BaseException) -> str:
        """One line saying why a call failed, with every secret and URI user-info masked."""
        text = str(error)
        code = getattr(error, "error_code", None)
        if "Connection refused" in text:
            reason = "connection refused (is the tracking server running?)"
        elif "RemoteDisconnected" in text or "Connection aborted" in text or "Connection reset" in text:
            reason = "the server closed the connection without an answer"
        elif "timed out" in text or "Read timeout" in text:
            reason = f"no answer within {self.settings.timeout:g} s ([tool.metricgate.mlflow] timeout)"
        elif re.search(r"\b401\b|Unauthorized|UNAUTHENTICATED", text):
            reason = "the server refused the credentials (HTTP 401); check MLFLOW_TRACKING_USERNAME/PASSWORD or TOKEN"
        elif re.search(r"\b403\b|Forbidden|PERMISSION_DENIED", text):
            reason = "the server refused access (HTTP 403); check the user's permissions on the experiment"
        elif "Max retries exceeded" in text or "NameResolutionError" in text or "Failed to establish" in text:
            reason = "cannot connect: " + _first_line(re.sub(r"^.*Caused by ", "", text))
        else:
            reason = (f"{code}: " if code and not text.startswith(str(code)) else "") + _first_line(text)
        return _masked(reason, self.settings)


def _masked(text: str, settings: MlflowSettings) -> str:
    text = text.replace(settings.tracking_uri, settings.shown_uri)
    text = re.sub(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@", r"\1***@", text)
    for variable in _SECRET_VARIABLES:
        secret = os.environ.get(variable, "")
        if len(secret) >= 3:
            text = text.replace(secret, "***")
    return text


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "unknown error"
    return line if len(line) <= 300 else line[:297] + "..."


@contextlib.contextmanager
def _environment(variables: Mapping[str, str]) -> Iterator[None]:
    """Set ``variables`` for the gate's own MLflow calls and restore what was there after."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _same(stored: float, sent: float) -> bool:
    return stored == sent or (math.isnan(stored) and math.isnan(sent))


def _now_ms() -> int:
    return int(time.time() * 1000)


def _milliseconds(timestamp: str | None) -> int:
    """A run's ISO timestamp as MLflow's start time, so the server orders copied runs by when they ran."""
    if timestamp:
        try:
            moment = _dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
        except ValueError:
            return _now_ms()
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=_dt.timezone.utc)
        return int(moment.timestamp() * 1000)
    return _now_ms()


def _iso(milliseconds: int | None) -> str | None:
    if milliseconds is None:
        return None
    moment = _dt.datetime.fromtimestamp(milliseconds / 1000, tz=_dt.timezone.utc)
    return moment.replace(microsecond=0).isoformat()


__all__ = ["Champion", "MlflowStore", "champion", "metric_key", "read_run", "run_from_mlflow"]
