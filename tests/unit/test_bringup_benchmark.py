"""The bring-up benchmark's arithmetic: paired ratios per round, the bare-minimum variant
(every host logs in and imports distributed) and the goal's verdict (pure)."""

from __future__ import annotations

import pytest

from tests.benchmarks import bringup_ssh as bench


def _samples(up, worker, imports):
    row = bench.Samples()
    for u, w, i in zip(up, worker, imports, strict=True):
        row.up.append(u)
        row.worker.append(w)
        row.imports.append(i)
        bench._pair(row, {"up": u, "worker": w, "imports": i})
    return row


def test_ratios_are_paired_per_round_and_the_minimum_is_compared():
    row = _samples(up=[17.0, 21.0, 17.1], worker=[19.0, 23.0, 20.4], imports=[18.0, 19.0, 18.6])
    (summary,) = bench.summary({32: row}, cpu=[0.35, 0.35, 0.34], quotas=[0.03] * 32)
    assert summary["up_over_worker"] == pytest.approx(sorted([17 / 19, 21 / 23, 17.1 / 20.4])[1])
    assert summary["imports_over_worker"] == pytest.approx(
        sorted([18 / 19, 19 / 23, 18.6 / 20.4])[1])
    assert summary["up_over_imports"] == pytest.approx(sorted([17 / 18, 21 / 19, 17.1 / 18.6])[1])
    assert summary["goal"] is False
    line = bench.verdict([summary])
    assert "NOT met" in line and "no launcher can reach 0.6x" in line


def test_a_minimum_under_the_goal_says_the_goal_is_reachable():
    row = _samples(up=[10.0], worker=[20.0], imports=[5.0])
    (summary,) = bench.summary({64: row}, cpu=[0.3], quotas=[0.03] * 64)
    assert summary["goal"] is True
    line = bench.verdict([summary])
    assert line.startswith("goal up <= 0.6x SSHCluster Worker at 64 hosts: met (0.50x)")
    assert "0.6x is above that minimum" in line


def test_without_the_minimum_the_verdict_says_nothing_of_it():
    row = bench.Samples(up=[10.0], worker=[20.0], up_over_worker=[0.5])
    (summary,) = bench.summary({32: row}, cpu=[0.3])
    assert summary["imports_s"] is None
    assert "logging in" not in bench.verdict([summary])
    assert "| - |" in bench.table([summary])


def test_imports_is_a_variant_the_command_line_takes():
    args = bench.parse_args(["--hosts", "64,32", "--variants", "imports,up"])
    assert args.counts == [32, 64] and args.variants == ("up", "imports")
