"""Ansible inventories through both readers (ansible-inventory and the built-in one):
Pi-cluster INI and YAML, ranges, children, variable precedence, host_vars/group_vars,
the local connection, templates.  Every case compares the two readers' results."""

from __future__ import annotations

import pytest

from clusterbench.inventory.load import parse_inventory
from tests.ansible_inventories import PI_YAML, both, both_fail, write_pi_ini


def hosts_by_name(result):
    return {host["name"]: host for host in result.inventory["hosts"]}


def test_pi_ini_cluster(tmp_path):
    result = both(write_pi_ini(tmp_path))
    inventory = result.inventory
    assert inventory["cluster"] == "hosts"
    assert inventory["scheduler"] == {"address": "192.168.1.10"}
    assert [h["name"] for h in inventory["hosts"]] == [
        "localhost", "node1", "node2", "node3", "node4", "node05"]
    hosts = hosts_by_name(result)
    assert hosts["localhost"] == {"name": "localhost", "launcher": "local", "workers": 2,
                                  "python": "/usr/bin/python3", "tags": ["cluster", "head"]}
    node1, node2, node05 = hosts["node1"], hosts["node2"], hosts["node05"]
    assert (node1["launcher"], node1["address"], node1["user"], node1["threads"]) == (
        "ssh", "node1", "pi", 2)  # host var over [nodes:vars]; group_vars/nodes/ directory
    assert node2["port"] == 2200  # host_vars/node2.yml
    assert (node05["address"], node05["port"], node05["user"]) == ("192.168.1.105", 2222,
                                                                     "ubuntu")
    # group_vars/all.yml is above the inventory's [nodes:vars] (Ansible's precedence)
    assert node1["identity"] == ["~/.ssh/all"]
    assert node1["tags"] == ["cluster", "nodes"]
    parsed = parse_inventory(inventory)
    assert parsed.total_workers == 7


def test_pi_yaml_cluster_with_ranges_and_children(tmp_path):
    path = tmp_path / "pis.yml"
    path.write_text(PI_YAML)
    result = both(path)
    assert [h["name"] for h in result.inventory["hosts"]] == [
        "localhost", "pi1", "pi2", "pi3", "pi4", "desk"]
    hosts = hosts_by_name(result)
    assert hosts["localhost"]["launcher"] == "local"
    assert (hosts["pi4"]["address"], hosts["pi4"]["port"], hosts["pi4"]["threads"]) == (
        "10.0.0.14", 2222, 4)
    assert hosts["pi4"]["tags"] == ["pis", "big_pis"]
    assert (hosts["desk"]["port"], hosts["desk"]["address"]) == (2200, "10.0.0.20")
    assert "user" not in hosts["desk"] and hosts["pi1"]["user"] == "pi"
    parse_inventory(result.inventory)


@pytest.mark.parametrize(("line", "names"), [
    ("node[1:3]", ["node1", "node2", "node3"]),
    ("node[01:10:3]", ["node01", "node04", "node07", "node10"]),
    ("node[08:11]", ["node08", "node09", "node10", "node11"]),
    ("pi-[a:c]", ["pi-a", "pi-b", "pi-c"]),
    ("[1:10:4]-pi", ["1-pi", "5-pi", "9-pi"]),
    ("rack[1:2]-n[a:b]", ["rack1-na", "rack1-nb", "rack2-na", "rack2-nb"]),
    ("n[:2]", ["n0", "n1", "n2"]),
    ("db-[1:2].lan:2022", ["db-1.lan", "db-2.lan"]),
])
def test_ranges(tmp_path, line, names):
    path = tmp_path / "hosts"
    path.write_text(f"[cluster]\n{line} ansible_user=pi\n")
    result = both(path)
    assert [h["name"] for h in result.inventory["hosts"]] == names


@pytest.mark.parametrize("line", ["node[01:100]", "node[3:]", "node[1:2:0]", "node[a:3]"])
def test_bad_ranges_are_one_line_errors(tmp_path, line):
    path = tmp_path / "hosts.ini"
    path.write_text(f"[cluster]\n{line}\n")
    assert "line 2" in both_fail(path)


def test_variable_precedence(tmp_path):
    """all < parent group < child group < host; ansible_group_priority among siblings;
    group_vars/all over inventory group vars; host_vars over inventory host vars."""
    path = tmp_path / "hosts.ini"
    path.write_text("""\
[all:vars]
clusterbench_threads=1
clusterbench_memory=1GB
ansible_user=all
ansible_port=1000

[cluster:children]
pis
[cluster:vars]
clusterbench_threads=2
clusterbench_memory=2GB

[pis]
pi1 ansible_port=2001
pi2
[pis:vars]
clusterbench_threads=3

[zz_late]
pi1
pi2
[zz_late:vars]
ansible_user=late
[aa_first]
pi1
pi2
[aa_first:vars]
ansible_user=first
ansible_group_priority=10
""")
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all").write_text("clusterbench_memory: 3GB\n")
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "pi1.yaml").write_text("ansible_port: 3001\n")
    hosts = hosts_by_name(both(path))
    pi1, pi2 = hosts["pi1"], hosts["pi2"]
    assert pi1["threads"] == pi2["threads"] == 3      # child group over parent over all
    assert pi1["memory"] == "3GB"                     # group_vars/all over [cluster:vars]
    assert (pi1["port"], pi2["port"]) == (3001, 1000)  # host_vars over inventory host var
    assert pi1["user"] == pi2["user"] == "first"      # priority 10 beats name order
    assert pi1["tags"] == ["cluster", "pis", "zz_late", "aa_first"]


