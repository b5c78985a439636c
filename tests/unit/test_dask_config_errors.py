"""A malformed dask config file (dask reads every one at import) is one line naming the
file, exit 2, no traceback, for every command."""

from __future__ import annotations

import subprocess
import sys

import pytest
from dask.config import _load_config_file

from clusterbench.cli import _dask_config_error

MALFORMED = [
    ("jobqueue:\n  slurm:\n    memory: [1GB\n", "malformed at line 3, column 13 "
     "(while parsing a flow sequence)"),
    ("- a\n- b\n", "malformed (config files must have a dict as the top level object, got a "
     "list instead)"),
]


@pytest.mark.parametrize(("text", "expected"), MALFORMED)
def test_dask_s_message_becomes_one_line_naming_the_file(tmp_path, text, expected):
    path = tmp_path / "jobqueue.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as raised:  # dask's own reader, as at import
        _load_config_file(str(path))
    error = _dask_config_error(raised.value)
    assert error is not None and error.exit_code == 2
    assert str(error).startswith(f"dask config file {path}: {expected}; fix it")
    assert "\n" not in str(error)


def test_other_value_errors_are_left_alone():
    assert _dask_config_error(ValueError("something else")) is None


def test_every_command_says_so_in_one_line(tmp_path):
    (tmp_path / "bad.yaml").write_bytes(b"\xe9\n")
    inventory = tmp_path / "inv.yml"
    inventory.write_text("hosts: [{name: a, launcher: local}]\n")
    done = subprocess.run([sys.executable, "-m", "clusterbench", "inventory", "check",
                           str(inventory)], capture_output=True, text=True, timeout=120,
                          env={"DASK_CONFIG": str(tmp_path), "PATH": "/usr/bin:/bin",
                               "HOME": str(tmp_path)})
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"clusterbench: error: dask config file {tmp_path}/bad.yaml: malformed ('utf-8' codec "
        "can't decode byte 0xe9 in position 0: invalid continuation byte); fix it, or move it "
        "out of dask's config directories (~/.config/dask, DASK_CONFIG)"]
