"""records.jsonl survives a crash mid-append: a torn last line is set aside, not fatal."""

from __future__ import annotations

import pytest

from clusterbench.errors import ClusterbenchError
from clusterbench.report.build import build_report
from clusterbench.results.record import Record
from clusterbench.results.store import RECORDS, RunStore


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
    with pytest.raises(ClusterbenchError, match=r"records.jsonl:1: not a valid record"):
        store.records()


def test_a_last_line_without_newline_is_not_glued_to_the_next_record(tmp_path):
    store = store_with(tmp_path, record(1, 2.0))
    path = store.directory / RECORDS
    path.write_text(path.read_text().rstrip("\n"))  # edited by hand
    store.append(record(2, 1.0))
    assert [r.seconds for r in store.records()] == [2.0, 1.0] and store.torn is None
