"""The command line, without starting a server (the e2e suite starts real ones)."""
import socket
import subprocess
import sys

import pytest

from app.cli import check_port, parse_args


def test_defaults():
    args = parse_args([])
    assert (args.host, args.port, args.workers, args.config, args.model) == \
        ("0.0.0.0", 8000, 1, None, None)


def test_port_in_use_is_a_clear_exit():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(SystemExit, match=f"port {port} on 127.0.0.1 is already in use"):
            check_port("127.0.0.1", port)


@pytest.mark.parametrize("argv,message", [
    (["--config", "/nonexistent/config.yaml"], "/nonexistent/config.yaml"),
    (["--model", "nosuch/model"], "unknown provider"),
    (["--config", "x.yaml", "--model", "gpt-4o"], "not both"),
    (["--workers", "0"], "at least 1"),
])
def test_bad_start_exits_with_a_message(argv, message):
    proc = subprocess.run([sys.executable, "-m", "app", "--port", "1", *argv],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert message in proc.stderr and "Traceback" not in proc.stderr
