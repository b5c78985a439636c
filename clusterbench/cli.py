"""The command line: the only place that parses argv, runs the event loop and maps
errors to exit codes.  Each command lives in :mod:`clusterbench.commands` and is
imported only when used, so ``clusterbench --help`` starts fast."""

from __future__ import annotations

import argparse
import importlib
import re
import signal
import sys
from collections.abc import Sequence

from clusterbench.errors import ClusterbenchError, ConfigError

# command -> "module:function" in clusterbench.commands; the function takes the parsed args.
COMMANDS = {
    "run": "run:run",
    "report": "run:report",
    "compare": "compare:compare",
    "export": "export:export",
    "up": "cluster:up",
    "status": "cluster:status",
    "down": "cluster:down",
    "inventory check": "inventory:check",
    "inventory import-ansible": "inventory:import_ansible",
    "lab up": "lab:up",
    "lab status": "lab:status",
    "lab down": "lab:down",
    "doctor": "doctor:doctor",
}


def add_ansible_selection(parser: argparse.ArgumentParser) -> None:
    """``--group`` / ``--limit``: which hosts of an Ansible inventory."""
    parser.add_argument("--group", action="append", metavar="NAME",
                        help="Ansible inventory: only the hosts of this group (repeatable: "
                             "their union)")
    parser.add_argument("--limit", metavar="PATTERN",
                        help="Ansible inventory: only the hosts this pattern selects, as "
                             "`ansible --limit`")


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree of every command."""
    parser = argparse.ArgumentParser(
        prog="clusterbench",
        description="Provision Dask clusters on heterogeneous machines and benchmark scaling.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run(sub)
    report = sub.add_parser("report", help="redraw summary, plots and report from records.jsonl")
    report.add_argument("run_dir", help="a results/<run-id> directory")
    compare = sub.add_parser("compare", help="two runs side by side; flag points that changed")
    compare.add_argument("run_a", help="the run to compare against (results/<run-id>)")
    compare.add_argument("run_b", help="the newer run")
    compare.add_argument("--threshold", type=float, default=0.05,
                         help="relative change in the median counted as a change (default 0.05)")
    compare.add_argument("--fail-on-slower", action="store_true",
                         help="exit 1 when a point clearly got slower (for CI)")
    compare.add_argument("--html", metavar="FILE",
                         help="also write the comparison as a self-contained HTML page")
    compare.add_argument("--json", action="store_true", help=JSON_HELP)
    _add_export(sub)
    _add_cluster(sub)
    _add_inventory(sub)
    _add_lab(sub)
    doctor = sub.add_parser("doctor", help="preflight checks of every host of an inventory")
    doctor.add_argument("-i", "--inventory", required=True)
    doctor.add_argument("--timeout", type=float, default=30.0)
    add_ansible_selection(doctor)
    return parser


JSON_HELP = "print JSON on stdout (notes and progress stay on stderr)"
INSECURE_HELP = ("no TLS for a cluster that leaves this machine (default: a per-cluster CA, "
                 "mutual TLS): anyone who reaches the scheduler can run code on the workers")


def _add_run(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run a scenario (scaling, schedulers or a YAML file)")
    run.add_argument("scenario", nargs="?",
                     help="scenario name (scenarios/<name>.yml) or a YAML path")
    run.add_argument("--resume", metavar="RUN_DIR",
                     help="complete an interrupted run: only its missing repeats, with its "
                     "recorded scenario, inventory and seed")
    run.add_argument("--force", action="store_true",
                     help="with --resume: resume although code, packages, machine or "
                     "inventory changed")
    run.add_argument("-i", "--inventory", help="inventory file (default: inventories/local.yml)")
    run.add_argument("--workloads", help="comma-separated workloads, e.g. montecarlo,randomforest")
    run.add_argument("--workers", help="worker counts, e.g. 1,2 or 1,2,4..max")
    run.add_argument("--schedulers", help="comma-separated modes: synchronous,threads,processes,"
                     "distributed,distributed-capacity,distributed-scatter,local-distributed")
    run.add_argument("--size", help="tiny, quick, small or full (default: the scenario's; "
                                    "scaling: quick)")
    run.add_argument("--repeats", type=int)
    run.add_argument("--warmup", type=int)
    run.add_argument("--seed", type=int)
    run.add_argument("--order", help="order of adding distributed workers: inventory or "
                     "fastest-first (short per-worker speed calibration)")
    run.add_argument("--order-points", help="interleaved (default: repeats round-robin over "
                     "all points, shuffled by the seed) or blocked (each point's repeats "
                     "back to back)")
    run.add_argument("--stabilize", type=int, metavar="N",
                     help="re-run points whose coefficient of variation is above 10 %% with "
                     "up to N extra repeats")
    run.add_argument("--retries", type=int, metavar="N",
                     help="re-runs of a repeat whose worker set changed (default 1)")
    run.add_argument("--weak", action="store_true",
                     help="weak scaling: the problem grows with the workers' capacity")
    run.add_argument("--results-dir", default="results", help="where run directories go")
    run.add_argument("--profile", action="store_true",
                     help="save a dask performance report of each distributed point's first "
                     "timed repeat in RUN_DIR/profiles/ (linked from report.html; needs bokeh)")
    run.add_argument("--insecure", action="store_true", help=INSECURE_HELP)
    run.add_argument("--json", action="store_true",
                     help="print the summary as JSON records on stdout (everything else on "
                     "stderr)")
    attach = run.add_mutually_exclusive_group()
    attach.add_argument("--scheduler-address", help="use an existing cluster (tcp://host:port)")
    attach.add_argument("--attach", action="store_true",
                        help="use the cluster that `clusterbench up` started")


def _add_export(sub: argparse._SubParsersAction) -> None:
    export = sub.add_parser("export", help="a run as pytest-benchmark JSON, CSV or Parquet")
    export.add_argument("run_dir", help="a results/<run-id> directory")
    export.add_argument("--format", required=True,
                        help="pytest-benchmark (one benchmark per point), csv or parquet "
                        "(one row per repeat)")
    export.add_argument("-o", "--output", required=True, help="the file to write")


def _add_cluster(sub: argparse._SubParsersAction) -> None:
    up = sub.add_parser("up", help="start the inventory's cluster in the background")
    up.add_argument("inventory")
    up.add_argument("--dry-run", action="store_true", help="print worker commands/job scripts")
    up.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for workers")
    up.add_argument("--insecure", action="store_true", help=INSECURE_HELP)
    add_ansible_selection(up)
    status = sub.add_parser("status", help="show the cluster `up` started")
    status.add_argument("--json", action="store_true", help=JSON_HELP)
    down = sub.add_parser("down", help="stop everything `up` started")
    down.add_argument("--timeout", type=float, default=60.0)


def _add_inventory(sub: argparse._SubParsersAction) -> None:
    inventory = sub.add_parser("inventory", help="validate or import inventories")
    isub = inventory.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    check = isub.add_parser("check", help="validate and print the resolved hosts")
    check.add_argument("file")
    check.add_argument("--json", action="store_true", help=JSON_HELP)
    add_ansible_selection(check)
    imp = isub.add_parser("import-ansible", help="convert an Ansible inventory (INI or YAML)")
    imp.add_argument("file")
    imp.add_argument("-o", "--output", help="write here instead of stdout")
    imp.add_argument("--python", help="python on the hosts when the inventory names none")
    add_ansible_selection(imp)
    imp.add_argument("--scheduler-address", metavar="ADDRESS",
                     help="the scheduler's address (this machine's, reachable by the hosts)")
    imp.add_argument("--reader", choices=("auto", "ansible", "builtin"),
                     help="ansible-inventory, the built-in reader, or auto (default: "
                     "$CLUSTERBENCH_ANSIBLE_READER, else ansible-inventory when on PATH)")


def _add_lab(sub: argparse._SubParsersAction) -> None:
    lab = sub.add_parser("lab", help="fake heterogeneous hosts on this machine (root, Linux)")
    lsub = lab.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    up = lsub.add_parser("up", help="create fake hosts, e.g. pi:4x0.25cpu/512MB,desktop:1x1cpu")
    up.add_argument("spec")
    up.add_argument("--subnet", default="10.203.0.0/24")
    up.add_argument("-o", "--output", help="also write the lab's inventory here")
    lsub.add_parser("status", help="show the fake hosts")
    lsub.add_parser("down", help="remove every namespace, link, cgroup and process of the lab")


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised like Ctrl-C so the same clean-up runs (pools closed,
    clusters stopped, records already on disk kept) and the exit code follows the signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _terminate(signum: int, frame: object) -> None:
    raise Terminated(signum)


def _stop_like_ctrl_c() -> None:
    """`kill`, systemd and CI timeouts send SIGTERM; a closed terminal sends SIGHUP.  Python's
    default for both is to die on the spot, leaving every worker and pool process behind."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _terminate)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``clusterbench`` console script; returns the exit code."""
    _stop_like_ctrl_c()
    try:  # a signal while the arguments are parsed is an interruption too, not a traceback
        return _run(build_parser().parse_args(argv))
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"clusterbench: interrupted ({signal.Signals(signum).name}); everything it "
              f"started is stopped, records measured so far are kept", file=sys.stderr)
        hint = getattr(exc, "resume_hint", None)  # set by `run` once its directory exists
        if hint:
            print(f"resume with: {hint}", file=sys.stderr)
        return 128 + signum


