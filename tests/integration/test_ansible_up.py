"""``up hosts.ini --group/--limit``: a real cluster from the selected hosts of an Ansible
inventory, which ``status`` and ``down`` keep to (the daemon and the state file carry the
selection); the same options on a clusterbench inventory are one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.ansible_inventories import ansible_inventory_or_reason
from tests.helpers import cli, stop_any_cluster

pytestmark = pytest.mark.integration

INI = """\
# two groups of workers on this machine
[small]
one ansible_connection=local clusterbench_workers=1 clusterbench_threads=1

[big]
two ansible_connection=local clusterbench_workers=2 clusterbench_threads=1

[all:vars]
clusterbench_cluster=ansiblesel
"""


def readers() -> list[str]:
    return ["builtin"] if ansible_inventory_or_reason() else ["builtin", "ansible"]


@pytest.mark.parametrize("reader", readers())
def test_up_status_and_down_keep_to_the_selected_hosts(tmp_path: Path, reader: str) -> None:
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(INI)
    env = {"CLUSTERBENCH_ANSIBLE_READER": reader}
    check = cli("inventory", "check", str(inventory), "--limit", "big", "--json", env=env)
    assert check.returncode == 0, check.stderr
    assert [h["name"] for h in json.loads(check.stdout)["hosts"]] == ["two"]
    try:
        up = cli("up", str(inventory), "--group", "small", "--timeout", "120", env=env)
        assert up.returncode == 0, up.stderr
        assert f"note: {inventory}: Ansible inventory" in up.stderr and "1 host(s)" in up.stderr
        status = cli("status", "--json", env=env)
        assert status.returncode == 0, status.stderr
        (cluster,) = json.loads(status.stdout)["clusters"]
        assert cluster["cluster"] == "ansiblesel"
        assert [w["name"] for w in cluster["workers"]] == ["one-0"], cluster["workers"]
        down = cli("down", env=env)
        assert down.returncode == 0, down.stderr
        assert "could not" not in down.stderr  # the leftover sweep read the same 1 host
        assert cli("status").returncode != 0  # nothing is up any more
    finally:
        stop_any_cluster()


def test_a_selection_of_a_clusterbench_inventory_is_one_line(tmp_path: Path) -> None:
    inventory = tmp_path / "plain.yml"
    inventory.write_text("hosts:\n  - {name: here, launcher: local, workers: 1}\n")
    done = cli("up", str(inventory), "--limit", "here")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"clusterbench: error: {inventory}: --group and --limit select hosts of an Ansible "
        f"inventory; this is a clusterbench inventory (no groups)")
