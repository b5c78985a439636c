"""distributed-capacity on a heterogeneous lab (real sshd hosts with cgroup CPU quotas): the
blocks follow the calibrated capacities, every answer is verified against serial, each
record carries the straggler view, and the verdict recommends a worker set."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.lab import make_lab
from tests.helpers import cli
from tests.integration.test_ssh_lab import no_worker_left

pytestmark = [pytest.mark.integration, pytest.mark.root]


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    return make_lab(request, tmp_path_factory, "fast:1x0.8cpu,slow:2x0.2cpu")


def test_blocks_follow_the_capacities_and_answers_stay_verified(lab, tmp_path):
    results = tmp_path / "results"
    run = cli("run", "scaling", "-i", lab.inventory, "--workloads", "montecarlo",
              # quick, not tiny: a tiny block is done before a throttled host starts it,
              # and then the fast worker steals it (allowed: the restriction is loose)
              "--size", "quick", "--schedulers", "synchronous,distributed,distributed-capacity",
              "--workers", "1,3", "--repeats", "1", "--order", "fastest-first",
              "--results-dir", str(results), timeout=900)
    assert run.returncode == 0, run.stderr + run.stdout
    (run_dir,) = results.iterdir()
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    assert records and all(r["verified"] for r in records)
    environment = json.loads((run_dir / "environment.json").read_text())
    capacity = {name: worker["capacity"] for host in environment["hosts"].values()
                for name, worker in host["workers"].items()}
    (placed,) = [r for r in records if r["scheduler"] == "distributed-capacity"
                 and r["workers"] == 3]
    blocks = placed["metrics"]["placed_blocks"]
    assert set(blocks) == set(placed["worker_names"])
    # The fast host (4x the CPU quota) got the most blocks, in proportion to its capacity.
    fast = next(name for name in blocks if name.startswith("fast"))
    share = blocks[fast] / sum(blocks.values())
    expected = capacity[fast] / sum(capacity[name] for name in blocks)
    assert share == pytest.approx(expected, abs=0.1), (blocks, capacity)
    assert all(blocks[fast] > blocks[name] for name in blocks if name != fast)
    # Straggler view: every worker of the point ran its placed block, and is accounted for.
    activity = placed["worker_activity"]
    assert set(activity) == set(placed["worker_names"])
    assert all(a["tasks"] >= 1 and a["busy_s"] > 0 for a in activity.values()), activity
    assert min(a["idle_end_s"] for a in activity.values()) == 0.0
    # The report names who finished last, and the verdict recommends a set.
    report = (run_dir / "report.md").read_text()
    assert "## Stragglers" in report and "recommended workers: " in report
    assert no_worker_left(lab)
