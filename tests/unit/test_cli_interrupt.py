"""A signal at any moment of the CLI's start is an interruption (exit 128 + signal, one
line), never a traceback: the parse step included."""

from __future__ import annotations

import signal

import pytest

from clusterbench import cli


class _InterruptingParser:
    def __init__(self, exc: KeyboardInterrupt):
        self.exc = exc

    def parse_args(self, argv):
        raise self.exc


@pytest.mark.parametrize(("exc", "code", "name"), [
    (KeyboardInterrupt(), 130, "SIGINT"),
    (cli.Terminated(signal.SIGTERM), 143, "SIGTERM"),
])
def test_a_signal_while_the_arguments_are_parsed_exits_like_ctrl_c(monkeypatch, capsys, exc,
                                                                    code, name):
    monkeypatch.setattr(cli, "build_parser", lambda: _InterruptingParser(exc))
    assert cli.main(["status"]) == code
    err = capsys.readouterr().err
    assert f"clusterbench: interrupted ({name})" in err and "Traceback" not in err


def test_a_command_error_still_gets_its_one_line(monkeypatch, capsys, tmp_path):
    missing = tmp_path / "nope.yml"
    assert cli.main(["inventory", "check", str(missing)]) != 0
    err = capsys.readouterr().err
    assert err.startswith("clusterbench: error:") and str(missing) in err
