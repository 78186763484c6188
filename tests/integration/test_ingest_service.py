"""The ingest service as the API routes drive it, on both storage pairs (``backend``).

Upstream is the registry's one seam (``registry.upstream``) with its two functions swapped for a
scripted upstream, so each test says exactly what the "repository" holds: which files the fetch
already read (staged), which must be downloaded, which fail to download, which are too large to
prefetch. What is asserted is what a user relies on: the rows and blobs written, the audit
entries, the refusals with their messages, and that nothing is left behind when a step fails.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tmr.composition import Registry, build_registry, build_services
from tmr.config import Settings
from tmr.domain.artifact import ArtifactType, AuditAction, User
from tmr.domain.security import SecurityAction
from tmr.domain.snapshot import HfRepo, ParentRef, RepoFile, Snapshot, WebPage
from tmr.errors import (
    BadRequest,
    Conflict,
    IngestRejected,
    NotFound,
    StorageUnavailable,
    Unauthorized,
    UpstreamUnavailable,
)
from tmr.services.ingest import IngestService, derive_name, snapshot_hub_key, snapshot_version
from tmr.storage.db.artifacts import ArtifactRepository
from tmr.storage.db.audit import AuditRepository
from tmr.storage.db.protections import ProtectionRepository

ADMIN = User("ece30861defaultadminuser", is_admin=True)
ALICE = User("alice", is_admin=False)
MB = 1024 * 1024

HUB = "https://huggingface.co"
SQUAD = f"{HUB}/datasets/rajpurkar/squad"
README = b"---\nlicense: mit\n---\n# squad\nQuestions and answers.\n"
TRAIN = b"question,answer\nwho,me\n" * 50
BIG_SIZE = 3 * MB  # over the 2 MiB prefetch limit: pulled through on first download instead


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hf_snapshot(
    url: str,
    repo_id: str,
    *,
    repo_type: str = "dataset",
    readme: bytes = README,
    train: bytes = TRAIN,
    license: str | None = "mit",
    card_data: dict[str, object] | None = None,
    parents: list[ParentRef] | None = None,
) -> Snapshot:
    """A Hub repository: a staged card, a small file to download, one that fails to download
    and one too large to prefetch."""
    files = [
        RepoFile(path="README.md", size=len(readme), sha256=sha(readme)),
        RepoFile(path="data/train.csv", size=len(train), sha256=None),
        RepoFile(path="broken.json", size=10, sha256=None),
        RepoFile(path="data/big.parquet", size=BIG_SIZE, sha256="b" * 64, lfs=True),
    ]
    hf = HfRepo(
        repo_id=repo_id,
        repo_type=repo_type,  # type: ignore[arg-type]
        card_text=readme.decode(),
        card_data=card_data or {},
        license=license,
        files=files,
        staged={"README.md": readme},
    )
    return Snapshot(source="huggingface", url=url, hf=hf, parents=parents or [])


class ScriptedUpstream:
    """What ``fetch`` returns per URL and what ``download`` serves per path; counts calls."""

    def __init__(self) -> None:
        self.snapshots: dict[str, Snapshot] = {}
        self.contents: dict[str, bytes] = {"data/train.csv": TRAIN}
        self.fetched: list[str] = []
        self.downloaded: list[str] = []
        self.on_fetch: list[object] = []

    def fetch(self, url: str, artifact_type: str, settings: Settings) -> Snapshot:
        self.fetched.append(url)
        for hook in self.on_fetch:
            hook()  # type: ignore[operator]
        return self.snapshots[url].model_copy(deep=True)

    def download(self, snapshot: Snapshot, path: str, dest: Path, settings: Settings) -> str:
        self.downloaded.append(path)
        if path not in self.contents:
            raise UpstreamUnavailable(f"upstream timed out on {path}")
        dest.write_bytes(self.contents[path])
        return sha(self.contents[path])


@pytest.fixture
def open_registry(backend, make_settings) -> Iterator:  # type: ignore[no-untyped-def]
    """Build a registry on the test's backend (with settings overrides) wired to a scripted
    upstream; returns (registry, ingest service, upstream)."""
    opened: list[Registry] = []

    def open_(**overrides: object) -> tuple[Registry, IngestService, ScriptedUpstream]:
        registry = build_registry(make_settings(**backend, **overrides))
        opened.append(registry)
        upstream = ScriptedUpstream()
        upstream.snapshots[SQUAD] = hf_snapshot(SQUAD, "rajpurkar/squad")
        registry.upstream.fetch_snapshot = upstream.fetch
        registry.upstream.download_file = upstream.download
        return registry, build_services(registry).ingest, upstream

    yield open_
    for registry in opened:
        registry.db.dispose()


def blob_bytes(registry: Registry, key: str) -> bytes:
    return b"".join(registry.blobs.iter_range(key))


def stored_files(registry: Registry, artifact_id: str) -> dict[str, tuple[str | None, str | None]]:
    with registry.db.read() as s:
        return {f.path: (f.sha256, f.blob_key) for f in ArtifactRepository(s).files(artifact_id)}


def trail(registry: Registry, artifact_id: str) -> list[tuple[AuditAction, str]]:
    with registry.db.read() as s:
        entries = AuditRepository(s, registry.audit_key).for_artifact(artifact_id)
    return [(e.action, e.user_name) for e in entries]


def prefetch_dirs(registry: Registry) -> list[Path]:
    return sorted(registry.work_dir.glob("prefetch-*"))


def test_registration_stores_small_files_and_leaves_large_and_failed_ones_for_later(
    open_registry,
) -> None:
    registry, ingest, upstream = open_registry(ingest_gate="off")

    made = ingest.register_url(ArtifactType.dataset, SQUAD, None, ALICE)

    assert (made.name, made.type, made.url, made.created_by) == (
        "squad",  # derived from the repository id
        ArtifactType.dataset,
        SQUAD,
        "alice",
    )
    assert made.size_bytes == len(README) + len(TRAIN) + 10 + BIG_SIZE
    files = stored_files(registry, made.id)
    readme_sha, readme_key = files["README.md"]
    train_sha, train_key = files["data/train.csv"]
    assert readme_key is not None and blob_bytes(registry, readme_key) == README
    assert train_key is not None and blob_bytes(registry, train_key) == TRAIN
    assert (readme_sha, train_sha) == (sha(README), sha(TRAIN))  # the digest of what was read
    assert files["broken.json"] == (None, None)  # its download failed: left for pull-through
    assert files["data/big.parquet"] == ("b" * 64, None)  # too large to prefetch
    assert "README.md" not in upstream.downloaded  # staged by the fetch: never read twice
    assert sorted(upstream.downloaded) == ["broken.json", "data/train.csv"]
    assert trail(registry, made.id) == [(AuditAction.CREATE, "alice")]
    with registry.db.read() as s:
        repo = ArtifactRepository(s)
        assert repo.source(made.id) == "huggingface"
        assert repo.hub_key(made.id) == "datasets/rajpurkar/squad"
        assert repo.rating(made.id) is None  # only models are rated
    assert prefetch_dirs(registry) == []  # the local copies are gone


def test_a_second_registration_of_the_same_url_and_name_is_refused_before_any_fetch(
    open_registry,
) -> None:
    registry, ingest, upstream = open_registry(ingest_gate="off")
    first = ingest.register_url(ArtifactType.dataset, SQUAD, "squad", ALICE)

    with pytest.raises(Conflict) as caught:
        ingest.register_url(ArtifactType.dataset, SQUAD, "squad", ADMIN)
    assert caught.value.message == (
        f"Artifact exists already: dataset 'squad' from {SQUAD} is artifact {first.id}; "
        "register it under another name to keep a second copy."
    )
    assert caught.value.details == {"existing_id": first.id}
    assert upstream.fetched == [SQUAD]  # the named duplicate was refused before fetching

    with pytest.raises(Conflict, match="Artifact exists already: dataset 'squad'"):
        ingest.register_url(ArtifactType.dataset, SQUAD, None, ADMIN)  # the derived name
    second = ingest.register_url(ArtifactType.dataset, SQUAD, "squad-copy", ADMIN)
    assert second.id != first.id and second.name == "squad-copy"
    assert prefetch_dirs(registry) == []


def test_bad_names_and_sensitive_non_models_are_refused(open_registry) -> None:
    _, ingest, upstream = open_registry(ingest_gate="off")
    with pytest.raises(BadRequest, match="^only models can be sensitive$"):
        ingest.register_url(ArtifactType.dataset, SQUAD, "squad", ALICE, sensitive=True)
    with pytest.raises(BadRequest) as caught:
        ingest.register_url(ArtifactType.dataset, SQUAD, "admin\u200bsquad", ALICE)
    assert caught.value.message == (
        "the artifact name has a control or invisible character at position 5 (counting from "
        "0): U+200B ZERO WIDTH SPACE (category Cf); use visible characters only"
    )
    assert upstream.fetched == []  # both refused before any upstream traffic


def test_the_gate_refuses_a_poorly_documented_model_and_logs_a_security_event(
    open_registry,
) -> None:
    registry, ingest, upstream = open_registry(ingest_gate="on")
    url = "https://huggingface.co/acme/unlicensed"
    upstream.snapshots[url] = hf_snapshot(url, "acme/unlicensed", repo_type="model", license=None)

    with pytest.raises(IngestRejected) as caught:
        ingest.register_url(ArtifactType.model, url, None, ALICE)

    message = caught.value.message
    assert message.startswith(
        "model 'unlicensed' was not registered: the ingest gate needs every applicable metric "
        ">= 0.5 and an identifiable license; it refused: "
    )
    assert caught.value.status_code == 424
    failed = caught.value.details["failed_metrics"]
    assert "ramp_up_time" in failed and all(score < 0.5 for score in failed.values())
    assert caught.value.details["reasons"]["ramp_up_time"] == "score below 0.5"
    assert f"ramp_up_time={failed['ramp_up_time']:.2f} (score below 0.5)" in message
    [event] = registry.security.page(0, 10, SecurityAction.REJECT)
    assert (event.actor, event.subject) == ("alice", "model/unlicensed")
    assert event.detail is not None and event.detail.startswith(f"{url}: ")
    with registry.db.read() as s:
        assert ArtifactRepository(s).count() == 0
    assert list(registry.blobs.list("artifacts/")) == []
    assert prefetch_dirs(registry) == []  # the refused model's prefetched files are discarded


def test_a_sensitive_model_is_rated_stored_and_flagged(open_registry) -> None:
    registry, ingest, upstream = open_registry(ingest_gate="off")
    url = "https://huggingface.co/acme/tuned"
    upstream.snapshots[url] = hf_snapshot(
        url,
        "acme/tuned",
        repo_type="model",
        card_data={"version": 2},
        parents=[
            ParentRef(name="google-bert/bert-base-uncased", source="config_json"),
            ParentRef(name=f"{HUB}/google-bert/bert-base-uncased", source="model_card"),
            ParentRef(name="./local/checkpoint", source="adapter_config"),  # a path: no key
            ParentRef(name="acme/tuned", source="model_card"),  # itself: no self-loop
        ],
    )

    made = ingest.register_url(ArtifactType.model, url, None, ALICE, sensitive=True)

    assert made.version == "2"  # a number declared in the card reads as text
    with registry.db.read() as s:
        repo = ArtifactRepository(s)
        assert repo.parent_refs([made.id]) == [
            (made.id, "google-bert/bert-base-uncased", "config_json")
        ]
        rating = repo.rating(made.id)
        assert rating is not None and 0.0 <= rating[0] <= 1.0
        assert rating[1]["name"] == "tuned"
        assert ProtectionRepository(s).status(made.id).sensitive is True


def test_an_update_replaces_the_contents_and_deletes_the_old_blobs(open_registry) -> None:
    registry, ingest, upstream = open_registry(ingest_gate="off")
    made = ingest.register_url(ArtifactType.dataset, SQUAD, "squad", ALICE)
    old_keys = {k for _, k in stored_files(registry, made.id).values() if k}
    bundle = f"artifacts/{made.id}/bundles/card-0000.zip"
    registry.blobs.put_bytes(bundle, b"a materialised zip of the old version")
    v2 = "https://huggingface.co/datasets/rajpurkar/squad_v2"
    readme2 = b"# squad v2\nNow with unanswerable questions.\n"
    upstream.snapshots[v2] = hf_snapshot(v2, "rajpurkar/squad_v2", readme=readme2)

    updated = ingest.update_url(ArtifactType.dataset, made.id, "squad", v2, ALICE)

    assert (updated.id, updated.name, updated.url) == (made.id, "squad", v2)
    assert updated.updated_at >= made.updated_at
    files = stored_files(registry, made.id)
    readme_key = files["README.md"][1]
    assert readme_key is not None and blob_bytes(registry, readme_key) == readme2
    assert old_keys.isdisjoint(k for _, k in files.values())
    for key in old_keys:
        assert registry.blobs.stat(key) is None  # the superseded version's blobs are gone
    assert registry.blobs.stat(bundle) is None  # and so are its materialised zips
    assert trail(registry, made.id) == [
        (AuditAction.CREATE, "alice"),
        (AuditAction.UPDATE, "alice"),
    ]
    with registry.db.read() as s:
        assert ArtifactRepository(s).hub_key(made.id) == "datasets/rajpurkar/squad_v2"


def test_an_update_must_name_the_artifact_and_be_made_by_its_owner(open_registry) -> None:
    registry, ingest, upstream = open_registry(ingest_gate="off")
    made = ingest.register_url(ArtifactType.dataset, SQUAD, "squad", ALICE)

    with pytest.raises(BadRequest) as caught:
        ingest.update_url(ArtifactType.dataset, made.id, "other", SQUAD, ALICE)
    assert caught.value.message == (
        f"name 'other' does not match artifact {made.id} (named 'squad')"
    )
    with pytest.raises(Unauthorized, match="only the owner of dataset"):
        ingest.update_url(ArtifactType.dataset, made.id, "squad", SQUAD, User("bob", False))
    with pytest.raises(NotFound, match=f"^no model artifact with id {made.id}$"):
        ingest.update_url(ArtifactType.model, made.id, "squad", SQUAD, ALICE)
    assert upstream.fetched == [SQUAD]  # none of the refused updates reached upstream
    assert trail(registry, made.id) == [(AuditAction.CREATE, "alice")]


def test_an_update_refused_by_the_gate_keeps_the_old_version(open_registry) -> None:
    url = "https://huggingface.co/acme/licensed"
    registry, lenient, upstream = open_registry(ingest_gate="off")
    upstream.snapshots[url] = hf_snapshot(url, "acme/licensed", repo_type="model")
    made = lenient.register_url(ArtifactType.model, url, None, ALICE)
    before = stored_files(registry, made.id)
    _, gated, upstream = open_registry(ingest_gate="on")  # the same stores, the gate on
    bad = "https://huggingface.co/acme/unlicensed"
    upstream.snapshots[bad] = hf_snapshot(bad, "acme/unlicensed", repo_type="model", license=None)

    with pytest.raises(IngestRejected, match="^model 'licensed' was not registered"):
        gated.update_url(ArtifactType.model, made.id, "licensed", bad, ALICE)

    assert stored_files(registry, made.id) == before
    assert all(registry.blobs.stat(k) is not None for _, k in before.values() if k)
    assert trail(registry, made.id) == [(AuditAction.CREATE, "alice")]
    assert prefetch_dirs(registry) == []


def test_an_artifact_deleted_while_its_update_was_fetched_is_not_resurrected(
    open_registry,
) -> None:
    registry, ingest, upstream = open_registry(ingest_gate="off")
    services = build_services(registry)
    made = ingest.register_url(ArtifactType.dataset, SQUAD, "squad", ALICE)
    upstream.on_fetch.append(lambda: services.catalog.delete(ArtifactType.dataset, made.id, ADMIN))

    with pytest.raises(NotFound) as caught:
        ingest.update_url(ArtifactType.dataset, made.id, "squad", SQUAD, ALICE)

    assert caught.value.message == f"artifact {made.id} was deleted during the update"
    with registry.db.read() as s:
        assert ArtifactRepository(s).get(made.id) is None
    assert list(registry.blobs.list(f"artifacts/{made.id}/")) == []  # the new blobs went too


class FailingBlobs:
    """The registry's blob store, with chosen operations failing as a broken store would."""

    def __init__(self, inner, fail_put_after: int | None = None, error=None) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.fail_put_after = fail_put_after
        self.error = error
        self.puts = 0
        self.fail_deletes = False

    def put_file(self, key: str, path: Path):  # type: ignore[no-untyped-def]
        if self.fail_put_after is not None and self.puts >= self.fail_put_after:
            raise self.error
        self.puts += 1
        return self.inner.put_file(key, path)

    def delete(self, key: str) -> None:
        if self.fail_deletes:
            raise StorageUnavailable(f"the store could not delete {key!r}")
        self.inner.delete(key)

    def delete_prefix(self, prefix: str) -> int:
        if self.fail_deletes:
            raise StorageUnavailable(f"the store could not delete {prefix!r}")
        return int(self.inner.delete_prefix(prefix))

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)


