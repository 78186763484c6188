"""Keep the test suite on this machine: no socket may connect outside loopback.

Installed for the whole session (``pytest_plugins`` in tests/conftest.py) and, through
``tests/support/site/sitecustomize.py`` on ``PYTHONPATH``, in every Python subprocess the tests
start (``tmr serve``, the CLI). ``socket.getaddrinfo`` resolves only loopback names and literal
addresses, so nothing even asks a DNS server; ``socket.connect`` refuses any address that is
not loopback (Unix sockets are fine). A refused attempt raises ``OSError`` naming the address,
which the registry reports like an unreachable upstream, so a test that tried to go out fails.

Not covered: code that opens sockets outside Python's ``socket`` module (libpq inside psycopg
connects in C; the tests point it at 127.0.0.1 only) and non-Python programs (SeaweedFS binds
to 127.0.0.1 with -ip.bind; its telemetry is switched off with -master.telemetry=false).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import Any

SITE = Path(__file__).with_name("site")
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", ""}
_installed = False


def _is_loopback(host: Any) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    host = str(host).strip("[]").split("%", 1)[0].lower()
    if host in _LOCAL_NAMES:
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


class OutsideNetworkRefused(OSError):
    pass


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not _is_loopback(host):
            raise socket.gaierror(
                socket.EAI_NONAME, f"hermetic tests: no name resolution for {host!r}"
            )
        return real_getaddrinfo(host, *args, **kwargs)

    def _check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            raise OutsideNetworkRefused(
                f"hermetic tests: connection to {address[0]}:{address[1]} (outside loopback)"
            )

    def connect(self, address):  # type: ignore[no-untyped-def]
        _check(self, address)
        return real_connect(self, address)

    def connect_ex(self, address):  # type: ignore[no-untyped-def]
        _check(self, address)
        return real_connect_ex(self, address)

    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]


def pytest_configure(config: Any) -> None:
    install()
    os.environ["TMR_TEST_HERMETIC"] = "1"
    paths = [str(SITE), *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
