"""An SSH worker whose scheduler is gone before it registers exits by itself.

The real worker command (``worker_command``: the shell steps and ``dask_worker`` with
clusterbench's flags) runs in a local ``sh``, pointed at a loopback port nobody listens
on: what a worker whose launch was still on its way finds when ``up`` was interrupted
or its daemon SIGKILLed.  Without ``--death-timeout`` distributed's register loop
retries forever; the inventory's ``worker_extra_args`` shortens it here (the last flag
wins), which also checks that users can override clusterbench's default.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time

import pytest

from clusterbench.inventory.load import parse_inventory
from clusterbench.launchers.ssh.commands import DEATH_TIMEOUT_SECONDS, session_dir, worker_command
from tests.fixtures.daemons import free_port

pytestmark = pytest.mark.integration


def test_a_worker_that_never_reaches_its_scheduler_exits(tmp_path):
    death = 3
    inventory = parse_inventory({"cluster": "orphan", "scheduler": {"address": "127.0.0.1"},
                                 "hosts": [{"name": "box", "launcher": "ssh",
                                            "address": "127.0.0.1", "workers": 1,
                                            "worker_extra_args": ["--death-timeout",
                                                                  str(death)]}]})
    session = f"orphan{secrets.token_hex(3)}"
    command = worker_command(inventory.hosts[0], "box-0", f"tcp://127.0.0.1:{free_port()}",
                             session)
    assert f"--death-timeout {DEATH_TIMEOUT_SECONDS}" in command  # clusterbench's default
    start = time.monotonic()
    process = subprocess.Popen(["sh", "-c", command], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=60 + death)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        shutil.rmtree(session_dir(session), ignore_errors=True)
    waited = time.monotonic() - start
    assert process.returncode != 0, output
    assert "timed out" in output.lower(), output[-2000:]
    assert waited >= death, f"exited after {waited:.1f} s, before its death timeout"
