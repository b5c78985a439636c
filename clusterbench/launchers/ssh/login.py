"""What a host's login shell costs before any command runs, and why (``doctor``).

Every remote command of the SSH launcher (each worker's start, ``down``'s check) runs
through the user's login shell, and sshd's shell runs the user's rc files first: for
bash ``~/.bashrc``, for zsh ``~/.zshenv``.  Version managers initialised there cost each
login a process or two (``pyenv init``, conda's shell hook), and ``pyenv init`` also runs
``pyenv rehash``, which takes one lock file under ``$PYENV_ROOT/shims`` and waits up to
``PYENV_REHASH_TIMEOUT`` (60 s) for it.  Logins at once that share that directory (a
host's own workers; every host whose home is on one NFS export) then queue on each other:
the virtual lab's 32 hosts, sharing this machine's home, took 55 s to start instead of
10.5 s (README, "The virtual lab").

:func:`login_check` times an empty command on the host (the login alone, the connection
already open) and reads which version managers the login ran: each sets a variable
(``PYENV_SHELL``, ``CONDA_SHLVL``, ...), which says what *ran*, whatever guards the rc
file has.  The rc lines that mention them are shown as where to look.  The rules are
pure (:func:`login_warnings`), so the unit tests feed them any host.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import time
from dataclasses import dataclass

from clusterbench.cluster.limits import NETWORK_FS
from clusterbench.errors import ClusterbenchError
from clusterbench.launchers.ssh.host import SSHHost

#: A login slower than this is reported: every worker start and ``down``'s check wait for it.
SLOW_LOGIN_S = 1.0

#: ``(name, variable the tool's shell init sets, pattern of an rc line that runs it)``.
MANAGERS = (
    ("pyenv init", "PYENV_SHELL", re.compile(r"\bpyenv\s+init\b")),
    ("pyenv virtualenv-init", "PYENV_VIRTUALENV_INIT", re.compile(r"\bvirtualenv-init\b")),
    ("conda's shell hook", "CONDA_SHLVL", re.compile(r"conda\b.*\bshell\.\w+|\bconda\.sh\b")),
    ("mamba's shell hook", "MAMBA_EXE", re.compile(r"mamba\b.*\bshell\b|\bmamba\.sh\b")),
    ("rbenv init", "RBENV_SHELL", re.compile(r"\brbenv\s+init\b")),
    ("nvm", "NVM_DIR", re.compile(r"\bnvm\.sh\b")),
)

#: The rc files a non-interactive login shell of sshd reads, by shell.
RC_FILES = {"bash": ("/etc/bash.bashrc", "~/.bashrc"), "zsh": ("/etc/zsh/zshenv", "~/.zshenv"),
            "fish": ("~/.config/fish/config.fish",), "tcsh": ("~/.tcshrc", "~/.cshrc"),
            "csh": ("~/.cshrc",)}

# Runs under sh whatever the login shell is (fish and csh have other syntax; csh takes
# no newline inside quotes, hence one line); the login's variables are inherited.
# GNU/busybox `stat -f -c %T` names the filesystem type (empty elsewhere).  The grep is
# loose: :data:`MANAGERS` decide in Python.
FACTS = "; ".join([
    r"""printf 'shell=%s\n' "${SHELL:-}" """,
    r"""printf 'home=%s\n' "$HOME" """,
    r"""printf 'home_fs=%s\n' "$(stat -f -c %T "$HOME" 2>/dev/null)" """,
    r"""root="${PYENV_ROOT:-$HOME/.pyenv}" """,
    r"""[ -d "$root" ] && printf 'pyenv_root=%s\npyenv_fs=%s\n' "$root" """
    r""""$(stat -f -c %T "$root" 2>/dev/null)" """,
    r"""printf 'rehash_timeout=%s\n' "${PYENV_REHASH_TIMEOUT-}" """,
    r"""for v in VARIABLES; do eval "[ -n \"\${$v:-}\" ]" && printf 'ran=%s\n' "$v"; done""",
    r"""for f in FILES; do [ -r "$f" ] && grep -nE 'pyenv|conda|mamba|rbenv|nvm' "$f" """
    r"""2>/dev/null | while IFS= read -r line; do printf 'rc=%s:%s\n' "$f" "$line"; done; """
    r"""done""",
    "exit 0",
])


@dataclass(frozen=True)
class LoginFacts:
    """What one login showed: its time, shell, filesystems and the managers it ran."""

    seconds: float
    shell: str = ""
    home: str = ""
    home_fs: str = ""
    pyenv_root: str = ""
    pyenv_fs: str = ""
    rehash_timeout: str = ""
    ran: tuple[str, ...] = ()  # names from MANAGERS
    rc_lines: tuple[tuple[str, str], ...] = ()  # (name from MANAGERS, "FILE:LINE")


def facts_command() -> str:
    """The remote command that prints the facts :func:`parse_facts` reads (pure)."""
    variables = " ".join(variable for _, variable, _ in MANAGERS)
    files = " ".join(sorted({f'"$HOME"{path[1:]}' if path.startswith("~") else path
                             for paths in RC_FILES.values() for path in paths}))
    script = FACTS.replace("VARIABLES", variables).replace("FILES", files)
    return f"sh -c {shlex.quote(script)}"


def parse_facts(text: str, seconds: float) -> LoginFacts:
    """The facts in the output of :func:`facts_command` (pure; unknown lines are ignored).

    rc lines of files the login shell does not read, and commented lines, are dropped.
    """
    values: dict[str, str] = {}
    ran: list[str] = []
    rc: list[tuple[str, str]] = []
    by_variable = {variable: name for name, variable, _ in MANAGERS}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key == "ran" and value in by_variable:
            ran.append(by_variable[value])
        elif key == "rc":
            rc.extend(_rc_line(value))
        elif key in ("shell", "home", "home_fs", "pyenv_root", "pyenv_fs", "rehash_timeout"):
            values.setdefault(key, value.strip())
    shell = values.get("shell", "")
    read = _files_read(shell, values.get("home", ""))
    rc = [(name, where) for name, where in rc if where.rsplit(":", 1)[0] in read]
    return LoginFacts(seconds, ran=tuple(ran), rc_lines=tuple(rc), **values)


def _rc_line(value: str) -> list[tuple[str, str]]:
    """``(manager, "FILE:LINE")`` for an ``rc=FILE:LINE:TEXT`` value (``[]`` for comments)."""
    parts = value.split(":", 2)
    if len(parts) < 3 or not parts[1].isdigit():
        return []
    text = parts[2].strip()
    # conda's block is fenced by a comment line; the lines that run it are not comments
    if text.startswith("#"):
        return []
    return [(name, f"{parts[0]}:{parts[1]}") for name, _, pattern in MANAGERS
            if pattern.search(text)][:1]


def _files_read(shell: str, home: str) -> set[str]:
    """The rc files *shell* reads as sshd's non-interactive shell, ``~`` as *home*."""
    paths = RC_FILES.get(shell.rsplit("/", 1)[-1], ())
    return {home + path[1:] if path.startswith("~") else path for path in paths}


