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
    blas_threads: 1              # per worker thread; "auto" (or null) = cores // slots
    order: inventory             # or fastest-first: add distributed workers by measured speed
    order_points: interleaved    # repeats round-robin over all points (or: blocked)
    stabilize: 0                 # extra repeats for points whose CV is above 10 %
    retries: 1                   # re-runs of a repeat whose worker set changed or that ran
                                 # past its deadline
    timeout: 300                 # seconds: upper bound of a repeat's deadline (runner.deadline)
    scaling: strong              # or weak: the problem grows with the workers' capacity
    profile: false               # a dask performance report per distributed point (--profile)

A workload's ``params`` are checked against its declaration by ``run``
(:attr:`clusterbench.workloads.base.Workload.params_model`).

:class:`Scenario` and :class:`WorkloadChoice` are pydantic dataclasses: every problem of a
file is one line naming the file and the field (the inventory's style), and every copy
(``dataclasses.replace``) is validated again.  Command-line options narrow any of these
(:func:`narrow`, a validated copy).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, ValidationError
from pydantic.dataclasses import dataclass

from clusterbench.errors import ScenarioError
from clusterbench.runner.modes import SCHEDULERS
from clusterbench.suggest import did_you_mean
from clusterbench.workloads.base import SIZES

ORDERS = ("inventory", "fastest-first")
ORDER_POINTS = ("interleaved", "blocked")
#: Most worker counts one sweep may list (each is a point per mode and workload).
MAX_WORKER_COUNTS = 1024
SCALING = ("strong", "weak")
# Pydantic dataclasses, not BaseModels: frozen and hashable (a WorkloadChoice keys the
# prepared data), built positionally, and ``dataclasses.replace`` re-validates the copy.
_CONFIG = ConfigDict(extra="forbid")


# --- field checks: each raises ValueError with the problem, the caller adds file and field --


def _one_of(valid: tuple[str, ...]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value in valid:
            return value
        raise ValueError(f"must be one of {', '.join(valid)}, got {value!r}"
                         f"{did_you_mean(value, valid)}")
    return check


def _positive(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"must be a positive integer, got {value!r}")
    return value


def _non_negative(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"must be a non-negative integer, got {value!r}")
    return value


def _at_most(limit: int, check: Callable[[Any], int]) -> Callable[[Any], int]:
    """*check*, and at most *limit*: ``repeats: 1000000000`` started a run the plan line
    itself put at 83,333 hours."""
    def bounded(value: Any) -> int:
        value = check(value)
        if value > limit:
            raise ValueError(f"at most {limit:,}, got {value:,}")
        return value
    return bounded


def _blas(value: Any) -> int | None:
    """``"auto"`` (or None, what a parsed ``"auto"`` became) is cores // slots."""
    return None if value is None or value == "auto" else _positive(value)


#: Shortest ``timeout:``: below a second no distributed repeat can even be scheduled, and
#: ``timeout: 1e-9`` failed every repeat as "ran past its deadline".
MIN_TIMEOUT_SECONDS = 1.0


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ValueError(f"must be a positive number of seconds, got {value!r}")
    if value < MIN_TIMEOUT_SECONDS:
        raise ValueError(f"at least {MIN_TIMEOUT_SECONDS:g} second (the upper bound of a "
                         f"repeat's deadline), got {value!r}")
    return float(value)


def _text(value: Any) -> str:
    """Free text: a string or a number, not a mapping or list turned into its repr
    (``description:`` left empty is no text)."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"must be text, got {type(value).__name__}")
    return str(value)


def _non_empty(value: Any) -> tuple[Any, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise ValueError("must be a non-empty list")
    return tuple(value)


def _schedulers(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    names = tuple(_one_of(SCHEDULERS)(v) for v in _non_empty(value))
    twice = next((name for index, name in enumerate(names) if name in names[:index]), None)
    if twice:  # its points would be one point measured twice as often
        raise ValueError(f"{twice!r} is listed twice")
    return names


def _distinct(value: Any) -> Any:
    """Workloads whose (name, size) differ: records tell points apart by workload, size,
    scheduler and workers, so two settings of one workload (``kernel: numpy`` next to the
    default) were merged into one point and the run could not be read back."""
    choices = _non_empty(value)
    seen: dict[tuple[Any, Any], int] = {}
    for index, choice in enumerate(choices):
        key = ((choice.name, choice.size) if isinstance(choice, WorkloadChoice)
               else (choice.get("name"), choice.get("size")) if isinstance(choice, dict)
               else (choice, None))
        if key in seen:
            raise ValueError(
                f"workloads[{index}] is workloads[{seen[key]}] again ({key[0]!r}, size "
                f"{key[1]!r}): records tell points apart by workload and size, so run the "
                "other setting as a scenario of its own and `compare` the two runs")
        seen[key] = index
    return choices


def _workers_text(value: Any) -> str:
    text = ",".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)
    _parse_counts(text, 1)  # the syntax now; the counts once the maximum is known
    return text


def _params(value: Any) -> tuple[tuple[Any, Any], ...]:
    """A mapping as sorted ``(key, value)`` pairs (hashable, order-free); pairs stay."""
    if isinstance(value, tuple):
        return value
    if not value:
        return ()
    if not isinstance(value, dict):
        raise ValueError("must be a mapping")
    return tuple(sorted(value.items(), key=lambda item: str(item[0])))


Positive = Annotated[int, BeforeValidator(_positive)]
NonNegative = Annotated[int, BeforeValidator(_non_negative)]
Text = Annotated[str, BeforeValidator(_text)]


def _run_name(value: Any) -> str:
    """A scenario's name names its run directories: a name, not a path or a mapping."""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}",
                                                      value):
        raise ValueError("must be a name of letters, digits, '.', '_' and '-' (at most 64; "
                         f"it names the run's directory), got {value!r}"[:200])
    return value


@dataclass(frozen=True, config=_CONFIG)
class WorkloadChoice:
    """One workload of a scenario, with its size and extra parameters."""

    name: str
    size: Annotated[str, BeforeValidator(_one_of(SIZES))]
    params: Annotated[tuple[tuple[Any, Any], ...], BeforeValidator(_params)] = ()

    def __hash__(self) -> int:
        # params may hold lists or mappings (`n_components: [2, 4]`): hashed by their JSON
        return hash((self.name, self.size,
                     json.dumps(self.params, sort_keys=True, default=repr)))


@dataclass(frozen=True, config=_CONFIG)
class Scenario:
    """A validated scenario (see module docstring for the file format)."""

    name: Annotated[str, BeforeValidator(_run_name)]
    workloads: Annotated[tuple[WorkloadChoice, ...], BeforeValidator(_distinct)]
    schedulers: Annotated[tuple[str, ...], BeforeValidator(_schedulers)]
    workers: Annotated[str, BeforeValidator(_workers_text)]
    repeats: Annotated[int, BeforeValidator(_at_most(10_000, _positive))] = 3
    warmup: Annotated[int, BeforeValidator(_at_most(1_000, _non_negative))] = 1
    seed: NonNegative = 0
    blas_threads: Annotated[int | None, BeforeValidator(_blas)] = 1
    order: Annotated[str, BeforeValidator(_one_of(ORDERS))] = "inventory"
    timeout: Annotated[float, BeforeValidator(_seconds)] = 300.0
    order_points: Annotated[str, BeforeValidator(_one_of(ORDER_POINTS))] = "interleaved"
    stabilize: Annotated[int, BeforeValidator(_at_most(10_000, _non_negative))] = 0
    retries: Annotated[int, BeforeValidator(_at_most(100, _non_negative))] = 1
    scaling: Annotated[str, BeforeValidator(_one_of(SCALING))] = "strong"
    profile: bool = False
    description: Text = ""
    source: Text = "<memory>"


#: The keys of a scenario file: the model's fields (``source`` is ours) and the default size.
_FIELDS = {f.name for f in dataclasses.fields(Scenario)} - {"source"} | {"size"}


def load_scenario(name_or_path: str, search_dir: Path | None = None) -> Scenario:
    """Load ``scenarios/<name>.yml`` (or the packaged copy), or a path to a YAML file."""
    from clusterbench.errors import InventoryError
    from clusterbench.inventory.safe_yaml import read_yaml

    path = _locate(name_or_path, search_dir)
    try:  # the inventory's bounded reader: UTF-8, no pipe, duplicate keys and depth refused
        data = read_yaml(path, "scenario")
    except InventoryError as exc:
        raise ScenarioError(str(exc)) from None
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
    raise ScenarioError(f"no scenario {name_or_path!r}; known: {', '.join(known) or 'none'}"
                        f"{did_you_mean(name_or_path, known)}")


def parse_scenario(data: Any, source: str = "<memory>") -> Scenario:
    """Validate a parsed scenario mapping; every problem is one line naming the field."""
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}: expected a mapping, got {type(data).__name__}")
    for key in data:
        if key not in _FIELDS:
            raise ScenarioError(f"{source}: unknown field {key!r}{did_you_mean(key, _FIELDS)}")
    size = _checked(_one_of(SIZES), data.get("size", "small"), source, "size")
    fields = {key: value for key, value in data.items() if key != "size"}
    default_name = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(source).stem).strip("-._")[:64]
    fields |= {"name": data.get("name", default_name or "scenario"), "source": source,
               "workloads": _entries(data.get("workloads"), size, source),
               "schedulers": data.get("schedulers", list(SCHEDULERS)),
               "workers": data.get("workers", "1..max")}
    return validated(fields, source)


