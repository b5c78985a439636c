"""``down``'s leftover sweep of an SSH host: one remote command that waits for the
session's processes to be gone, SIGKILLs any left and removes the session directory."""

from __future__ import annotations

import shlex

from clusterbench.launchers.ssh.commands import _self_excluding, _self_excluding_glob, session_dir
from clusterbench.launchers.ssh.connections import run_remote
from clusterbench.launchers.ssh.host import SSHHost

#: Longest wait for one remote command of a stop (a leftover check): a host whose link is
#: cut must not hold `down` for the minutes TCP takes to give up.
REMOTE_STOP_SECONDS = 5.0
#: Bound of one host's whole sweep: a shell and its rc files on a 0.06-CPU host take 2-5 s.
SWEEP_SECONDS = 8.0
#: How long ``down``'s leftover check waits for processes of the session to exit.
LEFTOVER_WAIT = 2.0
#: Polling interval of that wait (in the remote shell).  Each poll is a ``pgrep -f`` over
#: every process of the host, which on a host with a small CPU quota competes with the
#: worker that is exiting; hence few polls, and the wait bounded by wall time.
POLL_SECONDS = 0.1


async def sweep_host(host: SSHHost, session: str) -> list[str]:
    """``down``'s check of *host*, one remote command: wait up to :data:`LEFTOVER_WAIT`
    for the session's processes to exit (polled), list those left (the result: PIDs and
    command lines), SIGKILL them and remove the session directory."""
    command = sweep_command(session)
    from clusterbench.launchers.ssh.control import run_in_shell

    output = await run_in_shell(host, session, command, SWEEP_SECONDS)
    if output is None:  # no shell kept open for it: a command of its own
        output = (await run_remote(host, command, timeout=SWEEP_SECONDS)).stdout
    return [line for line in (output or "").splitlines() if line.strip()]


def sweep_command(session: str) -> str:
    """The remote shell command of :func:`sweep_host` (pure).

    On a host with a small CPU quota every ``pgrep`` (a read of every process's command
    line) competes with the worker that is exiting.  So the wait first polls the PIDs the
    session's commands recorded (``<role>.pid``) with shell builtins, and scans the process
    table only once they are gone (again while tagged strays remain); the processes left
    are listed by one more scan and killed by PID, not by a third one (``pkill``).  (On 64
    hosts of 0.03 CPU this did not change how many sweeps missed their bound right after
    ``up``: their shells were still in the login rc files; see :mod:`.control`.)  The wait is
    bounded by wall time with coreutils' ``timeout``; where it is missing, a loop of
    ``LEFTOVER_WAIT / POLL_SECONDS`` polls does it.  No command line of the sweep contains
    the session directory (other lab hosts share this PID space and sweep it too): paths
    are globs run from the parent directory, and the pgrep pattern does not match itself.
    """
    pattern = _self_excluding(session)
    head, _, name = session_dir(session).rpartition("/")
    own = f"[{name[0]}]{shlex.quote(name[1:])}"  # the session directory, as a glob
    tries = max(1, int(LEFTOVER_WAIT / POLL_SECONDS))
    # Alive: its /proc entry says so and it is no zombie (state Z after the name's ")").
    # Without /proc (not Linux) nothing counts as alive here and the pgrep poll waits.
    alive = (f"alive() {{ for f in {own}/*.pid; do [ -f \"$f\" ] && read p < \"$f\" && "
             f"read -r st 2>/dev/null < \"/proc/$p/stat\" && case \"$st\" in "
             f"*\") Z \"*) ;; *) return 0;; esac; done; return 1; }}")
    poll = (f"{alive}; while alive; do sleep {POLL_SECONDS}; done; "
            f"while pgrep -f -- {pattern} >/dev/null; do sleep {POLL_SECONDS}; done")
    loop = (f"{alive}; i=0; while {{ alive || pgrep -f -- {pattern} >/dev/null; }} && "
            f"[ $i -lt {tries} ]; do i=$((i+1)); sleep {POLL_SECONDS}; done")
    # A subshell: the ``cd`` (and an ``exit`` if it fails) stays out of the shell that
    # runs the sweep, which still has to print the end marker.
    return (f"(cd {shlex.quote(head)} || exit 0; "
            f"if command -v timeout >/dev/null 2>&1; then "
            f"timeout {LEFTOVER_WAIT:g} sh -c {shlex.quote(poll)}; else {loop}; fi; "
            f"left=$(pgrep -af -- {pattern}); if [ -n \"$left\" ]; then "
            f"printf '%s\\n' \"$left\"; printf '%s\\n' \"$left\" | "
            f"while read -r p _; do kill -KILL \"$p\" 2>/dev/null; done; fi; "
            f"rm -rf {own}); true")


async def leftover_processes(host: SSHHost, session: str) -> list[str]:
    """PIDs and command lines of our processes still alive on *host*."""
    result = await run_remote(host, f"pgrep -af -- {_self_excluding(session)} || true",
                              timeout=REMOTE_STOP_SECONDS)
    return [line for line in (result.stdout or "").splitlines() if line.strip()]


async def kill_leftovers(host: SSHHost, session: str) -> None:
    """Kill anything tagged with *session* and remove its scratch dir (the glob
    ``[c]lusterbench-...`` expands to the directory but does not match the pattern)."""
    await run_remote(host, f"pkill -KILL -f -- {_self_excluding(session)}; "
                           f"rm -rf {_self_excluding_glob(session)}; true",
                     timeout=REMOTE_STOP_SECONDS)
