"""The recommended worker set on a real lab built so that one host is too slow to help:
two fast hosts and one crawling at 3 % of a CPU (sshd hosts with cgroup CPU quotas).  The
sweep adds the fast hosts first (``--order fastest-first``); the recommendation must leave
the crawling host out and say the sweep was fastest first, and the straggler chart must
name it as the one that held the widest point up."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.lab import make_lab
from tests.helpers import cli
from tests.integration.test_ssh_lab import no_worker_left

pytestmark = [pytest.mark.integration, pytest.mark.root]


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory):
    return make_lab(request, tmp_path_factory, "fast:2x0.8cpu,crawl:1x0.03cpu")


def test_the_recommended_set_leaves_the_crawling_host_out(lab, tmp_path):
    results = tmp_path / "results"
    run = cli("run", "scaling", "-i", lab.inventory, "--workloads", "montecarlo",
              "--size", "quick", "--schedulers", "distributed", "--workers", "1,2,3",
              "--repeats", "1", "--warmup", "0", "--order", "fastest-first",
              "--json", "--results-dir", str(results), timeout=300)
    assert run.returncode == 0, run.stderr + run.stdout
    (run_dir,) = results.iterdir()
    environment = json.loads((run_dir / "environment.json").read_text())
    names = {name for host in environment["hosts"].values() for name in host["workers"]}
    crawl = {name for name in names if name.startswith("crawl")}
    assert len(names) == 3 and len(crawl) == 1, names
    summary = json.loads(run.stdout)["summary"]
    (widest,) = [row for row in summary if row["scheduler"] == "distributed"
                 and row["workers"] == 3]
    assert crawl <= set(widest["worker_names"])  # the sweep did measure the crawling host
    recommended = {tuple(row["recommended_workers"]) for row in summary
                   if row["scheduler"] == "distributed"}
    (chosen,) = recommended
    assert chosen and not crawl & set(chosen), (chosen, summary)
    # fastest first: the crawling host was added last, and the verdict says so
    assert widest["worker_names"][-1] in crawl, widest["worker_names"]
    report = (run_dir / "report.md").read_text()
    assert "swept fastest first" in report, report
    # The straggler view shows who held the widest point up: the crawling host.
    activity = widest["worker_activity"]
    assert min(activity, key=lambda name: activity[name]["idle_end_s"]) in crawl, activity
    assert "![stragglers](stragglers.png)" in report
    assert (run_dir / "stragglers.png").stat().st_size > 0
    assert no_worker_left(lab)
