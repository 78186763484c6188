"""Protections end to end, against ``tmr serve`` in its own process over real HTTP: an upload
carrying an unsafe pickle is quarantined and no download path serves it; a sensitive model's
Node.js monitor refuses a download with its message and allows another; the history shows both."""

from __future__ import annotations

import httpx

from tests.conftest import ADMIN, ADMIN_PASSWORD
from tests.e2e.test_served_registry import served  # noqa: F401 - the tmr serve fixture
from tests.support import pickles as P
from tests.support.zips import hf_zip

MONITOR = """
const [model, uploader, downloader, zip] = process.argv.slice(2);
if (downloader !== uploader) {
  console.log(`refused: ${downloader} is not ${uploader}`);
  process.exit(7);
}
console.log(`allowed ${model} for ${downloader}`);
"""


def test_unsafe_upload_is_quarantined_and_sensitive_downloads_are_judged(served):  # noqa: F811
    with httpx.Client(base_url=served, timeout=120) as c:
        token = c.put(
            "/authenticate",
            json={
                "user": {"name": ADMIN, "is_admin": True},
                "secret": {"password": ADMIN_PASSWORD},
            },
        ).json()
        admin = {"X-Authorization": token}
        evil = hf_zip(name="evil", extra={"pytorch_model.bin": P.torch_zip(P.getattr_chain())})
        r = c.post(
            "/artifact/model/upload",
            headers=admin,
            data={"name": "evil"},
            files={"file": ("evil.zip", evil, "application/zip")},
        )
        assert r.status_code == 201, r.text
        aid = r.json()["metadata"]["id"]
        for path in (f"/download/{aid}", f"/download/{aid}/files/pytorch_model.bin"):
            refused = c.get(path, headers=admin)
            assert refused.status_code == 423
            assert "builtins.getattr" in refused.json()["message"]
        listed = c.post("/artifacts", headers=admin, json=[{"name": "evil"}]).json()
        assert listed[0]["lifecycle"]["state"] == "quarantined"

        r = c.post(
            "/users",
            headers=admin,
            json={
                "name": "erin",
                "password": "erin-secret-1",
                "permissions": ["search", "download"],
            },
        )
        assert r.status_code == 201
        erin = {
            "X-Authorization": c.put(
                "/authenticate",
                json={
                    "user": {"name": "erin", "is_admin": False},
                    "secret": {"password": "erin-secret-1"},
                },
            ).json()
        }
        r = c.post(
            "/artifact/model/upload",
            headers=admin,
            data={"name": "secret"},
            files={
                "file": ("secret.zip", hf_zip(name="secret"), "application/zip"),
                "monitor": ("monitor.js", MONITOR.encode(), "text/javascript"),
            },
        )
        assert r.status_code == 201, r.text
        sid = r.json()["metadata"]["id"]
        refused = c.get(f"/download/{sid}", headers=erin)
        assert refused.status_code == 403
        assert f"refused: erin is not {ADMIN}" in refused.json()["message"]
        allowed = c.get(f"/download/{sid}", headers=admin)
        assert allowed.status_code == 200 and allowed.content[:2] == b"PK"
        history = c.get(f"/artifact/model/{sid}/downloads", headers=admin).json()
        assert [(h["user"], h["allowed"], h["exit_code"]) for h in history] == [
            ("erin", False, 7),
            (ADMIN, True, 0),
        ]
        assert history[1]["first_line"] == f"allowed secret for {ADMIN}"
        health = c.get("/health/components").json()
        (mon,) = [x for x in health["components"] if x["id"] == "monitors"]
        assert mon["metrics"]["node_version"].startswith("v")
