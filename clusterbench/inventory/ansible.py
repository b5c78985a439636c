"""Import an Ansible YAML inventory (Pi-lab owners usually keep one).

Mapped variables: ``ansible_host`` → address, ``ansible_user`` → user,
``ansible_port`` → port, ``ansible_ssh_private_key_file`` → identity,
``ansible_python_interpreter`` → python.  ``clusterbench_<field>`` variables
(e.g. ``clusterbench_workers: 4``) set any other host field.  Group variables
apply to every host below the group (nearest group wins, host vars win over
all); group names become tags.  Every host becomes an ``ssh`` host.

Only the YAML format is read; an INI inventory is refused with the command that
converts it (``ansible-inventory -i hosts --list -y``).  The file is read with the
same bounds as an inventory (:mod:`clusterbench.inventory.safe_yaml`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from clusterbench.errors import InventoryError
from clusterbench.inventory.safe_yaml import one_line, read_yaml, short

_MAPPED = {
    "ansible_host": "address",
    "ansible_user": "user",
    "ansible_port": "port",
    "ansible_ssh_private_key_file": "identity",
    "ansible_python_interpreter": "python",
}
_PREFIX = "clusterbench_"
# Where _walk collects a host's groups: a key no YAML mapping can have (YAML keys are never
# tuples), so no host variable can collide with it.
_TAGS = ("clusterbench", "groups")


def read_ansible(path: str | Path) -> dict[str, Any]:
    """Convert the Ansible inventory at *path* into a clusterbench inventory mapping.

    Raises
    ------
    InventoryError
        One line naming the file (and the group or host) when the file is not a
        readable Ansible YAML inventory.
    """
    path = Path(path)
    try:
        data = read_yaml(path, "Ansible inventory")
    except InventoryError:
        _refuse_ini(path)
        raise
    if not isinstance(data, dict) or not data:
        _refuse_ini(path)
        raise InventoryError(one_line(
            f"{path}: expected an Ansible YAML inventory with a top group, got {short(data)}"))
    hosts: dict[str, dict[str, Any]] = {}
    for group, body in data.items():
        _walk(group, body, {}, (), hosts, path)
    if not hosts:
        raise InventoryError(one_line(f"{path}: no hosts found"))
    return {"cluster": path.stem, "hosts": [_convert(n, v, path) for n, v in hosts.items()]}


def _refuse_ini(path: Path) -> None:
    """Raise the INI-specific message when the file's first line is an INI ``[group]``."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096).decode("utf-8", "replace")
    except OSError:
        return
    lines = [line.strip() for line in head.splitlines()]
    first = next((line for line in lines if line and line[0] not in "#;"), "")
    if first.startswith("[") and first.endswith("]") and "," not in first:
        raise InventoryError(one_line(
            f"{path}: looks like an INI Ansible inventory ({first}); only the YAML format "
            f"is read: convert it with 'ansible-inventory -i {path} --list -y > hosts.yml'"))


def _mapping(value: Any, path: Path, where: str) -> dict:
    """*value* as a mapping (null: empty), or a one-line error naming *where*."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InventoryError(one_line(f"{path}: {where}: must be a mapping, got {short(value)}"))
    return value


def _name(value: Any, path: Path, where: str) -> str:
    """A group or host name: text (numbers are taken as text, as Ansible does)."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise InventoryError(one_line(f"{path}: {where}: name must be text, got {short(value)}"))


def _walk(group: Any, body: Any, inherited: dict, tags: tuple, hosts: dict, path: Path) -> None:
    group = _name(group, path, f"group {short(group)}")
    where = f"group {short(group)}"
    body = _mapping(body, path, where)
    variables = inherited | _mapping(body.get("vars"), path, f"{where}: vars")
    tags = tags if group in ("all", "ungrouped") else (*tags, group)
    for name, host_vars in _mapping(body.get("hosts"), path, f"{where}: hosts").items():
        name = _name(name, path, f"{where}: hosts")
        previous = hosts.get(name, {})
        merged = previous | variables | _mapping(host_vars, path, f"host {short(name)}")
        merged[_TAGS] = tuple(dict.fromkeys((*previous.get(_TAGS, ()), *tags)))
        hosts[name] = merged
    for child, child_body in _mapping(body.get("children"), path, f"{where}: children").items():
        _walk(child, child_body, variables, tags, hosts, path)


def _convert(name: str, variables: dict[Any, Any], path: Path) -> dict[str, Any]:
    host: dict[str, Any] = {"name": name, "launcher": "ssh", "address": name}
    for key, value in variables.items():
        if key == _TAGS:
            continue
        if not isinstance(key, str):
            raise InventoryError(one_line(
                f"{path}: host {short(name)}: variable names must be text, got {short(key)}"))
        if key in _MAPPED:
            host[_MAPPED[key]] = [value] if _MAPPED[key] == "identity" else value
        elif key.startswith(_PREFIX):
            host[key[len(_PREFIX):]] = value
    if variables.get(_TAGS):
        host["tags"] = list(variables[_TAGS])
    return host


def to_yaml(inventory: dict[str, Any]) -> str:
    """Render a converted inventory as YAML (keys in a readable order)."""
    return yaml.safe_dump(inventory, sort_keys=False)
