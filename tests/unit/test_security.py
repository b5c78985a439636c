"""TLS credentials and where they go in specs, commands and job scripts (pure, no cluster)."""

from __future__ import annotations

import shlex
import stat

import pytest

from clusterbench.cluster.dry_run import describe
from clusterbench.cluster.security import (
    create_credentials,
    load_credentials,
    security_label,
    wants_tls,
)
from clusterbench.cluster.spec import build_cluster_spec
from clusterbench.inventory.load import parse_inventory
from clusterbench.launchers.ssh import scheduler_command, worker_command

LOCAL = {"hosts": [{"name": "me", "launcher": "local", "workers": 2}]}
SSH = {"scheduler": {"address": "10.0.0.1"},
       "hosts": [{"name": "pi", "launcher": "ssh", "address": "10.0.0.11"},
                 {"name": "me", "launcher": "local"}]}
SLURM = {"scheduler": {"address": "10.0.0.1"},
         "hosts": [{"name": "hpc", "launcher": "slurm", "cores": 2, "processes": 1}]}


@pytest.mark.parametrize(("data", "insecure", "expected"), [
    (LOCAL, False, "loopback"),
    ({**LOCAL, "security": "tls"}, False, "tls"),
    ({**LOCAL, "scheduler": {"address": "10.0.0.1"}}, False, "tls"),  # LAN-reachable
    (SSH, False, "tls"),
    (SLURM, False, "tls"),
    (SSH, True, "insecure"),
    ({**SSH, "security": "insecure"}, False, "insecure"),
])
def test_tls_unless_the_cluster_stays_on_loopback_or_the_user_opts_out(data, insecure, expected):
    inventory = parse_inventory(data)
    assert security_label(inventory, insecure) == expected
    assert wants_tls(inventory, insecure) is (expected == "tls")


def test_credentials_are_owner_only_and_the_certificate_is_signed_by_the_cluster_ca(tmp_path):
    from cryptography import x509

    credentials = create_credentials(tmp_path / "tls-home-abc", "home", ("10.0.0.1",))
    assert stat.S_IMODE(credentials.directory.stat().st_mode) == 0o700
    for path in credentials.files().values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    ca = x509.load_pem_x509_certificate(credentials.ca_file.read_bytes())
    cert = x509.load_pem_x509_certificate(credentials.cert_file.read_bytes())
    cert.verify_directly_issued_by(ca)  # raises if not signed by this CA
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "10.0.0.1" in [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]
    # The CA's own key is never written: nobody can sign another member in.
    assert sorted(p.name for p in credentials.directory.iterdir()) == \
        ["ca.pem", "tls.key", "tls.pem"]
    security = credentials.security()
    assert security.require_encryption
    assert security.tls_worker_key == str(credentials.key_file)
    assert load_credentials(credentials.directory) == credentials
    credentials.remove()
    assert not credentials.directory.exists()
    assert load_credentials(credentials.directory) is None


def test_specs_put_every_member_on_tls(tmp_path):
    credentials = create_credentials(tmp_path / "tls", "home")
    spec = build_cluster_spec(parse_inventory(SSH), session="s1", credentials=credentials)
    scheduler = spec.scheduler["options"]
    assert scheduler["protocol"] == "tls" and scheduler["security"].require_encryption
    assert spec.workers["me-0"]["options"]["security"].tls_ca_file == str(credentials.ca_file)
    assert spec.workers["pi-0"]["options"]["credentials"] is credentials


def test_ssh_commands_point_at_the_copied_files_and_bind_http_to_the_host():
    host = parse_inventory(SSH).host("pi")
    argv = shlex.split(worker_command(host, "pi-0", "tls://10.0.0.1:8786", "s1",
                                      tls=True).split(" && ")[-1])
    assert argv[argv.index("--tls-key") + 1] == "/tmp/clusterbench-s1/tls/tls.key"
    assert argv[argv.index("--tls-ca-file") + 1] == "/tmp/clusterbench-s1/tls/ca.pem"
    assert argv[argv.index("--dashboard-address") + 1] == "10.0.0.11:0"  # not 0.0.0.0
    plain = worker_command(host, "pi-0", "tcp://10.0.0.1:8786", "s1")
    assert "--tls-key" not in plain
    scheduler = shlex.split(scheduler_command(host, "10.0.0.11", 8786, 0, None, "s1",
                                              tls=True).split(" && ")[-1])
    assert scheduler[scheduler.index("--protocol") + 1] == "tls"
    assert scheduler[scheduler.index("--tls-cert") + 1] == "/tmp/clusterbench-s1/tls/tls.pem"


def test_job_scripts_take_the_tls_files_from_shared_storage_and_dry_run_shows_it():
    scripts = dict(describe(parse_inventory(SLURM)))
    script = next(text for title, text in scripts.items() if title.startswith("hpc"))
    assert "tls://10.0.0.1" in script
    assert "--tls-ca-file STATE_DIR/tls-clusterbench-DRYRUN/ca.pem" in script
    assert "--protocol tls://" in script
    insecure = dict(describe(parse_inventory(SLURM), insecure=True))
    assert all("--tls" not in text for text in insecure.values())


@pytest.mark.parametrize(("state", "dashboard", "expected"), [
    ({"scheduler_ssh": "-p 2222 pi@10.0.0.12"}, "http://127.0.0.1:8787/status",
     "ssh -N -L 8787:127.0.0.1:8787 -p 2222 pi@10.0.0.12"),
    ({}, "http://127.0.0.1:4000/status", "ssh -N -L 4000:127.0.0.1:4000 "),
    ({}, "http://10.0.0.1:8787/status", None),   # served on the LAN on purpose: no tunnel
    ({}, None, None),
])
def test_status_prints_the_tunnel_to_a_loopback_dashboard(state, dashboard, expected):
    from clusterbench.cluster.state import ClusterState
    from clusterbench.commands.cluster import _tunnel_command

    tunnel = _tunnel_command(ClusterState("lab", **state), dashboard)
    if expected is None:
        assert tunnel is None
    else:
        assert tunnel.startswith(expected), tunnel


def test_credentials_interrupted_while_written_leave_no_directory(tmp_path, monkeypatch):
    # SIGTERM to `run` while it created its cluster's CA left the key directory behind.
    from clusterbench.cluster import security

    writes = []

    def interrupted(path, data):
        writes.append(path.name)
        if len(writes) == 2:
            raise KeyboardInterrupt
        real_write(path, data)

    real_write = security._write_private
    monkeypatch.setattr(security, "_write_private", interrupted)
    with pytest.raises(KeyboardInterrupt):
        create_credentials(tmp_path / "tls-lab-abc", "lab")
    assert writes and not (tmp_path / "tls-lab-abc").exists()
