"""doctor measures what a host's login shell costs and names what its rc files ran, on
real lab hosts (real sshd, real bash, real ``pyenv init``).

One host's sshd gets its own home (``SetEnv HOME=...``, sshd reloaded with SIGHUP), whose
``~/.bashrc`` sleeps 1.5 s and runs ``pyenv init``; the other logs in with this machine's
own rc files.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.fixtures.lab import make_lab
from tests.helpers import cli

SLEEP_S = 1.5


def _pyenv_root() -> Path:
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    if not (root / "bin" / "pyenv").exists():
        reason = f"no pyenv at {root} (the test's rc file runs a real 'pyenv init')"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    return root


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    return make_lab(request, tmp_path_factory, "plain:1x1.0cpu,rc:1x1.0cpu")


@pytest.fixture(scope="module")
def own_home(lab, tmp_path_factory):
    """rc1 logs in with a home of its own whose ~/.bashrc is slow and runs pyenv init."""
    root = _pyenv_root()
    home = tmp_path_factory.mktemp("home")
    (home / ".bashrc").write_text(
        f"sleep {SLEEP_S}\nexport PYENV_ROOT={root}\nexport PATH=\"$PYENV_ROOT/bin:$PATH\"\n"
        'eval "$(pyenv init -)"\n')
    host = lab.host("rc1")
    config = Path(host.sshd_config)
    text = config.read_text()
    assert "SetEnv PYENV_REHASH_TIMEOUT=0\n" in text  # sshd takes the first SetEnv line only
    config.write_text(text.replace("SetEnv PYENV_REHASH_TIMEOUT=0\n",
                                   f"SetEnv PYENV_REHASH_TIMEOUT=0 HOME={home}\n"))
    os.kill(host.sshd_pid, signal.SIGHUP)  # sshd re-executes itself (same PID), new config
    _wait_for_home(lab, host.address, str(home))
    return home


def _wait_for_home(lab, address: str, home: str, timeout: float = 20.0) -> None:
    """Poll real logins until the reloaded sshd hands out *home*."""
    directory = Path(lab.directory)
    deadline = time.monotonic() + timeout
    seen = ""
    while time.monotonic() < deadline:
        result = subprocess.run(
            ["ssh", "-i", str(directory / "id_ed25519"), "-o", "BatchMode=yes",
             "-o", f"UserKnownHostsFile={directory / 'known_hosts'}",
             "-o", "ConnectTimeout=5", f"root@{address}", "echo $HOME"],
            capture_output=True, text=True, timeout=30)
        seen = result.stdout.strip() or result.stderr.strip()
        if seen == home:
            return
        time.sleep(0.2)
    raise AssertionError(f"rc1's sshd did not take its new home within {timeout} s: {seen}")


def _rows(stdout: str) -> dict[str, list[list[str]]]:
    """``{host: [cells of each row]}`` of doctor's table, a wrapped cell joined again."""
    rows: dict[str, list[list[str]]] = {}
    last: list[str] | None = None
    for line in stdout.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if len(cells) != 7:
            last = None
        elif cells[0] in ("plain1", "rc1"):
            last = cells
            rows.setdefault(cells[0], []).append(cells)
        elif last is not None and not cells[0]:  # the wrapped rest of the row above
            last[6] = f"{last[6]} {cells[6]}"
    return rows


def test_doctor_times_the_login_and_names_the_rc_line_that_ran(lab, own_home):
    result = cli("doctor", "-i", lab.inventory)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = _rows(result.stdout)
    login = {host: float(cells[0][5].removesuffix(" s")) for host, cells in rows.items()}
    assert login["rc1"] >= SLEEP_S, rows  # the sleep in its rc file is part of every login
    assert login["plain1"] < login["rc1"], rows
    warnings = [cells[6] for cells in rows["rc1"] if cells[1] == "warn"]
    assert any(w.startswith("logging in takes") and "pyenv init (~/.bashrc:4)" in w
               and w.endswith("[[ $- == *i* ]] || return')") for w in warnings), warnings
