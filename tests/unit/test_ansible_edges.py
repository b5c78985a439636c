"""Ansible inventories as ``up`` and ``inventory check`` take them (``load_inventory``),
found by fuzzing: a vaulted value in a YAML inventory, an inventory directory, ``host:0``,
a pipe or a missing ``.ini``, and ssh_config values that skipped the inventory's checks."""

from __future__ import annotations

import os
import subprocess

import pytest

from clusterbench.cluster.validate import validate_for_up
from clusterbench.errors import InventoryError
from clusterbench.inventory.ansible import READER_ENV
from clusterbench.inventory.load import load_inventory
from tests.ansible_inventories import ansible_inventory_or_reason, both

SCHEDULER = "[all:vars]\nclusterbench_scheduler_address=127.0.0.1\n"
READERS = ["builtin", "ansible"]


def _reader(monkeypatch, reader: str) -> None:
    if reader == "ansible":
        reason = ansible_inventory_or_reason()
        if reason:
            if os.environ.get("CI", "").lower() == "true":
                pytest.fail(f"CI=true but {reason}")
            pytest.skip(reason)
    monkeypatch.setenv(READER_ENV, reader)


@pytest.mark.parametrize("reader", READERS)
def test_a_vaulted_value_in_a_yaml_inventory_is_decrypted(tmp_path, monkeypatch, reader):
    """The YAML pre-parse that tells an Ansible file from a clusterbench one refused
    Ansible's ``!vault`` tag, although ``import-ansible`` read the same file."""
    _reader(monkeypatch, "ansible")  # ansible-vault makes the value, either reader reads it
    _reader(monkeypatch, reader)
    password = tmp_path / "vault-password"
    password.write_text("s3cret\n")
    done = subprocess.run(["ansible-vault", "encrypt_string", "--vault-password-file",
                           str(password), "deploy", "--name", "ansible_user"],
                          capture_output=True, text=True, check=True)
    block = "\n".join("      " + line for line in done.stdout.splitlines())
    path = tmp_path / "vaulted.yml"
    path.write_text("all:\n  vars: {clusterbench_scheduler_address: 127.0.0.1}\n"
                    f"  hosts:\n    pi1:\n{block}\n      ansible_host: 10.0.0.5\n")
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(password))
    (host,) = load_inventory(path).hosts
    assert (host.name, host.address, host.user) == ("pi1", "10.0.0.5", "deploy")


def test_port_zero_keeps_the_default_as_ansible_does(tmp_path):
    path = tmp_path / "hosts.ini"
    path.write_text("[web]\nh1:0\nh2:2222\n" + SCHEDULER)
    hosts = {host["name"]: host for host in both(path).inventory["hosts"]}
    assert "port" not in hosts["h1"] and hosts["h2"]["port"] == 2222


@pytest.mark.parametrize("reader", READERS)
def test_a_pipe_or_a_missing_ini_is_one_line_at_once(tmp_path, monkeypatch, reader):
    _reader(monkeypatch, reader)
    fifo = tmp_path / "hosts.ini"
    os.mkfifo(fifo)  # reading it would wait for a writer forever
    with pytest.raises(InventoryError, match=r"hosts.ini: not a regular file \(a pipe or "):
        load_inventory(fifo)
    with pytest.raises(InventoryError, match=r"nope.ini: no such inventory file$"):
        load_inventory(tmp_path / "nope.ini")


def _inventory_directory(tmp_path):
    directory = tmp_path / "inventory"
    (directory / "group_vars").mkdir(parents=True)
    (directory / "01-web.ini").write_text("[web]\nw1\nw2\n" + SCHEDULER)
    (directory / "02-db.yml").write_text("db:\n  hosts:\n    d1:\n")
    (directory / "group_vars" / "db.yml").write_text("ansible_user: dbu\n")
    return directory


def test_an_inventory_directory_is_read_by_ansible_inventory(tmp_path, monkeypatch):
    _reader(monkeypatch, "ansible")
    inventory = load_inventory(_inventory_directory(tmp_path))
    assert sorted(host.name for host in inventory.hosts) == ["d1", "w1", "w2"]
    assert inventory.host("d1").user == "dbu"


