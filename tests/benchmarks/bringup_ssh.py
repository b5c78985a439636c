"""Bring-up time: ``clusterbench up`` vs distributed's ``SSHCluster`` on 16, 32 and 64 lab hosts.

Run (root, Linux, sshd installed; on a quiet machine: nothing else running)::

    python -m tests.benchmarks.bringup_ssh [--hosts 16,32,64] [--rounds 3]
        [--spec node:64x0.03cpu/256MB] [--variants up,worker,nanny,imports] [--insecure]
        [--baseline OTHER_CHECKOUT] [--out docs/bringup_ssh.json]

    python -m tests.benchmarks.bringup_ssh --hosts 4,8 --rounds 1 --out /tmp/b.json  # smoke

Prints one line per measurement while it runs, then a Markdown table of medians and
ratios, the goal's verdict and the load average; writes every sample to ``--out``
(JSON).  Issue 16's goal: ``up`` <= 0.6x ``SSHCluster(worker_class="distributed.Worker")``
at 32 and 64 hosts, in the same interleaved run.

Variants, per host count N (the first N hosts of one virtual lab):

* ``up``: the command a user types, ``python -m clusterbench up INVENTORY`` with the lab
  inventory restricted to the first N hosts (1 worker, 1 thread each), timed from the
  process start until it returns (every worker registered).  Then ``clusterbench down``
  (timed, for information).  The ``up`` daemon's memory (VmRSS and peak VmHWM of its
  process, which runs the scheduler too) and its CPU seconds so far (utime + stime) are
  read from ``/proc`` right after ``up`` returns: on a lab whose hosts' quotas fill the
  cores, the daemon gets little CPU, and its own CPU time then shows how much it needed.
  ``up`` uses TLS by default (a per-cluster CA copied to every host); ``--insecure``
  passes ``up --insecure`` (plain TCP, as SSHCluster's default).
* ``base`` (with ``--baseline DIR``): ``up`` of another checkout (``PYTHONPATH=DIR``), e.g.
  the commit before a change, measured the same way, interleaved with the rest.
* ``worker``: ``SSHCluster(..., worker_class="distributed.Worker")``: one worker process per
  host, like ``up`` (like for like).
* ``nanny``: ``SSHCluster`` with its default ``distributed.Nanny`` (what its users get: a
  nanny process that starts the worker process, two interpreters per host).
* ``imports``: no launcher at all, the bare minimum every SSH launcher pays before it has
  a worker: from inside this benchmark's process (no interpreter start of its own), one
  asyncssh connection to each of the N hosts at once, each running
  ``python -c "import distributed"`` with BLAS threads 1 (as ``up``'s workers run), timed
  until the last one exits.  No scheduler, no worker, no TLS, no registration: no way of
  starting N workers over SSH can be faster, so ``imports / Worker`` above the goal's 0.6
  says the goal is below what logging in and importing distributed take on these hosts.

  Both SSHCluster variants run in a fresh ``python`` process that builds
  ``SSHCluster(hosts=[scheduler_host, *hosts], connect_options=..., worker_options=
  {"nthreads": 1}, remote_python=sys.executable)``, opens a ``Client`` and calls
  ``client.wait_for_workers(N)``; timed from the process start until it prints that the
  workers are there (closing is not timed).  The time inside the process after
  ``import distributed`` is kept too (``inproc`` in the JSON).

The CPU floor: what N interpreters importing distributed cost this machine's cores.
Before the rounds, ``python -c "import distributed.cli.dask_worker"`` runs on 3 lab hosts
over SSH and reports its own CPU time (``time.process_time()``, which counts the
interpreter's start and is not stretched by the host's CPU quota); the floor for N hosts
is ``N x median CPU seconds / cores``.  ``up`` cannot beat it: every host's worker must
import distributed, and the hosts share this machine's cores.  Nor can it beat the *quota
floor*, ``median CPU seconds / the smallest CPU quota`` of the N hosts: each host starts
its interpreter through its own quota (0.43 CPU s at 0.03 CPU is 14 s, whatever the cores).

Fairness choices (the lab): the default spec gives 64 hosts 0.03 CPU each, 1.92 CPUs of
quota on a 2-core machine, so each host has a share of its own (real hosts have their own
cores) and 0.08 CPU is left for the client side; fewer hosts use the first N of them.
The issue's 32-host numbers used ``node:32x0.06cpu/256MB`` (pass it with ``--hosts
16,32``).

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
lab inventory makes ``up`` do.

Variants are interleaved (their order rotates every round and host count) so that the
noise of a shared 2-core machine hits all alike, and ratios are the median of the
per-round ratios (paired samples).  Between two measurements the benchmark waits until
no process but sshd is left on any fake host.  Only loopback and the lab's own addresses
are used.  The lab (and the extra sshd) are always torn down.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from clusterbench.lab import Lab, LabState, down, processes_in
from clusterbench.lab import sshd as lab_sshd
from clusterbench.lab.system import spawn, terminate
from tests.fixtures.lab import free_subnet, unique_name

ROOT = Path(__file__).resolve().parents[2]
# 64 x 0.03 CPU = 1.92 CPUs: every fake host gets a CPU share of its own on this 2-core
# machine (real hosts have their own cores), leaving 0.08 CPU for the client side.
DEFAULT_SPEC = "node:64x0.03cpu/256MB"
QUIET_TIMEOUT = 60.0
#: Issue 16's goal: up / SSHCluster(distributed.Worker) at these host counts.
GOAL_RATIO = 0.6
GOAL_COUNTS = (32, 64)
VARIANTS = ("up", "base", "worker", "nanny", "imports")
WORKER_CLASS = {"worker": "distributed.Worker", "nanny": "distributed.Nanny"}
FLOOR_SAMPLES = 3
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
client.wait_for_workers(config["workers"], timeout=config["timeout"])
print("READY", time.perf_counter() - started, flush=True)
client.close()
cluster.close()
print("CLOSED", flush=True)
"""
# What the floor measures on a host: the worker's imports, in a fresh interpreter.
FLOOR_CHILD = "import time, distributed.cli.dask_worker; print(time.process_time())"
# The ``imports`` variant's command on every host (BLAS threads as up's workers have them).
IMPORTS_CHILD = ("env OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 "
                 "{python} -c 'import distributed'")


