"""The suite cannot reach outside the machine (tests/support/hermetic.py), in-process or in a
subprocess."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest


def test_outside_addresses_and_names_are_refused():
    with pytest.raises(OSError, match="hermetic"):
        socket.create_connection(("93.184.216.34", 443), timeout=1)
    with pytest.raises(OSError, match="hermetic"):
        socket.getaddrinfo("huggingface.co", 443)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        socket.create_connection(server.getsockname(), timeout=1).close()  # loopback is fine


def test_subprocesses_are_guarded_too():
    code = (
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('1.1.1.1', 53), timeout=1)\n"
        "except OSError as e:\n"
        "    print('refused' if 'hermetic' in str(e) else 'other', e)\n"
        "else:\n"
        "    print('connected')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.startswith("refused"), done.stdout + done.stderr
