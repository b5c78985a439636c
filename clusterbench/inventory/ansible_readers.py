"""The two readers of an Ansible inventory; both return ``ansible-inventory --list``'s JSON.

* :func:`ansible_inventory_listing` runs ``ansible-inventory -i PATH --list [--limit P]``
  (ansible-core's own reading: INI, YAML, ranges, ``host_vars``/``group_vars``, plugins,
  vault, Ansible's precedence).  It never executes the inventory file: unless the user set
  ``ANSIBLE_INVENTORY_ENABLED``, only the ``auto``, ``yaml``, ``ini`` and ``toml`` plugins
  are enabled (not ``script``), and a source no plugin can parse is an error rather than
  Ansible's warning and an empty inventory.
* :func:`builtin_listing` is clusterbench's reader for INI and YAML files
  (:mod:`clusterbench.inventory.ansible_ini`, :mod:`clusterbench.inventory.ansible_model`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, NoReturn

from clusterbench.errors import CommandError, InventoryError
from clusterbench.inventory.ansible_ini import (
    MAX_RANGE,
    IniParser,
    expand_pattern,
    parse_yaml_groups,
)
from clusterbench.inventory.ansible_model import AnsibleData, VarsFiles
from clusterbench.inventory.ansible_patterns import select
from clusterbench.inventory.safe_yaml import _read_text, one_line, read_yaml, short
from clusterbench.osutil import run

#: ``ansible-inventory`` settings clusterbench sets unless the environment already does.
ANSIBLE_ENV = {
    "ANSIBLE_INVENTORY_ENABLED": "auto,yaml,ini,toml",
    "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True",
    "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "True",
    "ANSIBLE_NOCOLOR": "1",
}
#: Seconds ``ansible-inventory`` may take (a cloud inventory plugin can be slow).
ANSIBLE_TIMEOUT = 120.0
YAML_EXTENSIONS = (".yml", ".yaml", ".json")


def ansible_inventory() -> str | None:
    """The ``ansible-inventory`` program on PATH, or None."""
    return shutil.which("ansible-inventory")


def ansible_inventory_listing(path: Path, limit: str | None, program: str) -> dict[str, Any]:
    """``ansible-inventory -i PATH --list`` as JSON.

    Parameters
    ----------
    path
        The inventory file.
    limit
        Passed as ``--limit`` (None: every host).
    program
        The ``ansible-inventory`` to run.

    Returns
    -------
    dict
        The JSON document.

    Raises
    ------
    InventoryError
        One line naming the file, with the command, its exit code and stderr's tail.
    """
    oversized = _oversized_range(path)
    if oversized:  # ansible-inventory would expand it for minutes before its timeout
        raise InventoryError(one_line(f"{path}: {oversized}"))
    settings = [f"{key}={value}" for key, value in ANSIBLE_ENV.items() if key not in os.environ]
    command = ["env", *settings, program, "-i", str(path), "--list"]
    if limit is not None:
        command += ["--limit", limit]
    try:
        text = run(command, timeout=ANSIBLE_TIMEOUT)
    except CommandError as exc:
        ended = ("did not finish" if exc.returncode is None  # timed out: killed
                 else f"exited {exc.returncode}")
        raise InventoryError(one_line(
            f"{path}: ansible-inventory {ended}: {_ansible_tail(exc.stderr, path)} "
            f"(command: {exc.command})")) from exc
    try:
        listing = json.loads(text)
    except ValueError as exc:
        raise InventoryError(one_line(f"{path}: ansible-inventory printed no JSON ({exc})")
                             ) from None
    if not isinstance(listing, dict):
        raise InventoryError(one_line(f"{path}: ansible-inventory printed {short(listing)}"))
    return listing


_RANGE_TOKEN = re.compile(r"\S*\[(?:[0-9]+:[0-9]+|[a-zA-Z]:[a-zA-Z])(?::[0-9]+)?\]\S*")


def _oversized_range(path: Path) -> str | None:
    """Why a host pattern of a file (not a directory) expands past :data:`MAX_RANGE` hosts
    (``node[0:99999999]``, a typo), or None: the built-in reader's own expansion
    (:func:`expand_pattern`, which stops at the bound) refuses it while parsing,
    ansible-inventory only after expanding it."""
    try:
        if not path.is_file() or path.stat().st_size > 10_000_000:
            return None
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for token in _RANGE_TOKEN.findall(text):
        try:
            expand_pattern(token, _refuse)
        except InventoryError as exc:
            if f"more than {MAX_RANGE:,} hosts" in str(exc):
                return str(exc)
    return None  # other malformed ranges: ansible-inventory's own message says more


def _refuse(message: str) -> NoReturn:
    raise InventoryError(message)


def decrypt_vault(ciphertext: str, where: str) -> str:
    """The plain text of one vault-encrypted value (``ansible-inventory --list`` prints them
    encrypted), by ``ansible-vault decrypt`` with the user's vault settings
    (``ANSIBLE_VAULT_PASSWORD_FILE``, ``ansible.cfg``).

    Parameters
    ----------
    ciphertext
        The ``$ANSIBLE_VAULT;...`` text.
    where
        File, host and variable, for the error.

    Returns
    -------
    str
        The decrypted value.

    Raises
    ------
    InventoryError
        One line starting with *where*, with the command's exit code and stderr's tail.
    """
    program = shutil.which("ansible-vault")
    if program is None:
        raise InventoryError(one_line(f"{where}: is vault-encrypted and ansible-vault is not "
                                      "on PATH (pip install ansible-core)"))
    with tempfile.TemporaryDirectory(prefix="clusterbench-vault-") as directory:
        secret = Path(directory) / "value"
        secret.write_text(ciphertext, encoding="utf-8")
        secret.chmod(0o600)
        try:
            return run([program, "decrypt", "--output", "-", str(secret)],
                       timeout=ANSIBLE_TIMEOUT)
        except CommandError as exc:
            raise InventoryError(one_line(
                f"{where}: is vault-encrypted and ansible-vault exited {exc.returncode}: "
                f"{_ansible_tail(exc.stderr)} (set ANSIBLE_VAULT_PASSWORD_FILE)")) from exc


_PLUGIN_FAILED = re.compile(r"Failed to parse inventory with '(\w+)' plugin: (.+)")


def _ansible_tail(stderr: str, path: Path | None = None) -> str:
    """What went wrong, from Ansible's error output: for a file, the reason of the plugin
    that reads its kind (``yaml`` for .yml/.yaml/.json, else ``ini``: Ansible tries every
    plugin and the last, the INI fallback's complaint about YAML text, hid the real
    one), else the last two distinct lines that say something."""
    if path is not None:
        wanted = "yaml" if path.suffix.lower() in YAML_EXTENSIONS else "ini"
        for match in _PLUGIN_FAILED.finditer(stderr):
            if match.group(1) == wanted:
                return f"{wanted} plugin: {match.group(2).strip()}"
    lines = [line.strip() for line in stderr.splitlines()]
    kept = [line for line in lines if line and not line.startswith(("Origin:", "<<<", "^"))]
    return " | ".join(list(dict.fromkeys(kept))[-2:]) or "(no output)"


def builtin_listing(path: Path, limit: str | None) -> dict[str, Any]:
    """The built-in reader: the same JSON ``ansible-inventory --list`` would print.

    Parameters
    ----------
    path
        An INI or YAML inventory file.
    limit
        An ``ansible --limit`` pattern (None: every host).

    Returns
    -------
    dict
        Groups (``hosts``, ``children``) and ``_meta.hostvars``.

    Raises
    ------
    InventoryError
        One line naming the file (and the line, group, host or variable).
    """

    def fail(message: str) -> NoReturn:
        raise InventoryError(one_line(f"{path}: {message}"))

    if path.is_dir():
        fail("a directory of inventory sources is read by ansible-inventory only: install "
             "ansible-core, or give one of its files")
    data = AnsibleData(fail)
    document = _yaml_document(path)
    if document is not None:
        parse_yaml_groups(data, document, fail)
    else:
        parser = IniParser(data, lambda message: fail(f"line {parser.line}: {message}"))
        parser.parse(_read_text(path, "Ansible inventory").splitlines())
    data.reconcile()
    files = VarsFiles(path.parent, fail)
    if limit is None:
        return data.listing(files)
    groups = {name: data.hosts_of(name) for name in data.groups}
    chosen = select(limit, list(data.hosts), groups, fail)
    return data.listing(files, set(chosen))


def _yaml_document(path: Path) -> dict | None:
    """The YAML mapping when Ansible's ``yaml`` plugin takes the file, else None (INI).

    ``.yml``/``.yaml``/``.json`` files must be YAML; a file without extension is YAML when
    it parses to a non-empty mapping (the ``yaml`` plugin is tried before ``ini``).
    """
    suffix = path.suffix.lower()
    if suffix in YAML_EXTENSIONS:
        document = read_yaml(path, "Ansible inventory")
        if not isinstance(document, dict) or not document:
            raise InventoryError(one_line(f"{path}: expected an Ansible YAML inventory (a "
                                          f"mapping of groups), got {short(document)}"))
        return document
    if suffix:
        return None
    try:
        document = read_yaml(path, "Ansible inventory")
    except InventoryError:
        return None
    return document if isinstance(document, dict) and document else None
