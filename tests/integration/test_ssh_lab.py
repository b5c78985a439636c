"""SSH launcher on a real virtual lab: netns hosts, real sshd, cgroup limits, real dask.

The lab is made by tests.fixtures.lab (skipped without root/sshd, failing in CI).
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from clusterbench.cluster.lifecycle import pid_alive, read_state, state_dir
from clusterbench.lab import processes_in
from clusterbench.launchers.ssh import session_dir
from tests.fixtures.lab import make_lab
from tests.helpers import cli, only_records

# down_after (conftest.py): whatever a test asserts, the cluster it brought up is stopped.
pytestmark = [pytest.mark.integration, pytest.mark.root, pytest.mark.usefixtures("down_after")]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    return make_lab(request, tmp_path_factory, "pi:2x0.25cpu/512MB,desktop:1x1.0cpu")


def variant(lab, tmp_path: Path, **changes) -> Path:
    """A copy of the lab inventory with some hosts' fields changed ({host: {field: value}})."""
    data = yaml.safe_load(Path(lab.inventory).read_text())
    for host in data["hosts"]:
        host.update(changes.get(host["name"], {}))
    data["min_workers"] = changes.get("min_workers")
    if data["min_workers"] is None:
        del data["min_workers"]
    path = tmp_path / "variant.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def ssh_connections(lab, name: str) -> int:
    """Established connections to the sshd of fake host *name*, seen from inside its netns."""
    ss = subprocess.run(["nsenter", f"--net=/run/netns/{lab.host(name).netns}", "ss", "-Htn",
                         "state", "established", "( sport = :22 )"],
                        capture_output=True, text=True, check=True)
    return len(ss.stdout.splitlines())


def no_worker_left(lab) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        leftovers = {h: pids for h, pids in processes_in(lab).items()
                     if any(_is_worker(pid) for pid in pids)}
        if not leftovers:
            return True
        time.sleep(0.2)
    return False


def _is_worker(pid: int) -> bool:
    try:
        return b"dask_worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def test_up_status_run_down_on_fake_hosts(lab, tmp_path):
    up = cli("up", lab.inventory)
    assert up.returncode == 0, up.stderr
    state = read_state(next(state_dir().glob("cluster-lab.json")))
    rows = {w["name"]: w for w in state["workers"]}
    assert set(rows) == {"pi1-0", "pi2-0", "desktop1-0"}
    addresses = {w["address"].split("//")[1].split(":")[0] for w in rows.values()}
    assert addresses == {h.address for h in lab.hosts}          # distinct fake hosts
    assert rows["pi1-0"]["memory"] == lab.host("pi1").memory     # per-host memory from inventory
    assert all(w["threads"] == 1 for w in rows.values())
    status = cli("status")
    assert status.returncode == 0 and "desktop1-0" in status.stdout

    results = tmp_path / "results"
    run = cli("run", "scaling", "--attach", "--size", "tiny", "--workloads", "montecarlo",
              "--schedulers", "distributed", "--workers", "1..max", "--repeats", "1",
              "--results-dir", str(results))
    assert run.returncode == 0, run.stderr
    records = only_records(results)
    assert [r["workers"] for r in records if r["scheduler"] == "distributed"] == [1, 2, 3]
    assert all(r["verified"] for r in records)
    # Hosts named as the inventory names them (from up's state), not by their addresses.
    widest = max(records, key=lambda r: r["workers"])
    assert dict(zip(widest["worker_names"], widest["worker_hosts"], strict=True)) == {
        "pi1-0": "pi1", "pi2-0": "pi2", "desktop1-0": "desktop1"}

    scratch = Path(session_dir(state["session"]))
    assert scratch.is_dir()  # the workers' scratch space (lab hosts share this filesystem)
    down = cli("down")
    assert down.returncode == 0, down.stderr
    assert not pid_alive(state["pid"])
    assert no_worker_left(lab)
    assert not scratch.exists()  # removed on every host, not killed with its own shell


