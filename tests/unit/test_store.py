"""records.jsonl survives a crash mid-append (a torn last line is set aside, not fatal) and a
full disk (the sweep stops, every record before stays complete; report files only warn)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from clusterbench.errors import ClusterbenchError, DiskFullError
from clusterbench.report.build import build_report
from clusterbench.results.record import Record
from clusterbench.results.store import RECORDS, RunStore
from tests.fixtures.tmpfs import tiny_tmpfs


def record(workers: int, seconds: float) -> Record:
    return Record(run_id="r", workload="mc", size="tiny", scheduler="processes",
                  workers=workers, repeat=0, seconds=seconds, verified=True)


def store_with(tmp_path, *records: Record) -> RunStore:
    store = RunStore.create(tmp_path, "r")
    for item in records:
        store.append(item)
    return store


def test_a_torn_last_line_is_set_aside_and_the_rest_is_reported(tmp_path):
    store = store_with(tmp_path, record(1, 2.0), record(2, 1.0))
    path = store.directory / RECORDS
    whole = record(2, 1.1).to_json()
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(whole[: len(whole) // 2])  # the disk filled up mid-write
    assert [r.seconds for r in store.records()] == [2.0, 1.0]
    assert "last line was torn" in store.torn and "2 records before it" in store.torn
    assert (store.directory / (RECORDS + ".torn")).read_text() == whole[: len(whole) // 2] + "\n"
    assert len(path.read_text().splitlines()) == 2
    store.append(record(2, 0.9))  # appending after the repair gives a clean file
    assert [r.seconds for r in RunStore(store.directory).records()] == [2.0, 1.0, 0.9]
    built = build_report(store.directory)
    assert built.torn is None and list(built.summary["n"]) == [1, 2]


def test_the_report_names_the_torn_line(tmp_path):
    store = store_with(tmp_path, record(1, 2.0))
    with open(store.directory / RECORDS, "a", encoding="utf-8") as fh:
        fh.write('{"run_id": "r", "work')
    built = build_report(store.directory)
    assert built.torn and "records.jsonl.torn" in built.torn


def test_a_bad_line_before_the_end_is_still_an_error(tmp_path):
    store = store_with(tmp_path, record(1, 2.0))
    path = store.directory / RECORDS
    path.write_text("not json\n" + path.read_text())
    with pytest.raises(ClusterbenchError, match=r"records.jsonl:1: not JSON \(Expecting value"):
        store.records()


def test_a_last_line_without_newline_is_not_glued_to_the_next_record(tmp_path):
    store = store_with(tmp_path, record(1, 2.0))
    path = store.directory / RECORDS
    path.write_text(path.read_text().rstrip("\n"))  # edited by hand
    store.append(record(2, 1.0))
    assert [r.seconds for r in store.records()] == [2.0, 1.0] and store.torn is None


def _half_then_full(fh, data) -> None:  # noqa: ANN001 - the store's _write_all, failing
    fh.write(bytes(data[: len(data) // 2]))
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_during_append_keeps_the_complete_records(tmp_path, monkeypatch):
    store = store_with(tmp_path, record(1, 2.0), record(2, 1.0))
    before = (store.directory / RECORDS).read_bytes()
    monkeypatch.setattr("clusterbench.results.store._write_all", _half_then_full)
    with pytest.raises(DiskFullError) as caught:
        store.append(record(2, 0.9))
    message = str(caught.value)
    assert message.startswith(f"{store.directory}: no space left on device while appending "
                              f"a record (") and "free); stopped, the 2 record(s)" in message
    assert (store.directory / RECORDS).read_bytes() == before  # the half line is cut off
    assert [r.seconds for r in store.records()] == [2.0, 1.0] and store.torn is None


def test_other_write_errors_are_not_a_full_disk(tmp_path, monkeypatch):
    store = store_with(tmp_path, record(1, 2.0))

    def broken(fh, data) -> None:  # noqa: ANN001
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr("clusterbench.results.store._write_all", broken)
    with pytest.raises(OSError, match="I/O error"):
        store.append(record(2, 1.0))


def test_a_full_disk_during_environment_json_keeps_the_previous_one(tmp_path, monkeypatch):
    store = store_with(tmp_path, record(1, 2.0))
    store.write_environment({"hostname": "a"})

    def full(self, *args, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003
        raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(DiskFullError, match="while writing environment.json"):
        store.write_environment({"hostname": "b"})
    monkeypatch.undo()
    assert store.environment() == {"hostname": "a"}
    assert sorted(p.name for p in store.directory.iterdir()) == ["environment.json", RECORDS]


def test_a_real_full_tmpfs_stops_append_and_the_report_only_warns(tmp_path):
    with tiny_tmpfs(tmp_path / "disk", "64k", ci_fails=False) as disk:
        store = RunStore.create(disk, "r")
        appended = 0
        with pytest.raises(DiskFullError, match=r"no space left on device .*\(0 B free\)"):
            while appended < 1000:
                store.append(record(1 + appended % 2, 1.0 + appended % 3))
                appended += 1
        path = store.directory / RECORDS
        data = path.read_bytes()
        assert appended > 10 and data.endswith(b"\n") and data.count(b"\n") == appended
        built = build_report(store.directory)  # nothing fits: every file is a warning
        assert built.warnings and all("not written" in w for w in built.warnings)
        assert path.read_bytes() == data and len(store.records()) == appended
        assert not list(store.directory.glob("*.tmp")) and not list(store.directory.glob(".*"))


def test_a_plot_that_fails_is_a_warning_and_the_rest_is_written(tmp_path, monkeypatch):
    store = store_with(tmp_path, record(1, 2.0), record(2, 1.0))
    before = (store.directory / RECORDS).read_bytes()

    def broken(*args, **kwargs) -> None:  # noqa: ANN002, ANN003
        raise RuntimeError("Exceeded cell block limit\nsecond line")

    monkeypatch.setattr("clusterbench.report.build.efficiency_figure", broken)
    built = build_report(store.directory)
    assert built.warnings == (f"{built.efficiency_png} not written: RuntimeError: Exceeded "
                              f"cell block limit",)
    assert built.unwritten == (built.efficiency_png,)
    assert all(p.exists() for p in built.files if p != built.efficiency_png)
    assert (store.directory / RECORDS).read_bytes() == before


def test_the_report_command_says_it_set_a_torn_line_aside(tmp_path, capsys):
    """`report` first read the records on a store of its own: the line was set aside
    there, and the report's store then saw nothing torn and said nothing."""
    import argparse

    from clusterbench.commands.run import report

    store = store_with(tmp_path, record(1, 2.0), record(2, 1.0))
    with open(store.directory / RECORDS, "a", encoding="utf-8") as fh:
        fh.write('{"run_id": "r", "work')
    assert report(argparse.Namespace(run_dir=str(store.directory))) == 0
    assert "last line was torn" in " ".join(capsys.readouterr().err.split())


