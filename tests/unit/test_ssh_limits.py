"""The SSH handshake bounds (issue 16): global over all hosts, per host its ``max_startups``.

Pure asyncio: fake handshakes that wait on events, never on the clock; nothing asserts
a time.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from clusterbench.errors import InventoryError
from clusterbench.launchers.ssh.commands import credentials_script
from clusterbench.launchers.ssh.limits import (
    DEFAULT_HANDSHAKES,
    HANDSHAKES_ENV,
    HandshakeLimiter,
    handshake_limit,
)


async def _handshakes(limiter: HandshakeLimiter, hosts: dict[str, int], per_host: int
                      ) -> tuple[int, dict[str, int]]:
    """Run *per_host* fake handshakes to every host (``{name: max_startups}``) at once;
    each holds its slot until every task has had the chance to start.  Returns the peak
    over all hosts and per host."""
    release = asyncio.Event()
    entered = 0

    async def handshake(host: str, limit: int) -> None:
        nonlocal entered
        async with limiter.slot(host, limit):
            entered += 1
            await release.wait()

    tasks = [asyncio.ensure_future(handshake(host, limit))
             for host, limit in hosts.items() for _ in range(per_host)]
    for _ in range(5):  # let every task run up to its semaphore
        await asyncio.sleep(0)
    first_wave = entered
    release.set()
    await asyncio.gather(*tasks)
    assert entered == len(tasks)  # everyone got through in the end
    return first_wave, dict(limiter.peak)


def test_global_bound_caps_handshakes_over_all_hosts():
    limiter = HandshakeLimiter(total=8)
    first, peaks = asyncio.run(_handshakes(limiter, {f"h{i}": 4 for i in range(20)}, 1))
    assert first == 8 and limiter.peak_total == 8
    assert all(peak == 1 for peak in peaks.values())


def test_hosts_run_in_parallel_up_to_the_global_bound():
    limiter = HandshakeLimiter(total=32)
    first, _ = asyncio.run(_handshakes(limiter, {f"h{i}": 4 for i in range(16)}, 1))
    assert first == 16  # no host waits for another while slots are free


def test_per_host_max_startups_is_respected_under_a_large_global_bound():
    limiter = HandshakeLimiter(total=100)
    first, peaks = asyncio.run(_handshakes(limiter, {"pi": 2, "desktop": 5}, 10))
    assert peaks == {"pi": 2, "desktop": 5}
    assert first == 7


def test_a_host_waiting_for_its_own_limit_holds_no_global_slot():
    # 1 global slot too many for "busy" alone: the spare one must go to "other".
    limiter = HandshakeLimiter(total=3)
    first, peaks = asyncio.run(_handshakes(limiter, {"busy": 2, "other": 4}, 6))
    assert peaks["busy"] == 2 and peaks["other"] == 1 and first == 3


def test_slot_is_given_back_when_the_handshake_fails():
    limiter = HandshakeLimiter(total=1)

    async def failing() -> None:
        async with limiter.slot("h", 1):
            raise OSError("refused")

    async def run() -> None:
        for _ in range(3):
            with pytest.raises(OSError):
                await failing()
        async with limiter.slot("h", 1):  # would wait forever if a slot leaked
            pass

    asyncio.run(asyncio.wait_for(run(), 10))
    assert limiter.in_flight == {"h": 0}


@pytest.mark.parametrize("value, expected", [(None, DEFAULT_HANDSHAKES), ("", DEFAULT_HANDSHAKES),
                                             ("64", 64), (" 1 ", 1)])
def test_handshake_limit_from_environment(value, expected):
    environ = {} if value is None else {HANDSHAKES_ENV: value}
    assert handshake_limit(environ) == expected


@pytest.mark.parametrize("value", ["0", "-3", "many", "2.5"])
def test_bad_handshake_limit_is_one_line_naming_the_variable(value):
    with pytest.raises(InventoryError, match=HANDSHAKES_ENV):
        handshake_limit({HANDSHAKES_ENV: value})


def test_credentials_script_writes_every_file_in_one_script_without_expanding_it():
    files = {"ca.pem": "-----BEGIN $HOME `id`\nabc\n", "tls.key": "no newline"}
    script = credentials_script("/tmp/clusterbench-ab/tls", files, "t0k")
    assert script.startswith("umask 077\n")
    assert script.count("<<'CLUSTERBENCH_EOF_t0k'") == 2  # quoted: no expansion
    assert "-----BEGIN $HOME `id`\nabc\nCLUSTERBENCH_EOF_t0k\n" in script
    assert "no newline\nCLUSTERBENCH_EOF_t0k\n" in script
    assert "mv -f /tmp/clusterbench-ab/tls/tls.key.$$ /tmp/clusterbench-ab/tls/tls.key" in script


def test_credentials_script_refuses_a_text_containing_its_end_line():
    with pytest.raises(ValueError, match="here-document"):
        credentials_script("/x", {"ca.pem": "CLUSTERBENCH_EOF_t\n"}, "t")


def test_worker_reads_tls_files_from_its_terminal_before_setup_and_exec(tmp_path):
    from clusterbench.launchers.ssh.commands import terminal_tls_input, worker_command
    from clusterbench.launchers.ssh.host import SSHHost

    host = SSHHost(launcher="ssh", name="pi", address="10.0.0.2", setup=("source env",))
    end = "CLUSTERBENCH_EOF_ab12"
    command = worker_command(host, "pi-0", "tls://10.0.0.1:8786", "s1", tls=True,
                             tls_input=(["ca.pem", "tls.key"], end))
    read = command.index("(umask 077 && sed -n '/^CLUSTERBENCH_EOF_ab12$/q;p' > "
                         "/tmp/clusterbench-s1/tls/ca.pem.$$)")
    assert command.index("tls.key.$$") < command.index("source env")
    assert read < command.index("source env") < command.index(" && exec env ")
    assert "BEGIN" not in command  # the texts travel on the terminal, never in ps
    assert terminal_tls_input({"ca.pem": "A\n", "tls.key": "B"}, end) == \
        f"A\n{end}\nB\n{end}\n"


def test_terminal_tls_steps_and_input_round_trip_through_sh(tmp_path):
    # A pipe, not a terminal: sed may read ahead there, so feed one file per sed here;
    # the lab tests (test_tls_lab) run the real PTY path.
    import subprocess

    from clusterbench.launchers.ssh import commands

    texts = {"ca.pem": "-----BEGIN CERTIFICATE-----\nMIIB$x`y`\n-----END CERTIFICATE-----\n"}
    end = "CLUSTERBENCH_EOF_0"
    session = f"t{tmp_path.name}"
    where = commands.tls_dir(session)
    script = " && ".join(commands.terminal_tls_steps(session, list(texts), end))
    try:
        subprocess.run(["sh", "-c", script], input=commands.terminal_tls_input(texts, end),
                       text=True, check=True, timeout=30)
        written = Path(where, "ca.pem")
        assert written.read_text() == texts["ca.pem"]
        assert written.stat().st_mode & 0o077 == 0
    finally:
        subprocess.run(["rm", "-rf", commands.session_dir(session)], check=False)


@pytest.mark.parametrize("text, safe", [("-----BEGIN X-----\nabc+/=\n", True),
                                        ("a\x04b\n", False), ("caf\u00e9\n", False),
                                        ("x" * 2000, False), ("a\rb\n", False)])
def test_only_plain_text_lines_go_through_a_terminal(text, safe):
    from clusterbench.launchers.ssh.commands import tty_safe

    assert tty_safe(text) is safe


class _Files:
    """Credentials with given file texts (what SSHWorker reads of them)."""

    def __init__(self, directory: Path, texts: dict[str, str]) -> None:
        self.paths = {}
        for name, text in texts.items():
            self.paths[name] = directory / name
            self.paths[name].write_text(text)

    def files(self) -> dict[str, Path]:
        return self.paths


def test_worker_sends_pem_files_on_its_terminal_and_errors_show_the_short_command(tmp_path):
    from clusterbench.launchers.ssh.host import SSHHost
    from clusterbench.launchers.ssh.processes import SSHWorker

    host = SSHHost(launcher="ssh", name="pi", address="10.0.0.2")
    pem = {"ca.pem": "-----BEGIN CERTIFICATE-----\nQUJD\n-----END CERTIFICATE-----\n"}
    worker = SSHWorker("tls://10.0.0.1:1", "pi-0", host, "s2", _Files(tmp_path, pem))
    assert worker.stdin is not None and worker.stdin.startswith(pem["ca.pem"])
    assert "sed -n" in worker.command and "sed -n" not in worker.shown
    assert worker.shown.endswith(worker.command.rpartition(" && exec env ")[2])


def test_worker_falls_back_to_a_copy_command_for_files_a_terminal_would_change(tmp_path):
    from clusterbench.launchers.ssh.host import SSHHost
    from clusterbench.launchers.ssh.processes import SSHWorker

    host = SSHHost(launcher="ssh", name="pi", address="10.0.0.2")
    worker = SSHWorker("tls://10.0.0.1:1", "pi-0", host, "s2",
                       _Files(tmp_path, {"ca.pem": "binary\x03\x04\n"}))
    assert worker.stdin is None and "sed -n" not in worker.command