def test_sweep_with_managed_ssh_cluster(lab, tmp_path):
    scratch_before = set(Path("/tmp").glob("clusterbench-*"))
    results = tmp_path / "results"
    run = cli("run", "scaling", "-i", lab.inventory, "--size", "tiny",
              "--workloads", "montecarlo,randomforest",
              "--schedulers", "synchronous,distributed,distributed-scatter,local-distributed",
              "--workers", "1,3", "--repeats", "1", "--results-dir", str(results))
    assert run.returncode == 0, run.stderr + run.stdout
    records = only_records(results)
    lab_hosts = {(r["scheduler"], tuple(r["worker_hosts"])) for r in records
                 if r["scheduler"].startswith("distributed")}
    assert lab_hosts == {(mode, hosts) for mode in ("distributed", "distributed-scatter")
                         for hosts in (("pi1",), ("pi1", "pi2", "desktop1"))}
    # The local cluster next to the lab's: this machine's workers, clamped to its cores.
    local = [r for r in records if r["scheduler"] == "local-distributed"]
    assert {r["workload"] for r in local} == {"montecarlo", "randomforest"}
    assert not {h for r in local for h in r["worker_hosts"]} & {"pi1", "pi2", "desktop1"}
    assert {r["workers"] for r in local} <= {1, 2, 3}
    scatter = {r["workload"] for r in records if r["scheduler"] == "distributed-scatter"}
    assert scatter == {"randomforest"}  # joblib-only mode
    assert all(r["verified"] for r in records)
    assert no_worker_left(lab)
    # the run's remote scratch directory went with its workers (lab hosts share this /tmp)
    assert set(Path("/tmp").glob("clusterbench-*")) <= scratch_before


def test_fastest_first_adds_the_unthrottled_desktop_before_the_pis(lab, tmp_path):
    results = tmp_path / "results"
    run = cli("run", "scaling", "-i", lab.inventory, "--size", "tiny", "--order",
              "fastest-first", "--workloads", "montecarlo", "--schedulers", "distributed",
              "--workers", "1,2", "--repeats", "1", "--results-dir", str(results))
    assert run.returncode == 0, run.stderr + run.stdout
    hosts = {r["workers"]: tuple(r["worker_hosts"]) for r in only_records(results)}
    assert hosts[1] == ("desktop1",)  # 1.0 CPU against the pis' 0.25
    addresses = {r["workers"]: r["worker_addresses"] for r in only_records(results)}
    desktop = next(host.address for host in lab.hosts if host.name == "desktop1")
    assert addresses[1][0].startswith(f"tls://{desktop}:")  # TLS: the lab leaves loopback
    assert hosts[2][0] == "desktop1" and hosts[2][1] in {"pi1", "pi2"}
    (run_dir,) = results.iterdir()
    speed = json.loads((run_dir / "environment.json").read_text())["calibration"]["worker_speed"]
    assert len(speed) == 3 and min(speed, key=speed.get).startswith("desktop1")
    assert no_worker_left(lab)


@pytest.mark.parametrize(("change", "message"), [
    ({"pi2": {"address": "{unused}"}}, "host 'pi2': cannot connect to {unused}:22"),
    ({"pi2": {"identity": ["{wrong_key}"]}}, "host 'pi2' ({pi2}:22): authentication failed"),
    ({"pi2": {"known_hosts": "{empty}"}}, "host 'pi2' ({pi2}:22): host key is not in {empty}; "
                                          "accept it with 'ssh-keyscan -p 22 {pi2} >> {empty}'"),
    ({"pi2": {"python": "/nonexistent/python3"}}, "pi2: command "),
    ({"pi2": {"python": "/usr/bin/python3"}}, "No module named"),
])
def test_bad_host_is_one_line_naming_it_and_nothing_is_left(lab, tmp_path, change, message):
    values = _placeholders(lab, tmp_path)
    change = {h: {k: _fill(v, values) for k, v in f.items()} for h, f in change.items()}
    up = cli("up", str(variant(lab, tmp_path, **change), ), "--timeout", "20")
    assert up.returncode == 3, up.stdout + up.stderr
    line = up.stderr.strip().splitlines()[-1]
    assert line.startswith("clusterbench: error: ") and _fill(message, values) in line
    assert "Traceback" not in up.stderr
    assert not list(state_dir().glob("cluster-lab.json"))
    assert no_worker_left(lab)


