"""Weight scanning at upload, quarantine, lifecycle states with reasons and owners, flags in
listings and records, ancestor warnings, and the end-to-end: an upload carrying an unsafe pickle
is quarantined and no download path serves it."""

from __future__ import annotations

import io
import zipfile

from tests.conftest import login
from tests.support import pickles as P
from tests.support.zips import upload


def _user(client, auth, name: str, permissions=("search", "download", "upload")) -> dict:  # type: ignore[no-untyped-def]
    r = client.post(
        "/users",
        headers=auth,
        json={"name": name, "password": "pass-" + name * 2, "permissions": list(permissions)},
    )
    assert r.status_code == 201, r.text
    return {"X-Authorization": login(client, name, "pass-" + name * 2, is_admin=False)}


def test_upload_with_an_unsafe_pickle_is_quarantined_and_never_served(client, auth):
    evil = P.torch_zip(P.os_system_pickle())
    meta = upload(client, auth, "model", name="evil-model", extra={"pytorch_model.bin": evil})[
        "metadata"
    ]
    aid = meta["id"]
    status = client.get(f"/artifact/model/{aid}/lifecycle", headers=auth).json()
    assert status["state"] == "quarantined"
    assert "pytorch_model.bin" in status["reason"] and "posix.system" in status["reason"]
    scans = {s["path"]: s for s in status["weight_scans"]}
    assert scans["pytorch_model.bin"]["verdict"] == "unsafe"

    # every download path refuses, naming the reason
    for path, params in (
        (f"/download/{aid}", {}),
        (f"/download/{aid}", {"part": "weights"}),
        (f"/download/{aid}", {"part": "card"}),
        (f"/download/{aid}/files/pytorch_model.bin", {}),
        (f"/download/{aid}/files/README.md", {}),
    ):
        r = client.get(path, params=params, headers=auth)
        assert r.status_code == 423, (path, r.status_code)
        body = r.json()
        assert body["error"] == "artifact_quarantined"
        assert "quarantined" in body["message"] and "posix.system" in body["message"]
    ranged = client.get(f"/download/{aid}/files/README.md", headers={**auth, "Range": "bytes=0-3"})
    assert ranged.status_code == 423
    assert client.head(f"/download/{aid}", headers=auth).status_code == 423
    assert client.head(f"/download/{aid}/files/README.md", headers=auth).status_code == 423

    # flagged in listings and in the record; the rating explanation shows the verdict
    listed = client.post("/artifacts", headers=auth, json=[{"name": "evil-model"}]).json()
    assert listed[0]["lifecycle"]["state"] == "quarantined"
    record = client.get(f"/artifacts/model/{aid}", headers=auth).json()
    assert record["data"]["security"]["lifecycle"]["state"] == "quarantined"
    explain = client.get(f"/artifact/model/{aid}/rate/explain", headers=auth).json()
    assert explain["weight_scans"][0]["verdict"] == "unsafe"
    assert explain["lifecycle"]["state"] == "quarantined"

    # it cannot be reactivated while the file is there; refused downloads are in the history
    r = client.put(
        f"/artifact/model/{aid}/lifecycle", headers=auth, json={"state": "active", "reason": ""}
    )
    assert r.status_code == 409 and "pytorch_model.bin" in r.json()["message"]
    history = client.get(f"/artifact/model/{aid}/downloads", headers=auth).json()
    assert history and not any(h["allowed"] for h in history)
    assert all("quarantined" in h["reason"] for h in history)


def test_benign_pickles_pass_and_are_recorded_as_safe(client, auth):
    files = {
        "pytorch_model.bin": P.torch_zip(P.state_dict_pickle(2)),
        "legacy.pt": P.legacy_torch_file(P.state_dict_pickle(2)),
        "optimizer.pkl": P.state_dict_pickle(4),
    }
    meta = upload(client, auth, "model", name="good-model", extra=files)["metadata"]
    status = client.get(f"/artifact/model/{meta['id']}/lifecycle", headers=auth).json()
    assert status["state"] == "active"
    assert {s["path"]: s["verdict"] for s in status["weight_scans"]} == {
        "legacy.pt": "safe",
        "optimizer.pkl": "safe",
        "pytorch_model.bin": "safe",
    }
    r = client.get(f"/download/{meta['id']}", params={"part": "weights"}, headers=auth)
    assert r.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert "pytorch_model.bin" in names
    listed = client.post("/artifacts", headers=auth, json=[{"name": "good-model"}]).json()
    assert "lifecycle" not in listed[0] and "warnings" not in listed[0]


