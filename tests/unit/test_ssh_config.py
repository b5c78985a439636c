"""SSH hosts resolved through an OpenSSH client config (asyncssh's parser): aliases,
HostName, User, Port, IdentityFile, ProxyJump; the inventory wins (pure: no connection)."""

from __future__ import annotations

import pytest

from clusterbench.errors import InventoryError
from clusterbench.inventory.load import parse_inventory
from clusterbench.launchers.base import SpecContext
from clusterbench.launchers.registry import launcher_of
from clusterbench.launchers.ssh import SSHHost, connect_options
from clusterbench.launchers.ssh.sshconfig import jump_chain, jump_host


@pytest.fixture()
def config(tmp_path):
    path = tmp_path / "ssh_config"
    path.write_text("""
Host pi2
    HostName 192.0.2.12
    User pi
    Port 2222
    IdentityFile ~/.ssh/pi_%h
Host inner
    HostName 10.9.0.5
    ProxyJump admin@bastion:2200
Host bastion
    HostName 192.0.2.1
Host 192.0.2.*
    User fallback
""")
    return path


def _host(config, **fields) -> SSHHost:
    return SSHHost(launcher="ssh", ssh_config=str(config), **fields)


def test_alias_only_host_takes_hostname_user_port_identity(config):
    host = _host(config, name="pi2").effective()
    assert (host.address, host.port, host.user) == ("192.0.2.12", 2222, "pi")
    assert host.ssh_target() == "pi2"  # asyncssh looks the alias up itself when connecting
    assert host.identity == ()  # the config's keys are asyncssh's to load, not passed
    assert host.sources() == [
        f"address 192.0.2.12 (ssh_config {config}: HostName)",
        f"port 2222 (ssh_config {config}: Port)",
        f"user pi (ssh_config {config}: User)",
        f"identity ~/.ssh/pi_192.0.2.12 (ssh_config {config}: IdentityFile)"]  # %h expanded


def test_inventory_fields_override_the_config(config):
    host = _host(config, name="pi2", user="root", port=22, identity="/k").effective()
    assert (host.address, host.port, host.user, host.identity) == (
        "192.0.2.12", 22, "root", ("/k",))
    assert "user root (inventory)" in host.sources()
    assert "port 22 (inventory)" in host.sources()
    assert connect_options(host) == {"port": 22, "connect_timeout": 10.0, "username": "root",
                                     "client_keys": ["/k"], "config": [str(config)]}


def test_an_inventory_address_is_looked_up_too_and_unmatched_names_stay(config):
    plain = _host(config, name="x", address="198.51.100.7").effective()
    assert (plain.address, plain.port, plain.user) == ("198.51.100.7", 22, None)
    assert plain.sources() == ["address 198.51.100.7 (inventory)", "port 22 (default)"]
    pattern = _host(config, name="y", address="192.0.2.40").effective()
    assert pattern.user == "fallback"  # `Host 192.0.2.*` matched the address


def test_proxyjump_becomes_a_pooled_jump_host(config):
    inner = _host(config, name="inner", known_hosts="/kh").effective()
    assert inner.proxy_jump == "admin@bastion:2200"
    jump = jump_host(inner)
    assert jump is not None
    assert (jump.address, jump.port, jump.user, jump.known_hosts) == (
        "192.0.2.1", 2200, "admin", "/kh")
    assert jump.ssh_target() == "bastion" and jump.proxy_jump is None
    assert launcher_of(inner).tunnel(inner) == f"-F {config} -J admin@bastion:2200 10.9.0.5"
    direct = _host(config, name="inner", proxy_jump="none").effective()
    assert direct.proxy_jump is None and jump_host(direct) is None


def test_a_chain_of_jumps_keeps_the_earlier_hops_on_the_last_one(config):
    host = _host(config, name="z", address="10.0.0.1", proxy_jump="a.example,b.example:23")
    jump = jump_host(host.effective())
    assert jump is not None and (jump.address, jump.port) == ("b.example", 23)
    assert jump.proxy_jump == "a.example"


def test_a_jump_hosts_own_proxyjump_is_followed_like_openssh(tmp_path):
    """`ssh -G bastion2` shows its own ProxyJump bastion1; OpenSSH reaches bastion2 that
    way, and clusterbench used to connect to bastion2 directly."""
    path = tmp_path / "ssh_config"
    path.write_text("Host inner\n  HostName 10.3.3.3\n  ProxyJump bastion2\n"
                    "Host bastion2\n  HostName 10.2.2.2\n  ProxyJump bastion1\n"
                    "Host bastion1\n  HostName 10.1.1.1\n  User gate\n")
    inner = _host(path, name="inner").effective()
    chain = jump_chain(inner)
    assert [(j.address, j.proxy_jump) for j in chain] == [
        ("10.2.2.2", "bastion1"), ("10.1.1.1", None)]
    assert chain[1].user == "gate"
    later = _host(path, name="z", address="10.0.0.1", proxy_jump="bastion1,bastion2")
    assert [j.address for j in jump_chain(later.effective())] == ["10.2.2.2", "10.1.1.1"]


