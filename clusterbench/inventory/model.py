"""The typed, frozen inventory model.

An inventory describes a cluster: where the scheduler runs and which hosts
contribute workers.  Hosts are a union on ``launcher`` over the launcher registry
(:mod:`clusterbench.launchers.base`), so that each launcher's own host model
(in its module) validates exactly the fields it understands; unknown keys are
rejected (``extra="forbid"``) and reported with their path by
:mod:`clusterbench.inventory.load`.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
from typing import Annotated, Any, ClassVar, Literal, get_args

from dask.utils import parse_bytes
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveInt,
    SerializeAsAny,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.fields import FieldInfo

# BLAS_ENV lives in the leaf module; re-exported for callers that import it from here.
from clusterbench.constants import BLAS_ENV as BLAS_ENV

#: Below this a worker cannot run: a bare number is bytes, and ``memory: 512`` (meant as
#: MB) gave dask-jobqueue's ``slurm_format_bytes_ceil`` a TypeError at ``up``.
MIN_MEMORY = 2**20


def _memory(value: Any) -> Any:
    """Accept ``"auto"``, ``None``, a byte count or a dask size string (``"512MB"``) of at
    least :data:`MIN_MEMORY`."""
    if value is None or value == "auto":
        return value
    size = f"must be a size like '2GB' or 'auto', got {value!r}"
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(size)
    # dask's parse_bytes reads a missing number as 1 ('GB' is 1 GB, '' is 1 byte)
    if isinstance(value, str) and not any(ch.isdigit() for ch in value):
        raise ValueError(size)
    try:
        parsed = value if isinstance(value, int) else parse_bytes(str(value))
    except (ValueError, TypeError, OverflowError):  # OverflowError: '1e400' is infinite
        raise ValueError(size) from None
    if parsed <= 0:
        raise ValueError(f"must be a positive size like '2GB' or 'auto', got {value!r}")
    if parsed < MIN_MEMORY:
        raise ValueError(f"got {value!r}: {int(parsed)} bytes are too little for a worker (a "
                         f"bare number is bytes); write a unit, e.g. '{value}MB'")
    return int(parsed)


Memory = Annotated[int | Literal["auto"] | None, BeforeValidator(_memory)]
Count = PositiveInt


#: C0 and C1 control characters: a newline in a queue name or a python path split the
#: job script (a new ``#SBATCH`` line, a bare shell line) and the remote command lines.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: Fields of shell text: newlines and tabs are theirs (other controls are not).
_SHELL_TEXT = frozenset({"setup", "job_script_prologue", "env"})
_CONTROL_IN_SHELL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: Host and cluster names: they go into file names, job names and worker names.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
#: A user name or jump host: one word.
NO_SPACES = r"^\S+$"
#: Environment variable names, as a shell's ``export`` and ``env NAME=VALUE`` take them.
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_yes_no_for_other_types(cls, value: Any, info: ValidationInfo) -> Any:
        """YAML 1.1 reads unquoted yes/no/on/off/true/false as booleans, and pydantic would
        take them as 1 and 0 (``dashboard: off`` was port 0: any free port, the opposite)."""
        field = cls.model_fields.get(info.field_name or "")
        if isinstance(value, bool) and field is not None and not _takes_bool(field):
            raise ValueError(f"got {str(value).lower()}: YAML reads an unquoted yes, no, on, "
                             "off, true or false as a yes/no value; quote it, or write the "
                             "number (null for none, where the field allows it)")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name == "source":
            return value
        # Shell text (a YAML block of setup commands, a prologue) may span lines and
        # env values are quoted; a queue name, a path or a directive may not.
        pattern = _CONTROL_IN_SHELL if info.field_name in _SHELL_TEXT else _CONTROL
        bad = _control_character(value, pattern)
        if bad is not None:
            raise ValueError(f"contains the control character {bad!r}, which would break "
                             "the command lines and job scripts the value goes into")
        return value


def _takes_bool(field: FieldInfo) -> bool:
    """Whether *field*'s type admits a boolean (anywhere in a union or Annotated)."""
    pending = [field.annotation]
    while pending:
        kind = pending.pop()
        if kind is bool:
            return True
        pending.extend(get_args(kind))
    return False


