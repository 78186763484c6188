"""Sensitive models and their JavaScript monitors, on real Node.js (npm's node@24 installed by
scripts/install-node, else the machine's node): allowing, refusing with a message, hanging,
crashing, printing megabytes, trying to read the registry's database; the exact bytes judged;
every download path covered; the download history; the program's CRUD."""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import zipfile

import pytest

from tests.conftest import login
from tests.support.zips import hf_zip, upload
from tmr.safety.monitor import find_node

NODE = find_node(os.environ.get("TMR_NODE_BINARY"))
if NODE is None:
    if os.environ.get("CI") == "true":
        raise RuntimeError("no Node.js: scripts/install-node should have installed node@24")
    pytest.skip("no Node.js on this machine", allow_module_level=True)

ALLOW = """
const fs = require('fs');
const crypto = require('crypto');
const [model, uploader, downloader, zip] = process.argv.slice(2);
const digest = crypto.createHash('sha256').update(fs.readFileSync(zip)).digest('hex');
console.log(`ok ${model} ${uploader} ${downloader} ${digest}`);
const here = process.cwd() === require('path').dirname(zip);
console.log(JSON.stringify({env: Object.keys(process.env).sort(), cwd: here}));
"""

REFUSE = """
const [model, uploader, downloader] = process.argv.slice(2);
console.log(`denied: ${downloader} may not download ${model} (uploaded by ${uploader})`);
process.exit(2);
"""

HANG = "console.log('thinking'); while (true) {}"

CRASH = "function f() { throw new Error('monitor crashed on purpose'); } f();"

MEGABYTES = """
const line = 'x'.repeat(1023) + '\\n';
let out = '';
for (let i = 0; i < 1024; i++) out += line;
for (let i = 0; i < 5; i++) process.stdout.write(out);
process.exitCode = EXIT;
"""

READ_DB = """
const fs = require('fs');
let failures = [];
for (const target of [DB, DATA_DIR]) {
  try {
    const data = fs.statSync(target) && fs.readFileSync(target);
    console.log('READ ' + target + ' ' + data.length);
    process.exit(0);
  } catch (e) {
    failures.push(e.code);
  }
}
try { fs.writeFileSync(DATA_DIR + '/planted.txt', 'x'); console.log('WROTE'); process.exit(0); }
catch (e) { failures.push(e.code); }
console.log('denied: ' + failures.join(','));
process.exit(3);
"""


@pytest.fixture
def env(make_settings, monkeypatch):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from tmr.app import create_app

    monkeypatch.setenv("TMR_SECRET_FOR_TEST", "must-not-leak")
    settings = make_settings(monitor_timeout_seconds=3.0)
    with TestClient(create_app(settings)) as c:
        admin = {"X-Authorization": login(c)}
        r = c.post(
            "/users",
            headers=admin,
            json={
                "name": "carol",
                "password": "carol-secret-1",
                "permissions": ["upload", "search", "download"],
            },
        )
        assert r.status_code == 201
        carol = {"X-Authorization": login(c, "carol", "carol-secret-1", is_admin=False)}
        yield c, admin, carol, settings


def _sensitive(c, headers, program: str, name: str = "secret-model") -> str:  # type: ignore[no-untyped-def]
    r = c.post(
        "/artifact/model/upload",
        headers=headers,
        data={"name": name},
        files={
            "file": (f"{name}.zip", hf_zip(name=name, weights=b"W" * 5000), "application/zip"),
            "monitor": ("monitor.js", program.encode(), "text/javascript"),
        },
    )
    assert r.status_code == 201, r.text
    return r.json()["metadata"]["id"]


def test_allowing_program_sees_the_exact_bytes_and_nothing_of_the_registry(env):
    c, admin, carol, _ = env
    aid = _sensitive(c, carol, ALLOW)
    r = c.get(f"/download/{aid}", headers=admin)
    assert r.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert "model.safetensors" in names
    history = c.get(f"/artifact/model/{aid}/downloads", headers=carol).json()
    (event,) = history
    assert event["allowed"] and event["exit_code"] == 0 and event["user"] == admin_name()
    # the program judged exactly the bytes that were served
    digest = hashlib.sha256(r.content).hexdigest()
    assert event["first_line"] == f"ok secret-model carol {admin_name()} {digest}"
    assert event["part"] == "part=all"


def admin_name() -> str:
    return "ece30861defaultadminuser"


def test_the_environment_is_scrubbed_and_the_cwd_is_the_scratch_dir(env, tmp_path):
    from tmr.safety import monitor as node

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / node.ZIP_NAME).write_bytes(b"PK\x05\x06" + b"\0" * 18)
    limits = node.MonitorLimits(node=NODE or "node", timeout_seconds=10)
    outcome = node.run_monitor(limits, scratch, ALLOW, "m", "u", "d")
    assert outcome.allowed, outcome
    info = json.loads(outcome.stdout.splitlines()[1])
    assert info["cwd"] is True
    assert not [k for k in info["env"] if k.startswith(("TMR_", "AWS_", "HF_", "GITHUB_"))]
    assert set(info["env"]) <= {"HOME", "LANG", "PATH", "TMPDIR"}


