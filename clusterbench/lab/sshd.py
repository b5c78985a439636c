"""One OpenSSH server per fake host: keys, config, start inside the namespace, readiness.

sshd is started with ``nsenter --net`` (not ``ip netns exec``, which remounts
/sys and hides the cgroup tree) and ``unshare --uts`` so that it, and every
session it forks, sees the fake host's own hostname.  ``nsenter``, ``unshare``
and ``sh`` all ``exec`` the next program, so the spawned PID *is* sshd's.
"""

from __future__ import annotations

import os
import shlex
import socket
import time
from pathlib import Path

from clusterbench.errors import LabError
from clusterbench.lab.netns import NETNS_DIR
from clusterbench.lab.system import SSHD, alive, cmdline, spawn

PRIVSEP_DIR = Path("/run/sshd")  # sshd exits 255 without it


def write_key(path: Path, comment: str) -> str:
    """Write a new ed25519 key to *path* (0600) and *path*.pub; return the public key line."""
    import asyncssh  # heavy import, only needed when a lab is made

    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment)
    _write_private(path, key.export_private_key("openssh"))
    public = key.export_public_key("openssh").decode().strip()
    path.with_name(path.name + ".pub").write_text(public + "\n")
    return public


def _write_private(path: Path, data: bytes) -> None:
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def config_text(address: str, host_key: Path, pid_file: Path, authorized_keys: Path) -> str:
    """The sshd_config of one fake host: key-only root login on *address*:22."""
    return "\n".join(
        [
            "Port 22",
            f"ListenAddress {address}",
            f"HostKey {host_key}",
            f"PidFile {pid_file}",
            f"AuthorizedKeysFile {authorized_keys}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",  # the lab directory may live under 1777 /tmp
            "PermitRootLogin prohibit-password",
            # Benchmarks open many sessions at once; the default 10:30:100 drops handshakes.
            "MaxStartups 100:30:200",
            # Fake hosts share this machine's home: a `pyenv init` in the login rc files
            # rehashes under one lock file (~/.pyenv/shims/.pyenv-shim), so N hosts logging
            # in at once waited for each other, up to 60 s each; separate machines do not
            # (32 hosts at 0.06 CPU: `up` 55 s -> 10.5 s).  The rc files still run; a login
            # that finds the lock taken skips the rehash instead of waiting.
            "SetEnv PYENV_REHASH_TIMEOUT=0",
            "UseDNS no",
            "PrintMotd no",
            "LogLevel INFO",
            "Subsystem sftp internal-sftp",
            "",
        ]
    )


def start(netns: str, hostname: str, config: Path, log: Path) -> int:
    """Start sshd for one fake host inside *netns* with its own *hostname*; return sshd's PID.

    sshd (``-E``) and the commands before it (their stderr) append to the same *log*.
    """
    PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    inner = f"hostname {shlex.quote(hostname)} && exec {SSHD} -D -f {shlex.quote(str(config))}"
    inner += f" -E {shlex.quote(str(log))}"
    cmd = ["nsenter", f"--net={NETNS_DIR / netns}", "unshare", "--uts", "sh", "-c", inner]
    return spawn(cmd, log)


def is_ours(pid: int | None, config: Path | str) -> bool:
    """Whether *pid* is alive and is the sshd started with *config* (guards against PID reuse)."""
    if pid is None or not alive(pid):
        return False
    # sshd rewrites its argv into one title: "sshd: /usr/sbin/sshd -D -f CONFIG ... [listener] ...".
    title = " ".join(cmdline(pid))
    return title.split(" ", 1)[0].rstrip(":").endswith("sshd") and f" {config} " in f"{title} "


def wait_ready(targets: dict[str, tuple[str, int, Path]], timeout: float = 10.0) -> None:
    """Wait until every sshd accepts TCP connections on its address, port 22.

    Parameters
    ----------
    targets
        ``{host: (address, sshd_pid, log_path)}``.
    timeout
        Seconds for all of them together.

    Raises
    ------
    LabError
        Naming the first host whose sshd died or did not listen in time, with its log's last line.
    """
    deadline = time.monotonic() + timeout
    waiting = dict(targets)
    while waiting:
        for host, (address, pid, log) in list(waiting.items()):
            if accepts(address):
                del waiting[host]
            elif not alive(pid):
                raise LabError(f"fake host {host}: sshd exited at start: {_log_tail(log)}")
        if waiting and time.monotonic() > deadline:
            host, (address, _, log) = next(iter(waiting.items()))
            raise LabError(
                f"fake host {host}: sshd not listening on {address}:22 "
                f"after {timeout:g} s; see {log}"
            )
        if waiting:
            time.sleep(0.02)


def accepts(address: str, timeout: float = 0.2) -> bool:
    """Whether something accepts TCP connections on *address*:22 (the readiness probe)."""
    try:
        with socket.create_connection((address, 22), timeout=timeout):
            return True
    except OSError:
        return False


def _log_tail(log: Path) -> str:
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except FileNotFoundError:
        lines = []
    return " | ".join(line.strip() for line in lines[-2:]) if lines else f"no output (see {log})"


def known_hosts_text(entries: dict[str, str]) -> str:
    """OpenSSH known_hosts lines keyed by address: ``{address: "ssh-ed25519 AAAA… comment"}``."""
    return "".join(f"{address} {' '.join(key.split()[:2])}\n" for address, key in entries.items())