def validated(fields: dict[str, Any], source: str,
              label: Callable[[tuple[Any, ...]], str] | None = None, *,
              base: Scenario | None = None) -> Scenario:
    """``Scenario(**fields)``, or a copy of *base* with *fields* changed, validated: every
    problem is one ScenarioError line naming *source* and the field (*label* turns
    pydantic's location into the name the user wrote: ``workloads[0].size``)."""
    try:
        return dataclasses.replace(base, **fields) if base is not None else Scenario(**fields)
    except ValidationError as exc:
        raise ScenarioError(_describe(exc, source, label or _dotted)) from None


def _entries(value: Any, size: str, source: str) -> Any:
    """The file's workload forms (a name, or a mapping with a name) as WorkloadChoice fields,
    the scenario's size filled in; anything but a list is left for the model to refuse."""
    if not isinstance(value, list):
        return value
    entries = []
    for index, item in enumerate(value):
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ScenarioError(f"{source}: workloads[{index}]: needs a 'name', got {item!r}")
        entries.append({"size": size} | item)
    return entries


def _checked(check: Callable[[Any], Any], value: Any, source: str, field: str) -> Any:
    try:
        return check(value)
    except ValueError as exc:
        raise ScenarioError(f"{source}: field {field!r}: {exc}") from None


