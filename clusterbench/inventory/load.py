"""Load an inventory file and turn every validation problem into one actionable line.

The YAML shape::

    cluster: home-lab
    scheduler: {host: local, address: 10.0.0.5, port: 8786, dashboard: 8787}
    defaults: {threads: 1, python: /opt/venv/bin/python}   # merged into every host
    hosts:
      - {name: pi1, launcher: ssh, address: 10.0.0.11, workers: 4, memory: 900MB}
      - {name: desktop, launcher: local, workers: 2}

A host's own keys win over ``defaults``; a default a launcher does not know
(e.g. ``setup`` for a local host), or works out itself (``workers`` and ``threads`` of a
queue host), is simply not applied to that host.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from clusterbench.errors import InventoryError
from clusterbench.inventory.ansible import is_ansible_document, is_ansible_ini, load_ansible
from clusterbench.inventory.model import (
    NAME_PATTERN,
    NO_SPACES,
    HostBase,
    Inventory,
    SchedulerSpec,
)
from clusterbench.inventory.safe_yaml import one_line, read_yaml, short
from clusterbench.launchers.registry import (
    DEFAULT_LAUNCHER,
    host_model,
    launcher_for,
    launcher_names,
)
from clusterbench.suggest import did_you_mean

# Every field of the model (new ones included) plus ``defaults``; ``source`` is ours.
_TOP_LEVEL = (set(Inventory.model_fields) - {"source"}) | {"defaults"}


def load_inventory(path: str | Path, *, groups: Sequence[str] = (),
                   limit: str | None = None) -> Inventory:
    """Read, merge defaults into hosts, and validate an inventory file.

    An Ansible inventory (a ``.ini`` file, a file whose first line is an INI ``[group]``,
    or a YAML file of Ansible groups: :func:`~clusterbench.inventory.ansible.is_ansible_ini`,
    :func:`~clusterbench.inventory.ansible.is_ansible_document`) is read as Ansible reads it
    (:mod:`clusterbench.inventory.ansible`); *groups* and *limit* select its hosts as
    ``ansible --limit`` does (``up --group/--limit``), and are refused for a clusterbench
    inventory (it has no groups).

    The file must be UTF-8 (or carry a byte-order mark), unique keys per mapping,
    bounded nesting and alias expansion (:mod:`clusterbench.inventory.safe_yaml`).

    Raises
    ------
    InventoryError
        One line naming the file, the host (index and name) and the field.
    """
    path = Path(path)
    groups = tuple(groups)
    if _is_directory(path):  # Ansible takes a directory of inventory sources
        return parse_inventory(load_ansible(path, groups, limit), source=str(path))
    if is_ansible_ini(path):
        return parse_inventory(load_ansible(path, groups, limit), source=str(path))
    data = read_yaml(path, "inventory")
    if is_ansible_document(path, data):  # Ansible's INI or group mapping, not ``hosts:``
        return parse_inventory(load_ansible(path, groups, limit), source=str(path))
    if groups or limit is not None:
        raise InventoryError(f"{path}: --group and --limit select hosts of an Ansible "
                             f"inventory; this is a clusterbench inventory (no groups)")
    return parse_inventory(data, source=str(path))


def _is_directory(path: Path) -> bool:
    """Whether *path* is a directory; a missing path, a pipe or a device is an error here,
    before anything reads it (open() of a FIFO waits for a writer, forever if none comes).

    Raises
    ------
    InventoryError
        ``PATH: no such inventory file`` or ``PATH: not a regular file (...)``.
    """
    try:
        if path.is_dir():
            return True
        if not path.exists():
            raise InventoryError(one_line(f"{path}: no such inventory file"))
        if not path.is_file():
            raise InventoryError(one_line(f"{path}: not a regular file (a pipe or device); "
                                          "write the inventory to a file"))
    except (OSError, ValueError) as exc:  # a name too long, a NUL in it
        raise InventoryError(one_line(f"{path}: cannot read ({exc})")) from None
    return False


def parse_inventory(data: Any, source: str = "<memory>") -> Inventory:
    """Validate an already-parsed mapping (see :func:`load_inventory`).

    Raises
    ------
    InventoryError
        One line (at most a few hundred characters) naming *source*, the host and the field.
    """
    try:
        return _parse(data, source)
    except InventoryError as exc:
        raise InventoryError(one_line(str(exc))) from None


def _parse(data: Any, source: str) -> Inventory:
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise InventoryError(f"{source}: expected a mapping with 'hosts', got {kind}")
    _reject_unknown(data, _TOP_LEVEL, source, where="")
    hosts = data.get("hosts")
    if not isinstance(hosts, list) or not hosts:
        raise InventoryError(f"{source}: field 'hosts': must be a non-empty list of hosts")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise InventoryError(f"{source}: field 'defaults': must be a mapping")
    _check_defaults(defaults, source)
    merged = [_merge_defaults(host, defaults, source, index) for index, host in enumerate(hosts)]
    _check_duplicates(merged, source)
    fields = {k: v for k, v in data.items() if k != "defaults"} | {"hosts": merged}
    try:
        inventory = Inventory.model_validate(fields | {"source": source})
    except ValidationError as exc:
        raise InventoryError(_describe(exc, merged, source)) from None
    _check_scheduler_host(inventory)
    return inventory


def _merge_defaults(host: Any, defaults: dict, source: str, index: int) -> Any:
    if not isinstance(host, dict):
        raise InventoryError(f"{source}: hosts[{index}]: must be a mapping, got {short(host)}")
    launcher = host.get("launcher", defaults.get("launcher", DEFAULT_LAUNCHER))
    names = launcher_names()
    if not isinstance(launcher, str) or launcher not in names:
        label = _label(index, host)
        raise InventoryError(
            f"{source}: {label}: field 'launcher': unknown launcher {short(launcher)}; "
            f"valid: {', '.join(names)}{did_you_mean(str(launcher), names)}"
        )
    model = _model(launcher, source, index, host)
    applicable = {k: v for k, v in defaults.items()
                  if k in model.model_fields and k not in model.DERIVED}
    merged = applicable | {"launcher": launcher} | host
    if isinstance(applicable.get("env"), dict) and isinstance(host.get("env"), dict):
        merged["env"] = applicable["env"] | host["env"]
    return merged


def _model(launcher: str, source: str, index: int, host: Any) -> type[HostBase]:
    """The host model of *launcher*; a plug-in that cannot be loaded is this host's error."""
    try:
        return host_model(launcher)
    except InventoryError as exc:
        raise InventoryError(f"{source}: {_label(index, host)}: field 'launcher': {exc}") from None


