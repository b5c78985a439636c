"""``validate_for_up``: everything ``up`` would trip over after spawning its daemon is refused
before, in one line naming the file, the host and the field (and ``inventory check`` says so)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from clusterbench.cluster.lifecycle import _log_tail
from clusterbench.cluster.validate import MAX_THREADS, MAX_WORKERS, validate_for_up
from clusterbench.errors import InventoryError, LaunchError
from clusterbench.inventory.load import load_inventory, parse_inventory

ROOT = Path(__file__).resolve().parents[2]
LOCAL = {"name": "laptop", "launcher": "local"}
SLURM = {"name": "hpc", "launcher": "slurm", "queue": "debug"}


@pytest.fixture(autouse=True)
def submit_programs(tmp_path, monkeypatch):
    """A PATH with stand-ins for every queue's submit program (nothing is submitted)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("sbatch", "qsub", "bsub", "condor_submit"):
        (bin_dir / name).write_text("#!/bin/sh\nexit 1\n")
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


def ssh(**fields):
    return {"name": "pi1", "launcher": "ssh", "address": "10.0.0.2", **fields}


def refused(data: dict) -> str:
    inventory = parse_inventory(data, source="lab.yml")
    with pytest.raises(InventoryError) as info:
        validate_for_up(inventory)
    message = str(info.value)
    assert "\n" not in message and info.value.exit_code == 2
    return message


def test_queue_hosts_without_a_scheduler_address_are_refused():
    # The example: `check` said OK, `up` failed in the daemon with a traceback.
    assert refused({"hosts": [SLURM]}) == (
        "lab.yml: scheduler: field 'address': required when hosts other than local ones must "
        "reach the scheduler; set an address of this machine they can reach (or 'interface')")


def test_an_address_that_is_not_this_machines_is_refused():
    message = refused({"scheduler": {"address": "192.0.2.1"}, "hosts": [LOCAL]})
    assert message.startswith("lab.yml: scheduler: field 'address': '192.0.2.1' is not an "
                              "address of this machine, where the scheduler runs (")


def test_an_unresolvable_address_is_refused():
    # a well-formed name in the reserved .invalid domain (RFC 2606): never resolves
    message = refused({"scheduler": {"address": "no-such-host.invalid"}, "hosts": [LOCAL]})
    assert message.startswith("lab.yml: scheduler: field 'address': cannot resolve "
                              "'no-such-host.invalid' (")


def test_an_unknown_interface_is_refused():
    message = refused({"scheduler": {"interface": "nosuch0"}, "hosts": [LOCAL]})
    assert message.startswith("lab.yml: scheduler: field 'interface': 'nosuch0' is not a valid "
                              "network interface")


def test_the_dashboard_cannot_share_the_scheduler_port():
    assert refused({"scheduler": {"port": 8786, "dashboard": 8786}, "hosts": [LOCAL]}) == (
        "lab.yml: scheduler: field 'dashboard': port 8786 is the scheduler's own port; use "
        "another one (or 0: any free port)")


def test_min_workers_above_the_total_is_refused():
    assert refused({"min_workers": 5, "hosts": [{**LOCAL, "workers": 2}]}) == (
        "lab.yml: field 'min_workers': 5 but the hosts have 2 workers in all")


def test_a_huge_worker_count_is_refused_before_any_spec_is_built():
    message = refused({"hosts": [{**LOCAL, "workers": 10**12}]})
    assert message == (f"lab.yml: hosts[0] 'laptop': field 'workers': the inventory would start "
                       f"1,000,000,000,000+ workers; at most {MAX_WORKERS:,}")
    message = refused({"scheduler": {"address": "127.0.0.1"},
                       "hosts": [{**SLURM, "jobs": 10**9}]})
    assert message.startswith("lab.yml: hosts[0] 'hpc': field 'jobs': ")


def test_a_huge_thread_count_is_refused():
    assert refused({"hosts": [{**LOCAL, "threads": 10**6}]}) == (
        f"lab.yml: hosts[0] 'laptop': field 'threads': 1,000,000 threads per worker; "
        f"at most {MAX_THREADS:,}")


@pytest.mark.parametrize(("launcher", "walltime", "bare"), [
    ("lsf", "a:b:c", "minutes"), ("slurm", "soon", "minutes"), ("pbs", "1-00:00:00", "seconds"),
    ("sge", "1h", "seconds")])
def test_a_walltime_the_queue_rejects_is_refused(launcher, walltime, bare):
    # lsf "a:b:c" was a ValueError traceback in the daemon (int('a') in the conversion);
    # a bare number is seconds to PBS and SGE, minutes to SLURM and LSF.
    message = refused({"scheduler": {"address": "127.0.0.1"},
                       "hosts": [{**SLURM, "launcher": launcher, "walltime": walltime}]})
    assert message.startswith("lab.yml: hosts[0] 'hpc': field 'walltime': must be like ")
    assert message.endswith(f"(or {bare}), got {walltime!r}")


