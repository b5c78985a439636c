"""Scenarios: what to sweep (workloads × schedulers × worker counts × repeats).

A scenario file (``scenarios/*.yml``)::

    name: scaling
    workloads: [montecarlo, randomforest, {name: gridsearch.svc, size: tiny}]
    size: small                  # default size of every workload
    schedulers: [synchronous, threads, processes, distributed]
    workers: 1,2,4..max          # or a list; "max" = the inventory's workers
    repeats: 3
    warmup: 1
    seed: 0
    blas_threads: 1              # per worker thread; "auto" = cores // slots
    order: inventory             # or fastest-first: add distributed workers by measured speed
    order_points: interleaved    # repeats round-robin over all points (or: blocked)
    stabilize: 0                 # extra repeats for points whose CV is above 10 %
    retries: 1                   # re-runs of a repeat whose worker set changed or that ran
                                 # past its deadline
    timeout: 300                 # seconds: upper bound of a repeat's deadline (runner.deadline)
    scaling: strong              # or weak: the problem grows with the workers' capacity

Command-line options narrow any of these (:func:`narrow`).
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from clusterbench.errors import ScenarioError
from clusterbench.runner.modes import SCHEDULERS
from clusterbench.workloads.base import SIZES

_FIELDS = {"name", "description", "workloads", "size", "schedulers", "workers", "repeats",
           "warmup", "seed", "blas_threads", "order", "timeout", "order_points", "stabilize",
           "retries", "scaling"}
ORDER_POINTS = ("interleaved", "blocked")
#: Most worker counts one sweep may list (each is a point per mode and workload).
MAX_WORKER_COUNTS = 1024
SCALING = ("strong", "weak")


@dataclass(frozen=True)
class WorkloadChoice:
    """One workload of a scenario, with its size and extra parameters."""

    name: str
    size: str
    params: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Scenario:
    """A validated scenario (see module docstring for the file format)."""

    name: str
    workloads: tuple[WorkloadChoice, ...]
    schedulers: tuple[str, ...]
    workers: str
    repeats: int = 3
    warmup: int = 1
    seed: int = 0
    blas_threads: int | None = 1
    order: str = "inventory"
    timeout: float = 300.0
    order_points: str = "interleaved"
    stabilize: int = 0
    retries: int = 1
    scaling: str = "strong"
    description: str = ""
    source: str = "<memory>"


def load_scenario(name_or_path: str, search_dir: Path | None = None) -> Scenario:
    """Load ``scenarios/<name>.yml`` (or the packaged copy), or a path to a YAML file."""
    path = _locate(name_or_path, search_dir)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    return parse_scenario(data, str(path))


def _locate(name_or_path: str, search_dir: Path | None) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix in (".yml", ".yaml"):
        if not candidate.exists():
            raise ScenarioError(f"{candidate}: no such scenario file")
        return candidate
    packaged = Path(__file__).resolve().parent.parent / "defaults" / "scenarios"
    for directory in (search_dir or Path("scenarios"), packaged):
        path = directory / f"{name_or_path}.yml"
        if path.exists():
            return path
    known = sorted({p.stem for d in (search_dir or Path("scenarios"), packaged) if d.exists()
                    for p in d.glob("*.yml")})
    hint = difflib.get_close_matches(name_or_path, known, n=1)
    raise ScenarioError(
        f"no scenario {name_or_path!r}; known: {', '.join(known) or 'none'}"
        + (f" (did you mean {hint[0]!r}?)" if hint else "")
    )


def parse_scenario(data: Any, source: str = "<memory>") -> Scenario:
    """Validate a parsed scenario mapping; every problem is one line naming the field."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: expected a mapping, got {type(data).__name__}")
    for key in data:
        if key not in _FIELDS:
            hint = difflib.get_close_matches(str(key), sorted(_FIELDS), n=1)
            raise ScenarioError(f"{source}: unknown field {key!r}"
                                + (f" (did you mean {hint[0]!r}?)" if hint else ""))
    size = _choice(data.get("size", "small"), SIZES, source, "size")
    return Scenario(
        name=str(data.get("name", Path(source).stem)),
        workloads=_workloads(data.get("workloads"), size, source),
        schedulers=_schedulers(data.get("schedulers", list(SCHEDULERS)), source),
        workers=_workers_text(data.get("workers", "1..max"), source),
        repeats=_positive(data.get("repeats", 3), source, "repeats"),
        warmup=_positive(data.get("warmup", 1), source, "warmup", zero_ok=True),
        seed=_positive(data.get("seed", 0), source, "seed", zero_ok=True),
        blas_threads=_blas(data.get("blas_threads", 1), source),
        order=_choice(data.get("order", "inventory"), ("inventory", "fastest-first"), source,
                      "order"),
        timeout=float(_positive(data.get("timeout", 300), source, "timeout")),
        order_points=_choice(data.get("order_points", "interleaved"), ORDER_POINTS, source,
                             "order_points"),
        stabilize=_positive(data.get("stabilize", 0), source, "stabilize", zero_ok=True),
        retries=_positive(data.get("retries", 1), source, "retries", zero_ok=True),
        scaling=_choice(data.get("scaling", "strong"), SCALING, source, "scaling"),
        description=str(data.get("description", "")),
        source=source,
    )


