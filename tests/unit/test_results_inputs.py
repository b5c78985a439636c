"""Run directories and scenario files as others leave them (found by fuzzing): every bad
record, environment or scenario is one line naming the file (and line and field), a
complete bad last line is not "torn", nothing kept is rewritten, nothing hangs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from clusterbench.errors import ClusterbenchError, ScenarioError, UsageError
from clusterbench.results.record import Record
from clusterbench.results.store import RECORDS, RunStore
from clusterbench.runner.scenario import load_scenario
from clusterbench.workloads.registry import resolve


def good(**changes) -> dict:
    return {"run_id": "r", "workload": "mc", "size": "tiny", "scheduler": "threads",
            "workers": 2, "repeat": 0, "seconds": 1.5, "verified": True} | changes


def run_dir(tmp_path, *lines: str, end: str = "\n"):
    directory = tmp_path / "run"
    directory.mkdir(exist_ok=True)
    (directory / RECORDS).write_text("\n".join(lines) + end, encoding="utf-8")
    return RunStore(directory)


@pytest.mark.parametrize(("line", "message"), [
    ("[1, 2]", "not a record (a JSON array)"),
    ("42", "not a record (a JSON number)"),
    ("[" * 100_000, "not a record (nested too deeply)"),
    (json.dumps(good(seconds="fast")),
     "field 'seconds': must be a number of seconds, got \"fast\""),
    (json.dumps(good(seconds=-1.0)), "field 'seconds': must be finite and not negative, got -1.0"),
    ('{"run_id": "r", "workload": "mc", "size": "tiny", "scheduler": "threads", "workers": 2, '
     '"repeat": 0, "seconds": Infinity, "verified": true}',
     "field 'seconds': must be finite and not negative, got Infinity"),
    ('{"run_id": "r", "workload": "mc", "size": "tiny", "scheduler": "threads", "workers": 2, '
     '"repeat": 0, "seconds": NaN, "verified": true}',
     "field 'seconds': a verified repeat needs a time above 0, got NaN"),
    (json.dumps(good(seconds=0)), "field 'seconds': a verified repeat needs a time above 0"),
    (json.dumps(good(seconds=1e308)), "field 'seconds': must be at most 1e+09 (31 years)"),
    (json.dumps(good(workers=0)), "field 'workers': must be an integer of at least 1, got 0"),
    (json.dumps(good(workers="2")), "field 'workers': must be an integer of at least 1, got \"2\""),
    (json.dumps(good(verified="false")), "field 'verified': must be true or false, got \"false\""),
    (json.dumps(good(worker_names="abc")), "field 'worker_names': must be a list of strings"),
    (json.dumps(good(metrics="oops")), "field 'metrics': must be a mapping, got \"oops\""),
    (json.dumps({k: v for k, v in good().items() if k != "seconds"}),
     "field 'seconds' is missing"),
    (json.dumps(good(schema_version=99)), "schema version 99 is newer than this clusterbench"),
    # the report indexed both levels (AttributeError) and turned counts into floats
    (json.dumps(good(worker_activity={"w1": 5})),
     "field 'worker_activity': worker 'w1': must map figures to numbers"),
    (json.dumps(good(workers=10**400)), "field 'workers': must be at most 1,000,000,000,000"),
])
def test_a_bad_record_names_its_line_and_field(tmp_path, line, message):
    store = run_dir(tmp_path, json.dumps(good()), line, json.dumps(good(repeat=1)))
    with pytest.raises(ClusterbenchError) as info:
        store.records()
    assert str(info.value).startswith(f"{store.directory / RECORDS}:2: {message}")
    assert "\n" not in str(info.value)


def test_a_failed_repeat_keeps_its_nan_time(tmp_path):
    failed = good(seconds=float("nan"), verified=False, error="boom")
    store = run_dir(tmp_path, json.dumps(good()), json.dumps(failed))
    assert [r.error for r in store.records()] == [None, "boom"]


def test_a_complete_bad_last_line_is_an_error_not_torn(tmp_path):
    """Moving a whole line aside as "torn" lost a record someone could mend."""
    store = run_dir(tmp_path, json.dumps(good()), json.dumps(good(seconds="x")))
    before = (store.directory / RECORDS).read_bytes()
    with pytest.raises(ClusterbenchError, match=r":2: field 'seconds'"):
        store.records()
    assert (store.directory / RECORDS).read_bytes() == before
    assert not (store.directory / (RECORDS + ".torn")).exists()


def test_setting_a_torn_line_aside_keeps_the_other_records_byte_for_byte(tmp_path):
    kept = [json.dumps(good(detail="naïve — 測試 \u2028 x"), ensure_ascii=False),
            json.dumps(good(repeat=1))]
    store = run_dir(tmp_path, *kept, '{"run_id": "r", "work', end="")
    assert len(store.records()) == 2 and store.torn
    assert (store.directory / RECORDS).read_bytes() == ("\n".join(kept) + "\n").encode()


def test_a_run_with_no_records_is_refused_before_anything_is_redrawn(tmp_path):
    store = run_dir(tmp_path, "", "")
    assert store.records() == []  # resume completes such a run
    with pytest.raises(UsageError, match=r"records.jsonl: no records \(nothing was measured"):
        store.measured()
    report = store.directory / "report.md"
    report.write_text("the last report\n")
    done = subprocess.run([sys.executable, "-m", "clusterbench", "report", str(store.directory)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "no records" in done.stderr
    assert report.read_text() == "the last report\n"


@pytest.mark.parametrize(("text", "message"), [
    ('{"hostname": "x", ', "not valid JSON (Expecting property name enclosed in double quotes"),
    ("", "not valid JSON (Expecting value"),
    ("null", "not a JSON object (the run's environment)"),
    ("[1, 2]", "not a JSON object (the run's environment)"),
])
def test_a_bad_environment_json_is_one_line(tmp_path, text, message):
    store = run_dir(tmp_path, json.dumps(good()))
    (store.directory / "environment.json").write_text(text)
    with pytest.raises(ClusterbenchError) as info:
        store.environment()
    assert str(info.value).startswith(f"{store.directory / 'environment.json'}: {message}")


def test_pipes_in_a_run_directory_do_not_hang(tmp_path):
    store = run_dir(tmp_path, json.dumps(good()))
    os.mkfifo(store.directory / "environment.json")
    with pytest.raises(ClusterbenchError, match="environment.json: not a regular file"):
        store.environment()
    (store.directory / RECORDS).unlink()
    os.mkfifo(store.directory / RECORDS)
    with pytest.raises(ClusterbenchError, match="records.jsonl: not a regular file"):
        store.records()


@pytest.mark.parametrize(("content", "message"), [
    (b"workloads: [\xe9]\n", "not UTF-8 text"),
    (b"repeats: 3\nrepeats: 5\n", "duplicate key 'repeats'"),
    (b"[" * 10_000, "nested"),
])
def test_a_bad_scenario_file_is_one_line(tmp_path, content, message):
    path = tmp_path / "mine.yml"
    path.write_bytes(content)
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(path))
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_scenario_pipe_is_refused_at_once(tmp_path):
    path = tmp_path / "pipe.yml"
    os.mkfifo(path)
    with pytest.raises(ScenarioError, match="pipe.yml: not a regular file"):
        load_scenario(str(path))


@pytest.mark.parametrize(("source", "message"), [
    ('raise RuntimeError("no GPU here")\n', "failed ({file}, line 1): RuntimeError: no GPU here"),
    ("def f(:\n", "failed ({file}, line 1): SyntaxError: "),
    ("import sys\nsys.exit(0)\n", "failed ({file}, line 2): SystemExit: 0"),
])
def test_a_workload_module_that_fails_on_import_is_one_line(tmp_path, monkeypatch, source,
                                                            message):
    name = f"wl_broken_{abs(hash(source)) % 10_000}"
    module = tmp_path / f"{name}.py"
    module.write_text(source)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ScenarioError) as info:
        resolve(f"{name}:WORKLOAD")
    assert str(info.value).startswith(
        f"workload '{name}:WORKLOAD': importing '{name}' " + message.format(file=module))
    sys.modules.pop(name, None)


def test_records_written_by_the_runner_read_back(tmp_path):
    store = RunStore.create(tmp_path, "r")
    store.append(Record(**good()))
    store.append(Record(**good(repeat=1, seconds=float("nan"), verified=False, error="x")))
    assert [r.repeat for r in store.records()] == [0, 1]


def test_a_copied_line_or_two_runs_in_one_file_are_refused(tmp_path):
    """Both passed silently: n doubled and the intervals narrowed."""
    store = run_dir(tmp_path, json.dumps(good()), json.dumps(good(repeat=1)),
                    json.dumps(good()))
    with pytest.raises(UsageError, match=r"record 3 repeats record 1 \(same point, repeat and "
                                         r"attempt\)"):
        store.measured()
    store = run_dir(tmp_path, json.dumps(good()), json.dumps(good(run_id="other", repeat=1)))
    with pytest.raises(UsageError, match=r"records of 2 runs \(other, r\) in one file"):
        store.measured()
    retried = run_dir(tmp_path, json.dumps(good(verified=False, error="x", seconds=float("nan"))),
                      json.dumps(good(attempt=1)))
    assert len(retried.measured()) == 2


@pytest.mark.parametrize("name", ["../../x", "{'a': 1}", "my run", ""])
def test_a_scenario_name_is_a_name_it_names_the_run_directory(tmp_path, name):
    path = tmp_path / "mine.yml"
    path.write_text(json.dumps({"name": name, "workloads": ["montecarlo"]}))
    with pytest.raises(ScenarioError, match="field 'name'|name"):
        load_scenario(str(path))


def test_a_scenario_without_a_name_takes_its_file_name_as_a_name(tmp_path):
    path = tmp_path / "my sweep (v2).yml"
    path.write_text(json.dumps({"workloads": ["montecarlo"]}))
    assert load_scenario(str(path)).name == "my-sweep-v2"


@pytest.mark.parametrize(("field", "value", "limit"), [
    ("repeats", 1_000_000_000, "10,000"), ("warmup", 5_000, "1,000"),
    ("stabilize", 1_000_000, "10,000"), ("retries", 1_000, "100")])
def test_scenario_counts_have_an_upper_bound(tmp_path, field, value, limit):
    path = tmp_path / "mine.yml"
    path.write_text(json.dumps({"workloads": ["montecarlo"], field: value}))
    with pytest.raises(ScenarioError, match=f"field '{field}': at most {limit}, got {value:,}"):
        load_scenario(str(path))