def test_an_inventory_directory_needs_ansible_inventory(tmp_path, monkeypatch):
    _reader(monkeypatch, "builtin")
    directory = _inventory_directory(tmp_path)
    with pytest.raises(InventoryError) as info:
        load_inventory(directory)
    assert str(info.value) == (f"{directory}: a directory of inventory sources is read by "
                               "ansible-inventory only: install ansible-core, or give one of "
                               "its files")


@pytest.mark.parametrize(("option", "message"), [
    ("HostName -oProxyCommand=evil", "HostName '-oProxyCommand=evil': not an IP address or "
     "host name"),
    ("HostName pi@10.0.0.1", "HostName 'pi@10.0.0.1': contains a user; put it in User"),
    ("Port 99999", "Port 99999 is not a port (1-65535)"),
])
def test_ssh_config_values_get_the_inventory_s_checks(tmp_path, option, message):
    config = tmp_path / "ssh_config"
    config.write_text(f"Host x\n    {option}\n")
    path = tmp_path / "inv.yml"
    path.write_text(f"scheduler: {{address: 127.0.0.1}}\nhosts:\n"
                    f"  - {{name: x, launcher: ssh, ssh_config: {config}}}\n")
    with pytest.raises(InventoryError) as info:
        validate_for_up(load_inventory(path))
    assert str(info.value).startswith(f"{path}: hosts[0] 'x': ssh_config {config}: {message}")


@pytest.mark.parametrize("name", ["2001:db8::1", "münchen.example.com"])
def test_a_host_name_clusterbench_cannot_use_gets_the_alias_fix(tmp_path, name):
    """Ansible takes IPv6 literals and non-ASCII names as host names; clusterbench names
    files, jobs and workers after hosts, so it asks for an alias with ansible_host."""
    from tests.ansible_inventories import both_fail

    path = tmp_path / "hosts.ini"
    path.write_text(f"[nodes]\n{name}\n" + SCHEDULER, encoding="utf-8")
    assert both_fail(path) == (
        f"{path}: host {name!r}: a clusterbench host name is letters, digits, '.', '_' and '-' "
        "(it names files, jobs and workers): give the host such a name and its address in "
        f"ansible_host, e.g. 'node1 ansible_host={name}'")


def test_limit_from_a_file_as_ansible_s_retry_files(tmp_path, monkeypatch):
    path = tmp_path / "hosts.ini"
    path.write_text("[web]\nw1\nw2\nw3\n" + SCHEDULER)
    chosen = tmp_path / "retry.txt"
    chosen.write_text("w1\n\nw3\n")
    result = both(path, limit=f"@{chosen}")
    assert [host["name"] for host in result.inventory["hosts"]] == ["w1", "w3"]
    _reader(monkeypatch, "builtin")
    with pytest.raises(InventoryError, match=r"--limit @.*nope.txt: cannot read the limit file"):
        load_inventory(path, limit=f"@{tmp_path / 'nope.txt'}")


def test_ssh_command_line_options_are_named_as_unused(tmp_path):
    """A bastion set with ansible_ssh_common_args would silently not be used."""
    from clusterbench.inventory.ansible import import_ansible

    path = tmp_path / "hosts.ini"
    path.write_text('[web]\nw1 ansible_ssh_common_args="-o ProxyCommand=\\"ssh -W %h:%p b\\""\n'
                    "w2\n" + SCHEDULER)
    readers = ["builtin"] + ([] if ansible_inventory_or_reason() else ["ansible"])
    for reader in readers:
        assert import_ansible(path, reader=reader).notes == (
            f"{path}: ansible_ssh_common_args/ansible_ssh_extra_args of w1 are not used "
            "(clusterbench connects with asyncssh, not ssh): put a ProxyJump or other options "
            "in an ssh_config and set clusterbench_ssh_config=PATH",)
    path.write_text("[web]\nw1\n" + SCHEDULER)
    assert import_ansible(path, reader="builtin").notes == ()