def _workloads(value: Any, size: str, source: str) -> tuple[WorkloadChoice, ...]:
    if not isinstance(value, list) or not value:
        raise ScenarioError(f"{source}: field 'workloads': must be a non-empty list")
    choices = []
    for index, item in enumerate(value):
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ScenarioError(f"{source}: workloads[{index}]: needs a 'name', got {item!r}")
        extra = set(item) - {"name", "size", "params"}
        if extra:
            raise ScenarioError(f"{source}: workloads[{index}]: unknown field {sorted(extra)[0]!r}")
        item_size = _choice(item.get("size", size), SIZES, source, f"workloads[{index}].size")
        params = item.get("params") or {}
        if not isinstance(params, dict):
            raise ScenarioError(f"{source}: workloads[{index}].params: must be a mapping")
        choices.append(WorkloadChoice(item["name"], item_size, tuple(sorted(params.items()))))
    return tuple(choices)


def _schedulers(value: Any, source: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not value:
        raise ScenarioError(f"{source}: field 'schedulers': must be a non-empty list")
    return tuple(_choice(v, SCHEDULERS, source, "schedulers") for v in value)


def _choice(value: Any, valid: tuple[str, ...], source: str, field: str) -> str:
    if value in valid:
        return value
    hint = difflib.get_close_matches(str(value), valid, n=1)
    raise ScenarioError(
        f"{source}: field {field!r}: must be one of {', '.join(valid)}, got {value!r}"
        + (f" (did you mean {hint[0]!r}?)" if hint else "")
    )


def _positive(value: Any, source: str, field: str, zero_ok: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if zero_ok else 1):
        kind = "a non-negative" if zero_ok else "a positive"
        raise ScenarioError(f"{source}: field {field!r}: must be {kind} integer, got {value!r}")
    return value


def _blas(value: Any, source: str) -> int | None:
    if value == "auto":
        return None
    return _positive(value, source, "blas_threads")


def _workers_text(value: Any, source: str) -> str:
    text = ",".join(str(v) for v in value) if isinstance(value, list) else str(value)
    _parse_counts(text, 1, source)  # the syntax now; the counts once the maximum is known
    return text


def expand_workers(text: str, maximum: int, source: str = "--workers") -> tuple[int, ...]:
    """Expand ``"1,2,4..max"`` / ``"1..max"`` / ``"1,2,3"`` into sorted worker counts ≤ *maximum*.

    ``a,b..max`` continues the progression of the last two numbers (doubling when
    b = 2a, else step b-a); ``a..max`` steps by one; ``max`` itself is always
    included when the text ends in ``..max``.
    """
    numbers, end = _parse_counts(text, maximum, source)
    if end is not None:
        try:
            numbers += _progression(numbers, end, maximum)
        except ValueError as exc:
            raise ScenarioError(f"{source}: field 'workers': {text!r} gives {exc}") from None
    counts = tuple(sorted({n for n in numbers if n <= maximum}))
    if not counts:
        raise ScenarioError(f"{source}: field 'workers': none of {text!r} fits the {maximum} "
                            f"worker(s) available; the largest is {maximum}")
    return counts


def _parse_counts(text: str, maximum: int, source: str) -> tuple[list[int], int | None]:
    """The listed counts and the progression's end (None without ``..``), checked."""
    head, dots, tail = text.replace(" ", "").partition("..")
    try:
        numbers = [_count(part, maximum) for part in head.split(",") if part]
        end = _count(tail, maximum) if dots else None
    except ValueError:
        raise ScenarioError(
            f"{source}: field 'workers': expected counts like '1,2,4..max' or '1,2', got {text!r}"
        ) from None
    if not numbers or any(n < 1 for n in numbers):
        raise ScenarioError(f"{source}: field 'workers': counts must be positive, got {text!r}")
    return numbers, end


def skipped_counts(text: str, maximum: int) -> list[int]:
    """Counts written out in *text* that exceed *maximum* and are skipped, for a note; none
    for a text ending in ``..max``, where "up to the maximum" is what was asked."""
    head, dots, _ = text.replace(" ", "").partition("..")
    if dots:
        return []
    return sorted({int(part) for part in head.split(",") if part.isdigit()
                   and int(part) > maximum})


def _count(part: str, maximum: int) -> int:
    return maximum if part == "max" else int(part)


def _progression(numbers: list[int], end: int, maximum: int) -> list[int]:
    """The counts after *numbers* up to *end*; none past *maximum* is generated."""
    last = numbers[-1]
    prev = numbers[-2] if len(numbers) > 1 else None
    doubling = prev is not None and last == 2 * prev
    step = (last - prev) if prev is not None and not doubling and last > prev else 1
    out = []
    while True:
        last = last * 2 if doubling else last + step
        if last >= end or last > maximum:
            break
        out.append(last)
        if len(out) > MAX_WORKER_COUNTS:  # "1..100000000" must not build a huge list
            raise ValueError(f"more than {MAX_WORKER_COUNTS} worker counts")
    return [*out, end]


def narrow(scenario: Scenario, **changes: Any) -> Scenario:
    """Apply command-line narrowing; ``None`` values leave the scenario's default."""
    updates: dict[str, Any] = {}
    source = "command line"
    if changes.get("workloads"):
        names = [n.strip() for n in changes["workloads"].split(",") if n.strip()]
        updates["workloads"] = tuple(WorkloadChoice(n, scenario.workloads[0].size) for n in names)
    if changes.get("size"):
        size = _choice(changes["size"], SIZES, source, "--size")
        base = updates.get("workloads", scenario.workloads)
        updates["workloads"] = tuple(dataclasses.replace(w, size=size) for w in base)
    if changes.get("schedulers"):
        updates["schedulers"] = _schedulers(changes["schedulers"], source)
    if changes.get("workers"):
        updates["workers"] = _workers_text(changes["workers"], "--workers")
    if changes.get("order"):
        updates["order"] = _choice(changes["order"], ("inventory", "fastest-first"), source,
                                   "--order")
    if changes.get("order_points"):
        updates["order_points"] = _choice(changes["order_points"], ORDER_POINTS, source,
                                          "--order-points")
    if changes.get("weak"):
        updates["scaling"] = "weak"
    for key in ("repeats", "warmup", "seed", "stabilize", "retries"):
        if changes.get(key) is not None:
            updates[key] = _positive(changes[key], source, f"--{key}", zero_ok=key != "repeats")
    return dataclasses.replace(scenario, **updates)