def _check_defaults(defaults: dict, source: str) -> None:
    """Keys no launcher knows are errors (a key some other launcher knows is not)."""
    valid: set[str] = set()
    for name in launcher_names():
        try:
            valid |= set(host_model(name).model_fields)
        except InventoryError:
            continue  # a broken plug-in is reported by the host that uses it
    _reject_unknown(defaults, valid - {"name", "source"}, source, where="defaults: ")


def _check_duplicates(hosts: list[dict], source: str) -> None:
    seen: dict[str, int] = {}
    for index, host in enumerate(hosts):
        name = host.get("name")
        if isinstance(name, str) and name in seen:
            raise InventoryError(
                f"{source}: {_label(index, host)}: field 'name': duplicate host name "
                f"(also hosts[{seen[name]}])"
            )
        if isinstance(name, str):
            seen[name] = index


def _check_scheduler_host(inventory: Inventory) -> None:
    """``scheduler.host`` is ``local`` or the name of an ssh host of the inventory."""
    spec, source = inventory.scheduler, inventory.source
    if spec.host == "local":
        return
    kinds = {host.name: host.launcher for host in inventory.hosts}
    able = [name for name, launcher in kinds.items() if launcher_for(launcher).hosts_scheduler]
    where = f"{source}: scheduler: field 'host'"
    if spec.host not in kinds:
        valid = ", ".join(["local", *able])
        raise InventoryError(f"{where}: unknown host {short(spec.host)}"
                             f"{did_you_mean(spec.host, ['local', *able])}; valid: {valid}")
    if spec.host not in able:
        kinds_able = sorted({name for name in launcher_names()
                             if launcher_for(name).hosts_scheduler})
        words = " or ".join(kinds_able)
        # "an ssh host": the article of a name read letter by letter.
        article = "an" if words[:1] in tuple("aefhilmnorsx") else "a"
        raise InventoryError(f"{where}: host {spec.host!r} is a {kinds[spec.host]} host; the "
                             f"scheduler runs on 'local' or on {article} {words} host")
    if spec.interface:
        # The interface would be resolved here, on the wrong machine.
        raise InventoryError(f"{source}: scheduler: field 'interface': not supported with a "
                             f"remote scheduler host; set 'address' (default: {spec.host}'s)")


