"""The protections of what the registry serves, driven through the service objects the API uses
(ProtectionService, DownloadGate, InterestBuffer) on SQLite and PostgreSQL: lifecycle states and
who may change them, weight scans that quarantine, sensitive models and their monitors (real
Node.js), the download chokepoint and its history, flags and ancestor warnings, the buffered
search/view record and the package-confusion audit fed by them."""

from __future__ import annotations

import hashlib
import logging
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support import pickles as P
from tmr.config import load_settings
from tmr.domain.artifact import Artifact, ArtifactType, User
from tmr.domain.files import StoredFile
from tmr.domain.protections import FileScan, LifecycleState
from tmr.domain.snapshot import Snapshot
from tmr.errors import (
    ArtifactQuarantined,
    BadRequest,
    DownloadRefused,
    NotFound,
    TooLarge,
    Unauthorized,
    UnsafeContent,
)
from tmr.safety import monitor as node
from tmr.services import protections as prot
from tmr.services.lineage import LineageService
from tmr.services.protections import (
    DownloadGate,
    InterestBuffer,
    ProtectionService,
    scan_local_files,
    store_scans,
    unsafe_reason,
)
from tmr.storage.db.artifacts import ArtifactRepository
from tmr.storage.db.audit import AuditRepository, prepare_chains
from tmr.storage.db.engine import Database
from tmr.storage.db.migrate import upgrade
from tmr.storage.db.protections import ProtectionRepository

KEY = b"p" * 32
ADMIN = User("admin", is_admin=True)
CAROL = User("carol", is_admin=False)
DAVE = User("dave", is_admin=False)
NODE = node.find_node(None)

ALLOW = """
const fs = require('fs');
const [model, uploader, downloader, zip] = process.argv.slice(2);
console.log(`ok ${model} ${uploader} ${downloader} ${fs.readFileSync(zip).length}`);
"""
REFUSE = """
const [model, uploader, downloader] = process.argv.slice(2);
console.log(`denied: ${downloader} may not have ${model}`);
process.exit(3);
"""
SQLITE_ONLY = pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # nothing SQL-specific
HANG = "console.log('thinking'); while (true) {}"


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'registry.db'}"
    else:
        url = str(request.getfixturevalue("pg_database"))
    database = Database(url)
    upgrade(database.engine)
    prepare_chains(database, KEY)
    prot.forget_flagged()
    yield database
    prot.forget_flagged()
    database.dispose()


@pytest.fixture
def settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    scratch = tmp_path / "scratch-root"
    scratch.mkdir()
    return load_settings(
        data_dir=tmp_path / "data",
        log_level=0,
        monitor_timeout_seconds=5.0,
        monitor_scratch_dir=scratch,
    )


@pytest.fixture
def service(db: Database) -> ProtectionService:
    return ProtectionService(db, KEY, LineageService(db), InterestBuffer(db), 1000)


@pytest.fixture
def gate(db: Database, settings) -> DownloadGate:  # type: ignore[no-untyped-def]
    return DownloadGate(db, KEY, settings)


def register(
    db: Database,
    artifact_id: str,
    name: str,
    type_: str = "model",
    owner: str = "carol",
    hub_key: str | None = None,
    parents: tuple[str, ...] = (),
) -> Artifact:
    now = datetime.now(UTC)
    artifact = Artifact(
        id=artifact_id, name=name, type=ArtifactType(type_), url=f"https://example.com/{name}",
        created_at=now, updated_at=now, size_bytes=1, created_by=owner,
    )  # fmt: skip
    with db.transaction() as s:
        repo = ArtifactRepository(s)
        repo.add(
            artifact, source="web", hub_key=hub_key,
            snapshot=Snapshot(source="web", url=artifact.url), search_text=name,
        )  # fmt: skip
        repo.set_parents(artifact_id, [(p, "config.json") for p in parents])
    return artifact


def audit(db: Database, artifact_id: str) -> list[tuple[str, str, str | None]]:
    with db.read() as s:
        entries = AuditRepository(s, KEY).for_artifact(artifact_id)
    return [(e.action.value, e.user_name, e.detail) for e in entries]


def history(db: Database, artifact_id: str) -> list[tuple[str, str, bool, str | None]]:
    with db.read() as s:
        events = ProtectionRepository(s).downloads(artifact_id)
    return [(e.user_name, e.part, e.allowed, e.reason) for e in events]


