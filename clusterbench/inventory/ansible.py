"""Import an Ansible YAML inventory (Pi-lab owners usually keep one).

Mapped variables: ``ansible_host`` → address, ``ansible_user`` → user,
``ansible_port`` → port, ``ansible_ssh_private_key_file`` → identity,
``ansible_python_interpreter`` → python.  ``clusterbench_<field>`` variables
(e.g. ``clusterbench_workers: 4``) set any other host field.  Group variables
apply to every host below the group (nearest group wins, host vars win over
all); group names become tags.  Every host becomes an ``ssh`` host.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from clusterbench.errors import InventoryError

_MAPPED = {
    "ansible_host": "address",
    "ansible_user": "user",
    "ansible_port": "port",
    "ansible_ssh_private_key_file": "identity",
    "ansible_python_interpreter": "python",
}
_PREFIX = "clusterbench_"


def read_ansible(path: str | Path) -> dict[str, Any]:
    """Convert the Ansible inventory at *path* into a clusterbench inventory mapping."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InventoryError(f"{path}: cannot read Ansible inventory ({exc})") from None
    if not isinstance(data, dict) or not data:
        raise InventoryError(f"{path}: expected an Ansible YAML inventory with a top group")
    hosts: dict[str, dict[str, Any]] = {}
    for group, body in data.items():
        _walk(group, body or {}, {}, (), hosts, path)
    if not hosts:
        raise InventoryError(f"{path}: no hosts found")
    return {"cluster": path.stem, "hosts": [_convert(n, v, path) for n, v in hosts.items()]}


def _walk(group: str, body: Any, inherited: dict, tags: tuple, hosts: dict, path: Path) -> None:
    if not isinstance(body, dict):
        raise InventoryError(f"{path}: group {group!r}: must be a mapping")
    variables = inherited | (body.get("vars") or {})
    tags = tags if group in ("all", "ungrouped") else (*tags, group)
    for name, host_vars in (body.get("hosts") or {}).items():
        previous = hosts.get(name, {})
        merged = previous | variables | (host_vars or {})
        merged["__tags"] = tuple(dict.fromkeys((*previous.get("__tags", ()), *tags)))
        hosts[name] = merged
    for child, child_body in (body.get("children") or {}).items():
        _walk(child, child_body or {}, variables, tags, hosts, path)


def _convert(name: str, variables: dict[str, Any], path: Path) -> dict[str, Any]:
    host: dict[str, Any] = {"name": name, "launcher": "ssh", "address": name}
    for key, value in variables.items():
        if key in _MAPPED:
            host[_MAPPED[key]] = [value] if _MAPPED[key] == "identity" else value
        elif key.startswith(_PREFIX):
            host[key[len(_PREFIX):]] = value
    if variables.get("__tags"):
        host["tags"] = list(variables["__tags"])
    return host


def to_yaml(inventory: dict[str, Any]) -> str:
    """Render a converted inventory as YAML (keys in a readable order)."""
    return yaml.safe_dump(inventory, sort_keys=False)
