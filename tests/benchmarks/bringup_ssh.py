"""Bring-up time: ``clusterbench up`` vs distributed's ``SSHCluster`` on 2, 4 and 8 lab hosts.

Run (root, Linux, sshd installed)::

    python -m tests.benchmarks.bringup_ssh [--hosts 2,4,8] [--rounds 5] [--spec SPEC]

What is compared, per host count N (the first N hosts of one virtual lab):

* ``up``: the command a user types, ``python -m clusterbench up INVENTORY`` with an
  inventory restricted to the first N hosts (1 worker, 1 thread each), timed from
  the process start until it returns — it returns only once the scheduler has
  registered every worker.  Then ``clusterbench down`` (timed separately, for info).
* ``SSHCluster``: a fresh ``python`` process that imports distributed, builds
  ``SSHCluster(hosts=[scheduler_host, *hosts], connect_options=..., worker_options=
  {"nthreads": 1}, remote_python=sys.executable)``, opens a ``Client`` and calls
  ``client.wait_for_workers(N)``; timed from the process start until it prints that
  the workers are there (closing is not timed).  It also reports the time measured
  inside the process after ``import distributed`` ("in-process" column), which is
  what a user who already has a Python session would see.

Fairness choices (the lab): by default the hosts' CPU quotas add up to less than this
machine's cores (``DEFAULT_SPEC``), so that N hosts start in parallel as N real machines
would; ``--spec node:8x0.5cpu/1024MB`` oversubscribes the cores on purpose.

Fairness choices (the scheduler host):
``SSHCluster`` always starts its scheduler over SSH on ``hosts[0]``; ``up`` runs the
scheduler inside its daemon on this machine.  Putting SSHCluster's scheduler on one
of the CPU-throttled fake hosts would slow it for a reason that has nothing to do
with bring-up, so the benchmark starts one more sshd in the root namespace, on the
lab bridge address (a lab address) and a free port, with the lab's client key and
a known_hosts file holding the lab's host keys plus this one.  SSHCluster's
scheduler then runs on this machine, unthrottled, exactly like ``up``'s; it pays one
extra SSH handshake and interpreter start, which is how SSHCluster works.  Because
that sshd listens on another port than the fake hosts', ``connect_options`` is
given as a per-host list (same ``known_hosts``/``client_keys`` for all).  The
scheduler binds to the bridge address with the dashboard on a free port, as the
lab inventory makes ``up`` do.  SSHCluster's default worker class is
``distributed.Nanny`` (what its users get), while ``up`` starts plain workers
(``--no-nanny``); the optional ``--sshcluster-worker-class distributed.Worker``
removes that difference.

Variants are interleaved (their order alternates every round) so that the noise of
this shared 2-core machine hits both alike; between two measurements the benchmark
waits until no process but sshd is left on any fake host.  Only loopback and the
lab's own addresses are used.  The lab (and the extra sshd) are always torn down.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from clusterbench.lab import Lab, LabState, down, processes_in
from clusterbench.lab import sshd as lab_sshd
from clusterbench.lab.system import spawn, terminate
from tests.fixtures.lab import free_subnet, unique_name

ROOT = Path(__file__).resolve().parents[2]
# 8 × 0.2 CPU = 1.6 CPUs: every fake host gets a CPU share of its own on this 2-core machine
# (real hosts have their own cores), leaving 0.4 CPU for the client side.  With
# "node:8x0.5cpu" (4 CPUs of quota on 2 cores) the hosts compete for the cores instead and
# 8 hosts measure the machine's saturation, not the launcher; README shows both.
DEFAULT_SPEC = "node:8x0.2cpu/1024MB"
QUIET_TIMEOUT = 20.0
# The child process that measures SSHCluster; argv[1] is a JSON config.
SSHCLUSTER_CHILD = r"""
import json, sys, time
config = json.loads(sys.argv[1])
from distributed import Client, SSHCluster
started = time.perf_counter()
cluster = SSHCluster(hosts=config["hosts"], connect_options=config["connect_options"],
                     worker_options={"nthreads": 1}, worker_class=config["worker_class"],
                     scheduler_options=config["scheduler_options"],
                     remote_python=config["python"])
