"""The monitor runner's own behaviour: capped output, the flags chosen by Node's version, which
Node is found, and how network isolation is detected and applied (stand-in ``node`` and
``unshare`` scripts where the real ones cannot show it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tmr.safety import monitor as node

NODE = node.find_node(None)
needs_node = pytest.mark.skipif(NODE is None, reason="no Node.js on this machine")


def _script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    folder = tmp_path / "scratch"
    folder.mkdir()
    (folder / node.ZIP_NAME).write_bytes(b"PK\x05\x06" + b"\0" * 18)
    return folder


@pytest.fixture
def fresh_probes():  # type: ignore[no-untyped-def]
    """The isolation probes are cached per process: start and end each test without them."""
    node.network_isolation_available.cache_clear()
    node._unshare_prefix.cache_clear()
    yield
    node.network_isolation_available.cache_clear()
    node._unshare_prefix.cache_clear()


@needs_node
@pytest.mark.parametrize("exit_code", [0, 5])
def test_output_beyond_the_cap_is_dropped_and_flagged(scratch, exit_code):
    program = f"process.stdout.write('y'.repeat(300000)); process.exitCode = {exit_code};"
    limits = node.MonitorLimits(node=NODE or "node", timeout_seconds=10, output_bytes=1000)
    outcome = node.run_monitor(limits, scratch, program, "m", "u", "d")
    assert outcome.stdout == "y" * 1000 and outcome.truncated
    assert outcome.allowed is (exit_code == 0) and outcome.exit_code == exit_code
    assert outcome.first_line == "y" * 500  # a history row keeps at most 500 characters


@needs_node
def test_a_silent_program_has_an_empty_first_line(scratch):
    limits = node.MonitorLimits(node=NODE or "node", timeout_seconds=10)
    outcome = node.run_monitor(limits, scratch, "console.log('  ');", "m", "u", "d")
    assert outcome.allowed and not outcome.truncated
    assert outcome.first_line == ""


def test_an_unknown_node_version_gets_the_older_flags_and_the_scratch_path_is_hidden(
    scratch, tmp_path, fresh_probes, monkeypatch
):
    """A ``node`` whose version cannot be parsed is treated as old: the permission flag of Node
    20 and ``--no-warnings``; what it prints never shows the scratch folder's path."""
    fake = _script(
        tmp_path / "fake-node",
        'if [ "$1" = --version ]; then echo vNext; exit 0; fi\necho "$@"; exit 0\n',
    )
    monkeypatch.setattr(node.shutil, "which", lambda name: None)  # no unshare: run it directly
    node.node_version.cache_clear()
    try:
        assert node.node_version(fake) == "vNext"
        outcome = node.run_monitor(
            node.MonitorLimits(node=fake, heap_mb=77), scratch, "", "model", "up", "down"
        )
    finally:
        node.node_version.cache_clear()
    assert outcome.allowed
    assert outcome.stdout.split() == [
        "--max-old-space-size=77",
        "--experimental-permission",
        "--allow-fs-read=.",
        "--no-warnings",
        "./monitor.js",
        "model",
        "up",
        "down",
        "./download.zip",
    ]
    assert str(scratch) not in outcome.stdout


def test_node_version_of_a_missing_or_failing_binary_is_none(tmp_path):
    failing = _script(tmp_path / "failing-node", "echo v24.0.0; exit 1\n")
    assert node.node_version(str(tmp_path / "no-such-node")) is None
    assert node.node_version(failing) is None


def test_find_node_prefers_the_setting_then_the_projects_node_then_the_path(tmp_path, monkeypatch):
    assert node.find_node("/opt/node/bin/node") == "/opt/node/bin/node"
    local = tmp_path / "node"
    monkeypatch.setattr(node, "project_node", lambda: local)
    assert node.find_node(None) == str(local)
    monkeypatch.setattr(node, "project_node", lambda: None)
    monkeypatch.setattr(node.shutil, "which", lambda name: f"/usr/bin/{name}")
    assert node.find_node("") == "/usr/bin/node"


def test_no_isolation_where_unshare_fails_or_cannot_run(tmp_path, fresh_probes, monkeypatch):
    refusing = _script(tmp_path / "unshare", "exit 1\n")
    monkeypatch.setattr(node.shutil, "which", lambda name: refusing)
    assert node.network_isolation_available() is False
    node.network_isolation_available.cache_clear()
    not_executable = tmp_path / "unshare-noexec"
    not_executable.write_text("#!/bin/sh\nexit 0\n")
    monkeypatch.setattr(node.shutil, "which", lambda name: str(not_executable))
    assert node.network_isolation_available() is False
    assert node._unshare_prefix() == (str(not_executable), "-rn", "--")


@needs_node
def test_with_only_user_namespaces_the_monitor_runs_under_unshare_rn(
    scratch, tmp_path, fresh_probes, monkeypatch
):
    """Where ``unshare --net`` needs root but ``unshare -rn`` works (unprivileged user
    namespaces), monitors run under ``unshare -rn``: here a stand-in that logs how it was
    called and then runs the command."""
    log = tmp_path / "unshare.log"
    fake = _script(
        tmp_path / "unshare",
        f'echo "$1" >> {log}\nif [ "$1" = --net ]; then exit 1; fi\nshift 2\nexec "$@"\n',
    )
    real_which = node.shutil.which
    monkeypatch.setattr(
        node.shutil, "which", lambda name: fake if name == "unshare" else real_which(name)
    )
    assert node.network_isolation_available() is True
    outcome = node.run_monitor(
        node.MonitorLimits(node=NODE or "node", timeout_seconds=10),
        scratch,
        "console.log('judged');",
        "m",
        "u",
        "d",
    )
    assert outcome.allowed and outcome.first_line == "judged"
    # probes: --net refused, -rn accepted; then the run itself under -rn
    assert log.read_text().split() == ["--net", "-rn", "--net", "-rn"]


def test_the_child_limits_are_the_configured_ones(tmp_path):
    """``_limits`` runs in the monitor's process before Node starts; here in a Python child, so
    the test process keeps its own limits."""
    import subprocess
    import sys

    code = (
        "import resource as r\n"
        "from tmr.safety.monitor import MonitorLimits, _limits\n"
        "_limits(MonitorLimits(node='node', timeout_seconds=7.5, address_space_mb=2048))\n"
        "for name in ('AS', 'CPU', 'FSIZE', 'CORE', 'NOFILE'):\n"
        "    print(name, *r.getrlimit(getattr(r, 'RLIMIT_' + name)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    mb = 1024 * 1024
    assert out.splitlines() == [
        f"AS {2048 * mb} {2048 * mb}",
        "CPU 9 9",  # the time limit, rounded down, plus two seconds
        f"FSIZE {mb} {mb}",
        "CORE 0 0",
        "NOFILE 256 256",
    ]