# --- lifecycle ------------------------------------------------------------------------------
def test_lifecycle_changes_need_a_reason_and_the_owner_and_are_audited(db, service):
    register(db, "m1", "vision", owner="carol")
    artifact, status = service.status("m1")
    assert artifact.name == "vision" and status.state == LifecycleState.active
    assert status.changed_by is None and not status.sensitive

    with pytest.raises(BadRequest) as e:
        service.set_state("m1", LifecycleState.deprecated, "   ", CAROL)
    assert e.value.message == "say why the artifact is deprecated: 'reason' is required"
    with pytest.raises(Unauthorized) as e:
        service.set_state("m1", LifecycleState.deprecated, "old", DAVE)
    assert e.value.message == (
        "only the owner of model m1 or an admin may change its lifecycle state"
    )
    with pytest.raises(NotFound) as e:
        service.set_state("nope", LifecycleState.deprecated, "old", ADMIN)
    assert e.value.message == "no artifact with id nope"

    status = service.set_state("m1", LifecycleState.deprecated, "  superseded by v2 ", CAROL)
    assert (status.state, status.reason, status.changed_by) == (
        LifecycleState.deprecated, "superseded by v2", "carol",
    )  # fmt: skip
    assert status.changed_at is not None
    assert service.status("m1")[1] == status
    assert service.flags(["m1", "other"]) == {
        "m1": {"lifecycle": {"state": "deprecated", "reason": "superseded by v2"}}
    }
    # back to active: no reason needed, and the flag disappears from listings at once
    status = service.set_state("m1", LifecycleState.active, "", ADMIN)
    assert status.state == LifecycleState.active and status.changed_by == "admin"
    assert service.flags(["m1"]) == {}
    assert [a for a in audit(db, "m1") if a[0] == "LIFECYCLE"] == [
        ("LIFECYCLE", "carol", "deprecated: superseded by v2"),
        ("LIFECYCLE", "admin", "active: "),
    ]


def test_an_unsafe_scan_quarantines_and_keeps_the_model_quarantined(db, service, tmp_path):
    model = register(db, "m2", "evil")
    files = {
        "pytorch_model.bin": P.torch_zip(P.os_system_pickle()),
        "optimizer.pkl": P.state_dict_pickle(4),
        "model.safetensors": b"not a pickle",
    }
    local = {}
    for path, data in files.items():
        local[path] = tmp_path / path
        local[path].write_bytes(data)
    scans = scan_local_files(local)
    # only pickle-based files are scanned, in path order
    assert [(s.path, s.verdict) for s in scans] == [
        ("optimizer.pkl", "safe"),
        ("pytorch_model.bin", "unsafe"),
    ]
    reason = unsafe_reason(scans)
    assert reason is not None and reason.startswith("unsafe pickle: pytorch_model.bin imports ")
    assert "posix.system" in reason
    assert unsafe_reason([s for s in scans if s.verdict == "safe"]) is None

    with db.transaction() as s:  # as ingestion does: the files, then their verdicts
        ArtifactRepository(s).set_files(
            "m2", [StoredFile(p, len(d), None, "weights", None) for p, d in files.items()]
        )
        store_scans(s, model, [], KEY)  # nothing scanned: nothing written
        assert ProtectionRepository(s).scans("m2") == []
        store_scans(s, model, scans, KEY)
    _, status = service.status("m2")
    assert status.state == LifecycleState.quarantined and status.reason == reason
    assert status.changed_by == "weight-scanner"
    assert [(s.path, s.verdict) for s in service.scans("m2")] == [
        ("optimizer.pkl", "safe"),
        ("pytorch_model.bin", "unsafe"),
    ]
    assert ("LIFECYCLE", "weight-scanner", f"quarantined: {reason}") in audit(db, "m2")
    assert service.flags(["m2"])["m2"]["lifecycle"] == {"state": "quarantined", "reason": reason}

    # neither the owner nor an admin may lift it while the unsafe file is there
    for state in (LifecycleState.active, LifecycleState.deprecated):
        with pytest.raises(UnsafeContent) as e:
            service.set_state("m2", state, "looks fine to me", ADMIN)
        assert e.value.message == (
            "model m2 stays quarantined while it holds unsafe files (pytorch_model.bin); "
            "update it with safe weights or delete it"
        )
    # re-quarantining with another reason is allowed
    assert service.set_state("m2", LifecycleState.quarantined, "confirmed", ADMIN).reason == (
        "confirmed"
    )
    with pytest.raises(NotFound):
        service.scans("missing")