def test_a_copy_that_fails_midway_deletes_the_generation_already_written(open_registry) -> None:
    registry, ingest, _ = open_registry(ingest_gate="off")
    ingest.blobs = FailingBlobs(registry.blobs, fail_put_after=1, error=ValueError("disk said no"))

    with pytest.raises(ValueError, match="^disk said no$"):
        ingest.register_url(ArtifactType.dataset, SQUAD, "squad", ALICE)

    assert list(registry.blobs.list("artifacts/")) == []  # the one copied file was removed
    with registry.db.read() as s:
        assert ArtifactRepository(s).count() == 0
    assert prefetch_dirs(registry) == []


def test_a_store_outage_during_the_copy_is_reported_and_leaves_blobs_for_the_sweeper(
    open_registry,
) -> None:
    registry, ingest, _ = open_registry(ingest_gate="off")
    outage = StorageUnavailable("the object store is down")
    ingest.blobs = FailingBlobs(registry.blobs, fail_put_after=1, error=outage)

    with pytest.raises(StorageUnavailable, match="^the object store is down$"):
        ingest.register_url(ArtifactType.dataset, SQUAD, "squad", ALICE)

    left = [b.key for b in registry.blobs.list("artifacts/")]
    assert len(left) == 1  # no cleanup against a failing store: the sweeper removes it later
    with registry.db.read() as s:
        assert ArtifactRepository(s).count() == 0


