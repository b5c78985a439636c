"""Every registered launcher meets the contract; the registry finds, refuses and adds."""

from __future__ import annotations

import pytest

from clusterbench.errors import InventoryError
from clusterbench.inventory.load import parse_inventory
from clusterbench.launchers.base import Launcher
from clusterbench.launchers.local import LAUNCHER as LOCAL
from clusterbench.launchers.local import LocalHost
from clusterbench.launchers.registry import (
    BUILTIN,
    ENV_VAR,
    host_model,
    launcher_for,
    launcher_names,
    register_launcher,
    unregister_launcher,
)
from tests.launcher_contract import assert_launcher_contract

# The fields each built-in launcher's host needs besides name and launcher.
SAMPLE_FIELDS = {"local": {"workers": 2}, "ssh": {"address": "127.0.0.1", "workers": 2},
                 **{name: {"jobs": 2} for name in ("slurm", "pbs", "sge", "lsf", "htcondor")}}


def test_every_built_in_launcher_has_a_sample_host():
    assert set(SAMPLE_FIELDS) == set(BUILTIN)


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_built_in_launcher_meets_the_contract(name):
    host = host_model(name).model_validate({"name": "h", "launcher": name, **SAMPLE_FIELDS[name]})
    assert_launcher_contract(launcher_for(name), host)


def test_unknown_launcher_names_the_valid_ones_and_the_closest():
    with pytest.raises(InventoryError, match=r"unknown launcher 'slrum'; valid: local, ssh, "
                                             r"slurm.*did you mean 'slurm'"):
        launcher_for("slrum")


def test_a_registered_launcher_joins_the_inventory_union():
    class Twin(Launcher):
        name = "twin"
        host_model = LocalHost  # launcher: Literal["local"] -> the twin needs its own model

        def worker_specs(self, host, context):
            return LOCAL.worker_specs(host, context)

    class TwinHost(LocalHost.__base__):  # type: ignore[name-defined,misc]
        launcher: str

    Twin.host_model = TwinHost
    register_launcher("twin", Twin())
    try:
        assert "twin" in launcher_names()
        inventory = parse_inventory({"hosts": [{"name": "a", "launcher": "twin"}]})
        assert type(inventory.hosts[0]) is TwinHost
    finally:
        unregister_launcher("twin")
    assert "twin" not in launcher_names()
    with pytest.raises(InventoryError, match="unknown launcher 'twin'"):
        parse_inventory({"hosts": [{"name": "a", "launcher": "twin"}]}, source="x.yml")


@pytest.mark.parametrize("value", ["subprocess", "subprocess=module_without_colon"])
def test_a_malformed_environment_entry_is_one_line(monkeypatch, value):
    monkeypatch.setenv(ENV_VAR, value)
    with pytest.raises(InventoryError, match=f"{ENV_VAR}: '{value}' is not name=module:attribute"):
        launcher_names()


def test_an_environment_entry_must_name_a_launcher(monkeypatch):
    monkeypatch.setenv(ENV_VAR, "fake=clusterbench.launchers.registry:BUILTIN")
    with pytest.raises(InventoryError, match="launcher 'fake': .* is not a clusterbench"):
        launcher_for("fake")


def test_in_code_inventory_errors_keep_the_host_index():
    with pytest.raises(InventoryError, match=r"hosts\[1\] 'b': field 'port': must be a positive"):
        parse_inventory({"hosts": [{"name": "a"}, {"name": "b", "launcher": "ssh",
                                                   "address": "x", "port": "many"}]})
