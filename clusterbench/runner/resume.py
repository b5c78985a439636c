"""Resuming an interrupted run (``clusterbench run --resume RUN_DIR``).

A resumed run takes everything that shapes it from the run directory: the scenario
as narrowed, the inventory file and the seed, all in ``environment.json``.  It runs
only the missing ``(point, round)`` items, in the original order (the same seeded
shuffle of every round, done items skipped), and appends to the same
``records.jsonl``, so the run reads as one run afterwards.

An item counts as done when a record of it exists that is not
``worker_set_changed``: a failed or unverified record is a result and is not run
again (re-running until it passes would hide a flaky point).  A point whose failure
has no time (it could not be opened, or its workload raised) is done altogether:
the original sweep stops running such a point too.  The exception is the repeat that
found its scheduler gone (``metrics.scheduler_lost``): the point did nothing wrong, so a
resume, on a cluster that is up again, runs that repeat and the ones skipped after it.
Extra ``stabilize`` repeats are not re-planned on resume; a point that is still noisy is
flagged by the report as usual.  Retries of a changed worker set work as in any run.

Comparing across the interruption is only fair on the same code, packages, machine
and inventory: :func:`environment_changes` lists what moved (``--force`` resumes
anyway).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clusterbench.errors import ClusterbenchError, UsageError
from clusterbench.results.record import Record
from clusterbench.results.store import ENVIRONMENT, RECORDS, RunStore
from clusterbench.runner.execute import Sweep
from clusterbench.runner.plan import Point
from clusterbench.runner.scenario import Scenario, validated

#: (workload, size, scheduler, workers): how a record names its point.
PointKey = tuple[str, str, str, int]
#: Fields of environment.json compared before a resume, with the name a message uses.
MACHINE_FIELDS = (("git_commit", "commit"), ("git_dirty", "uncommitted changes"),
                  ("hostname", "hostname"), ("cores", "CPU count"), ("cpu_model", "CPU"),
                  ("python", "python"))


def point_key(point: Point) -> PointKey:
    """The key a record of *point* carries."""
    return (point.workload.name, point.workload.size, point.scheduler, point.workers)


def record_key(record: Record) -> PointKey:
    """The point a record belongs to."""
    return (record.workload, record.size, record.scheduler, record.workers)


@dataclass(frozen=True)
class ResumePlan:
    """What an interrupted run directory holds and what it still needs.

    Attributes
    ----------
    run_dir
        The run directory.
    environment
        Its ``environment.json``.
    scenario
        The scenario as the run narrowed it.
    inventory
        The inventory file the run used (as recorded: absolute when known).
    done
        ``(point key, round)`` items with a record that counts (see the module docstring).
    finished
        Points given up after a failure without a time: none of their rounds is missing.
    position
        The last execution position recorded; new records continue from it.
    torn
        One line when a torn last record was set aside while reading, else None.
    """

    run_dir: Path
    environment: dict[str, Any]
    scenario: Scenario
    inventory: str
    done: frozenset[tuple[PointKey, int]]
    finished: frozenset[PointKey]
    position: int = 0
    torn: str | None = None
    recorded: frozenset[PointKey] = field(default_factory=frozenset)

    def is_done(self, point: Point, round_index: int) -> bool:
        """Whether the item needs no run."""
        key = point_key(point)
        return key in self.finished or (key, round_index) in self.done

    def missing(self, points: Iterable[Point]) -> list[tuple[Point, int]]:
        """The planned ``(point, round)`` items of *points* without a record that counts.

        Raises
        ------
        clusterbench.errors.ClusterbenchError
            When a recorded point is not among *points* (the plan changed, e.g. fewer
            workers now) or two points share a key.
        """
        points = list(points)
        keys = [point_key(p) for p in points]
        if len(set(keys)) != len(keys):
            raise ClusterbenchError(f"cannot resume {self.run_dir}: the scenario lists a "
                                    f"workload twice at one size; its records cannot be told "
                                    f"apart")
        unplanned = sorted(self.recorded - set(keys))
        if unplanned:
            workload, size, scheduler, workers = unplanned[0]
            raise ClusterbenchError(
                f"cannot resume {self.run_dir}: recorded point {workload}[{size}] "
                f"{scheduler}×{workers} is not planned now ({len(unplanned)} such); did the "
                f"cluster's workers change?")
        return [(p, r) for p in points for r in range(self.scenario.repeats)
                if not self.is_done(p, r)]


def resume_plan(run_dir: Path | str) -> ResumePlan:
    """Read an interrupted run directory: its scenario, inventory and done items.

    Parameters
    ----------
    run_dir
        A ``results/<run-id>`` directory written by ``clusterbench run``.

    Returns
    -------
    ResumePlan
        Compare its environment (:func:`environment_changes`), plan the points as the
        run did, then :meth:`ResumePlan.missing` gives what is left.

    Raises
    ------
    clusterbench.errors.UsageError
        When *run_dir* is not a run directory.
    clusterbench.errors.ClusterbenchError
        When its environment.json predates ``--resume`` or a record line is bad.
    """
    run_dir = Path(run_dir)
    store = RunStore(run_dir)
    if not (run_dir / ENVIRONMENT).is_file():
        raise UsageError(f"{run_dir}: not a run directory (no {ENVIRONMENT})")
    try:
        environment = store.environment()
    except ValueError as exc:
        raise ClusterbenchError(f"{run_dir / ENVIRONMENT}: not valid JSON ({exc})") from None
    scenario = scenario_from_environment(environment, run_dir)
    records = store.consistent(store.records()) if (run_dir / RECORDS).exists() else []
    inventory = environment.get("inventory") or {}
    return ResumePlan(
        run_dir=run_dir, environment=environment, scenario=scenario,
        inventory=inventory.get("path") or inventory.get("source") or "",
        done=frozenset((record_key(r), r.round) for r in records
                       if not r.worker_set_changed and not _scheduler_lost(r)),
        finished=frozenset(record_key(r) for r in records if _given_up(r)),
        position=max((r.position for r in records), default=0),
        torn=store.torn, recorded=frozenset(record_key(r) for r in records),
    )


def _given_up(record: Record) -> bool:
    """A failure without a time: the sweep ran no more repeats of that point (unless the
    cause was the scheduler, not the point)."""
    return bool(record.error) and not record.worker_set_changed \
        and record.seconds != record.seconds and not _scheduler_lost(record)  # NaN


def _scheduler_lost(record: Record) -> bool:
    return bool(record.metrics.get("scheduler_lost"))


def scenario_from_environment(environment: Mapping[str, Any], run_dir: Path) -> Scenario:
    """The narrowed scenario recorded under ``scenario`` in environment.json.

    Raises
    ------
    clusterbench.errors.ClusterbenchError
        When a field is missing (a run recorded before ``--resume`` existed).
    """
    recorded = environment.get("scenario") or {}
    if "workloads" not in recorded:
        raise ClusterbenchError(f"{run_dir / ENVIRONMENT}: recorded before --resume existed "
                                f"(no scenario workloads); run the scenario again instead")
    try:  # validated as a scenario file is: a hand-edited run.json is one line too
        return validated(dict(
            name=recorded["name"],
            workloads=[{"name": w["name"], "size": w["size"], "params": w.get("params")}
                       for w in recorded["workloads"]],
            schedulers=tuple(recorded["schedulers"]), workers=str(recorded["workers"]),
            repeats=recorded["repeats"], warmup=recorded["warmup"], seed=recorded["seed"],
            blas_threads=recorded.get("blas_threads", 1),
            order=recorded.get("order", "inventory"),
            timeout=float(recorded.get("timeout", 300.0)),
            profile=bool(recorded.get("profile", False)),  # --profile holds for the rest too
            order_points=recorded["order_points"], stabilize=recorded["stabilize"],
            retries=recorded["retries"], scaling=recorded["scaling"],
            source=recorded["source"],
        ), f"{run_dir / ENVIRONMENT}: scenario")
    except (KeyError, TypeError) as exc:
        raise ClusterbenchError(f"{run_dir / ENVIRONMENT}: scenario field {exc} missing or "
                                f"malformed; cannot resume") from None


def environment_changes(recorded: Mapping[str, Any], current: Mapping[str, Any],
                        hosts: Iterable[Mapping[str, Any]]) -> list[str]:
    """What changed since the run started, one ``name old → new`` item each.

    Parameters
    ----------
    recorded
        The run's environment.json.
    current
        :func:`clusterbench.results.environment.capture_environment` now.
    hosts
        The inventory's hosts as loaded now (``model_dump(mode="json")`` of each).

    Returns
    -------
    list of str
        Code (commit, uncommitted changes, package versions), machine (hostname, CPU
        count and model, python) and inventory hosts that differ; empty when none.  Only
        fields the run recorded are compared, so a field added to the inventory model
        since (with its default) is no change.
    """
    changes = []
    for key, label in MACHINE_FIELDS:
        if key in recorded and recorded[key] != current.get(key):
            changes.append(f"{label} {_shown(recorded[key])} → {_shown(current.get(key))}")
    packages = current.get("packages") or {}
    for name, version in sorted((recorded.get("packages") or {}).items()):
        if packages.get(name, "not installed") != version:
            changes.append(f"{name} {version} → {packages.get(name, 'not installed')}")
    before = (recorded.get("inventory") or {}).get("hosts")
    if before is not None:
        changes.extend(_host_changes(before, list(hosts)))
    return changes


def _host_changes(before: list[Mapping[str, Any]], now: list[Mapping[str, Any]]) -> list[str]:
    old = {h.get("name"): h for h in before}
    new = {h.get("name"): h for h in now}
    changes = [f"inventory host {name} removed" for name in old if name not in new]
    changes += [f"inventory host {name} added" for name in new if name not in old]
    for name in old.keys() & new.keys():
        for key, value in old[name].items():
            if new[name].get(key, value) != value:
                changes.append(f"inventory host {name} {key} {_shown(value)} → "
                               f"{_shown(new[name].get(key))}")
    return sorted(changes)


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and len(value) == 40 and all(c in "0123456789abcdef"
                                                           for c in value):
        return value[:10]  # a commit
    return str(value)


@dataclass
class ResumedSweep(Sweep):
    """A :class:`Sweep` that skips the items *plan* has done, in the original order.

    The schedule (every round's seeded shuffle, or the blocked order) is the sweep's
    own, so the order of the remaining items is the one the run would have had.
    """

    plan: ResumePlan | None = None

    def _schedule(self, points: list[Point]) -> Iterator[tuple[Point, int]]:
        for point, round_index in super()._schedule(points):
            if self.plan is None or not self.plan.is_done(point, round_index):
                yield point, round_index


__all__ = ["ResumePlan", "ResumedSweep", "environment_changes", "point_key", "record_key",
           "resume_plan", "scenario_from_environment"]
