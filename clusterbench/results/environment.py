"""What a run was measured on: machine, OS, Python, packages, BLAS, git commit."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from clusterbench.results.record import SCHEMA_VERSION

PACKAGES = ("clusterbench", "dask", "distributed", "dask-jobqueue", "dask-ml", "asyncssh",
            "scikit-learn", "joblib", "numpy", "scipy", "pandas", "cloudpickle", "threadpoolctl")


def capture_environment(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``environment.json`` of a run (schema_version included)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "hostname": socket.gethostname(),
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_bytes": _memory_bytes(),
        "os": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "packages": package_versions(),
        "blas": _blas_info(),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": _git_dirty(),
    } | (extra or {})


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape the measurements."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _blas_info() -> list[dict[str, Any]]:
    from threadpoolctl import threadpool_info

    keys = ("internal_api", "version", "num_threads", "threading_layer")
    return [{k: pool.get(k) for k in keys} for pool in threadpool_info()]


#: The checkout clusterbench runs from (an installed wheel has none: git answers None).
CHECKOUT = Path(__file__).resolve().parents[2]


def _git(*args: str, root: Path = CHECKOUT) -> str | None:
    """Output of ``git *args`` in *root*; ``None`` outside a checkout or without git."""
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True,
                             text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _git_dirty(root: Path = CHECKOUT) -> bool | None:
    """Whether tracked files differ from ``git_commit`` (the measured code is not that commit)."""
    status = _git("status", "--porcelain", "--untracked-files=no", root=root)
    return None if status is None else bool(status)
