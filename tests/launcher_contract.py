"""The launcher contract as one assertion, run over every launcher (built-in ones in
tests/unit/test_launcher_contract.py, a plug-in from its own test file)."""

from __future__ import annotations

import asyncio
from typing import Any

from clusterbench.inventory.model import HostBase
from clusterbench.launchers.base import Launcher, SpecContext
from clusterbench.launchers.registry import launcher_for

CONTEXT = SpecContext(scheduler_address="127.0.0.1", cluster="contract", session="S0")


def assert_launcher_contract(launcher: Launcher, host: Any) -> None:
    """What every launcher promises for a valid *host* of its own, without starting anything.

    The specs register exactly the slots (one name each, on this host), the dry run is
    text, the host model round-trips (``run --resume`` compares dumped hosts), a job-state
    query of no jobs and a cleanup of no hosts do nothing, and the registry finds it.
    """
    assert isinstance(launcher, Launcher)
    assert issubclass(launcher.host_model, HostBase) and isinstance(host, launcher.host_model)
    assert host.launcher == launcher.name and launcher_for(launcher.name) is launcher
    specs = launcher.worker_specs(host, CONTEXT)
    slots = launcher.slots(host, CONTEXT)
    assert len(slots) == host.worker_count == len({slot.name for slot in slots})
    assert set(specs) == {slot.spec_name for slot in slots}
    assert all(slot.host == host.name and slot.threads == host.worker_threads for slot in slots)
    assert all(set(spec) <= {"cls", "options", "group"} and isinstance(spec["options"], dict)
               for spec in specs.values())
    described = launcher.describe(host, CONTEXT, "tcp://127.0.0.1:8786")
    assert described and all(isinstance(title, str) and isinstance(text, str) and text
                             for title, text in described)
    assert launcher.host_model.model_validate(host.model_dump(mode="json")) == host
    assert launcher.job_state(host.name, []) == {}
    assert asyncio.run(launcher.cleanup([], "S0")) == {}
    if launcher.hosts_scheduler:
        assert isinstance(launcher.scheduler_address(host), str)
        assert isinstance(launcher.tunnel(host), str)
