"""The command line on Ansible inventories, as a user runs it (both readers):
``inventory import-ansible`` with --group/--limit/--scheduler-address, and ``inventory
check`` and ``up --dry-run`` taking an INI file directly."""

from __future__ import annotations

import pytest
import yaml

from clusterbench.inventory.load import load_inventory
from tests.ansible_inventories import ansible_inventory_or_reason, write_pi_ini
from tests.helpers import cli


def readers() -> list[str]:
    return ["builtin"] if ansible_inventory_or_reason() else ["builtin", "ansible"]


def test_import_check_and_up_dry_run_on_ansible_files(tmp_path):
    inventory = write_pi_ini(tmp_path)
    written = {}
    for reader in readers():
        output = tmp_path / f"{reader}.yml"
        done = cli("inventory", "import-ansible", str(inventory), "--group", "cluster",
                   "--limit", "nodes:!node2", "--scheduler-address", "127.0.0.1",
                   "-o", str(output), "--reader", reader)
        assert done.returncode == 0, done.stderr
        assert f"note: {inventory}: Ansible inventory, read by " in done.stderr
        assert ("ansible-inventory (" if reader == "ansible" else "built-in") in done.stderr
        assert done.stdout.strip() == f"wrote {output} (4 hosts)"
        written[reader] = yaml.safe_load(output.read_text())
        loaded = load_inventory(output)
        assert [h.name for h in loaded.hosts] == ["node1", "node3", "node4", "node05"]
        assert loaded.scheduler.address == "127.0.0.1"
    assert all(text == written["builtin"] for text in written.values())

    local = tmp_path / "local"
    local.write_text("# this machine\n[me]\nlocalhost ansible_connection=local "
                     "clusterbench_workers=2\n")
    for reader in readers():
        env = {"CLUSTERBENCH_ANSIBLE_READER": reader}
        check = cli("inventory", "check", str(local), env=env)
        assert check.returncode == 0, check.stderr
        assert check.stdout.strip().endswith(f"{local}: OK, 1 hosts, 2 workers")
        assert f"note: {local}: Ansible inventory, read by " in check.stderr
        dry = cli("up", "--dry-run", str(local), env=env)
        assert dry.returncode == 0, dry.stderr
        assert "2 dask Nanny worker(s)" in dry.stdout


@pytest.mark.parametrize("reader", ["builtin"])
def test_a_bad_limit_is_one_line_and_exit_2(tmp_path, reader):
    done = cli("inventory", "import-ansible", str(write_pi_ini(tmp_path)), "--limit", "web*",
               env={"CLUSTERBENCH_ANSIBLE_READER": reader})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines()[-1] == (
        f"clusterbench: error: {tmp_path / 'hosts.ini'}: no hosts found within --limit 'web*'")