def test_unsafe_reason_names_at_most_three_globals_per_file_and_unresolvable_ones():
    now = datetime.now(UTC)
    scans = [
        FileScan("a.pkl", "unsafe", {"unsafe": ["os.system (REDUCE)", "b.c", "d.e", "f.g"]}, now),
        FileScan("b.pkl", "unsafe", {"unsafe": []}, now),
        FileScan("c.pkl", "safe", {}, now),
    ]
    assert unsafe_reason(scans) == (
        "unsafe pickle: a.pkl imports os.system, b.c, d.e; b.pkl imports unresolvable globals"
    )


# --- sensitive models and monitors -------------------------------------------------------------
def test_monitor_crud_marks_the_model_sensitive_and_is_audited(db, service):
    register(db, "m3", "secret")
    register(db, "d3", "data", type_="dataset")
    status, monitor = service.get_monitor("m3")
    assert monitor is None and not status.sensitive

    first = service.put_monitor("m3", REFUSE, CAROL)
    assert (first.artifact_id, first.uploaded_by, first.program) == ("m3", "carol", REFUSE)
    assert first.sha256 == hashlib.sha256(REFUSE.encode()).hexdigest()
    status, monitor = service.get_monitor("m3")
    assert status.sensitive and monitor is not None and monitor.program == REFUSE
    second = service.put_monitor("m3", ALLOW, ADMIN)
    assert service.get_monitor("m3")[1].sha256 == second.sha256  # type: ignore[union-attr]

    with pytest.raises(Unauthorized) as e:
        service.put_monitor("m3", ALLOW, DAVE)
    assert (
        e.value.message == "only the owner of model m3 or an admin may set its monitoring program"
    )
    with pytest.raises(Unauthorized) as e:
        service.delete_monitor("m3", DAVE)
    assert e.value.message == (
        "only the owner of model m3 or an admin may delete its monitoring program"
    )
    with pytest.raises(NotFound) as e:
        service.put_monitor("d3", ALLOW, ADMIN)
    assert e.value.message == "no model artifact with id d3"

    service.delete_monitor("m3", CAROL)
    with pytest.raises(NotFound) as e:
        service.delete_monitor("m3", CAROL)
    assert e.value.message == "model m3 has no monitoring program"
    status, monitor = service.get_monitor("m3")
    assert monitor is None and status.sensitive  # deleting the program keeps the flag

    with pytest.raises(Unauthorized) as e:
        service.set_sensitive("m3", False, DAVE)
    assert e.value.message == (
        "only the owner of model m3 or an admin may change whether it is sensitive"
    )
    assert service.set_sensitive("m3", False, CAROL).sensitive is False
    assert [a for a in audit(db, "m3") if a[0] in {"MONITOR", "SENSITIVE"}] == [
        ("MONITOR", "carol", f"uploaded sha256={first.sha256}"),
        ("MONITOR", "admin", f"replaced sha256={second.sha256}"),
        ("MONITOR", "carol", "deleted"),
        ("SENSITIVE", "carol", "false"),
    ]
    # a sensitive flag set on a model with no status row yet starts it active
    register(db, "m4", "fresh")
    status = service.set_sensitive("m4", True, ADMIN)
    assert status.sensitive and status.state == LifecycleState.active and status.reason == ""


@pytest.mark.parametrize(
    ("program", "error", "message"),
    [
        ("x" * 1001, TooLarge, "a monitoring program may be at most 1000 bytes"),
        ("é" * 501, TooLarge, "a monitoring program may be at most 1000 bytes"),  # bytes, not chars
        (" \n\t", BadRequest, "the monitoring program is empty"),
        ("a\x00b", BadRequest, "the monitoring program must be JavaScript text (found a NUL byte)"),
    ],
)
@SQLITE_ONLY
def test_monitor_programs_are_validated_before_anything_is_stored(
    db, service, program, error, message
):
    register(db, "m5", "model")
    with pytest.raises(error) as e:
        service.put_monitor("m5", program, ADMIN)
    assert e.value.message == message
    assert service.get_monitor("m5")[1] is None
    assert service.validate_program("x" * 1000) == "x" * 1000