def test_a_results_dir_that_cannot_hold_runs_is_one_line(tmp_path):
    blocker = tmp_path / "afile"
    blocker.write_text("")
    with pytest.raises(ClusterbenchError, match=r"afile: cannot make the run directory r "
                                                r"there \(Not a directory\); choose another "
                                                r"--results-dir$"):
        RunStore.create(blocker, "r")


@pytest.mark.parametrize(("field", "value", "said"), [
    ("packages", ["dask"], "field 'packages' must be a JSON object, got array"),
    ("calibration", "x", "field 'calibration' must be a JSON object, got string"),
    ("scenario", 3, "field 'scenario' must be a JSON object, got number"),
    ("cores", "two", "field 'cores' must be a JSON number, got string"),
])
def test_a_misshapen_environment_is_one_line(tmp_path, field, value, said):
    """compare, report and resume indexed these fields and ended in tracebacks."""
    import json

    store = store_with(tmp_path, record(1, 2.0))
    (store.directory / "environment.json").write_text(json.dumps({field: value, "hosts": None}))
    with pytest.raises(ClusterbenchError) as info:
        store.environment()
    assert str(info.value) == f"{store.directory}/environment.json: {said} (hand-edited?)"


@pytest.mark.parametrize("name", [RECORDS, "environment.json", RECORDS + ".torn"])
def test_an_output_over_the_runs_own_files_is_refused(tmp_path, name):
    from clusterbench.errors import UsageError
    from clusterbench.results.store import refuse_overwriting

    store = store_with(tmp_path, record(1, 2.0))
    with pytest.raises(UsageError, match=rf"-o .*{name}: that is the run's own {name}"):
        refuse_overwriting(store.directory / name, "-o", store)
    refuse_overwriting(store.directory / "export.csv", "-o", store)  # next to them is fine
