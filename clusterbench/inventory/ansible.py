"""Ansible inventories (INI or YAML) as clusterbench inventories, read as Ansible reads them.

Two readers give the same result (:mod:`clusterbench.inventory.ansible_readers`):
``ansible-inventory -i PATH --list`` when it is on PATH (ansible-core), else a built-in
reader for INI and YAML files.  ``CLUSTERBENCH_ANSIBLE_READER`` (``auto``, ``ansible`` or
``builtin``; it reaches ``up``'s daemon) or ``--reader`` picks one.

Mapped variables: ``ansible_host`` → address, ``ansible_user`` → user, ``ansible_port``
→ port, ``ansible_ssh_private_key_file`` → identity (the older ``ansible_ssh_host``,
``ansible_ssh_user``, ``ansible_ssh_port`` too, when the new name is not set),
``ansible_python_interpreter`` → python (``auto*`` values are left to the default), and
``ansible_connection=local`` → a ``local`` host (``ssh``, ``smart``, ``paramiko`` or none:
an ``ssh`` host; any other connection is an error).  ``clusterbench_<field>`` variables
(e.g. ``clusterbench_workers: 4``) set any other host field;
``clusterbench_scheduler_<field>`` (e.g. ``clusterbench_scheduler_address=10.0.0.1`` in
``[all:vars]``), ``clusterbench_cluster``, ``clusterbench_security`` and
``clusterbench_min_workers`` set the inventory's, and must be equal on every selected host.
Group names become tags.  Every other variable is ignored, Jinja templates included; a
template (``{{ ... }}``) in a variable clusterbench uses is an error naming the host and
the variable (``ansible-inventory --list`` does not render templates either).

Hosts come in ``ansible-inventory --list``'s group order: ``ungrouped`` first, then the
groups in the order Ansible created them, each group's own hosts before its children's,
each host once.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import yaml

from clusterbench.errors import InventoryError, UsageError
from clusterbench.inventory.model import NAME_PATTERN
from clusterbench.inventory.safe_yaml import one_line, short
from clusterbench.suggest import did_you_mean

READER_ENV = "CLUSTERBENCH_ANSIBLE_READER"
READERS = ("auto", "ansible", "builtin")
#: Ansible variables -> host field.  Where several name one setting, the last one set wins,
#: as in Ansible's ssh connection plugin (its option's ``vars`` list: a later entry takes
#: precedence; checked with ``ansible -vvv``): ``ansible_ssh_host`` beats ``ansible_host``.
#: A null value counts as unset (``ansible_port: null`` is port 22 to Ansible).
_MAPPED = {
    "ansible_host": "address", "ansible_ssh_host": "address",
    "ansible_user": "user", "ansible_ssh_user": "user",
    "ansible_port": "port", "ansible_ssh_port": "port",
    "ansible_private_key_file": "identity", "ansible_ssh_private_key_file": "identity",
    "ansible_python_interpreter": "python",
}
_SSH_CONNECTIONS = (None, "ssh", "smart", "paramiko", "paramiko_ssh")
#: Collection prefixes of fully qualified connection names (``ansible.builtin.ssh``).
_CONNECTION_PREFIXES = ("ansible.builtin.", "ansible.legacy.")
_PREFIX = "clusterbench_"
_TOP_LEVEL = ("cluster", "security", "min_workers")
_SCHEDULER = "scheduler_"
_TEMPLATE = re.compile(r"\{\{|\{%|\{#")
_INI_SECTION = re.compile(r"^\[[^:\]\s]+(?::\w+)?\]\s*(?:#.*)?$")
_CLUSTERBENCH_KEYS = ("cluster", "scheduler", "defaults", "hosts", "min_workers", "security")


@dataclass(frozen=True)
class AnsibleImport:
    """An Ansible inventory converted to a clusterbench inventory mapping.

    Attributes
    ----------
    inventory
        The mapping :func:`clusterbench.inventory.load.parse_inventory` validates.
    reader
        Which reader read it, for the note commands print.
    """

    inventory: dict[str, Any]
    reader: str
    notes: tuple[str, ...] = ()


def read_ansible(path: str | Path, *, groups: tuple[str, ...] = (), limit: str | None = None,
                 reader: str | None = None) -> dict[str, Any]:
    """Convert the Ansible inventory at *path* into a clusterbench inventory mapping.

    Parameters
    ----------
    path, groups, limit, reader
        As for :func:`import_ansible`.

    Returns
    -------
    dict
        :attr:`AnsibleImport.inventory`.
    """
    return import_ansible(path, groups=groups, limit=limit, reader=reader).inventory


def import_ansible(path: str | Path, *, groups: tuple[str, ...] = (), limit: str | None = None,
                   reader: str | None = None) -> AnsibleImport:
    """Read the Ansible inventory at *path* (INI or YAML) and convert its selected hosts.

    Parameters
    ----------
    path
        The inventory file.
    groups
        Keep only the hosts of these groups (their children's included).
    limit
        An ``ansible --limit`` pattern (:mod:`clusterbench.inventory.ansible_patterns`).
    reader
        ``auto`` (default: ``$CLUSTERBENCH_ANSIBLE_READER`` or ``auto``), ``ansible`` or
        ``builtin``.

    Returns
    -------
    AnsibleImport
        The mapping and the reader used.

    Raises
    ------
    InventoryError
        One line naming the file (and the host and variable) when it cannot be converted.
    """
    from clusterbench.inventory.ansible_readers import (
        ansible_inventory,
        ansible_inventory_listing,
        builtin_listing,
    )

    path = Path(path)
    choice = _reader_choice(reader)
    program = ansible_inventory() if choice != "builtin" else None
    if choice == "ansible" and program is None:
        raise InventoryError(one_line(f"{path}: ansible-inventory is not on PATH (it comes with "
                                      "ansible-core: pip install ansible-core)"))
    if program is not None:
        listing = ansible_inventory_listing(path, limit, program)
        label = f"read by ansible-inventory ({program})"
    else:
        if not path.exists():
            raise InventoryError(one_line(f"{path}: no such Ansible inventory file"))
        listing = builtin_listing(path, limit)
        why = "" if choice == "builtin" else ": ansible-inventory not found"
        label = f"read by clusterbench's built-in Ansible reader (INI and YAML{why})"
    hosts = resolve(listing, path)
    if groups:
        hosts = _only_groups(hosts, listing, groups, path)
    if not hosts:
        chosen = f" within --limit {limit!r}" if limit is not None else ""
        raise InventoryError(one_line(f"{path}: no hosts found{chosen}"))
    return AnsibleImport(convert(hosts, path), label, tuple(_unused_ssh_options(hosts, path)))


#: ``ssh`` command-line options Ansible passes and asyncssh has no use for.
_SSH_ARGS = ("ansible_ssh_common_args", "ansible_ssh_extra_args", "ansible_ssh_args")


def _unused_ssh_options(hosts: list[ResolvedHost], path: Path) -> list[str]:
    """A note when hosts set ssh command-line options (often ``-o ProxyCommand=...`` to
    reach them through a bastion): clusterbench connects with asyncssh, not ``ssh``."""
    using = [host.name for host in hosts
             if any(host.variables.get(name) for name in _SSH_ARGS)]
    if not using:
        return []
    named = ", ".join(using[:5]) + (f" and {len(using) - 5} more" if using[5:] else "")
    return [f"{path}: ansible_ssh_common_args/ansible_ssh_extra_args of {named} are not "
            "used (clusterbench connects with asyncssh, not ssh): put a ProxyJump or other "
            "options in an ssh_config and set clusterbench_ssh_config=PATH"]


def _reader_choice(reader: str | None) -> str:
    choice = reader or os.environ.get(READER_ENV) or "auto"
    if choice not in READERS:
        raise UsageError(one_line(f"Ansible reader {short(choice)} (--reader or {READER_ENV}): "
                                  f"must be one of {', '.join(READERS)}"))
    return choice


@dataclass
class ResolvedHost:
    """One host of an Ansible inventory: its name, final variables and groups (tags)."""

    name: str
    variables: dict[str, Any]
    groups: list[str]


def resolve(listing: dict[str, Any], path: Path) -> list[ResolvedHost]:
    """The hosts of an ``ansible-inventory --list`` JSON, in group order, with their groups.

    Parameters
    ----------
    listing
        The JSON (either reader's).
    path
        The inventory file, for messages.

    Returns
    -------
    list of ResolvedHost
        Each host once, with its final variables and its groups (``all``/``ungrouped`` left
        out).
    """
    meta = _mapping(listing.get("_meta"))
    hostvars = _mapping(meta.get("hostvars"))
    order, members = _walk(listing, path)
    hosts: dict[str, ResolvedHost] = {}
    for group in order:
        for host in members[group]:
            variables = hostvars.get(host) or {}
            if not isinstance(variables, dict):
                _fail(path, f"host {short(host)}: variables are not a mapping")
            entry = hosts.setdefault(host, ResolvedHost(host, variables, []))
            if group not in ("all", "ungrouped") and group not in entry.groups:
                entry.groups.append(group)
    return list(hosts.values())


def _walk(listing: dict[str, Any], path: Path) -> tuple[list[str], dict[str, list[str]]]:
    """Groups depth-first from ``all`` (each once) and each group's hosts, children's too."""
    order: list[str] = []
    members: dict[str, list[str]] = {}

    def visit(group: str, depth: int) -> list[str]:
        if group in members:
            return members[group]
        if depth > 200:
            _fail(path, "groups nested too deeply")
        entry = _mapping(listing.get(group))
        order.append(group)
        members[group] = own = [h for h in entry.get("hosts") or [] if isinstance(h, str)]
        for child in entry.get("children") or []:
            if isinstance(child, str):
                own += [h for h in visit(child, depth + 1) if h not in own]
        return own

    visit("all", 0)
    return order, members


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _only_groups(hosts: list[ResolvedHost], listing: dict[str, Any], groups: tuple[str, ...],
                 path: Path) -> list[ResolvedHost]:
    known = sorted(name for name in listing if name != "_meta")
    for group in groups:
        if group not in known:
            _fail(path, f"--group {group!r}: no such group (with hosts){did_you_mean(group, known)}"
                  f"; groups: {', '.join(known)}")
    _, members = _walk(listing, path)
    chosen = {host for group in groups for host in members.get(group, [])}
    return [h for h in hosts if h.name in chosen]


def convert(hosts: list[ResolvedHost], path: Path) -> dict[str, Any]:
    """The clusterbench inventory mapping of resolved hosts (see the module docstring).

    Parameters
    ----------
    hosts
        From :func:`resolve`.
    path
        The inventory file: the cluster's name, and messages.

    Returns
    -------
    dict
        ``cluster``, ``scheduler`` (when a ``clusterbench_scheduler_*`` variable is set), the
        other inventory-wide fields, and ``hosts``.
    """
    inventory: dict[str, Any] = {"cluster": cluster_name(path)}
    scheduler: dict[str, Any] = {}
    seen: dict[str, tuple[str, Any]] = {}
    converted = []
    for host in hosts:
        for key, value in host.variables.items():
            if isinstance(key, str) and key.startswith(_PREFIX) and _is_global(key):
                value = _plain(value, key, host.name, path)
                _agree(seen, key, value, host.name, path)
                field_name = key[len(_PREFIX):]
                if field_name.startswith(_SCHEDULER):
                    scheduler[field_name[len(_SCHEDULER):]] = value
                else:
                    inventory[field_name] = value
        converted.append(_host(host, path))
    if scheduler:
        inventory["scheduler"] = scheduler
    inventory["hosts"] = converted
    return inventory


def cluster_name(path: Path) -> str:
    """The cluster's name from the inventory's file name: a cluster name is letters, digits,
    '.', '_' and '-' (``my hosts.ini`` is ``my-hosts``; ``clusterbench_cluster`` overrides)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem).lstrip("-._")[:64]
    return name or "ansible"


def _is_global(key: str) -> bool:
    name = key[len(_PREFIX):]
    return name in _TOP_LEVEL or name.startswith(_SCHEDULER)


def _agree(seen: dict[str, tuple[str, Any]], key: str, value: Any, host: str, path: Path) -> None:
    first = seen.setdefault(key, (host, value))
    if first[1] != value:
        _fail(path, f"variable {key!r}: hosts {first[0]!r} ({short(first[1])}) and {host!r} "
                    f"({short(value)}) disagree; set it once for all hosts ([all:vars])")


def _host(host: ResolvedHost, path: Path) -> dict[str, Any]:
    variables = {key: value for key, value in host.variables.items() if isinstance(key, str)}
    launcher = _launcher(variables.get("ansible_connection"), host.name, path)
    explicit = variables.get(_PREFIX + "launcher")
    if isinstance(explicit, str):
        launcher = explicit
    if not re.fullmatch(NAME_PATTERN, host.name):  # an IPv6 address, a non-ASCII name
        _fail(path, f"host {host.name!r}: a clusterbench host name is letters, digits, '.', "
                    "'_' and '-' (it names files, jobs and workers): give the host such a name "
                    f"and its address in ansible_host, e.g. 'node1 ansible_host={host.name}'")
    result: dict[str, Any] = {"name": host.name, "launcher": launcher}
    if launcher == "ssh":
        result["address"] = host.name
    for key in _in_precedence(variables):
        target = _target(key, launcher)
        if target is None:
            continue
        value = _plain(variables[key], key, host.name, path)
        if value is None and key in _MAPPED:
            continue
        if target == "python" and isinstance(value, str) and value.startswith("auto"):
            continue  # Ansible's interpreter discovery: the host's default python
        if target == "user" and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # `ansible_user=1000`: INI reads even "1000" as a number
        result[target] = [value] if target == "identity" else value
    if host.groups and "tags" not in result:
        result["tags"] = list(host.groups)
    return result


def _in_precedence(variables: dict[str, Any]) -> list[str]:
    """The variable names in the order they are applied, the winner of a setting last:
    Ansible's names in :data:`_MAPPED` order, then ``clusterbench_<field>``, which is meant
    for clusterbench and beats them (whatever order the reader listed them in)."""
    ansible = [key for key in _MAPPED if key in variables]
    return ansible + sorted(key for key in variables if key not in _MAPPED)


def _target(key: str, launcher: str) -> str | None:
    """The host field variable *key* sets (None: not used by clusterbench)."""
    if key in _MAPPED:
        # ansible_host, _user, _port and the key are SSH settings; python is every host's
        return _MAPPED[key] if launcher == "ssh" or _MAPPED[key] == "python" else None
    if key.startswith(_PREFIX) and not _is_global(key):
        return key[len(_PREFIX):]
    return None


def _launcher(connection: Any, host: str, path: Path) -> str:
    _check_template(connection, "ansible_connection", host, path)
    if isinstance(connection, str):
        for prefix in _CONNECTION_PREFIXES:  # ansible.builtin.ssh is ssh
            connection = connection.removeprefix(prefix)
    if connection == "local":
        return "local"
    if connection in _SSH_CONNECTIONS:
        return "ssh"
    _fail(path, f"host {short(host)}: variable 'ansible_connection': {short(connection)} is not "
                "supported (clusterbench starts workers over ssh or locally: ssh or local)")


def _plain(value: Any, key: str, host: str, path: Path) -> Any:
    """A used variable's value: vault-encrypted values decrypted, templates refused."""
    if isinstance(value, dict) and set(value) == {"__ansible_unsafe"}:  # `!unsafe` in --list
        value = value["__ansible_unsafe"]
    if isinstance(value, dict) and set(value) == {"__ansible_vault"}:
        from clusterbench.inventory.ansible_readers import decrypt_vault

        value = decrypt_vault(str(value["__ansible_vault"]),
                              f"{path}: host {short(host)}: variable {key!r}")
    _check_template(value, key, host, path)
    return value


def _check_template(value: Any, key: str, host: str, path: Path) -> None:
    if isinstance(value, str) and _TEMPLATE.search(value):
        _fail(path, f"host {short(host)}: variable {key!r}: Jinja template {short(value)} is "
                    "not rendered by clusterbench; give the value itself")


def _fail(path: Path, message: str) -> NoReturn:
    raise InventoryError(one_line(f"{path}: {message}"))


def is_ansible_ini(path: Path) -> bool:
    """Whether *path* is an INI Ansible inventory: a ``.ini`` file, or a file that is not
    ``.yml``/``.yaml``/``.json`` with a ``[section]`` line (at its start: a YAML document
    cannot have one).  Ansible's stock ``/etc/ansible/hosts`` starts with ungrouped hosts
    and comments before its first section.

    Parameters
    ----------
    path
        Any inventory file (an unreadable one is not INI: YAML reading reports it).
    """
    suffix = path.suffix.lower()
    if suffix == ".ini":
        return True
    if suffix in (".yml", ".yaml", ".json"):
        return False
    try:
        with path.open("rb") as handle:
            head = handle.read(8192).decode("utf-8", "replace")
    except OSError:
        return False
    return any(_INI_SECTION.match(line.rstrip()) for line in head.splitlines())


def is_ansible_document(path: Path, data: Any) -> bool:
    """Whether a parsed YAML file is an Ansible inventory rather than clusterbench's.

    Ansible's top level is a mapping of groups (``all:``, ``pis: {hosts: ...}``) or an
    inventory plugin's configuration (``plugin:``); clusterbench's has a ``hosts`` list and
    its own top-level fields.  A file without a ``.yml``/``.yaml``/``.json`` extension that
    is not a mapping is read as INI (e.g. a list of host names).

    Parameters
    ----------
    path
        The file (its extension).
    data
        Its YAML document.
    """
    named = path.suffix.lower() in (".yml", ".yaml", ".json")
    if not isinstance(data, dict):
        return data is not None and not named
    if isinstance(data.get("hosts"), list):
        return False
    # A group may be called `cluster` or `scheduler` too: a key is ours unless its body is
    # a group's (hosts / children / vars).
    groups = {key for key, body in data.items()
              if isinstance(body, dict) and {"hosts", "children", "vars"} & set(body)}
    if any(key in data and key not in groups for key in _CLUSTERBENCH_KEYS):
        return False
    # `h1 x="a: b"` alone parses as a YAML mapping with nothing of ours: INI
    return "all" in data or "plugin" in data or bool(groups) or not named


def to_yaml(inventory: dict[str, Any]) -> str:
    """Render a converted inventory as YAML (keys in a readable order).

    Parameters
    ----------
    inventory
        A converted mapping (:attr:`AnsibleImport.inventory`).
    """
    return yaml.safe_dump(inventory, sort_keys=False)


def load_ansible(path: Path, groups: tuple[str, ...] = (),
                 limit: str | None = None) -> dict[str, Any]:
    """What ``up FILE`` and ``inventory check FILE`` do with an Ansible file: convert its
    selected hosts, say which reader read it (stderr), and require the scheduler's address
    when a host is not this machine (``clusterbench_scheduler_address``).

    Parameters
    ----------
    path
        The Ansible inventory file.
    groups, limit
        The selection, as :func:`import_ansible` takes it (``--group``, ``--limit``).

    Returns
    -------
    dict
        The mapping for :func:`clusterbench.inventory.load.parse_inventory`.

    Raises
    ------
    InventoryError
        One line naming the file.
    """
    from clusterbench.console import err

    result = import_ansible(path, groups=groups, limit=limit)
    inventory = result.inventory
    err().print(f"note: {path}: Ansible inventory, {result.reader}: "
                f"{len(inventory['hosts'])} host(s)", markup=False, soft_wrap=True)
    for note in result.notes:
        err().print(f"note: {note}", markup=False, soft_wrap=True)
    scheduler = inventory.get("scheduler") or {}
    remote = [host["name"] for host in inventory["hosts"] if host.get("launcher") != "local"]
    if remote and isinstance(scheduler, dict) and not (
            scheduler.get("address") or scheduler.get("interface") or scheduler.get("host")):
        named = ", ".join(remote[:5]) + (f" and {len(remote) - 5} more" if remote[5:] else "")
        _fail(path, f"the scheduler's address is needed by {named}: set "
                    "clusterbench_scheduler_address=ADDRESS (an address of this machine they "
                    "reach) in [all:vars], or clusterbench_scheduler_host=HOST to run it there")
    return inventory