def login_warnings(facts: LoginFacts, workers: int, python: str | None = None) -> list[str]:
    """Advice for a host with *workers* workers and the inventory's *python* whose login
    showed *facts* (pure)."""
    warnings = []
    if facts.seconds >= SLOW_LOGIN_S:
        where = _where(facts)
        queue = (f"; its {workers} workers' logins also wait for each other on pyenv's "
                 "rehash lock" if workers > 1 and _rehash_waits(facts) else "")
        full_path = ("" if python and python.startswith("/") else
                     "; then set 'python:' for this host to the interpreter's full path")
        warnings.append(
            f"logging in takes {facts.seconds:.1f} s before any command runs (its rc files"
            f"{' run ' + where if where else ''}){queue}; every worker start and 'down' pay "
            "it; move what only interactive shells need below an interactive-only guard "
            f"(bash, zsh: '[[ $- == *i* ]] || return'){full_path}")
    if _rehash_waits(facts) and _shared(facts.pyenv_fs):
        warnings.append(
            f"{facts.pyenv_root} is on {facts.pyenv_fs} and the login runs 'pyenv init', "
            f"whose rehash takes one lock in {facts.pyenv_root}/shims: hosts sharing it log "
            "in one at a time (up to 60 s each); use 'pyenv init - --no-rehash' in the rc "
            "file (rehash by hand after installing) or set PYENV_REHASH_TIMEOUT=0 in sshd's "
            "SetEnv")
    return warnings


def _where(facts: LoginFacts) -> str:
    """``pyenv init (~/.bashrc:21), conda's shell hook`` for the managers the login ran."""
    home = facts.home.rstrip("/")
    parts = []
    for name in facts.ran:
        lines = [where.replace(home + "/", "~/", 1) if home else where
                 for manager, where in facts.rc_lines if manager == name]
        parts.append(f"{name} ({', '.join(lines)})" if lines else name)
    return ", ".join(parts)


def _rehash_waits(facts: LoginFacts) -> bool:
    """The login ran ``pyenv init`` with rehash, and a taken lock makes it wait."""
    return "pyenv init" in facts.ran and facts.rehash_timeout.strip() not in ("0", "0.0")


def _shared(fs: str) -> bool:
    return fs.lower() in NETWORK_FS or fs.lower().startswith("nfs")


async def login_check(host: SSHHost, timeout: float) -> tuple[float | None, list[str]]:
    """Time an empty command on *host* (its connection already open), read what the
    login ran; return ``(seconds, warnings)`` (``(None, [])`` when it cannot be read)."""
    from clusterbench.launchers.ssh.connections import run_remote

    try:
        started = time.perf_counter()
        await asyncio.wait_for(run_remote(host, "true", timeout), timeout)
        seconds = time.perf_counter() - started
        result = await asyncio.wait_for(run_remote(host, facts_command(), timeout), timeout)
    except (ClusterbenchError, asyncio.TimeoutError):
        return None, []
    facts = parse_facts(result.stdout or "", seconds)
    return seconds, login_warnings(facts, host.workers, host.python)
