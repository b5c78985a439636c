"""TLS on a real virtual lab: per-cluster CA, refused strangers, no secret in any output.

Netns hosts with real sshd (tests.fixtures.lab: skipped without root/sshd, failing in
CI); the scheduler listens on the lab bridge, which is an address other machines could
reach, so the cluster runs over TLS by default.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from clusterbench.cluster.lifecycle import read_state, state_dir
from clusterbench.launchers.ssh import session_dir
from tests.fixtures.lab import make_lab
from tests.helpers import ROOT, cli, only_records

pytestmark = [pytest.mark.integration, pytest.mark.root, pytest.mark.usefixtures("down_after")]


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    return make_lab(request, tmp_path_factory, "pi:1x0.5cpu/512MB,desktop:1x1.0cpu")


def _state() -> dict:
    return read_state(next(state_dir().glob("cluster-*.json")))


def _connect(address: str, security, timeout: float = 5.0) -> str:
    """``"ok: <hosts>"`` when a client with *security* can run code on the workers, else
    the first line of why it was refused."""
    from distributed import Client

    try:
        with Client(address, timeout=timeout, security=security) as client:
            return f"ok: {len(client.run(os.getpid))} workers ran code"
    except Exception as exc:  # noqa: BLE001 - any refusal is the answer
        return f"refused: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def _listeners(netns: str | None) -> list[tuple[str, str]]:
    """``(local address:port, process)`` of every listening TCP socket (in *netns*)."""
    prefix = ["nsenter", f"--net=/run/netns/{netns}"] if netns else []
    result = subprocess.run([*prefix, "ss", "-Hltnp"], capture_output=True, text=True,
                            check=True)
    return [(line.split()[3], line.split()[-1]) for line in result.stdout.splitlines()]


def _secret_lines(key_file: Path) -> list[str]:
    """The base64 body lines of a PEM private key: what must never be printed or stored."""
    return [line for line in key_file.read_text().splitlines()
            if line and not line.startswith("-----")]


def test_up_uses_tls_refuses_strangers_and_keeps_http_off_the_lan(lab, tmp_path):
    from distributed.security import Security

    from clusterbench.cluster.lifecycle import cluster_security

    up = cli("up", lab.inventory)
    assert up.returncode == 0, up.stderr
    state = _state()
    assert state["security"] == "tls" and state["address"].startswith("tls://")
    # The key and certificate were copied to every host, owner-only, in the session dir.
    remote = Path(session_dir(state["session"])) / "tls"
    assert {p.name for p in remote.iterdir()} == {"ca.pem", "tls.pem", "tls.key"}
    assert stat.S_IMODE((remote / "tls.key").stat().st_mode) == 0o600
    # Strangers are refused: plain TCP, and TLS with a certificate of another CA.
    plain = _connect(state["address"].replace("tls://", "tcp://"), None)
    other_ca = _connect(state["address"], Security.temporary())
    assert plain.startswith("refused"), plain
    assert other_ca.startswith("refused"), other_ca
    assert _connect(state["address"], cluster_security(state)).startswith("ok: ")
    # Workers listen on their own address only (dask's HTTP default is every interface).
    for host in lab.hosts:
        for address, process in _listeners(host.netns):
            if "python" in process:
                assert address.startswith(host.address + ":"), (host.name, address)
    # The scheduler's HTTP server (dashboard) listens on loopback, not on the bridge.
    daemon = f"pid={state['pid']},"
    served = [address for address, process in _listeners(None) if daemon in process]
    scheduler_port = state["address"].rsplit(":", 1)[1]
    assert all(a.startswith("127.0.0.1:") or a.endswith(f":{scheduler_port}")
               for a in served), served
    # The address `status` shows works with --scheduler-address: `up`'s files are found.
    by_address = cli("run", "scaling", "--scheduler-address", state["address"], "--workloads",
                     "montecarlo", "--size", "tiny", "--schedulers", "distributed",
                     "--workers", "1", "--repeats", "1", "--results-dir", str(tmp_path / "r"))
    assert by_address.returncode == 0, by_address.stderr
    status = cli("status")
    assert status.returncode == 0, status.stderr
    assert "security: TLS" in status.stdout
    assert re.search(r"ssh -N -L (\d+):127\.0\.0\.1:\1 ", status.stdout), status.stdout
    down = cli("down")
    assert down.returncode == 0, down.stderr
    assert not Path(state["tls_dir"]).exists()       # local key removed on down
    assert not remote.exists()                       # remote copies removed with the session


def test_no_key_material_in_any_output_of_a_managed_lab_run(lab, tmp_path):
    """A managed sweep (its own cluster, own CA) and an attached one: every byte it printed
    or stored is searched for the private key's lines."""
    seen: dict[Path, list[str]] = {}
    stop = threading.Event()

    def watch() -> None:  # the managed run's key only exists while the run does
        while not stop.is_set():
            for key in state_dir().glob("tls-*/tls.key"):
                if key not in seen:
                    try:
                        seen[key] = _secret_lines(key)
                    except OSError:
                        continue
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    results = tmp_path / "results"
    outputs = []
    try:
        run = cli("run", "scaling", "-i", lab.inventory, "--workloads", "montecarlo",
                  "--size", "tiny", "--schedulers", "distributed", "--workers", "1,2",
                  "--repeats", "1", "--results-dir", str(results))
        outputs += [run.stdout, run.stderr]
        assert run.returncode == 0, run.stderr
        for command in (("up", lab.inventory), ("status",),
                        ("run", "scaling", "--attach", "--workloads", "montecarlo", "--size",
                         "tiny", "--schedulers", "distributed", "--workers", "2",
                         "--repeats", "1", "--results-dir", str(tmp_path / "attached")),
                        ("down",)):
            done = cli(*command)
            outputs += [done.stdout, done.stderr]
            assert done.returncode == 0, (command, done.stderr)
    finally:
        stop.set()
        watcher.join()
    assert len(seen) == 2, "expected the managed run's and up's keys"
    secrets = [line for lines in seen.values() for line in lines]
    assert secrets
    stored = [p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file()]
    stored += [p.read_text(errors="replace") for p in state_dir().glob("*") if p.is_file()]
    for text in outputs + stored:
        assert "PRIVATE KEY" not in text
        assert not any(secret in text for secret in secrets)
    environment = json.loads(next(results.glob("*/environment.json")).read_text())
    assert environment["security"] == "tls"
    assert {r["worker_addresses"][0][:6] for r in only_records(results)} == {"tls://"}
    assert not list(state_dir().glob("tls-*")), "every key directory is removed"


def test_insecure_opt_out_is_plain_tcp_and_warned_everywhere(lab, tmp_path):
    up = cli("up", lab.inventory, "--insecure")
    assert up.returncode == 0, up.stderr
    assert "TLS is off" in up.stderr
    state = _state()
    assert state["security"] == "insecure" and state["address"].startswith("tcp://")
    assert state["tls_dir"] is None
    status = cli("status")
    assert "TLS is off" in status.stderr
    run = cli("run", "scaling", "-i", lab.inventory, "--insecure", "--workloads", "montecarlo",
              "--size", "tiny", "--schedulers", "synchronous,distributed", "--workers", "1",
              "--repeats", "1", "--results-dir", str(tmp_path / "r"))
    assert run.returncode == 0, run.stderr
    assert "TLS is off" in run.stderr
    environment = json.loads(next((tmp_path / "r").glob("*/environment.json")).read_text())
    assert environment["security"] == "insecure"
    assert cli("down").returncode == 0


def test_tls_files_are_not_in_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    assert not [f for f in tracked.stdout.splitlines() if f.endswith((".key", ".pem"))]