@dataclass
class Samples:
    """Every measurement for one host count (seconds unless named otherwise)."""

    up: list[float] = field(default_factory=list)
    down: list[float] = field(default_factory=list)
    base: list[float] = field(default_factory=list)  # `up` of --baseline's checkout
    worker: list[float] = field(default_factory=list)
    nanny: list[float] = field(default_factory=list)
    imports: list[float] = field(default_factory=list)  # login + import distributed, N hosts
    worker_inproc: list[float] = field(default_factory=list)
    nanny_inproc: list[float] = field(default_factory=list)
    up_rss_mb: list[float] = field(default_factory=list)
    up_peak_rss_mb: list[float] = field(default_factory=list)
    up_cpu_s: list[float] = field(default_factory=list)  # the daemon's CPU until ready
    load: list[float] = field(default_factory=list)  # 1-minute load average after each round
    # Paired ratios, one per round: up / SSHCluster of the same round.
    up_over_worker: list[float] = field(default_factory=list)
    up_over_nanny: list[float] = field(default_factory=list)
    imports_over_worker: list[float] = field(default_factory=list)


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


def run_up(inventory: Path, env: dict[str, str], insecure: bool, checkout: Path = ROOT
           ) -> dict[str, float]:
    """``clusterbench up`` then ``down`` of *checkout*: their seconds and the daemon's
    memory in MB."""
    command = [sys.executable, "-m", "clusterbench"]
    flags = ["--insecure"] if insecure else []
    env = env | {"PYTHONPATH": str(checkout)}  # that checkout's package, not the installed one
    start = time.perf_counter()
    up = subprocess.run([*command, "up", str(inventory), "--timeout", "600", *flags],
                        cwd=checkout, env=env, capture_output=True, text=True, timeout=900)
    up_seconds = time.perf_counter() - start
    memory = daemon_memory(env["CLUSTERBENCH_STATE_DIR"], inventory)
    start = time.perf_counter()
    stop = subprocess.run([*command, "down"], cwd=checkout, env=env, capture_output=True,
                          text=True, timeout=600)
    down_seconds = time.perf_counter() - start
    if up.returncode != 0:
        raise RuntimeError(f"clusterbench up (exit {up.returncode}): {up.stderr[-2000:]}")
    if stop.returncode != 0:  # down's bounds (issue 16 item 1), not bring-up: go on
        # (wait_quiet then kills what is left, so the next measurement starts clean).
        print(f"  warning: down exited {stop.returncode}: {stop.stderr.strip()[-300:]}",
              file=sys.stderr, flush=True)
    return {"up": up_seconds, "down": down_seconds, **memory}


