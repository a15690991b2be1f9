"""The file stores: JSONL, CSV and inline arrays. Read what is needed; append safely.

Reading takes only the newest runs the gate needs, from the end of the file, so
its cost does not grow with the history; lines before them are not read and so
not validated. Within what is read, a malformed line is a ``HistoryError``
naming file and line. A line that is a cut-off prefix of a JSON object, the
residue of a writer killed mid-append, is only a warning: skipped for judging,
never rewritten or dropped.

Writing is an append under an exclusive lock (``flock``): one ``write`` of one
line for JSONL and for a CSV whose header fits; a CSV whose header must grow is
rewritten to a temporary file and atomically replaced, under the same lock.
Reading never writes.

A run's extra fields (``Run.extra``) are top-level string keys of a JSONL line
and descriptive columns of a CSV.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from ..config import HistorySpec
from ..errors import HistoryError
from ..values import Measurement, Run, describe, measurement_from_json
from . import HistoryTail, Recording

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

# CSV columns with these names describe the run even when their cells are numbers
# (a week number is a label, not a metric).
DESCRIPTIVE_COLUMNS = frozenset(
    {
        "run",
        "timestamp",
        "commit",
        "week",
        "date",
        "day",
        "month",
        "year",
        "time",
        "label",
        "id",
        "run_id",
        "version",
        "build",
        "tag",
        "sha",
        # the team workflow's fields (see ``baselines``): a branch named "2024" is still a branch
        "branch",
        "marks",
    }
)
_BLOCK = 1 << 16


# JSONL keys that are not extra fields: the run's own description and its metrics.
_JSONL_KEYS = ("run", "timestamp", "commit", "metrics")


class _FileStore:
    """A history file (JSONL or CSV): a tail read under a shared lock, a locked atomic append."""

    writable = True

    def __init__(self, spec: HistorySpec) -> None:
        assert spec.path is not None
        self.spec = spec
        self.path = spec.path
        self.shown = spec.shown

    def read(self, *, limit: int, gated: frozenset[str]) -> HistoryTail:
        """The newest ``limit`` runs; a missing file is an empty history (a first run)."""
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 - closed by the with below, after the error mapping
        except FileNotFoundError:
            return HistoryTail(runs=(), shown=self.shown, exists=False)
        except IsADirectoryError:
            raise HistoryError(f"{self.shown}: history must be a file, found a directory") from None
        except OSError as exc:
            raise HistoryError(f"{self.shown}: cannot read history: {_strerror(exc)}") from None
        with handle, _shared_lock(handle):
            if os.path.isdir(self.path):  # pragma: no cover - open() raised already on POSIX
                raise HistoryError(f"{self.shown}: history must be a file, found a directory")
            try:
                return self.read_tail(handle, limit, gated)
            except OSError as exc:
                raise HistoryError(f"{self.shown}: cannot read history: {_strerror(exc)}") from None

    def read_tail(self, handle: io.BufferedReader, limit: int, gated: frozenset[str]) -> HistoryTail:
        raise NotImplementedError

    def append(self, run: Run, recording: Recording | None = None) -> None:
        """Append ``run`` under an exclusive lock.

        ``recording.column_order`` puts these metrics first when a CSV is created
        or its header grows (the configured metrics, in config order).
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with _exclusive_lock(self.path) as fd:
                self.append_locked(fd, run, recording.column_order if recording else ())
        except OSError as exc:
            raise HistoryError(f"{self.shown}: cannot append to history: {_strerror(exc)}") from None

    def append_locked(self, fd: int, run: Run, column_order: Sequence[str]) -> None:
        raise NotImplementedError


class JsonlStore(_FileStore):
    """One JSON object per line: ``{"run": ..., "timestamp": ..., "commit": ..., "metrics": {...}}``."""

    def read_tail(self, handle: io.BufferedReader, limit: int, gated: frozenset[str]) -> HistoryTail:
        return _JsonlReader(handle, self.shown).read(limit)

    def append_locked(self, fd: int, run: Run, column_order: Sequence[str]) -> None:
        _append_jsonl(fd, run)


class CsvStore(_FileStore):
    """A header row naming the columns, then one row per run; numeric columns are metrics."""

    def read_tail(self, handle: io.BufferedReader, limit: int, gated: frozenset[str]) -> HistoryTail:
        return _CsvReader(handle, self.shown, gated).read(limit)

    def append_locked(self, fd: int, run: Run, column_order: Sequence[str]) -> None:
        _append_csv(fd, self.path, run, column_order)