def test_a_failed_commit_with_the_store_down_still_reports_the_commit_error(
    open_registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry, ingest, _ = open_registry(ingest_gate="off")
    blobs = FailingBlobs(registry.blobs)
    ingest.blobs = blobs

    def explode(self, entry):  # type: ignore[no-untyped-def]
        blobs.fail_deletes = True  # the store goes down with the database
        raise RuntimeError("simulated crash before the commit")

    monkeypatch.setattr(AuditRepository, "append", explode)
    with pytest.raises(RuntimeError, match="^simulated crash before the commit$"):
        ingest.register_url(ArtifactType.dataset, SQUAD, "squad", ALICE)
    monkeypatch.undo()

    with registry.db.read() as s:
        assert ArtifactRepository(s).count() == 0
    assert len(list(registry.blobs.list("artifacts/"))) == 2  # unreferenced, for the sweeper


def test_old_blobs_that_cannot_be_deleted_do_not_fail_a_committed_update(open_registry) -> None:
    registry, ingest, upstream = open_registry(ingest_gate="off")
    made = ingest.register_url(ArtifactType.dataset, SQUAD, "squad", ALICE)
    old_keys = {k for _, k in stored_files(registry, made.id).values() if k}
    blobs = FailingBlobs(registry.blobs)
    ingest.blobs = blobs
    upstream.on_fetch.append(lambda: setattr(blobs, "fail_deletes", True))

    updated = ingest.update_url(ArtifactType.dataset, made.id, "squad", SQUAD, ALICE)

    new_keys = {k for _, k in stored_files(registry, updated.id).values() if k}
    assert new_keys and new_keys.isdisjoint(old_keys)
    assert all(registry.blobs.stat(k) is not None for k in old_keys)  # left, unreferenced
    assert trail(registry, made.id)[-1] == (AuditAction.UPDATE, "alice")


def test_stage_tells_the_caller_its_prefix_before_the_first_copy(open_registry) -> None:
    registry, ingest, _ = open_registry(ingest_gate="off")
    prepared = ingest.prepare_registration(ArtifactType.dataset, SQUAD, "squad", ALICE)
    told: list[tuple[str, list[str]]] = []
    try:
        prefix, files = ingest.stage(
            "1234567890123456",
            prepared,
            lambda p: told.append((p, [b.key for b in registry.blobs.list("artifacts/")])),
        )
    finally:
        ingest.discard(prepared)
    assert told == [(prefix, [])]  # told before anything was written
    assert prefix.startswith("artifacts/1234567890123456/")
    keys = {f.path: f.blob_key for f in files}
    assert keys["README.md"] == f"{prefix}README.md"
    assert sorted(b.key for b in registry.blobs.list(prefix)) == sorted(
        k for k in keys.values() if k
    )
    assert prefetch_dirs(registry) == []


def test_names_keys_and_versions_derived_from_a_snapshot() -> None:
    page = Snapshot(
        source="web",
        url="https://www.kaggle.com/datasets/acme/flowers/",
        page=WebPage(url="https://www.kaggle.com/datasets/acme/flowers", host="www.kaggle.com"),
    )
    assert derive_name(page.url, page) == "flowers"  # the URL's last segment
    assert derive_name("https://huggingface.co/acme/model-x") == "model-x"  # its hub key
    assert snapshot_hub_key(page, "https://huggingface.co/acme/Model-X") == "acme/model-x"
    tagged = hf_snapshot(SQUAD, "rajpurkar/squad")
    assert tagged.hf is not None
    tagged.hf.git_tags = ["release", "v1.0", "2.1.0", "vnext"]
    assert snapshot_version(tagged) == "2.1.0"  # the last version-like tag, without its "v"
    tagged.hf.git_tags = ["v1.0"]
    assert snapshot_version(tagged) == "1.0"  # (a "v" tag was never recognised before)
    tagged.hf.git_tags = ["V2.0", "v"]
    assert snapshot_version(tagged) == "2.0"
    tagged.hf.card_data = {"version": "3.0-beta"}
    assert snapshot_version(tagged) == "3.0-beta"  # a declared version wins
    assert snapshot_version(page) is None


def test_an_uploaded_model_with_a_monitor_is_stored_sensitive_with_its_program(
    open_registry, tmp_path: Path
) -> None:
    from tests.support.zips import hf_zip

    registry, _, _ = open_registry(ingest_gate="off")
    uploads = build_services(registry).uploads
    archive = tmp_path / "secret.zip"
    archive.write_bytes(hf_zip(name="secret-model"))
    program = "process.exit(0);\n"

    with pytest.raises(BadRequest) as caught:
        uploads.register(
            ArtifactType.dataset, archive, tmp_path / "x", "secret.zip", None, ALICE,
            monitor=program,
        )  # fmt: skip
    assert caught.value.message == "only models can be sensitive or carry a monitoring program"
    with pytest.raises(BadRequest, match="^the monitoring program is empty$"):
        uploads.register(
            ArtifactType.model, archive, tmp_path / "y", "secret.zip", None, ALICE, monitor=" "
        )

    made = uploads.register(
        ArtifactType.model, archive, tmp_path / "z", "secret.zip", "secret-model", ALICE,
        monitor=program,
    )  # fmt: skip

    assert (made.name, made.url) == ("secret-model", "upload://alice/secret.zip")
    with registry.db.read() as s:
        protections = ProtectionRepository(s)
        assert protections.status(made.id).sensitive is True
        monitor = protections.monitor(made.id)
        assert monitor is not None and monitor.program == program
        assert monitor.uploaded_by == "alice"
        assert ArtifactRepository(s).hub_key(made.id) == "upload/secret-model"
    assert trail(registry, made.id)[0] == (AuditAction.CREATE, "alice")


def test_a_web_dataset_page_is_registered_from_its_url_alone(open_registry) -> None:
    registry, ingest, upstream = open_registry(ingest_gate="off")
    url = "https://www.kaggle.com/datasets/acme/flowers"
    upstream.snapshots[url] = Snapshot(
        source="web", url=url, page=WebPage(url=url, host="www.kaggle.com", title="flowers")
    )

    made = ingest.register_url(ArtifactType.dataset, url, None, ALICE)

    assert (made.name, made.size_bytes, made.version) == ("flowers", 0, None)
    assert stored_files(registry, made.id) == {}
    assert upstream.downloaded == []  # nothing to prefetch
    assert list(registry.blobs.list(f"artifacts/{made.id}/")) == []
    with registry.db.read() as s:
        assert ArtifactRepository(s).source(made.id) == "web"
