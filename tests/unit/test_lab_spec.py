"""The lab spec grammar and the pure planning of a lab (no root, no processes)."""

from __future__ import annotations

from ipaddress import IPv4Network
from pathlib import Path

import pytest

from clusterbench.errors import LabError
from clusterbench.inventory.load import parse_inventory
from clusterbench.lab import HostGroup, Lab, format_spec, parse_spec
from clusterbench.lab.hosts import plan
from clusterbench.lab.inventory import inventory_data
from clusterbench.lab.netns import lab_subnet

GOOD = [
    ("pi:4x0.25cpu/512MB", [HostGroup("pi", 4, 0.25, 512_000_000)]),
    ("laptop:1x0.5", [HostGroup("laptop", 1, 0.5)]),
    ("desktop:1x1.0cpu", [HostGroup("desktop", 1, 1.0)]),
    ("nas:2x.5/1GiB", [HostGroup("nas", 2, 0.5, 2**30)]),
    ("big:1x2cpu@2w", [HostGroup("big", 1, 2.0, workers=2)]),
    ("big:1x2cpu/2GB@2w3t", [HostGroup("big", 1, 2.0, 2_000_000_000, 2, 3)]),
    ("t:1x1@4t", [HostGroup("t", 1, 1.0, threads=4)]),
    (
        " pi:4x0.25cpu/512MB , laptop:1x0.5cpu,desktop:1x1.0cpu ",
        [
            HostGroup("pi", 4, 0.25, 512_000_000),
            HostGroup("laptop", 1, 0.5),
            HostGroup("desktop", 1, 1.0),
        ],
    ),
]

BAD = [
    ("pi:4x", "lab spec 'pi:4x': expected KIND:COUNTxCPU[cpu][/MEMORY][@Nw][Nt]"),
    ("", "lab spec '': expected groups"),
    ("pi:4x0.25,", "lab spec 'pi:4x0.25,': expected groups"),
    ("Pi:1x1", "lab spec 'Pi:1x1': expected KIND"),
    ("pi4x0.25", "lab spec 'pi4x0.25': expected KIND"),
    ("pi:0x0.25", "lab spec 'pi:0x0.25': COUNT must be at least 1, got 0"),
    ("pi:1x0", "lab spec 'pi:1x0': CPU must be in (0, 2] (cores here), got 0"),
    ("pi:1x3cpu", "lab spec 'pi:1x3cpu': CPU must be in (0, 2] (cores here), got 3"),
    ("pi:1x1/lots", "lab spec 'pi:1x1/lots': MEMORY must be a size like 512MB, got 'lots'"),
    ("pi:1x1/1MB", "lab spec 'pi:1x1/1MB': MEMORY must be at least 64MiB"),
    ("pi:1x1@0w", "lab spec 'pi:1x1@0w': workers must be at least 1, got 0"),
    ("pi:1x1@", "lab spec 'pi:1x1@': expected workers/threads after '@'"),
    ("pi:1x1@2x", "lab spec 'pi:1x1@2x': expected KIND"),
    ("pi:1x1,pi:2x0.5", "kind 'pi' appears twice"),
]


@pytest.mark.parametrize(("text", "expected"), GOOD, ids=[text for text, _ in GOOD])
def test_good_specs(text: str, expected: list[HostGroup]) -> None:
    groups = parse_spec(text, ncores=2)
    assert list(groups) == expected
    assert parse_spec(format_spec(groups), ncores=2) == groups


@pytest.mark.parametrize(("text", "message"), BAD, ids=[text or "empty" for text, _ in BAD])
def test_bad_specs_name_the_bad_part(text: str, message: str) -> None:
    with pytest.raises(LabError) as info:
        parse_spec(text, ncores=2)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_hosts_are_always_numbered() -> None:
    pi, laptop = parse_spec("pi:3x0.25,laptop:1x0.5", ncores=2)
    assert pi.names == ("pi1", "pi2", "pi3")
    assert laptop.names == ("laptop1",)


def test_format_spec_is_canonical() -> None:
    groups = parse_spec("pi:4x.25/512MB,desktop:1x1@2w", ncores=2)
    assert format_spec(groups) == "pi:4x0.25cpu/512MB,desktop:1x1.0cpu@2w1t"


@pytest.mark.parametrize(
    ("subnet", "message"),
    [
        ("10.203.0.1/24", "expected a network like 10.203.0.0/24"),
        ("192.0.2.0/24", "must be a private IPv4 range"),
        ("8.8.8.0/24", "must be a private IPv4 range"),
        ("fd00::/64", "must be a private IPv4 range"),
        ("10.203.0.0/30", "too small for 2 hosts"),
    ],
)
def test_bad_subnets(subnet: str, message: str) -> None:
    with pytest.raises(LabError, match=message.replace("(", r"\(")):
        lab_subnet(subnet, 2)


@pytest.mark.parametrize("name", ["", "CB", "toolongname", "1cb", "c-b"])
def test_bad_lab_names(name: str) -> None:
    with pytest.raises(LabError, match="lab name"):
        Lab(name)


def test_plan_names_addresses_and_cgroups(tmp_path: Path) -> None:
    groups = parse_spec("pi:2x0.25cpu/512MB,desktop:1x1.0cpu", ncores=2)
    state = plan("cb", groups, tmp_path, IPv4Network("10.203.0.0/24"), "/venv/bin/python")
    assert (state.bridge, state.bridge_address) == ("cbbr0", "10.203.0.1")
    assert [(h.name, h.netns, h.veth, h.address) for h in state.hosts] == [
        ("pi1", "cb-pi1", "cbv1", "10.203.0.2"),
        ("pi2", "cb-pi2", "cbv2", "10.203.0.3"),
        ("desktop1", "cb-desktop1", "cbv3", "10.203.0.4"),
    ]
    assert state.host("pi1").cgroups == (
        "/sys/fs/cgroup/cpu/clusterbench-cb/pi1",
        "/sys/fs/cgroup/memory/clusterbench-cb/pi1",
    )
    assert state.host("desktop1").cgroups == ("/sys/fs/cgroup/cpu/clusterbench-cb/desktop1",)
    assert state.cgroup_parents == (
        "/sys/fs/cgroup/cpu/clusterbench-cb",
        "/sys/fs/cgroup/memory/clusterbench-cb",
    )


def test_planned_inventory_validates(tmp_path: Path) -> None:
    groups = parse_spec("pi:2x0.25cpu/512MB@2w,desktop:1x2cpu@1w2t", ncores=2)
    state = plan("cb", groups, tmp_path, IPv4Network("10.203.0.0/24"), "/venv/bin/python")
    inventory = parse_inventory(inventory_data(state))
    pi1, desktop1 = inventory.host("pi1"), inventory.host("desktop1")
    assert inventory.scheduler.address == "10.203.0.1"
    assert (pi1.workers, pi1.memory, pi1.cpus, pi1.tags) == (2, 256_000_000, 1, ("pi",))
    assert (desktop1.threads, desktop1.memory, desktop1.cpus) == (2, "auto", 2)
    assert pi1.identity == (str(tmp_path / "id_ed25519"),)
    assert pi1.known_hosts == str(tmp_path / "known_hosts")