def _dask_config_error(exc: ValueError) -> ConfigError | None:
    """dask's "A dask config file at PATH is malformed ..." (several lines, its YAML error
    after a blank line) as one line naming the file and the line; None for other errors."""
    found = re.match(r"A dask config file at '(.+?)' is malformed(.*)", str(exc), re.DOTALL)
    if found is None:
        return None
    path, rest = found.groups()
    detail = rest.removeprefix(", original error message:").strip()
    where = re.search(r"line (\d+), column (\d+)", detail)
    first = detail.splitlines()[0].strip(" -") if detail else "unreadable"
    at = f" at line {where[1]}, column {where[2]}" if where else ""
    return ConfigError(f"dask config file {path}: malformed{at} ({first}); fix it, or move it "
                       "out of dask's config directories (~/.config/dask, DASK_CONFIG)")


def _run(args: argparse.Namespace) -> int:
    key = args.command + (f" {args.subcommand}" if getattr(args, "subcommand", None) else "")
    module, _, function = COMMANDS[key].partition(":")
    try:
        try:
            command = getattr(importlib.import_module(f"clusterbench.commands.{module}"),
                              function)
            return int(command(args) or 0)
        except ValueError as exc:  # dask reads its config files on import, and on refresh
            config_error = _dask_config_error(exc)
            if config_error is None:
                raise
            raise config_error from exc
    except ClusterbenchError as exc:
        if args.debug:
            raise
        print(f"clusterbench: error: {exc}", file=sys.stderr)
        return exc.exit_code