class InlineStore:
    """Arrays in ``[tool.metricgate.history]``, one value per run: read-only."""

    writable = False

    def __init__(self, spec: HistorySpec) -> None:
        assert spec.inline is not None
        self.columns = spec.inline
        self.shown = spec.shown

    def read(self, *, limit: int, gated: frozenset[str]) -> HistoryTail:
        return _read_inline(self.columns, self.shown, limit)

    def append(self, run: Run, recording: Recording | None = None) -> None:
        raise HistoryError(f"{self.shown}: an inline history is read-only; nothing can be appended to it")


def _strerror(exc: OSError) -> str:
    return exc.strerror or str(exc)


# -- reading lines from the end ------------------------------------------------


def _lines_from_end(handle: io.BufferedReader) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset, line)`` newest first, without line ends, reading backwards in blocks."""
    handle.seek(0, os.SEEK_END)
    position = handle.tell()
    pending = b""
    while position > 0:
        step = min(_BLOCK, position)
        position -= step
        handle.seek(position)
        block = handle.read(step) + pending
        parts = block.split(b"\n")
        pending = parts[0]  # may continue in the previous block
        offset = position + len(parts[0]) + 1
        lines = []
        for part in parts[1:]:
            lines.append((offset, part))
            offset += len(part) + 1
        yield from reversed(lines)
    yield 0, pending


def _line_number(handle: io.BufferedReader, offset: int) -> int:
    """The 1-based line number of the line starting at ``offset`` (reads the file up to it)."""
    handle.seek(0)
    count, remaining = 0, offset
    while remaining > 0:
        block = handle.read(min(_BLOCK * 16, remaining))
        if not block:
            break
        count += block.count(b"\n")
        remaining -= len(block)
    return count + 1


# -- JSONL ---------------------------------------------------------------------


class _Reader:
    """A history file being read: names a line by its number, counted only when a message needs it."""

    def __init__(self, handle: io.BufferedReader, shown: str) -> None:
        self.handle = handle
        self.shown = shown

    def where(self, offset: int) -> str:
        return f"{self.shown}: line {_line_number(self.handle, offset)}"


class _JsonlReader(_Reader):
    def __init__(self, handle: io.BufferedReader, shown: str) -> None:
        super().__init__(handle, shown)
        self.torn: list[int] = []

    def read(self, limit: int) -> HistoryTail:
        newest_first: list[Run] = []
        more = False
        for offset, raw in _lines_from_end(self.handle):
            if not raw.strip():
                continue
            if len(newest_first) >= limit:
                more = True
                break
            run = self.parse(offset, raw)
            if run is not None:
                newest_first.append(run)
        warnings = tuple(
            f"{self.where(offset)}: incomplete run (a write cut off mid-line), skipped"
            for offset in sorted(self.torn)
        )
        return HistoryTail(
            runs=tuple(reversed(newest_first)),
            shown=self.shown,
            older_runs_left_out=more,
            label_name="run",
            warnings=warnings,
        )

    def parse(self, offset: int, raw: bytes) -> Run | None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.end == len(raw) and is_cut_off_object(raw[: exc.start].decode("utf-8", "replace")):
                self.torn.append(offset)
                return None
            raise HistoryError(f"{self.where(offset)}: not UTF-8 text") from None
        try:
            data = json.loads(text)
        except RecursionError:
            raise HistoryError(f"{self.where(offset)}: JSON nested too deeply") from None
        except json.JSONDecodeError as exc:
            if is_cut_off_object(text):
                self.torn.append(offset)
                return None
            raise HistoryError(
                f"{self.where(offset)}: not valid JSON: {exc.msg} (column {exc.colno})"
            ) from None
        return self.run(offset, data)

    def run(self, offset: int, data: object) -> Run:
        if not isinstance(data, dict):
            raise HistoryError(
                f'{self.where(offset)}: each line must be a JSON object with "metrics", '
                f"found {describe(data)}"
            )
        metrics = data.get("metrics")
        if not isinstance(metrics, dict):
            found = "none" if "metrics" not in data else describe(metrics)
            raise HistoryError(
                f'{self.where(offset)}: "metrics" must be an object of metric values, found {found}'
            )
        values: dict[str, Measurement] = {}
        for name, raw in metrics.items():
            try:
                values[name] = measurement_from_json(raw)
            except ValueError as exc:
                raise HistoryError(f'{self.where(offset)}: metric "{name}" {exc}') from None
        described = {}
        for key in ("run", "timestamp", "commit"):
            raw = data.get(key)
            if raw is not None and (isinstance(raw, bool) or not isinstance(raw, (str, int, float))):
                raise HistoryError(
                    f'{self.where(offset)}: "{key}" must be a string or null, found {describe(raw)}'
                )
            described[key] = None if raw is None else str(raw)
        label = described["run"] or described["timestamp"] or described["commit"]
        # Other string keys are the run's extra fields; keys of other types were never ours.
        extra = {key: raw for key, raw in data.items() if key not in _JSONL_KEYS and isinstance(raw, str)}
        return Run(metrics=values, label=label, extra=extra, **described)


def is_cut_off_object(text: str) -> bool:
    """True when ``text`` is a proper prefix of some JSON object: the parse fails only at its end.

    Python's own decoder reports where it gave up, not whether more text would
    have helped, so this walks the grammar and asks exactly that.
    """
    scanner = _PrefixScanner(text)
    try:
        scanner.skip_space()
        if scanner.at_end() or text[scanner.index] != "{":
            return False
        scanner.value()
    except _RanOut:
        return True
    except (_Invalid, RecursionError):  # our own appends never nest deeply
        return False
    return False  # a complete object followed by something else


class _RanOut(Exception):
    pass


class _Invalid(Exception):
    pass


class _PrefixScanner:
    """A JSON recogniser that tells 'ran out of text' apart from 'wrong text'."""

    _LITERALS = ("true", "false", "null", "NaN", "Infinity", "-Infinity")

    def __init__(self, text: str) -> None:
        self.text = text
        self.index = 0

    def at_end(self) -> bool:
        return self.index >= len(self.text)

    def skip_space(self) -> None:
        while not self.at_end() and self.text[self.index] in " \t\r\n":
            self.index += 1

    def peek(self) -> str:
        self.skip_space()
        if self.at_end():
            raise _RanOut
        return self.text[self.index]

    def value(self) -> None:
        char = self.peek()
        if char == "{":
            self.container("}", keyed=True)
        elif char == "[":
            self.container("]", keyed=False)
        elif char == '"':
            self.string()
        elif char == "-" or char.isdigit():
            if not self.literal(only=("-Infinity",)):
                self.number()
        elif not self.literal(only=self._LITERALS):
            raise _Invalid

    def container(self, close: str, *, keyed: bool) -> None:
        self.index += 1
        if self.peek() == close:
            self.index += 1
            return
        while True:
            if keyed:
                if self.peek() != '"':
                    raise _Invalid
                self.string()
                if self.peek() != ":":
                    raise _Invalid
                self.index += 1
            self.value()
            char = self.peek()
            self.index += 1
            if char == close:
                return
            if char != ",":
                raise _Invalid

    def string(self) -> None:
        text, index = self.text, self.index + 1
        while True:
            if index >= len(text):
                raise _RanOut
            char = text[index]
            if char == '"':
                self.index = index + 1
                return
            if char == "\\":
                index += 1
                if index >= len(text):
                    raise _RanOut
                if text[index] == "u":
                    for _ in range(4):
                        index += 1
                        if index >= len(text):
                            raise _RanOut
                        if text[index] not in "0123456789abcdefABCDEF":
                            raise _Invalid
                elif text[index] not in '"\\/bfnrt':
                    raise _Invalid
            elif ord(char) < 0x20:
                raise _Invalid
            index += 1

    def number(self) -> None:
        # -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
        text = self.text
        if text[self.index] == "-":
            self.index += 1
        self.digits(leading=True)
        if not self.at_end() and text[self.index] == ".":
            self.index += 1
            self.digits()
        if not self.at_end() and text[self.index] in "eE":
            self.index += 1
            if not self.at_end() and text[self.index] in "+-":
                self.index += 1
            self.digits()

    def digits(self, *, leading: bool = False) -> None:
        if self.at_end():
            raise _RanOut
        if not self.text[self.index].isdigit():
            raise _Invalid
        if leading and self.text[self.index] == "0":
            self.index += 1
            return
        while not self.at_end() and self.text[self.index].isdigit():
            self.index += 1

    def literal(self, *, only: tuple[str, ...]) -> bool:
        rest = self.text[self.index :]
        for word in only:
            if rest.startswith(word):
                self.index += len(word)
                return True
            if word.startswith(rest):
                raise _RanOut
        return False


# -- CSV -----------------------------------------------------------------------


class _CsvReader(_Reader):
    def __init__(self, handle: io.BufferedReader, shown: str, gated: frozenset[str]) -> None:
        super().__init__(handle, shown)
        self.gated = gated

    def decode(self, offset: int, raw: bytes) -> list[str]:
        try:
            text = raw.decode("utf-8-sig" if offset == 0 else "utf-8")
        except UnicodeDecodeError:
            raise HistoryError(f"{self.where(offset)}: not UTF-8 text") from None
        try:
            rows = list(csv.reader([text.rstrip("\r")], strict=True))
        except csv.Error as exc:
            raise HistoryError(f"{self.where(offset)}: not a CSV row: {exc}") from None
        return rows[0] if rows else []

    def read(self, limit: int) -> HistoryTail:
        self.handle.seek(0)
        first = self.handle.readline()
        if not first.strip():
            raise HistoryError(f"{self.shown}: empty CSV file; expected a header row naming the columns")
        header = [name.strip() for name in self.decode(0, first.rstrip(b"\n"))]
        self.check_header(header)
        header_end = len(first)

        newest_first: list[tuple[int, list[str]]] = []
        more = False
        for offset, raw in _lines_from_end(self.handle):
            if offset < header_end:
                break
            if not raw.strip():
                continue
            if len(newest_first) >= limit:
                more = True
                break
            cells = self.decode(offset, raw)
            if len(cells) != len(header):
                raise HistoryError(
                    f"{self.where(offset)}: {len(cells)} cells, but the header has {len(header)} columns"
                )
            newest_first.append((offset, cells))
        rows = list(reversed(newest_first))
        metric_columns = self.metric_columns(header, rows)
        descriptive = [name for name in header if name not in metric_columns]
        label_name = descriptive[0] if descriptive else None
        runs = tuple(self.run(header, metric_columns, label_name, offset, cells) for offset, cells in rows)
        return HistoryTail(runs=runs, shown=self.shown, older_runs_left_out=more, label_name=label_name)

    def check_header(self, header: list[str]) -> None:
        seen: set[str] = set()
        for index, name in enumerate(header, start=1):
            if not name:
                raise HistoryError(f"{self.shown}: line 1: column {index} has no name")
            if name in seen:
                raise HistoryError(f'{self.shown}: line 1: duplicate column "{name}"')
            seen.add(name)

    def metric_columns(self, header: list[str], rows: list[tuple[int, list[str]]]) -> set[str]:
        columns = set()
        for index, name in enumerate(header):
            if name in self.gated:
                for offset, cells in rows:
                    cell = cells[index].strip()
                    if cell and _number(cell) is None:
                        raise HistoryError(
                            f'{self.where(offset)}: column "{name}" must hold numbers, got {describe(cell)}'
                        )
                columns.add(name)
            elif name.lower() not in DESCRIPTIVE_COLUMNS and all(
                _number(cells[index].strip()) is not None for _, cells in rows if cells[index].strip()
            ):
                columns.add(name)
        return columns

    def run(
        self,
        header: list[str],
        metric_columns: set[str],
        label_name: str | None,
        offset: int,
        cells: list[str],
    ) -> Run:
        metrics: dict[str, Measurement] = {}
        described: dict[str, str] = {}
        for name, cell in zip(header, cells):
            cell = cell.strip()
            if not cell:
                continue
            if name in metric_columns:
                value = _number(cell)
                assert value is not None
                metrics[name] = Measurement(value)
            else:
                described[name] = cell
        label = described.get(label_name) if label_name else None
        return Run(
            metrics=metrics,
            label=label,
            run=described.get("run"),
            timestamp=described.get("timestamp"),
            commit=described.get("commit"),
            extra={
                name: cell for name, cell in described.items() if name not in ("run", "timestamp", "commit")
            },
        )


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


# -- inline ----------------------------------------------------------------------


def _read_inline(columns: Mapping[str, Sequence[float]], shown: str, limit: int) -> HistoryTail:
    length = max((len(values) for values in columns.values()), default=0)
    start = max(0, length - limit)
    runs = tuple(
        Run(metrics={name: Measurement(values[index]) for name, values in columns.items()})
        for index in range(start, length)
    )
    return HistoryTail(runs=runs, shown=shown, older_runs_left_out=start > 0)


# -- appending -------------------------------------------------------------------


def jsonl_line(run: Run) -> str:
    """The JSONL line (no newline) that stores ``run``."""
    metrics = {name: m.to_json() for name, m in run.metrics.items()}
    record: dict[str, object] = {"run": run.run, "timestamp": run.timestamp, "commit": run.commit}
    record.update((key, value) for key, value in run.extra.items() if key not in _JSONL_KEYS)
    record["metrics"] = metrics
    return json.dumps(record, allow_nan=True, separators=(", ", ": "))


def _append_jsonl(fd: int, run: Run) -> None:
    data = (jsonl_line(run) + "\n").encode("ascii")
    if _needs_newline(fd):
        # End a cut-off line first, so that residue stays a line of its own.
        data = b"\n" + data
    _write_all(fd, data)
    os.fsync(fd)


def _needs_newline(fd: int) -> bool:
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


def _append_csv(fd: int, path: Path, run: Run, column_order: Sequence[str]) -> None:
    size = os.fstat(fd).st_size
    existing = os.pread(fd, size, 0) if size else b""
    text = existing.decode("utf-8-sig") if existing else ""
    first_line = text.split("\n", 1)[0].rstrip("\r")
    header = [name.strip() for name in next(csv.reader([first_line]))] if first_line.strip() else []
    if not header:
        header = ["run", "timestamp", "commit"]
    wanted = sorted(name for name in run.extra if name not in run.metrics)
    wanted += [name for name in column_order if name in run.metrics]
    wanted += sorted(name for name in run.metrics if name not in wanted)
    grown = header + [name for name in wanted if name not in header]
    row = _csv_row(grown, run)
    if existing and grown == header:
        data = row.encode("utf-8")
        if _needs_newline(fd):
            data = b"\n" + data
        _write_all(fd, data)
        os.fsync(fd)
        return
    # The header must grow (or the file is new): rewrite through a temporary file
    # and an atomic replace, still under the lock.
    body = [_csv_line(grown)]
    lines = text.split("\n")[1:] if existing else []
    padding = "," * (len(grown) - len(header))
    for line in lines:
        line = line.rstrip("\r")
        if line.strip():
            body.append(line + padding + "\n")
    body.append(row)
    _replace_atomically(path, "".join(body).encode("utf-8"), existing_fd=fd if existing else None)


def _csv_row(header: Sequence[str], run: Run) -> str:
    # Only known descriptive columns get the run's label: an unknown column may be a
    # metric this run did not measure, and a label there would break its numbers.
    label_column = (
        "run"
        if "run" in header
        else next(
            (
                name
                for name in header
                if name.lower() in DESCRIPTIVE_COLUMNS and name not in ("timestamp", "commit")
            ),
            None,
        )
    )
    cells = []
    for name in header:
        if name in run.metrics:
            cells.append(repr(run.metrics[name].value))
        elif name == "timestamp":
            cells.append(run.timestamp or "")
        elif name == "commit":
            cells.append(run.commit or "")
        elif name in run.extra:
            cells.append(run.extra[name])
        elif name == label_column:
            cells.append(run.run or run.timestamp or "")
        else:
            cells.append("")
    return _csv_line(cells)


def _csv_line(cells: Sequence[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue()


def _replace_atomically(path: Path, data: bytes, *, existing_fd: int | None) -> None:
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if existing_fd is not None:
            os.fchmod(handle, os.fstat(existing_fd).st_mode & 0o7777)
        _write_all(handle, data)
        os.fsync(handle)
        os.close(handle)
        handle = -1
        os.replace(temp_name, path)
    except BaseException:
        if handle != -1:
            os.close(handle)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


@contextlib.contextmanager
def _exclusive_lock(path: Path) -> Iterator[int]:
    """An fd of ``path`` opened for appending, holding an exclusive lock on the file that is there now.

    A writer that replaced the file while we waited leaves us holding the old
    inode: re-open and lock again until the locked file is the one at ``path``.
    """
    while True:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            held, current = os.fstat(fd), os.stat(path)
        except FileNotFoundError:
            os.close(fd)
            continue
        except BaseException:
            os.close(fd)
            raise
        if (held.st_dev, held.st_ino) != (current.st_dev, current.st_ino):
            os.close(fd)
            continue
        try:
            yield fd
        finally:
            os.close(fd)  # closing releases the lock
        return


@contextlib.contextmanager
def _shared_lock(handle: io.BufferedReader) -> Iterator[None]:
    """Wait for a writer mid-append, so a reader never sees half of a line being written."""
    if fcntl is not None:
        with contextlib.suppress(OSError):
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
    yield
