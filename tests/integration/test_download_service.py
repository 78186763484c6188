"""The download service as the API drives it (on each storage pair): bundles built once and
replaced when a member changes, the ready-bundle fast path and its record, parts and their
sizes, linked datasets in a model's ``datasets`` part, monitored downloads that serve exactly
the zip the monitor judged, single files and ranges, and the refusals with their messages."""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.support import pickles
from tmr.composition import Registry, Services, build_registry, build_services
from tmr.config import Settings
from tmr.domain.artifact import Artifact, ArtifactType, User
from tmr.errors import ArtifactQuarantined, BadRequest, Forbidden, NotFound
from tmr.safety import monitor as node
from tmr.services.downloads import MANIFEST, parse_range
from tmr.storage.bundles import bundles_prefix
from tmr.storage.db.artifacts import ArtifactRepository
from tmr.storage.db.audit import AuditRepository

VALIDATION = "plain_text/validation-00000-of-00001.parquet"
ADMIN = User("ece30861defaultadminuser", is_admin=True)
ALLOW = """
const fs = require('fs');
const [model, uploader, downloader, zip] = process.argv.slice(2);
console.log(`ok ${model} ${downloader} ${fs.readFileSync(zip).length}`);
"""
CARD = "---\nlicense: mit\ndatasets:\n  - rajpurkar/squad\n---\n# {name}\nA model.\n"


@contextmanager
def _built(settings: Settings) -> Iterator[tuple[Registry, Services]]:
    registry = build_registry(settings)
    try:
        yield registry, build_services(registry)
    finally:
        registry.activity.close()
        registry.db.dispose()


@pytest.fixture
def stack(backend, make_settings) -> Iterator[tuple[Registry, Services]]:  # type: ignore[no-untyped-def]
    with _built(make_settings(**backend)) as built:
        yield built


def _upload(
    stack: tuple[Registry, Services], name: str, files: dict[str, bytes],
    type_: ArtifactType = ArtifactType.model, monitor: str | None = None,
) -> Artifact:  # fmt: skip
    registry, services = stack
    work = registry.work_dir / f"test-{name}"
    work.mkdir()
    body = work / "bundle.zip"
    with zipfile.ZipFile(body, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return services.uploads.register(type_, body, work / "files", f"{name}.zip", name, ADMIN,
                                     monitor=monitor)  # fmt: skip


def _model_files(name: str, weights: bytes) -> dict[str, bytes]:
    return {
        "README.md": CARD.format(name=name).encode(),
        "config.json": json.dumps({"model_type": "bert"}).encode(),
        "model.safetensors": weights,
        "train.py": b"print('training')\n",
    }


def _read(registry: Registry, key: str) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(registry.blobs.iter_range(key, 0, None))))


def _downloads(registry: Registry, artifact_id: str) -> list[tuple[str, str | None]]:
    with registry.db.read() as s:
        trail = AuditRepository(s, registry.audit_key).for_artifact(artifact_id)
    return [(e.user_name, e.detail) for e in trail if e.action.value == "DOWNLOAD"]


def test_a_bundle_is_built_once_served_ready_and_replaced_when_a_member_changes(stack) -> None:  # type: ignore[no-untyped-def]
    registry, services = stack
    downloads = services.downloads
    weights = b"\x07" * 50_000
    model = _upload(stack, "ready-model", _model_files("ready-model", weights))
    assert downloads.ready_bundle(model.id, "weights") is None  # not built yet

    bundle = downloads.bundle(model.id, "weights", ADMIN)
    assert bundle.filename == "ready-model-weights.zip" and not bundle.no_presign
    assert bundle.key.startswith(bundles_prefix(model.id) + "weights-")
    members = _read(registry, bundle.key)
    assert members.read("model.safetensors") == weights
    manifest = json.loads(members.read(MANIFEST))
    assert manifest["part"] == "weights" and manifest["name"] == "ready-model"
    assert [f["path"] for f in manifest["files"]] == ["model.safetensors"]
    assert bundle.size == registry.blobs.stat(bundle.key).size  # type: ignore[union-attr]
    assert downloads.bundle(model.id, "weights", ADMIN).key == bundle.key  # built once

    ready = downloads.ready_bundle(model.id, "weights")
    assert ready is not None and (ready.key, ready.size) == (bundle.key, bundle.size)
    assert ready.filename == "ready-model-weights.zip"
    assert downloads.record(ready, ADMIN).result(10) is None
    assert _downloads(registry, model.id)[-1] == (ADMIN.name, "part=weights")

    # once the model is marked sensitive, the stored zip is no longer served as it is
    services.protections.set_sensitive(model.id, True, ADMIN)
    assert downloads.ready_bundle(model.id, "weights") is None
    services.protections.set_sensitive(model.id, False, ADMIN)
    assert downloads.ready_bundle(model.id, "weights") == ready

    # A bundle under the part's prefix that is not this plan's (an earlier build): removed
    # when the current one is built again.
    stale = f"{bundles_prefix(model.id)}weights-000000000000000000000000.zip"
    registry.blobs.put_bytes(stale, b"old zip")
    downloads.forget(bundle.key)
    registry.blobs.delete(bundle.key)
    rebuilt = downloads.bundle(model.id, "weights", ADMIN)
    assert rebuilt.key == bundle.key
    assert [b.key for b in registry.blobs.list(f"{bundles_prefix(model.id)}weights-")] == [
        bundle.key
    ]