def _describe(exc: ValidationError, source: str, label: Callable[[tuple[Any, ...]], str]) -> str:
    """Pydantic's first error as ``FILE: field 'x': problem`` (the inventory's style)."""
    error = exc.errors()[0]
    loc = tuple(error["loc"])
    if error["type"] in ("unexpected_keyword_argument", "extra_forbidden") and loc:
        where = f"{_dotted(loc[:-1])}: " if loc[:-1] else ""
        valid = (f.name for f in dataclasses.fields(WorkloadChoice)) if where else _FIELDS
        return f"{source}: {where}unknown field {loc[-1]!r}{did_you_mean(loc[-1], valid)}"
    if error["type"] == "value_error":
        problem = str(error["ctx"]["error"])
    else:
        message = str(error["msg"])
        problem = f"{message[:1].lower()}{message[1:]}, got {_short(error.get('input'))}"
    return f"{source}: field {label(loc)!r}: {problem}" if loc else f"{source}: {problem}"


def _dotted(loc: tuple[Any, ...]) -> str:
    """``('workloads', 0, 'size')`` as ``workloads[0].size``."""
    head, *rest = loc
    return str(head) + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in rest)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def expand_workers(text: str, maximum: int, source: str = "--workers") -> tuple[int, ...]:
    """Expand ``"1,2,4..max"`` / ``"1..max"`` / ``"1,2,3"`` into sorted worker counts ≤ *maximum*.

    ``a,b..max`` continues the progression of the last two numbers (doubling when
    b = 2a, else step b-a); ``a..max`` steps by one; ``max`` itself is always
    included when the text ends in ``..max``.
    """
    numbers, end = _checked(lambda t: _parse_counts(t, maximum), text, source, "workers")
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


def _parse_counts(text: str, maximum: int) -> tuple[list[int], int | None]:
    """The listed counts and the progression's end (None without ``..``); ValueError says
    what is wrong with *text*."""
    head, dots, tail = text.replace(" ", "").partition("..")
    try:
        numbers = [_count(part, maximum) for part in head.split(",") if part]
        end = _count(tail, maximum) if dots else None
    except ValueError:
        raise ValueError(f"expected counts like '1,2,4..max' or '1,2', got {text!r}") from None
    if not numbers or any(n < 1 for n in numbers):
        raise ValueError(f"counts must be positive, got {text!r}")
    if end is not None and tail != "max" and end < numbers[-1]:  # `4..2` ran 2 (or 2 and 4)
        raise ValueError(f"the range ends at {end}, below its start {numbers[-1]}, in {text!r}")
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
    """``max`` or ASCII digits (int() also took `1_0` as 10 and fullwidth digits)."""
    if part == "max":
        return maximum
    if not re.fullmatch(r"-?[0-9]+", part):
        raise ValueError(part)
    return int(part)


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
    """Apply command-line narrowing: a validated copy; ``None`` values leave the scenario's
    default, and a problem is one line naming the option (``--size``)."""
    updates: dict[str, Any] = {}
    size = changes.get("size")
    if changes.get("workloads"):
        names = [n.strip() for n in changes["workloads"].split(",") if n.strip()]
        updates["workloads"] = [{"name": n, "size": size or scenario.workloads[0].size}
                                for n in names]
    elif size:
        updates["workloads"] = [{"name": w.name, "size": size, "params": w.params}
                                for w in scenario.workloads]
    for key in ("schedulers", "workers", "order", "order_points"):
        if changes.get(key):
            updates[key] = changes[key]
    if changes.get("weak"):
        updates["scaling"] = "weak"
    for key in ("repeats", "warmup", "seed", "stabilize", "retries"):
        if changes.get(key) is not None:
            updates[key] = changes[key]
    return validated(updates, "command line", _option, base=scenario)


def _option(loc: tuple[Any, ...]) -> str:
    """The command-line option behind a field's location (``workloads[0].size``: --size)."""
    if loc[0] == "workloads" and loc[-1] == "size":
        return "--size"
    return "--" + str(loc[0]).replace("_", "-")