def daemon_memory(state_dir: str, inventory: Path) -> dict[str, float]:
    """VmRSS and VmHWM (peak) of the ``up`` daemon in MB, from its state file's PID."""
    cluster = yaml.safe_load(inventory.read_text())["cluster"]
    pid = json.loads((Path(state_dir) / f"cluster-{cluster}.json").read_text())["pid"]
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024  # kB
    # utime + stime (fields 14, 15 of /proc/PID/stat, after the parenthesised name): the
    # CPU the daemon (scheduler included) spent to get every worker registered.
    ticks = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[11:13]
    cpu = sum(int(t) for t in ticks) / os.sysconf("SC_CLK_TCK")
    return {"up_rss_mb": fields["VmRSS"], "up_peak_rss_mb": fields["VmHWM"], "up_cpu_s": cpu}


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
        child.communicate(timeout=300)
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
        "timeout": 600,
    }


def run_imports(lab: LabState, count: int) -> float:
    """Seconds until every one of the first *count* hosts, all at once, has logged in over
    SSH and imported distributed (the ``imports`` variant)."""
    import asyncssh

    command = IMPORTS_CHILD.format(python=lab.python)

    async def one(address: str) -> None:
        async with asyncssh.connect(address, username="root", client_keys=[lab.client_key],
                                    known_hosts=lab.known_hosts) as connection:
            await connection.run(command, check=True, timeout=600)

    async def every() -> None:
        await asyncio.gather(*(one(host.address) for host in lab.hosts[:count]))

    start = time.perf_counter()
    asyncio.run(every())
    return time.perf_counter() - start


def interpreter_cpu(lab: LabState, samples: int = FLOOR_SAMPLES) -> list[float]:
    """CPU seconds of a worker's imports in a fresh interpreter on the first *samples*
    lab hosts, one after the other (each through its own CPU quota), over SSH."""
    import asyncssh

    async def one(address: str) -> float:
        async with asyncssh.connect(address, username="root", client_keys=[lab.client_key],
                                    known_hosts=lab.known_hosts) as connection:
            result = await connection.run(f"{lab.python} -c '{FLOOR_CHILD}'", check=True,
                                          timeout=300)
            return float(str(result.stdout).split()[-1])

    return [asyncio.run(one(host.address)) for host in lab.hosts[:samples]]


def floor_seconds(count: int, cpu: list[float]) -> float:
    """N hosts' interpreter starts over this machine's cores (the issue's CPU floor)."""
    return count * statistics.median(cpu) / (os.cpu_count() or 1)


def quota_floor_seconds(quotas: list[float], cpu: list[float]) -> float | None:
    """One interpreter start through the smallest of the hosts' CPU *quotas* (None: a host
    without a quota, which then has a core to itself)."""
    return statistics.median(cpu) / min(quotas) if quotas and all(quotas) else None


def order_of(variants: tuple[str, ...], index: int) -> tuple[str, ...]:
    """*variants* rotated by *index*: each one goes first, middle and last in turn."""
    shift = index % len(variants)
    return variants[shift:] + variants[:shift]


def measure(lab: LabState, counts: list[int], rounds: int, workdir: Path,
            variants: tuple[str, ...], env: dict[str, str], insecure: bool,
            baseline: Path | None = None) -> dict[int, Samples]:
    """Interleaved rounds: per round and host count, every variant in a rotating order."""
    sshd_pid, port, known = start_scheduler_sshd(lab, workdir)
    inventories = write_inventories(lab, counts, workdir)
    samples = {count: Samples() for count in counts}
    try:
        for index in range(rounds):
            for position, count in enumerate(counts):
                row, seen = samples[count], {}
                for variant in order_of(variants, index + position):
                    seen[variant] = _one(variant, row, lab, count, inventories[count], env,
                                         insecure, (port, known), baseline)
                    wait_quiet(lab)
                _pair(row, seen)
                row.load.append(os.getloadavg()[0])
                print(f"round {index + 1} hosts {count}: "
                      + ", ".join(f"{v} {s:.2f} s" for v, s in seen.items())
                      + f"; load {row.load[-1]:.1f}", flush=True)
    finally:
        terminate([sshd_pid], 2.0)
    return samples