# --- the download chokepoint ----------------------------------------------------------------------
def _writer(payload: bytes):  # type: ignore[no-untyped-def]
    def write(dest: Path) -> None:
        with zipfile.ZipFile(dest, "w") as z:
            z.writestr("model.safetensors", payload)

    return write


def _never(dest: Path) -> None:
    raise AssertionError("only a monitored download writes its zip")


def test_plain_and_quarantined_downloads_are_recorded_and_refused(db, service, gate):
    model = register(db, "m6", "vision")
    data = register(db, "d6", "corpus", type_="dataset")
    assert gate.plain(model, [data])
    result = gate.check(model, DAVE, "part=all", _never, linked=[data])
    assert (result.checked_zip, result.no_presign) == (None, False)
    gate.record_allowed(model, CAROL, "part=card").result(timeout=10)

    service.set_state("d6", LifecycleState.quarantined, "personal data", ADMIN)
    assert not gate.plain(model, [data])
    assert gate.plain(model)  # the model alone is fine
    with pytest.raises(ArtifactQuarantined) as e:
        gate.check(model, DAVE, "part=datasets", _never, linked=[data])
    assert e.value.message == (
        "the download of 'vision' includes dataset 'corpus' (d6), which is quarantined: "
        "personal data"
    )
    with pytest.raises(ArtifactQuarantined):  # HEAD: refused, but not recorded
        gate.check(model, DAVE, "part=datasets", _never, head=True, linked=[data])

    service.set_state("m6", LifecycleState.quarantined, "backdoored", ADMIN)
    assert not gate.plain(model)
    with pytest.raises(ArtifactQuarantined) as e:
        gate.check(model, DAVE, "file=model.safetensors", _never)
    assert e.value.message == (
        "model 'vision' (m6) is quarantined and cannot be downloaded: backdoored"
    )
    with pytest.raises(ArtifactQuarantined):
        gate.check(model, DAVE, "part=all", _never, head=True)

    assert history(db, "m6") == [
        ("dave", "part=all", True, None),
        ("carol", "part=card", True, None),
        ("dave", "part=datasets", False, "corpus quarantined"),
        ("dave", "file=model.safetensors", False, "quarantined: backdoored"),
    ]
    assert [a for a in audit(db, "m6") if a[0] in {"DOWNLOAD", "REFUSE"}] == [
        ("DOWNLOAD", "dave", "part=all"),
        ("DOWNLOAD", "carol", "part=card"),
        ("REFUSE", "dave", "part=datasets: corpus quarantined"),
        ("REFUSE", "dave", "file=model.safetensors: quarantined: backdoored"),
    ]
    # the history is for the owner and admins
    assert [h.part for h in service.history("m6", CAROL)] == [h[1] for h in history(db, "m6")]
    assert len(service.history("m6", ADMIN)) == 4
    with pytest.raises(Unauthorized) as e:
        service.history("m6", DAVE)
    assert e.value.message == "only the owner of model m6 or an admin may read its download history"


def test_a_sensitive_model_without_a_program_is_served_but_never_presigned(db, service, gate):
    model = register(db, "m7", "secret")
    service.set_sensitive("m7", True, CAROL)
    assert not gate.plain(model)
    result = gate.check(model, DAVE, "part=all", _never)
    assert result.no_presign and result.checked_zip is None
    assert gate.check(model, DAVE, "part=all", _never, head=True).no_presign
    assert history(db, "m7") == [("dave", "part=all", True, None)]  # HEAD is not recorded


