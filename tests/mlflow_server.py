"""A real ``mlflow server`` on 127.0.0.1 for the tests, started on a free port and stopped by its PID.

The server comes from the full ``mlflow`` package, which the test virtual environment does not hold
(it holds only the client, ``mlflow-skinny``, as users do): ``.ci/run`` installs it into
``.venv-mlflow``, or ``METRICGATE_MLFLOW_SERVER`` names an ``mlflow`` executable. Without one the
server tests skip, except under ``METRICGATE_REQUIRE_MLFLOW=1`` (set by ``.ci/run``), where a
missing server is a failure: CI must prove these tests ran.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def server_executable() -> str:
    """The ``mlflow`` executable that can run a server, or skip (fail under METRICGATE_REQUIRE_MLFLOW=1)."""
    candidates = [
        os.environ.get("METRICGATE_MLFLOW_SERVER", ""),
        str(ROOT / ".venv-mlflow" / "bin" / "mlflow"),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    message = "no MLflow server: run .ci/run, or set METRICGATE_MLFLOW_SERVER to a full mlflow's executable"
    if os.environ.get("METRICGATE_REQUIRE_MLFLOW") == "1":
        pytest.fail(message + " (METRICGATE_REQUIRE_MLFLOW=1)")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MlflowServer:
    """One ``mlflow server`` process group; ``uri`` is its tracking URI."""

    directory: Path
    backend: str = ""
    extra_args: Sequence[str] = ()
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180.0) -> MlflowServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        backend = self.backend or f"sqlite:///{self.directory / 'mlflow.db'}"
        command = [
            server_executable(),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--backend-store-uri",
            backend,
            # Proxied artifacts (mlflow-artifacts:/ URIs): --default-artifact-root would hand the
            # client a path on the server's disk.
            "--artifacts-destination",
            str(self.directory / "artifacts"),
            "--workers",
            "2",
            *self.extra_args,
        ]
        env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", **self.env}
        log = open(self.directory / "server.log", "ab")  # noqa: SIM115 - the server process holds it
        # A session of its own: the server forks workers, and stopping it means stopping them all.
        self.process = subprocess.Popen(
            command, cwd=self.directory, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {self.log_tail()}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.uri}/health", timeout=2) as response,
            ):
                if response.status == 200:
                    return self
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"mlflow server did not answer /health within {timeout:g} s: {self.log_tail()}")

    def log_tail(self) -> str:
        path = self.directory / "server.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the server's process group (its PID is the group's id), then reap it."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


@contextlib.contextmanager
def running(server: MlflowServer) -> Iterator[MlflowServer]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Silent:
    """A socket on 127.0.0.1 that accepts connections and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self.accept, daemon=True)
        self.thread.start()

    def accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = self.sock.accept()
                self.accepted.append(connection)

    def close(self) -> None:
        self.sock.close()
        for connection in self.accepted:
            connection.close()


class Proxy:
    """A TCP proxy to a server that calls ``on_request(first_line)`` before forwarding each request.

    Lets a test act at an exact point of a conversation, such as killing the server once a run exists.
    """

    def __init__(self, target_port: int, on_request: Callable[[bytes], None]) -> None:
        self.target_port = target_port
        self.on_request = on_request
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.sock.accept()
                threading.Thread(target=self.serve, args=(client,), daemon=True).start()

    def serve(self, client: socket.socket) -> None:
        with contextlib.suppress(OSError), client:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=30)
            with upstream:
                threading.Thread(target=self.pipe, args=(upstream, client), daemon=True).start()
                while True:
                    data = client.recv(65536)
                    if not data:
                        return
                    if data[:8].split(b" ")[0] in (b"GET", b"POST", b"PATCH", b"DELETE", b"PUT"):
                        self.on_request(data.split(b"\r\n", 1)[0])
                    upstream.sendall(data)

    @staticmethod
    def pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.sock.close()


def postgres_bin() -> Path | None:
    """Debian's PostgreSQL server programs (``initdb``, ``pg_ctl``), which are not on PATH there."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return candidates[-1].parent if candidates else None


@contextlib.contextmanager
def postgres(directory: Path) -> Iterator[str]:
    """A PostgreSQL cluster made in ``directory``, on 127.0.0.1; yields a backend URI for MLflow."""
    bindir = postgres_bin()
    assert bindir is not None
    data = directory / "pgdata"
    port = free_port()
    user = "metricgate"
    run_as: list[str] = []
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root: hand the cluster to the "postgres" (or "nobody") user.
        import pwd

        owner = next(name for name in ("postgres", "nobody") if _has_user(name))
        run_as = ["runuser", "-u", owner, "--"]
        directory.mkdir(parents=True, exist_ok=True)
        record = pwd.getpwnam(owner)
        os.chown(directory, record.pw_uid, record.pw_gid)
        for parent in directory.parents:  # the owner must be able to reach the directory
            if parent.stat().st_mode & 0o001 == 0:
                parent.chmod(parent.stat().st_mode | 0o001)
    subprocess.run(
        [*run_as, str(bindir / "initdb"), "-D", str(data), "-U", user, "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    pg_ctl = str(bindir / "pg_ctl")
    subprocess.run(
        [
            *run_as,
            pg_ctl,
            "-D",
            str(data),
            "-l",
            str(directory / "postgres.log"),
            "-o",
            f"-h 127.0.0.1 -p {port} -k {directory}",
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        # The cluster's own "postgres" database: no createdb (not on Debian's PATH) needed.
        yield f"postgresql+psycopg2://{user}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*run_as, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], check=False, capture_output=True
        )


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