def _control_character(value: Any, pattern: re.Pattern[str] = _CONTROL) -> str | None:
    """The first control character (*pattern*) in *value* (strings inside tuples, lists
    and mapping keys and values included), else None."""
    if isinstance(value, str):
        found = pattern.search(value)
        return found.group() if found else None
    items: Any = ()
    if isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    elif isinstance(value, list | tuple | set | frozenset):
        items = value
    for item in items:
        bad = _control_character(item, pattern)
        if bad is not None:
            return bad
    return None


#: A host name or SSH config alias: what ``ssh ADDRESS`` accepts as a destination without
#: a user or port in it (RFC 1123 letters, digits, '-', '.', plus '_', which real networks
#: and SSH aliases use).
_HOST_NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,252})")


def address_problem(value: str, port_field: str = "port") -> str | None:
    """Why *value* is not an IP address, host name or SSH alias (None: it is one; pure);
    *port_field* is the field a port found in it belongs in.

    Catches what a resolver or asyncssh would only report as "cannot connect" later:
    ``user@host`` and ``host:port`` (fields of their own), whitespace, Ansible ranges
    (``1.2.3.[1:3]``: Ansible does not expand them in variables), a leading ``-``, and
    numbers that are no IPv4 address (``999.1.1.1``).
    """
    try:
        ipaddress.ip_address(value)
        return None
    except ValueError:
        pass
    if "://" in value:
        return "write the host only, without a scheme ('tcp://', 'tls://' come from the cluster)"
    if "@" in value:
        return "contains a user; put it in 'user:'"
    if value.count(":") == 1 and value.rpartition(":")[2].isdigit():
        return f"contains a port; put it in '{port_field}:'"
    if re.fullmatch(r"[0-9.]+", value):
        return "not an IPv4 address"
    if not _HOST_NAME.fullmatch(value) or ".." in value:
        ranges = " (Ansible does not expand [a:b] ranges in host variables)" if "[" in value \
            else ""
        return f"not an IP address or host name: letters, digits, '-', '_' and '.'{ranges}"
    return None


