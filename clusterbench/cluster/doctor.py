"""Preflight checks of every host, run concurrently (``clusterbench doctor``).

Per SSH host: reachable and authenticated; the python exists; dask,
distributed, cloudpickle, numpy and scikit-learn versions equal the client's
(mismatches are "one of the most common user errors", distributed PR #2627);
the scheduler address/port reachable *from the host* (a listener is opened
here for the test); CPUs, memory, architecture.  Every failure comes with its fix.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import socket
from dataclasses import dataclass, field
from importlib import metadata

from clusterbench.cluster.spec import scheduler_address, scheduler_host
from clusterbench.errors import ClusterbenchError
from clusterbench.inventory.model import Inventory, SSHHost

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


@dataclass(frozen=True)
class HostReport:
    """The doctor's verdict on one host."""

    host: str
    ok: bool
    facts: dict = field(default_factory=dict)
    problems: tuple[str, ...] = ()


def local_versions() -> dict[str, str | None]:
    """The client's versions of the checked packages."""
    out: dict[str, str | None] = {}
    for name in CHECKED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


async def examine(inventory: Inventory, timeout: float = 30.0) -> list[HostReport]:
    """Check every host concurrently; local and queue hosts are reported as-is.

    The scheduler port is tested with a temporary listener at the scheduler address on
    this machine; with the scheduler on an inventory host (``scheduler.host``) that
    address is not ours, and the port is left unchecked (reported as such).
    """
    address = scheduler_address(inventory)
    if scheduler_host(inventory) is not None:
        return await _examine_all(inventory, address, 0, timeout)
    with socket.create_server((address, inventory.scheduler.port or 0)) as listener:
        listener.setblocking(False)
        return await _examine_all(inventory, address, listener.getsockname()[1], timeout)


async def _examine_all(inventory: Inventory, address: str, port: int, timeout: float
                       ) -> list[HostReport]:
    return list(await asyncio.gather(*[
        _examine_ssh(host, address, port, timeout) if isinstance(host, SSHHost)
        else _not_remote(host.name, host.launcher) for host in inventory.hosts
    ]))


async def _not_remote(name: str, launcher: str) -> HostReport:
    return HostReport(name, True, {"launcher": launcher})


async def _examine_ssh(host: SSHHost, address: str, port: int, timeout: float) -> HostReport:
    from clusterbench.launchers.ssh import run_remote

    python = host.python or "python3"
    command = (" && ".join([*host.setup, ""]) + f"{shlex.quote(python)} -c {shlex.quote(PROBE)} "
               f"{address} {port} {','.join(CHECKED_PACKAGES)}")
    try:
        result = await asyncio.wait_for(run_remote(host, command, timeout), timeout)
    except ClusterbenchError as exc:
        return HostReport(host.name, False, problems=(str(exc),))
    except asyncio.TimeoutError:
        return HostReport(host.name, False, problems=(f"no answer within {timeout:g} s",))
    if result.exit_status != 0:
        stderr = (result.stderr or "").strip().splitlines()
        return HostReport(host.name, False, problems=(
            f"{python} failed (exit {result.exit_status}): {stderr[-1] if stderr else ''}; "
            f"set 'python:' for this host to an interpreter with dask installed",))
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    problems = tuple(_version_problems(facts["versions"], python)) + tuple(
        _reach_problem(facts, address, port))
    return HostReport(host.name, not problems, facts, problems)


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