def _reject_unknown(data: dict, valid: set[str], source: str, where: str) -> None:
    for key in data:
        if key not in valid:
            raise InventoryError(
                f"{source}: {where}unknown field {short(key)}{did_you_mean(str(key), valid)}"
            )


def _label(index: int, host: Any) -> str:
    name = host.get("name") if isinstance(host, dict) else None
    return f"hosts[{index}] {short(name)}" if isinstance(name, str) else f"hosts[{index}]"


def _describe(exc: ValidationError, hosts: list[dict], source: str) -> str:
    """Turn pydantic's first error into ``FILE: hosts[i] 'name': field 'x': problem``."""
    error = exc.errors()[0]
    loc = list(error["loc"])
    where = ""
    model: type[BaseModel]
    if loc and loc[0] == "hosts" and len(loc) > 1 and isinstance(loc[1], int):
        index = loc[1]
        where = _label(index, hosts[index]) + ": "
        loc = loc[2:]
        model = _host_model_or_base(hosts[index].get("launcher", DEFAULT_LAUNCHER))
    elif loc and loc[0] == "scheduler":
        where, loc, model = "scheduler: ", loc[1:], SchedulerSpec
    else:
        model = Inventory
    if error["type"] == "extra_forbidden" and loc:  # the key itself, whatever it looks like
        key = loc[-1]
        hint = did_you_mean(str(key), model.model_fields)
        return f"{source}: {where}unknown field {short(key)}{hint}"
    # Union/validator branches add pseudo-locations like 'constrained-int'; keep real names.
    loc = [p for p in loc if isinstance(p, int)
           or (isinstance(p, str) and p.isidentifier() and p not in launcher_names())]
    field = ".".join(str(part) for part in loc)
    label = f"field {field!r}: " if field else ""
    return f"{source}: {where}{label}{_problem(error)}"


def _host_model_or_base(launcher: Any) -> type[HostBase]:
    try:
        return host_model(str(launcher))
    except InventoryError:
        return HostBase


#: What each pattern of the model asks for, in words.
_PATTERN_PHRASES = {
    NAME_PATTERN: "must start with a letter or digit and contain only letters, digits, '.', "
                  "'_' and '-'",
    NO_SPACES: "must not contain spaces",
}


def _problem(error: Mapping[str, Any]) -> str:
    """A human phrasing of one pydantic error, always ending with the offending value."""
    kind, got = error["type"], error.get("input")
    phrases = {
        "int_parsing": "must be a positive integer",
        "int_type": "must be a positive integer",
        "greater_than": "must be a positive integer" if isinstance(got, int) else None,
        "float_parsing": "must be a number",
        "string_type": "must be a string",
        "dict_type": "must be a mapping",
        "tuple_type": "must be a list",
        "missing": "is required",
        "string_pattern_mismatch": _PATTERN_PHRASES.get(error.get("ctx", {}).get("pattern")),
        "literal_error": "must be one of " + error.get("ctx", {}).get("expected", ""),
    }
    phrase = phrases.get(kind) or _strip_pydantic(error["msg"])
    if kind == "missing" or kind == "value_error" and ("got" in phrase or isinstance(got, dict)):
        return phrase
    return f"{phrase}, got {short(got)}"


def _strip_pydantic(message: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    return message[:1].lower() + message[1:]