def test_connection_values_win_as_in_ansible_and_clusterbench_s_own_beat_them(tmp_path):
    """Ansible's ssh plugin takes the later name of an option's variables (ansible_ssh_host
    over ansible_host; checked with `ansible -vvv`); a null is unset; clusterbench_<field>
    wins over both, whatever order a reader lists the variables in."""
    path = tmp_path / "hosts.ini"
    path.write_text(
        "[web]\n"
        "h1 ansible_ssh_host=192.0.2.7 ansible_host=192.0.2.8 ansible_ssh_port=2201 "
        "ansible_port=2202 ansible_user=au ansible_ssh_user=su\n"
        "h2 clusterbench_user=cbu ansible_user=au ansible_host=192.0.2.9 "
        "clusterbench_address=192.0.2.10 ansible_private_key_file=/k/id\n"
        "h3 ansible_user=1000 ansible_connection=ansible.builtin.ssh\n"
        "h4 ansible_connection=ansible.builtin.local\n" + SCHEDULER)
    hosts = {host["name"]: host for host in both(path).inventory["hosts"]}
    assert (hosts["h1"]["address"], hosts["h1"]["port"], hosts["h1"]["user"]) == (
        "192.0.2.7", 2201, "su")
    assert (hosts["h2"]["address"], hosts["h2"]["user"], hosts["h2"]["identity"]) == (
        "192.0.2.10", "cbu", ["/k/id"])
    assert (hosts["h3"]["launcher"], hosts["h3"]["user"]) == ("ssh", "1000")
    assert hosts["h4"]["launcher"] == "local"


def test_nulls_and_unsafe_values_as_ansible_reads_them(tmp_path):
    path = tmp_path / "pis.yml"
    path.write_text("all:\n  vars: {clusterbench_scheduler_address: 127.0.0.1}\n  hosts:\n"
                    "    n1: {ansible_port: null, ansible_ssh_private_key_file: null,"
                    " ansible_host: 10.0.0.5}\n    n2: {ansible_user: !unsafe deploy}\n")
    hosts = {host["name"]: host for host in both(path).inventory["hosts"]}
    assert "port" not in hosts["n1"] and "identity" not in hosts["n1"]
    assert hosts["n2"]["user"] == "deploy"


@pytest.mark.parametrize("name", ["hosts", "inventory"])
def test_the_stock_etc_ansible_hosts_layout_is_ini(tmp_path, name):
    """Ungrouped hosts and comments before the first section (Ansible's own example)."""
    path = tmp_path / name
    path.write_text("# Ex 1: ungrouped hosts\ngreen.example.com\nblue.example.com\n\n"
                    "# Ex 2: a group\n[webservers]\nalpha.example.org\n" + SCHEDULER)
    assert [host.name for host in load_inventory(path).hosts] == [
        "green.example.com", "blue.example.com", "alpha.example.org"]


def test_a_yaml_group_may_be_called_cluster_or_scheduler(tmp_path):
    path = tmp_path / "groups.yml"
    path.write_text("cluster:\n  children:\n    nodes:\n      hosts: {n1: }\n"
                    "scheduler:\n  hosts: {s1: }\n"
                    "all:\n  vars: {clusterbench_scheduler_address: 127.0.0.1}\n")
    assert sorted(host.name for host in load_inventory(path).hosts) == ["n1", "s1"]


@pytest.mark.parametrize("reader", READERS)
def test_a_typo_d_range_is_refused_before_anything_expands_it(tmp_path, monkeypatch, reader):
    """ansible-inventory expanded node[0:99999999] for minutes (past a 60 s wait)."""
    _reader(monkeypatch, reader)
    path = tmp_path / "hosts.ini"
    path.write_text("[n]\nnode[0:99999999]\n" + SCHEDULER)
    with pytest.raises(InventoryError, match=r"host range .*node\[0:99999999\].* expands to "
                                             r"more than 10,000 hosts"):
        load_inventory(path)


def test_ansible_inventory_s_error_is_the_yaml_plugin_s_for_a_yaml_file(tmp_path, monkeypatch):
    """ansible-inventory tries every plugin; its last words were the INI fallback's
    complaint about YAML text, which hid the real reason."""
    _reader(monkeypatch, "ansible")
    path = tmp_path / "num.yml"
    path.write_text("all:\n  hosts:\n    10:\n")
    with pytest.raises(InventoryError, match=r"ansible-inventory exited 1: yaml plugin: Host "
                                             r"pattern 10 must be a string"):
        load_inventory(path)
