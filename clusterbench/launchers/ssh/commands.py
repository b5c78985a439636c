"""Remote command lines of the SSH launcher (pure: no I/O, unit-tested as strings).

Every process we start on a host has the session directory
(:func:`session_dir`) in its command line; ``down`` finds leftovers by that tag
with a pgrep pattern that does not match its own shell (:func:`_self_excluding`).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from clusterbench.launchers.base import blas_env, host_port
from clusterbench.launchers.ssh.host import SSHHost

REMOTE_ROOT = "/tmp/clusterbench"  # per-session scratch on every host; its path tags our processes
#: ``--death-timeout`` of every SSH worker: a worker that has not registered this long after
#: its start gives up and exits.  Without it, a worker whose launch was still on its way
#: when its cluster stopped (``up`` interrupted, the daemon SIGKILLed) retries connecting
#: to the gone scheduler forever (distributed's register loop); a registered worker already
#: exits when its scheduler's connection breaks.  dask-jobqueue's default is 60 s; twice
#: that leaves a 0.03-CPU host its TLS handshake.  ``worker_extra_args`` may override it.
DEATH_TIMEOUT_SECONDS = 120


def session_dir(session: str) -> str:
    """Remote scratch directory of one ``up``; every worker's command line contains it."""
    return f"{REMOTE_ROOT}-{session}"


def connect_options(host: SSHHost) -> dict[str, Any]:
    """asyncssh ``connect`` keyword arguments for *host* (pure).

    ~/.ssh/config (or the host's ``ssh_config:``, then only that file, like ``ssh -F``)
    and ssh-agent are honoured by asyncssh; *host* is the resolved host
    (:meth:`SSHHost.effective`), so the port and user are the inventory's or the
    config's.  Host keys are always checked (``known_hosts`` default: ~/.ssh/known_hosts).
    """
    options: dict[str, Any] = {"port": host.port, "connect_timeout": host.connect_timeout}
    if host.ssh_config:
        options["config"] = [str(Path(host.ssh_config).expanduser())]
    if host.user:
        options["username"] = host.user
    if host.identity:
        options["client_keys"] = list(host.identity)
    if host.known_hosts:
        options["known_hosts"] = host.known_hosts
    return options


def tls_dir(session: str) -> str:
    """Where a host keeps the cluster's TLS files (removed with the session directory)."""
    return f"{session_dir(session)}/tls"


def tls_args(session: str, tls: bool) -> list[str]:
    """dask CLI options that make a scheduler or worker use the copied TLS files (pure)."""
    if not tls:
        return []
    from clusterbench.cluster.security import CA_FILE, CERT_FILE, KEY_FILE

    where = tls_dir(session)
    return ["--tls-ca-file", f"{where}/{CA_FILE}", "--tls-cert", f"{where}/{CERT_FILE}",
            "--tls-key", f"{where}/{KEY_FILE}"]


def credentials_script(where: str, files: dict[str, str], token: str) -> str:
    """A ``sh`` script, sent on stdin, that writes *files* (``{name: text}``) into *where*
    owner-only (pure).

    One script for all files: every command over SSH starts a login shell and its rc
    files (1.7-5 s on a 0.06-CPU lab host), so three copies cost three of them.  The
    texts travel in here-documents ended by a line made from *token*, which none of them
    contains; each file is written under a temporary name and renamed, so that workers
    of one host never read a half-written file.

    Raises
    ------
    ValueError
        A text contains the end-of-document line (pick another *token*).
    """
    end = f"CLUSTERBENCH_EOF_{token}"
    lines = ["umask 077", f"mkdir -p {shlex.quote(where)} || exit 1"]
    for name, text in files.items():
        if end in text:
            raise ValueError(f"{name} contains the here-document end {end!r}")
        target = shlex.quote(f"{where}/{name}")
        body = text if text.endswith("\n") else text + "\n"
        lines += [f"cat > {target}.$$ <<'{end}' || exit 1", body + end,
                  f"mv -f {target}.$$ {target} || exit 1"]
    return "\n".join([*lines, "exit 0"]) + "\n"


def tty_safe(text: str) -> bool:
    """Whether *text* passes a terminal's input unchanged: printable ASCII lines (PEM is),
    shorter than a canonical-mode line (4095), so no byte is a control character."""
    lines = text.split("\n")
    return all(len(line) < 1024 and line.isascii() and line.isprintable() for line in lines)


def terminal_tls_steps(session: str, names: list[str], end: str) -> list[str]:
    """Shell steps that read the TLS files, each ended by the line *end*, from the
    command's own terminal into :func:`tls_dir` (pure).

    A worker runs under a PTY (for SIGHUP on close), and a terminal in canonical mode
    hands ``sed`` one line per read, so each ``sed`` stops exactly at its end line.  The
    files then need no SSH command of their own: every command costs the host a login
    shell and its rc files (1.7-5 s on a 0.06-CPU lab host), SSHCluster's bill too.
    The PTY is opened with echo off, so the key never comes back on the output.
    """
    where = tls_dir(session)
    steps = [f"mkdir -p {shlex.quote(where)}"]
    for name in names:
        target = shlex.quote(f"{where}/{name}")
        steps.append(f"(umask 077 && sed -n '/^{end}$/q;p' > {target}.$$) && "
                     f"mv -f {target}.$$ {target}")
    return steps


