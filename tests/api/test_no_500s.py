"""Every 500 the access-control review found (issue 7) is now a correct answer."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from fastapi.testclient import TestClient

from tests.conftest import login
from tests.support.zips import hf_zip, upload

SQUAD = "https://huggingface.co/datasets/rajpurkar/squad"


@pytest.mark.parametrize("offset", ["9223372036854775808", "99999999999999999999999", "１２"])
def test_an_offset_beyond_64_bits_is_400(client, auth, offset):
    r = client.post(f"/artifacts?offset={offset}", headers=auth, json=[{"name": "*"}])
    assert r.status_code == 400, r.text
    assert "offset" in r.json()["message"]
    ok = client.post("/artifacts?offset=9223372036854775807", headers=auth, json=[{"name": "*"}])
    assert ok.status_code == 200 and ok.json() == []


def test_a_zip_entry_with_a_name_part_over_255_bytes_is_400(client, auth):
    long_name = "é" * 130 + ".txt"  # 264 bytes in UTF-8
    body = hf_zip(extra={f"docs/{long_name}": b"hello"})
    r = client.post(
        "/artifact/dataset/upload", headers=auth, files={"file": ("d.zip", body, "application/zip")}
    )
    assert r.status_code == 400, r.text
    assert "255" in r.json()["message"]


def _members(response) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    with zipfile.ZipFile(io.BytesIO(response.content)) as zf:
        assert zf.testzip() is None
        return {n: zf.read(n) for n in zf.namelist()}


def test_datasets_part_with_a_dataset_registered_twice_and_a_dotdot_name(
    make_settings, hf_replay, github_replay
):
    from tmr.app import create_app

    settings = make_settings(
        hf_endpoint=hf_replay,
        github_api_url=github_replay,
        allow_private_upstream=True,
        ingest_gate="off",
    )
    with TestClient(create_app(settings)) as c:
        auth = {"X-Authorization": login(c)}
        # the same dataset twice under one name (two URL spellings), and names with ".."
        for url, name in ((SQUAD, "squad"), (SQUAD + "/tree/main", "squad"),
                          (SQUAD, "../../squad"), (SQUAD, "..")):
            r = c.post("/artifact/dataset", headers=auth, json={"url": url, "name": name})
            assert r.status_code == 201, r.text
        model = upload(c, auth, "model", name="reader")["metadata"]  # its card links "squad"
        members = _members(c.get(f"/download/{model['id']}?part=datasets", headers=auth))
        folders = {n.split("/")[1] for n in members if n.startswith("datasets/")}
        assert len(folders) == 4  # one folder per registered dataset, none escaping
        assert all(".." not in n.split("/") for n in members)
        assert "squad" in folders
        manifest = json.loads(members["tmr-manifest.json"])
        assert {f["path"] for f in manifest["files"]} == set(members) - {"tmr-manifest.json"}


def test_full_download_of_an_upload_carrying_its_own_manifest(client, auth):
    theirs = b'{"mine": true}'
    made = upload(client, auth, "dataset", name="self-described",
                  extra={"tmr-manifest.json": theirs})["metadata"]
    members = _members(client.get(f"/download/{made['id']}", headers=auth))
    assert members["tmr-manifest.json"] == theirs  # the upload's own file, intact
    ours = [n for n in members if n.startswith("tmr-manifest-")]
    assert len(ours) == 1
    assert json.loads(members[ours[0]])["id"] == made["id"]


def test_after_a_500_the_body_and_the_log_line_share_the_request_id(make_settings, tmp_path):
    from tmr.app import create_app

    log_file = tmp_path / "tmr.log"
    app = create_app(make_settings(log_level=1, log_file=str(log_file)))

    def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom", headers={"X-Authorization": login(c)})  # undecided routes: admin
    assert r.status_code == 500
    body = r.json()
    assert body["error"] == "internal_error" and "a bug" not in r.text
    assert r.headers["x-request-id"] == body["request_id"]
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    errors = [line for line in lines if line["level"] == "error"]
    assert errors and errors[0]["request_id"] == body["request_id"]
    assert "RuntimeError" in errors[0]["exc"]
    access = [line for line in lines if line["logger"] == "tmr.http" and line.get("status")]
    assert access[-1]["request_id"] == body["request_id"] and access[-1]["status"] == 500
