"""Declared workload parameters: what a scenario's ``params`` may set, checked before a run.

A built-in workload declares its ``params`` as a subclass of :class:`WorkloadParams`, one
annotated field per name (see :attr:`clusterbench.workloads.base.Workload.params_model`)::

    class Params(WorkloadParams):
        n_paths: PositiveInt
        kernel: Literal["python", "numpy"]

``clusterbench run`` checks every workload's ``params`` against it before any cluster
starts (:func:`params_problem`), so ``params: {kernel: fortran}`` or a misspelt key is one
line naming the file, the workload, the field and the valid choices.  A workload without
a declaration (a user's ``package.module:attribute``, usually) accepts any ``params``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError

from clusterbench.suggest import did_you_mean


class WorkloadParams(BaseModel):
    """Base of a workload's declaration of its ``params``.

    The model is a schema, never instantiated by the runner: a field left out keeps the
    size's value (``Workload.sizes``) or ``prepare``'s default, so fields carry no default
    and a missing one is no problem.  Types are strict, so a value that passes is exactly
    what ``prepare`` receives ("1000" is refused rather than turned into 1000, which would
    record a value the workload never saw).
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def params_problem(model: type[BaseModel], params: Mapping[Any, Any]) -> str | None:
    """What is wrong with *params* for *model*, as one line, or None when nothing is.

    Parameters
    ----------
    model
        The workload's declaration (a :class:`WorkloadParams` subclass).
    params
        A scenario's ``params`` mapping.

    Returns
    -------
    str or None
        ``"unknown field 'kernle' (did you mean 'kernel'?); valid: ..."``,
        ``"field 'kernel': must be one of python, numpy, got 'fortran'"`` or
        ``"field 'n_paths': input should be a valid integer, got '1000'"``.
    """
    fields = sorted(model.model_fields)
    for key in params:  # before pydantic, which reports a non-string key obscurely
        if key not in model.model_fields:
            return f"unknown field {key!r}{did_you_mean(key, fields)}; valid: {', '.join(fields)}"
    try:
        model.model_validate(dict(params))
    except ValidationError as exc:
        errors = [error for error in exc.errors() if error["type"] != "missing"]
        if errors:
            return _describe(errors[0], model)
    return None


def _describe(error: Any, model: type[BaseModel]) -> str:
    """``field 'x': problem, got value`` for one pydantic error of a declared field."""
    head, *rest = error["loc"]
    field = str(head) + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in rest)
    value = error["input"]
    choices = _literals(model.model_fields[str(head)].annotation)
    if error["type"] == "literal_error" and choices:
        return (f"field {field!r}: must be one of {', '.join(map(str, choices))}, got "
                f"{_short(value)}{did_you_mean(value, choices)}")
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"field {field!r}: {message[:1].lower()}{message[1:]}, got {_short(value)}"


def _literals(annotation: Any) -> list[Any]:
    """The values of every ``Literal`` inside *annotation* (``Literal[...] | None`` too)."""
    if get_origin(annotation) is Literal:
        return list(get_args(annotation))
    return [value for arg in get_args(annotation) for value in _literals(arg)]


def _short(value: Any, limit: int = 60) -> str:
    """``repr`` of *value*, cut to *limit* characters (a message stays one short line)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


__all__ = ["WorkloadParams", "params_problem"]
