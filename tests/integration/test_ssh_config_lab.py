"""~/.ssh/config on the real lab: a host known only by an alias, one reachable only through
a ProxyJump via another lab host (real sshd, real dask, a real sweep).

The test writes its own OpenSSH client config (the inventory's ``ssh_config:``), so root's
~/.ssh/config is never touched.  "Only through the jump host" is made real inside the
target's network namespace: a policy-routing rule sends the replies of its sshd (TCP
source port 22) to a table that only routes to the jump host's address, so a direct
connection from anywhere else never completes (no iptables/nft on these machines; the
rule goes away with the namespace and is also removed in teardown).
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from clusterbench.cluster.lifecycle import pid_alive, read_state, state_dir
from clusterbench.lab import processes_in
from tests.fixtures.lab import make_lab
from tests.helpers import cli, run_attached

pytestmark = [pytest.mark.integration, pytest.mark.root, pytest.mark.usefixtures("down_after")]
TABLE = "100"


def _in(lab, name: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["nsenter", f"--net=/run/netns/{lab.host(name).netns}", *argv],
                          capture_output=True, text=True, check=check)


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    state = make_lab(request, tmp_path_factory, "node:3x0.5cpu/512MB")
    jump = state.host("node1").address
    rule = ["ip", "rule", "add", "ipproto", "tcp", "sport", "22", "lookup", TABLE,
            "priority", TABLE]
    _in(state, "node3", "ip", "route", "add", "unreachable", "default", "table", TABLE)
    _in(state, "node3", "ip", "route", "add", f"{jump}/32", "dev", "eth0", "table", TABLE)
    _in(state, "node3", *rule)

    def remove_rule() -> None:  # runs before the lab's own teardown (finalizers are LIFO)
        _in(state, "node3", "ip", "rule", "del", *rule[3:], check=False)
        _in(state, "node3", "ip", "route", "flush", "table", TABLE, check=False)

    request.addfinalizer(remove_rule)
    return state


@pytest.fixture()
def files(lab, tmp_path):
    """(inventory, ssh config): node1 given in full, ``far`` (node2) by alias only,
    ``hidden`` (node3) by alias with ProxyJump through ``gateway`` (node1)."""
    config = tmp_path / "ssh_config"
    config.write_text("\n".join([
        "Host far", f"    HostName {lab.host('node2').address}", "    User root",
        f"    IdentityFile {lab.client_key}",
        "Host hidden", f"    HostName {lab.host('node3').address}", "    User root",
        f"    IdentityFile {lab.client_key}", "    ProxyJump gateway",
        "Host gateway", f"    HostName {lab.host('node1').address}", "    User root",
        f"    IdentityFile {lab.client_key}", ""]))
    common = {"launcher": "ssh", "known_hosts": lab.known_hosts, "python": lab.python,
              "memory": "200MB", "cpus": 1}
    node1 = lab.host("node1")
    inventory = {"cluster": "sshcfg", "scheduler": {"address": lab.bridge_address}, "hosts": [
        {"name": "node1", "address": node1.address, "user": "root",
         "identity": [lab.client_key], **common},
        {"name": "far", "ssh_config": str(config), **common},
        {"name": "hidden", "ssh_config": str(config), **common},
    ]}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    return path, config


def _reaches(lab, source: str | None, target: str) -> bool:
    code = (f"import socket; socket.create_connection(({lab.host(target).address!r}, 22), "
            "timeout=2).close()")
    argv = ["python3", "-c", code]
    result = _in(lab, source, *argv, check=False) if source else subprocess.run(
        argv, capture_output=True, check=False)
    return result.returncode == 0


def test_hidden_host_is_reachable_only_from_the_jump_host(lab):
    assert not _reaches(lab, None, "node3")       # this machine (the bridge)
    assert not _reaches(lab, "node2", "node3")    # another lab host
    assert _reaches(lab, "node1", "node3")        # the jump host


def test_check_and_dry_run_say_where_values_came_from(lab, files):
    inventory, config = files
    check = cli("inventory", "check", str(inventory))
    assert check.returncode == 0, check.stderr
    text = " ".join(check.stdout.split())  # rich wraps long lines
    for line in (f"address {lab.host('node2').address} (ssh_config {config}: HostName)",
                 f"user root (ssh_config {config}: User)",
                 f"proxy_jump gateway (ssh_config {config}: ProxyJump)",
                 f"address {lab.host('node1').address} (inventory)", "user root (inventory)"):
        assert line in text, check.stdout
    dry = cli("up", "--dry-run", str(inventory))
    assert dry.returncode == 0, dry.stderr
    assert f"--host {lab.host('node3').address} " in dry.stdout  # the HostName, not the alias
    assert f"address {lab.host('node3').address} (ssh_config {config}: HostName)" in dry.stdout
    # doctor logs in through the alias and the jump host and probes the scheduler from there
    doctor = cli("doctor", "-i", str(inventory))
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "hidden" in doctor.stdout and "FAIL" not in doctor.stdout


def test_up_run_down_through_alias_and_proxyjump(lab, files, tmp_path):
    inventory, _ = files
    up = cli("up", str(inventory), "--timeout", "120")
    assert up.returncode == 0, up.stdout + up.stderr
    state = read_state(next(state_dir().glob("cluster-sshcfg.json")))
    hosts = {w["name"]: w["address"].split("//")[1].rsplit(":", 1)[0] for w in state["workers"]}
    assert hosts == {"node1-0": lab.host("node1").address, "far-0": lab.host("node2").address,
                     "hidden-0": lab.host("node3").address}
    # node3's sshd has exactly one connection, from the jump host's address.
    peers = _in(lab, "node3", "ss", "-Htn", "state", "established", "( sport = :22 )").stdout
    assert peers.split() and all(lab.host("node1").address in line
                                 for line in peers.splitlines()), peers

    records = run_attached(tmp_path / "results", workers="1,3")
    assert {r["workers"] for r in records} == {1, 3}
    assert all(r["verified"] for r in records)
    # An attached run names workers' hosts as the inventory does (alias, jump-hosted name),
    # from up's state: all three fake hosts worked.
    assert {h for r in records for h in r["worker_hosts"]} == {"node1", "far", "hidden"}

    down = cli("down")
    assert down.returncode == 0, down.stderr
    assert not pid_alive(state["pid"])
    assert _nothing_left(lab)


def test_scheduler_on_the_host_behind_the_jump(lab, files):
    """``scheduler: {host: hidden}``: it listens on hidden's HostName, is started through the
    jump host, and ``status`` gives a dashboard tunnel that goes through it too."""
    inventory, config = files
    data = yaml.safe_load(inventory.read_text())
    data["scheduler"] = {"host": "hidden"}
    inventory.write_text(yaml.safe_dump(data))
    up = cli("up", str(inventory), "--timeout", "120")
    assert up.returncode == 0, up.stdout + up.stderr
    state = read_state(next(state_dir().glob("cluster-sshcfg.json")))
    assert state["address"].startswith(f"tls://{lab.host('node3').address}:")
    assert len(state["workers"]) == 3
    status = cli("status")
    assert status.returncode == 0, status.stderr
    assert f"-F {config} -J gateway root@{lab.host('node3').address}" in " ".join(
        status.stdout.split())
    assert cli("down").returncode == 0
    assert _nothing_left(lab)


def test_jump_connections_are_pooled_bounded_and_closed(lab, files):
    from clusterbench.inventory.load import load_inventory
    from clusterbench.launchers.ssh import CONNECTIONS

    inventory, _ = files
    hidden = load_inventory(str(inventory)).host("hidden")
    hidden = hidden.model_copy(update={"max_startups": 2})

    async def six() -> tuple[int, int, int]:
        # One session per connection: six tunnelled handshakes to node3 at once.
        connections = await asyncio.gather(*[CONNECTIONS.acquire(hidden, sessions=1)
                                              for _ in range(6)])
        results = await asyncio.gather(*[c.run("hostname", check=False) for c in connections])
        assert all(r.exit_status == 0 for r in results)
        opened = CONNECTIONS.count(hidden)
        for connection in connections:
            CONNECTIONS.release(hidden, connection)
        await asyncio.gather(*[c.wait_closed() for c in connections])
        await asyncio.sleep(0.2)  # the jump connection is released when the last one closes
        jumps = sum(CONNECTIONS.count(h) for h in _jump_hosts(hidden))
        return opened, CONNECTIONS.peak_handshakes["hidden"], jumps

    opened, peak, jumps_left = asyncio.run(six())
    assert opened == 6 and peak <= 2
    assert CONNECTIONS.peak_handshakes[_jump_name(hidden)] == 1  # one shared jump connection
    assert jumps_left == 0
    assert _established(lab, "node1") == 0 and _established(lab, "node3") == 0


def _jump_hosts(host):
    from clusterbench.launchers.ssh.sshconfig import jump_host

    return [jump_host(host.effective())]


def _jump_name(host) -> str:
    return _jump_hosts(host)[0].name


def _established(lab, name: str, timeout: float = 5.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        out = _in(lab, name, "ss", "-Htn", "state", "established", "( sport = :22 )").stdout
        count = len(out.splitlines())
        if count == 0 or time.monotonic() > deadline:
            return count
        time.sleep(0.2)


def _nothing_left(lab, timeout: float = 10.0) -> bool:
    """No dask process and no SSH session in any fake host (``ip netns pids``)."""
    deadline = time.monotonic() + timeout
    sshd = {h.sshd_pid for h in lab.hosts}
    while time.monotonic() < deadline:
        left = [pid for pids in processes_in(lab).values() for pid in pids
                if pid not in sshd and _alive(pid)]
        if not left:
            return True
        time.sleep(0.2)
    return False


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def test_a_jump_host_is_reached_through_its_own_proxyjump(lab, tmp_path):
    """Nested bastions, as OpenSSH follows them: hidden (node3) answers only gateway
    (node1), and for this test gateway answers only far (node2); the config gives hidden
    ``ProxyJump gateway`` and gateway its own ``ProxyJump far``.  clusterbench used to
    connect to gateway directly, which is refused here."""
    config = tmp_path / "ssh_config"
    key = f"    User root\n    IdentityFile {lab.client_key}\n"
    config.write_text(
        f"Host hidden\n    HostName {lab.host('node3').address}\n{key}    ProxyJump gateway\n"
        f"Host gateway\n    HostName {lab.host('node1').address}\n{key}    ProxyJump far\n"
        f"Host far\n    HostName {lab.host('node2').address}\n{key}")
    inventory = tmp_path / "nested.yml"
    inventory.write_text(yaml.safe_dump({
        "cluster": "nested", "scheduler": {"address": lab.bridge_address},
        "hosts": [{"name": "hidden", "launcher": "ssh", "ssh_config": str(config),
                   "known_hosts": lab.known_hosts, "python": lab.python}]}))
    rule = ["ip", "rule", "add", "ipproto", "tcp", "sport", "22", "lookup", "101",
            "priority", "101"]
    _in(lab, "node1", "ip", "route", "add", "unreachable", "default", "table", "101")
    _in(lab, "node1", "ip", "route", "add", f"{lab.host('node2').address}/32", "dev", "eth0",
        "table", "101")
    _in(lab, "node1", *rule)
    try:
        assert not _reaches(lab, None, "node1") and _reaches(lab, "node2", "node1")
        doctor = cli("doctor", "-i", str(inventory))
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr
        assert "hidden" in doctor.stdout and "FAIL" not in doctor.stdout
        # (node1 answered nothing from this machine meanwhile: the doctor came through far)
    finally:
        _in(lab, "node1", "ip", "rule", "del", *rule[3:], check=False)
        _in(lab, "node1", "ip", "route", "flush", "table", "101", check=False)
    assert _reaches(lab, None, "node1")  # the rule is gone: node1 answers everyone again
