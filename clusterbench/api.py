"""The Python API: what ``clusterbench up`` and ``clusterbench run`` do, callable from a
notebook or a script (the ``run`` command is a thin adapter over :func:`run_scenario`).

Examples
--------
>>> from clusterbench import Cluster, run_scenario
>>> with Cluster.up("inventories/local.yml") as cluster:  # doctest: +SKIP
...     run = run_scenario("scaling", cluster=cluster, workloads=["montecarlo"],
...                        size="tiny", schedulers=["synchronous", "distributed"],
...                        workers="1,2", repeats=2, results_dir="results")
>>> run.summary  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import logging
import shlex
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from clusterbench.commands.common import err, inventory_from, out, report_leftovers
from clusterbench.errors import DiskFullError, ScenarioError, UsageError
from clusterbench.inventory.load import load_inventory
from clusterbench.results.environment import capture_environment
from clusterbench.results.store import RunStore, new_run_id
from clusterbench.runner.backends import ManagedCluster
from clusterbench.runner.execute import Sweep
from clusterbench.runner.plan import Point, plan_points
from clusterbench.runner.scenario import Scenario, load_scenario, narrow

__all__ = ["Cluster", "RunResult", "load_inventory", "load_scenario", "run_scenario"]


@dataclass(frozen=True)
class RunResult:
    """What :func:`run_scenario` measured.

    Attributes
    ----------
    directory : Path
        The run directory (``records.jsonl``, ``environment.json``, report files).
    records : list
        Every record of the run, in the order measured.
    summary : pandas.DataFrame
        One row per point: the summary the report and the terminal show.
    fits : Any
        The scaling-law fits of the report.
    failed : int
        Measurements that failed or did not verify (worker-set changes not counted).
    """

    directory: Path
    records: list
    summary: Any
    fits: Any
    failed: int

    @property
    def exit_code(self) -> int:
        """What ``clusterbench run`` exits with: 1 when any measurement failed, else 0."""
        return 1 if self.failed else 0


class Cluster(ManagedCluster):
    """An inventory's whole cluster, started in this process (as ``clusterbench up``).

    Pass it to :func:`run_scenario` as ``cluster=``: the distributed modes then run on it
    instead of on a cluster of their own, and the run leaves it running.
    """

    @classmethod
    @contextmanager
    def up(cls, inventory_path: str | Path | None = None, timeout: float = 300.0,
           insecure: bool = False) -> Iterator[Cluster]:
        """Start every worker of the inventory; stop them all on leaving the block.

        Parameters
        ----------
        inventory_path : str or Path, optional
            The inventory file; the local default (``inventories/local.yml``) when None.
        timeout : float
            Seconds the workers may take to join.
        insecure : bool
            Plain TCP to remote hosts instead of mutual TLS (see ``--insecure``).

        Yields
        ------
        Cluster
            The started cluster; closed (workers, scheduler, leftover sweep, TLS keys)
            when the block ends, also on an error or Ctrl-C.
        """
        inventory = inventory_from(None if inventory_path is None else str(inventory_path))
        cluster = cls(inventory, timeout=timeout, insecure=insecure)
        _warn_insecure(cluster.transport)
        try:
            cluster.workers_for(cluster.max_workers)
            cluster._inventory_order = list(cluster._ready or [])
            yield cluster
        finally:
            cluster.close()
            report_leftovers(cluster.leftovers)

    _inventory_order: list[Any] = []

    def use_order(self, order: str) -> None:
        """Add workers in *order* (a scenario's ``order``) from now on."""
        if order == self.order or self._ready is None:
            self.order = order
            return
        if self.order == "inventory" and not self._inventory_order:
            self._inventory_order = list(self._ready)
        self.order = order
        if order == "fastest-first":
            self._order_fastest_first()
        else:
            self._ready = list(self._inventory_order)


@dataclass(frozen=True)
class _Connection:
    """How the distributed modes reach their cluster: the attributes of ``run``'s options
    the helpers below read (``--resume`` passes its argparse namespace instead)."""

    scheduler_address: str | None = None
    attach: bool = False
    insecure: bool = False
    cluster: ManagedCluster | None = None


def run_scenario(scenario: str | Path | Scenario, *, inventory: str | Path | None = None,
                 cluster: ManagedCluster | None = None,
                 workloads: Sequence[str] | str | None = None, size: str | None = None,
                 schedulers: Sequence[str] | str | None = None,
                 workers: Sequence[int] | str | None = None, repeats: int | None = None,
                 warmup: int | None = None, seed: int | None = None, order: str | None = None,
                 order_points: str | None = None, stabilize: int | None = None,
                 retries: int | None = None, weak: bool = False,
                 results_dir: str | Path = "results", insecure: bool = False,
                 scheduler_address: str | None = None, attach: bool = False) -> RunResult:
    """Plan, calibrate, execute and report one scenario (``clusterbench run``).

    Parameters
    ----------
    scenario : str, Path or Scenario
        A scenario name (``scaling``), a YAML file, or a loaded :class:`Scenario`.
    inventory : str or Path, optional
        The inventory file; the cluster's, else the local default, when None.
    cluster : Cluster, optional
        A started cluster (:meth:`Cluster.up`) for the distributed modes; left running.
    workloads, schedulers : list of str or str, optional
        Narrow the scenario: names, as a list or comma-separated.
    size : str, optional
        ``tiny``, ``small`` or ``full`` for every workload.
    workers : list of int or str, optional
        Worker counts, e.g. ``[1, 2]`` or ``"1,2,4..max"``.
    repeats, warmup, seed, stabilize, retries : int, optional
        As the ``run`` options of the same names; None keeps the scenario's value.
    order, order_points : str, optional
        Order of adding workers, and of the points (``--order``, ``--order-points``).
    weak : bool
        Weak scaling instead of strong.
    results_dir : str or Path
        Where the run directory is created.
    insecure : bool
        Plain TCP to remote hosts for a cluster this run starts.
    scheduler_address : str, optional
        Run the distributed modes on the scheduler at this address.
    attach : bool
        Run the distributed modes on the cluster ``clusterbench up`` started.

    Returns
    -------
    RunResult
        The run directory, records, summary and fits.

    Raises
    ------
    ClusterbenchError
        A bad scenario, option or inventory (one line), before any cluster starts.
    KeyboardInterrupt
        Interrupted; its ``resume_hint`` is the command that completes the run.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(str(scenario))
    scenario = narrow(scenario, workloads=_comma(workloads), size=size,
                      schedulers=_comma(schedulers), workers=_comma(workers), repeats=repeats,
                      warmup=warmup, seed=seed, order=order, order_points=order_points,
                      stabilize=stabilize, retries=retries, weak=weak)
    interfaces = _check_workloads(scenario)
    _quiet_logs()
    connection = _Connection(scheduler_address, attach, insecure, cluster)
    loaded = cluster.inventory if inventory is None and cluster is not None \
        else inventory_from(None if inventory is None else str(inventory))
    scenario = _without_duplicate_local_cluster(scenario, loaded, connection)
    backends: dict[str, Any] = {}
    try:
        backends = _backends(connection, loaded, scenario)
        store, records = _sweep(scenario, loaded, backends, interfaces, connection,
                                Path(results_dir))
    finally:
        close_backends({mode: b for mode, b in backends.items() if b is not cluster})
    return finish_run(store, records)


def _comma(value: Sequence[Any] | str | None) -> str | None:
    """A list option as the command line gives it: comma-separated."""
    if value is None or isinstance(value, str):
        return value
    return ",".join(str(v) for v in value)


def _quiet_logs() -> None:
    # Nanny shutdown chatter ("still alive after 4 s, killing") is not for the user.
    logging.getLogger("distributed").setLevel(logging.ERROR)
    # The in-process scheduler logs a worker it cannot reach (a cut link) as tracebacks; the
    # sweep records that repeat as failed with the reason (runner.deadline), in one line.
    logging.getLogger("distributed.scheduler").setLevel(logging.CRITICAL)
    logging.getLogger("asyncio").addFilter(quiet_interrupted_gather)


def _sweep(scenario: Scenario, inventory: Any, backends: dict[str, Any],
           interfaces: dict[str, str], connection: Any,
           results_dir: Path) -> tuple[RunStore, list]:
    """Plan the points, create the run directory, calibrate and run the sweep."""
    maximum = _maximum(backends, inventory)
    points = plan_points(scenario, maximum, interfaces,
                         {mode: backend.max_workers for mode, backend in backends.items()})
    _note_skipped(scenario, maximum)
    store = RunStore.create(results_dir, new_run_id(scenario.name))
    try:
        environment = _environment(scenario, inventory, connection)
        environment["security"] = _security(backends)
        store.write_environment(environment)
        calibration = _calibrate(scenario, points, backends)
        environment |= _calibration_json(calibration)
        store.write_environment(environment)
        checks = _CapacityChecks(store, environment, _capacity_width(points))
        records = _execute(scenario, store, backends, calibration.task_overhead, points,
                           checks.measure, environment)
        checks.measure("end")
    except (KeyboardInterrupt, DiskFullError) as exc:
        note_resume(exc, store)
        raise
    return store, records


def close_backends(backends: dict[str, Any]) -> None:
    """Stop every cluster of the run (once each) and report what outlived it."""
    for backend in {id(b): b for b in backends.values()}.values():
        backend.close()
        report_leftovers(getattr(backend, "leftovers", {}))


def note_resume(exc: BaseException, store: RunStore | None) -> None:
    """Tell an interrupted (or disk-full) run's user how to finish it: the CLI prints
    ``resume_hint`` after its "interrupted" line; a full disk's one line gets the hint."""
    if store is None:  # nothing was written yet: nothing to resume
        return
    command = f"clusterbench run --resume {shlex.quote(str(store.directory))}"
    if isinstance(exc, DiskFullError):
        exc.args = (f"{exc.args[0]}; once there is room: {command}",)
    else:
        exc.resume_hint = command  # type: ignore[attr-defined]


def quiet_interrupted_gather(record: logging.LogRecord) -> bool:
    """Drop asyncio's "Task exception was never retrieved ... AllExit": the client's pending
    gather, abandoned when a signal stops the run (the run says it was interrupted)."""
    exc = record.exc_info[1] if record.exc_info else None
    return type(exc).__name__ not in ("AllExit", "CancelledError")


def _note_skipped(scenario: Scenario, maximum: int) -> None:
    from clusterbench.runner.scenario import skipped_counts

    skipped = skipped_counts(scenario.workers, maximum)
    if skipped:
        err().print(f"note: worker count(s) {', '.join(map(str, skipped))} skipped: there are "
                    f"{maximum} workers")


def _check_workloads(scenario: Scenario) -> dict[str, str]:
    """Resolve every workload (one-line error for a bad name, size or params); name →
    interface."""
    from clusterbench.workloads.registry import resolve

    interfaces = {}
    for choice in scenario.workloads:
        workload = resolve(choice.name)
        if choice.size not in workload.sizes:
            raise ScenarioError(f"workload {choice.name!r} has no size {choice.size!r}; "
                                f"valid: {', '.join(workload.sizes)}")
        # Here, not in prepare: a bad value must not cost a cluster start and a calibration.
        problem = workload.params_problem(dict(choice.params))
        if problem:
            raise ScenarioError(f"{scenario.source}: workload {choice.name!r}: params: "
                                f"{problem}")
        if scenario.scaling == "weak" and workload.weak_param is None:
            raise ScenarioError(f"{scenario.source}: workload {choice.name!r} cannot scale "
                                f"weakly (it has no size parameter that grows with the "
                                f"workers); drop it or run strong scaling")
        interfaces[choice.name] = workload.interface
    return interfaces


def _without_duplicate_local_cluster(scenario: Scenario, inventory: Any,
                                     connection: Any) -> Scenario:
    """``local-distributed`` duplicates ``distributed`` when the inventory is this machine."""
    attached = connection.scheduler_address or connection.attach
    all_local = all(host.launcher == "local" for host in inventory.hosts)
    if ("local-distributed" in scenario.schedulers and "distributed" in scenario.schedulers
            and all_local and not attached):
        err().print("note: the inventory is this machine, so local-distributed = distributed; "
                    "running it once")
        modes = tuple(m for m in scenario.schedulers if m != "local-distributed")
        return dataclasses.replace(scenario, schedulers=modes)
    return scenario


def _backends(connection: Any, inventory: Any, scenario: Scenario) -> dict[str, Any]:
    """Mode → cluster backend; the two ``distributed`` modes share one cluster (the
    connection's started ``cluster`` when it has one).  *connection* has the attributes
    of :class:`_Connection` (``run --resume`` passes its argparse namespace)."""
    from clusterbench.runner.backends import ExistingCluster, ManagedCluster

    backends: dict[str, Any] = {}
    modes = set(scenario.schedulers)
    uses_cluster = modes & {"distributed", "distributed-scatter"}
    given_cluster = getattr(connection, "cluster", None)
    if (connection.scheduler_address or connection.attach) and not uses_cluster:
        given = f"--scheduler-address {connection.scheduler_address}" \
            if connection.scheduler_address \
            else "--attach"
        raise UsageError(f"{given}: no distributed mode in this run (schedulers: "
                         f"{', '.join(scenario.schedulers)}); add --schedulers distributed")
    if uses_cluster:
        if given_cluster is not None:
            cluster: Any = given_cluster
            if hasattr(cluster, "use_order"):
                cluster.use_order(scenario.order)
        elif connection.scheduler_address:
            # A cluster `up` started brings its own TLS files; for anyone else's the
            # credentials come from dask's config (distributed.comm.tls.*), as for any client.
            from clusterbench.cluster.lifecycle import security_for_address

            address = connection.scheduler_address
            cluster = ExistingCluster(address, order=scenario.order,
                                      security=security_for_address(address))
        elif connection.attach:
            from clusterbench.cluster.lifecycle import cluster_security, running_cluster

            state = running_cluster()
            cluster = ExistingCluster(state["address"], order=scenario.order,
                                      security=cluster_security(state))
        else:
            cluster = ManagedCluster(inventory, order=scenario.order,
                                     insecure=getattr(connection, "insecure", False))
            _warn_insecure(cluster.transport)
        backends |= {mode: cluster for mode in ("distributed", "distributed-scatter")}
    if "local-distributed" in modes:
        backends["local-distributed"] = ManagedCluster(inventory_from(None), order=scenario.order)
    return backends


def _warn_insecure(security: str) -> None:
    from clusterbench.cluster.security import INSECURE_WARNING

    if security == "insecure":
        err().print(f"[yellow]warning:[/] {INSECURE_WARNING}")


def _security(backends: dict[str, Any]) -> str | None:
    """How the run's cluster was reached, for environment.json: ``tls``, ``loopback``,
    ``insecure``, or ``attached`` (a cluster someone else started)."""
    cluster = backends.get("distributed")
    if cluster is None:
        return None
    return cluster.transport


def _maximum(backends: dict[str, Any], inventory: Any) -> int:
    """What ``max`` means: the distributed cluster's workers, else the inventory's."""
    if "distributed" in backends:
        return backends["distributed"].max_workers
    return inventory.total_workers


def _calibrate(scenario: Scenario, points: list[Point], backends: dict[str, Any]) -> Any:
    from clusterbench.runner.calibrate import calibrate

    widest: dict[str, int] = {}
    for point in points:
        widest[point.scheduler] = max(widest.get(point.scheduler, 1), point.workers)
    with err().status("calibrating") as status:
        return calibrate(widest, backends, scenario.blas_threads,
                         listener=lambda message: status.update(message))


def _calibration_json(calibration: Any) -> dict[str, Any]:
    """``calibration`` and ``hosts`` (the measured cluster's fingerprints and capacities,
    top level of environment.json) from a :class:`Calibration`."""
    data = calibration.as_json()
    return {"hosts": data.pop("hosts", {}), "calibration": data}


def _capacity_width(points: list[Point]) -> int:
    """Processes the machine-capacity check needs: the widest threads/processes point."""
    from clusterbench.runner.modes import DISTRIBUTED_MODES

    local = [p.workers for p in points if p.scheduler not in DISTRIBUTED_MODES]
    return max(local, default=1)


@dataclass
class _CapacityChecks:
    """The machine capacity measured again in the middle and at the end of the sweep, so
    the report gives it as a range (a single check at the start once read 1.31x on a
    machine whose workloads then reached 2.13x)."""

    store: RunStore
    environment: dict[str, Any]
    width: int

    def measure(self, at: str) -> None:
        from clusterbench.runner.calibrate import capacity_check

        with err().status(f"calibrating: machine capacity ({at} of the sweep)"):
            check = capacity_check(at, self.width)
        self.environment["calibration"].setdefault("capacity_checks", []).append(check)
        self.store.write_environment(self.environment)


def _environment(scenario: Scenario, inventory: Any, connection: Any) -> dict:
    return capture_environment({
        "scenario": {"name": scenario.name, "source": scenario.source,
                     "schedulers": list(scenario.schedulers), "workers": scenario.workers,
                     "repeats": scenario.repeats, "warmup": scenario.warmup,
                     "seed": scenario.seed, "blas_threads": scenario.blas_threads,
                     "order_points": scenario.order_points, "stabilize": scenario.stabilize,
                     "retries": scenario.retries, "scaling": scenario.scaling,
                     # the rest of what --resume needs to run the same scenario again
                     "workloads": [{"name": w.name, "size": w.size, "params": dict(w.params)}
                                   for w in scenario.workloads],
                     "order": scenario.order, "timeout": scenario.timeout},
        "inventory": {"source": inventory.source, "cluster": inventory.cluster,
                      "path": _absolute(inventory.source),
                      "hosts": [h.model_dump(mode="json") for h in inventory.hosts]},
        "scheduler_address": connection.scheduler_address,
    })


def _absolute(source: str) -> str | None:
    """The inventory file's absolute path (a resume may start in another directory)."""
    path = Path(source)
    return str(path.resolve()) if path.is_file() else None


def _execute(scenario: Scenario, store: RunStore, backends: dict[str, Any],
             overheads: dict[str, float], points: list[Point],
             checkpoint: Callable[[str], None], environment: dict[str, Any],
             sweep_type: type[Sweep] = Sweep, total: int | None = None,
             **options: Any) -> list:
    """Run the sweep under a progress bar; *total* items (all planned ones by default),
    *options* go to *sweep_type* (a resumed sweep's plan and position)."""
    from clusterbench.analysis.capacity import CapacityModel

    console = err()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("ETA"), TimeRemainingColumn())
    reported: set[tuple] = set()
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("starting", total=total if total is not None
                                 else len(points) * scenario.repeats)

        def listen(event: str, payload) -> None:  # noqa: ANN001
            if event == "item":
                point, round_index = payload
                progress.update(task, description=f"[bold]{point.label}[/] "
                                                  f"repeat {round_index + 1}")
            elif event == "prepare":
                progress.update(task, description=f"preparing {payload} + serial reference")
            elif event == "extra":
                progress.update(task, total=(progress.tasks[0].total or 0) + 1)
            elif event == "record":
                progress.advance(task)
                _report_record(console, payload, reported)

        sweep = sweep_type(scenario, store, backends=backends, overheads=overheads,
                           listener=listen, run_id=store.directory.name,
                           checkpoint=checkpoint,
                           capacity=CapacityModel.from_environment(environment), **options)
        return sweep.run(points)


