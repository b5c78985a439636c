"""Report sections about capacity and scaling: verdicts, hosts, machine capacity, fits
and Karp–Flatt.  Each takes stored data only (summary, fits, environment) and returns a
:class:`~clusterbench.report.document.Section` (empty when it has nothing to say), rendered
as Markdown and as HTML."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from clusterbench.analysis.capacity import CapacityModel, machine_checks
from clusterbench.analysis.fits import PREDICTION_REACH, predict
from clusterbench.analysis.modes import capacity_shares
from clusterbench.analysis.verdict import verdicts
from clusterbench.report.document import (
    Code,
    Em,
    Heading,
    Item,
    Items,
    Paragraph,
    Section,
    Span,
    section,
    table,
)
from clusterbench.report.tables import MISSING, format_percent, format_ratio

#: Packages shown per host (the fingerprint's ``packages``).
HOST_PACKAGES = ("dask", "distributed", "numpy", "scikit-learn", "clusterbench")
UNDERESTIMATED = "capacity underestimated (noise)"


def verdict_section(summary: pd.DataFrame, fits: pd.DataFrame) -> Section:
    """``## Verdict``: one sentence per workload × size × parallel scheduler."""
    sentences = [v.sentence for v in verdicts(summary, fits)]
    if not sentences:
        return Section("verdict")
    return section("verdict", Heading(2, "Verdict"),
                   Items(tuple(Item(sentence) for sentence in sentences)))


def hosts_section(environment: Mapping[str, Any] | None) -> Section:
    """``## Hosts``: fingerprint and per-worker capacity of every host that ran workers."""
    hosts = (environment or {}).get("hosts")
    if not isinstance(hosts, Mapping) or not hosts:
        return Section("hosts")
    rows = [_host_row(label, host if isinstance(host, Mapping) else {})
            for label, host in sorted(hosts.items())]
    headers = ["host", "hostname", "CPU model", "cores", "CPU quota", "memory limit",
               "worker capacity (together / alone)", "versions"]
    cost = ((environment or {}).get("calibration") or {}).get("worker_calibration_seconds")
    note: list[str | Em] = [
        "Collected on the workers themselves. Capacity unit: one process of the "
        "calibration kernel on the machine running clusterbench; ", Em("together"), " is a "
        "worker's capacity while every worker runs at once (shared cores show), ",
        Em("alone"), " while it runs by itself."]
    if isinstance(cost, int | float):
        note.append(f" The per-worker calibration took {cost:.1f} s.")
    return section("hosts", Heading(2, "Hosts"), Paragraph(note),
                   table(headers, rows, name="hosts"))


def _host_row(label: str, host: Mapping[str, Any]) -> list[Any]:
    fingerprint = host.get("fingerprint") or {}
    cores = f"{fingerprint.get('logical_cores', MISSING)}"
    if fingerprint.get("usable_cores") not in (None, fingerprint.get("logical_cores")):
        cores += f" ({fingerprint['usable_cores']} usable)"
    quota = fingerprint.get("cpu_quota")
    workers = host.get("workers") or {}
    capacity = ", ".join(f"{name}: {_capacity(entry.get('capacity'))} / "
                         f"{_capacity(entry.get('capacity_alone'))}"
                         for name, entry in sorted(workers.items()) if isinstance(entry, Mapping))
    packages = fingerprint.get("packages") or {}
    versions = [f"Python {fingerprint['python']}"] if fingerprint.get("python") else []
    versions += [f"{name} {packages[name]}" for name in HOST_PACKAGES if name in packages]
    return [label, fingerprint.get("hostname", MISSING), fingerprint.get("cpu_model", MISSING),
            cores, "none" if quota is None else f"{quota:g} CPUs",
            _bytes(fingerprint.get("memory_limit_bytes")), capacity or MISSING,
            ", ".join(versions) or MISSING]


def _capacity(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, int | float) and math.isfinite(value) else MISSING


def _bytes(value: Any) -> str:
    if not isinstance(value, int | float):
        return "none"
    return f"{value / 2**30:.2f} GiB" if value >= 2**30 else f"{value / 2**20:.0f} MiB"


def capacity_section(summary: pd.DataFrame, calibration: Mapping[str, Any] | None) -> Section:
    """``## Machine capacity``: k-process capacity per check, its range, and each
    workload's share of it (never above 100 %)."""
    calibration = calibration or {}
    checks = machine_checks(calibration.get("capacity"), calibration.get("capacity_checks"))
    if not checks:
        return Section("capacity")
    model = CapacityModel.from_environment({"calibration": calibration})
    labels = [label for label, _ in checks]
    widths = sorted({k for _, values in checks for k in values if k > 1})
    rows = [[k, *(_ratio(model.by_check(k).get(label)) for label in labels),
             f"{format_ratio(model.range(k)[0])}–{format_ratio(model.range(k)[1])}"]
            for k in widths]
    checks_table = table(["processes", *labels, "range"], rows, [True] * (len(labels) + 2),
                         name="capacity")
    note = ("Throughput of k processes running a fixed pure-Python kernel at once over one "
            "process, measured at the " + ", ".join(labels) + " of the sweep. The highest "
            "check is the machine's ceiling (noise only slows a check down).")
    return section("capacity", Heading(2, "Machine capacity"), Paragraph(note), checks_table,
                   *_shares(summary, calibration))