client = Client(cluster)
client.wait_for_workers(config["workers"])
print("READY", time.perf_counter() - started, flush=True)
client.close()
cluster.close()
print("CLOSED", flush=True)
"""


@dataclass
class Timings:
    """Seconds per variant for one host count."""

    up: list[float] = field(default_factory=list)
    down: list[float] = field(default_factory=list)
    ssh: list[float] = field(default_factory=list)
    ssh_inproc: list[float] = field(default_factory=list)


def free_port(address: str) -> int:
    """A TCP port free on *address* right now."""
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


def start_scheduler_sshd(lab: LabState, workdir: Path) -> tuple[int, int, Path]:
    """An sshd in the root namespace on the bridge address for SSHCluster's scheduler.

    Returns
    -------
    tuple
        ``(pid, port, known_hosts)``; *known_hosts* holds the lab's keys and this one.
    """
    port = free_port(lab.bridge_address)
    key = workdir / "sched_host_key"
    public = lab_sshd.write_key(key, "bench-scheduler")
    config = lab_sshd.config_text(lab.bridge_address, key, workdir / "sched_sshd.pid",
                                  Path(lab.directory) / "authorized_keys")
    config_path = workdir / "sched_sshd_config"
    config_path.write_text(config.replace("Port 22", f"Port {port}", 1))
    log = workdir / "sched_sshd.log"
    pid = spawn([lab_sshd.SSHD, "-D", "-f", str(config_path), "-E", str(log)], log)
    known = workdir / "known_hosts"
    entry = f"[{lab.bridge_address}]:{port} {' '.join(public.split()[:2])}\n"
    known.write_text(Path(lab.known_hosts).read_text() + entry)
    _wait_listening(lab.bridge_address, port, pid)
    return pid, port, known


def _wait_listening(address: str, port: int, pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"scheduler sshd (pid {pid}) not listening on {address}:{port}")


def write_inventories(lab: LabState, counts: list[int], workdir: Path) -> dict[int, Path]:
    """One inventory per host count: the lab's, restricted to its first N hosts."""
    data = yaml.safe_load(Path(lab.inventory).read_text())
    paths = {}
    for count in counts:
        subset = data | {"cluster": f"bench{count}", "hosts": data["hosts"][:count]}
        paths[count] = workdir / f"inventory-{count}.yml"
        paths[count].write_text(yaml.safe_dump(subset, sort_keys=False))
    return paths


def wait_quiet(lab: LabState) -> float:
    """Wait until only sshd listeners live in the lab's namespaces; kill stragglers past
    QUIET_TIMEOUT so one round never slows the next.  Returns the seconds waited."""
    start = time.monotonic()
    listeners = {h.sshd_pid for h in lab.hosts}
    while True:
        extra = [p for pids in processes_in(lab).values() for p in pids if p not in listeners]
        if not extra:
            return time.monotonic() - start
        if time.monotonic() - start > QUIET_TIMEOUT:
            print(f"  warning: {len(extra)} process(es) lingered; killed", file=sys.stderr)
            terminate(extra, 1.0)
            return time.monotonic() - start
        time.sleep(0.1)


