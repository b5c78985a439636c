"""Teardown time: ``clusterbench up`` then ``down`` on 16 and 32 lab hosts, with ``down``'s
split (close workers / stop scheduler / leftover sweep, from the daemon's last word).

Run (root, Linux, sshd installed)::

    python -m tests.benchmarks.teardown_ssh [--hosts 16,32] [--rounds 1] [--pause 0]
        [--spec node:32x0.06cpu/256MB]

The default lab is the issue's: 32 hosts of 0.06 CPU and 256 MB (1.92 CPUs of quota on
this 2-core machine).  Per round and host count (the first N hosts of one lab, host counts
in alternating order), ``up`` is timed from the process start until it returns (every
worker registered), then ``down`` from its start until it returns, ``--pause`` seconds
after ``up`` returned (0: at once, the worst case: the hosts' sweep shells, opened as
their workers register, may still be starting).  Between measurements the benchmark
waits until only the sshd listeners are left in the lab's namespaces, and counts what
``down`` left there (must be 0).  The goal (issue 16): ``down`` <= 10 s on 32 hosts and
<= ``up``.  Report the load average printed with the numbers: on a shared machine they
move 2-3x with other jobs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from clusterbench.lab import Lab, down
from tests.benchmarks.bringup_ssh import wait_quiet, write_inventories
from tests.fixtures.lab import free_subnet, unique_name

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SPEC = "node:32x0.06cpu/256MB"


def up_down(inventory: Path, env: dict[str, str], pause: float) -> dict:
    """One ``up`` and ``down``: seconds, exit codes, the daemon's split, load average."""
    command = [sys.executable, "-m", "clusterbench"]
    start = time.perf_counter()
    up = subprocess.run([*command, "up", str(inventory), "--timeout", "600"], cwd=ROOT,
                        env=env, capture_output=True, text=True, timeout=900)
    up_s = time.perf_counter() - start
    if up.returncode != 0:
        raise RuntimeError(f"up failed: {up.stderr[-800:]}")
    time.sleep(pause)
    start = time.perf_counter()
    stop = subprocess.run([*command, "--debug", "down"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    down_s = time.perf_counter() - start
    cluster = inventory.stem.replace("inventory-", "bench")
    last_word = json.loads((Path(env["CLUSTERBENCH_STATE_DIR"]) /
                            f"down-{cluster}.json").read_text())
    return {"up": up_s, "down": down_s, "rc": stop.returncode,
            "split": last_word.get("teardown") or {}, "load": os.getloadavg()[0],
            "unverified": [line for line in stop.stderr.splitlines() if "could not" in line]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="16,32")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--pause", type=float, default=0.0,
                        help="seconds between up returning and down")
    parser.add_argument("--spec", default=DEFAULT_SPEC)
    parser.add_argument("--compare-shells", action="store_true",
                        help="also run with CLUSTERBENCH_SWEEP_SHELLS=0, interleaved")
    parser.add_argument("--compare-patience", action="store_true",
                        help="also run with CLUSTERBENCH_SWEEP_PATIENCE=0 (no probe, no "
                             "extra time for a slow host that answers), interleaved")
    args = parser.parse_args()
    counts = sorted(int(c) for c in args.hosts.split(","))
    print(f"load before: {os.getloadavg()}", flush=True)
    variants = ["shells"] + (["no shells"] if args.compare_shells else []) \
        + (["no patience"] if args.compare_patience else [])
    rows: dict[tuple[int, str], list[dict]] = {(c, v): [] for c in counts for v in variants}
    with tempfile.TemporaryDirectory(prefix="teardown-") as tmp:
        workdir = Path(tmp)
        lab = Lab(unique_name(), ready_timeout=120).up(args.spec, workdir / "lab",
                                                      subnet=free_subnet())
        env = os.environ | {"CLUSTERBENCH_STATE_DIR": str(workdir / "state")}
        try:
            inventories = write_inventories(lab, counts, workdir)
            for index in range(args.rounds):
                order = [(c, v) for c in counts for v in variants]
                for count, variant in order if index % 2 == 0 else reversed(order):
                    switches = {"CLUSTERBENCH_SWEEP_SHELLS": "0" if variant == "no shells"
                                else "1"}
                    if variant == "no patience":
                        switches["CLUSTERBENCH_SWEEP_PATIENCE"] = "0"
                    row = up_down(inventories[count], env | switches, args.pause)
                    row["left"] = wait_quiet(lab)
                    rows[(count, variant)].append(row)
                    split = ", ".join(f"{k} {v:.2f}" for k, v in row["split"].items())
                    print(f"round {index + 1} hosts {count} ({variant}): up "
                          f"{row['up']:.1f} s, down {row['down']:.1f} s (exit {row['rc']}; "
                          f"{split}); load {row['load']:.1f}; waited {row['left']:.1f} s "
                          f"for a quiet lab; {' '.join(row['unverified'])}", flush=True)
        finally:
            down(lab)
    print(f"load after: {os.getloadavg()}")
    med = statistics.median
    print(f"\nspec {args.spec}, {args.rounds} round(s), down {args.pause:g} s after up\n")
    print("| hosts | sweep | `up` s | `down` s | close workers s | stop scheduler s "
          "| leftover sweep s | down / up | hosts not checked | load avg (1 min) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (count, variant), group in rows.items():
        split = {k: med(r["split"].get(k, 0.0) for r in group)
                 for k in ("close_workers", "stop_scheduler", "leftover_sweep")}
        print(f"| {count} | {variant} | {med(r['up'] for r in group):.1f} | "
              f"{med(r['down'] for r in group):.1f} | {split['close_workers']:.2f} | "
              f"{split['stop_scheduler']:.2f} | {split['leftover_sweep']:.2f} | "
              f"{med(r['down'] / r['up'] for r in group):.2f} | "
              f"{', '.join(str(_not_checked(r)) for r in group)} | "
              f"{med(r['load'] for r in group):.1f} |")


def _not_checked(row: dict) -> int:
    """Hosts `down` said it could not check (one line per host: "NAME: could not check")."""
    return sum(1 for line in row["unverified"] if ": could not check" in line)


if __name__ == "__main__":
    main()
