"""A record names the workers that really ran it: a worker SIGKILLed during a repeat (real
Nanny workers on this machine) marks that repeat ``worker_set_changed``; it does not count,
and it is re-run once the Nanny has restarted the worker under the same name."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.helpers import cli

pytestmark = pytest.mark.integration


def test_killed_worker_marks_the_repeat_and_it_is_rerun(tmp_path):
    flags = tmp_path / "flags"
    flags.mkdir()
    scenario = tmp_path / "kill.yml"
    scenario.write_text(yaml.safe_dump({
        "name": "kill", "size": "tiny", "schedulers": ["distributed"], "workers": "2",
        "repeats": 3, "warmup": 1,
        "workloads": [{"name": "tests.sample_workloads:KILL_ONCE",
                       "params": {"flag_dir": str(flags)}}],
    }))
    results = tmp_path / "results"
    done = cli("run", str(scenario), "--results-dir", str(results), timeout=300)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "worker set changed" in done.stderr
    (run_dir,) = results.iterdir()
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    parallel = [r for r in records if r["scheduler"] == "distributed"]
    assert [(r["round"], r["attempt"]) for r in parallel] == [(0, 0), (1, 0), (1, 1), (2, 0)]
    changed = parallel[1]
    assert changed["worker_set_changed"] and "lost or restarted" in changed["worker_set_note"]
    rerun = parallel[2]
    assert not rerun["worker_set_changed"]
    # the re-run ran on the full planned set again: both names, the restarted one included
    assert sorted(rerun["executed_workers"]) == sorted(rerun["worker_names"])
    assert len(rerun["worker_names"]) == 2
    assert all(sorted(r["executed_workers"]) == sorted(r["worker_names"])
               for r in parallel if not r["worker_set_changed"])
    # the summary counts the three good repeats only, and says one changed
    summary = (run_dir / "summary.csv").read_text().splitlines()
    header = summary[0].split(",")
    row = dict(zip(header, summary[1].split(","), strict=True))
    assert row["n"] == "3"
    assert row.get("changed") == "1"
