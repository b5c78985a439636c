"""Inventory model: valid files resolve; every malformed input gets its one-line message."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from clusterbench.errors import InventoryError
from clusterbench.inventory.load import load_inventory, parse_inventory
from clusterbench.inventory.model import threads_of
from clusterbench.launchers.jobqueue import QueueHost
from clusterbench.launchers.local import LocalHost
from clusterbench.launchers.ssh import SSHHost

ROOT = Path(__file__).resolve().parents[2]


def local(**fields):
    return {"name": "pi3", "launcher": "local", **fields}


MALFORMED = [
    ({"hosts": [local(threads="four")]},
     "lab.yml: hosts[0] 'pi3': field 'threads': must be a positive integer, got 'four'"),
    ({"hosts": [local(threads=0)]},
     "lab.yml: hosts[0] 'pi3': field 'threads': must be a positive integer, got 0"),
    ({"hosts": [local(workers=-2)]},
     "lab.yml: hosts[0] 'pi3': field 'workers': must be a positive integer, got -2"),
    ({"hosts": [local(thread=2)]},
     "lab.yml: hosts[0] 'pi3': unknown field 'thread' (did you mean 'threads'?)"),
    ({"hosts": [local(memory="lots")]},
     "lab.yml: hosts[0] 'pi3': field 'memory': must be a size like '2GB' or 'auto', got 'lots'"),
    ({"hosts": [local(memory=-5)]},
     "lab.yml: hosts[0] 'pi3': field 'memory': must be a positive size like '2GB' or 'auto', "
     "got -5"),
    ({"hosts": [local(), local()]},
     "lab.yml: hosts[1] 'pi3': field 'name': duplicate host name (also hosts[0])"),
    ({"hosts": [local(launcher="sssh")]},
     "lab.yml: hosts[0] 'pi3': field 'launcher': unknown launcher 'sssh'; valid: local, ssh, "
     "slurm, pbs, sge, lsf, htcondor (did you mean 'ssh'?)"),
    # address may be left out (the name is looked up in ~/.ssh/config), not empty
    ({"hosts": [local(launcher="ssh", address="")]},
     "lab.yml: hosts[0] 'pi3': field 'address': string should have at least 1 character, "
     "got ''"),
    ({"hosts": [local(launcher="ssh", address="10.0.0.3", port=70000)]},
     "lab.yml: hosts[0] 'pi3': field 'port': input should be less than or equal to 65535, "
     "got 70000"),
    ({"hosts": [local(launcher="slurm", cores=2, processes=4)]},
     "lab.yml: hosts[0] 'pi3': processes (4) cannot exceed cores (2)"),
    ({"hosts": [local(launcher="slurm", walltime=5)]},
     "lab.yml: hosts[0] 'pi3': field 'walltime': got the number 5: quote the walltime, e.g. "
     "'01:30:00' (YAML reads an unquoted 1:30:00 as the number 5400)"),
    ({"hosts": [local()], "schedular": {}},
     "lab.yml: unknown field 'schedular' (did you mean 'scheduler'?)"),
    ({"hosts": [local()], "scheduler": {"port": "x"}},
     "lab.yml: scheduler: field 'port': must be a positive integer, got 'x'"),
    ({"hosts": [local(name="a b")]},
     "lab.yml: hosts[0] 'a b': field 'name': must start with a letter or digit and contain only "
     "letters, digits, '.', '_' and '-', got 'a b'"),
    ({"hosts": [{"launcher": "local"}]}, "lab.yml: hosts[0]: field 'name': is required"),
    ({"hosts": [local()], "defaults": {"thraeds": 2}},
     "lab.yml: defaults: unknown field 'thraeds' (did you mean 'threads'?)"),
    ({"hosts": [local(env=[1])]},
     "lab.yml: hosts[0] 'pi3': field 'env': must be a mapping, got [1]"),
    ({"hosts": []}, "lab.yml: field 'hosts': must be a non-empty list of hosts"),
    (["not", "a", "mapping"], "lab.yml: expected a mapping with 'hosts', got list"),
    ({"hosts": ["pi1"]}, "lab.yml: hosts[0]: must be a mapping, got 'pi1'"),
    ({"hosts": [local(launcher="slurm", jobs=2, processes=1, workers=3)]},
     "lab.yml: hosts[0] 'pi3': workers (3) must equal jobs × processes (2 × 1); omit 'workers'"),
    # found by fuzzing: each of these passed `check` and broke `up` or did the opposite
    ({"hosts": [local(launcher="slurm", memory=512)]},  # dask-jobqueue: TypeError at `up`
     "lab.yml: hosts[0] 'pi3': field 'memory': got 512: 512 bytes are too little for a worker "
     "(a bare number is bytes); write a unit, e.g. '512MB'"),
    ({"hosts": [local(memory="GB")]},  # dask's parse_bytes reads it as 1 GB
     "lab.yml: hosts[0] 'pi3': field 'memory': must be a size like '2GB' or 'auto', got 'GB'"),
    ({"hosts": [local(memory="")]},
     "lab.yml: hosts[0] 'pi3': field 'memory': must be a size like '2GB' or 'auto', got ''"),
    ({"hosts": [local()], "scheduler": {"dashboard": False}},  # `dashboard: off` was port 0
     "lab.yml: scheduler: field 'dashboard': got false: YAML reads an unquoted yes, no, on, "
     "off, true or false as a yes/no value; quote it, or write the number (null for none, "
     "where the field allows it)"),
    ({"hosts": [local(workers=True)]},
     "lab.yml: hosts[0] 'pi3': field 'workers': got true: YAML reads an unquoted yes, no, on, "
     "off, true or false as a yes/no value; quote it, or write the number (null for none, "
     "where the field allows it)"),
    ({"hosts": [local(launcher="slurm", memory="1GB", threads=4)]},  # was silently ignored
     "lab.yml: hosts[0] 'pi3': a queue host's threads per worker are cores // processes: set "
     "'cores' (and 'processes') instead of 'threads'"),
    ({"hosts": [local(launcher="slurm", memory="1GB", queue="debug\nrm -rf $HOME")]},
     "lab.yml: hosts[0] 'pi3': field 'queue': contains the control character '\\n', which "
     "would break the command lines and job scripts the value goes into, got "
     "'debug\\nrm -rf $HOME'"),
    ({"hosts": [local(launcher="slurm", job_extra_directives=["--qos=x", "a\x00b"])]},
     "lab.yml: hosts[0] 'pi3': field 'job_extra_directives': contains the control character "
     "'\\x00', which would break the command lines and job scripts the value goes into, got "
     "['--qos=x', 'a\\x00b']"),
    ({"hosts": [local()], "cluster": "my lab\n#SBATCH --wrap=x"},  # job names, state files
     "lab.yml: field 'cluster': must start with a letter or digit and contain only letters, "
     "digits, '.', '_' and '-', got 'my lab\\n#SBATCH --wrap=x'"),
    ({"hosts": [local(launcher="slurm", memory="1GB", walltime=5400)]},  # 1:30:00 unquoted
     "lab.yml: hosts[0] 'pi3': field 'walltime': got the number 5400: quote the walltime, e.g. "
     "'01:30:00' (YAML reads an unquoted 1:30:00 as the number 5400)"),
    ({"hosts": [local(launcher="ssh", address="10.0.0.3", user="")]},
     "lab.yml: hosts[0] 'pi3': field 'user': string should have at least 1 character, got ''"),
    ({"hosts": [local(launcher="ssh", address="10.0.0.3", proxy_jump="a b c")]},
     "lab.yml: hosts[0] 'pi3': field 'proxy_jump': must not contain spaces, got 'a b c'"),
    ({"hosts": [local(launcher="ssh", address="10.0.0.3", env={"-i": 1})]},  # env(1) option
     "lab.yml: hosts[0] 'pi3': field 'env': '-i' is not a variable name (letters, digits and "
     "'_', not starting with a digit)"),
    ({"hosts": [local(env={"A=B": 1})]},
     "lab.yml: hosts[0] 'pi3': field 'env': 'A=B' is not a variable name (letters, digits and "
     "'_', not starting with a digit)"),
    ({"hosts": [local(env={"DEBUG": True})]},  # YAML 1.1 read `DEBUG: yes` as a bool
     "lab.yml: hosts[0] 'pi3': field 'env': 'DEBUG': YAML read the value as the bool True, "
     "not as text; quote it (unquoted yes, on, 3.10 or 1e3 do not stay as written)"),
    ({"hosts": [local(env={"PYVER": 3.1})]},  # `PYVER: 3.10`
     "lab.yml: hosts[0] 'pi3': field 'env': 'PYVER': YAML read the value as the float 3.1, "
     "not as text; quote it (unquoted yes, on, 3.10 or 1e3 do not stay as written)"),
    ({"hosts": [local(launcher="ssh", address="10.0.0.3", user="-oProxyCommand=x")]},
     "lab.yml: hosts[0] 'pi3': field 'user': a user name cannot start with '-', got "
     "'-oProxyCommand=x'"),
    ({"hosts": [local(worker_extra_args="--lifetime '25m")]},
     "lab.yml: hosts[0] 'pi3': field 'worker_extra_args': cannot be split into arguments (No "
     "closing quotation), got \"--lifetime '25m\""),
    ({"hosts": [local()], "cluster": "../../etc/cron.d/x"},
     "lab.yml: field 'cluster': must start with a letter or digit and contain only letters, "
     "digits, '.', '_' and '-', got '../../etc/cron.d/x'"),
]


@pytest.mark.parametrize(("data", "message"), MALFORMED)
def test_malformed_inventory_gets_one_precise_line(data, message):
    with pytest.raises(InventoryError) as info:
        parse_inventory(data, source="lab.yml")
    assert str(info.value) == message
    assert "\n" not in str(info.value)
    assert info.value.exit_code == 2


def test_defaults_merge_and_host_wins():
    inventory = parse_inventory({
        "defaults": {"threads": 2, "setup": ["source /opt/venv/bin/activate"],
                     "env": {"A": "1", "B": "2"}},
        "scheduler": {"address": "10.0.0.1"},
        "hosts": [
            {"name": "laptop", "launcher": "local", "workers": 3, "env": {"B": "3"}},
            {"name": "pi1", "launcher": "ssh", "address": "10.0.0.2", "threads": 4},
            {"name": "hpc", "launcher": "slurm", "jobs": 2, "cores": 4, "processes": 2},
        ],
    })
    laptop, pi, hpc = inventory.hosts
    assert isinstance(laptop, LocalHost) and isinstance(pi, SSHHost) and isinstance(hpc, QueueHost)
    assert laptop.threads == 2 and laptop.env == {"A": "1", "B": "3"}
    assert pi.threads == 4 and pi.setup == ("source /opt/venv/bin/activate",)
    assert hpc.worker_count == 4 and threads_of(hpc) == 2
    assert inventory.total_workers == 3 + 1 + 4


def test_queue_hosts_take_neither_workers_nor_threads_from_defaults():
    inventory = parse_inventory({"defaults": {"workers": 2, "threads": 3}, "hosts": [
        local(), {"name": "hpc", "launcher": "slurm", "jobs": 3, "cores": 4}]})
    laptop, hpc = inventory.hosts
    assert (laptop.worker_count, laptop.threads) == (2, 3)
    assert (hpc.worker_count, threads_of(hpc)) == (3, 4)  # jobs × processes, cores // processes


def test_worker_extra_args_written_as_one_string_are_split_as_a_shell_would():
    inventory = parse_inventory({"scheduler": {"address": "10.0.0.1"}, "hosts": [
        local(launcher="ssh", address="10.0.0.2", worker_extra_args="--lifetime 25m"),
        {"name": "hpc", "launcher": "slurm", "memory": "1GB",
         "worker_extra_args": "--lifetime-stagger '1 m'"},
        {"name": "box", "launcher": "local", "worker_extra_args": ["--resources", "GPU=1 X=2"]}]})
    assert [host.worker_extra_args for host in inventory.hosts] == [
        ("--lifetime", "25m"), ("--lifetime-stagger", "1 m"), ("--resources", "GPU=1 X=2")]


def test_shell_text_may_span_lines_where_a_name_or_path_may_not():
    inventory = parse_inventory({"scheduler": {"address": "10.0.0.1"}, "hosts": [
        local(launcher="ssh", address="10.0.0.2", setup="source /opt/x\nexport A=1\n",
              env={"A": "x\ty"}),
        {"name": "hpc", "launcher": "slurm", "memory": "1GB",
         "job_script_prologue": ["module load a\nmodule load b"]}]})
    assert inventory.hosts[0].setup == ("source /opt/x\nexport A=1\n",)
    with pytest.raises(InventoryError, match="field 'setup': contains the control character "
                                             "'\\\\x00'"):
        parse_inventory({"scheduler": {"address": "10.0.0.1"}, "hosts": [
            local(launcher="ssh", address="10.0.0.2", setup="a\x00b")]}, source="lab.yml")


def test_yes_no_values_stay_valid_where_a_field_takes_text_or_a_size():
    inventory = parse_inventory({"hosts": [local(memory=2**20, env={"DEBUG": "yes"},
                                                 tags=["on"])]})
    assert inventory.hosts[0].memory == 2**20 and inventory.hosts[0].env == {"DEBUG": "yes"}


def test_memory_sizes_parse_and_auto_workers_are_the_cores():
    inventory = parse_inventory({"hosts": [local(memory="512MB", workers="auto")]})
    host = inventory.hosts[0]
    assert host.memory == 512_000_000
    assert host.worker_count == os.cpu_count()


def test_model_is_frozen():
    inventory = parse_inventory({"hosts": [local()]})
    with pytest.raises(ValidationError, match="frozen"):
        inventory.hosts[0].threads = 5  # type: ignore[misc]


def test_yaml_syntax_error_names_line(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text("hosts:\n  - name: a\n   launcher: [\n")
    with pytest.raises(InventoryError, match=r"bad.yml: not valid YAML \(line \d+"):
        load_inventory(path)


def test_a_pipe_as_inventory_is_refused_at_once(tmp_path):
    fifo = tmp_path / "inventory.yml"
    os.mkfifo(fifo)  # open() would wait for a writer forever
    with pytest.raises(InventoryError, match=r"inventory.yml: not a regular file \(a pipe or "
                                             r"device\); write the inventory to a file"):
        load_inventory(fifo)


def test_missing_file(tmp_path):
    with pytest.raises(InventoryError, match="no such inventory file"):
        load_inventory(tmp_path / "nope.yml")


@pytest.mark.parametrize("path", sorted((ROOT / "inventories").glob("*.yml")), ids=lambda p: p.name)
def test_shipped_inventories_validate(path):
    inventory = load_inventory(path)
    assert inventory.hosts


@pytest.mark.parametrize(("address", "problem"), [
    ("pi@192.168.1.5", "contains a user; put it in 'user:'"),
    ("192.168.1.5:2222", "contains a port; put it in 'port:'"),
    ("999.1.1.1", "not an IPv4 address"),
    ("1.2.3.[1:3]", "not an IP address or host name: letters, digits, '-', '_' and '.' "
                    "(Ansible does not expand [a:b] ranges in host variables)"),
    ("bad host", "not an IP address or host name: letters, digits, '-', '_' and '.'"),
    ("-oProxyCommand=x", "not an IP address or host name: letters, digits, '-', '_' and '.'"),
    ("a..b", "not an IP address or host name: letters, digits, '-', '_' and '.'"),
])
def test_an_address_that_no_resolver_takes_is_refused_by_name(address, problem):
    data = {"scheduler": {"address": "127.0.0.1"},
            "hosts": [{"name": "pi1", "launcher": "ssh", "address": address}]}
    with pytest.raises(InventoryError) as info:
        parse_inventory(data, source="lab.yml")
    assert str(info.value) == (f"lab.yml: hosts[0] 'pi1': field 'address': {problem}, "
                               f"got {address!r}")


@pytest.mark.parametrize(("field", "value", "problem"), [
    ("address", "tcp://10.0.0.1", "write the host only, without a scheme ('tcp://', "
                                  "'tls://' come from the cluster)"),
    ("address", "10.0.0.1:8786", "contains a port; put it in 'port:'"),
    ("address", "head node", "not an IP address or host name: letters, digits, '-', '_' "
                             "and '.'"),
    ("dashboard_host", "0.0.0.0:8787", "contains a port; put it in 'dashboard:'"),
    ("dashboard_host", "http://0.0.0.0", "write the host only, without a scheme ('tcp://', "
                                         "'tls://' come from the cluster)"),
])
def test_the_scheduler_addresses_are_checked_like_a_host_address(field, value, problem):
    """Both go to the scheduler's command line; a wrong one failed only once it started."""
    data = {"scheduler": {field: value}, "hosts": [{"name": "a", "launcher": "local"}]}
    with pytest.raises(InventoryError) as info:
        parse_inventory(data, source="lab.yml")
    assert str(info.value) == f"lab.yml: scheduler: field '{field}': {problem}, got {value!r}"


@pytest.mark.parametrize("value", ["0.0.0.0", "::", "localhost", "head-node.lan", "10.0.0.1"])
def test_scheduler_addresses_that_bind_are_accepted(value):
    data = {"scheduler": {"address": value, "dashboard_host": value},
            "hosts": [{"name": "a", "launcher": "local"}]}
    scheduler = parse_inventory(data, source="lab.yml").scheduler
    assert (scheduler.address, scheduler.dashboard_host) == (value, value)


@pytest.mark.parametrize("address", [
    "192.168.1.5", "::1", "fe80::1%eth0", "2001:db8::7", "pi-lab.local", "my_pi",
    "host.example.org.", "node01", "10.0.0.1"])
def test_addresses_host_names_and_ssh_aliases_are_accepted(address):
    data = {"scheduler": {"address": "127.0.0.1"},
            "hosts": [{"name": "pi1", "launcher": "ssh", "address": address}]}
    assert parse_inventory(data, source="lab.yml").hosts[0].address == address