@pytest.mark.skipif(NODE is None, reason="no Node.js on this machine")
def test_a_monitor_judges_the_exact_zip_and_its_verdict_is_recorded(db, service, gate, settings):
    model = register(db, "m8", "secret")
    service.put_monitor("m8", ALLOW, CAROL)
    payload = b"W" * 4096
    result = gate.check(model, DAVE, "part=weights", _writer(payload))
    assert result.no_presign and result.checked_zip is not None
    assert result.checked_zip.parent.parent == settings.monitor_scratch_dir
    assert zipfile.ZipFile(result.checked_zip).read("model.safetensors") == payload
    assert not (result.checked_zip.parent / node.PROGRAM_NAME).exists()  # only the zip is kept
    size = result.checked_zip.stat().st_size
    result.cleanup()
    assert not result.checked_zip.parent.exists()
    result.cleanup()  # twice is harmless
    with db.read() as s:
        (event,) = ProtectionRepository(s).downloads("m8")
    assert event.allowed and event.exit_code == 0
    assert event.first_line == f"ok secret carol dave {size}"

    service.put_monitor("m8", REFUSE, CAROL)
    with pytest.raises(DownloadRefused) as e:
        gate.check(model, DAVE, "part=all", _writer(payload))
    assert e.value.message == (
        "the download of 'secret' was refused by its monitoring program: the monitor exited "
        "with code 3. Its output: denied: dave may not have secret"
    )
    assert e.value.details["exit_code"] == 3 and e.value.details["timed_out"] is False
    assert e.value.details["stdout_truncated"] is False
    assert list(settings.monitor_scratch_dir.iterdir()) == []  # refused: nothing left behind
    assert history(db, "m8")[-1] == (
        "dave", "part=all", False, "the monitor exited with code 3"
    )  # fmt: skip
    assert audit(db, "m8")[-1] == ("REFUSE", "dave", "part=all: the monitor exited with code 3")


@pytest.mark.skipif(NODE is None, reason="no Node.js on this machine")
@SQLITE_ONLY
def test_a_hanging_monitor_is_stopped_at_its_limit(db, service, tmp_path):
    settings = load_settings(data_dir=tmp_path / "data", log_level=0, monitor_timeout_seconds=1.0)
    gate = DownloadGate(db, KEY, settings)
    model = register(db, "m9", "slow")
    service.put_monitor("m9", HANG, CAROL)
    with pytest.raises(DownloadRefused) as e:
        gate.check(model, DAVE, "part=all", _writer(b"x"))
    assert e.value.message == (
        "the download of 'slow' was refused by its monitoring program: the monitor was stopped "
        "at its time limit (1 s). Its output: thinking"
    )
    assert e.value.details["timed_out"] is True and e.value.details["exit_code"] is None
    (event,) = service.history("m9", CAROL)
    assert not event.allowed and event.exit_code is None and event.first_line == "thinking"


@SQLITE_ONLY
def test_without_node_a_monitored_download_is_refused(db, service, gate, monkeypatch):
    model = register(db, "m10", "secret")
    service.put_monitor("m10", ALLOW, CAROL)
    monkeypatch.setattr(node, "find_node", lambda configured: None)
    with pytest.raises(DownloadRefused) as e:
        gate.check(model, DAVE, "part=all", _never)
    assert e.value.message == (
        "model 'secret' is sensitive and no Node.js is installed to run its monitoring "
        "program; the download is refused"
    )
    assert history(db, "m10") == [("dave", "part=all", False, "no Node.js to run the monitor")]


@SQLITE_ONLY
def test_a_failure_writing_the_zip_leaves_no_scratch_and_no_record(db, service, gate, settings):
    model = register(db, "m11", "secret")
    service.put_monitor("m11", ALLOW, CAROL)

    def broken(dest: Path) -> None:
        dest.write_bytes(b"partial")
        raise OSError("blob store unreachable")

    with pytest.raises(OSError, match="blob store unreachable"):
        gate.check(model, DAVE, "part=all", broken)
    assert list(settings.monitor_scratch_dir.iterdir()) == []
    assert history(db, "m11") == []


