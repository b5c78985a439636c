"""Ansible's inventory data model, as the built-in reader needs it.

A small re-implementation of what ``ansible.inventory.data.InventoryData`` does for the
``ini`` and ``yaml`` inventory plugins: groups with ordered hosts and children, the
implicit ``all`` and ``ungrouped`` groups, group depth and ``ansible_group_priority``,
``host_vars/`` and ``group_vars/`` beside the inventory file, and Ansible's variable
precedence (``ansible.vars.manager.VariableManager.get_vars`` with the default
``VARIABLE_PRECEDENCE``)::

    all's inventory vars < other groups' inventory vars (by depth, priority, name)
    < group_vars/all < group_vars/<group> (same order) < the host's inventory vars
    < host_vars/<host>

:meth:`AnsibleData.listing` renders the result in the shape of ``ansible-inventory
--list`` (groups with ``hosts``/``children``, ``_meta.hostvars``), so both readers end in
the same structure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clusterbench.errors import InventoryError
from clusterbench.inventory.safe_yaml import one_line, read_yaml, short

#: Extensions of ``group_vars``/``host_vars`` files (Ansible's ``YAML_FILENAME_EXTENSIONS``
#: after the bare name).
VARS_EXTENSIONS = ("", ".yml", ".yaml", ".json")
#: Most vars files read from ``host_vars``/``group_vars`` (a bound against a huge tree).
MAX_VARS_FILES = 2_000


@dataclass
class Group:
    """One Ansible group: its own hosts and child groups in the order they were added."""

    name: str
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    depth: int = 0
    priority: int = 1


class AnsibleData:
    """Hosts and groups of one inventory source (``InventoryData``'s rules).

    Parameters
    ----------
    fail
        Called with a message to raise the reader's one-line error (it never returns).
    """

    def __init__(self, fail: Callable[[str], Any]) -> None:
        self.fail = fail
        self.groups: dict[str, Group] = {"all": Group("all"), "ungrouped": Group("ungrouped")}
        self.add_child("all", "ungrouped")
        self.hosts: dict[str, dict[str, Any]] = {}
        self.memberships: dict[str, list[str]] = {}

    def add_group(self, name: str) -> str:
        """Declare *name* (no-op when it exists); return it."""
        if not isinstance(name, str) or not name:
            self.fail(f"invalid group name {short(name)}")
        self.groups.setdefault(name, Group(name))
        return name

    def add_host(self, name: Any, group: str | None = None, port: int | None = None) -> None:
        """Declare host *name* (in *group*); a ``host:port`` port becomes ``ansible_port``."""
        if not isinstance(name, str) or not name:
            self.fail(f"invalid host name {short(name)}")
        if name not in self.hosts:
            # Ansible sets ansible_port only `if port:` (``host:0`` keeps the default)
            self.hosts[name] = {"ansible_port": port} if port else {}
            self.memberships[name] = []
        if group:
            members = self.groups[group].hosts
            if name not in members:
                members.append(name)
                self.memberships[name].append(group)

    def add_child(self, parent: str, child: str) -> None:
        """Make group *child* a child of *parent* (a loop is an error, as in Ansible)."""
        if parent == child:
            self.fail(f"group {short(child)} cannot be its own child")
        group, kid = self.groups[parent], self.groups[child]
        if child in group.children:
            return
        if child in self.ancestors(parent):
            self.fail(f"adding group {short(child)} as child to {short(parent)} creates a "
                      "recursive dependency loop")
        group.children.append(child)
        if parent not in kid.parents:
            kid.parents.append(parent)
        self._deepen(child, group.depth + 1)

    def _deepen(self, name: str, depth: int) -> None:
        stack = [(name, depth)]
        while stack:
            current, level = stack.pop()
            group = self.groups[current]
            if level > group.depth:
                group.depth = level
                stack.extend((kid, level + 1) for kid in group.children)

    def set_group_var(self, group: str, key: Any, value: Any) -> None:
        """A group variable; ``ansible_group_priority`` sets the group's priority."""
        if key == "ansible_group_priority":
            try:
                self.groups[group].priority = int(value)
            except (TypeError, ValueError, OverflowError):
                self.fail(f"group {short(group)}: ansible_group_priority must be an integer, "
                          f"got {short(value)}")
            return
        self.groups[group].vars[_key(key, self.fail)] = value

    def set_host_var(self, host: str, key: Any, value: Any) -> None:
        """A host variable from the inventory file (a later definition wins)."""
        self.hosts[host][_key(key, self.fail)] = value

    def ancestors(self, name: str) -> set[str]:
        """Every group above group *name*."""
        seen: set[str] = set()
        stack = list(self.groups[name].parents)
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(self.groups[current].parents)
        return seen

    def groups_of(self, host: str) -> set[str]:
        """The groups *host* is in, directly or through a child group."""
        found: set[str] = set()
        for group in self.memberships[host]:
            found |= {group, *self.ancestors(group)}
        return found

    def reconcile(self) -> None:
        """Top groups become children of ``all``; hosts in no group go to ``ungrouped``."""
        for name in list(self.groups):
            if name != "all" and not self.ancestors(name):
                self.add_child("all", name)
        ungrouped = self.groups["ungrouped"]
        for host in self.hosts:
            mine = self.groups_of(host)
            if "ungrouped" in mine:
                if mine - {"all", "ungrouped"} and host in ungrouped.hosts:
                    ungrouped.hosts.remove(host)
                    self.memberships[host].remove("ungrouped")
            elif not mine or mine == {"all"}:
                self.add_host(host, "ungrouped")

    def hosts_of(self, name: str) -> list[str]:
        """Hosts of group *name* and of every group below it (each once)."""
        order, queue, seen = [], [name], {name}
        while queue:
            current = queue.pop(0)
            order.append(current)
            for kid in self.groups[current].children:
                if kid not in seen:
                    seen.add(kid)
                    queue.append(kid)
        return list(dict.fromkeys(h for group in order for h in self.groups[group].hosts))

    def host_vars(self, host: str, files: VarsFiles) -> dict[str, Any]:
        """The variables of *host* with Ansible's precedence (see the module docstring)."""
        mine = sorted((self.groups[g] for g in self.groups_of(host) - {"all"}),
                      key=lambda g: (g.depth, g.priority, g.name))
        merged = dict(self.groups["all"].vars)
        for group in mine:
            merged |= group.vars
        for group in (self.groups["all"], *mine):
            merged |= files.group(group.name)
        merged |= self.hosts[host]
        merged |= files.host(host)
        return merged

    def listing(self, files: VarsFiles, selected: set[str] | None = None) -> dict[str, Any]:
        """What ``ansible-inventory --list`` prints (limited to *selected* hosts)."""
        available = set(self.hosts) if selected is None else selected
        results: dict[str, Any] = {}
        seen: set[str] = set()

        def render(name: str) -> None:
            group = self.groups[name]
            entry: dict[str, Any] = {}
            if name != "all":
                entry["hosts"] = [h for h in group.hosts if h in available]
            entry["children"] = list(group.children)
            for kid in group.children:
                if kid not in seen:
                    render(kid)
                    seen.add(kid)
            entry = {key: value for key, value in entry.items() if value}
            if entry:
                results[name] = entry

        render("all")
        hostvars = {h: self.host_vars(h, files) for h in self.hosts if h in available}
        results["_meta"] = {"hostvars": {h: v for h, v in hostvars.items() if v}}
        return results


class VarsFiles:
    """``host_vars/`` and ``group_vars/`` beside an inventory file, read on demand.

    Parameters
    ----------
    base
        The inventory file's directory.
    fail
        Called with a message to raise the reader's one-line error.
    """

    def __init__(self, base: Path, fail: Callable[[str], Any]) -> None:
        self.base = base
        self.fail = fail
        self.cache: dict[tuple[str, str], dict[str, Any]] = {}
        self.read = 0

    def group(self, name: str) -> dict[str, Any]:
        """Variables of ``group_vars/<name>`` (a file, or a directory of files)."""
        return self._vars("group_vars", name)

    def host(self, name: str) -> dict[str, Any]:
        """Variables of ``host_vars/<name>``."""
        return self._vars("host_vars", name)

    def _vars(self, kind: str, name: str) -> dict[str, Any]:
        if (kind, name) not in self.cache:
            merged: dict[str, Any] = {}
            if "/" not in name and name not in (".", ".."):
                for path in self._files(self.base / kind, name):
                    merged |= self._load(path)
            self.cache[(kind, name)] = merged
        return self.cache[(kind, name)]

    @staticmethod
    def _files(directory: Path, name: str) -> list[Path]:
        """``DataLoader.find_vars_files``: the first of NAME, NAME.yml, ... that exists."""
        for extension in VARS_EXTENSIONS:
            candidate = directory / (name + extension)
            try:
                if candidate.is_dir():
                    return _directory_files(candidate)
                if candidate.exists():
                    return [candidate]
            except (OSError, ValueError):  # a name too long for a path, or with NUL
                return []
        return []

    def _load(self, path: Path) -> dict[str, Any]:
        self.read += 1
        if self.read > MAX_VARS_FILES:
            self.fail(f"more than {MAX_VARS_FILES:,} host_vars/group_vars files")
        data = read_yaml(path, "Ansible variables")
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise InventoryError(one_line(
                f"{path}: expected a mapping of variables, got {short(data)}"))
        return {_key(key, self.fail): value for key, value in data.items()}


def _directory_files(directory: Path) -> list[Path]:
    """Files of a vars directory, sorted and recursive (hidden and ``~`` backups skipped)."""
    found: list[Path] = []
    try:
        entries = sorted(directory.iterdir(), key=lambda p: p.name)
    except OSError:
        return found
    for entry in entries:
        if entry.name.startswith(".") or entry.name.endswith("~"):
            continue
        if entry.is_dir() and not entry.suffix:
            found.extend(_directory_files(entry))
        elif entry.is_file() and entry.suffix in VARS_EXTENSIONS:
            found.append(entry)
    return found


def _key(key: Any, fail: Callable[[str], Any]) -> str:
    """Variable names are text (YAML may give numbers or null)."""
    if not isinstance(key, str):
        fail(f"variable names must be text, got {short(key)}")
    return key
