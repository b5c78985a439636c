"""A launcher added from outside clusterbench, in this one file: workers as local
subprocesses through distributed's ``SubprocessWorker`` (``python -m dask spec``).

It proves the launcher contract (issue 13): registered by this test alone (the
``CLUSTERBENCH_LAUNCHERS`` variable reaches ``up``'s daemon), it gets ``inventory
check``, ``up --dry-run``, ``doctor``, ``up``/``status``/``down`` and a sweep with no
change to any other file.
"""

from __future__ import annotations

import os
import time
from typing import Any, Literal

import psutil
import pytest
import yaml

from clusterbench.inventory.model import HostBase
from clusterbench.launchers.base import HostReport, Launcher, Probe, SpecContext
from tests.helpers import cli, run_attached, stop_any_cluster
from tests.launcher_contract import assert_launcher_contract


class SubprocessHost(HostBase):
    """Workers as ``python -m dask spec`` subprocesses of the cluster's process."""

    launcher: Literal["subprocess"]
    worker_class: Literal["distributed.Nanny", "distributed.Worker"] = "distributed.Worker"


class SubprocessLauncher(Launcher):
    """One ``SubprocessWorker`` per worker; on this machine, so loopback is enough."""

    name = "subprocess"
    host_model = SubprocessHost
    runs_here = True

    def worker_specs(self, host: SubprocessHost, context: SpecContext) -> dict[str, dict[str, Any]]:
        from distributed.deploy.subprocess import SubprocessWorker

        return {slot.spec_name: {"cls": SubprocessWorker, "options": {
            "worker_class": host.worker_class,
            # SubprocessWorker does not pass its name on: the worker must register under it.
            "worker_kwargs": {"name": slot.name, "nthreads": host.threads}}}
            for slot in self.slots(host, context)}

    async def check(self, host: SubprocessHost, probe: Probe) -> HostReport:
        return HostReport(host.name, True, {"launcher": self.name, "python": "this one"})


LAUNCHER = SubprocessLauncher()
PLUGIN = {"CLUSTERBENCH_LAUNCHERS": f"subprocess={__name__}:LAUNCHER"}


@pytest.fixture
def inventory(tmp_path, monkeypatch):
    """An inventory of two subprocess workers, with the launcher registered for every
    clusterbench process this test starts (and for this one)."""
    for name, value in PLUGIN.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "plugin.yml"
    path.write_text(yaml.safe_dump({"cluster": "plugin", "hosts": [
        {"name": "sub", "launcher": "subprocess", "workers": 2, "threads": 1}]}))
    yield path
    stop_any_cluster()


def test_the_plugin_meets_the_launcher_contract(inventory):
    from clusterbench.inventory.load import load_inventory

    (host,) = load_inventory(inventory).hosts
    assert isinstance(host, SubprocessHost)
    assert_launcher_contract(LAUNCHER, host)


def test_a_launcher_in_one_file_gets_check_dry_run_doctor_up_status_down(inventory, tmp_path):
    check = cli("inventory", "check", str(inventory))
    assert check.returncode == 0, check.stderr
    assert "sub" in check.stdout

    dry = cli("up", str(inventory), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "sub: subprocess" in dry.stdout and "2 worker(s)" in dry.stdout

    doctor = cli("doctor", "-i", str(inventory))
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "sub" in doctor.stdout and "FAIL" not in doctor.stdout

    up = cli("up", str(inventory), timeout=120)
    assert up.returncode == 0, up.stderr
    assert "sub-0" in up.stdout and "sub-1" in up.stdout
    workers = _worker_processes()
    assert len(workers) == 2, workers

    status = cli("status")
    assert status.returncode == 0 and "sub-1" in status.stdout, status.stderr

    records = run_attached(tmp_path / "results")
    assert {tuple(r["worker_names"]) for r in records if r["scheduler"] == "distributed"} == {
        ("sub-0",), ("sub-0", "sub-1")}
    assert all(r["verified"] for r in records)

    down = cli("down")
    assert down.returncode == 0, down.stderr
    deadline = time.monotonic() + 10
    while _worker_processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _worker_processes() == []


def test_an_unknown_plugin_target_is_one_line_naming_the_host(tmp_path, monkeypatch):
    monkeypatch.setenv("CLUSTERBENCH_LAUNCHERS", "subprocess=no_such_module:LAUNCHER")
    path = tmp_path / "plugin.yml"
    path.write_text(yaml.safe_dump({"hosts": [{"name": "sub", "launcher": "subprocess"}]}))
    done = cli("inventory", "check", str(path))
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith(f"clusterbench: error: {path}: hosts[0] 'sub': "
                                          "field 'launcher': launcher 'subprocess': cannot load")
    assert len(done.stderr.strip().splitlines()) == 1


def _worker_processes() -> list[str]:
    """Command lines of this test's ``dask spec`` workers that are still alive."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        line = " ".join(process.info["cmdline"] or [])
        if "dask spec" in line and '"sub-' in line and process.pid != os.getpid() \
                and process.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(line)
    return found