def run_up(inventory: Path, env: dict[str, str]) -> tuple[float, float]:
    """``clusterbench up`` then ``down``; (up seconds, down seconds)."""
    command = [sys.executable, "-m", "clusterbench"]
    start = time.perf_counter()
    up = subprocess.run([*command, "up", str(inventory)], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=300)
    up_seconds = time.perf_counter() - start
    start = time.perf_counter()
    stop = subprocess.run([*command, "down"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    down_seconds = time.perf_counter() - start
    if up.returncode != 0 or stop.returncode != 0:
        raise RuntimeError(f"clusterbench up/down failed: {up.stderr[-500:]} {stop.stderr[-300:]}")
    return up_seconds, down_seconds


def run_sshcluster(config: dict, log: Path) -> tuple[float, float]:
    """SSHCluster in a fresh process; (seconds to READY from process start, in-process seconds).

    Its stderr (distributed's INFO logs) goes to *log*: a pipe nobody reads could fill up
    and stall the child mid-measurement.
    """
    start = time.perf_counter()
    with open(log, "w") as errors:
        child = subprocess.Popen([sys.executable, "-c", SSHCLUSTER_CHILD, json.dumps(config)],
                                 cwd=ROOT, stdout=subprocess.PIPE, stderr=errors, text=True)
    ready = None
    for line in child.stdout:
        if line.startswith("READY"):
            ready = (time.perf_counter() - start, float(line.split()[1]))
            break
    try:
        child.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
    if ready is None or child.returncode != 0:
        tail = log.read_text()[-800:]
        raise RuntimeError(f"SSHCluster failed (exit {child.returncode}): {tail}")
    return ready


def sshcluster_config(lab: LabState, count: int, port: int, known: Path,
                      worker_class: str) -> dict:
    """JSON config of the SSHCluster child for the first *count* lab hosts."""
    common = {"known_hosts": str(known), "client_keys": [lab.client_key], "username": "root"}
    hosts = [lab.bridge_address, *[h.address for h in lab.hosts[:count]]]
    return {
        "hosts": hosts,
        "connect_options": [common | {"port": port}] + [common | {"port": 22}] * count,
        "scheduler_options": {"host": lab.bridge_address,
                              "dashboard_address": f"{lab.bridge_address}:0"},
        "worker_class": worker_class,
        "python": sys.executable,
        "workers": count,
    }


def measure(lab: LabState, counts: list[int], rounds: int, workdir: Path,
            worker_class: str) -> dict[int, Timings]:
    """Interleaved rounds: per round and host count, both variants in alternating order."""
    sshd_pid, port, known = start_scheduler_sshd(lab, workdir)
    env = os.environ | {"CLUSTERBENCH_STATE_DIR": str(workdir / "state")}
    inventories = write_inventories(lab, counts, workdir)
    timings = {count: Timings() for count in counts}
    try:
        for index in range(rounds):
            for count in counts:
                order = ("up", "ssh") if (index + count) % 2 == 0 else ("ssh", "up")
                for variant in order:
                    _one(variant, timings[count], lab, inventories[count], env,
                         sshcluster_config(lab, count, port, known, worker_class))
                    wait_quiet(lab)
                row = timings[count]
                print(f"round {index + 1} hosts {count}: up {row.up[-1]:.2f} s, "
                      f"SSHCluster {row.ssh[-1]:.2f} s ({row.ssh_inproc[-1]:.2f} in-process)",
                      flush=True)
    finally:
        terminate([sshd_pid], 2.0)
    return timings


def _one(variant: str, row: Timings, lab: LabState, inventory: Path, env: dict[str, str],
         config: dict) -> None:
    if variant == "up":
        up, stop = run_up(inventory, env)
        row.up.append(up)
        row.down.append(stop)
    else:
        total, inproc = run_sshcluster(config, inventory.with_name("sshcluster.log"))
        row.ssh.append(total)
        row.ssh_inproc.append(inproc)


def table(timings: dict[int, Timings]) -> str:
    """Markdown table of medians and ratios."""
    med = statistics.median
    smallest = min(timings)
    lines = [
        "| hosts | `up` median s | SSHCluster median s (in-process) | up / SSHCluster "
        f"| up N / up {smallest} | `down` median s |",
        "|---|---|---|---|---|---|",
    ]
    for count, row in sorted(timings.items()):
        lines.append(
            f"| {count} | {med(row.up):.2f} ({min(row.up):.2f}–{max(row.up):.2f}) "
            f"| {med(row.ssh):.2f} ({med(row.ssh_inproc):.2f}) "
            f"| {med(row.up) / med(row.ssh):.2f} "
            f"| {med(row.up) / med(timings[smallest].up):.2f} | {med(row.down):.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="2,4,8", help="host counts, e.g. 2,4,8")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--spec", default=DEFAULT_SPEC, help="lab spec (needs max(hosts) hosts)")
    parser.add_argument("--sshcluster-worker-class", default="distributed.Nanny")
    args = parser.parse_args()
    counts = sorted(int(c) for c in args.hosts.split(","))
    print(f"load before: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bringup-") as tmp:
        workdir = Path(tmp)
        lab = Lab(unique_name()).up(args.spec, workdir / "lab", subnet=free_subnet())
        try:
            if len(lab.hosts) < max(counts):
                raise SystemExit(f"lab spec {args.spec!r} has {len(lab.hosts)} hosts; "
                                 f"{max(counts)} needed")
            timings = measure(lab, counts, args.rounds, workdir, args.sshcluster_worker_class)
        finally:
            down(lab)
    print(f"load after: {os.getloadavg()}")
    print(f"\nspec {args.spec}, {args.rounds} interleaved rounds, SSHCluster worker class "
          f"{args.sshcluster_worker_class}\n")
    print(table(timings))
    med = statistics.median
    print(f"\ngoals: up <= 0.8x SSHCluster; up {max(counts)} hosts <= 1.5x up {min(counts)} hosts "
          f"(measured {med(timings[max(counts)].up) / med(timings[min(counts)].up):.2f}x)")


if __name__ == "__main__":
    main()
