"""Where a lab host's time goes before its dask worker exists: login shell, interpreter, imports.

Run (root, Linux, sshd installed; on a quiet machine: say its load with the numbers)::

    python -m tests.benchmarks.host_start_cost [--spec slow:1x0.06cpu,full:1x1.0cpu]
        [--rounds 3] [--out docs/host_start_cost.json]

Issue 16 asks ``up`` on 32-64 lab hosts to reach 0.6x SSHCluster's time.  Both start one
worker per host through one SSH command, so both pay what the host itself must do before a
worker can register; this script measures those steps, one at a time, over SSH (OpenSSH's
client, the lab's key and known_hosts), on a host throttled like the issue's lab (0.06 CPU)
and on an unthrottled one.  Each step is a whole ``ssh host COMMAND`` (wall seconds, median
of ``--rounds``), so the differences between rows are what each part adds:

* ``true``: sshd's connection, the login shell and its rc files;
* ``python -c pass``: the interpreter's start (site-packages, .pth files) on top;
* ``import distributed`` and ``import distributed.cli.dask_worker``: what every worker
  process of clusterbench and of SSHCluster imports;
* ``dask_worker --help`` / ``dask_spec --help``: the CLIs' own imports (clusterbench
  runs the first, SSHCluster the second).

The lab is always torn down; only its own addresses are used.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from clusterbench.lab import Lab, down
from tests.fixtures.lab import free_subnet, unique_name

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SPEC = "slow:1x0.06cpu,full:1x1.0cpu"


def steps(python: str) -> dict[str, str]:
    """Label → remote command, cheapest first."""
    return {
        "ssh true (sshd + login shell rc)": "true",
        "python -c pass": f"{python} -c pass",
        "import distributed": f"{python} -c 'import distributed'",
        "import distributed.cli.dask_worker": f"{python} -c 'import distributed.cli.dask_worker'",
        "dask_worker --help": f"{python} -m distributed.cli.dask_worker --help >/dev/null",
        "dask_spec --help": f"{python} -m distributed.cli.dask_spec --help >/dev/null",
    }


def measure(ssh: list[str], command: str, rounds: int) -> list[float]:
    """Wall seconds of *rounds* runs of ``ssh ... command``."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run([*ssh, command], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=DEFAULT_SPEC)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default="docs/host_start_cost.json")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # reach the lab's teardown
    load_before = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="host-start-cost-"))
    state = Lab(unique_name()).up(args.spec, workdir / "lab", subnet=free_subnet())
    rows = []
    try:
        for host in state.hosts:
            ssh = ["ssh", "-i", state.client_key, "-o", f"UserKnownHostsFile={state.known_hosts}",
                   "-o", "BatchMode=yes", f"root@{host.address}"]
            for label, command in steps(state.python).items():
                times = measure(ssh, command, args.rounds)
                rows.append({"host": host.name, "cpu": host.cpu, "step": label,
                             "median_s": statistics.median(times), "samples": times})
                print(f"{host.name:8} {host.cpu:5} {label:36} "
                      f"{statistics.median(times):7.2f} s", flush=True)
    finally:
        down(state)
        shutil.rmtree(workdir, ignore_errors=True)
    load_after = os.getloadavg()
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min)")
    (ROOT / args.out).write_text(json.dumps(
        {"spec": args.spec, "rounds": args.rounds, "rows": rows, "load_before": load_before,
         "load_after": load_after}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
