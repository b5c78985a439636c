"""The built-in reader's INI and YAML parsers (Ansible's ``ini`` and ``yaml`` plugins).

They follow ``ansible/plugins/inventory/ini.py`` and ``yaml.py`` of ansible-core:

* INI: lines before any section are ``ungrouped``; ``[group]``, ``[group:children]``,
  ``[group:vars]``; comments start with ``#`` or ``;``; a host line is split like a shell
  line (quotes, trailing ``#`` comments), a ``[g:vars]`` line at its first ``=``; every
  value is read as a Python literal where it is one (``22`` → 22, ``"pi"`` → ``pi``,
  ``[1, 2]`` → a list, ``True``), otherwise kept as text; a ``:children`` or ``:vars``
  section may name a group declared further down.
* YAML: top-level keys are groups, each with ``hosts``, ``vars`` and ``children``.
* Both: ``host:port`` sets ``ansible_port``; ranges ``node[1:4]``, ``node[01:10]`` (zero
  padding kept), ``[a:c]``, steps ``[1:10:2]``, several ranges in one name.
"""

from __future__ import annotations

import ast
import re
import shlex
import string
import warnings
from collections.abc import Callable
from typing import Any

from clusterbench.inventory.ansible_model import AnsibleData
from clusterbench.inventory.safe_yaml import short

#: Most hosts one range pattern may expand to (``node[1:100000000]`` is a typo, not a lab).
MAX_RANGE = 10_000