def _one(variant: str, row: Samples, lab: LabState, count: int, inventory: Path,
         env: dict[str, str], insecure: bool, scheduler_sshd: tuple[int, Path],
         baseline: Path | None = None) -> float:
    """Measure one variant once, append its samples to *row*; its bring-up seconds."""
    if variant == "base":
        row.base.append(run_up(inventory, env, insecure, baseline or ROOT)["up"])
        return row.base[-1]
    if variant == "up":
        result = run_up(inventory, env, insecure)
        for key, value in result.items():
            getattr(row, key).append(value)
        return result["up"]
    if variant == "imports":
        row.imports.append(run_imports(lab, count))
        return row.imports[-1]
    port, known = scheduler_sshd
    config = sshcluster_config(lab, count, port, known, WORKER_CLASS[variant])
    total, inproc = run_sshcluster(config, inventory.with_name(f"sshcluster-{variant}.log"))
    getattr(row, variant).append(total)
    getattr(row, f"{variant}_inproc").append(inproc)
    return total


def _pair(row: Samples, seen: dict[str, float]) -> None:
    """Per-round ratios of ``up`` (and of ``imports``) to the SSHCluster variants measured
    in the same round."""
    for other in ("worker", "nanny"):
        if "up" in seen and other in seen:
            getattr(row, f"up_over_{other}").append(seen["up"] / seen[other])
    if "imports" in seen and "worker" in seen:
        row.imports_over_worker.append(seen["imports"] / seen["worker"])


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summary(samples: dict[int, Samples], cpu: list[float],
            quotas: list[float] | None = None) -> list[dict]:
    """Per host count: medians, paired ratios, the floors, memory and the goal's verdict
    (*quotas*: each lab host's CPU quota, in lab order)."""
    rows = []
    for count, row in sorted(samples.items()):
        floor = floor_seconds(count, cpu) if cpu else None
        quota_floor = quota_floor_seconds((quotas or [])[:count], cpu) if cpu else None
        up, ratio = _median(row.up), _median(row.up_over_worker)
        rows.append({
            "hosts": count, "up_s": up, "worker_s": _median(row.worker),
            "nanny_s": _median(row.nanny), "base_s": _median(row.base),
            "imports_s": _median(row.imports),
            "imports_over_worker": _median(row.imports_over_worker),
            "up_over_imports": _median([u / i for u, i in zip(row.up, row.imports,
                                                              strict=False)]),
            "up_over_base": _median([u / b for u, b in zip(row.up, row.base, strict=False)]),
            "up_over_worker": ratio,
            "up_over_nanny": _median(row.up_over_nanny), "floor_s": floor,
            "up_over_floor": up / floor if up and floor else None,
            "up_minus_floor_s": up - floor if up and floor else None,
            "quota_floor_s": quota_floor,
            "up_over_quota_floor": up / quota_floor if up and quota_floor else None,
            "down_s": _median(row.down), "up_rss_mb": _median(row.up_rss_mb),
            "up_peak_rss_mb": _median(row.up_peak_rss_mb), "up_cpu_s": _median(row.up_cpu_s),
            "load": _median(row.load),
            "goal": None if count not in GOAL_COUNTS or ratio is None
            else ratio <= GOAL_RATIO,
        })
    return rows


def table(rows: list[dict]) -> str:
    """Markdown table of :func:`summary`'s rows (``-``: variant not measured)."""
    def cell(value: float | None, digits: int = 2) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    lines = ["| hosts | `up` s | baseline `up` s | SSHCluster Worker s | SSHCluster Nanny s "
             "| up / Worker | up / Nanny | login + import s | login + import / Worker "
             "| up / login + import "
             "| CPU floor s | up / floor | quota floor s "
             "| up / quota floor | `down` s | daemon RSS MB (peak) | daemon CPU s | load |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['hosts']} | {cell(r['up_s'])} | {cell(r['base_s'])} | {cell(r['worker_s'])} "
            f"| {cell(r['nanny_s'])} | {cell(r['up_over_worker'])} "
            f"| {cell(r['up_over_nanny'])} | {cell(r['imports_s'])} "
            f"| {cell(r['imports_over_worker'])} | {cell(r['up_over_imports'])} "
            f"| {cell(r['floor_s'])} "
            f"| {cell(r['up_over_floor'])} | {cell(r['quota_floor_s'])} "
            f"| {cell(r['up_over_quota_floor'])} | {cell(r['down_s'])} "
            f"| {cell(r['up_rss_mb'], 0)} ({cell(r['up_peak_rss_mb'], 0)}) "
            f"| {cell(r['up_cpu_s'])} | {cell(r['load'], 1)} |")
    return "\n".join(lines)


