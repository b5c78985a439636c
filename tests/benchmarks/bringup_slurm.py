"""Bring-up time on SLURM: ``clusterbench up`` until every worker is registered.

Run (root; needs slurmctld, slurmd, munge)::

    python -m tests.benchmarks.bringup_slurm [--workers 2,8] [--rounds 3]

Starts a private single-node SLURM (``tests/fixtures/slurm.py``: own munged,
slurmctld, slurmd on loopback, node declared with 8 CPUs so that eight
one-core jobs run at once on a 2-core box), writes an inventory of one SLURM
host with N one-core jobs, and times the CLI ``clusterbench up inv.yml`` (it
returns once every worker has registered with the scheduler) and then
``clusterbench down``.  Worker counts are interleaved within each round, in
alternating order, so machine noise hits all of them alike; after each
``down`` squeue must be empty.  The SLURM daemons are stopped in ``finally``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from tests.fixtures.slurm import INSTALL_HINT, SlurmCluster, missing_binaries, running_slurm

ROOT = Path(__file__).resolve().parents[2]
# One CPU per job; 8 declared CPUs (SlurmdParameters=config_overrides) hold eight jobs.
NODE_CPUS = 8
UP_TIMEOUT = 300


def write_inventory(path: Path, slurm: SlurmCluster, workers: int, logs: Path) -> Path:
    """A one-host SLURM inventory with *workers* one-core jobs, scheduler on loopback."""
    host = {"name": "hpc", "launcher": "slurm", "queue": slurm.partition, "jobs": workers,
            "cores": 1, "memory": "1GB", "walltime": "00:10:00", "log_directory": str(logs),
            "worker_extra_args": ["--host", "127.0.0.1", "--no-dashboard"]}
    path.write_text(yaml.safe_dump({"cluster": f"bringup{workers}",
                                    "scheduler": {"address": "127.0.0.1"}, "hosts": [host]}))
    return path


def timed_cli(env: dict[str, str], *args: str) -> float:
    """Seconds ``python -m clusterbench ARGS`` took; raises with its stderr if it failed."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "clusterbench", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=UP_TIMEOUT + 60)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"clusterbench {' '.join(args[:1])} exited {proc.returncode}: {last}")
    return seconds


def one_round(slurm: SlurmCluster, env: dict[str, str], workers: int, tmp: Path
              ) -> tuple[float, float]:
    """(up seconds, down seconds) for one bring-up of *workers* SLURM workers."""
    inventory = write_inventory(tmp / f"inv-{workers}.yml", slurm, workers, tmp / "logs")
    try:
        up = timed_cli(env, "up", str(inventory), "--timeout", str(UP_TIMEOUT))
    finally:
        # Also after a failed up: a half-started cluster must not outlive the round.
        down = timed_cli(env, "down") if list((tmp / "state").glob("cluster-*.json")) else 0.0
    left = slurm.wait_no_jobs(timeout=30)
    if left:
        raise RuntimeError(f"squeue still lists jobs after down: {slurm.jobs()}")
    return up, down


def measure(counts: list[int], rounds: int) -> dict[int, list[tuple[float, float]]]:
    """Interleaved bring-ups: every count once per round, order reversed every other round."""
    results: dict[int, list[tuple[float, float]]] = {n: [] for n in counts}
    with tempfile.TemporaryDirectory(prefix="cb-bringup-") as name, \
            running_slurm(cpus=NODE_CPUS, real_memory=16000) as slurm:
        tmp = Path(name)
        env = os.environ | slurm.env | {"CLUSTERBENCH_STATE_DIR": str(tmp / "state")}
        for i in range(rounds):
            for workers in counts if i % 2 == 0 else counts[::-1]:
                up, down = one_round(slurm, env, workers, tmp)
                results[workers].append((up, down))
                print(f"round {i + 1}: {workers} workers: up {up:.2f} s, down {down:.2f} s",
                      file=sys.stderr)
    return results


def table(results: dict[int, list[tuple[float, float]]]) -> str:
    """Markdown table: workers, median/min/max of ``up``, ratio to the smallest count, down."""
    base = min(results)
    base_median = statistics.median(up for up, _ in results[base])
    lines = [f"| workers | up median s | min | max | ratio to {base} | down median s |",
             "|---:|---:|---:|---:|---:|---:|"]
    for workers in sorted(results):
        ups = [up for up, _ in results[workers]]
        downs = [down for _, down in results[workers]]
        lines.append(f"| {workers} | {statistics.median(ups):.2f} | {min(ups):.2f} | "
                     f"{max(ups):.2f} | {statistics.median(ups) / base_median:.2f}× | "
                     f"{statistics.median(downs):.2f} |")
    return "\n".join(lines)


def _counts(text: str) -> list[int]:
    try:
        counts = sorted({int(part) for part in text.split(",")})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected counts such as 2,8, got {text!r}") from None
    if not counts or counts[0] < 1 or counts[-1] > NODE_CPUS:
        raise argparse.ArgumentTypeError(f"worker counts must be 1..{NODE_CPUS}, got {text!r}")
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=_counts, default=[2, 8], help="e.g. 2,8")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    missing = missing_binaries()
    if missing or os.geteuid() != 0:
        parser.error(f"needs root and {', '.join(missing) or 'SLURM'}; install: {INSTALL_HINT}")
    load_before = os.getloadavg()
    try:
        results = measure(args.workers, args.rounds)
    except RuntimeError as exc:
        print(f"bringup_slurm: error: {exc}", file=sys.stderr)
        return 1
    load_after = os.getloadavg()
    print(f"clusterbench up → all workers registered, single-node SLURM ({NODE_CPUS} CPUs "
          f"declared, {os.cpu_count()} real), {args.rounds} interleaved rounds")
    print(table(results))
    print(f"load average (1/5/15 min) before {load_before[0]:.2f}/{load_before[1]:.2f}/"
          f"{load_before[2]:.2f}, after {load_after[0]:.2f}/{load_after[1]:.2f}/"
          f"{load_after[2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