def test_lifecycle_changes_need_owner_or_admin_and_are_audited(client, auth):
    alice = _user(client, auth, "alice")
    bob = _user(client, auth, "bob")
    meta = upload(client, alice, "model", name="alice-model")["metadata"]
    url = f"/artifact/model/{meta['id']}/lifecycle"
    r = client.put(url, headers=bob, json={"state": "deprecated", "reason": "old"})
    assert r.status_code == 401 and "owner" in r.json()["message"]
    r = client.put(url, headers=alice, json={"state": "deprecated", "reason": ""})
    assert r.status_code == 400 and "reason" in r.json()["message"]
    r = client.put(url, headers=alice, json={"state": "deprecated", "reason": "use v2"})
    assert r.status_code == 200
    body = r.json()
    assert body["state"] == "deprecated" and body["reason"] == "use v2"
    assert body["changed_by"] == "alice"
    # deprecated models still download, flagged in listings
    assert client.get(f"/download/{meta['id']}", headers=bob).status_code == 200
    listed = client.get("/artifact/byName/alice-model", headers=bob).json()
    assert listed[0]["lifecycle"] == {"state": "deprecated", "reason": "use v2"}
    # an admin quarantines it: downloads refused with the reason
    r = client.put(url, headers=auth, json={"state": "quarantined", "reason": "license revoked"})
    assert r.status_code == 200
    r = client.get(f"/download/{meta['id']}", headers=alice)
    assert r.status_code == 423 and "license revoked" in r.json()["message"]
    assert f"({meta['id']}) is quarantined and cannot be downloaded: license revoked" in (
        r.json()["message"]
    )
    r = client.put(url, headers=alice, json={"state": "active"})
    assert r.status_code == 200 and r.json()["state"] == "active"
    assert client.get(f"/download/{meta['id']}", headers=bob).status_code == 200

    from sqlalchemy import create_engine, text

    engine = create_engine(client.app.state.registry.settings.resolved_database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT user_name, detail FROM audit_log WHERE action = 'LIFECYCLE' "
                "AND artifact_id = :a ORDER BY seq"
            ),
            {"a": meta["id"]},
        ).all()
    engine.dispose()
    assert [r[0] for r in rows] == ["alice", "ece30861defaultadminuser", "alice"]
    assert rows[1][1] == "quarantined: license revoked"


def test_descendants_carry_a_warning_naming_the_ancestor(make_settings, hf_replay, github_replay):
    from fastapi.testclient import TestClient

    from tmr.app import create_app

    settings = make_settings(
        hf_endpoint=hf_replay,
        github_api_url=github_replay,
        allow_private_upstream=True,
        ingest_gate="off",
    )
    with TestClient(create_app(settings)) as c:
        auth = {"X-Authorization": login(c)}
        bert = "https://huggingface.co/google-bert/bert-base-uncased"
        base = c.post("/artifact/model", headers=auth, json={"url": bert}).json()["metadata"]
        child = upload(c, auth, "model", name="acme-child")["metadata"]  # base: bert-base-uncased
        listed = c.get("/artifact/byName/acme-child", headers=auth).json()
        assert "warnings" not in listed[0]
        r = c.put(
            f"/artifact/model/{base['id']}/lifecycle",
            headers=auth,
            json={"state": "deprecated", "reason": "superseded by bert-v2"},
        )
        assert r.status_code == 200
        listed = c.get("/artifact/byName/acme-child", headers=auth).json()
        (warning,) = listed[0]["warnings"]
        assert "bert-base-uncased" in warning and base["id"] in warning
        assert "deprecated" in warning and "superseded by bert-v2" in warning
        record = c.get(f"/artifacts/model/{child['id']}", headers=auth).json()
        assert record["data"]["security"]["warnings"] == [warning]
        graph = c.get(f"/artifact/model/{child['id']}/lineage", headers=auth).json()
        nodes = {n["artifact_id"]: n["metadata"] for n in graph["nodes"]}
        assert nodes[child["id"]]["warnings"] == [warning]
        assert nodes[base["id"]]["lifecycle"]["state"] == "deprecated"
        status = c.get(f"/artifact/model/{child['id']}/lifecycle", headers=auth).json()
        assert status["state"] == "active" and status["warnings"] == [warning]
        # a model can be marked sensitive when it is registered from a URL
        whisper = "https://huggingface.co/openai/whisper-tiny"
        r = c.post("/artifact/model", headers=auth, json={"url": whisper, "sensitive": "yes"})
        assert r.status_code == 400
        r = c.post("/artifact/model", headers=auth, json={"url": whisper, "sensitive": True})
        assert r.status_code == 201, r.text
        sid = r.json()["metadata"]["id"]
        assert c.get(f"/artifact/model/{sid}/lifecycle", headers=auth).json()["sensitive"] is True


