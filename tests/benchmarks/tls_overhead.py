"""What does TLS (the default for clusters that leave this machine) cost a measurement?

Run (root, Linux, sshd installed), on an otherwise idle machine::

    python -m tests.benchmarks.tls_overhead [--spec node:2x0.9cpu] [--rounds 7]

One virtual lab, two clusters over the same fake hosts, both started with
``clusterbench up``: one with ``security: tls`` (the default there), one with
``security: insecure``.  In each round, in an order shuffled per round, every workload
runs once on each cluster at full width; only ``workload.run`` is timed, as in a sweep.
Printed per workload: the median seconds of each variant and the median of the per-round
ratios TLS / plain (pairing keeps the ratio meaningful while the machine drifts), plus the
time to connect a client.  The clusters and the lab are always torn down.  Only the lab's
own addresses are used.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from clusterbench.lab import Lab, down
from clusterbench.lab.inventory import inventory_data
from tests.fixtures.lab import free_subnet, unique_name

ROOT = Path(__file__).resolve().parents[2]
WORKLOADS = ("montecarlo", "randomforest")


def _cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "clusterbench", *args], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)


def _up(state, workdir: Path, security: str) -> dict:  # noqa: ANN001 - a LabState
    """``up`` the lab as cluster ``tls-<security>``; its state."""
    from clusterbench.cluster.lifecycle import state_file
    from clusterbench.cluster.state import read

    name = f"tlsbench-{security}"
    path = workdir / f"{name}.yml"
    path.write_text(yaml.safe_dump(inventory_data(state) | {"cluster": name,
                                                            "security": security}))
    _cli("up", str(path))
    return read(state_file(name))


def _client(state):  # noqa: ANN001, ANN202 - a ClusterState; a distributed Client
    from distributed import Client

    from clusterbench.cluster.lifecycle import cluster_security

    return Client(state.address, timeout=30, security=cluster_security(state))


def measure(states: dict, size: str, rounds: int, seed: int) -> dict:
    """``{(workload, variant): [seconds per round]}`` and client connect times."""
    from clusterbench.runner.modes import open_mode
    from clusterbench.workloads.registry import resolve

    clients = {}
    connect: dict[str, list[float]] = {variant: [] for variant in states}
    for variant, state in states.items():
        start = time.perf_counter()
        clients[variant] = _client(state)
        connect[variant].append(time.perf_counter() - start)
    data = {name: resolve(name).prepare(size, seed) for name in WORKLOADS}
    times: dict[tuple[str, str], list[float]] = {}
    order = [(name, variant) for name in WORKLOADS for variant in states]
    shuffle = random.Random(seed)
    for _ in range(rounds + 1):  # the first round warms up and is dropped
        shuffle.shuffle(order)
        for name, variant in order:
            client = clients[variant]
            addresses = list(client.scheduler_info(n_workers=-1)["workers"])
            workload = resolve(name)
            with open_mode("distributed", len(addresses), client=client,
                           worker_addresses=addresses) as ctx:
                start = time.perf_counter()
                workload.run(data[name], ctx)
                times.setdefault((name, variant), []).append(time.perf_counter() - start)
    for client in clients.values():
        client.close()
    return {"times": {key: values[1:] for key, values in times.items()}, "connect": connect}


def report(result: dict) -> None:
    times = result["times"]
    print("| workload | TLS median s | plain median s | TLS / plain (median of paired ratios) |")
    print("|---|---:|---:|---:|")
    for name in WORKLOADS:
        tls, plain = times[(name, "tls")], times[(name, "insecure")]
        ratios = [a / b for a, b in zip(tls, plain, strict=True)]
        print(f"| {name} | {statistics.median(tls):.3f} | {statistics.median(plain):.3f} "
              f"| {statistics.median(ratios):.3f} (range {min(ratios):.2f}–{max(ratios):.2f}) |")
    connect = result["connect"]
    print(f"client connect: TLS {connect['tls'][0]:.2f} s, plain {connect['insecure'][0]:.2f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="node:2x0.9cpu")
    parser.add_argument("--size", default="small")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"load average before: {os.getloadavg()}")
    workdir = Path(tempfile.mkdtemp(prefix="tls-overhead-"))
    # SIGTERM (kill, a CI timeout) must still reach the `finally` that removes the lab.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    lab = Lab(unique_name()).up(args.spec, workdir / "lab", subnet=free_subnet())
    try:
        states = {security: _up(lab, workdir, security) for security in ("tls", "insecure")}
        report(measure(states, args.size, args.rounds, args.seed))
    finally:
        subprocess.run([sys.executable, "-m", "clusterbench", "down"], cwd=ROOT, check=False,
                       stdout=subprocess.DEVNULL)
        down(lab)
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
