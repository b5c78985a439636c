"""Host fingerprint, cgroup limits and capacity measurements (clusterbench.runner.hostinfo).

cgroup parsing runs on fake hierarchies in tmp_path; the kernel, the process pool and a
real 2-process LocalCluster run with tiny kernel times.  No absolute speed is asserted:
this is a shared 2-core machine.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path

import pytest

from clusterbench.runner import calibrate as calibration
from clusterbench.runner.backends import PointWorkers
from clusterbench.runner.hostinfo import (
    cgroup_limits,
    fingerprint,
    machine_capacity,
    measure_workers,
    rate_kernel,
)

V1_UNLIMITED = "9223372036854771712"
MB512 = 512 * 10**6


def tree(root: Path, files: dict[str, str]) -> Path:
    """Write *files* (relative path → content) under *root*; return root."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    return root


def limits(root: Path, proc: str) -> dict:
    return cgroup_limits(root, tree(root, {"proc_cgroup": proc}) / "proc_cgroup")


# --- cgroup limits ---------------------------------------------------------------------------


def test_v1_quota_and_memory_limit_of_the_process_cgroup(tmp_path):
    tree(tmp_path, {
        "cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000",
        "cpu/lab/pi/cpu.cfs_quota_us": "25000", "cpu/lab/pi/cpu.cfs_period_us": "100000",
        "memory/memory.limit_in_bytes": V1_UNLIMITED,
        "memory/lab/pi/memory.limit_in_bytes": str(MB512),
    })
    proc = "4:memory:/lab/pi\n2:cpuacct:/\n1:cpu:/lab/pi\n0::/"
    assert limits(tmp_path, proc) == {"cpu_quota": 0.25, "memory_limit_bytes": MB512}


def test_v1_co_mounted_cpu_and_cpuacct(tmp_path):
    tree(tmp_path, {"cpu,cpuacct/job/cpu.cfs_quota_us": "150000",
                    "cpu,cpuacct/job/cpu.cfs_period_us": "100000"})
    assert limits(tmp_path, "3:cpu,cpuacct:/job")["cpu_quota"] == 1.5


@pytest.mark.parametrize("unified", ["", "unified/"])  # pure v2, or hybrid v1 + v2
def test_v2_cpu_max_and_memory_max(tmp_path, unified):
    tree(tmp_path, {f"{unified}cgroup.controllers": "cpu memory",
                    f"{unified}job/cpu.max": "50000 100000",
                    f"{unified}job/memory.max": "1073741824"})
    assert limits(tmp_path, "0::/job") == {"cpu_quota": 0.5, "memory_limit_bytes": 2**30}


@pytest.mark.parametrize(("files", "proc"), [
    ({"cpu/a/cpu.cfs_quota_us": "-1", "cpu/a/cpu.cfs_period_us": "100000",
      "memory/a/memory.limit_in_bytes": V1_UNLIMITED}, "2:memory:/a\n1:cpu:/a"),
    ({"cgroup.controllers": "cpu", "a/cpu.max": "max 100000", "a/memory.max": "max"}, "0::/a"),
    ({}, "1:cpu:/a\n0::/a"),                          # nothing readable
    ({"cpu/a/cpu.cfs_quota_us": "garbage"}, "1:cpu:/a"),
])
def test_no_limit_reads_as_none(tmp_path, files, proc):
    tree(tmp_path, files)
    assert limits(tmp_path, proc) == {"cpu_quota": None, "memory_limit_bytes": None}


def test_missing_proc_file_reads_as_none(tmp_path):
    assert cgroup_limits(tmp_path, tmp_path / "absent") == {"cpu_quota": None,
                                                            "memory_limit_bytes": None}


