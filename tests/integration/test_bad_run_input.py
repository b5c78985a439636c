"""Bad `run` input is one line, a non-zero exit, no traceback, and nothing left behind (no run
directory, no cluster), decided before anything starts or is measured."""

from __future__ import annotations

import os
import socket
import time

import pytest

from tests.helpers import cli

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again: nothing listens there


@pytest.mark.parametrize(("args", "code", "words"), [
    (["--scheduler-address", "garbage"], 2, "expected tcp://HOST:PORT or tls://HOST:PORT"),
    (["--scheduler-address", "http://127.0.0.1:8786"], 2, "(not http://)"),
    (["--workers", "999"], 2, f"none of '999' fits the {os.cpu_count()} worker(s)"),
    (["--scheduler-address", "tcp://127.0.0.1:8786", "--schedulers", "processes"], 2,
     "no distributed mode in this run"),
])
def test_bad_run_input_is_one_line_and_leaves_nothing(tmp_path, args, code, words):
    results = tmp_path / "results"
    done = cli("run", "scaling", "--size", "tiny", "--workloads", "montecarlo",
               "--results-dir", str(results), *args, timeout=120)
    assert done.returncode == code, done.stderr
    assert words in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not results.exists() or not any(results.iterdir())


def test_a_refused_scheduler_address_fails_in_seconds(tmp_path):
    address = f"tcp://127.0.0.1:{free_port()}"
    started = time.monotonic()
    done = cli("run", "scaling", "--size", "tiny", "--workloads", "montecarlo",
               "--schedulers", "distributed", "--scheduler-address", address,
               "--results-dir", str(tmp_path / "results"), timeout=120)
    assert done.returncode == 3, done.stderr
    assert f"cannot reach the scheduler at {address}: connection refused" in done.stderr
    assert time.monotonic() - started < 30  # was: the client's whole 60 s timeout


def test_bad_workload_params_are_refused_before_anything_starts(tmp_path):
    scenario = tmp_path / "bad-params.yml"
    scenario.write_text("workloads: [{name: montecarlo, params: {kernel: fortran}}]\n"
                        "size: tiny\nschedulers: [synchronous, distributed]\n")
    results = tmp_path / "results"
    started = time.monotonic()
    done = cli("run", str(scenario), "--results-dir", str(results), timeout=60)
    assert time.monotonic() - started < 10  # no cluster, no calibration: the check comes first
    assert done.returncode == 2, done.stderr
    assert (f"{scenario}: workload 'montecarlo': params: field 'kernel': must be one of "
            "python, numpy, got 'fortran'") in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr and "calibrating" not in done.stderr.lower()
    assert not results.exists() or not any(results.iterdir())