def terminal_tls_input(files: dict[str, str], end: str) -> str:
    """What :func:`terminal_tls_steps` reads: each text, then the line *end* (pure)."""
    return "".join((text if text.endswith("\n") else text + "\n") + end + "\n"
                   for text in files.values())


def worker_command(host: SSHHost, name: str, scheduler: str, session: str,
                   tls: bool = False, tls_input: tuple[list[str], str] | None = None) -> str:
    """The remote shell command that runs one dask worker (pure).

    It records its PID first (``exec`` keeps it), runs the host's setup
    commands, then execs the worker with the host's environment.  The worker's
    HTTP server (health, metrics; it runs even with ``--no-dashboard``) binds to the
    host's own address: dask's default is every interface.  *host* is resolved
    (:meth:`SSHHost.effective`): its address is the SSH config's ``HostName``.
    *tls_input* (``(file names, end line)``) makes it read the TLS files from its
    terminal first (:func:`terminal_tls_steps`).
    """
    address = host.address or host.name
    worker = [
        host.python or "python3", "-m", "distributed.cli.dask_worker", scheduler,
        "--name", name,
        "--nthreads", str(host.threads),
        "--memory-limit", str(host.memory if host.memory is not None else 0),
        "--no-nanny", "--no-dashboard", "--dashboard-address", host_port(address, 0),
        "--host", address,
        "--local-directory", f"{session_dir(session)}/{name}",
        "--death-timeout", str(DEATH_TIMEOUT_SECONDS),
        *tls_args(session, tls),
        *host.worker_extra_args,
    ]
    first = terminal_tls_steps(session, *tls_input) if tls_input else []
    return _tagged_command(host, session, name, blas_env(1) | host.env, worker, first)


def python_words(python: str | None) -> str:
    """The host's interpreter as shell words (pure): ``python: /usr/bin/env python3`` (what
    Ansible's ``ansible_python_interpreter`` allows) is a program and its argument, and
    ``~/venv/bin/python`` keeps its ``~`` unquoted so that the remote shell expands it.
    Quoted as one word, either was a program that does not exist."""
    text = python or "python3"
    try:
        words = shlex.split(text) or [text]
    except ValueError:  # an unclosed quote: the text is the program's name
        words = [text]
    quoted = [shlex.quote(word) for word in words]
    if words[0].startswith("~/"):
        quoted[0] = "~/" + shlex.quote(words[0][2:])
    return " ".join(quoted)


def setup_steps(host: SSHHost) -> list[str]:
    """The host's setup commands as steps of an ``&&`` chain (pure).

    A YAML block (``setup: |``) spans lines and ends with a newline: chained as is, its
    last newline left ``&& exec ...`` on a line of its own (a syntax error) and a comment
    line could swallow the rest.  Such a block runs as a brace group of its own lines.
    """
    steps = []
    for text in host.setup:
        text = text.strip()
        if text:
            steps.append(f"{{ {text}\n}}" if "\n" in text else text)
    return steps


def _tagged_command(host: SSHHost, session: str, role: str, env: dict[str, str],
                    argv: list[str], first: list[str] | None = None) -> str:
    """``mkdir`` the session dir, record the shell's PID as ``<role>.pid`` (``exec`` keeps
    it), run *first*, the host's setup commands, then exec *argv* (``argv[0]`` the python,
    :func:`python_words`) with *env* (pure)."""
    scratch = session_dir(session)
    steps = [
        f"mkdir -p {shlex.quote(scratch)}",
        f"echo $$ > {shlex.quote(f'{scratch}/{role}.pid')}",
        *(first or ()),
        *setup_steps(host),
        " ".join(["exec env", *(shlex.quote(f"{k}={v}") for k, v in env.items()),
                  python_words(argv[0]), shlex.join(argv[1:])]),
    ]
    return " && ".join(steps)


def scheduler_command(host: SSHHost, address: str, port: int, dashboard: int | None,
                      python: str | None, session: str, dashboard_host: str = "127.0.0.1",
                      tls: bool = False) -> str:
    """The remote shell command that runs the dask scheduler on *host* (pure).

    The scheduler writes its address to ``<session dir>/scheduler.json``; that path
    also tags the process for ``down``'s leftover check.  Its HTTP server (the
    dashboard, or health/metrics with the dashboard off) binds to *dashboard_host*
    (loopback of that host unless the inventory says otherwise).
    """
    board = ["--dashboard-address", host_port(dashboard_host, dashboard or 0)]
    if dashboard is None:
        board.append("--no-dashboard")
    transport = ["--protocol", "tls", *tls_args(session, True)] if tls else []
    scheduler = [
        python or host.python or "python3", "-m", "distributed.cli.dask_scheduler",
        "--host", address, "--port", str(port), *board, *transport,
        "--scheduler-file", f"{session_dir(session)}/scheduler.json",
    ]
    return _tagged_command(host, session, "scheduler", dict(host.env), scheduler)


def _self_excluding_glob(session: str) -> str:
    """A shell glob for the session directory whose text the pgrep pattern does not match."""
    head, _, name = session_dir(session).rpartition("/")
    return f"{shlex.quote(head)}/[{name[0]}]{shlex.quote(name[1:])}"


def _self_excluding(session: str) -> str:
    """A pgrep pattern for our processes that does not match the shell running pgrep:
    the regex ``[/]tmp`` matches ``/tmp`` but not its own text ``[/]tmp``."""
    return shlex.quote("[" + session_dir(session)[0] + "]" + session_dir(session)[1:])