def test_a_parents_tighter_limit_wins(tmp_path):
    tree(tmp_path, {
        "cpu/lab/cpu.cfs_quota_us": "50000", "cpu/lab/cpu.cfs_period_us": "100000",
        "cpu/lab/pi/cpu.cfs_quota_us": "100000", "cpu/lab/pi/cpu.cfs_period_us": "100000",
        "memory/lab/memory.limit_in_bytes": str(MB512),
        "memory/lab/pi/memory.limit_in_bytes": str(4 * MB512),
        "cgroup.controllers": "", "lab/pi/memory.max": "max", "lab/memory.max": str(MB512 // 2),
    })
    proc = "2:memory:/lab/pi\n1:cpu:/lab/pi\n0::/lab/pi"
    assert limits(tmp_path, proc) == {"cpu_quota": 0.5, "memory_limit_bytes": MB512 // 2}


def test_a_container_whose_mount_root_is_its_own_cgroup(tmp_path):
    # /proc/self/cgroup names the host's path; the container sees its cgroup as the root.
    tree(tmp_path, {"cpu/cpu.cfs_quota_us": "200000", "cpu/cpu.cfs_period_us": "100000"})
    assert limits(tmp_path, "1:cpu:/docker/0123abcd")["cpu_quota"] == 2.0


# --- fingerprint -----------------------------------------------------------------------------


def test_fingerprint_describes_this_process_host():
    info = fingerprint()
    assert set(info) >= {"hostname", "cpu_model", "logical_cores", "usable_cores", "cpu_quota",
                         "memory_limit_bytes", "memory_total_bytes", "arch", "os", "python",
                         "packages", "blas"}
    assert info["logical_cores"] >= info["usable_cores"] >= 1
    assert info["memory_total_bytes"] > 0
    assert info["python"] == platform.python_version()
    assert set(info["packages"]) == {"dask", "distributed", "numpy", "scikit-learn",
                                     "clusterbench"}
    assert info["packages"]["distributed"]  # installed here
    assert all(set(lib) == {"internal_api", "version", "num_threads"} for lib in info["blas"])


# --- the kernel and the machine's capacity ---------------------------------------------------


def test_rate_kernel_runs_at_least_min_seconds():
    start = time.perf_counter()
    rate = rate_kernel(0.1)
    assert time.perf_counter() - start >= 0.1
    assert rate > 0


def test_machine_capacity_shape():
    result = machine_capacity(2, min_seconds=0.05, rounds=1)
    assert set(result["capacity"]) == {1, 2}
    assert result["capacity"][1] == 1.0
    assert result["capacity"][2] > 0
    assert result["rate"] > 0 and result["seconds"] > 0


def test_capacity_check_is_one_json_ready_entry(monkeypatch):
    monkeypatch.setattr(calibration, "CAPACITY_SECONDS", 0.05)
    check = calibration.capacity_check("middle", 2)
    assert check["at"] == "middle"
    assert set(check["capacity"]) == {"1", "2"} and check["capacity"]["1"] == 1.0
    assert check["rate"] > 0 and check["seconds"] > 0


# --- per-worker capacity on a real cluster ---------------------------------------------------


@pytest.fixture(scope="module")
def local_cluster():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.wait_for_workers(2)
        yield client


def local_workers(client, hosts=None) -> list[tuple[str, str, str, int]]:
    info = client.scheduler_info(n_workers=-1)["workers"]
    return [(address, str(w["name"]), hosts[i] if hosts else w["host"], 1)
            for i, (address, w) in enumerate(sorted(info.items()))]


def test_measure_workers_on_a_local_cluster(local_cluster):
    workers = local_workers(local_cluster)
    hosts, seconds = measure_workers(local_cluster, workers, reference_rate=1e7,
                                     min_seconds=0.05)
    (host,) = hosts  # both workers run on this machine
    entry = hosts[host]
    assert entry["fingerprint"]["logical_cores"] >= 1
    assert entry["fingerprint"]["packages"]["distributed"]
    assert set(entry["workers"]) == {name for _, name, _, _ in workers}
    for address, name, _, threads in workers:
        worker = entry["workers"][name]
        assert worker["address"] == address and worker["threads"] == threads
        assert worker["alone_rate"] > 0 and worker["together_rate"] > 0
        assert worker["capacity_alone"] == pytest.approx(worker["alone_rate"] / 1e7)
        assert worker["capacity"] == pytest.approx(worker["together_rate"] / 1e7)
    # one host: alone one at a time (2 × 0.05 s), then together
    assert seconds >= 3 * 0.05


def test_each_host_label_gets_its_own_fingerprint(local_cluster):
    hosts, _ = measure_workers(local_cluster, local_workers(local_cluster, ["a", "b"]),
                               reference_rate=1e7, min_seconds=0.05)
    assert set(hosts) == {"a", "b"}
    assert all(len(h["workers"]) == 1 and h["fingerprint"]["hostname"] for h in hosts.values())


class RecordingClient:
    """Stands in for a Client: records which workers run the kernel together."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.pending: list[str] = []

    def submit(self, function, min_seconds, *, workers, allow_other_workers, pure):  # noqa: ANN001
        assert (allow_other_workers, pure) == (False, False)
        self.pending += workers
        return workers[0]

    def gather(self, futures):  # noqa: ANN001
        self.batches.append(sorted(self.pending))
        self.pending = []
        return [1.0 for _ in futures]

    def run(self, function, workers):  # noqa: ANN001
        return {address: {"hostname": address} for address in workers}


def test_alone_rounds_never_overlap_workers_of_one_host():
    workers = [("a1", "a-0", "a", 1), ("a2", "a-1", "a", 1), ("b1", "b-0", "b", 1),
               ("c1", "c-0", "c", 1), ("c2", "c-1", "c", 1), ("c3", "c-2", "c", 1)]
    client = RecordingClient()
    hosts, _ = measure_workers(client, workers, reference_rate=2.0, rounds=2)
    one_round = [["a1", "b1", "c1"], ["a2", "c2"], ["c3"],  # alone
                 sorted(a for a, *_ in workers)]               # together
    assert client.batches == one_round * 2  # each worker's best of 2 rounds is kept
    assert {h: e["fingerprint"]["hostname"] for h, e in hosts.items()} == {
        "a": "a1", "b": "b1", "c": "c1"}
    assert hosts["c"]["workers"]["c-2"]["capacity"] == 0.5


# --- calibrate's per-worker part -------------------------------------------------------------


class Backend:
    """The backend interface calibrate uses, over a running client."""

    def __init__(self, client) -> None:  # noqa: ANN001
        self.client = client
        self.calls = 0

    @property
    def max_workers(self) -> int:
        return len(self.client.scheduler_info(n_workers=-1)["workers"])

    def workers_for(self, count: int) -> PointWorkers:
        self.calls += 1
        workers = local_workers(self.client)[:count]
        return PointWorkers(tuple(w[0] for w in workers), tuple(w[1] for w in workers),
                            tuple(w[2] for w in workers), threads=1)


def test_worker_capacity_measures_a_shared_backend_once(local_cluster, monkeypatch):
    monkeypatch.setattr(calibration, "CAPACITY_SECONDS", 0.05)
    backend = Backend(local_cluster)
    hosts, seconds = calibration.worker_capacity([backend, backend], reference_rate=1e7)
    assert backend.calls == 1
    assert sum(len(h["workers"]) for h in hosts.values()) == 2 and seconds > 0


def test_without_a_cluster_hosts_is_this_machine():
    import socket

    hosts, seconds = calibration.worker_capacity([], reference_rate=1e7)
    assert list(hosts) == [socket.gethostname()] and seconds == 0.0
    assert hosts[socket.gethostname()]["workers"] == {}
    assert hosts[socket.gethostname()]["fingerprint"]["logical_cores"] >= 1


def test_calibration_json_has_the_new_fields():
    check = {"at": "start", "capacity": {"1": 1.0, "2": 1.8}, "rate": 1e7, "seconds": 4.0}
    data = calibration.Calibration(
        capacity={1: 1.0, 2: 1.8}, capacity_checks=[check], reference_rate=1e7,
        hosts={"vm": {"fingerprint": {}, "workers": {}}}, worker_calibration_seconds=3.0,
    ).as_json()
    assert data["capacity"] == {"1": 1.0, "2": 1.8}
    assert data["capacity_checks"] == [check]
    assert (data["reference_rate"], data["worker_calibration_seconds"]) == (1e7, 3.0)
    assert data["hosts"] == {"vm": {"fingerprint": {}, "workers": {}}}