class SchedulerSpec(_Frozen):
    """Where the dask scheduler runs.

    ``host`` is ``"local"`` (the machine running clusterbench) or the name of an
    ssh host of the inventory.  ``address`` is the address workers use to reach
    it (and the one it binds to); ``interface`` picks the address of a network
    interface instead (useful on HPC login nodes, dask-jobqueue#391).
    """

    host: str = "local"
    address: str | None = None
    interface: str | None = None
    port: Annotated[int, Field(ge=0, le=65535)] = 0
    dashboard: Annotated[int, Field(ge=0, le=65535)] | None = 0  # 0: any free port; null: off
    # The dashboard shows code and data and has no login: loopback unless the inventory
    # says otherwise (``status`` prints the SSH tunnel to reach it).
    dashboard_host: Annotated[str, Field(min_length=1)] = "127.0.0.1"
    python: str | None = None

    @field_validator("address", "dashboard_host")
    @classmethod
    def _an_address(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Both go to the scheduler's command line (``--host``, ``--dashboard-address``):
        ``tcp://10.0.0.1`` or ``host:8786`` there only failed once the scheduler started."""
        port_field = "dashboard" if info.field_name == "dashboard_host" else "port"
        problem = address_problem(value, port_field) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value


class HostBase(_Frozen):
    """Fields every host has, whatever its launcher.

    Each launcher's module subclasses it (``launchers/<name>.py``); the class variables
    name the fields errors about the worker and thread counts point at.
    """

    COUNT_FIELD: ClassVar[str] = "workers"
    THREADS_FIELD: ClassVar[str] = "threads"
    #: Fields this launcher works out itself: ``defaults`` does not set them on its hosts.
    DERIVED: ClassVar[frozenset[str]] = frozenset()

    launcher: str
    name: Annotated[str, Field(min_length=1, pattern=NAME_PATTERN)]
    workers: Count | Literal["auto"] = 1
    threads: Count = 1
    memory: Memory = "auto"
    python: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    tags: tuple[str, ...] = ()
    worker_extra_args: tuple[str, ...] = ()

    @field_validator("worker_extra_args", mode="before")
    @classmethod
    def _split_a_command_line(cls, value: Any) -> Any:
        """``"--lifetime 25m"`` is two arguments, as on a command line (one string was
        passed as one argument, which dask-worker refused)."""
        if isinstance(value, str):
            try:
                return tuple(shlex.split(value))
            except ValueError as exc:  # an unclosed quote
                raise ValueError(f"cannot be split into arguments ({exc}), got {value!r}"
                                 ) from None
        return value

    @field_validator("env", mode="before")
    @classmethod
    def _env_values_are_strings(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for key, item in value.items():  # a list or null would become "[1, 2]" / "None"
                if not isinstance(item, str | int | float) or not isinstance(key, str | int):
                    bad = key if not isinstance(key, str | int) else item
                    raise ValueError(f"names and values must be strings or numbers, got "
                                     f"{type(bad).__name__} in {key!r}"[:120])
                if isinstance(item, bool | float):  # YAML 1.1: yes -> True, 3.10 -> 3.1
                    raise ValueError(f"{str(key)!r}: YAML read the value as the "
                                     f"{type(item).__name__} {item!r}, not as text; quote it "
                                     "(unquoted yes, on, 3.10 or 1e3 do not stay as written)"
                                     [:200])
            for key in value:
                if not _ENV_NAME.fullmatch(str(key)):  # `env -i=1` is an option to env(1)
                    raise ValueError(f"{str(key)!r} is not a variable name (letters, digits "
                                     "and '_', not starting with a digit)"[:160])
            return {str(k): str(v) for k, v in value.items()}
        return value

    @property
    def worker_count(self) -> int:
        """Number of dask workers this host contributes (``auto`` = this machine's cores)."""
        if self.workers == "auto":
            return os.cpu_count() or 1
        return int(self.workers)

    @property
    def worker_threads(self) -> int:
        """Threads of each of its workers."""
        return self.threads


def _host_of_its_launcher(index: int, value: Any) -> Any:
    """A host mapping validated by the model of the launcher it names (the registry's)."""
    if not isinstance(value, dict):
        return value  # already a host (or wrong: HostBase's own validation says so)
    from clusterbench.launchers.registry import DEFAULT_LAUNCHER, host_model, launcher_names

    name = value.get("launcher", DEFAULT_LAUNCHER)
    if not isinstance(name, str) or name not in launcher_names():
        raise ValidationError.from_exception_data("Inventory", [{
            "type": "literal_error", "loc": (index, "launcher"), "input": name,
            "ctx": {"expected": ", ".join(repr(n) for n in launcher_names())}}])
    try:
        return host_model(name).model_validate(value | {"launcher": name})
    except ValidationError as exc:
        # Keep the host's index in every error's location (pydantic drops it otherwise).
        errors = [{**error, "loc": (index, *error["loc"])}
                  for error in exc.errors(include_url=False)]
        raise ValidationError.from_exception_data("Inventory", errors) from None  # type: ignore[arg-type]


class Inventory(_Frozen):
    """A whole cluster description; see ``inventories/*.yml`` for documented examples."""

    # A name: it goes into the state file's name and the job names (#SBATCH -J cb-NAME)
    cluster: Annotated[str, Field(min_length=1, max_length=64, pattern=NAME_PATTERN)] = (
        "clusterbench")
    scheduler: SchedulerSpec = SchedulerSpec()
    min_workers: Count | None = None
    #: ``auto``: TLS with a per-cluster CA as soon as a host is not this machine, plain TCP
    #: on loopback; ``tls``: always; ``insecure``: never (warned about everywhere).
    security: Literal["auto", "tls", "insecure"] = "auto"
    # Each host is validated by its launcher's model (launchers.base registry): a
    # discriminated union on ``launcher`` that plug-in launchers join at run time.
    hosts: Annotated[tuple[SerializeAsAny[HostBase], ...], Field(min_length=1)]
    source: str = "<memory>"

    @field_validator("hosts", mode="before")
    @classmethod
    def _hosts_by_launcher(cls, value: Any) -> Any:
        if not isinstance(value, list | tuple):
            return value
        return tuple(_host_of_its_launcher(index, host) for index, host in enumerate(value))

    @property
    def total_workers(self) -> int:
        """Workers over all hosts."""
        return sum(host.worker_count for host in self.hosts)

    def host(self, name: str) -> HostBase:
        """The host called *name* (``KeyError`` if absent)."""
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)


def threads_of(host: HostBase) -> int:
    """Threads per worker of *host* (queue hosts derive it from cores/processes)."""
    return host.worker_threads
