"""The history stores: reading the newest runs, torn lines, CSV columns, and safe appends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_metricgate import stores as history
from pytest_metricgate.config import HistorySpec
from pytest_metricgate.errors import HistoryError
from pytest_metricgate.stores.files import is_cut_off_object, jsonl_line
from pytest_metricgate.values import Measurement, Run


def spec(path: Path) -> HistorySpec:
    return HistorySpec(kind=path.suffix[1:], shown=path.name, path=path)


def read(path: Path, limit: int = 100, gated=frozenset()):
    return history.read(spec(path), limit=limit, gated=frozenset(gated))


def values(tail, name):
    return [run.metrics[name].value for run in tail.runs if name in run.metrics]


# -- JSONL ---------------------------------------------------------------------


def test_jsonl_runs_are_read_oldest_first_with_their_descriptions(tmp_path):
    path = tmp_path / "h.jsonl"
    path.write_text(
        '{"run": "a", "timestamp": "2026-01-01T00:00:00Z", "commit": "abc", "metrics": {"acc": 0.9}}\n'
        "\n"
        '{"metrics": {"acc": {"value": 0.8, "n": 400}}, "run": null}\n'
    )
    tail = read(path)
    assert tail.runs == (
        Run({"acc": Measurement(0.9)}, label="a", run="a", timestamp="2026-01-01T00:00:00Z", commit="abc"),
        Run({"acc": Measurement(0.8, 400)}),
    )
    assert tail.warnings == ()
    assert not tail.older_runs_left_out


def test_a_missing_file_is_an_empty_first_run(tmp_path):
    tail = read(tmp_path / "absent.jsonl")
    assert (tail.exists, tail.runs) == (False, ())


def test_only_the_newest_runs_are_read_and_older_malformed_lines_are_not_validated(tmp_path):
    path = tmp_path / "h.jsonl"
    lines = ["this line is not JSON and lies outside the window"]
    lines += [json.dumps({"metrics": {"acc": index / 1000}}) for index in range(5000)]
    path.write_text("\n".join(lines) + "\n")
    tail = read(path, limit=3)
    assert values(tail, "acc") == [4.997, 4.998, 4.999]
    assert tail.older_runs_left_out


def test_reading_crosses_block_boundaries_without_splitting_lines(tmp_path):
    path = tmp_path / "h.jsonl"
    # lines of ~300 bytes: 1000 of them span several 64 KiB blocks
    runs = [{"run": "x" * 250, "metrics": {"acc": index}} for index in range(1000)]
    path.write_text("".join(json.dumps(run) + "\n" for run in runs))
    assert values(read(path, limit=1000), "acc") == list(range(1000))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("[1, 2]", 'h.jsonl: line 2: each line must be a JSON object with "metrics", found [1, 2]'),
        ('{"run": "a"}', 'h.jsonl: line 2: "metrics" must be an object of metric values, found none'),
        ('{"metrics": [0.9]}', 'h.jsonl: line 2: "metrics" must be an object of metric values, found [0.9]'),
        (
            '{"metrics": {"acc": "0.9"}}',
            'h.jsonl: line 2: metric "acc" must be a number or {"value": number, "n": integer}, got "0.9"',
        ),
        (
            '{"metrics": {"acc": true}}',
            'h.jsonl: line 2: metric "acc" must be a number or {"value": number, "n": integer}, got true',
        ),
        (
            '{"metrics": {"acc": {"value": 0.9, "n": 0}}}',
            'h.jsonl: line 2: metric "acc" "n" must be an integer >= 1, got 0',
        ),
        (
            '{"metrics": {}, "commit": 5.5, "run": []}',
            'h.jsonl: line 2: "run" must be a string or null, found []',
        ),
        ('{"metrics": {}} trailing', "h.jsonl: line 2: not valid JSON: Extra data (column 17)"),
        (
            '{"metrics": {"acc": 0.9,, }}',
            "h.jsonl: line 2: not valid JSON: Expecting property name enclosed in double quotes (column 25)",
        ),
    ],
)
def test_a_malformed_line_is_an_error_naming_file_and_line(tmp_path, line, message):
    path = tmp_path / "h.jsonl"
    path.write_text('{"metrics": {"acc": 0.9}}\n' + line + '\n{"metrics": {"acc": 0.8}}\n')
    with pytest.raises(HistoryError) as error:
        read(path)
    assert str(error.value) == message


def test_a_cut_off_line_is_a_warning_and_is_skipped(tmp_path):
    path = tmp_path / "h.jsonl"
    path.write_text('{"metrics": {"acc": 0.9}}\n{"metrics": {"acc": 0.8}}\n{"metrics": {"acc": 0.')
    tail = read(path)
    assert values(tail, "acc") == [0.9, 0.8]
    assert tail.warnings == ("h.jsonl: line 3: incomplete run (a write cut off mid-line), skipped",)


@pytest.mark.parametrize(
    "text",
    [
        "{",
        '{"',
        '{"metr',
        '{"metrics"',
        '{"metrics": ',
        '{"metrics": {"a": 0.',
        '{"metrics": {"a": 1e',
        '{"metrics": {"a": -',
        '{"metrics": {"a": tr',
        '{"metrics": {"a": Infin',
        '{"m": "\\',
        '{"m": "\\u00',
        '{"metrics": {"a": [1, 2',
        '{"metrics": {"a": 1}',
        '  {"run": "x",',
    ],
)
def test_prefixes_of_json_objects_are_recognised_as_cut_off(text):
    assert is_cut_off_object(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "[1, 2",
        '"text',
        '{"a": 1}}',
        '{"a": 1} x',
        '{"a": x',
        '{"a" 1',
        "{'a': 1",
        '{"a": 01',
        '{"a": tru e',
        '{"a": "\\q',
        '{"a": 1,,',
        '{"metrics": {"a": 1}}',
    ],
)
def test_other_malformed_text_is_not_mistaken_for_a_cut_off_write(text):
    assert not is_cut_off_object(text)


def test_a_cut_off_line_is_ended_by_the_next_append_and_stays_a_warning(tmp_path):
    path = tmp_path / "h.jsonl"
    path.write_text('{"metrics": {"acc": 0.9}}\n{"metrics": {"acc": 0.')
    history.append(spec(path), Run({"acc": Measurement(0.7)}))
    assert path.read_text().splitlines()[1] == '{"metrics": {"acc": 0.'
    tail = read(path)
    assert values(tail, "acc") == [0.9, 0.7]
    assert tail.warnings == ("h.jsonl: line 2: incomplete run (a write cut off mid-line), skipped",)


def test_a_line_cut_inside_a_utf8_character_is_a_cut_off_write(tmp_path):
    path = tmp_path / "h.jsonl"
    path.write_bytes(b'{"metrics": {"acc": 0.9}}\n' + '{"run": "caf\u00e9'.encode()[:-1])
    assert read(path).warnings == ("h.jsonl: line 2: incomplete run (a write cut off mid-line), skipped",)


def test_append_writes_one_jsonl_line_with_n(tmp_path):
    path = tmp_path / "sub" / "h.jsonl"
    run = Run({"acc": Measurement(0.9, 2000), "loss": Measurement(0.25)}, run="r", timestamp="t", commit="c")
    history.append(spec(path), run)
    history.append(spec(path), run)
    assert path.read_text().splitlines() == [jsonl_line(run)] * 2
    assert json.loads(jsonl_line(run)) == {
        "run": "r",
        "timestamp": "t",
        "commit": "c",
        "metrics": {"acc": {"value": 0.9, "n": 2000}, "loss": 0.25},
    }
    assert read(path).runs[-1].metrics == run.metrics


def test_appending_to_an_inline_history_is_refused():
    inline = HistorySpec(
        kind="inline", shown="pyproject.toml [tool.metricgate.history]", inline={"a": (1.0,)}
    )
    with pytest.raises(HistoryError, match="inline history is read-only"):
        history.append(inline, Run({"a": Measurement(1.0)}))


def test_a_directory_is_not_a_history(tmp_path):
    (tmp_path / "h.jsonl").mkdir()
    with pytest.raises(HistoryError, match=r"^h.jsonl: history must be a file, found a directory$"):
        read(tmp_path / "h.jsonl")


def test_an_unreadable_history_is_an_error(tmp_path):
    path = tmp_path / "h.jsonl"
    path.symlink_to(path)  # a loop: unreadable whoever runs the test, root included
    with pytest.raises(
        HistoryError, match=r"^h.jsonl: cannot read history: Too many levels of symbolic links$"
    ):
        read(path)


# -- CSV -----------------------------------------------------------------------


def test_csv_columns_are_metrics_or_descriptions(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("week,model,accuracy,latency,commit\n1,v1,0.9,12,abc\n2,v2,,11.5,def\n")
    tail = read(path, gated={"accuracy"})
    assert tail.label_name == "week"
    assert [run.label for run in tail.runs] == ["1", "2"]
    assert tail.runs[0].metrics == {"accuracy": Measurement(0.9), "latency": Measurement(12.0)}
    assert tail.runs[1].metrics == {"latency": Measurement(11.5)}  # an empty cell: not measured
    assert [run.commit for run in tail.runs] == ["abc", "def"]


def test_csv_reads_only_the_newest_rows_but_always_the_header(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("run,acc\n" + "".join(f"r{i},{i}\n" for i in range(3000)))
    tail = read(path, limit=2, gated={"acc"})
    assert values(tail, "acc") == [2998.0, 2999.0]
    assert tail.older_runs_left_out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "h.csv: empty CSV file; expected a header row naming the columns"),
        ("acc,acc\n1,2\n", 'h.csv: line 1: duplicate column "acc"'),
        ("acc,\n1,2\n", "h.csv: line 1: column 2 has no name"),
        ("week,acc\n1,0.9\n2,high\n", 'h.csv: line 3: column "acc" must hold numbers, got "high"'),
        ("week,acc\n1,0.9\n2,0.8,extra\n", "h.csv: line 3: 3 cells, but the header has 2 columns"),
        ("week,acc\n1\n", "h.csv: line 2: 1 cells, but the header has 2 columns"),
    ],
)
def test_a_malformed_csv_is_an_error_naming_file_and_line(tmp_path, text, message):
    path = tmp_path / "h.csv"
    path.write_text(text)
    with pytest.raises(HistoryError) as error:
        read(path, gated={"acc"})
    assert str(error.value) == message


def test_a_header_only_csv_has_no_runs(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("week,acc\n")
    assert read(path).runs == ()


def test_csv_append_keeps_the_header_when_it_fits(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("week,acc,loss\n1,0.9,0.3\n")
    history.append(spec(path), Run({"acc": Measurement(0.91)}, timestamp="2026-11-25T00:00:00+00:00"))
    assert path.read_text() == "week,acc,loss\n1,0.9,0.3\n2026-11-25T00:00:00+00:00,0.91,\n"


def test_csv_append_grows_the_header_through_a_replace(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("week,acc\n1,0.9\n2,0.8")  # no newline at the end
    path.chmod(0o640)
    history.append(
        spec(path), Run({"acc": Measurement(0.7), "f1": Measurement(0.5)}, run="3"), column_order=["acc"]
    )
    assert path.read_text() == "week,acc,f1\n1,0.9,\n2,0.8,\n3,0.7,0.5\n"
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["h.csv"]  # no temporary file left behind


def test_csv_is_created_with_describing_columns_first(tmp_path):
    path = tmp_path / "h.csv"
    history.append(
        spec(path),
        Run({"b": Measurement(2.0), "a": Measurement(1.0)}, timestamp="t", commit="c"),
        column_order=["b"],
    )
    assert path.read_text() == "run,timestamp,commit,b,a\nt,t,c,2.0,1.0\n"
    assert read(path, gated={"a", "b"}).runs[0].metrics == {"b": Measurement(2.0), "a": Measurement(1.0)}


# -- extra fields and the choice of store ------------------------------------------


def test_extra_fields_are_jsonl_keys_before_the_metrics_and_read_back(tmp_path):
    path = tmp_path / "h.jsonl"
    run = Run({"acc": Measurement(0.9)}, run="r", extra={"branch": "main", "mark": "accepted"})
    history.append(spec(path), run)
    assert path.read_text() == (
        '{"run": "r", "timestamp": null, "commit": null, "branch": "main", "mark": "accepted", '
        '"metrics": {"acc": 0.9}}\n'
    )
    assert read(path).runs[0].extra == {"branch": "main", "mark": "accepted"}


def test_jsonl_keys_that_are_not_strings_are_not_extra_fields(tmp_path):
    path = tmp_path / "h.jsonl"
    path.write_text('{"run": "r", "branch": "dev", "tags": ["x"], "flag": true, "metrics": {"acc": 0.9}}\n')
    assert read(path).runs[0].extra == {"branch": "dev"}


def test_extra_fields_are_csv_columns_added_before_new_metrics(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("week,acc\n1,0.9\n")
    history.append(
        spec(path), Run({"acc": Measurement(0.8), "f1": Measurement(0.5)}, extra={"branch": "main"})
    )
    assert path.read_text() == "week,acc,branch,f1\n1,0.9,,\n,0.8,main,0.5\n"
    assert [run.extra for run in read(path, gated={"acc", "f1"}).runs] == [
        {"week": "1"},
        {"branch": "main"},
    ]


@pytest.mark.parametrize(
    ("kind", "class_name", "writable"),
    [("jsonl", "JsonlStore", True), ("csv", "CsvStore", True), ("inline", "InlineStore", False)],
)
def test_the_configured_kind_chooses_the_store(tmp_path, kind, class_name, writable):
    path = tmp_path / f"h.{kind}"
    inline = {"a": (1.0,)} if kind == "inline" else None
    store = history.open_store(
        HistorySpec(kind=kind, shown="h", path=None if inline else path, inline=inline)
    )
    assert (type(store).__name__, store.writable, store.shown) == (class_name, writable, "h")
