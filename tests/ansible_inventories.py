"""Ansible inventories written for the tests, shaped like public Raspberry Pi cluster
inventories, and the helper that reads one through both readers and compares them."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from clusterbench.errors import InventoryError
from clusterbench.inventory.ansible import AnsibleImport, import_ansible

PI_INI = """\
# Raspberry Pi 4 cluster
[head]
localhost ansible_connection=local clusterbench_workers=2

[nodes]
node[1:4] ansible_user=pi
node05:2222 ansible_host=192.168.1.105   # the odd one

[cluster:children]
head
nodes

[all:vars]
ansible_python_interpreter=/usr/bin/python3
clusterbench_scheduler_address=192.168.1.10
ntp_server="{{ groups['head'][0] }}"
swap_size=0x400

[nodes:vars]
ansible_user = ubuntu
ansible_ssh_private_key_file=~/.ssh/pi_ed25519
"""

PI_YAML = """\
all:
  vars:
    ansible_python_interpreter: /usr/bin/python3
    clusterbench_scheduler_address: 192.168.1.10
    k3s_token: "{{ lookup('env', 'K3S_TOKEN') }}"
  hosts:
    localhost:
      ansible_connection: local
      clusterbench_workers: 2
  children:
    pis:
      vars:
        ansible_user: pi
      hosts:
        pi[1:3]:
        pi4:
          ansible_host: 10.0.0.14
          ansible_port: 2222
      children:
        big_pis:
          hosts:
            pi4:
              clusterbench_threads: 4
    desktops:
      hosts:
        desk:2200:
          ansible_host: 10.0.0.20
"""


def write_pi_ini(directory: Path) -> Path:
    """The INI Pi cluster with ``host_vars/`` (a file) and ``group_vars/`` (a directory)."""
    path = directory / "hosts.ini"
    path.write_text(PI_INI)
    (directory / "group_vars" / "nodes").mkdir(parents=True)
    (directory / "group_vars" / "nodes" / "resources.yml").write_text("clusterbench_threads: 2\n")
    (directory / "group_vars" / "all.yml").write_text("ansible_ssh_private_key_file: ~/.ssh/all\n")
    (directory / "host_vars").mkdir()
    (directory / "host_vars" / "node2.yml").write_text("ansible_port: 2200\n")
    return path


def ansible_inventory_or_reason() -> str | None:
    """Skip reason when ``ansible-inventory`` is missing (None when it is on PATH).

    Under ``CI=true`` a missing ``ansible-inventory`` fails the test instead: CI installs
    ansible-core (``tests/install.sh``).
    """
    if shutil.which("ansible-inventory"):
        return None
    reason = "ansible-inventory not on PATH (pip install ansible-core): built-in reader only"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    print(f"ansible tests: {reason}", file=sys.stderr)
    return reason


def both(path: Path, **options) -> AnsibleImport:
    """*path* read by the built-in reader and by ``ansible-inventory``: equal results."""
    builtin = import_ansible(path, reader="builtin", **options)
    if ansible_inventory_or_reason() is None:
        ansible = import_ansible(path, reader="ansible", **options)
        assert ansible.inventory == builtin.inventory
        assert "ansible-inventory" in ansible.reader
    assert "built-in" in builtin.reader
    return builtin


def both_fail(path: Path, **options) -> str:
    """*path* refused by both readers; the built-in reader's one-line message."""
    with pytest.raises(InventoryError) as builtin:
        import_ansible(path, reader="builtin", **options)
    if ansible_inventory_or_reason() is None:
        with pytest.raises(InventoryError) as ansible:
            import_ansible(path, reader="ansible", **options)
        assert str(ansible.value).startswith(f"{path}: ")
    message = str(builtin.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message
