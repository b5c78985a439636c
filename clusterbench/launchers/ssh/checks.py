"""What the SSH launcher checks: before ``up`` (files asyncssh will read), for ``doctor``
(a probe run with the host's own python), and after ``down`` (leftover processes).

``doctor`` per host: reachable and authenticated; the python exists; dask, distributed,
cloudpickle, numpy and scikit-learn versions equal the client's (mismatches are "one of
the most common user errors", distributed PR #2627); the scheduler address/port
reachable *from the host*; CPUs, memory, architecture; sshd's limits; what the login shell
costs before any command runs (:mod:`.login`).  Every failure comes with its fix.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from clusterbench.constants import COULD_NOT_CHECK
from clusterbench.errors import ClusterbenchError, InventoryError
from clusterbench.inventory.safe_yaml import short
from clusterbench.launchers.base import HostReport, Probe
from clusterbench.launchers.ssh.commands import python_words, setup_steps
from clusterbench.launchers.ssh.host import SSHHost
from clusterbench.launchers.ssh.login import login_check

# clusterbench itself: the built-in workloads' task functions are pickled by reference,
# so a worker without it fails every point with ModuleNotFoundError.
CHECKED_PACKAGES = ("clusterbench", "dask", "distributed", "cloudpickle", "numpy",
                    "scikit-learn")

# Runs on the host with its own python: versions, machine facts, and a TCP connect
# to the scheduler address, all as one JSON line.
PROBE = r"""
import json, os, platform, socket, sys
from importlib import metadata
out = {"python": platform.python_version(), "cpus": os.cpu_count(), "arch": platform.machine()}
try:
    out["memory"] = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
except Exception:
    out["memory"] = None
versions = {}
for name in sys.argv[3].split(","):
    try:
        versions[name] = metadata.version(name)
    except metadata.PackageNotFoundError:
        versions[name] = None
out["versions"] = versions
try:
    if sys.argv[2] != "0":  # port 0: the scheduler is not ours to probe (remote scheduler)
        socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5).close()
    out["scheduler_reachable"] = True if sys.argv[2] != "0" else None
except OSError as exc:
    out["scheduler_reachable"] = str(exc)
print(json.dumps(out))
"""


def check_files(host: SSHHost, where: str) -> None:
    """asyncssh reads these when it connects; a missing one fails the host after ``up``.

    Raises
    ------
    InventoryError
        ``WHERE: field 'identity': PATH does not exist`` (or is not readable, ...).
    """
    files = [("ssh_config", host.ssh_config)] if host.ssh_config else []
    files += [("identity", path) for path in host.identity]
    files += [("known_hosts", host.known_hosts)] if host.known_hosts else []
    for field, name in files:
        problem = _unreadable(name) or (_public_key(name) if field == "identity" else None)
        if problem:
            raise InventoryError(f"{where}: field {field!r}: {short(name, 200)} {problem}")


#: How an OpenSSH public key line starts (``ssh-ed25519 AAAA...``, ``ecdsa-sha2-...``).
_PUBLIC_KEY = re.compile(rb"^(ssh|ecdsa|sk-ssh|sk-ecdsa)-[a-z0-9@.-]+ AAAA")


def _public_key(name: str) -> str | None:
    """A problem when *name* (readable) holds a public key: asyncssh needs the private one."""
    try:
        with Path(name).expanduser().open("rb") as handle:
            head = handle.read(200).lstrip()
    except OSError:  # readable a moment ago; connecting will say what is wrong
        return None
    if _PUBLIC_KEY.match(head):
        return ("is a public key; 'identity' takes the private key (the file without "
                "'.pub')")
    return None


def _unreadable(name: str) -> str | None:
    """Why the file *name* (``~`` expanded, as asyncssh does) cannot be read, or None."""
    try:
        path = Path(name).expanduser()
    except (RuntimeError, ValueError):  # ~user that does not exist, NUL in the name
        return "is not a usable path"
    try:
        if not path.exists():
            return "does not exist"
        if not path.is_file():
            return "is not a file"
    except (OSError, ValueError) as exc:
        return f"cannot be read ({getattr(exc, 'strerror', None) or exc})"
    if not os.access(path, os.R_OK):
        return "is not readable by this user"
    return None


def local_versions() -> dict[str, str | None]:
    """The client's versions of the checked packages."""
    out: dict[str, str | None] = {}
    for name in CHECKED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


async def examine(host: SSHHost, probe: Probe) -> HostReport:
    """Run :data:`PROBE` on *host* with its python; the doctor's verdict."""
    from clusterbench.launchers.ssh.connections import run_remote

    python = host.python or "python3"
    command = (" && ".join([*setup_steps(host), ""])
               + f"{python_words(python)} -c {shlex.quote(PROBE)} "
               f"{probe.address} {probe.port} {','.join(CHECKED_PACKAGES)}")
    try:
        result = await asyncio.wait_for(run_remote(host, command, probe.timeout), probe.timeout)
    except ClusterbenchError as exc:
        return HostReport(host.name, False, problems=(str(exc),))
    except asyncio.TimeoutError:
        return HostReport(host.name, False, problems=(f"no answer within {probe.timeout:g} s",))
    if result.exit_status != 0:
        stderr = (result.stderr or "").strip().splitlines()
        return HostReport(host.name, False, problems=(
            f"{python} failed (exit {result.exit_status}): {stderr[-1] if stderr else ''}; "
            f"set 'python:' for this host to an interpreter with dask installed",))
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    problems = tuple(_version_problems(facts["versions"], python)) + tuple(
        _reach_problem(facts, probe.address, probe.port))
    facts["warnings"] = await _sshd_warnings(host, probe.timeout)
    facts["login_s"], login = await login_check(host, probe.timeout)
    facts["warnings"] += login
    return HostReport(host.name, not problems, facts, problems)