def test_parts_sizes_and_a_manifest_name_that_is_taken(stack) -> None:  # type: ignore[no-untyped-def]
    _, services = stack
    files = _model_files("sizes", b"w" * 1000)
    files[MANIFEST] = b'{"mine": true}'  # the upload has files of the manifest's name
    files["tmr-manifest-registry.json"] = b'{"mine": 2}'  # and of its first alternative
    model = _upload(stack, "sizes", files)
    sizes = {part: (count, size) for part, count, size in services.downloads.part_sizes(model.id)}
    assert sizes["weights"] == (1, 1000)
    assert sizes["all"][0] == 6 and sizes["all"][1] >= 1000 + len(files["README.md"])
    assert sizes["datasets"] == (0, 0)  # the card names a dataset that is not registered
    plan = services.downloads.plan(model.id, "all", ADMIN)
    assert plan.manifest_name == "tmr-manifest-registry-1.json"
    assert plan.filename == "sizes.zip"
    with pytest.raises(BadRequest) as e:
        services.downloads.plan(model.id, "everything", ADMIN)
    assert e.value.message == (
        "unknown part 'everything'; choose one of all, weights, card, datasets, code"
    )
    with pytest.raises(NotFound):
        services.downloads.part_sizes("no-such-id")


def test_single_files_ranges_and_missing_files(stack) -> None:  # type: ignore[no-untyped-def]
    registry, services = stack
    weights = bytes(range(256)) * 40
    model = _upload(stack, "files", _model_files("files", weights))
    got = services.downloads.open_file(model.id, "model.safetensors", ADMIN,
                                       range_header="bytes=10-19")  # fmt: skip
    assert got.file.path == "model.safetensors" and got.file.size == len(weights)
    assert b"".join(registry.blobs.iter_range(got.key, 10, 19)) == weights[10:20]
    assert not got.no_presign
    assert _downloads(registry, model.id)[-1] == (ADMIN.name, "file=model.safetensors bytes=10-19")
    with pytest.raises(NotFound) as e:
        services.downloads.open_file(model.id, "nope.bin", ADMIN)
    assert e.value.message == f"artifact {model.id} has no file 'nope.bin'"


@pytest.mark.skipif(node.find_node(None) is None, reason="no Node.js on this machine")
def test_a_monitored_model_serves_exactly_the_zip_its_monitor_judged(stack) -> None:  # type: ignore[no-untyped-def]
    registry, services = stack
    weights = b"S" * 20_000
    model = _upload(stack, "watched", _model_files("watched", weights), monitor=ALLOW)
    bundle = services.downloads.bundle(model.id, "weights", ADMIN)
    assert bundle.no_presign and bundle.key == "" and bundle.checked is not None
    body = b"".join(bundle.checked)
    members = zipfile.ZipFile(io.BytesIO(body))
    assert members.read("model.safetensors") == weights
    assert json.loads(members.read(MANIFEST))["part"] == "weights"
    # never the fast path: every download of a monitored model runs its monitor
    assert services.downloads.ready_bundle(model.id, "weights") is None

    whole = services.downloads.open_file(model.id, "model.safetensors", ADMIN)
    assert whole.no_presign
    part = services.downloads.open_file(model.id, "model.safetensors", ADMIN,
                                        range_header="bytes=-100")  # fmt: skip
    assert part.no_presign
    details = [d for _, d in _downloads(registry, model.id)]
    assert details[-3:] == [
        "part=weights",
        "file=model.safetensors",
        f"file=model.safetensors bytes={len(weights) - 100}-{len(weights) - 1}",
    ]


