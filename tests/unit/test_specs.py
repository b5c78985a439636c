"""Inventory → SpecCluster specs, SSH commands and the Ansible import (pure, no processes)."""

from __future__ import annotations

import shlex

import pytest

from clusterbench.cluster.spec import build_cluster_spec, specs_for
from clusterbench.errors import InventoryError
from clusterbench.inventory.ansible import read_ansible
from clusterbench.inventory.load import parse_inventory
from clusterbench.launchers.ssh import SSHWorker, connect_options, worker_command

MIXED = {
    "cluster": "home",
    "scheduler": {"address": "10.0.0.1", "port": 8786, "dashboard": None},
    "hosts": [
        {"name": "pi1", "launcher": "ssh", "address": "10.0.0.11", "workers": 2, "threads": 4,
         "memory": "900MB", "python": "/opt/venv/bin/python", "user": "pi",
         "identity": "~/.ssh/pi", "setup": ["source /opt/venv/bin/activate"],
         "env": {"X": "1"}},
        {"name": "laptop", "launcher": "local", "workers": 1, "threads": 2},
    ],
}


def test_mixed_inventory_builds_per_host_specs_in_order():
    spec = build_cluster_spec(parse_inventory(MIXED), session="abc")
    assert list(spec.workers) == ["pi1-0", "pi1-1", "laptop-0"]
    assert spec.workers["pi1-0"]["cls"] is SSHWorker
    assert spec.workers["pi1-0"]["options"]["host"].threads == 4
    assert spec.workers["laptop-0"]["cls"] == "distributed.Nanny"
    assert spec.workers["laptop-0"]["options"]["nthreads"] == 2
    assert spec.workers["laptop-0"]["options"]["env"]["OMP_NUM_THREADS"] == "1"
    # The scheduler's HTTP server (health, metrics) binds to loopback even with the
    # dashboard off; no credentials: plain TCP.
    assert spec.scheduler["options"] == {"host": "10.0.0.1", "port": 8786, "dashboard": False,
                                         "dashboard_address": "127.0.0.1:0"}
    assert [s.name for s in spec.slots] == ["pi1-0", "pi1-1", "laptop-0"]


def test_specs_for_takes_the_first_k():
    spec = build_cluster_spec(parse_inventory(MIXED))
    assert specs_for(spec, 1) == ["pi1-0"]
    assert specs_for(spec, 3) == ["pi1-0", "pi1-1", "laptop-0"]
    with pytest.raises(InventoryError, match="has 3 workers; 4 were asked for"):
        specs_for(spec, 4)


def test_non_local_hosts_need_a_scheduler_address():
    data = {**MIXED, "scheduler": {}}
    with pytest.raises(InventoryError, match="scheduler: field 'address': required"):
        build_cluster_spec(parse_inventory(data, source="home.yml"))


def test_worker_command_carries_per_host_options():
    host = parse_inventory(MIXED).hosts[0]
    command = worker_command(host, "pi1-0", "tcp://10.0.0.1:8786", "s1")
    steps = command.split(" && ")
    assert steps[0] == "mkdir -p /tmp/clusterbench-s1"
    assert steps[1] == "echo $$ > /tmp/clusterbench-s1/pi1-0.pid"
    assert steps[2] == "source /opt/venv/bin/activate"
    argv = shlex.split(steps[3])
    assert argv[:2] == ["exec", "env"]
    assert "X=1" in argv and "OMP_NUM_THREADS=1" in argv
    worker = argv[argv.index("/opt/venv/bin/python"):]
    assert worker[1:4] == ["-m", "distributed.cli.dask_worker", "tcp://10.0.0.1:8786"]
    for flag, value in [("--name", "pi1-0"), ("--nthreads", "4"), ("--memory-limit", "900000000"),
                        ("--host", "10.0.0.11"),
                        ("--local-directory", "/tmp/clusterbench-s1/pi1-0"),
                        # an orphaned launch (cluster stopped first) does not wait forever
                        ("--death-timeout", "120")]:
        assert worker[worker.index(flag) + 1] == value


@pytest.mark.parametrize(("python", "argv"), [
    (None, ["python3"]),
    ("/opt/venv/bin/python", ["/opt/venv/bin/python"]),
    ("/usr/bin/env python3", ["/usr/bin/env", "python3"]),  # Ansible's interpreter may be so
    ("~/venv/bin/python", ["HOME/venv/bin/python"]),  # the remote shell expands the ~
    ("'/opt/my py/bin/python'", ["/opt/my py/bin/python"]),
    ("/opt/$(reboot)/python", ["/opt/$(reboot)/python"]),  # nothing else is expanded
])
def test_the_python_is_shell_words_with_its_tilde_expanded(tmp_path, python, argv):
    """As one quoted word, `/usr/bin/env python3` and `~/venv/bin/python` name no program."""
    import subprocess

    from clusterbench.launchers.ssh.commands import python_words

    script = f'printf "%s|" {python_words(python)}'
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True,
                         env={"HOME": str(tmp_path)}, check=True).stdout
    assert out.split("|")[:-1] == [word.replace("HOME", str(tmp_path)) for word in argv]