def _report_record(console: Any, record: Any, reported: set[tuple]) -> None:
    """One line per point for its first failure and its first changed worker set."""
    key = (record.workload, record.size, record.scheduler, record.workers)
    where = f"{record.workload}[{record.size}] {record.scheduler}×{record.workers}"
    if record.worker_set_changed and (key, "changed") not in reported:
        reported.add((key, "changed"))
        console.print(f"[yellow]worker set changed[/] in {where} repeat {record.round + 1}: "
                      f"{record.worker_set_note}; not counted"
                      + ("" if record.attempt else ", re-running it"))
    elif record.error and (key, "failed") not in reported:
        reported.add((key, "failed"))
        console.print(f"[red]FAILED[/] {where}: {record.error}")


def _finish(store: RunStore, records: list) -> int:
    """Report the run (terminal summary, report files); the exit code of ``run``."""
    return finish_run(store, records).exit_code


def finish_run(store: RunStore, records: list) -> RunResult:
    """Build the run's report, print its summary, warnings and directory; the result."""
    from clusterbench.report.build import build_report
    from clusterbench.report.terminal import print_run_summary

    report = build_report(store.directory)
    _warn_torn(report.torn)
    _warn_unwritten(report.warnings)
    print_run_summary(report.summary, report.fits, out(), err())
    out().print(f"run directory: {store.directory}")
    failed = [r for r in records if not r.verified and not r.worker_set_changed]
    if failed:
        err().print(f"[red]{len(failed)} measurement(s) failed or did not verify; "
                    f"see {report.report_md}[/]")
    return RunResult(directory=store.directory, records=list(records),
                     summary=report.summary, fits=report.fits, failed=len(failed))


def _warn_torn(torn: str | None) -> None:
    if torn:
        err().print(f"[yellow]warning:[/] {escape(torn)}")


def _warn_unwritten(warnings: tuple[str, ...]) -> None:
    """A report file that could not be written: the records are safe, say so once each."""
    for warning in warnings:
        err().print(f"[yellow]warning:[/] {escape(warning)} (records.jsonl is intact; "
                    f"`clusterbench report` redraws it)", soft_wrap=True)