_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$")
_GROUP_NAME = re.compile(r"^([^:\]\s]+)\s*(?:#.*)?$")
_BRACKETED_PORT = re.compile(r"^\[(.+)\]:([0-9]+)$")
_HOST_PORT = re.compile(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$")
_RANGE = r"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]"
_LABEL = rf"(?:[\w]|{_RANGE})(?:[\w-]|{_RANGE})*(?<![_-])"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$", re.I)
_IPV6 = re.compile(r"^(?=.*:.*:)[0-9a-f:.\[\]]+$", re.I)


class _Stop(Exception):
    """Raised by :func:`parse_ini`'s *fail* callers; never escapes the reader."""


def expand_pattern(pattern: Any, fail: Callable[[str], Any]) -> tuple[list[str], int | None]:
    """A host pattern → (host names, port or None), as ``_expand_hostpattern`` does.

    Parameters
    ----------
    pattern
        ``name``, ``name:port``, ``[v6]:port`` or a name with ``[x:y(:step)]`` ranges.
    fail
        Called with a message for an invalid range (raises).

    Returns
    -------
    tuple
        The host names (at most :data:`MAX_RANGE`) and the port (None when not given).
    """
    if not isinstance(pattern, str):
        fail(f"host pattern {short(pattern)} must be text (quote numbers)")
    host, port = _split_port(pattern)
    if "[" not in host:
        return [host], port
    return _expand_ranges(host, fail), port


def _split_port(pattern: str) -> tuple[str, int | None]:
    """``parse_address``: a port only when the rest is a valid address or host name."""
    parsed = parse_address(pattern)
    return parsed if parsed is not None else (pattern, None)


def parse_address(pattern: str) -> tuple[str, int | None] | None:
    """(host, port) when *pattern* is a host name or address (ranges allowed) with an
    optional port, else None (Ansible's ``parse_address`` raising).

    Parameters
    ----------
    pattern
        ``host``, ``host:port``, ``[address]:port``, ranges allowed.
    """
    host, port = pattern, None
    for regex in (_BRACKETED_PORT, _HOST_PORT):
        match = regex.match(host)
        if match:
            host, port = match.group(1), int(match.group(2))
    if _HOSTNAME.match(host) or _IPV6.match(host):
        return host, port
    return None


def _expand_ranges(line: str, fail: Callable[[str], Any]) -> list[str]:
    done: list[str] = []
    pending = [line]
    while pending:
        name = pending.pop(0)
        if "[" not in name:
            done.append(name)
        else:
            pending[:0] = _expand_first(name, fail)
        if len(done) + len(pending) > MAX_RANGE:
            fail(f"host range {short(line)} expands to more than {MAX_RANGE:,} hosts")
    return done


def _expand_first(name: str, fail: Callable[[str], Any]) -> list[str]:
    """Expand the first ``[begin:end(:step)]`` of *name*."""
    parts = name.replace("[", "|", 1).replace("]", "|", 1).split("|")
    if len(parts) != 3:
        fail(f"host range {short(name)}: unbalanced brackets")
    head, bounds, tail = parts
    fields = bounds.split(":")
    if len(fields) not in (2, 3):
        fail(f"host range {short(name)}: must be begin:end or begin:end:step")
    begin, end, step = fields[0] or "0", fields[1], fields[2] if len(fields) == 3 else "1"
    if not end:
        fail(f"host range {short(name)}: must specify an end value")
    width = len(begin) if begin[0] == "0" and len(begin) > 1 else 0
    if width and width != len(end):
        fail(f"host range {short(name)}: begin and end must have the same length")
    sequence = _sequence(begin, end, step, name, fail)
    return [f"{head}{str(item).zfill(width) if width else item}{tail}" for item in sequence]


def _sequence(begin: str, end: str, step: str, name: str, fail: Callable[[str], Any]) -> Any:
    letters = string.ascii_letters
    try:
        stride = int(step)
        if begin in letters and end in letters:
            first, last = letters.index(begin), letters.index(end)
            if first > last:
                fail(f"host range {short(name)}: begin must be <= end")
            return list(letters[first:last + 1:stride])
        low, high = int(begin), int(end)
        if stride > 0 and (high - low) // stride >= MAX_RANGE:
            fail(f"host range {short(name)} expands to more than {MAX_RANGE:,} hosts")
        return range(low, high + 1, stride)
    except ValueError:
        fail(f"host range {short(name)}: begin, end and step must be numbers or letters")
    return []


def parse_value(text: str, fail: Callable[[str], Any]) -> Any:
    """An INI value: a Python literal where it is one, else the text (``_parse_value``).

    Parameters
    ----------
    text
        The value as written after ``=``.
    fail
        Called with a message for a literal nested too deeply (raises).

    Returns
    -------
    Any
        int, float, bool, None, list, dict or str (tuples and sets become lists).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    except (RecursionError, MemoryError, TypeError):
        fail(f"value {short(text)} is nested too deeply")
    return _coerce(value)


def _coerce(value: Any) -> Any:
    if isinstance(value, list | tuple | set):
        return [_coerce(item) for item in value]
    if isinstance(value, dict):
        return {_coerce(key): _coerce(item) for key, item in value.items()}
    if value is ...:
        return "..."
    if isinstance(value, complex):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value


class IniParser:
    """One pass over an INI inventory's lines into an :class:`AnsibleData`.

    Parameters
    ----------
    data
        Where hosts and groups go.
    fail
        Called with a message (the reader prefixes the file and line) to raise.
    """

    def __init__(self, data: AnsibleData, fail: Callable[[str], Any]) -> None:
        self.data = data
        self.fail = fail
        self.line = 0
        self.pending: dict[str, dict[str, Any]] = {}

    def parse(self, lines: list[str]) -> None:
        """Read every line, then check that each referenced group was declared."""
        group, state = "ungrouped", "hosts"
        for number, raw in enumerate(lines, 1):
            self.line = number
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            section = _SECTION.match(line)
            if section:
                group, state = self._section(section.group(1), section.group(2) or "hosts")
            elif line.startswith("[") and line.endswith("]"):
                self.fail(f"invalid section entry {short(line)}: no spaces or other invalid "
                          "characters are allowed in a section name")
            elif state == "hosts":
                self._host_line(line, group)
            elif state == "vars":
                key, value = self._variable(line)
                self.data.set_group_var(group, key, value)
            else:
                self._child(line, group)
        for name, declaration in self.pending.items():
            self.line = declaration["line"]
            if declaration["state"] == "vars":
                self.fail(f"section [{name}:vars] is not valid for undefined group {name!r}")
            self.fail(f"section [{declaration['parents'][-1]}:children] includes undefined "
                      f"group {name!r}")

    def _section(self, group: str, state: str) -> tuple[str, str]:
        if state not in ("hosts", "children", "vars"):
            self.fail(f"section [{group}:{state}] has unknown type: {state}")
        if group not in self.data.groups:
            if state == "vars" and group not in self.pending:
                self.pending[group] = {"line": self.line, "state": state, "name": group}
            self.data.add_group(group)
        if group in self.pending and state != "vars":
            if self.pending[group]["state"] == "children":
                self._add_pending_children(group)
            elif self.pending[group]["state"] == "vars":
                del self.pending[group]
        return group, state

    def _add_pending_children(self, group: str) -> None:
        for parent in self.pending[group]["parents"]:
            self.data.add_child(parent, group)
            if parent in self.pending and self.pending[parent]["state"] == "children":
                self._add_pending_children(parent)
        self.pending.pop(group, None)

    def _host_line(self, line: str, group: str) -> None:
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError as exc:
            self.fail(f"cannot split host definition {short(line)}: {exc}")
        if not tokens:
            return
        pattern = tokens[0]
        names, port = expand_pattern(pattern, self.fail)
        if pattern.strip().endswith(":") and port is None:
            self.fail(f"invalid host pattern {short(pattern)}: a trailing ':' is reserved "
                      "for a port")
        if any(name.strip() == "---" for name in names):
            self.fail(f"invalid host pattern {short(pattern)}: '---' is a sign of a YAML file")
        variables = {}
        for token in tokens[1:]:
            if "=" not in token:
                self.fail(f"expected key=value host variable assignment, got {short(token)}")
            key, value = token.split("=", 1)
            variables[key] = parse_value(value, self.fail)
        for name in names:
            self.data.add_host(name, group, port)
            for key, value in variables.items():
                self.data.set_host_var(name, key, value)

    def _variable(self, line: str) -> tuple[str, Any]:
        if "=" not in line:
            self.fail(f"expected key=value, got {short(line)}")
        key, value = (part.strip() for part in line.split("=", 1))
        return key, parse_value(value, self.fail)

    def _child(self, line: str, group: str) -> None:
        match = _GROUP_NAME.match(line)
        if not match:
            self.fail(f"expected group name, got {short(line)}")
            return
        child = match.group(1)
        if child in self.data.groups:
            self.data.add_child(group, child)
        elif child in self.pending:
            self.pending[child].setdefault("parents", []).append(group)
        else:
            self.pending[child] = {"line": self.line, "state": "children", "name": child,
                                   "parents": [group]}


def parse_yaml_groups(data: AnsibleData, document: dict, fail: Callable[[str], Any]) -> None:
    """Ansible's ``yaml`` plugin: each top-level key is a group (``_parse_group``).

    Parameters
    ----------
    data
        Where hosts and groups go.
    document
        The YAML mapping.
    fail
        Called with a message (raises).
    """
    if document.get("plugin"):
        fail("an inventory plugin configuration, not an inventory: only ansible-inventory "
             "reads it (install ansible-core)")
    for name, body in document.items():
        _yaml_group(data, name, body, fail, 0)


def _yaml_group(data: AnsibleData, name: Any, body: Any, fail: Callable[[str], Any],
                depth: int) -> str | None:
    if depth > 60:
        fail("groups nested too deeply")
    if not isinstance(body, dict | type(None)):
        return None  # Ansible warns and skips it
    group = data.add_group(name)
    if body is None:
        return group
    for section in ("vars", "children", "hosts"):
        if isinstance(body.get(section), str):
            body = body | {section: {body[section]: None}}
        if not isinstance(body.get(section), dict | type(None)):
            fail(f"group {short(name)}: {section!r} must be a mapping, got {short(body[section])}")
    for key, value in body.items():
        if not isinstance(value, dict):
            continue  # null or not a mapping: Ansible skips it (with a warning)
        if key == "vars":
            for var, item in value.items():
                data.set_group_var(group, var, item)
        elif key == "children":
            for child, child_body in value.items():
                kid = _yaml_group(data, child, child_body, fail, depth + 1)
                if kid is not None:
                    data.add_child(group, kid)
        elif key == "hosts":
            _yaml_hosts(data, group, value, fail)
    return group


def _yaml_hosts(data: AnsibleData, group: str, hosts: dict, fail: Callable[[str], Any]) -> None:
    for pattern, variables in hosts.items():
        names, port = expand_pattern(pattern, fail)
        variables = variables or {}
        if not isinstance(variables, dict):
            fail(f"host {short(pattern)}: variables must be a mapping, got {short(variables)}")
        for name in names:
            data.add_host(name, group, port)
            for key, value in variables.items():
                data.set_host_var(name, key, value)