def verdict(rows: list[dict]) -> str:
    """One line per goal host count that was measured with both ``up`` and ``worker``."""
    judged = [r for r in rows if r["goal"] is not None]
    if not judged:
        return (f"goal (up <= {GOAL_RATIO}x SSHCluster Worker at {GOAL_COUNTS} hosts): "
                "not judged (needs variants up and worker at one of those host counts)")
    return "\n".join(
        f"goal up <= {GOAL_RATIO}x SSHCluster Worker at {r['hosts']} hosts: "
        f"{'met' if r['goal'] else 'NOT met'} ({r['up_over_worker']:.2f}x)"
        + _minimum_note(r) for r in judged)


def _minimum_note(row: dict) -> str:
    """What the ``imports`` variant says of the goal at one host count ('' if not run)."""
    share = row.get("imports_over_worker")
    if share is None:
        return ""
    verdict = (f"no launcher can reach {GOAL_RATIO}x on these hosts" if share > GOAL_RATIO
               else f"{GOAL_RATIO}x is above that minimum")
    return (f"; every host logging in and importing distributed, nothing else, took "
            f"{share:.2f}x SSHCluster Worker: {verdict}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="16,32,64", help="host counts, e.g. 16,32,64")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--spec", default=DEFAULT_SPEC, help="lab spec (needs max(hosts) hosts)")
    parser.add_argument("--variants", default="up,worker,nanny",
                        help="any of up,worker,nanny,imports (worker: SSHCluster with "
                             "distributed.Worker; nanny: its default distributed.Nanny; "
                             "imports: every host logs in and imports distributed, no worker)")
    parser.add_argument("--insecure", action="store_true",
                        help="`up --insecure` (plain TCP like SSHCluster; default: TLS)")
    parser.add_argument("--out", default="docs/bringup_ssh.json", help="JSON of every sample")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another checkout (e.g. `git worktree add /tmp/base HEAD~1`): "
                             "its `up` runs too, as variant `base`")
    args = parser.parse_args(argv)
    args.counts = sorted(int(c) for c in args.hosts.split(","))
    wanted = args.variants.split(",") + (["base"] if args.baseline else [])
    args.variants = tuple(v for v in VARIANTS if v in wanted)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    load_before = os.getloadavg()
    print(f"load before: {load_before}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bringup-") as tmp:
        workdir = Path(tmp)
        lab = Lab(unique_name(), ready_timeout=180).up(args.spec, workdir / "lab",
                                                      subnet=free_subnet())
        env = os.environ | {"CLUSTERBENCH_STATE_DIR": str(workdir / "state")}
        try:
            if len(lab.hosts) < max(args.counts):
                raise SystemExit(f"lab spec {args.spec!r} has {len(lab.hosts)} hosts; "
                                 f"{max(args.counts)} needed")
            cpu = interpreter_cpu(lab)
            print(f"interpreter start (CPU s, {len(cpu)} hosts): "
                  + ", ".join(f"{c:.2f}" for c in cpu), flush=True)
            samples = measure(lab, args.counts, args.rounds, workdir, args.variants, env,
                              args.insecure, args.baseline)
        finally:
            down(lab)
    rows = summary(samples, cpu, [host.cpu for host in lab.hosts])
    load_after = os.getloadavg()
    print(f"load after: {load_after}")
    print(f"\nspec {args.spec}, {args.rounds} interleaved round(s), {os.cpu_count()} cores, "
          f"`up` {'without' if args.insecure else 'with'} TLS, handshake limit "
          f"{env.get('CLUSTERBENCH_SSH_HANDSHAKES', 'default')}; interpreter start "
          f"{statistics.median(cpu):.2f} CPU s per host\n")
    print(table(rows))
    print()
    print(verdict(rows))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({
        "spec": args.spec, "rounds": args.rounds, "variants": list(args.variants),
        "insecure": args.insecure, "cores": os.cpu_count(),
        "baseline": str(args.baseline) if args.baseline else None,
        "handshakes": env.get("CLUSTERBENCH_SSH_HANDSHAKES"),
        "load_before": load_before, "load_after": load_after,
        "interpreter_cpu_s": cpu, "summary": rows,
        "samples": {str(c): asdict(s) for c, s in samples.items()},
    }, indent=1) + "\n")
    print(f"\nsamples: {args.out}")


if __name__ == "__main__":
    main()
