"""``scheduler: {host: NAME}``: validation (one line, did-you-mean) and the pure spec."""

from __future__ import annotations

import shlex

import pytest

from clusterbench.cluster.spec import build_cluster_spec, scheduler_address
from clusterbench.errors import InventoryError
from clusterbench.inventory.load import parse_inventory
from clusterbench.launchers.ssh import SSHScheduler, scheduler_command


def inventory(scheduler: dict) -> dict:
    return {
        "cluster": "lab",
        "scheduler": scheduler,
        "hosts": [
            {"name": "pi1", "launcher": "ssh", "address": "10.0.0.11", "python": "/opt/py",
             "env": {"X": "1"}, "setup": ["source /opt/venv/bin/activate"]},
            {"name": "pi2", "launcher": "ssh", "address": "10.0.0.12"},
            {"name": "laptop", "launcher": "local"},
            {"name": "hpc", "launcher": "slurm"},
        ],
    }


@pytest.mark.parametrize(("scheduler", "message"), [
    ({"host": "pi-1"}, "lab.yml: scheduler: field 'host': unknown host 'pi-1' (did you mean "
                      "'pi1'?); valid: local, pi1, pi2"),
    ({"host": "lcoal"}, "lab.yml: scheduler: field 'host': unknown host 'lcoal' (did you mean "
                        "'local'?); valid: local, pi1, pi2"),
    ({"host": "zzz"}, "lab.yml: scheduler: field 'host': unknown host 'zzz'; valid: local, pi1, "
                      "pi2"),
    ({"host": "laptop"}, "lab.yml: scheduler: field 'host': host 'laptop' is a local host; the "
                         "scheduler runs on 'local' or on an ssh host"),
    ({"host": "hpc"}, "lab.yml: scheduler: field 'host': host 'hpc' is a slurm host; the "
                      "scheduler runs on 'local' or on an ssh host"),
    ({"host": "pi1", "interface": "eth0"}, "lab.yml: scheduler: field 'interface': not "
                                           "supported with a remote scheduler host"),
])
def test_bad_scheduler_host_is_one_line_naming_file_and_field(scheduler, message):
    with pytest.raises(InventoryError) as info:
        parse_inventory(inventory(scheduler), source="lab.yml")
    text = str(info.value)
    assert message in text and "\n" not in text


def test_scheduler_on_named_ssh_host_builds_remote_scheduler_spec():
    parsed = parse_inventory(inventory({"host": "pi1", "port": 8786, "dashboard": None}))
    assert scheduler_address(parsed) == "10.0.0.11"  # default: the host's address
    spec = build_cluster_spec(parsed, session="abc")
    assert spec.scheduler["cls"] is SSHScheduler
    options = spec.scheduler["options"]
    assert options["host"].name == "pi1" and options["address"] == "10.0.0.11"
    assert (options["port"], options["dashboard"], options["session"]) == (8786, None, "abc")


def test_explicit_address_wins_over_the_hosts():
    parsed = parse_inventory(inventory({"host": "pi2", "address": "192.168.1.2"}))
    assert scheduler_address(parsed) == "192.168.1.2"


@pytest.mark.parametrize(("scheduler", "shown"), [
    ({"address": "127.0.0.1"}, "127.0.0.1"),
    ({"address": "localhost"}, "localhost"),
    ({"address": "::1"}, "::1"),
    ({"interface": "lo"}, "127.0.0.1"),
])
def test_a_loopback_scheduler_that_ssh_hosts_elsewhere_cannot_reach_is_refused(scheduler, shown):
    """Workers on 10.0.0.11 would dial their own loopback and never register."""
    field = "interface" if "interface" in scheduler else "address"
    with pytest.raises(InventoryError) as info:
        scheduler_address(parse_inventory(inventory(scheduler), source="lab.yml"))
    assert str(info.value) == (
        f"lab.yml: scheduler: field {field!r}: {shown} is this machine's loopback, which host "
        "'pi1' (10.0.0.11) cannot reach; set an address of this machine that host can reach")


def test_a_loopback_scheduler_is_fine_for_ssh_hosts_on_this_machine():
    """sshd on this machine's loopback (the tests' own hosts, a port-forwarded one)."""
    data = inventory({"address": "127.0.0.1"})
    data["hosts"] = [{"name": "here", "launcher": "ssh", "address": "127.0.0.1", "port": 2222},
                     {"name": "laptop", "launcher": "local"}]
    assert scheduler_address(parse_inventory(data)) == "127.0.0.1"
    data["hosts"][0]["address"] = "no-such-host.invalid"  # unresolvable: said elsewhere
    assert scheduler_address(parse_inventory(data)) == "127.0.0.1"


def test_local_scheduler_is_unchanged():
    parsed = parse_inventory(inventory({"address": "10.0.0.1"}))
    assert build_cluster_spec(parsed, session="abc").scheduler["cls"] == "distributed.Scheduler"


def test_scheduler_command_is_tagged_and_uses_the_hosts_setup_and_env():
    host = parse_inventory(inventory({"host": "pi1"})).host("pi1")
    command = scheduler_command(host, "10.0.0.11", 0, 0, None, "abc")
    steps = command.split(" && ")
    assert steps[:3] == ["mkdir -p /tmp/clusterbench-abc",
                         "echo $$ > /tmp/clusterbench-abc/scheduler.pid",
                         "source /opt/venv/bin/activate"]
    argv = shlex.split(steps[3])
    assert argv[:4] == ["exec", "env", "X=1", "/opt/py"]
    assert "--scheduler-file" in argv and "/tmp/clusterbench-abc/scheduler.json" in argv
    # The dashboard binds to the scheduler host's loopback unless the inventory says otherwise.
    assert argv[argv.index("--dashboard-address") + 1] == "127.0.0.1:0"
    assert "--protocol" not in argv
    off = scheduler_command(host, "10.0.0.11", 8786, None, "/other/py", "abc")
    assert "--no-dashboard" in off and "/other/py -m distributed.cli.dask_scheduler" in off


def test_dry_run_shows_the_remote_scheduler_command_first():
    from clusterbench.cluster.dry_run import describe

    entries = list(describe(parse_inventory(inventory({"host": "pi2", "port": 8786}))))
    title, command = entries[0]
    assert title == "scheduler: ssh 10.0.0.12 (pi2)"
    assert "distributed.cli.dask_scheduler --host 10.0.0.12 --port 8786" in command
    workers = [text for title, text in entries[1:] if title.startswith("pi1")]
    assert workers and "tls://10.0.0.12:8786" in workers[0]  # TLS: it leaves the machine
    assert not any("dask_scheduler" in text for _, text in entries[1:])
