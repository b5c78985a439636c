"""Registry of the built-in workloads and resolution of users' own.

A scenario names a workload either by its registry name (see :data:`WORKLOADS`)
or as ``package.module:attribute``, where *attribute* is a
:class:`~clusterbench.workloads.base.Workload`.  A user workload follows the
same contract as the built-in ones:

``prepare(size, seed, **params) -> data``
    Build the inputs (not timed).  Must be deterministic in ``(size, seed)``:
    the serial reference and every measured point call it separately.
``run(data, ctx) -> result``
    The timed computation.  All parallel work goes through the
    :class:`~clusterbench.runner.modes.ExecutionContext`: ``ctx.compute(*delayed)``,
    ``ctx.map(func, items)`` or scikit-learn code inside ``with ctx.joblib():``.
    Aim for tasks of 100 ms or more and at least 4 tasks per ``ctx.slots``.
``verify(result, reference) -> Verdict``
    Compare with the answer of the same workload run under ``synchronous``.
``sizes``
    ``{"tiny": {...}, "small": {...}, "full": {...}}``: the parameters of each
    size (``tiny`` runs in tests in about a second).
``params_model`` (optional)
    A :class:`~clusterbench.workloads.params.WorkloadParams` subclass naming the
    ``params`` a scenario may give and their types; ``run`` then refuses anything else
    before a cluster starts.  Without one, any ``params`` reach ``prepare`` unchecked.

Functions that become tasks must be defined at module level, and their
arguments picklable: the ``processes`` and ``distributed`` schedulers pickle
them, and distributed workers import the module by name, so it must be
importable on every host.  If the result has a ``metrics`` mapping (e.g.
``{"n_tasks": 8}``), the runner stores it with the measurement.

Importing this module does not import scikit-learn or dask: the workload
modules import them inside their functions, so the CLI starts fast.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from pathlib import Path

from clusterbench.errors import ScenarioError
from clusterbench.suggest import did_you_mean
from clusterbench.workloads import gridsearch, montecarlo, randomforest
from clusterbench.workloads.base import Workload

WORKLOADS: dict[str, Workload] = {
    workload.name: workload
    for workload in (
        montecarlo.WORKLOAD,
        randomforest.WORKLOAD,
        randomforest.BLOCKS_WORKLOAD,
        gridsearch.SVC_WORKLOAD,
        gridsearch.PIPELINE_WORKLOAD,
        gridsearch.PIPELINE_AWARE_WORKLOAD,
    )
}


def resolve(name: str) -> Workload:
    """The workload called *name*: a registry name or ``package.module:attribute``.

    Parameters
    ----------
    name
        A key of :data:`WORKLOADS`, or an import path whose attribute is a
        :class:`~clusterbench.workloads.base.Workload`.

    Returns
    -------
    Workload

    Raises
    ------
    ScenarioError
        One line naming the valid workloads and the closest match, or why the
        import path does not lead to a workload.
    """
    if name in WORKLOADS:
        return WORKLOADS[name]
    if ":" in name:
        return _import_workload(name)
    raise ScenarioError(f"unknown workload {name!r}: valid are {', '.join(WORKLOADS)}, or "
                        f"package.module:attribute{did_you_mean(name, WORKLOADS)}")


def _import_workload(path: str) -> Workload:
    """Import ``package.module:attribute`` (the attribute may be dotted) and check its type."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ScenarioError(f"workload {path!r}: expected package.module:attribute")
    module = _import_user_module(path, module_name)
    target: object = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ScenarioError(
                f"workload {path!r}: {module_name!r} has no attribute {attribute!r}"
            )
        target = getattr(target, part)
    if not isinstance(target, Workload):
        raise ScenarioError(
            f"workload {path!r} is a {type(target).__name__}, not a clusterbench Workload"
        )
    if _users_own(module):
        import cloudpickle

        cloudpickle.register_pickle_by_value(module)
    return target


def _users_own(module: object) -> bool:
    """Whether *module* is the user's own file (under the working directory, not an installed
    package).  Only such a module is pickled by value: registering an installed package
    (``clusterbench:...``, ``sklearn...:``) made every later task carry that whole package
    by value, module-level locks included, and process pools failed to pickle them."""
    import site

    file = getattr(module, "__file__", None)
    if not file:
        return False
    path = Path(file).resolve()
    installed = [Path(p).resolve() for p in (*site.getsitepackages(),
                                             site.getusersitepackages())]
    package = Path(__file__).resolve().parents[1]
    return (path.is_relative_to(Path.cwd().resolve())
            and not path.is_relative_to(package)
            and not any(path.is_relative_to(root) for root in installed))


def _import_user_module(path: str, module_name: str) -> object:
    """Import a user's workload module the way ``python -m`` would: from the working
    directory too.  When it is the user's own file its functions are then pickled by value
    (:func:`_import_workload`), so dask workers on other hosts run them without having the
    module installed (the usual "ModuleNotFoundError on the worker")."""
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ScenarioError(f"workload {path!r}: cannot import {module_name!r}: {exc}") from exc
    except (Exception, SystemExit) as exc:  # the user's module failed (or exited) on import
        where = _user_frame(exc)
        raise ScenarioError(f"workload {path!r}: importing {module_name!r} failed{where}: "
                            f"{type(exc).__name__}: {exc}"[:400]) from exc
    return module


def _user_frame(exc: BaseException) -> str:
    """`` (FILE, line N)`` of the innermost frame of *exc*, or of a SyntaxError's text."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f" ({exc.filename}, line {exc.lineno})"
    frames = traceback.extract_tb(exc.__traceback__)
    return f" ({frames[-1].filename}, line {frames[-1].lineno})" if frames else ""


__all__ = ["WORKLOADS", "resolve"]