def test_spec_errors_of_a_launcher_name_the_file():
    message = refused({"scheduler": {"address": "127.0.0.1"},
                       "hosts": [{**SLURM, "memory": "auto"}]})
    assert message == ("lab.yml: host 'hpc': memory must be a size such as '4GB' for a queue "
                       "host (the job requests it), not 'auto'")


def test_a_missing_identity_file_is_refused(tmp_path):
    key = tmp_path / "id_nope"
    message = refused({"scheduler": {"host": "pi1"}, "hosts": [ssh(identity=str(key))]})
    assert message == f"lab.yml: hosts[0] 'pi1': field 'identity': {str(key)!r} does not exist"


def test_a_public_key_as_identity_is_refused(tmp_path):
    import asyncssh

    public = tmp_path / "id_ed25519.pub"
    public.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_public_key())
    message = refused({"scheduler": {"host": "pi1"}, "hosts": [ssh(identity=str(public))]})
    assert message == (f"lab.yml: hosts[0] 'pi1': field 'identity': {str(public)!r} is a public "
                       "key; 'identity' takes the private key (the file without '.pub')")


def test_an_identity_that_is_a_directory_is_refused(tmp_path):
    message = refused({"scheduler": {"host": "pi1"}, "hosts": [ssh(identity=[str(tmp_path)])]})
    assert message == f"lab.yml: hosts[0] 'pi1': field 'identity': {str(tmp_path)!r} is not a file"


def test_an_unreadable_identity_is_refused():
    import shutil
    import tempfile

    # Root reads every file: as root, the check runs in a child that became `nobody`.
    directory = Path(tempfile.mkdtemp(prefix="cb-unreadable-"))
    try:
        directory.chmod(0o755)
        key = directory / "id"
        key.write_text("key")
        key.chmod(0)
        data = {"scheduler": {"host": "pi1"}, "hosts": [ssh(identity=str(key))]}
        message = refused(data) if os.geteuid() != 0 else _as_nobody(lambda: refused(data))
    finally:
        shutil.rmtree(directory)
    assert message.endswith("is not readable by this user"), message


def _as_nobody(call):  # noqa: ANN001, ANN202 - a callable returning a string
    """*call*'s result, computed in a forked child running as uid/gid 65534."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop root, answer through the pipe, never return into pytest
        try:
            os.setgid(65534)
            os.setuid(65534)
            os.write(write, call().encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as answer:
        text = answer.read()
    os.waitpid(pid, 0)
    return text


def test_a_missing_known_hosts_file_is_refused(tmp_path):
    known = tmp_path / "known_hosts"
    message = refused({"scheduler": {"host": "pi1"}, "hosts": [ssh(known_hosts=str(known))]})
    assert message == (f"lab.yml: hosts[0] 'pi1': field 'known_hosts': {str(known)!r} "
                       "does not exist")


def test_files_under_home_are_expanded_like_asyncssh_does(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "id").write_text("key")
    (tmp_path / ".ssh" / "known").write_text("")
    inventory = parse_inventory({"scheduler": {"host": "pi1"}, "hosts": [
        ssh(identity="~/.ssh/id", known_hosts="~/.ssh/known")]}, source="lab.yml")
    validate_for_up(inventory)


def test_a_missing_submit_program_is_a_launch_error_naming_file_and_host(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    inventory = parse_inventory({"scheduler": {"address": "127.0.0.1"}, "hosts": [SLURM]},
                                source="lab.yml")
    with pytest.raises(LaunchError) as info:
        validate_for_up(inventory)
    assert str(info.value).startswith("lab.yml: hosts[0] 'hpc': 'sbatch' not found on PATH")


@pytest.mark.parametrize("name", ["local.yml", "slurm.yml", "mixed.yml"])
def test_shipped_inventories_that_run_here_pass(name):
    validate_for_up(load_inventory(ROOT / "inventories" / name))


def test_a_daemon_traceback_is_reported_as_its_last_line(tmp_path):
    state = tmp_path / "cluster-x.json"
    state.with_suffix(".log").write_text(
        "Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\n"
        "    raise InventoryError(\nclusterbench.errors.InventoryError: lab.yml: bad\n")
    assert _log_tail(state) == (f"clusterbench.errors.InventoryError: lab.yml: bad "
                                f"(full log: {state.with_suffix('.log')})")
    state.with_suffix(".log").write_text("one\ntwo\nthree\nfour\n")
    assert _log_tail(state) == "two | three | four"
