"""``--group`` and ``--limit`` on Ansible inventories (both readers compared), how
``load_inventory`` recognises an Ansible file, and which reader ``auto`` picks."""

from __future__ import annotations

import pytest

from clusterbench.errors import InventoryError
from clusterbench.inventory import ansible_readers
from clusterbench.inventory.ansible import import_ansible
from clusterbench.inventory.load import load_inventory
from tests.ansible_inventories import PI_INI, PI_YAML, both, both_fail, write_pi_ini


def names(result):
    return [host["name"] for host in result.inventory["hosts"]]


@pytest.mark.parametrize(("pattern", "expected"), [
    ("nodes", ["node1", "node2", "node3", "node4", "node05"]),
    ("node1", ["node1"]),
    ("node1,node3", ["node1", "node3"]),
    ("nodes:!node2", ["node1", "node3", "node4", "node05"]),
    ("nodes,!node2", ["node1", "node3", "node4", "node05"]),
    ("!nodes", ["localhost"]),
    ("node*", ["node1", "node2", "node3", "node4", "node05"]),
    ("node?", ["node1", "node2", "node3", "node4", "node05"]),  # '?' matches group 'nodes'
    ("node[!s2-5]", ["node1"]),  # a glob class ('node[1-2]' would be a subscript)
    ("cluster:&head", ["localhost"]),
    ("&nodes,!node05,node1", ["node1"]),
    ("~node0?[35]", ["node3", "node05"]),
    ("nodes[0]", ["node1"]),
    ("nodes[1:2]", ["node2", "node3"]),
    ("nodes[-1]", ["node05"]),
    ("nodes[3:]", ["node4", "node05"]),
    ("all:!localhost", ["node1", "node2", "node3", "node4", "node05"]),
    (" head , node4 ", ["localhost", "node4"]),
])
def test_limit_like_ansible(tmp_path, pattern, expected):
    assert names(both(write_pi_ini(tmp_path), limit=pattern)) == expected


def test_limit_matching_nothing(tmp_path):
    message = both_fail(write_pi_ini(tmp_path), limit="web*")
    assert message.endswith("no hosts found within --limit 'web*'")


def test_groups_are_a_union_and_combine_with_limit(tmp_path):
    path = tmp_path / "pis.yml"
    path.write_text(PI_YAML)
    assert names(both(path, groups=("big_pis", "desktops"))) == ["pi4", "desk"]
    assert names(both(path, groups=("pis",), limit="!pi2")) == ["pi1", "pi3", "pi4"]
    assert names(both(path, groups=("all",))) == names(both(path))
    assert names(both(path, groups=("ungrouped",))) == ["localhost"]
    message = both_fail(path, groups=("pi",))
    assert "--group 'pi': no such group" in message and "did you mean 'pis'" in message


@pytest.mark.parametrize(("name", "text"), [
    ("hosts.ini", PI_INI), ("hosts", PI_INI), ("inventory", "# pis\n" + PI_INI),
    ("pis.yml", PI_YAML), ("pis.yaml", PI_YAML), ("pis", PI_YAML),
    ("plain", "node1 clusterbench_scheduler_address=127.0.0.1\nnode2\n"),
])
def test_load_inventory_reads_ansible_files_directly(tmp_path, name, text, capsys):
    path = tmp_path / name
    path.write_text(text)
    inventory = load_inventory(path)
    assert inventory.source == str(path) and len(inventory.hosts) >= 2
    assert f"note: {path}: Ansible inventory, read by " in capsys.readouterr().err


def test_clusterbench_yaml_is_not_taken_for_ansible(tmp_path):
    path = tmp_path / "lab.yml"
    path.write_text("hosts:\n  - {name: a, launcher: local}\n")
    assert load_inventory(path).hosts[0].name == "a"


def test_ssh_hosts_need_the_scheduler_address(tmp_path, monkeypatch):
    monkeypatch.setenv("CLUSTERBENCH_ANSIBLE_READER", "builtin")
    path = tmp_path / "hosts.ini"
    path.write_text("[pis]\npi1\npi2\n")
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    assert str(info.value) == (
        f"{path}: the scheduler's address is needed by pi1, pi2: set "
        "clusterbench_scheduler_address=ADDRESS (an address of this machine they reach) in "
        "[all:vars], or clusterbench_scheduler_host=HOST to run it there")
    path.write_text("[me]\nlocalhost ansible_connection=local\n")
    assert load_inventory(path).hosts[0].launcher == "local"


def test_auto_uses_the_builtin_reader_without_ansible_inventory(tmp_path, monkeypatch):
    monkeypatch.setattr(ansible_readers, "ansible_inventory", lambda: None)
    result = import_ansible(write_pi_ini(tmp_path))
    assert result.reader == ("read by clusterbench's built-in Ansible reader (INI and YAML: "
                             "ansible-inventory not found)")
    with pytest.raises(InventoryError, match="ansible-inventory is not on PATH"):
        import_ansible(tmp_path / "hosts.ini", reader="ansible")


def test_ansible_inventory_failure_names_the_command(tmp_path):
    from tests.ansible_inventories import ansible_inventory_or_reason

    reason = ansible_inventory_or_reason()
    if reason:
        pytest.skip(reason)
    path = tmp_path / "hosts.ini"
    path.write_text("[pis]\npi1 user\n")
    with pytest.raises(InventoryError) as info:
        import_ansible(path, reader="ansible")
    message = str(info.value)
    assert message.startswith(f"{path}: ansible-inventory exited 1: ini plugin: Failed to "
                              "parse inventory: Expected key=value host variable assignment, "
                              "got: user (command: env ")
    assert "(command: env " in message and "\n" not in message
    assert isinstance(info.value.__cause__.returncode, int)