def test_ini_values_are_python_literals_and_quotes(tmp_path):
    path = tmp_path / "hosts"
    path.write_text("""\
[pis]
pi1 ansible_port=0x8AE ansible_user="pi user" clusterbench_workers=2
pi2 ansible_host='10.0.0.2' clusterbench_env="{'OMP_NUM_THREADS': 1}"
[pis:vars]
clusterbench_tags=['lab', 'pi']
""")
    hosts = hosts_by_name(both(path))
    assert (hosts["pi1"]["port"], hosts["pi1"]["user"], hosts["pi1"]["workers"]) == (
        2222, "pi user", 2)
    assert hosts["pi2"]["address"] == "10.0.0.2"
    assert hosts["pi2"]["env"] == {"OMP_NUM_THREADS": 1}
    assert hosts["pi1"]["tags"] == ["lab", "pi"]


def test_local_connection_and_other_connections(tmp_path):
    path = tmp_path / "hosts.ini"
    path.write_text("[me]\nlocalhost ansible_connection=local ansible_host=127.0.0.1 "
                    "ansible_user=me\n[pis]\npi1 ansible_connection=ssh\n")
    hosts = hosts_by_name(both(path))
    assert hosts["localhost"] == {"name": "localhost", "launcher": "local", "tags": ["me"]}
    assert hosts["pi1"]["launcher"] == "ssh"
    path.write_text("[boxes]\nbox1 ansible_connection=docker\n")
    message = both_fail(path)
    assert "host 'box1': variable 'ansible_connection': 'docker' is not supported" in message


def test_templates_in_unused_variables_are_ignored_in_used_ones_an_error(tmp_path):
    path = tmp_path / "hosts.ini"
    path.write_text("[pis]\npi1 motd=\"{{ inventory_hostname }}\"\n"
                    "pi2 ansible_host=\"{{ inventory_hostname }}.lan\"\n")
    message = both_fail(path)
    assert message == (f"{path}: host 'pi2': variable 'ansible_host': Jinja template "
                       "'{{ inventory_hostname }}.lan' is not rendered by clusterbench; give "
                       "the value itself")
    assert both(path, limit="pi1").inventory["hosts"][0]["name"] == "pi1"


def test_scheduler_variables_must_agree(tmp_path):
    path = tmp_path / "hosts.ini"
    path.write_text("[a]\npi1 clusterbench_scheduler_address=10.0.0.1\n"
                    "[b]\npi2 clusterbench_scheduler_address=10.0.0.2\n")
    assert "disagree" in both_fail(path)
    assert both(path, groups=("a",)).inventory["scheduler"] == {"address": "10.0.0.1"}


@pytest.mark.parametrize(("text", "words"), [
    ("[pis\npi1\n", "line 1"),
    ("[pis:bogus]\npi1\n", "unknown type"),
    ("[pis]\npi1 user\n", "expected key=value"),
    ("[pis:vars]\nansible_user=pi\n", "undefined group 'pis'"),
    ("[all:children]\nnowhere\n", "includes undefined group 'nowhere'"),
    ("[pis]\npi1 ansible_user='pi\n", "cannot split host definition"),
    ("[a:children]\nb\n[b:children]\na\n", "recursive dependency loop"),
    ("[pis]\n---\n", "YAML"),
])
def test_malformed_ini_is_one_line_naming_the_file(tmp_path, text, words):
    path = tmp_path / "hosts.ini"
    path.write_text(text)
    assert words in both_fail(path)


def test_vault_encrypted_variables_through_ansible_inventory(tmp_path, monkeypatch):
    """``ansible-inventory --list`` prints vaulted values encrypted; a used one is decrypted
    with ``ansible-vault`` and the user's vault password file, an unused one is left alone."""
    import subprocess

    from clusterbench.errors import InventoryError
    from clusterbench.inventory.ansible import import_ansible
    from tests.ansible_inventories import ansible_inventory_or_reason

    reason = ansible_inventory_or_reason()
    if reason:
        pytest.skip(reason)
    password = tmp_path / "vault-password"
    password.write_text("s3cret\n")
    blocks = {}
    for name, value in (("ansible_user", "pi"), ("api_token", "unused")):
        done = subprocess.run(["ansible-vault", "encrypt_string", "--vault-password-file",
                               str(password), value, "--name", name],
                              capture_output=True, text=True, check=True)
        blocks[name] = "\n".join("      " + line for line in done.stdout.splitlines())
    path = tmp_path / "vaulted.yml"
    path.write_text("all:\n  hosts:\n    pi1:\n" + blocks["ansible_user"] + "\n"
                    + blocks["api_token"] + "\n")
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(password))
    (host,) = import_ansible(path, reader="ansible").inventory["hosts"]
    assert host == {"name": "pi1", "launcher": "ssh", "address": "pi1", "user": "pi"}
    password.write_text("wrong\n")
    with pytest.raises(InventoryError) as info:
        import_ansible(path, reader="ansible")
    assert str(info.value).startswith(
        f"{path}: host 'pi1': variable 'ansible_user': is vault-encrypted and ansible-vault "
        "exited 1: ")