@pytest.mark.parametrize("text", [
    "Host loopy\n  HostName 10.4.4.4\n  ProxyJump loopy\n",  # through itself
    "Host loopy\n  HostName 10.4.4.4\n  ProxyJump gw\nHost gw\n  HostName 10.5.5.5\n"
    "  ProxyJump loopy\n",  # round two hosts
])
def test_a_proxyjump_loop_is_one_line(tmp_path, text):
    path = tmp_path / "ssh_config"
    path.write_text(text)
    with pytest.raises(InventoryError, match=r"^host 'loopy': ProxyJump goes round in a loop "
                                             r"or past 8 hops \(.*10\.4\.4\.4:22\)"):
        jump_chain(_host(path, name="loopy").effective())


@pytest.mark.parametrize(("hop", "message"), [
    ("gw:99999", "proxy_jump 'gw:99999': port: input should be less than or equal to 65535"),
    ("gw:0", "proxy_jump 'gw:0': port: input should be greater than or equal to 1"),
    ("-oProxyCommand=x", "proxy_jump '-oProxyCommand=x': address: not an IP address"),
    ("-bob@gw", "proxy_jump '-bob@gw': user: a user name cannot start with '-'"),
])
def test_a_malformed_jump_hop_is_one_line_naming_it(config, hop, message):
    host = _host(config, name="z", address="10.0.0.1", proxy_jump=hop).effective()
    with pytest.raises(InventoryError) as info:
        jump_chain(host)
    assert str(info.value).startswith(f"host 'z': {message}") and "\n" not in str(info.value)


def test_an_ssh_url_hop_is_user_host_and_port(config):
    host = _host(config, name="z", address="10.0.0.1", proxy_jump="ssh://bob@gw1:2022")
    jump = jump_host(host.effective())
    assert jump is not None and (jump.user, jump.address, jump.port) == ("bob", "gw1", 2022)


def test_worker_command_dry_run_and_scheduler_use_the_hostname(config):
    inventory = parse_inventory({"scheduler": {"host": "pi2"}, "hosts": [
        {"name": "pi2", "launcher": "ssh", "ssh_config": str(config)}]})
    (host,) = inventory.hosts
    launcher = launcher_of(host)
    assert launcher.scheduler_address(host) == "192.0.2.12"
    pairs = launcher.describe(host, SpecContext(cluster="c", session="s"), "tcp://S:1")
    assert pairs[0] == ("settings of pi2 (ssh)", "\n".join(host.effective().sources()))
    assert "--host 192.0.2.12" in pairs[1][1] and pairs[1][0] == "pi2: ssh 192.0.2.12 (pi2-0)"
    assert launcher.tunnel(host) == f"-F {config} -p 2222 pi@192.0.2.12"


def test_missing_or_broken_config_is_an_inventory_error(tmp_path, config):
    launcher = launcher_of(_host(config, name="pi2"))
    with pytest.raises(InventoryError, match=r"field 'ssh_config': .* does not exist"):
        launcher.validate(_host(tmp_path / "nope", name="a"), "inv.yml: hosts[0] 'a'")
    broken = tmp_path / "broken"
    broken.write_text("Host x\n    Port notaport\n")
    with pytest.raises(InventoryError, match=r"hosts\[0\] 'x': ssh_config .*line 2: Invalid"):
        launcher.validate(_host(broken, name="x"), "inv.yml: hosts[0] 'x'")


def test_default_config_is_home_ssh_config(tmp_path, monkeypatch):
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "config").write_text("Host h\n    HostName 203.0.113.9\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    host = SSHHost(launcher="ssh", name="h").effective()
    assert host.address == "203.0.113.9"
    assert host.sources()[0] == "address 203.0.113.9 (ssh_config ~/.ssh/config: HostName)"
    assert "config" not in connect_options(host)  # asyncssh reads ~/.ssh/config itself


def test_an_include_loop_is_one_line_not_a_recursion_error(tmp_path):
    looping = tmp_path / "looping"
    looping.write_text(f"Include {looping}\nHost x\n    HostName 10.0.0.9\n")
    with pytest.raises(InventoryError) as raised:
        launcher_of(_host(looping, name="x")).validate(_host(looping, name="x"),
                                                       "inv.yml: hosts[0] 'x'")
    assert str(raised.value) == (f"inv.yml: hosts[0] 'x': ssh_config {looping}: an Include loop "
                                 "(a file includes itself, directly or through others)")