#: The effective sshd settings (root), else the config file (readable by all on most systems).
SSHD_CONFIG = "sshd -T 2>/dev/null || /usr/sbin/sshd -T 2>/dev/null || cat /etc/ssh/sshd_config"


async def _sshd_warnings(host: SSHHost, timeout: float) -> list[str]:
    """Advice when sshd's MaxStartups/MaxSessions are below what the host's workers need
    (nothing when the settings cannot be read)."""
    from clusterbench.launchers.ssh.connections import run_remote

    try:
        result = await asyncio.wait_for(run_remote(host, SSHD_CONFIG, timeout), timeout)
    except (ClusterbenchError, asyncio.TimeoutError):
        return []
    return sshd_warnings(host, sshd_limits(result.stdout or "")) if result.stdout else []


def sshd_limits(text: str) -> dict[str, str]:
    """``maxstartups`` and ``maxsessions`` of an sshd_config or ``sshd -T`` text: the first
    value wins, as in sshd; ``Match`` blocks and ``Include`` are not followed; sshd's
    defaults (10:30:100, 10) when absent."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if words and words[0].lower() == "match":
            break
        if len(words) > 1 and words[0].lower() in ("maxstartups", "maxsessions"):
            found.setdefault(words[0].lower(), words[1])
    return {"maxstartups": found.get("maxstartups", "10:30:100"),
            "maxsessions": found.get("maxsessions", "10")}


def sshd_warnings(host: SSHHost, limits: dict[str, str]) -> list[str]:
    """What *host*'s workers need of sshd against *limits* (:func:`sshd_limits`)."""
    from clusterbench.launchers.ssh.connections import SESSIONS_PER_CONNECTION

    connections = -(-host.workers // SESSIONS_PER_CONNECTION)
    handshakes = min(connections, host.max_startups)
    sessions = min(host.workers, SESSIONS_PER_CONNECTION) + 1  # + one short command
    warnings = []
    try:
        start = int(limits["maxstartups"].split(":")[0])
        max_sessions = int(limits["maxsessions"])
    except ValueError:
        return []
    if handshakes > start:
        warnings.append(f"sshd MaxStartups {limits['maxstartups']} lets {start} handshakes "
                        f"wait at once, {handshakes} are opened; set max_startups: {start} "
                        f"for this host or raise MaxStartups")
    if max_sessions < sessions:
        warnings.append(f"sshd MaxSessions {max_sessions}: {host.workers} worker(s) use up to "
                        f"{sessions} sessions per connection; raise MaxSessions to {sessions}")
    return warnings


def _version_problems(remote: dict[str, str | None], python: str) -> list[str]:
    mine = local_versions()
    problems = []
    for name in CHECKED_PACKAGES:
        if remote.get(name) != mine[name]:
            have = remote.get(name) or "missing"
            fix = ("install this clusterbench checkout (pip install <checkout>)"
                   if name == "clusterbench" else f"install '{name}=={mine[name]}'")
            problems.append(f"{name} {have} here vs {mine[name]} on the client; {fix} "
                            f"for {python}")
    return problems


def _reach_problem(facts: dict, address: str, port: int) -> list[str]:
    if facts.get("scheduler_reachable") in (True, None):  # None: not ours to check
        return []
    return [f"cannot reach the scheduler address {address}:{port} from this host "
            f"({facts.get('scheduler_reachable')}); open the port or set scheduler.address"]


async def sweep(hosts: Sequence[SSHHost], session: str) -> dict[str, list[str]]:
    """Processes of *session* still alive on *hosts* after close; killed if any.

    Hosts are checked concurrently, one remote command each (:func:`.sweep.sweep_host`:
    wait for exit, list, kill, remove the session directory; its ``rm`` does not spell
    the session path, which another lab host's check, in one PID space, would report).
    """
    from clusterbench.launchers.ssh.sweep import sweep_host

    found = await asyncio.gather(*[_guarded(sweep_host(h, session)) for h in hosts])
    return {host.name: remaining for host, remaining in zip(hosts, found, strict=True)
            if remaining}


def _unchecked(lines: list[str]) -> bool:
    return bool(lines) and lines[0].startswith(COULD_NOT_CHECK)


async def _guarded(check: object) -> list[str]:
    """*check*'s result, or a one-item list saying why the host could not be checked."""
    try:
        return await check  # type: ignore[misc]
    except (ClusterbenchError, OSError) as exc:
        return [f"{COULD_NOT_CHECK}: {exc or type(exc).__name__}"]