def test_pull_through_scans_before_storing_and_quarantines(make_settings, hf_replay, github_replay):
    """A large weight file is fetched on first download; an unsafe pickle there is never stored
    or served, and its model is quarantined. The upstream fetch is swapped for one that returns
    a malicious pickle (the replay's recorded weights are not pickles)."""
    from pathlib import Path

    from fastapi.testclient import TestClient

    from tmr.app import create_app

    settings = make_settings(
        hf_endpoint=hf_replay,
        github_api_url=github_replay,
        allow_private_upstream=True,
        ingest_gate="off",
    )
    with TestClient(create_app(settings)) as c:
        auth = {"X-Authorization": login(c)}
        bert = "https://huggingface.co/google-bert/bert-base-uncased"
        aid = c.post("/artifact/model", headers=auth, json={"url": bert}).json()["metadata"]["id"]
        registry = c.app.state.registry
        real_download = registry.upstream.download_file

        def evil_upstream(snapshot, path, dest: Path, s):  # type: ignore[no-untyped-def]
            if path == "pytorch_model.bin":
                dest.write_bytes(P.torch_zip(P.memoized_stack_global()))
                import hashlib

                return hashlib.sha256(dest.read_bytes()).hexdigest()
            return real_download(snapshot, path, dest, s)

        registry.upstream.download_file = evil_upstream  # the seam every service shares
        r = c.get(f"/download/{aid}/files/pytorch_model.bin", headers=auth)
        assert r.status_code == 423
        assert "builtins.eval" in r.json()["message"]
        status = c.get(f"/artifact/model/{aid}/lifecycle", headers=auth).json()
        assert status["state"] == "quarantined"
        assert status["weight_scans"][0]["path"] == "pytorch_model.bin"
        assert status["weight_scans"][0]["verdict"] == "unsafe"
        # nothing was stored for it, and every other path is now refused too
        files = {f.path: f for f in registry_files(registry, aid)}
        assert files["pytorch_model.bin"].blob_key is None
        assert c.get(f"/download/{aid}", params={"part": "card"}, headers=auth).status_code == 423


def registry_files(registry, aid):  # type: ignore[no-untyped-def]
    from tmr.storage.db.artifacts import ArtifactRepository

    with registry.db.read() as s:
        return ArtifactRepository(s).files(aid)


