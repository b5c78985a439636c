"""Host patterns as ``ansible -l`` / ``--limit`` reads them (``InventoryManager``'s rules).

A pattern is a union of parts separated by ``,`` (or ``:`` when the whole is not one host
name, IPv6 address or range); a part is a host or group name, a shell glob (``node*``,
``node?``, ``[ab]*``), a regular expression after ``~`` (``~node[0-9]+``), or one of those
with a subscript (``nodes[0]``, ``nodes[1:3]``, ``nodes[-1]``); ``&part`` intersects and
``!part`` excludes, applied after the plain parts whatever their position (only ``&`` and
``!`` parts: they start from ``all``).  A name that is a host selects that host; a part
matching a group selects every host of the group and of its children; a glob or regular
expression also matches host names.  Not supported: ``@file`` limits (retry files).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from clusterbench.inventory.ansible_ini import parse_address
from clusterbench.inventory.safe_yaml import short

_SUBSCRIPT = re.compile(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$")
_COLON_PARTS = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")


def split_pattern(pattern: str) -> list[str]:
    """``split_host_pattern``: the parts of a limit, whitespace trimmed, empties dropped.

    Parameters
    ----------
    pattern
        The ``--limit`` text.

    Returns
    -------
    list of str
        Its parts, ``&``/``!`` prefixes kept.
    """
    if "," in pattern:
        parts = pattern.split(",")
    elif parse_address(pattern) is not None:
        parts = [pattern]
    else:
        parts = _COLON_PARTS.findall(pattern)
    return [part.strip() for part in parts if part.strip()]


def _limit_file(name: str, fail: Callable[[str], Any]) -> list[str]:
    """``--limit @FILE``: the host names in FILE, one per line (Ansible's retry files)."""
    try:
        text = Path(name).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"--limit @{name}: cannot read the limit file ({getattr(exc, 'strerror', exc)})")
        return []
    return [line.strip() for line in text.splitlines() if line.strip()]


def select(pattern: str, hosts: list[str], groups: dict[str, list[str]],
           fail: Callable[[str], Any]) -> list[str]:
    """The hosts *pattern* selects, in inventory order.

    Parameters
    ----------
    pattern
        The ``--limit`` text.
    hosts
        Every host, in inventory order.
    groups
        Every group (``all`` and ``ungrouped`` included) → its hosts, children's included.
    fail
        Called with a message for an invalid pattern (raises).

    Returns
    -------
    list of str
        The selected hosts.
    """
    parts = [name for part in split_pattern(pattern)
             for name in (_limit_file(part[1:], fail) if part.startswith("@") else [part])]
    plain = [p for p in parts if p[0] not in "&!"] or ["all"]
    ordered = plain + [p for p in parts if p[0] == "&"] + [p for p in parts if p[0] == "!"]
    chosen: list[str] = []
    known = set(hosts)
    for part in ordered:
        matched = [part] if part in known else _match_one(part, hosts, groups, fail)
        if part[0] == "!":
            chosen = [h for h in chosen if h not in set(matched)]
        elif part[0] == "&":
            chosen = [h for h in chosen if h in set(matched)]
        else:
            chosen += [h for h in matched if h not in set(chosen)]
    return chosen


def _match_one(part: str, hosts: list[str], groups: dict[str, list[str]],
               fail: Callable[[str], Any]) -> list[str]:
    part = part[1:] if part[0] in "&!" else part
    if not part:
        return []
    expression, subscript = _split_subscript(part)
    found: list[str] = []
    matching_groups = _matching(groups, expression, fail)
    for group in matching_groups:
        found += groups[group]
    if not matching_groups or expression[0] == "~" or any(c in expression for c in ".?*["):
        found += _matching(hosts, expression, fail)
    found = list(dict.fromkeys(found))
    if subscript is None or not found:
        return found
    start, end = subscript
    try:
        if end is None:
            return [found[start]]
        return found[start:(len(found) - 1 if end == -1 else end) + 1]
    except IndexError:
        fail(f"--limit: no hosts matched the subscripted pattern {short(part)}")
    return []


def _split_subscript(part: str) -> tuple[str, tuple[int, int | None] | None]:
    if part[0] == "~":
        return part, None
    match = _SUBSCRIPT.match(part)
    if not match:
        return part, None
    expression, index, start, _, end = match.groups()
    if index:
        return expression, (int(index), None)
    return expression, (int(start), int(end) if end else -1)


def _matching(names: Iterable[str], expression: str, fail: Callable[[str], Any]) -> list[str]:
    try:
        regex = re.compile(expression[1:] if expression[0] == "~" else
                           fnmatch.translate(expression))
    except re.error as exc:
        fail(f"--limit: invalid pattern {short(expression)}: {exc}")
    return [name for name in names if regex.match(name)]