def test_refusing_program_refuses_with_its_output_on_every_path(env):
    c, admin, carol, _ = env
    aid = _sensitive(c, carol, REFUSE)
    paths = [
        (f"/download/{aid}", {}, {}),
        (f"/download/{aid}", {"part": "weights"}, {}),
        (f"/download/{aid}/files/model.safetensors", {}, {}),
        (f"/download/{aid}/files/README.md", {}, {"Range": "bytes=0-9"}),
    ]
    for path, params, extra in paths:
        r = c.get(path, params=params, headers={**admin, **extra})
        assert r.status_code == 403, (path, r.status_code, r.text)
        body = r.json()
        assert body["error"] == "download_refused"
        assert (
            f"denied: {admin_name()} may not download secret-model (uploaded by carol)"
            in (body["message"])
        )
        assert body["details"]["exit_code"] == 2
        assert f"the download of {'secret-model'!r} was refused by its monitoring program: " in (
            body["message"]
        )
        assert "/tmp" not in body["message"]
    # HEAD serves no bytes: no monitor, no refusal
    assert c.head(f"/download/{aid}", headers=admin).status_code == 200
    history = c.get(f"/artifact/model/{aid}/downloads", headers=admin).json()
    assert len(history) == 4 and not any(h["allowed"] for h in history)
    assert {h["exit_code"] for h in history} == {2}
    assert history[3]["part"] == "file=README.md bytes=0-9"
    assert history[0]["first_line"].startswith("denied:")


def test_hanging_program_is_killed_at_the_limit_and_refused(env):
    c, admin, carol, settings = env
    aid = _sensitive(c, carol, HANG)
    started = time.monotonic()
    r = c.get(f"/download/{aid}", headers=admin)
    elapsed = time.monotonic() - started
    assert r.status_code == 403
    assert "time limit" in r.json()["message"] and "thinking" in r.json()["message"]
    assert elapsed < settings.monitor_timeout_seconds + 20
    (event,) = c.get(f"/artifact/model/{aid}/downloads", headers=carol).json()
    assert not event["allowed"] and event["exit_code"] is None


def test_crashing_program_refuses(env):
    c, admin, carol, _ = env
    aid = _sensitive(c, carol, CRASH)
    r = c.get(f"/download/{aid}", headers=admin)
    assert r.status_code == 403
    assert r.json()["details"]["exit_code"] == 1


@pytest.mark.parametrize("exit_code", [0, 1])
def test_megabytes_of_output_are_capped(env, exit_code):
    c, admin, carol, settings = env
    aid = _sensitive(c, carol, MEGABYTES.replace("EXIT", str(exit_code)))
    r = c.get(f"/download/{aid}", headers=admin)
    if exit_code == 0:
        assert r.status_code == 200
    else:
        assert r.status_code == 403
        assert len(r.content) < 20_000
        assert r.json()["details"]["stdout_truncated"] is True
    (event,) = c.get(f"/artifact/model/{aid}/downloads", headers=carol).json()
    assert len(event["first_line"]) <= 500


@pytest.mark.parametrize(
    "backend", ["sqlite+file"], indirect=True
)  # the database here is a file in the data dir
def test_program_cannot_read_the_database_or_write_the_data_dir(env):
    c, admin, carol, settings = env
    db = settings.data_dir.resolve() / "registry.db"
    assert db.exists()
    program = READ_DB.replace("DB", json.dumps(str(db)), 1).replace(
        "DATA_DIR", json.dumps(str(settings.data_dir.resolve()))
    )
    aid = _sensitive(c, carol, program)
    r = c.get(f"/download/{aid}", headers=admin)
    assert r.status_code == 403, r.text
    assert "denied: ERR_ACCESS_DENIED,ERR_ACCESS_DENIED,ERR_ACCESS_DENIED" in r.json()["message"]
    assert not (settings.data_dir / "planted.txt").exists()