@SQLITE_ONLY
def test_a_failed_record_write_reaches_every_waiting_download(db, gate, monkeypatch):
    model = register(db, "m12", "vision")

    def fail(self, event):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    monkeypatch.setattr(ProtectionRepository, "add_download", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        gate.check(model, DAVE, "part=all", _never)
    with pytest.raises(RuntimeError, match="disk full"):
        gate.record_allowed(model, DAVE, "part=card").result(timeout=10)
    monkeypatch.undo()
    assert history(db, "m12") == []
    gate.record_allowed(model, DAVE, "part=card").result(timeout=10)  # the writer recovers
    assert history(db, "m12") == [("dave", "part=card", True, None)]


@SQLITE_ONLY
def test_the_record_writer_stops_when_idle_and_restarts_on_demand(db, gate, monkeypatch):
    monkeypatch.setattr(prot.DownloadRecorder, "IDLE_SECONDS", 0.05)
    model = register(db, "m13", "vision")
    recorder = prot.download_recorder(db, KEY)
    assert prot.download_recorder(db, KEY) is recorder  # one per database
    gate.record_allowed(model, DAVE, "part=all").result(timeout=10)
    for _ in range(200):
        if recorder._writer is None:
            break
        time.sleep(0.01)
    assert recorder._writer is None
    gate.record_allowed(model, CAROL, "part=all").result(timeout=10)
    assert [h[0] for h in history(db, "m13")] == ["dave", "carol"]


# --- flags and ancestor warnings -------------------------------------------------------------
def test_a_flagged_ancestor_warns_every_descendant_model(db, service):
    register(db, "p", "base", hub_key="acme/base")
    register(db, "c", "tuned", hub_key="acme/tuned", parents=("acme/base",))
    register(db, "g", "tuned-more", parents=("acme/tuned", "acme/base"))  # reached twice
    register(db, "x", "unrelated")
    register(db, "ds", "corpus", type_="dataset", hub_key="datasets/acme/corpus")
    assert service.flags(["p", "c", "g", "x"]) == {}
    assert service.warnings_for("g") == []
    assert service.record_view("g") == (service.status("g")[1], [], [])

    service.set_state("p", LifecycleState.quarantined, "poisoned data", ADMIN)
    service.set_state("ds", LifecycleState.deprecated, "withdrawn", ADMIN)  # datasets: no walk
    text = "ancestor 'base' (p) is quarantined: poisoned data"
    flags = service.flags(["p", "c", "g", "x", "ds"])
    assert flags == {
        "p": {"lifecycle": {"state": "quarantined", "reason": "poisoned data"}},
        "c": {"warnings": [text]},
        "g": {"warnings": [text]},
        "ds": {"lifecycle": {"state": "deprecated", "reason": "withdrawn"}},
    }
    assert [w.text() for w in service.warnings_for("g")] == [text]
    assert service.warnings_for("x") == []
    status, scans, warnings = service.record_view("c")
    assert status.state == LifecycleState.active and scans == []
    assert [(w.ancestor_id, w.ancestor_name, w.state) for w in warnings] == [
        ("p", "base", LifecycleState.quarantined)
    ]
    artifact, status, _, warnings = service.record(ArtifactType.model, "g")
    assert artifact.name == "tuned-more" and [w.text() for w in warnings] == [text]
    with pytest.raises(NotFound) as e:
        service.record(ArtifactType.dataset, "g")
    assert e.value.message == "no dataset artifact with id g"

    # deprecating the child adds its own warning for the grandchild
    service.set_state("c", LifecycleState.deprecated, "use tuned-v2", CAROL)
    assert sorted(w.text() for w in service.warnings_for("g")) == sorted(
        [text, "ancestor 'tuned' (c) is deprecated: use tuned-v2"]
    )
    # lifting the quarantine removes the warnings it caused
    service.set_state("p", LifecycleState.active, "", ADMIN)
    assert service.flags(["c", "g"]) == {
        "c": {"lifecycle": {"state": "deprecated", "reason": "use tuned-v2"}},
        "g": {"warnings": ["ancestor 'tuned' (c) is deprecated: use tuned-v2"]},
    }


# --- search/view appearances and the confusion audit ----------------------------------------
def test_interest_is_buffered_and_unknown_ids_are_dropped(db, service):
    a = register(db, "i1", "seen")
    service.record_interest(CAROL, [a], "search")
    service.interest.add("dave", ["i1", "gone"], "view")
    with db.read() as s:
        assert ProtectionRepository(s).interest() == []  # still buffered
    service.interest.flush()
    service.interest.flush()  # nothing left: no write
    with db.read() as s:
        events = ProtectionRepository(s).interest()
    assert [(e.artifact_id, e.user_name, e.kind) for e in events] == [
        ("i1", "carol", "search"),
        ("i1", "dave", "view"),
    ]


@SQLITE_ONLY
def test_a_full_interest_buffer_is_written_in_the_background(db, monkeypatch):
    register(db, "i2", "popular")
    buffer = InterestBuffer(db)
    monkeypatch.setattr(InterestBuffer, "FLUSH_EVENTS", 3)
    buffer.add("carol", ["i2", "i2"], "search")
    deadline = time.monotonic() + 10
    buffer.add("carol", ["i2"], "view")  # the third event fills it
    while time.monotonic() < deadline:
        with db.read() as s:
            found = ProtectionRepository(s).interest()
        if found:
            break
        time.sleep(0.02)
    assert [e.kind for e in found] == ["search", "search", "view"]


@SQLITE_ONLY
def test_a_failed_interest_write_is_logged_and_dropped(db, monkeypatch, caplog):
    register(db, "i3", "popular")
    buffer = InterestBuffer(db)

    def fail(self, events):  # type: ignore[no-untyped-def]
        raise RuntimeError("database locked")

    monkeypatch.setattr(ProtectionRepository, "add_interest", fail)
    buffer.add("carol", ["i3", "i3"], "search")
    with caplog.at_level(logging.WARNING, logger="tmr.protections"):
        buffer.flush()
    assert "could not record 2 search/view events: database locked" in caplog.text
    monkeypatch.undo()
    buffer.flush()
    with db.read() as s:
        assert ProtectionRepository(s).interest() == []


def test_the_confusion_audit_finds_a_lookalike_downloaded_by_a_bot(db, service, gate):
    original = register(db, "o1", "acme-vision", owner="admin", hub_key="acme/acme-vision")
    register(db, "o2", "unrelated-thing", owner="admin", hub_key="datasets/acme/unrelated")
    for i in range(6):
        user = User(f"user{i}", is_admin=False)
        service.record_interest(user, [original], "search")
        service.record_interest(user, [original], "view")
        gate.check(original, user, "part=all", _never)
    fake = register(db, "f1", "acme-visi0n", owner="mallory")
    bot = User("botty", is_admin=False)
    for _ in range(12):
        gate.check(fake, bot, "part=all", _never)

    (finding,) = service.confusion_audit(0.5)
    assert (finding.artifact_id, finding.name, finding.type) == ("f1", "acme-visi0n", "model")
    assert finding.looks_like == ("o1", "acme-vision", "model")
    assert finding.score >= 0.5
    reasons = " | ".join(finding.reasons)
    assert "acme-vision" in reasons and "never preceded by a search" in reasons
    assert service.confusion_audit(1.0) == []


def test_hub_owner_of_each_kind_of_key():
    assert prot._hub_owner(None) is None
    assert prot._hub_owner("acme/vision") == "acme"
    assert prot._hub_owner("datasets/acme/corpus") == "acme"
    assert prot._hub_owner("github/octo/repo") == "octo"
    assert prot._hub_owner("bert-base-uncased") is None


# --- which Node runs monitors ------------------------------------------------------------------
def test_monitor_runtime_names_the_node_and_the_containment(tmp_path, monkeypatch):
    base = {"data_dir": tmp_path / "data", "log_level": 0}
    if NODE is not None:
        info = prot.monitor_runtime(load_settings(**base, node_binary=NODE))
        assert info["node_source"] == "TMR_NODE_BINARY"
        assert str(info["node_version"]).startswith("v")
        assert info["timeout_seconds"] == 10.0 and info["heap_mb"] == 128
    info = prot.monitor_runtime(load_settings(**base, monitor_allow_network=True))
    assert info["network"] == "allowed"
    assert info["node_source"] in {"npm package node@24", "system node"}
    if NODE is not None:  # the project's own node@24 (scripts/install-node), else the system's
        monkeypatch.setattr(node, "project_node", lambda: Path(NODE))
        assert prot.monitor_runtime(load_settings(**base))["node_source"] == "npm package node@24"
        monkeypatch.setattr(node, "project_node", lambda: None)
        assert prot.monitor_runtime(load_settings(**base))["node_source"] == "system node"

    monkeypatch.setattr(node, "project_node", lambda: None)
    monkeypatch.setattr(node.shutil, "which", lambda name: None)
    node.network_isolation_available.cache_clear()
    try:
        info = prot.monitor_runtime(load_settings(**base))
        assert info["node_version"] == "none" and info["node_source"] == "none"
        assert info["network"] == "not blocked: no network namespaces on this machine"
    finally:
        node.network_isolation_available.cache_clear()
    monkeypatch.undo()
    if node.network_isolation_available():
        info = prot.monitor_runtime(load_settings(**base))
        assert info["network"] == "blocked (empty network namespace)"
