"""Hostile inventories through the real CLI: ``inventory check`` refuses the nastiest fuzz
inputs in one line with exit 2, and ``up`` refuses what ``check`` refuses before it spawns
anything (no daemon process, no state file)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from clusterbench.cluster.lifecycle import state_dir
from tests.helpers import ROOT, cli

pytestmark = pytest.mark.integration

NASTY = {
    "bomb.yml": ("a0: &a0 [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n"
                 + "".join(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]\n"
                           for i in range(1, 9))
                 + "hosts:\n  - {name: a, env: {X: *a8}}\n").encode(),
    "nested.yml": b"hosts: " + b"[" * 10_000,
    "latin1.yml": "hosts:\n  - {name: caf\u00e9}\n".encode("latin-1"),
    "nul.yml": b"hosts:\n  - {name: a\x00b}\n",
    "duplicate.yml": b"hosts:\n  - name: a\n    threads: 1\n    threads: 2\n",
    "recursive.yml": b"hosts: &h\n  - {name: a, tags: *h}\n",
    "huge.yml": b"hosts:\n  - {name: a, workers: 100000000000000000000000, memory: 1e400}\n",
    "control_name.yml": b"hosts:\n  - {name: \"a\\nb\\rc\\e[2J\", launcher: [ssh]}\n",
    "slurm_no_address.yml": b"hosts:\n  - {name: hpc, launcher: slurm, queue: debug}\n",
}


@pytest.mark.parametrize("name", sorted(NASTY))
def test_inventory_check_refuses_nasty_files_in_one_line(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(NASTY[name])
    started = time.monotonic()
    done = cli("inventory", "check", str(path), timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"clusterbench: error: {path}: "), lines
    assert "Traceback" not in done.stderr and "\x1b" not in done.stderr
    assert time.monotonic() - started < 30


def _daemons(marker: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if "clusterbench.cluster.daemon" in cmdline and marker in cmdline:
            found.append(process)
    return found


@pytest.mark.parametrize("inventory", [
    "hosts:\n  - {name: hpc, launcher: slurm, queue: debug}\n",
    "scheduler: {host: pi1}\nhosts:\n  - {name: pi1, launcher: ssh, address: 10.0.0.2, "
    "identity: /nonexistent/id_ed25519}\n",
], ids=["slurm without scheduler address", "missing identity file"])
def test_up_spawns_nothing_for_an_inventory_check_refuses(tmp_path, inventory):
    path = tmp_path / "refused.yml"
    path.write_text(inventory)
    check = cli("inventory", "check", str(path), timeout=60)
    assert check.returncode == 2, check.stdout + check.stderr

    started = time.monotonic()
    up = subprocess.Popen([sys.executable, "-m", "clusterbench", "up", str(path)], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=os.environ.copy())
    seen: list[psutil.Process] = []
    while up.poll() is None and time.monotonic() - started < 60:
        seen += _daemons(str(path))  # watched while `up` runs: a daemon that died counts too
        time.sleep(0.02)
    stdout, stderr = up.communicate(timeout=60)
    elapsed = time.monotonic() - started

    assert up.returncode == 2, stdout + stderr
    assert stderr.strip() == check.stderr.strip()  # the very line `check` printed
    assert "Traceback" not in stderr and elapsed < 30
    assert not seen and not _daemons(str(path))
    assert os.environ["CLUSTERBENCH_STATE_DIR"] == str(state_dir())
    assert not [p.name for p in Path(state_dir()).iterdir()]  # no state file, no daemon log