def _ratio(value: float | None) -> str:
    return MISSING if value is None else format_ratio(value)


def _shares(summary: pd.DataFrame, calibration: Mapping[str, Any]
            ) -> tuple[Heading, Paragraph, Any] | tuple[()]:
    shares = capacity_shares(summary, calibration.get("capacity"),
                             calibration.get("capacity_checks"))
    if shares.empty:
        return ()
    rows = [[r["workload"], r["size"], r["workers"], r["best_mode"],
             format_ratio(r["speedup_vs_serial"]), format_ratio(r["capacity"]),
             UNDERESTIMATED if r["underestimated"] else format_percent(r["share"])]
            for r in shares.to_dict("records")]
    headers = ["workload", "size", "workers", "best mode", "speedup", "machine capacity",
               "share"]
    note = ("Share of the machine's capacity: the best mode's speedup over the serial run "
            "divided by the best capacity check. A speedup more than 5 % above it is not a "
            f"share above 100 % but a ceiling measured too low: \"{UNDERESTIMATED}\".")
    return (Heading(3, "Share of the machine's capacity"), Paragraph(note),
            table(headers, rows, [False, False, True, False, True, True, True], name="shares"))


def fits_section(fits: pd.DataFrame) -> Section:
    """``## Scaling fits``: serial fraction ± stderr per curve, and a prediction."""
    if fits.empty:
        return section("fits", Heading(2, "Scaling fits"),
                       Paragraph([Em("No curve has a speedup measured beyond one worker.")]))
    rows = [[r["workload"], r["size"], r["scheduler"], r["law"], r["unit"], r["points"],
             _number(r["serial_fraction"]), _stderr(r), _cap(r["max_speedup"]), _prediction(r)]
            for r in fits.to_dict("records")]
    headers = ["workload", "size", "scheduler", "law", "x", "points", "serial fraction",
               "± stderr", "max speedup", f"predicted at {PREDICTION_REACH:g}× capacity"]
    note: list[Span] = ["Fitted with ", Code("scipy.optimize.curve_fit"), " against x = the "
            "capacity-weighted ideal (worker count where no capacity was measured). Amdahl "
            "(strong scaling): S = 1 / (s + (1 - s) / x), max speedup 1 / s. Gustafson (weak "
            "scaling): S = x - s (x - 1). Two points determine s exactly, with no way to tell "
            "its uncertainty. The prediction's band uses s ± 1.96 stderr."]
    return section("fits", Heading(2, "Scaling fits"), Paragraph(note),
                   table(headers, rows, [False] * 5 + [True] * 5, name="fits"))


def _number(value: float) -> str:
    return MISSING if not math.isfinite(value) else f"{value:.4f}"


def _stderr(row: Mapping[str, Any]) -> str:
    if math.isfinite(row["stderr"]):
        return f"{row['stderr']:.4f}"
    return row["note"] or ("∞" if row["stderr"] == math.inf else MISSING)


def _cap(value: float) -> str:
    return "∞" if value == math.inf else format_ratio(value)


def _prediction(row: Mapping[str, Any]) -> str:
    if not math.isfinite(row["serial_fraction"]):
        return MISSING
    x = PREDICTION_REACH * row["max_capacity"]
    speedup, low, high = (float(v[0]) for v in predict(row["law"], row["serial_fraction"],
                                                       row["stderr"], [x]))
    band = f" ({low:.2f}–{high:.2f}×)" if math.isfinite(low) else " (no band)"
    return f"{speedup:.2f}×{band} at x = {x:.3g}"


def karp_flatt_section(summary: pd.DataFrame) -> Section:
    """``## Karp–Flatt``: the experimentally determined serial fraction of every point."""
    points = summary[pd.to_numeric(summary["karp_flatt"], errors="coerce").notna()]
    if points.empty:
        return Section("karp-flatt")
    rows = [[r["workload"], r["size"], r["scheduler"], r["workers"], format_ratio(r["speedup"]),
             format_ratio(r["ideal_capacity"]), f"{r['karp_flatt']:.3f}"]
            for r in points.to_dict("records")]
    headers = ["workload", "size", "scheduler", "workers", "speedup", "ideal (capacity)", "e"]
    note = ("e = (1/S - 1/p) / (1 - 1/p) with p = the capacity-weighted ideal. A constant e "
            "is a serial fraction; an e that grows with p is overhead that grows with the "
            "cluster (communication, scheduling, idle workers).")
    return section("karp-flatt", Heading(2, "Karp–Flatt serial fraction"), Paragraph(note),
                   table(headers, rows, [False] * 3 + [True] * 4, name="karp-flatt"))
