"""The protection endpoints' answers as clients read them (SQLite + files): lifecycle status
with its scans and warnings, the sensitive flag, the monitor program's CRUD, the download
history and the package-confusion audit. The behaviours behind them are tested at the service
level (test_protections.py); this is the mapping to JSON, types and errors."""

from __future__ import annotations

import hashlib
import re

from tests.conftest import login
from tests.support import pickles as P
from tests.support.zips import upload
from tmr.domain.artifact import User
from tmr.storage.db.artifacts import ArtifactRepository

DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
PROGRAM = "process.exit(0);"


def test_lifecycle_sensitive_and_monitor_routes(client, auth):
    evil = upload(
        client,
        auth,
        "model",
        name="evil",
        extra={"pytorch_model.bin": P.torch_zip(P.os_system_pickle())},
    )["metadata"]
    model = upload(client, auth, "model", name="plain")["metadata"]
    data = upload(client, auth, "dataset", name="corpus")["metadata"]

    status = client.get(f"/artifact/model/{evil['id']}/lifecycle", headers=auth).json()
    assert (status["id"], status["name"], status["type"]) == (evil["id"], "evil", "model")
    assert status["state"] == "quarantined" and status["changed_by"] == "weight-scanner"
    assert DATE.match(status["changed_at"]) and status["warnings"] == []
    (scan,) = status["weight_scans"]
    assert scan["path"] == "pytorch_model.bin" and scan["verdict"] == "unsafe"
    assert any(u.startswith("posix.system") for u in scan["unsafe"])
    assert isinstance(scan["globals"], list) and isinstance(scan["notes"], list)
    assert DATE.match(scan["scanned_at"])

    # a dataset's status has no monitor; the wrong type in the path is a 404
    r = client.put(
        f"/artifact/dataset/{data['id']}/lifecycle",
        headers=auth,
        json={"state": "deprecated", "reason": "superseded"},
    )
    assert r.status_code == 200
    body = r.json()
    assert (body["state"], body["reason"], body["has_monitor"]) == (
        "deprecated",
        "superseded",
        False,
    )
    r = client.get(f"/artifact/model/{data['id']}/lifecycle", headers=auth)
    assert r.status_code == 404 and r.json()["message"] == f"no model artifact with id {data['id']}"
    r = client.get(f"/artifact/model/{data['id']}/downloads", headers=auth)
    assert r.status_code == 404

    r = client.put(
        f"/artifact/model/{model['id']}/sensitive", headers=auth, json={"sensitive": True}
    )
    assert r.status_code == 200
    assert r.json()["sensitive"] is True and r.json()["has_monitor"] is False
    r = client.put(
        f"/artifact/model/{model['id']}/monitor", headers=auth, json={"program": PROGRAM}
    )
    assert r.status_code == 200
    got = r.json()
    assert got == {
        "artifact_id": model["id"],
        "program": PROGRAM,
        "sha256": hashlib.sha256(PROGRAM.encode()).hexdigest(),
        "uploaded_by": "ece30861defaultadminuser",
        "uploaded_at": got["uploaded_at"],
    }
    assert DATE.match(got["uploaded_at"])
    assert client.get(f"/artifact/model/{model['id']}/monitor", headers=auth).json() == got
    assert client.get(f"/artifact/model/{model['id']}/lifecycle", headers=auth).json()[
        "has_monitor"
    ]
    r = client.delete(f"/artifact/model/{model['id']}/monitor", headers=auth)
    assert r.json() == {"status": "deleted", "id": model["id"]}
    r = client.get(f"/artifact/model/{model['id']}/monitor", headers=auth)
    assert r.status_code == 404
    assert r.json()["message"] == f"model {model['id']} has no monitoring program"


def test_download_history_and_confusion_audit_routes(client, auth):
    original = upload(client, auth, "model", name="acme-vision")["metadata"]
    r = client.post(
        "/users",
        headers=auth,
        json={"name": "mallory", "password": "mallory-pass-1", "permissions": ["upload"]},
    )
    assert r.status_code == 201, r.text
    mallory = {"X-Authorization": login(client, "mallory", "mallory-pass-1", is_admin=False)}
    fake = upload(client, mallory, "model", name="acme-visi0n")["metadata"]
    r = client.get("/artifacts/PackageConfusionAudit", headers=auth)
    assert r.json() == {"threshold": 0.5, "findings": []}

    # six accounts find and fetch the original; one account fetches the look-alike in a burst
    services = client.app.state.services
    for i in range(6):
        user = User(f"user{i}", is_admin=False)
        with services.protections.db.read() as s:
            artifact = ArtifactRepository(s).get_or_404(original["id"])
        services.protections.record_interest(user, [artifact], "search")
        services.downloads.gate.record_allowed(artifact, user, "part=all").result(timeout=10)
    for _ in range(12):
        assert (
            client.get(f"/download/{fake['id']}", params={"part": "card"}, headers=auth).status_code
            == 200
        )

    history = client.get(f"/artifact/model/{fake['id']}/downloads", headers=auth).json()
    assert len(history) == 12
    assert history[0] == {
        "user": "ece30861defaultadminuser",
        "date": history[0]["date"],
        "part": "part=card",
        "allowed": True,
        "reason": None,
        "exit_code": None,
        "first_line": None,
    }
    assert DATE.match(history[0]["date"])

    body = client.get(
        "/artifacts/PackageConfusionAudit", params={"threshold": 0.5}, headers=auth
    ).json()
    (finding,) = body["findings"]
    assert finding["artifact"] == {"name": "acme-visi0n", "id": fake["id"], "type": "model"}
    assert finding["looks_like"] == {"name": "acme-vision", "id": original["id"], "type": "model"}
    assert finding["score"] >= 0.5 and any("acme-vision" in x for x in finding["reasons"])
    r = client.get("/artifacts/PackageConfusionAudit", params={"threshold": 1.5}, headers=auth)
    assert r.status_code == 400
