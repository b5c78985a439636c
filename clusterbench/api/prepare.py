"""Before the sweep: workloads checked, the environment recorded, the cluster calibrated."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clusterbench.cluster.spec import all_here
from clusterbench.console import err
from clusterbench.errors import ScenarioError
from clusterbench.results.environment import capture_environment
from clusterbench.results.store import RunStore
from clusterbench.runner.plan import Point
from clusterbench.runner.scenario import Scenario


def check_workloads(scenario: Scenario) -> dict[str, str]:
    """Resolve every workload (one-line error for a bad name, size or params); name →
    interface."""
    from clusterbench.workloads.registry import resolve

    interfaces = {}
    for choice in scenario.workloads:
        workload = resolve(choice.name)
        if choice.size not in workload.sizes:
            raise ScenarioError(f"workload {choice.name!r} has no size {choice.size!r}; "
                                f"valid: {', '.join(workload.sizes) or 'none'}"
                                f"{'; choose one with --size' if workload.sizes else ''}")
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


def without_duplicate_local_cluster(scenario: Scenario, inventory: Any,
                                     connection: Any) -> Scenario:
    """``local-distributed`` duplicates ``distributed`` when the inventory is this machine."""
    attached = connection.scheduler_address or connection.attach
    all_local = all_here(inventory)
    if ("local-distributed" in scenario.schedulers and "distributed" in scenario.schedulers
            and all_local and not attached):
        err().print("note: the inventory is this machine, so local-distributed = distributed; "
                    "running it once")
        modes = tuple(m for m in scenario.schedulers if m != "local-distributed")
        return dataclasses.replace(scenario, schedulers=modes)
    return scenario


def note_skipped(scenario: Scenario, maximum: int) -> None:
    from clusterbench.runner.scenario import skipped_counts

    skipped = skipped_counts(scenario.workers, maximum)
    if skipped:
        err().print(f"note: worker count(s) {', '.join(map(str, skipped))} skipped: there are "
                    f"{maximum} workers")


def calibrate_points(scenario: Scenario, points: list[Point], backends: dict[str, Any]) -> Any:
    from clusterbench.runner.calibrate import calibrate

    widest: dict[str, int] = {}
    for point in points:
        widest[point.scheduler] = max(widest.get(point.scheduler, 1), point.workers)
    with err().status("calibrating") as status:
        return calibrate(widest, backends, scenario.blas_threads,
                         listener=lambda message: status.update(message))


def calibration_json(calibration: Any) -> dict[str, Any]:
    """``calibration`` and ``hosts`` (the measured cluster's fingerprints and capacities,
    top level of environment.json) from a :class:`Calibration`."""
    data = calibration.as_json()
    return {"hosts": data.pop("hosts", {}), "calibration": data}


def capacity_width(points: list[Point]) -> int:
    """Processes the machine-capacity check needs: the widest threads/processes point."""
    from clusterbench.runner.modes import DISTRIBUTED_MODES

    local = [p.workers for p in points if p.scheduler not in DISTRIBUTED_MODES]
    return max(local, default=1)


@dataclass
class CapacityChecks:
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


def environment_of(scenario: Scenario, inventory: Any, connection: Any) -> dict:
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
                     "order": scenario.order, "timeout": scenario.timeout,
                     "profile": scenario.profile},
        "inventory": {"source": inventory.source, "cluster": inventory.cluster,
                      "path": _absolute(inventory.source),
                      "hosts": [h.model_dump(mode="json") for h in inventory.hosts]},
        "scheduler_address": connection.scheduler_address,
    })


def _absolute(source: str) -> str | None:
    """The inventory file's absolute path (a resume may start in another directory)."""
    path = Path(source)
    return str(path.resolve()) if path.is_file() else None