def test_monitor_crud_ownership_and_sensitive_flag(env):
    c, admin, carol, _ = env
    meta = upload(c, carol, "model", name="plain-model")["metadata"]
    aid = meta["id"]
    r = c.get(f"/artifact/model/{aid}/monitor", headers=carol)
    assert r.status_code == 404 and r.json()["message"] == f"model {aid} has no monitoring program"
    # only the owner or an admin may change it
    r = c.put(f"/artifact/model/{aid}/monitor", headers=carol, json={"program": REFUSE})
    assert r.status_code == 200 and r.json()["uploaded_by"] == "carol"
    assert r.json()["sha256"] == hashlib.sha256(REFUSE.encode()).hexdigest()
    got = c.get(f"/artifact/model/{aid}/monitor", headers=admin).json()
    assert got["program"] == REFUSE
    status = c.get(f"/artifact/model/{aid}/lifecycle", headers=carol).json()
    assert status["sensitive"] is True and status["has_monitor"] is True
    assert c.get(f"/download/{aid}", headers=carol).status_code == 403
    r = c.put(f"/artifact/model/{aid}/monitor", headers=admin, json={"program": ALLOW})
    assert r.status_code == 200 and r.json()["uploaded_by"] == admin_name()
    assert c.get(f"/download/{aid}", headers=carol).status_code == 200
    assert c.delete(f"/artifact/model/{aid}/monitor", headers=carol).status_code == 200
    r = c.delete(f"/artifact/model/{aid}/monitor", headers=carol)
    assert r.status_code == 404 and r.json()["message"] == f"model {aid} has no monitoring program"
    r = c.put(f"/artifact/model/{aid}/sensitive", headers=carol, json={"sensitive": False})
    assert r.status_code == 200 and r.json()["sensitive"] is False
    # history is for the owner and admins only
    c.post("/users", headers=admin, json={"name": "dave", "password": "dave-secret-1"})
    dave = {"X-Authorization": login(c, "dave", "dave-secret-1", is_admin=False)}
    assert c.get(f"/artifact/model/{aid}/downloads", headers=dave).status_code == 401
    r = c.put(f"/artifact/model/{aid}/monitor", headers=dave, json={"program": ALLOW})
    assert r.status_code == 401
    perms = ["upload", "search", "download"]
    c.post("/users", headers=admin, json={"name": "erin", "password": "erin-secret-1",
                                          "permissions": perms})
    erin = {"X-Authorization": login(c, "erin", "erin-secret-1", is_admin=False)}
    r = c.put(f"/artifact/model/{aid}/monitor", headers=erin, json={"program": ALLOW})
    assert r.status_code == 401
    assert f"only the owner of model {aid} or an admin may" in r.json()["message"]
    assert (
        c.put(
            f"/artifact/model/{aid}/sensitive", headers=dave, json={"sensitive": True}
        ).status_code
        == 401
    )
    # monitors only for models; an empty program is refused
    ds = upload(c, carol, "dataset", name="some-data")["metadata"]
    r = c.put(f"/artifact/model/{ds['id']}/monitor", headers=carol, json={"program": ALLOW})
    assert r.status_code == 404 and r.json()["message"] == f"no model artifact with id {ds['id']}"
    r = c.put(f"/artifact/model/{aid}/monitor", headers=carol, json={"program": "  "})
    assert r.status_code == 400 and r.json()["message"] == "the monitoring program is empty"
    r = c.put(f"/artifact/model/{aid}/monitor", headers=carol, json={"program": "a\x00b"})
    assert r.status_code == 400
    assert "must be JavaScript text (found a NUL byte)" in r.json()["message"]
    big = "x" * (256 * 1024 + 1)
    r = c.put(f"/artifact/model/{aid}/monitor", headers=carol, json={"program": big})
    assert r.status_code == 413 and "a monitoring program may be at most" in r.json()["message"]


def test_health_reports_which_node_runs_monitors(env):
    c, admin, _, _ = env
    body = c.get("/health/components").json()
    (mon,) = [x for x in body["components"] if x["id"] == "monitors"]
    assert mon["metrics"]["node_version"].startswith("v")
    assert mon["status"] == "ok"
    assert "/" not in mon["metrics"]["node_source"]


NETWORK = """
const net = require('net');
const s = net.connect(PORT, '127.0.0.1', () => { console.log('connected'); process.exit(0); });
s.on('error', (e) => { console.log('no network: ' + e.code); process.exit(4); });
setTimeout(() => { console.log('no network: timeout'); process.exit(4); }, 2000);
"""


@pytest.mark.parametrize("allow", [False, True])
def test_network_is_off_unless_the_setting_allows_it(tmp_path, allow):
    import socket

    from tmr.safety import monitor as node

    if not node.network_isolation_available():
        if os.environ.get("CI") == "true":
            raise AssertionError("CI runs as root: network namespaces must be available")
        pytest.skip("no network namespaces here")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        scratch = tmp_path / "scratch"
        scratch.mkdir()
        (scratch / node.ZIP_NAME).write_bytes(b"PK\x05\x06" + b"\0" * 18)
        limits = node.MonitorLimits(node=NODE or "node", timeout_seconds=10, allow_network=allow)
        outcome = node.run_monitor(
            limits, scratch, NETWORK.replace("PORT", str(port)), "m", "u", "d"
        )
    if allow:
        assert outcome.allowed and outcome.first_line == "connected"
    else:
        assert not outcome.allowed and outcome.first_line.startswith("no network")


def test_memory_hog_dies_at_the_heap_limit(tmp_path):
    from tmr.safety import monitor as node

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / node.ZIP_NAME).write_bytes(b"PK\x05\x06" + b"\0" * 18)
    hog = "const a = []; while (true) a.push(new Array(1e6).fill(1.5)); "
    limits = node.MonitorLimits(node=NODE or "node", timeout_seconds=30, heap_mb=64)
    started = time.monotonic()
    outcome = node.run_monitor(limits, scratch, hog, "m", "u", "d")
    assert not outcome.allowed and not outcome.timed_out
    assert outcome.exit_code != 0
    assert time.monotonic() - started < 25
