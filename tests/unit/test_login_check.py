"""doctor's login-shell check (issue 16, "the limits users hit first"): the facts command
under real shells, its parser, and the advice rules on synthetic facts (a fake nfs home)."""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap

import pytest

from clusterbench.launchers.ssh.login import (
    SLOW_LOGIN_S,
    LoginFacts,
    facts_command,
    login_warnings,
    parse_facts,
)

BASHRC = textwrap.dedent("""\
    # ~/.bashrc
    export PYENV_ROOT="$HOME/.pyenv"
    # eval "$(pyenv init -)"   (an old line, commented out)
    eval "$(pyenv init -)"
    eval "$(pyenv virtualenv-init -)"
    # >>> conda initialize >>>
    __conda_setup="$('/opt/conda/bin/conda' 'shell.bash' 'hook' 2> /dev/null)"
    # <<< conda initialize <<<
    export NVM_DIR="$HOME/.nvm"
    [ -s "$NVM_DIR/nvm.sh" ] && \\. "$NVM_DIR/nvm.sh"
""")


def _home(tmp_path):
    home = tmp_path / "home"
    (home / ".pyenv").mkdir(parents=True)
    (home / ".bashrc").write_text(BASHRC)
    (home / ".zshenv").write_text('eval "$(rbenv init -)"\n')
    return home


@pytest.mark.parametrize("shell", ["bash", "dash", "tcsh"])
def test_the_facts_command_runs_under_each_login_shell(tmp_path, shell):
    """sshd hands the command to the user's shell with -c: bash, a POSIX sh and csh
    syntax all run it, and the login's variables say which managers ran."""
    path = shutil.which(shell)
    if path is None:  # tests/install.sh installs tcsh; CI must not skip
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {shell} is not installed")
        pytest.skip(f"{shell} is not installed")
    home = _home(tmp_path)
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "SHELL": "/bin/bash",
           "PYENV_SHELL": "bash", "CONDA_SHLVL": "0", "PYENV_REHASH_TIMEOUT": "5"}
    out = subprocess.run([path, "-c", facts_command()], env=env, capture_output=True,
                         text=True, timeout=30, check=True).stdout
    facts = parse_facts(out, 0.5)
    assert facts.shell == "/bin/bash" and facts.home == str(home)
    assert facts.pyenv_root == str(home / ".pyenv") and facts.pyenv_fs  # stat -f answered
    assert facts.rehash_timeout == "5"
    assert facts.ran == ("pyenv init", "conda's shell hook")
    bashrc = f"{home}/.bashrc"
    assert facts.rc_lines == (("pyenv init", f"{bashrc}:4"),
                              ("pyenv virtualenv-init", f"{bashrc}:5"),
                              ("conda's shell hook", f"{bashrc}:7"),
                              ("nvm", f"{bashrc}:10"))  # bash does not read ~/.zshenv


def test_parse_keeps_the_rc_lines_of_the_files_the_shell_reads():
    text = "\n".join(["shell=/usr/bin/zsh", "home=/home/u", "ran=RBENV_SHELL", "ran=NOPE",
                      "rc=/home/u/.bashrc:3:eval \"$(pyenv init -)\"",
                      "rc=/home/u/.zshenv:1:eval \"$(rbenv init -)\"",
                      "rc=garbage", "junk line", "home_fs=nfs4"])
    facts = parse_facts(text, 2.0)
    assert facts.ran == ("rbenv init",)
    assert facts.rc_lines == (("rbenv init", "/home/u/.zshenv:1"),)
    assert facts.home_fs == "nfs4" and facts.seconds == 2.0
    assert parse_facts("", 0.1) == LoginFacts(0.1)


def _facts(**changes) -> LoginFacts:
    base = dict(seconds=0.05, shell="/bin/bash", home="/home/u", home_fs="ext4",
                pyenv_root="/home/u/.pyenv", pyenv_fs="ext4", ran=("pyenv init",),
                rc_lines=(("pyenv init", "/home/u/.bashrc:21"),))
    return LoginFacts(**(base | changes))


def test_a_fast_login_on_a_local_disk_needs_no_advice():
    assert login_warnings(_facts(), workers=4, python="/usr/bin/python3") == []


def test_a_slow_login_names_what_ran_and_where():
    (warning,) = login_warnings(_facts(seconds=SLOW_LOGIN_S + 2.2), workers=1,
                                python="/opt/py/bin/python3")
    assert warning.startswith("logging in takes 3.2 s before any command runs")
    assert "pyenv init (~/.bashrc:21)" in warning
    assert "[[ $- == *i* ]] || return" in warning
    assert "full path" not in warning  # python: is a full path already
    (relative,) = login_warnings(_facts(seconds=3.2), workers=1, python=None)
    assert "set 'python:' for this host to the interpreter's full path" in relative


def test_a_slow_login_with_several_workers_mentions_the_rehash_queue():
    (warning,) = login_warnings(_facts(seconds=3.0), workers=4, python="/p/python")
    assert "its 4 workers' logins also wait for each other on pyenv's rehash lock" in warning
    (bounded,) = login_warnings(_facts(seconds=3.0, rehash_timeout="0"), workers=4,
                                python="/p/python")
    assert "rehash lock" not in bounded


def test_pyenv_on_a_network_filesystem_warns_of_the_shared_lock():
    for fs in ("nfs", "nfs4", "lustre", "gpfs", "beegfs"):
        (warning,) = login_warnings(_facts(pyenv_fs=fs), workers=1, python="/p/python")
        assert warning.startswith(f"/home/u/.pyenv is on {fs} and the login runs 'pyenv init'")
        assert "pyenv init - --no-rehash" in warning
    assert login_warnings(_facts(pyenv_fs="nfs4", rehash_timeout="0"), 1, "/p/python") == []
    assert login_warnings(_facts(pyenv_fs="nfs4", ran=()), 1, "/p/python") == []


def test_a_slow_login_without_a_known_manager_still_says_so():
    (warning,) = login_warnings(_facts(seconds=1.5, ran=(), rc_lines=()), 1, "/p/python")
    assert "(its rc files)" in warning
