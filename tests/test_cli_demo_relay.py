"""`relay-tui demo-relay` that cannot start: one line saying which option to change, exit 2."""

from __future__ import annotations

import socket

import pytest

from relay_tui.cli import main


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(["demo-relay", *argv])
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err and out == "", err
    return code, lines[0]


def test_a_port_in_use(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, line = run(capsys, "--port", str(port))
    assert code == 2
    assert line == (f"relay-tui: cannot listen on 127.0.0.1:{port}: the port is in use — choose "
                    f"another --port, or --port 0 for a free one")


@pytest.mark.parametrize("argv, says", [
    (["--port", "99999"], "relay-tui: --port must be 0-65535 (0 picks a free port), not 99999"),
    (["--port", "-1"], "relay-tui: --port must be 0-65535 (0 picks a free port), not -1"),
    (["--time-scale", "-1"], "relay-tui: --time-scale must be 0 or more"),
    (["--time-scale", "nan"], "relay-tui: --time-scale must be 0 or more"),
    (["--host", "no.such.host.invalid"], "relay-tui: cannot listen on no.such.host.invalid: the host "
                                         "name does not resolve — give --host an address"),
    (["--host", "192.0.2.1"], "relay-tui: cannot listen on 192.0.2.1:0: 192.0.2.1 is not an address "
                              "of this machine"),  # TEST-NET-1: never a local address
])
def test_bad_options(argv, says, capsys):
    code, line = run(capsys, *argv)
    assert code == 2 and line.startswith(says), line