def test_hub_artifacts_linked_datasets_and_pull_through(
    backend, make_settings, hf_replay: str, github_replay: str
) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(**backend, hf_endpoint=hf_replay, github_api_url=github_replay,
                             allow_private_upstream=True,
                             ingest_gate="off")  # fmt: skip
    with _built(settings) as (registry, services):
        dataset = services.ingest.register_url(
            ArtifactType.dataset, "https://huggingface.co/datasets/rajpurkar/squad", None, ADMIN
        )
        files = _model_files("linked", b"x" * 10)
        # the card names the dataset twice (with and without its owner): its files come once
        twice = b"  - rajpurkar/squad\n  - squad\n"
        files["README.md"] = files["README.md"].replace(b"  - rajpurkar/squad\n", twice)
        model = _upload((registry, services), "linked", files)
        plan = services.downloads.plan(model.id, "datasets", ADMIN, head=True)
        assert plan.files and all(b.owner.id == dataset.id for b in plan.files)
        assert all(b.arcname.startswith(f"datasets/{dataset.name}/") for b in plan.files)
        assert len({b.arcname for b in plan.files}) == len(plan.files)
        sizes = {p: (n, size) for p, n, size in services.downloads.part_sizes(model.id)}
        assert sizes["datasets"] == (len(plan.files), sum(b.file.size for b in plan.files))

        bundle = services.downloads.bundle(model.id, "datasets", ADMIN)
        members = _read(registry, bundle.key)
        inside = {i.filename: i.file_size for i in members.infolist()}
        expected = {b.arcname: b.file.size for b in plan.files}
        assert inside == {MANIFEST: inside[MANIFEST], **expected}

        # Weights are not copied at registration: pulled from the Hub when first asked for.
        tiny = services.ingest.register_url(
            ArtifactType.model, "https://huggingface.co/arnir0/Tiny-LLM", None, ADMIN
        )
        lazy = {b.file.path for b in services.downloads.plan(tiny.id, "all", ADMIN, head=True).files
                if not b.file.blob_key}  # fmt: skip
        assert "model.safetensors" in lazy
        assert services.downloads.ready_bundle(tiny.id, "all") is None  # not complete yet
        whole = services.downloads.bundle(tiny.id, "all", ADMIN)  # pulls them through first
        members = _read(registry, whole.key)
        assert lazy <= set(members.namelist())
        single = services.downloads.open_file(tiny.id, "model.safetensors", ADMIN)
        stored = registry.blobs.stat(single.key)
        assert stored is not None and stored.size == single.file.size == 15_023_624
        assert "pulled-" in single.key  # where the pull stored it
        pulled = b"".join(registry.blobs.iter_range(single.key))
        assert members.read("model.safetensors") == pulled
        assert hashlib.sha256(pulled).hexdigest() == single.file.sha256  # verified as recorded
        assert services.downloads.plan(tiny.id, "all", ADMIN, head=True).complete


def test_signed_links_of_missing_or_disabled_accounts_are_refused(stack) -> None:  # type: ignore[no-untyped-def]
    registry, services = stack
    assert services.downloads.signed_user(ADMIN.name).is_admin
    with pytest.raises(Forbidden) as e:
        services.downloads.signed_user("ghost")
    assert e.value.message == "the download link was issued to 'ghost', who no longer exists"
    registry.auth.create_user(ADMIN, "carol", "long-enough-password", False, frozenset())
    registry.accounts.set_disabled(ADMIN, "carol", True)
    with pytest.raises(Forbidden) as e:
        services.downloads.signed_user("carol")
    assert e.value.message == ("the download link was issued to 'carol', whose account is disabled")


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-9", 100, (0, 9)),
        ("bytes=90-", 100, (90, 99)),
        ("bytes=-10", 100, (90, 99)),
        ("bytes=-500", 100, (0, 99)),
        ("bytes=50-500", 100, (50, 99)),
        ("bytes=-0", 100, None),
        ("bytes=100-", 100, None),
        ("bytes=20-10", 100, None),
        ("bytes=a-b", 100, None),
        ("bytes=0-1,5-6", 100, None),
        ("items=0-1", 100, None),
    ],
)
def test_parse_range(header: str, size: int, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, size) == expected


def test_unknown_artifacts_are_not_found(stack) -> None:  # type: ignore[no-untyped-def]
    _, services = stack
    with pytest.raises(NotFound):
        services.downloads.bundle("missing-id", "all", ADMIN)
    with pytest.raises(NotFound):
        services.downloads.open_file("missing-id", "README.md", ADMIN)


def test_a_malicious_pickle_pulled_from_upstream_quarantines_its_model(  # type: ignore[no-untyped-def]
    backend, make_settings, hf_replay: str, github_replay: str
) -> None:
    settings = make_settings(**backend, hf_endpoint=hf_replay, github_api_url=github_replay,
                             allow_private_upstream=True,
                             ingest_gate="off")  # fmt: skip
    with _built(settings) as (registry, services):
        model = services.ingest.register_url(
            ArtifactType.model, "https://huggingface.co/caidas/swin2SR-lightweight-x2-64", None,
            ADMIN,
        )  # fmt: skip
        payload = pickles.os_system_pickle()

        def compromised(snapshot, path, dest, settings):  # type: ignore[no-untyped-def]
            dest.write_bytes(payload)  # the Hub now serves a different, malicious file
            return hashlib.sha256(payload).hexdigest()

        registry.upstream.download_file = compromised  # type: ignore[method-assign]
        with pytest.raises(ArtifactQuarantined) as e:
            services.downloads.open_file(model.id, "pytorch_model.bin", ADMIN)
        assert e.value.message == (
            f"model {model.name!r} ({model.id}) was quarantined when pytorch_model.bin was "
            f"fetched: unsafe pickle: pytorch_model.bin imports {os.system.__module__}.system"
        )
        with registry.db.read() as s:
            stored = ArtifactRepository(s).file(model.id, "pytorch_model.bin")
        assert stored is not None and stored.blob_key is None  # the unsafe file is never stored
        assert not [b for b in registry.blobs.list(f"artifacts/{model.id}/") if "pulled-" in b.key]
        with pytest.raises(ArtifactQuarantined):  # and the model serves nothing any more
            services.downloads.bundle(model.id, "all", ADMIN)