def test_worker_and_probe_commands_split_an_env_python():
    host = parse_inventory(MIXED).hosts[0].model_copy(update={"python": "/usr/bin/env python3"})
    command = worker_command(host, "pi1-0", "tcp://10.0.0.1:8786", "s1")
    argv = shlex.split(command.split(" && ")[-1])
    start = argv.index("/usr/bin/env")
    assert argv[start:start + 4] == ["/usr/bin/env", "python3", "-m",
                                     "distributed.cli.dask_worker"]


def test_connect_options_check_host_keys_by_default():
    host = parse_inventory(MIXED).hosts[0]
    options = connect_options(host)
    assert options == {"port": 22, "connect_timeout": 10.0, "username": "pi",
                       "client_keys": ["~/.ssh/pi"]}
    assert "known_hosts" not in options  # asyncssh then checks ~/.ssh/known_hosts


def test_ansible_import(tmp_path):
    path = tmp_path / "hosts.yml"
    path.write_text("""
all:
  vars:
    ansible_user: pi
    ansible_python_interpreter: /usr/bin/python3
  children:
    pis:
      vars:
        ansible_ssh_private_key_file: ~/.ssh/pi_ed25519
        clusterbench_workers: 4
      hosts:
        pi1: {ansible_host: 192.0.2.11}
        pi2: {ansible_host: 192.0.2.12, ansible_port: 2222, clusterbench_threads: 2}
    desktops:
      hosts:
        desk: {ansible_host: 192.0.2.20, ansible_user: me}
""")
    converted = read_ansible(path)
    inventory = parse_inventory(converted | {"scheduler": {"address": "192.0.2.1"}})
    pi1, pi2, desk = inventory.hosts
    assert (pi1.address, pi1.user, pi1.identity, pi1.workers) == (
        "192.0.2.11", "pi", ("~/.ssh/pi_ed25519",), 4)
    assert (pi2.port, pi2.threads, pi2.python) == (2222, 2, "/usr/bin/python3")
    assert (desk.user, desk.tags, desk.workers) == ("me", ("desktops",), 1)
    assert pi1.tags == ("pis",)


def test_leftover_cleanup_command_does_not_match_its_own_pattern():
    # pkill -f matches whole command lines, the cleanup shell's own included: the rm half of
    # the command must not spell the session directory, or pkill kills it before rm runs.
    import re

    from clusterbench.launchers.ssh import _self_excluding, _self_excluding_glob, session_dir

    pattern = _self_excluding("s3ss").strip("'")
    command = f"pkill -KILL -f -- {_self_excluding('s3ss')}; rm -rf {_self_excluding_glob('s3ss')}"
    assert re.search(pattern, session_dir("s3ss") + "/w-0 dask worker")
    assert not re.search(pattern, command)


@pytest.mark.parametrize("shell", ["bash", "dash"])
def test_a_yaml_block_of_setup_commands_runs_line_by_line(shell, tmp_path):
    """``setup: |`` ends with a newline and may hold comments and compound commands:
    chained with && as is, `&& exec` landed on a line of its own (a syntax error)."""
    import subprocess

    block = "# the site's python\nexport A=1\nif true; then\n  export B=2\nfi\n"
    inventory = parse_inventory({"scheduler": {"address": "127.0.0.1"}, "hosts": [
        {"name": "pi", "launcher": "ssh", "address": "10.0.0.2", "setup": [block, "export C=3"],
         "python": "/bin/sh"}]})
    command = worker_command(inventory.hosts[0], "pi-0", "tcp://127.0.0.1:1", "s1")
    # run the real chain, with the worker's exec replaced by printing what setup exported
    chain, _, _ = command.partition(" && exec ")
    chain = chain.replace("/tmp/clusterbench-s1", str(tmp_path / "session"))
    done = subprocess.run([shell, "-c", chain + ' && echo "$A$B$C"'], capture_output=True,
                          text=True, timeout=30)
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "123", "")


def test_ipv6_addresses_are_bracketed_where_a_port_follows():
    """`tls://::1:PORT` and `--dashboard-address 2001:db8::1:0` named no address."""
    from clusterbench.launchers.base import host_port

    assert host_port("2001:db8::1", 0) == "[2001:db8::1]:0"
    assert host_port("[::1]", "PORT") == "[::1]:PORT"
    assert host_port("10.0.0.1", 8786) == "10.0.0.1:8786"
    host = parse_inventory(MIXED).hosts[0].model_copy(update={"address": "2001:db8::11"})
    argv = shlex.split(worker_command(host, "pi1-0", "tls://[2001:db8::1]:8786",
                                      "s1").split(" && ")[-1])
    assert argv[argv.index("--dashboard-address") + 1] == "[2001:db8::11]:0"
    assert argv[argv.index("--host") + 1] == "2001:db8::11"