def test_package_confusion_audit_endpoint_finds_a_lookalike_with_bot_downloads(client, auth):
    """Real traffic through the API: six users search for, view and download the original;
    an attacker uploads a look-alike and a bot downloads it in a burst without searching."""
    original = upload(client, auth, "model", name="acme-vision")["metadata"]
    for i in range(6):
        user = _user(client, auth, f"user{i}")
        assert client.get("/artifact/byName/acme-vision", headers=user).status_code == 200
        assert client.get(f"/artifacts/model/{original['id']}", headers=user).status_code == 200
        assert client.get(f"/download/{original['id']}", headers=user).status_code == 200
    attacker = _user(client, auth, "mallory")
    fake = upload(client, attacker, "model", name="acme-visi0n")["metadata"]
    bot = _user(client, auth, "botty")
    for _ in range(12):
        assert client.get(f"/download/{fake['id']}", headers=bot).status_code == 200
    r = client.get("/artifacts/PackageConfusionAudit", headers=auth)
    assert r.status_code == 200
    body = r.json()
    assert body["threshold"] == 0.5
    (finding,) = body["findings"]
    assert finding["artifact"]["id"] == fake["id"]
    assert finding["looks_like"]["id"] == original["id"]
    assert finding["score"] >= 0.5
    reasons = " | ".join(finding["reasons"])
    assert "acme-vision" in reasons and "never preceded by a search" in reasons
    assert (
        client.get("/artifacts/PackageConfusionAudit?threshold=2", headers=auth).status_code == 400
    )


def test_a_quarantined_linked_dataset_blocks_the_models_datasets_part(
    make_settings, hf_replay, github_replay
):
    from fastapi.testclient import TestClient

    from tmr.app import create_app

    settings = make_settings(
        hf_endpoint=hf_replay,
        github_api_url=github_replay,
        allow_private_upstream=True,
        ingest_gate="off",
    )
    with TestClient(create_app(settings)) as c:
        auth = {"X-Authorization": login(c)}
        hf = "https://huggingface.co"
        ds = c.post(
            "/artifact/dataset", headers=auth, json={"url": f"{hf}/datasets/bookcorpus/bookcorpus"}
        ).json()["metadata"]
        bert = c.post(
            "/artifact/model", headers=auth, json={"url": f"{hf}/google-bert/bert-base-uncased"}
        ).json()["metadata"]
        part = c.get(f"/download/{bert['id']}", params={"part": "datasets"}, headers=auth)
        assert part.status_code == 200
        names = zipfile.ZipFile(io.BytesIO(part.content)).namelist()
        assert any(n.startswith("datasets/bookcorpus/") for n in names), names
        r = c.put(
            f"/artifact/dataset/{ds['id']}/lifecycle",
            headers=auth,
            json={"state": "quarantined", "reason": "contains personal data"},
        )
        assert r.status_code == 200
        part = c.get(f"/download/{bert['id']}", params={"part": "datasets"}, headers=auth)
        assert part.status_code == 423
        assert "bookcorpus" in part.json()["message"]
        assert "contains personal data" in part.json()["message"]
        assert "'bert-base-uncased' includes dataset 'bookcorpus'" in part.json()["message"]
        assert "which is quarantined: contains personal data" in part.json()["message"]
        card = c.get(f"/download/{bert['id']}", params={"part": "card"}, headers=auth)
        assert card.status_code == 200


def test_searches_and_views_are_recorded_but_not_the_wildcard_listing(client, auth):
    from tmr.storage.db.protections import ProtectionRepository

    meta = upload(client, auth, "model", name="counted")["metadata"]
    registry = client.app.state.registry

    def events() -> list[tuple[str, str]]:
        client.app.state.services.protections.interest.flush()
        with registry.db.read() as s:
            return [(e.kind, e.artifact_id) for e in ProtectionRepository(s).interest()]

    assert client.post("/artifacts", headers=auth, json=[{"name": "*"}]).status_code == 200
    assert events() == []
    client.post("/artifacts", headers=auth, json=[{"name": "counted"}])
    client.get("/artifact/byName/counted", headers=auth)
    client.post("/artifact/byRegEx", headers=auth, json={"regex": "count"})
    client.get(f"/artifacts/model/{meta['id']}", headers=auth)
    assert events() == [("search", meta["id"])] * 3 + [("view", meta["id"])]


def test_signed_download_links_pass_the_same_gate(client, auth):
    """The artifact's signed download_url (no token) goes through the same download gate:
    refused for a quarantined model, naming the reason."""
    evil = upload(client, auth, "model", name="signed-evil", extra={"m.pkl": P.os_system_pickle()})
    r = client.get(evil["data"]["download_url"])
    assert r.status_code == 423 and "posix.system" in r.json()["message"]
