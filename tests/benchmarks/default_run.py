"""Wall time of the first README command: ``clusterbench run scaling`` with no arguments.

Run (any machine; nothing else running)::

    python -m tests.benchmarks.default_run [--runs 3] [--args "--size small --repeats 3"]

Each run is a fresh process in a temporary results directory, timed from its start until it
exits, with the load average before and after it.  The goal (issue 15): the default run ends
in at most 180 s on the project's 2-core machine (median of 3 runs), every mode and every
workload family measured, at least 2 repeats, every answer verified.  The script also says
what the run printed before its first point (the planned points and the first estimate),
how many records it wrote and whether all verified.  Results go to
``docs/default_run.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def one_run(extra: list[str]) -> dict:
    """One ``clusterbench run scaling`` in a temporary results directory."""
    with tempfile.TemporaryDirectory(prefix="cb-default-run-") as results:
        before = os.getloadavg()[0]
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "clusterbench", "run", "scaling", *extra,
                               "--results-dir", results], cwd=ROOT, capture_output=True,
                              text=True, timeout=3600)
        seconds = time.perf_counter() - start
        (run_dir,) = Path(results).iterdir()
        records = [json.loads(line) for line in
                   (run_dir / "records.jsonl").read_text().splitlines()]
        plan = next((line for line in done.stderr.splitlines() if line.startswith("planned:")),
                    "")
        return {"seconds": seconds, "rc": done.returncode, "load_before": before,
                "load_after": os.getloadavg()[0], "records": len(records),
                "verified": sum(bool(r["verified"]) for r in records),
                "modes": sorted({r["scheduler"] for r in records}),
                "workloads": sorted({r["workload"] for r in records}),
                "report_html_bytes": (run_dir / "report.html").stat().st_size,
                "plan": plan}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--args", default="", help="extra `run` options, one string")
    parser.add_argument("--out", default=str(ROOT / "docs" / "default_run.json"))
    options = parser.parse_args()
    extra = shlex.split(options.args)
    runs = []
    for index in range(options.runs):
        run = one_run(extra)
        runs.append(run)
        print(f"run {index + 1}: {run['seconds']:.1f} s, rc {run['rc']}, "
              f"{run['verified']}/{run['records']} verified, load {run['load_before']:.2f} → "
              f"{run['load_after']:.2f}; {run['plan']}", flush=True)
    median = statistics.median(r["seconds"] for r in runs)
    print(f"median of {len(runs)}: {median:.1f} s (goal for the default: <= 180 s)")
    Path(options.out).write_text(json.dumps({"command": ["clusterbench", "run", "scaling",
                                                         *extra],
                                             "cores": os.cpu_count(), "median_s": median,
                                             "runs": runs}, indent=1) + "\n")


if __name__ == "__main__":
    main()