def test_min_workers_carries_on_without_the_bad_host(lab, tmp_path):
    path = variant(lab, tmp_path, pi2={"python": "/nonexistent/python3"}, min_workers=2)
    up = cli("up", str(path), "--timeout", "30")
    assert up.returncode == 0, up.stderr
    assert "left out pi2-0" in up.stderr
    assert "pi1-0" in up.stdout and "desktop1-0" in up.stdout
    # The dropped host's worker is listed as such, not as a running worker.
    (row,) = [line for line in up.stdout.splitlines() if "pi2-0" in line]
    assert "left out" in row and "running" not in row
    assert cli("down").returncode == 0
    assert no_worker_left(lab)


def test_many_workers_on_one_host_stay_under_sshds_session_limit(lab, tmp_path):
    # OpenSSH allows 10 sessions per connection (MaxSessions); 10 workers on the desktop
    # must be spread over 2 connections of at most 8 worker sessions each.
    path = variant(lab, tmp_path, desktop1={"workers": 10, "memory": "100MB"})
    up = cli("up", str(path), "--timeout", "120")
    assert up.returncode == 0, up.stdout + up.stderr
    assert ssh_connections(lab, "desktop1") == 2
    assert all(f"desktop1-{i}" in up.stdout for i in range(10))
    assert cli("down").returncode == 0
    assert no_worker_left(lab)


def test_handshakes_to_one_host_are_bounded_by_max_startups(lab):
    import asyncio

    from clusterbench.inventory.load import load_inventory
    from clusterbench.launchers.ssh import CONNECTIONS

    host = load_inventory(lab.inventory).host("desktop1").model_copy(update={"max_startups": 2})

    async def five_connections() -> tuple[int, int]:
        # One session per connection forces five handshakes to the same sshd.
        opened = await asyncio.gather(*(CONNECTIONS.acquire(host, sessions=1) for _ in range(5)))
        count = CONNECTIONS.count(host)
        for connection in opened:
            CONNECTIONS.release(host, connection)
        return len({id(c) for c in opened}), count

    distinct, count = asyncio.run(five_connections())
    assert (distinct, count) == (5, 5)
    assert CONNECTIONS.peak_handshakes["desktop1"] == 2  # concurrent, but never more than 2


def test_a_handshake_nobody_waits_for_any_more_is_closed(lab):
    import asyncio
    import contextlib

    from clusterbench.inventory.load import load_inventory
    from clusterbench.launchers.ssh import CONNECTIONS

    host = load_inventory(lab.inventory).host("desktop1")

    async def cancel_while_connecting() -> tuple[int, list[int]]:
        waiter = asyncio.ensure_future(CONNECTIONS.acquire(host))
        await asyncio.sleep(0.01)  # the handshake is under way
        waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiter
        counts = []
        for _ in range(30):  # the handshake finishes in the background, then is closed
            await asyncio.sleep(0.1)
            counts.append(ssh_connections(lab, "desktop1"))
        return CONNECTIONS.count(host), counts

    pooled, counts = asyncio.run(cancel_while_connecting())
    assert pooled == 0
    assert counts[-1] == 0, counts


def test_doctor_reports_each_host(lab, tmp_path):
    good = cli("doctor", "-i", lab.inventory)
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.count(" ok ") >= 3 or good.stdout.count("ok") >= 3
    bad = cli("doctor", "-i", str(variant(lab, tmp_path, pi2={"python": "/usr/bin/python3"})))
    assert bad.returncode == 1
    assert "FAIL" in bad.stdout and "dask missing" in bad.stdout
    assert "clusterbench missing" in " ".join(bad.stdout.split())  # workers run our code


def _placeholders(lab, tmp_path: Path) -> dict[str, str]:
    import asyncssh

    wrong = tmp_path / "wrong_key"
    wrong.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_private_key())
    wrong.chmod(0o600)
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    base = lab.hosts[-1].address.rsplit(".", 1)[0]
    return {"unused": f"{base}.250", "wrong_key": str(wrong), "empty": str(empty),
            "pi2": lab.host("pi2").address}


def _fill(value, values):  # noqa: ANN001, ANN202
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value.format(**values) if isinstance(value, str) else value
