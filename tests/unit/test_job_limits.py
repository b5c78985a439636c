"""`jobs:` above the site's submit limit: the inventory's ``max_jobs`` and SLURM's
MaxSubmitJobs (``sacctmgr``), refused in one line before anything is submitted."""

from __future__ import annotations

import dataclasses

import pytest

from clusterbench.errors import InventoryError
from clusterbench.inventory.load import parse_inventory
from clusterbench.launchers.jobqueue import SLURM
from clusterbench.launchers.jobqueue.limits import (
    check_job_limit,
    job_limit_problem,
    parse_assoc,
    slurm_submit_limit,
)

WHERE = "inventory.yml: hosts[0] 'hpc'"


def host(**fields):
    data = {"cluster": "c", "hosts": [{"name": "hpc", "launcher": "slurm", "jobs": 40,
                                       **fields}]}
    return parse_inventory(data, source="inventory.yml").hosts[0]


def test_max_jobs_is_an_inventory_field_of_queue_hosts():
    assert host(max_jobs=32).max_jobs == 32
    assert host().max_jobs is None
    with pytest.raises(InventoryError, match="max_jobs"):
        host(max_jobs=0)


def test_jobs_above_max_jobs_is_one_line_naming_file_host_and_field():
    problem = job_limit_problem(host(max_jobs=32), WHERE, None)
    assert problem is not None and "\n" not in problem
    assert problem.startswith("inventory.yml: hosts[0] 'hpc': jobs 40 is above max_jobs 32")
    assert job_limit_problem(host(max_jobs=40), WHERE, None) is None


def test_the_queue_systems_limit_counts_too():
    problem = job_limit_problem(host(), WHERE, 16)
    assert problem is not None and "jobs 40 is above MaxSubmitJobs 16" in problem
    assert job_limit_problem(host(), WHERE, None) is None  # unknown: nothing said
    assert job_limit_problem(host(jobs=16), WHERE, 16) is None


def test_validate_refuses_before_submitting_and_max_jobs_spares_asking():
    asked = []

    def limit(queue_host):  # noqa: ANN001, ANN202 - the queue's answer
        asked.append(queue_host.name)
        return 8

    slurm = dataclasses.replace(SLURM, submit_limit=limit)
    with pytest.raises(InventoryError, match=r"^inventory.yml: hosts\[0\] 'hpc': jobs 40 is "
                                             r"above MaxSubmitJobs 8"):
        check_job_limit(host().effective(), WHERE, slurm.submit_limit)
    assert asked == ["hpc"]
    check_job_limit(host(max_jobs=64).effective(), WHERE, slurm.submit_limit)  # inventory wins
    assert asked == ["hpc"]


@pytest.mark.parametrize(("out", "account", "partition", "expected"), [
    ("", None, None, None),
    ("acct||\n", None, None, None),                        # no limit set
    ("acct||50\nacct|debug|20\n", None, None, 20),         # tightest of what applies
    ("acct||50\nacct|gpu|20\n", None, "debug", 50),        # another partition's: not ours
    ("a||50\nb||10\n", "a", None, 50),                     # the host's account
    ("garbage line\n|||\n", None, None, None),
])
def test_parse_assoc(out, account, partition, expected):
    assert parse_assoc(out, account, partition) == expected


def test_without_sacctmgr_the_limit_is_unknown(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert slurm_submit_limit(host()) is None
