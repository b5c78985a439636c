"""Output for scripts: with ``--json`` stdout holds one JSON document and nothing else, the
rest goes to stderr; the two streams of ``up`` sent to one pipe keep every line whole; and
``lab up -o FILE`` writes the lab's inventory where the script asks."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from clusterbench.inventory.load import load_inventory
from tests.fixtures.lab import free_subnet, require_lab
from tests.helpers import ROOT, cli, stop_any_cluster

pytestmark = pytest.mark.integration

NAPS = "tests.sample_workloads:NAPS"


def buffered() -> dict[str, str]:
    """This environment (state directory included) with Python's default, a stdout
    block-buffered into a pipe: CI often sets PYTHONUNBUFFERED, which hides what users see."""
    return {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}


@pytest.fixture(scope="module")
def run_json(tmp_path_factory: pytest.TempPathFactory):
    """One real ``run --json`` (montecarlo-free: two naps per repeat, 3 points)."""
    tmp = tmp_path_factory.mktemp("json")
    scenario = tmp / "naps.yml"
    scenario.write_text(f"name: naps\nworkloads: [{{name: '{NAPS}', size: tiny}}]\n"
                        "schedulers: [synchronous, threads]\nworkers: 1,2\nrepeats: 2\n"
                        "warmup: 0\n")
    return cli("run", str(scenario), "--results-dir", str(tmp / "results"), "--json")


def test_run_json_is_the_summary_alone_on_stdout(run_json) -> None:
    assert run_json.returncode == 0, run_json.stderr
    document = json.loads(run_json.stdout)  # the whole of stdout, nothing before or after
    assert Path(document["run_directory"]).is_dir() and document["exit_code"] == 0
    points = {(row["scheduler"], row["workers"]) for row in document["summary"]}
    assert points == {("synchronous", 1), ("threads", 1), ("threads", 2)}
    assert all(row["workload"] == NAPS and row["n"] == 2 for row in document["summary"])
    # The table, the notes and the run directory line went to stderr instead.
    assert "run directory:" in run_json.stderr and "speedup" in run_json.stderr


def test_compare_json(run_json) -> None:
    run_dir = json.loads(run_json.stdout)["run_directory"]
    done = cli("compare", run_dir, run_dir, "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["counts"] == {"same": 3} and len(document["points"]) == 3
    assert {"workload", "size", "scheduler", "workers", "n_a", "median_a", "n_b", "median_b",
            "ratio", "verdict"} == set(document["points"][0])
    assert document["run_a"] == document["run_b"] == run_dir


def test_inventory_check_json() -> None:
    done = cli("inventory", "check", "inventories/local.yml", "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    (host,) = document["hosts"]
    assert (host["name"], host["launcher"], host["workers"], host["threads"]) == (
        "localhost", "local", os.cpu_count(), 1)
    assert "memory" in host and document["security"] == "loopback"
    assert document["scheduler"]["address"] == "127.0.0.1"
    assert document["total_workers"] == os.cpu_count()


def test_status_json_without_a_cluster_is_an_error_on_stderr_only() -> None:
    done = cli("status", "--json")
    assert done.returncode == 4 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "no cluster is up" in done.stderr


def _inventory(tmp_path: Path) -> Path:
    inventory = tmp_path / "two.yml"
    inventory.write_text("cluster: jsontest\nscheduler: {address: 127.0.0.1, port: 0, "
                         "dashboard: 0}\nhosts:\n  - {name: here, launcher: local, workers: 2, "
                         "threads: 1, memory: auto}\n")
    return inventory


def test_up_lines_stay_whole_on_one_pipe_and_status_json(tmp_path: Path) -> None:
    try:
        # stdout and stderr into the same pipe, as `2>&1 | tee log` does.
        up = subprocess.run([sys.executable, "-m", "clusterbench", "up",
                             str(_inventory(tmp_path))], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=180, env=buffered())
        assert up.returncode == 0, up.stdout
        lines = up.stdout.splitlines()
        assert up.stdout.endswith("\n")
        assert lines[0] == "starting cluster 'jsontest' (2 workers) ..."
        for marker in ("starting cluster", "dashboard:", "security:",
                       "cluster 'jsontest'  scheduler", "from another machine"):
            for line in lines:
                if marker in line:
                    assert line.strip().startswith(marker), up.stdout
        assert any(re.fullmatch(r"dashboard: http://127\.0\.0\.1:\d+/status", line)
                   for line in lines), up.stdout

        status = cli("status", "--json")
        assert status.returncode == 0, status.stderr
        (cluster,) = json.loads(status.stdout)["clusters"]
        assert cluster["cluster"] == "jsontest" and cluster["security"] == "loopback"
        assert cluster["scheduler"].startswith("tcp://127.0.0.1:")
        assert cluster["dashboard"].startswith("http://127.0.0.1:")
        assert [w["name"] for w in cluster["workers"]] == ["here-0", "here-1"]
        for worker in cluster["workers"]:
            assert worker["host"] == "here" and worker["status"] == "running"
            assert worker["threads"] == 1 and worker["memory"] > 0
            assert worker["address"].startswith("tcp://127.0.0.1:")
            assert worker["job"] is None and worker["queue_state"] is None
    finally:
        stop_any_cluster()


SCRIPT = """
from clusterbench.commands.common import err, out
print("plain print, buffered in a pipe")
err().print("a note on stderr")
out().print("a result on stdout")
print("second plain print", end="")
print(" ends here")
err().print("last note")
"""


def test_pending_stdout_is_written_before_a_stderr_line() -> None:
    # Before: "a note on stderr" came first, "second plain print ends here" last.
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=60, env=buffered())
    assert done.stdout.splitlines() == [
        "plain print, buffered in a pipe", "a note on stderr", "a result on stdout",
        "second plain print ends here", "last note"]


def test_lab_up_writes_its_inventory_where_asked(tmp_path: Path) -> None:
    require_lab()  # root, Linux, sshd: else skipped with the reason (failed under CI=true)
    target = tmp_path / "here" / "lab.yml"
    target.parent.mkdir()
    try:
        up = cli("lab", "up", "one:1x0.5cpu", "--subnet", free_subnet(), "-o", str(target))
        assert up.returncode == 0, up.stderr
        assert f"inventory: {target}" in up.stdout
        assert f"next: clusterbench up {target}" in up.stdout
        inventory = load_inventory(target)
        assert [host.name for host in inventory.hosts] == ["one1"]
        state = json.loads((Path(os.environ["CLUSTERBENCH_STATE_DIR"]) / "lab" / "lab.json")
                           .read_text())
        assert target.read_text() == Path(state["inventory"]).read_text()
        # Keys and known_hosts are named by absolute path: the copy works from anywhere.
        assert all(Path(key).is_file() for host in inventory.hosts for key in host.identity)
    finally:
        down = cli("lab", "down")
    assert down.returncode == 0, down.stderr


def test_lab_up_to_an_unwritable_file_is_refused_before_any_host() -> None:
    done = cli("lab", "up", "one:1x0.5cpu", "--subnet", "10.203.250.0/24",
               "-o", "/nonexistent/dir/lab.yml")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == ("clusterbench: error: -o /nonexistent/dir/lab.yml: no such "
                           "directory /nonexistent/dir\n")
    assert cli("lab", "status").returncode == 5  # no lab was made
